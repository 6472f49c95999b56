"""The release driver: performs the state machine's steps against a stack.

Every step is written to the ledger before it runs and after it ends; every wait polls the
ledger's command queue, so an abort, pause or promote-now takes effect at once. Decisions
come from :mod:`platformctl.machine`; this module only acts on the world and reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from components.workload import slot_service_name
from infra.settings.app import ServiceSettings
from infra.settings.delivery import (
    ENV_REFERENCE,
    AnalysisSettings,
    DeliverySettings,
    MetricCheck,
)
from platformctl import machine
from platformctl.changes import PreviewOutcome, UpOutcome
from platformctl.commands import CommandResult, send_command
from platformctl.elbv2 import wait_for_traffic
from platformctl.gates import gate_problems
from platformctl.hooks import redact_url
from platformctl.ledger import Control
from platformctl.machine import Transition
from platformctl.notifier import Notifier
from platformctl.ports import AnalysisTarget, Clock, DeployError, TrafficExpectation
from platformctl.record import TERMINAL, Phase, ReleaseRecord, StepKind
from platformctl.review import gate
from platformctl.review.document import ReleasePlan
from platformctl.review.model import ChangeDocument, Review, ReviewKind, ReviewStatus
from platformctl.reviews import ReleaseReviews, explanation_lines, verdict_lines
from platformctl.synthetic import TrafficCount, synthetic_traffic
from platformctl.world import World, service_index, stack_settings

VERIFY_INTERVAL_SECONDS = 2.0


class _WaitingClock:
    def __init__(self, clock: Clock, wait: Callable[[float], None]):
        self._clock = clock
        self.sleep = wait

    def now(self) -> float:
        return self._clock.now()


class _Interrupted(Exception):
    def __init__(self, transition: Transition):
        self.transition = transition


class ReleaseDriver:
    def __init__(self, world: World, service: str):
        self.world = world
        self.service = service
        self.settings = stack_settings(world.project, world.stack)
        self.index = service_index(self.settings, service)
        self.record: ReleaseRecord | None = None
        self._notifier = Notifier(lambda: world.hooks_for(self.delivery))
        self._reviews = ReleaseReviews(
            settings=self.delivery.review,
            reviewer_for=lambda: world.reviewer_for(self.delivery.review),
            stack=world.stack.name,
            environment=self.settings.platform.environment,
            known_secrets=world.known_secrets,
        )
        # An `up` that failed in this process, explained once the release has settled (the
        # explanation must never hold up the rollback).
        self._failed_up: tuple[str, DeployError] | None = None

    # --- entry points ---------------------------------------------------------------------

    def start(
        self,
        image: str,
        *,
        strategy: str | None = None,
        on_failure: str | None = None,
        approvals: tuple[dict[str, Any], ...] = (),
    ) -> ReleaseRecord:
        ledger, stack = self.world.ledger, self.world.stack.name
        self._reviews.check_model()
        with ledger.lock(stack, self.service, f"release {image}"), self._flushing():
            current = ledger.read(stack, self.service)
            if current is not None and (not current.terminal or current.phase is Phase.FAILED):
                raise DeployError(
                    f"release {current.id} of {self.service} on {stack} is {current.phase.value}"
                    f" at step {current.step_index + 1}/{len(current.steps)}; finish it first "
                    f"(platformctl resume|rollback|abort {stack} {self.service})"
                )
            self._refuse_stale_stack_file()
            record = self._new_record(image, strategy, on_failure, approvals)
            # Commands queued for earlier releases are history, not instructions.
            record.controls_seen = ledger.control_count(stack, self.service)
            if current is not None:
                ledger.archive(current)
            self.record = record
            self._save()
            self._say(f"release {record.id}: {self.service} {image} on {stack} ({record.strategy})")
            return self._drive()

    def resume(self) -> ReleaseRecord:
        """Continues a release a killed or paused process left, from the step it stopped in."""
        ledger, stack = self.world.ledger, self.world.stack.name
        with ledger.lock(stack, self.service, "resume"), self._flushing():
            self.record = self._current()
            if self.record.terminal:
                self._say(f"release {self.record.id} is {self.record.phase.value}; nothing to do")
                return self.record
            self._refuse_file_of_another_release()
            if self.record.phase is Phase.PAUSED:
                self._transition(
                    self._detecting(Transition(Phase.PROGRESSING, f"resumed by {self.world.actor}"))
                )
            return self._drive()

    def command(
        self, command: str, reason: str = "", release_id: str | None = None
    ) -> CommandResult:
        """abort, pause, resume, promote-now, approve or rollback, from any process: queued
        for the process driving the release, or carried out here when none is. With
        ``release_id``, only for that release (a command never lands on a later one)."""
        ledger, stack = self.world.ledger, self.world.stack.name
        by = self.world.actor + (f" ({reason})" if reason else "")
        release_id = release_id or self._current().id
        handed = send_command(
            ledger, stack, self.service, command, by, self.world.clock, release_id, reason
        )
        if handed is not None:
            self._say(f"{command} for release {release_id}: {handed.outcome}")
            return CommandResult(handed.record, queued=True, outcome=handed.outcome)
        return self.carry_out(command, by, release_id)

    def carry_out(self, command: str, by: str, release_id: str) -> CommandResult:
        """The command, here: no process drives the release (paused, or its driver died)."""
        ledger, stack = self.world.ledger, self.world.stack.name
        with ledger.lock(stack, self.service, command), self._flushing():
            self.record = self._current()
            if self.record.id != release_id:
                raise DeployError(
                    f"release {release_id} is over; the current release of {self.service} "
                    f"on {stack} is {self.record.id} ({self.record.phase.value}): send "
                    f"{command} again if it is meant for that one"
                )
            self._refuse_file_of_another_release()
            # Commands sent before this one (to a process that has since died) come first.
            self._take_commands()
            transition = machine.control(self._record(), command, by)
            if command == "approve" and transition is not None:
                self._approve(by)
            if transition is not None:
                self._transition(self._detecting(transition))
                outcome = "carried out"
            else:
                outcome = f"nothing to change: release is {self._record().phase.value}"
                self._say(f"{command}: {outcome}")
                self._save()
            if self._record().phase in (Phase.PAUSED, *TERMINAL):
                return CommandResult(self._record(), queued=False, outcome=outcome)
            # An interrupted rollback, an approval, promote-now, or a release whose driver
            # died: carry it on here.
            return CommandResult(self._drive(), queued=False, outcome=outcome)

    @contextlib.contextmanager
    def _flushing(self) -> Iterator[None]:
        """Phase events still on their way go out before the lock is let go, and any that
        failed are written to the record."""
        try:
            yield
        finally:
            self._notifier.flush()
            if self.record is not None:
                self._save()

    # --- the loop ---------------------------------------------------------------------------

    def _drive(self) -> ReleaseRecord:
        while True:
            # Also after the last step: a rollback sent during it is not lost.
            self._take_commands()
            record = self._record()
            if record.terminal or record.phase in (Phase.PAUSED, Phase.AWAITING_APPROVAL):
                self._explain_failed_up()
            if record.terminal:
                return record
            if record.phase is Phase.AWAITING_APPROVAL:
                self._say(
                    f"waiting for approval: {record.last_reason}; continue with "
                    f"platformctl approve {record.stack} {record.service}, or abort"
                )
                return record
            if record.phase is Phase.PAUSED:
                self._say(
                    f"paused: {record.last_reason}; continue with "
                    f"platformctl resume {record.stack} {record.service}"
                )
                return record
            try:
                if record.phase is Phase.ROLLING_BACK:
                    self._roll_back()
                else:
                    self._transition(self._perform())
            except _Interrupted as interrupted:
                self._transition(self._detecting(interrupted.transition))

    def _perform(self) -> Transition:
        record = self._record()
        step = record.step
        assert step is not None
        if record.step_started_at is None:
            record.step_started_at = self.world.clock.now()
        record.events.append({"at": self.world.clock.now(), "step": step.label(), "started": True})
        self._save()
        self._say(f"step {record.step_index + 1}/{len(record.steps)}: {step.label()}")
        perform = {
            StepKind.DEPLOY: self._deploy,
            StepKind.WAIT_READY: self._wait_ready,
            StepKind.PRE_ROLLOUT: self._pre_rollout,
            StepKind.SET_WEIGHT: self._set_weight,
            StepKind.ANALYSE: self._analyse,
            StepKind.CONFIRM: self._confirm,
            StepKind.PROMOTE: self._promote,
            StepKind.SCALE_DOWN: self._scale_down,
        }[step.kind]
        try:
            return perform()
        except DeployError as error:
            # A permission refused, config that could not be written: the step failed, and
            # whatever it had applied is undone like any other failure.
            self._record().detected_at = self.world.clock.now()
            return machine.step_failed(self._record(), "fail", f"{step.label()} failed: {error}")

    # --- steps --------------------------------------------------------------------------------

    def _deploy(self) -> Transition:
        record = self._record()
        before = self._release()
        self._set_release(machine.deploy_config(before, record))
        try:
            outcome = self.world.stack.preview(self.world.progress)
        except DeployError as error:
            self._set_release(before)
            return Transition(Phase.REJECTED, f"preview failed, config restored: {error}")
        problems = gate_problems(outcome, ())
        if problems:
            self._set_release(before)
            return Transition(
                Phase.REJECTED,
                "the gate refused the release, config restored, nothing applied: "
                + "; ".join(problems),
            )
        try:
            waiting = self._pre_release_review(outcome)
        except _Interrupted:
            # Aborted while the review was asked: nothing of it may be applied by the undo.
            self._set_release(before)
            raise
        if waiting is not None:
            self._set_release(before)
            return waiting
        return self._up_then(
            lambda: machine.step_done(
                record, f"{record.image} deployed to {record.candidate_slot} at weight 0"
            )
        )

    def _wait_ready(self) -> Transition:
        record = self._record()
        weights = self._weights(live=100, candidate=0)
        checked = self._verify(weights, record.candidate_slot, self.delivery.ready_timeout_seconds)
        if checked is None:
            return machine.step_done(record, f"{record.candidate_slot} ready")
        return machine.step_failed(record, "fail", checked)

    def _pre_rollout(self) -> Transition:
        record = self._record()
        app = self.settings.platform.app
        url = f"https://{app.preview_host}{self._service().path}"
        results = self.world.hooks_for(self.delivery).pre_rollout(url)
        self._event(hooks=[r.__dict__ for r in results])
        failed = [r for r in results if not r.passed]
        if failed:
            return machine.step_failed(
                record, "fail", f"pre-rollout check {failed[0].name} failed: {failed[0].reason}"
            )
        return machine.step_done(record, f"{len(results)} pre-rollout check(s) passed")

    def _set_weight(self) -> Transition:
        record = self._record()
        step = record.step
        assert step is not None and step.weight is not None
        weight = step.weight
        self._set_release(machine.weight_config(self._release(), weight))

        def verified() -> Transition:
            problem = self._verify(
                self._weights(live=100 - weight, candidate=weight),
                record.candidate_slot if weight else None,
                self.delivery.verify_timeout_seconds,
            )
            if problem is not None:
                return machine.step_failed(record, "fail", problem)
            return machine.step_done(record, f"{weight}% of traffic on {record.candidate_slot}")

        return self._up_then(verified)

    def _analyse(self) -> Transition:
        record = self._record()
        step = record.step
        assert step is not None and step.seconds is not None
        analysis = self.delivery.analysis
        post = step.purpose == "post-promotion"
        checks = [
            m.model_copy(update={"ratio_to_live": None}) if post else m
            for m in analysis.metrics
            if not (post and m.threshold_range is None)
        ]
        target = AnalysisTarget(
            stack=record.stack,
            service=record.service,
            namespace=record.service,
            candidate_slot=record.candidate_slot,
            live_slot=record.previous_live,
            window_seconds=analysis.window_seconds,
        )
        rounds = max(1, step.seconds // analysis.interval_seconds)
        # Every window starts clean, also one resumed after a kill or a pause: results from
        # before the interruption say nothing about the traffic after it.
        record.counters = machine.AnalysisCounters()
        first_event = len(record.events)
        judged = self._measured(analysis, checks, target, rounds, post)
        if judged.phase is not Phase.PROGRESSING:
            # A failed or inconclusive analysis is the metrics' call alone: nothing is asked.
            return judged
        return self._canary_review(judged, self._record().events[first_event:]) or judged

    def _measured(
        self,
        analysis: AnalysisSettings,
        checks: list[MetricCheck],
        target: AnalysisTarget,
        rounds: int,
        post: bool,
    ) -> Transition:
        record = self._record()
        synthetic = analysis.synthetic_traffic
        if synthetic is None or post:
            return self._analysis_rounds(checks, target, rounds)
        url = self._synthetic_url(synthetic.url, synthetic.path)
        if url is None:
            return machine.step_failed(
                record, "inconclusive", f"synthetic traffic: {synthetic.url} is not set"
            )
        # The event is written after the block so the traffic has stopped: a request still in
        # flight would otherwise reach the service without being counted.
        count = TrafficCount()
        try:
            with synthetic_traffic(url, synthetic.requests_per_second, count=count):
                return self._analysis_rounds(checks, target, rounds)
        finally:
            self._event(
                synthetic={"url": redact_url(url), "sent": count.sent, "failed": count.failed}
            )
            self._save()

    def _synthetic_url(self, url: str | None, path: str) -> str | None:
        if url is None:
            app = self.settings.platform.app
            return f"https://{app.preview_host}{self._service().path.rstrip('/')}{path}"
        reference = ENV_REFERENCE.fullmatch(url)
        if reference is None:
            return url
        return os.environ.get(reference[1]) or None

    def _analysis_rounds(
        self, checks: list[MetricCheck], target: AnalysisTarget, rounds: int
    ) -> Transition:
        analysis = self.delivery.analysis
        metrics = self.world.metrics_for(self.settings)
        for number in range(1, rounds + 1):
            self._wait(analysis.interval_seconds)
            measurements = [metrics.measure(check, target) for check in checks]
            record = self._record()
            record.counters = machine.count(record.counters, measurements)
            judgement = machine.judge(record.counters, analysis, window_over=number == rounds)
            self._event(
                round=number,
                measurements=[m.to_json() for m in measurements],
                judgement=judgement.outcome,
            )
            self._save()
            self._say(
                f"  round {number}/{rounds}: "
                + ", ".join(f"{m.metric} {m.verdict.value}" for m in measurements)
                + f" ({judgement.reason})"
            )
            if judgement.outcome in ("fail", "inconclusive"):
                record.detected_at = self.world.clock.now()
                return machine.step_failed(
                    record, judgement.outcome, f"analysis {judgement.outcome}: {judgement.reason}"
                )
            if judgement.outcome == "pass":
                return machine.step_done(record, f"analysis passed: {judgement.reason}")
        raise AssertionError("the last round always ends the window")

    def _confirm(self) -> Transition:
        record = self._record()
        step = record.step
        assert step is not None and step.seconds is not None and record.step_started_at
        deadline = record.step_started_at + step.seconds
        if record.phase is not Phase.AWAITING_CONFIRMATION:
            self._transition(
                Transition(
                    Phase.AWAITING_CONFIRMATION,
                    f"waiting for approval (platformctl approve {record.stack} {record.service}) "
                    f"for up to {step.seconds}s",
                )
            )
        hooks = self.world.hooks_for(self.delivery)
        while self.world.clock.now() < deadline:
            if hooks.confirmation():
                return machine.step_done(self._record(), "confirm-promotion URL approved")
            self._wait(
                min(
                    self.delivery.analysis.interval_seconds,
                    max(0.0, deadline - self.world.clock.now()),
                )
            )
        return Transition(
            Phase.ROLLING_BACK,
            f"no approval within {step.seconds}s",
            rollback_ends_in=Phase.ROLLED_BACK,
        )

    def _promote(self) -> Transition:
        record = self._record()
        self._set_release(machine.promote_config(self._release(), record))

        def verified() -> Transition:
            problem = self._verify(
                {
                    self._slot_service(record.candidate_slot): 100,
                    self._slot_service(record.previous_live): 0,
                },
                record.candidate_slot,
                self.delivery.verify_timeout_seconds,
            )
            # Traffic's home moved either way: a rollback from here must flip it back.
            if problem is not None:
                record.promoted = True
                return machine.step_failed(record, "fail", problem)
            return machine.step_done(record, f"{record.candidate_slot} is live")

        return self._up_then(verified)

    def _scale_down(self) -> Transition:
        record = self._record()
        step = record.step
        assert step is not None and step.seconds is not None and record.step_started_at
        remaining = record.step_started_at + step.seconds - self.world.clock.now()
        if remaining > 0:
            self._say(
                f"  {record.previous_live} stays warm for {remaining:.0f}s "
                "(rollback is instant until then)"
            )
            self._wait(remaining)
        self._set_release(machine.scale_down_config(self._release(), record.previous_live))
        try:
            self._up(step.label())
        except DeployError as error:
            # Traffic is where it belongs: a slot left running costs money, not availability.
            return machine.step_done(
                record,
                f"{record.previous_live} could not be scaled down ({error}); it keeps "
                "running until the next release takes its slot",
            )
        return machine.step_done(record, f"{record.previous_live} scaled down")

    # --- rollback -------------------------------------------------------------------------

    def _roll_back(self) -> None:
        record = self._record()
        if record.detected_at is None:
            record.detected_at = self.world.clock.now()
        detected = record.detected_at
        try:
            release = self._release()
            if machine.needs_warm_up(release, record) or record.warm_up_pending:
                # Remembered until its up succeeds: the config alone cannot tell whether the
                # slot it calls warm has ever been started again.
                self._record().warm_up_pending = True
                self._save()
                warm = {
                    **release,
                    record.previous_live: {**release[record.previous_live], "scaledDown": False},
                }
                self._set_release(warm)
                self._up("warm up the previous slot for rollback")
                self._record().warm_up_pending = False
                self._save()
            self._set_release(machine.rollback_config(self._release(), record))
            self._up("rollback: traffic back to " + record.previous_live)
            problem = self._verify(
                self._weights(live=100, candidate=0),
                record.previous_live,
                self.delivery.verify_timeout_seconds,
            )
        except DeployError as error:
            problem = f"it could not be applied ({error})"
        # A failed confirmation does not move the moment the release was found failing.
        self._record().detected_at = detected
        record = self._record()
        if problem is not None:
            self._transition(
                Transition(
                    Phase.FAILED,
                    f"rollback not confirmed: {problem}; traffic may still reach "
                    f"{record.candidate_slot}: fix the cause, then platformctl rollback "
                    f"{record.stack} {record.service}",
                )
            )
            return
        record.restored_at = self.world.clock.now()
        ending = record.rollback_ends_in or Phase.ROLLED_BACK
        self._transition(
            Transition(
                ending,
                f"traffic restored to {record.previous_live} "
                f"{record.restore_seconds:.2f}s after detection",
            )
        )
        try:
            self._set_release(machine.scale_down_config(self._release(), record.candidate_slot))
            self._up(f"scale-down {record.candidate_slot} after rollback")
        except DeployError as error:
            self._event(note=f"could not scale down {record.candidate_slot}: {error}")
            self._save()

    # --- acting on the world ----------------------------------------------------------------

    def _up(self, why: str) -> UpOutcome:
        record = self._record()
        outcome = self.world.stack.up(self.world.progress, f"release {record.id}: {why}")
        changed = [c for c in outcome.changes if c.operation != "same"]
        self._event(up=why, changed=[f"{c.operation} {c.urn}" for c in changed])
        self._save()
        return outcome

    def _up_then(self, then: Callable[[], Transition]) -> Transition:
        record = self._record()
        step = record.step
        label = step.label() if step else "step"
        try:
            self._up(label)
        except DeployError as error:
            record.detected_at = self.world.clock.now()
            self._failed_up = (label, error)
            return machine.step_failed(record, "fail", f"up failed: {error}")
        return then()

    def _verify(
        self, weights: dict[str, int], healthy_slot: str | None, timeout: int
    ) -> str | None:
        """None when the ALB has the weights in force (or verification is off); otherwise
        why not, after ``timeout`` seconds of looking."""
        if self.world.traffic is None or not self.delivery.verify_target_group:
            return None
        expectation = TrafficExpectation(
            stack=self.world.stack.name,
            namespace=self.service,
            ingress=self.service,
            service=self.service,
            weights=weights,
            healthy_slot_service=self._slot_service(healthy_slot) if healthy_slot else None,
        )
        # The driver's own wait keeps commands live while the ALB catches up.
        waited = wait_for_traffic(
            self.world.traffic, expectation, timeout, VERIFY_INTERVAL_SECONDS,
            _WaitingClock(self.world.clock, self._wait),
        )  # fmt: skip
        if waited.check.in_force:
            self._event(verified=waited.check.reason, attempts=waited.attempts)
            return None
        self._record().detected_at = self.world.clock.now()
        return f"the ALB did not confirm the weights within {timeout}s: {waited.check.reason}"

    def _wait(self, seconds: float) -> None:
        """Sleeps, looking at the command queue throughout: commands never wait for a step.
        During a rollback nothing interrupts it: an abort only renames its ending."""
        deadline = self.world.clock.now() + seconds
        while True:
            self._take_commands(interrupt=self._record().phase is not Phase.ROLLING_BACK)
            remaining = deadline - self.world.clock.now()
            if remaining <= 0:
                return
            self.world.clock.sleep(min(self.world.poll_seconds, remaining))

    def _take_commands(self, interrupt: bool = False) -> None:
        record = self._record()
        for control in self.world.ledger.controls(
            record.stack, record.service, record.controls_seen
        ):
            record.controls_seen += 1
            sent = f"{control.command} by {control.by}"
            if control.release and control.release != record.id:
                self._taken(control, f"ignored: meant for release {control.release}", sent)
                continue
            transition = machine.control(record, control.command, control.by)
            if transition is None:
                self._taken(control, f"ignored: release is {record.phase.value}", sent)
                continue
            if control.command == "approve":
                self._approve(control.by)
            self._taken(control, "carried out")
            if interrupt:
                raise _Interrupted(transition)
            self._transition(self._detecting(transition))
            record = self._record()

    def _taken(self, control: Control, outcome: str, ignored: str | None = None) -> None:
        """Records what became of a command, for the audit trail and for its sender."""
        event: dict[str, Any] = {"control": control.id, "outcome": outcome}
        if ignored is not None:
            event["ignored"] = ignored
        self._event(**event)
        self._save()

    def _detecting(self, transition: Transition) -> Transition:
        """A human's rollback starts the restore clock when it is given; a human's decision
        to go on from a pause leaves no failure pending."""
        record = self._record()
        if transition.phase is Phase.ROLLING_BACK and record.phase is not Phase.ROLLING_BACK:
            record.detected_at = self.world.clock.now()
            record.restored_at = None
        elif record.phase is Phase.PAUSED and transition.phase is Phase.PROGRESSING:
            record.detected_at = None
        return transition

    def _approve(self, by: str) -> None:
        record = self._record()
        approval: dict[str, Any] = {
            "by": by,
            "at": self.world.clock.now(),
            "step": record.step.label() if record.step else None,
        }
        if record.phase is Phase.AWAITING_APPROVAL and record.awaiting_review:
            # Bound to the reviewed document: it approves that change, not whatever comes.
            approval["review"] = record.awaiting_review
            record.awaiting_review = None
        record.approvals.append(approval)

    # --- the AI review (advisory: it can only ask for a human) -------------------------

    def _pre_release_review(self, outcome: PreviewOutcome) -> Transition | None:
        record = self._record()
        plan = self._plan()
        return self._reviewed(
            lambda: self._reviews.pre_release_document(outcome, plan),
            ReviewKind.PRE_RELEASE,
            record.step_index,
        )

    def _canary_review(self, judged: Transition, events: list[dict[str, Any]]) -> Transition | None:
        record = self._record()
        step = record.step
        assert step is not None
        weight = next(
            (s.weight for s in reversed(record.steps[: record.step_index]) if s.weight), None
        )
        rounds = [e for e in events if "round" in e]
        return self._reviewed(
            lambda: self._reviews.canary_document(self.service, step.label(), weight, rounds),
            ReviewKind.CANARY,
            judged.step_index,
            judged.reason,
        )

    def _reviewed(
        self,
        build: Callable[[], ChangeDocument | None],
        kind: ReviewKind,
        then_step: int | None,
        done: str = "",
    ) -> Transition | None:
        """Builds the document, asks (at most once per document in a release), records and
        decides. Returns the wait for a human, or None to go on."""
        record = self._record()
        step = record.step.label() if record.step else ""
        try:
            document = build()
        except Exception as error:  # the advisory review must never strand a release
            unbuilt = f"{record.id} {step}: {type(error).__name__}"
            document = ChangeDocument(kind, json.dumps({"unbuilt": unbuilt}))
            review: Review | None = Review(
                kind, ReviewStatus.UNAVAILABLE,
                reason=f"the document could not be built ({type(error).__name__})",
                document_sha256=document.sha256,
            )  # fmt: skip
        else:
            review = None
        if document is None:
            return None
        earlier = [r for r in record.reviews if r.get("documentSha256") == document.sha256]
        if any(a.get("review") == document.sha256 for a in record.approvals):
            self._event(review=kind.value, reused=document.sha256, note="approved earlier")
            self._save()
            return None
        given = next((r for r in earlier if r.get("status") == "given"), None)
        if review is None and given is not None:
            # Resumed or retried: the verdict on this very document is already in hand.
            review = Review.from_json(given)
            self._event(review=kind.value, reused=document.sha256)
        elif review is None:
            review = self._asking(kind, document)
        decision = gate.decide(self.settings.platform.environment, review)
        if given is None or review.status is not ReviewStatus.GIVEN:
            entry = {
                **review.to_json(),
                "step": step or None,
                "at": self.world.clock.now(),
                "summarised": document.summarised,
                "decision": decision.friction.value,
                "gate": decision.reason,
            }
            record.reviews.append(entry)
            self._event(review=kind.value, status=review.status.value, decision=entry["decision"])
        self._save()
        self._say(f"  {decision.reason}")
        for line in verdict_lines(review):
            self._say(line)
        if not decision.needs_approval:
            return None
        record.awaiting_review = document.sha256
        prefix = f"{done}; " if done else ""
        return Transition(
            Phase.AWAITING_APPROVAL,
            f"{prefix}{decision.reason} (platformctl approve {record.stack} {record.service})",
            then_step,
        )

    def _asking(self, kind: ReviewKind, document: ChangeDocument) -> Review:
        """The review, asked from a worker while this thread keeps taking commands: an abort
        or a rollback does not wait for the API to answer."""
        answers: list[Review] = []
        deaths: list[BaseException] = []

        def ask() -> None:
            try:
                answers.append(self._reviews.ask(document))
            except Exception as error:
                answers.append(
                    Review(kind, ReviewStatus.UNAVAILABLE, reason=type(error).__name__,
                           document_sha256=document.sha256)
                )  # fmt: skip
            except BaseException as death:  # the process is going down: so is the release
                deaths.append(death)

        worker = threading.Thread(target=ask, name="ai-review", daemon=True)
        worker.start()
        while worker.is_alive():
            self._take_commands(interrupt=True)
            worker.join(self.world.poll_seconds)
        if deaths:
            raise deaths[0]
        return answers[0]

    def _plan(self) -> ReleasePlan:
        record = self._record()
        return ReleasePlan(
            service=record.service,
            strategy=record.strategy,
            image=record.image,
            previous_image=record.previous_image,
            candidate_slot=record.candidate_slot,
            live_slot=record.previous_live,
            steps=tuple(s.label() for s in record.steps),
        )

    def _explain_failed_up(self) -> None:
        if self._failed_up is None:
            return
        label, error = self._failed_up
        self._failed_up = None
        review = self._reviews.explain(f"up ({label})", error.details or (str(error),))
        if review is None:
            return
        self._record().reviews.append(
            {**review.to_json(), "step": label, "at": self.world.clock.now()}
        )
        self._event(review=review.kind.value, status=review.status.value)
        self._save()
        for line in explanation_lines(review):
            self._say(line)

    # --- config -----------------------------------------------------------------------------

    @property
    def delivery(self) -> DeliverySettings:
        return self.settings.platform.delivery

    def _service(self) -> ServiceSettings:
        return self.settings.platform.app.services[self.index]

    def _app(self) -> dict[str, Any]:
        app = self.world.stack.read_config()["platform:app"]
        assert isinstance(app, dict)
        return app

    def _release(self) -> dict[str, Any]:
        return dict(self._app()["services"][self.index]["release"])

    def _set_release(self, release: dict[str, Any]) -> None:
        app = self._app()
        services = list(app["services"])
        services[self.index] = {**services[self.index], "release": release}
        self.world.stack.set_config({"platform:app": {**app, "services": services}})

    def _slot_service(self, slot: str) -> str:
        return slot_service_name(self.service, slot)

    def _weights(self, *, live: int, candidate: int) -> dict[str, int]:
        record = self._record()
        return {
            self._slot_service(record.previous_live): live,
            self._slot_service(record.candidate_slot): candidate,
        }

    # --- the record -------------------------------------------------------------------------

    def _new_record(
        self,
        image: str,
        strategy: str | None,
        on_failure: str | None,
        approvals: tuple[dict[str, Any], ...],
    ) -> ReleaseRecord:
        service = self._service()
        release = service.release
        live_image = release.slot(release.live).image
        if image == live_image:
            raise DeployError(f"{image} is already live on {release.live}; nothing to release")
        strategy = strategy or release.strategy
        record = ReleaseRecord(
            id=time.strftime("%Y%m%dT%H%M%S", time.gmtime(self.world.clock.now()))
            + "-"
            + secrets.token_hex(2),
            stack=self.world.stack.name,
            service=self.service,
            strategy=strategy,
            image=image,
            candidate_slot=release.candidate,
            previous_live=release.live,
            previous_image=live_image,
            steps=machine.plan(strategy, self.delivery),
            on_failure=on_failure or self.delivery.on_failure,
            on_inconclusive=self.delivery.analysis.on_inconclusive,
            started_at=self.world.clock.now(),
            approvals=list(approvals),
        )
        # The deploy step's config must be valid settings before anything is written.
        config = dict(self.world.stack.read_config())
        app = dict(config["platform:app"])
        services = list(app["services"])
        services[self.index] = {
            **services[self.index],
            "release": machine.deploy_config(dict(services[self.index]["release"]), record),
        }
        config["platform:app"] = {**app, "services": services}
        stack_settings(self.world.project, self.world.stack, config)
        return record

    def _refuse_stale_stack_file(self) -> None:
        """The stack file is the release state: if the deployed stack serves something else
        (a release from another checkout that was not committed), releasing from this file
        could deploy onto the slot that is serving."""
        deployed = (self.world.stack.outputs().get("releases") or {}).get(self.service)
        if not isinstance(deployed, Mapping):
            return
        release = self._service().release
        described = {
            "live": release.live,
            "images": {slot: release.slot(slot).image for slot in ("blue", "green")},
        }
        differs = [k for k in ("live", "images") if k in deployed and deployed[k] != described[k]]
        if differs:
            raise DeployError(
                f"Pulumi.{self.world.stack.name}.yaml is stale for {self.service}: the deployed "
                f"stack has {', '.join(f'{k}={deployed[k]}' for k in differs)}, the file "
                f"{', '.join(f'{k}={described[k]}' for k in differs)}; use the stack file of "
                "the last release (the release workflow commits it) before releasing again"
            )

    def _refuse_file_of_another_release(self) -> None:
        """Resuming or undoing a release applies this checkout's stack file: it must be the
        one the release wrote (the candidate slot holds the release's image, the previous
        slot the image it replaced), not an older checkout that would undo the wrong slot."""
        record = self._record()
        if record.step_index == 0 and record.step_started_at is None:
            return
        release = self._release()
        found = {
            record.candidate_slot: (release.get(record.candidate_slot) or {}).get("image"),
            record.previous_live: (release.get(record.previous_live) or {}).get("image"),
        }
        expected = {
            record.candidate_slot: record.image,
            record.previous_live: record.previous_image,
        }
        if found != expected and record.step_index == 0:
            # A deploy step that restored the file (a review holds it for approval) has
            # applied nothing: the file must then agree with the deployed stack instead.
            self._refuse_stale_stack_file()
        elif found != expected:
            raise DeployError(
                f"Pulumi.{record.stack}.yaml is not the stack file release {record.id} wrote: "
                f"it has {found}, the release {expected}; use the stack file the release left "
                "(the release workflow commits it to main)"
            )

    def _current(self) -> ReleaseRecord:
        record = self.world.ledger.read(self.world.stack.name, self.service)
        if record is None:
            raise DeployError(
                f"no release of {self.service} on {self.world.stack.name} in the ledger "
                f"({self.world.ledger.directory})"
            )
        return record

    def _record(self) -> ReleaseRecord:
        assert self.record is not None
        return self.record

    def _save(self) -> None:
        record = self._record()
        for failure in self._notifier.failures():
            record.events.append({"at": self.world.clock.now(), "note": failure})
        self.world.ledger.write(record)

    def _event(self, **details: Any) -> None:
        self._record().events.append({"at": self.world.clock.now(), **details})

    def _transition(self, transition: Transition) -> None:
        self.record = machine.apply(self._record(), transition, self.world.clock.now())
        event = self.record.events[-1]
        self._save()
        self._say(f"{event['from']} -> {event['phase']}: {event['reason']}")
        notice = {
            "release": self.record.id,
            "stack": self.record.stack,
            "service": self.record.service,
            "image": self.record.image,
            **event,
        }
        self._notifier.send(notice)

    def _say(self, line: str) -> None:
        self.world.progress(line)
