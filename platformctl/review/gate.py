"""What a review may do to a release: add friction, never remove it.

Pure decisions. A verdict can only ask for a human approval; it is consulted after the
deterministic gates (policy, protected resources, metrics) have passed, so it can never
turn their "no" into a "yes". Dev is advisory only; staging and prod stop for a human on a
worrying verdict; in prod a review that could not be had never counts as a pass.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from platformctl.review.model import Recommendation, Review, ReviewStatus, Risk

WORRYING_RISKS = frozenset({Risk.HIGH, Risk.CRITICAL})
WORRYING_RECOMMENDATIONS = frozenset({Recommendation.HOLD, Recommendation.ABORT})
GUARDED_ENVIRONMENTS = frozenset({"staging", "prod"})


class Friction(enum.StrEnum):
    NONE = "none"
    # The verdict raised a concern.
    APPROVAL_AFTER_REVIEW = "approval-after-review"
    # Prod without a verdict: never a pass, a human must look instead.
    APPROVAL_OF_UNREVIEWED = "approval-of-unreviewed"


@dataclass(frozen=True)
class GateDecision:
    friction: Friction
    reason: str

    @property
    def needs_approval(self) -> bool:
        return self.friction is not Friction.NONE


def decide(environment: str, review: Review) -> GateDecision:
    if review.status is ReviewStatus.OFF:
        return GateDecision(Friction.NONE, "AI review is off; the deterministic gates decide")
    if review.status is ReviewStatus.UNAVAILABLE:
        if environment == "prod":
            return GateDecision(
                Friction.APPROVAL_OF_UNREVIEWED,
                f"AI review unavailable ({review.reason}); in prod that is never a pass, "
                "so a human approval is needed",
            )
        return GateDecision(
            Friction.NONE,
            f"AI review unavailable ({review.reason}); the deterministic gates decide",
        )
    verdict = review.verdict
    assert verdict is not None
    said = (
        f"AI review: {verdict.risk.value} risk, {verdict.recommendation.value}: {verdict.summary}"
    )
    worrying = verdict.risk in WORRYING_RISKS or verdict.recommendation in WORRYING_RECOMMENDATIONS
    if worrying and environment in GUARDED_ENVIRONMENTS:
        return GateDecision(Friction.APPROVAL_AFTER_REVIEW, f"{said}; a human approval is needed")
    if worrying:
        return GateDecision(Friction.NONE, f"{said} (advisory in {environment})")
    return GateDecision(Friction.NONE, said)


def approved(
    decision: GateDecision,
    approvals: Sequence[Mapping[str, Any]],
    document_sha256: str,
) -> Mapping[str, Any] | None:
    """The approval that lets the release past ``decision``, if there is one. Only an
    approval given for this reviewed document counts: one given before the review (a
    promotion's, say) could not have weighed its concern, or its absence."""
    if decision.friction is Friction.NONE:
        return None
    return next((a for a in approvals if a.get("review") == document_sha256), None)
