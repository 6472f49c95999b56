"""The release record: what a release is doing, where it stands and why (the audit trail).

Written to the ledger before and after every step, so a killed process can be resumed or
rolled back from exactly where it stopped. Plain data, JSON both ways.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Phase(enum.StrEnum):
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    AWAITING_CONFIRMATION = "AwaitingConfirmation"
    AWAITING_APPROVAL = "AwaitingApproval"
    ROLLING_BACK = "RollingBack"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"
    REJECTED = "Rejected"


PHASE_MEANINGS = {
    Phase.PROGRESSING: "the driver is performing the current step",
    Phase.PAUSED: "stopped for a human (a pause command, or a failure with onFailure: pause): "
    "resume, promote-now, abort or rollback",
    Phase.AWAITING_CONFIRMATION: "the confirm step waits for `platformctl approve` or the "
    "confirm-promotion URL, until its timeout rolls the release back",
    # Nothing times out of it; abort and rollback still work.
    Phase.AWAITING_APPROVAL: "the AI review raised a concern (staging, prod) or could not be "
    "had (prod): only an approval of that review lets the release go on",
    Phase.ROLLING_BACK: "traffic is going back to the previous slot; nothing overtakes it",
    Phase.SUCCEEDED: "the candidate is live and the old slot scaled down",
    Phase.ROLLED_BACK: "traffic was restored to the previous slot after a failure or a rollback",
    Phase.ABORTED: "a human aborted the release; traffic is on the previous slot",
    Phase.FAILED: "a rollback could not restore traffic: a human must look, then roll back again",
    Phase.REJECTED: "the gate (a policy, a protected resource, a failed preview) refused the "
    "release before anything changed",
}


TERMINAL = frozenset(
    {Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED, Phase.REJECTED}
)


class StepKind(enum.StrEnum):
    DEPLOY = "deploy"
    WAIT_READY = "wait-ready"
    PRE_ROLLOUT = "pre-rollout"
    SET_WEIGHT = "set-weight"
    ANALYSE = "analyse"
    CONFIRM = "confirm"
    PROMOTE = "promote"
    SCALE_DOWN = "scale-down"


STEP_MEANINGS = {
    StepKind.DEPLOY: "preview and gate the candidate image on the idle slot at weight 0 (and "
    "the AI review before a release), then `up`",
    StepKind.WAIT_READY: "the idle slot's targets are healthy at the ALB",
    StepKind.PRE_ROLLOUT: "the pre-rollout checks against the preview route",
    StepKind.SET_WEIGHT: "canary: `candidateWeight`, `up`, then the weights verified at the ALB",
    StepKind.ANALYSE: "rounds of metrics for the step's seconds (pre-promotion: the preview "
    "route against live; post-promotion: thresholds only)",
    StepKind.CONFIRM: "a human's judgement before promotion, until the step's timeout",
    StepKind.PROMOTE: "flip `live` to the candidate in one change, weight back to 0",
    StepKind.SCALE_DOWN: "while the old slot stays warm for the delay, the new live slot is "
    "watched (the metrics' thresholds, the alarms, the SLO alerts: a failure sends traffic "
    "back in one routing up, unless a human promoted it with promote-now); then the old slot "
    "is scaled down",
}


@dataclass(frozen=True)
class Step:
    kind: StepKind
    weight: int | None = None
    seconds: int | None = None
    # pre-promotion (preview route, compared with live) or post-promotion (threshold only)
    purpose: str = ""

    def label(self) -> str:
        if self.kind is StepKind.SET_WEIGHT:
            return f"set-weight {self.weight}%"
        if self.kind in (StepKind.ANALYSE, StepKind.SCALE_DOWN):
            extra = f" {self.purpose}" if self.purpose else ""
            return f"{self.kind.value}{extra} {self.seconds}s"
        return self.kind.value

    def to_json(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Step:
        return cls(StepKind(doc["kind"]), doc.get("weight"), doc.get("seconds"), doc["purpose"])


@dataclass
class AnalysisCounters:
    """Argo's AnalysisRun counters for the current analysis step."""

    passed: int = 0
    failed: int = 0
    inconclusive: int = 0
    consecutive_errors: int = 0


@dataclass
class ReleaseRecord:
    id: str
    stack: str
    service: str
    strategy: str
    image: str
    candidate_slot: str
    previous_live: str
    previous_image: str | None
    steps: list[Step]
    on_failure: str
    on_inconclusive: str
    started_at: float
    phase: Phase = Phase.PROGRESSING
    step_index: int = 0
    # Traffic's home moved to the candidate (`live` flipped): a rollback flips it back.
    promoted: bool = False
    counters: AnalysisCounters = field(default_factory=AnalysisCounters)
    step_started_at: float | None = None
    # Time of the measurement that failed the release, and of traffic being restored.
    detected_at: float | None = None
    restored_at: float | None = None
    promoted_at: float | None = None
    finished_at: float | None = None
    approvals: list[dict[str, Any]] = field(default_factory=list)
    controls_seen: int = 0
    # A rollback's warm-up of the old slot was written but its `up` has not succeeded yet.
    warm_up_pending: bool = False
    # Where a rollback in progress ends: RolledBack after a failure, Aborted after an abort.
    rollback_ends_in: Phase | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    # Every AI review of this release (the verdict, or why there was none) and what it did.
    reviews: list[dict[str, Any]] = field(default_factory=list)
    # The document an approval in AwaitingApproval approves (an approval is bound to it).
    awaiting_review: str | None = None
    # The finished release's figures went to CloudWatch (once, whoever finishes it).
    published: bool = False
    # promote-now: a human's judgement replaced the remaining analyses, the watch included.
    judged_by_hand: bool = False
    # How many times the record was written: each revision is its own object in the
    # ledger's history, never overwritten.
    revision: int = 0

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL

    @property
    def step(self) -> Step | None:
        return self.steps[self.step_index] if self.step_index < len(self.steps) else None

    @property
    def last_reason(self) -> str:
        """Why the release is where it is: the reason of its latest transition."""
        return next((e["reason"] for e in reversed(self.events) if "reason" in e), "")

    @property
    def restore_seconds(self) -> float | None:
        if self.detected_at is None or self.restored_at is None:
            return None
        return round(self.restored_at - self.detected_at, 3)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["phase"] = self.phase.value
        doc["rollback_ends_in"] = self.rollback_ends_in.value if self.rollback_ends_in else None
        doc["steps"] = [s.to_json() for s in self.steps]
        doc["restoreSeconds"] = self.restore_seconds
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ReleaseRecord:
        doc = dict(doc)
        doc.pop("restoreSeconds", None)
        doc["phase"] = Phase(doc["phase"])
        ending = doc.get("rollback_ends_in")
        doc["rollback_ends_in"] = Phase(ending) if ending else None
        doc["steps"] = [Step.from_json(s) for s in doc["steps"]]
        doc["counters"] = AnalysisCounters(**doc["counters"])
        return cls(**doc)
