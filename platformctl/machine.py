"""The release state machine: pure decisions, no I/O.

Which steps a release takes (:func:`plan`), what the release config becomes at each step
(``*_config`` functions), how analysis rounds add up (:func:`judge`), and every phase change
as a :class:`Transition` with its reason. The driver performs the steps and calls these.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from infra.settings.delivery import AnalysisSettings, DeliverySettings
from platformctl.ports import Measurement, Verdict
from platformctl.record import AnalysisCounters, Phase, ReleaseRecord, Step, StepKind

CONTROLS = ("abort", "pause", "resume", "promote-now", "approve", "rollback")


def plan(strategy: str, delivery: DeliverySettings) -> list[Step]:
    steps = [Step(StepKind.DEPLOY), Step(StepKind.WAIT_READY)]
    if delivery.hooks.pre_rollout:
        steps.append(Step(StepKind.PRE_ROLLOUT))
    if strategy == "canary":
        for weight in delivery.weights:
            steps.append(Step(StepKind.SET_WEIGHT, weight=weight))
            if delivery.bake_seconds:
                steps.append(Step(StepKind.ANALYSE, seconds=delivery.bake_seconds))
    else:
        # The candidate stays on the preview route at least autoPromotionSeconds, analysed.
        seconds = max(delivery.pre_promotion_analysis_seconds, delivery.auto_promotion_seconds)
        if seconds:
            steps.append(Step(StepKind.ANALYSE, seconds=seconds, purpose="pre-promotion"))
    if delivery.hooks.confirm_promotion is not None:
        steps.append(
            Step(StepKind.CONFIRM, seconds=delivery.hooks.confirm_promotion.timeout_seconds)
        )
    steps.append(Step(StepKind.PROMOTE))
    if strategy == "blue-green" and delivery.post_promotion_analysis_seconds:
        steps.append(
            Step(
                StepKind.ANALYSE,
                seconds=delivery.post_promotion_analysis_seconds,
                purpose="post-promotion",
            )
        )
    steps.append(Step(StepKind.SCALE_DOWN, seconds=delivery.scale_down_delay_seconds))
    return steps


# --- what the release config becomes ------------------------------------------------------


def _slot(release: dict[str, Any], slot: str) -> dict[str, Any]:
    return dict(release.get(slot) or {})


def deploy_config(release: dict[str, Any], record: ReleaseRecord) -> dict[str, Any]:
    """The candidate image on the idle slot, running, taking no traffic."""
    new = copy.deepcopy(release)
    slot = _slot(new, record.candidate_slot)
    slot.update(image=record.image, scaledDown=False)
    new[record.candidate_slot] = slot
    new.update(strategy=record.strategy, candidateWeight=0, live=record.previous_live)
    return new


def weight_config(release: dict[str, Any], weight: int) -> dict[str, Any]:
    return {**copy.deepcopy(release), "candidateWeight": weight}


def promote_config(release: dict[str, Any], record: ReleaseRecord) -> dict[str, Any]:
    """``live`` flips to the candidate in one change; the old slot stays warm."""
    return {**copy.deepcopy(release), "live": record.candidate_slot, "candidateWeight": 0}


def scale_down_config(release: dict[str, Any], slot: str) -> dict[str, Any]:
    new = copy.deepcopy(release)
    new[slot] = {**_slot(new, slot), "scaledDown": True}
    return new


def rollback_config(release: dict[str, Any], record: ReleaseRecord) -> dict[str, Any]:
    """Traffic back to the previous live slot, touching only routing: weight 0 and ``live``
    on the previous slot (a no-op unless the flip had been written, which the config, not the
    record, tells: a promotion may have been written and applied, then interrupted)."""
    new = copy.deepcopy(release)
    never_routed = new.get("candidateWeight", 0) == 0 and new.get("live") == record.previous_live
    new["candidateWeight"] = 0
    new["live"] = record.previous_live
    if _slot(new, record.previous_live).get("scaledDown"):
        new[record.previous_live] = {**_slot(new, record.previous_live), "scaledDown": False}
    if never_routed:
        # No route to undo; a candidate that never became ready would fail this `up` again
        # on its readiness wait, so it stops here rather than after.
        new[record.candidate_slot] = {**_slot(new, record.candidate_slot), "scaledDown": True}
    return new


def needs_warm_up(release: dict[str, Any], record: ReleaseRecord) -> bool:
    """A rollback after the old slot was scaled down must start it again first."""
    return bool(_slot(release, record.previous_live).get("scaledDown"))


# --- analysis -------------------------------------------------------------------------------


def round_verdict(measurements: Sequence[Measurement]) -> Verdict:
    """One round is as good as its worst metric; a round with nothing measured is no pass."""
    verdicts = {m.verdict for m in measurements}
    if not measurements or Verdict.FAIL in verdicts:
        return Verdict.FAIL if measurements else Verdict.INCONCLUSIVE
    return Verdict.INCONCLUSIVE if Verdict.INCONCLUSIVE in verdicts else Verdict.PASS


def count(counters: AnalysisCounters, measurements: Sequence[Measurement]) -> AnalysisCounters:
    """As Argo counts: a round the source could not answer is an error (towards
    consecutiveErrorLimit), not an inconclusive result; a failure outranks both."""
    verdict = round_verdict(measurements)
    errored = verdict is not Verdict.FAIL and any(m.error for m in measurements)
    return replace(
        counters,
        passed=counters.passed + (verdict is Verdict.PASS),
        failed=counters.failed + (verdict is Verdict.FAIL),
        inconclusive=counters.inconclusive + (verdict is Verdict.INCONCLUSIVE and not errored),
        consecutive_errors=counters.consecutive_errors + 1 if errored else 0,
    )


@dataclass(frozen=True)
class Judgement:
    outcome: str  # continue, pass, fail, inconclusive
    reason: str


def judge(counters: AnalysisCounters, limits: AnalysisSettings, window_over: bool) -> Judgement:
    """Argo's AnalysisRun arithmetic: more failures than failureLimit fails, more
    inconclusive rounds than inconclusiveLimit (or more consecutive errors than
    consecutiveErrorLimit) is inconclusive; a window passes only with at least one pass."""
    tally = (
        f"{counters.passed} passed, {counters.failed} failed, {counters.inconclusive} inconclusive"
    )
    if counters.failed > limits.failure_limit:
        return Judgement("fail", f"{tally}: failures exceed failureLimit {limits.failure_limit}")
    if counters.consecutive_errors > limits.consecutive_error_limit:
        return Judgement(
            "inconclusive",
            f"{counters.consecutive_errors} consecutive rounds could not reach the metrics "
            f"source: more than consecutiveErrorLimit {limits.consecutive_error_limit}",
        )
    if counters.inconclusive > limits.inconclusive_limit:
        return Judgement(
            "inconclusive",
            f"{tally}: inconclusive rounds exceed inconclusiveLimit {limits.inconclusive_limit}",
        )
    if not window_over:
        return Judgement("continue", tally)
    if counters.passed == 0:
        return Judgement("inconclusive", f"{tally}: no round passed, and no data is no success")
    return Judgement("pass", tally)


def judge_watch(counters: AnalysisCounters, limits: AnalysisSettings) -> Judgement:
    """After promotion, while the old slot is kept warm: failures past failureLimit send
    traffic back; rounds without data are recorded and never acted on (a quiet hour after a
    release is no incident, and the release already passed its analysis)."""
    tally = (
        f"{counters.passed} passed, {counters.failed} failed, {counters.inconclusive} inconclusive"
    )
    if counters.failed > limits.failure_limit:
        return Judgement("fail", f"{tally}: failures exceed failureLimit {limits.failure_limit}")
    return Judgement("continue", tally)


# --- transitions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    phase: Phase
    reason: str
    step_index: int | None = None  # where the release goes next; None keeps it
    rollback_ends_in: Phase | None = None
    promoted: bool | None = None
    # A human judged the release (promote-now): no analysis runs after this, the watch of
    # the live slot after promotion included.
    judged_by_hand: bool = False


def step_done(record: ReleaseRecord, reason: str) -> Transition:
    following = record.step_index + 1
    if following >= len(record.steps):
        return Transition(Phase.SUCCEEDED, f"{reason}; release complete", following)
    promoted = True if record.steps[record.step_index].kind is StepKind.PROMOTE else None
    return Transition(Phase.PROGRESSING, reason, following, promoted=promoted)


def step_failed(record: ReleaseRecord, cause: str, reason: str) -> Transition:
    """``cause`` is fail or inconclusive; each has its own policy (rollback or pause)."""
    policy = record.on_inconclusive if cause == "inconclusive" else record.on_failure
    if policy == "pause":
        return Transition(Phase.PAUSED, f"{reason}; paused for a human (on {cause}: pause)")
    return Transition(Phase.ROLLING_BACK, reason, rollback_ends_in=Phase.ROLLED_BACK)


def promote_step_index(record: ReleaseRecord) -> int:
    kind = StepKind.SCALE_DOWN if record.promoted else StepKind.PROMOTE
    return next(i for i, step in enumerate(record.steps) if step.kind is kind)


def control(record: ReleaseRecord, command: str, by: str) -> Transition | None:
    """What a human's (or CI's) command does now; None when it changes nothing (commands
    are idempotent: a second abort of an aborted release is a no-op, not an error)."""
    if command not in CONTROLS:
        raise ValueError(f"unknown control {command!r}; allowed: {', '.join(CONTROLS)}")
    undo = command in ("abort", "rollback")
    ending = Phase.ABORTED if command == "abort" else Phase.ROLLED_BACK
    if undo and record.phase is Phase.SUCCEEDED and record.promoted and command == "rollback":
        return Transition(
            Phase.ROLLING_BACK,
            f"rollback by {by} after the release completed",
            rollback_ends_in=Phase.ROLLED_BACK,
        )
    if undo and record.phase is Phase.FAILED:
        # A rollback that could not restore traffic may be tried again once fixed.
        return Transition(Phase.ROLLING_BACK, f"{command} by {by}", rollback_ends_in=ending)
    if record.terminal:
        return None
    if record.phase is Phase.ROLLING_BACK:
        # Nothing overtakes a rollback; an abort only renames where it ends.
        if command == "abort" and record.rollback_ends_in is not Phase.ABORTED:
            return Transition(Phase.ROLLING_BACK, f"abort by {by}", rollback_ends_in=ending)
        return None
    if undo:
        return Transition(Phase.ROLLING_BACK, f"{command} by {by}", rollback_ends_in=ending)
    if record.phase is Phase.AWAITING_APPROVAL and command != "approve":
        # Only an approval lets a release past a review's concern: pausing and resuming,
        # or skipping ahead, would walk around it.
        return None
    if command == "pause":
        if record.phase is Phase.PAUSED:
            return None
        return Transition(Phase.PAUSED, f"paused by {by}")
    if command == "resume":
        if record.phase is not Phase.PAUSED:
            return None
        return Transition(Phase.PROGRESSING, f"resumed by {by}")
    if command == "promote-now":
        return Transition(
            Phase.PROGRESSING,
            f"promote-now by {by}: remaining steps skipped after manual judgement",
            promote_step_index(record),
            judged_by_hand=True,
        )
    # approve
    if record.phase is Phase.AWAITING_APPROVAL:
        return Transition(Phase.PROGRESSING, f"approved by {by} after the AI review")
    if record.phase is not Phase.AWAITING_CONFIRMATION:
        return None
    return step_done(record, f"approved by {by}")


def apply(record: ReleaseRecord, transition: Transition, now: float) -> ReleaseRecord:
    """The record after ``transition``, with the audit event appended."""
    before = record.phase
    new = replace(record, phase=transition.phase, events=[*record.events])
    if transition.step_index is not None and transition.step_index != record.step_index:
        new.step_index = transition.step_index
        new.counters = AnalysisCounters()
        new.step_started_at = None
    if transition.rollback_ends_in is not None:
        new.rollback_ends_in = transition.rollback_ends_in
    if new.phase is not Phase.AWAITING_APPROVAL:
        # Whatever moved the release on (an approval, an abort) settled that review.
        new.awaiting_review = None
    if transition.promoted:
        new.promoted = True
        new.promoted_at = now
    if transition.judged_by_hand:
        new.judged_by_hand = True
    if new.terminal:
        new.finished_at = now
    new.events.append(
        {
            "at": now,
            "from": before.value,
            "phase": new.phase.value,
            "step": new.step.label() if new.step else None,
            "reason": transition.reason,
        }
    )
    return new
