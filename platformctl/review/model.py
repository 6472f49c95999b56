"""What a review is: the verdict Claude gives through a tool, and the record the ledger keeps.

The verdict models are the single source of the tool schema sent to the API and of the
validation applied to the answer, so the two cannot drift apart.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


class Risk(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Recommendation(enum.StrEnum):
    PROCEED = "proceed"
    HOLD = "hold"
    ABORT = "abort"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Concern(_Strict):
    resource: str = Field(min_length=1, max_length=300, description="URN, resource or metric")
    why: str = Field(min_length=1, max_length=1000, description="What could go wrong, and why")


class Verdict(_Strict):
    risk: Risk = Field(description="How likely and how bad a problem from this change is")
    summary: str = Field(min_length=1, max_length=2000, description="Two or three sentences")
    concerns: list[Concern] = Field(default_factory=list, max_length=20)
    recommendation: Recommendation = Field(
        description="proceed, hold (a human should look first) or abort"
    )


class Explanation(_Strict):
    cause: str = Field(min_length=1, max_length=1000, description="The most likely cause")
    next_step: str = Field(min_length=1, max_length=1000, description="What to do next")


class ReviewKind(enum.StrEnum):
    PRE_RELEASE = "pre-release"
    CANARY = "canary"
    FAILURE = "failure"


class ReviewStatus(enum.StrEnum):
    GIVEN = "given"
    # No key, a timeout, 429/529, a malformed answer: the deterministic gates decide alone.
    UNAVAILABLE = "unavailable"
    # Turned off in settings.
    OFF = "off"


@dataclass(frozen=True)
class ChangeDocument:
    """What is sent: JSON text, already redacted and within the size bound."""

    kind: ReviewKind
    text: str
    # Large inputs were summarised (values or resources grouped) to fit the bound.
    summarised: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class Review:
    kind: ReviewKind
    status: ReviewStatus
    reason: str = ""  # why unavailable or off; empty when given
    verdict: Verdict | None = None
    explanation: Explanation | None = None
    model: str | None = None
    document_sha256: str = ""
    document_chars: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "status": self.status.value,
            "reason": self.reason,
            "verdict": self.verdict.model_dump(mode="json") if self.verdict else None,
            "explanation": self.explanation.model_dump(mode="json") if self.explanation else None,
            "model": self.model,
            "documentSha256": self.document_sha256,
            "documentChars": self.document_chars,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Review:
        return cls(
            kind=ReviewKind(doc["kind"]),
            status=ReviewStatus(doc["status"]),
            reason=doc.get("reason", ""),
            verdict=Verdict.model_validate(doc["verdict"]) if doc.get("verdict") else None,
            explanation=(
                Explanation.model_validate(doc["explanation"]) if doc.get("explanation") else None
            ),
            model=doc.get("model"),
            document_sha256=doc.get("documentSha256", ""),
            document_chars=doc.get("documentChars", 0),
        )


class Reviewer(Protocol):
    def review(self, document: ChangeDocument) -> Review:
        """A verdict for a pre-release or canary document; never raises: anything that goes
        wrong is an ``unavailable`` review whose reason says what."""
        ...

    def explain(self, document: ChangeDocument) -> Review:
        """An explanation of a failed ``up`` (kind ``failure``); never raises."""
        ...
