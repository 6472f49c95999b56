"""The release's steps, one method per :class:`StepKind`: each acts, then asks
:mod:`platformctl.machine` what the outcome means."""

from __future__ import annotations

import os

from infra.settings.delivery import ENV_REFERENCE, AnalysisSettings, MetricCheck
from platformctl import machine
from platformctl.blob_store import StopDriving
from platformctl.driver_acts import Interrupted
from platformctl.driver_reviews import DriverReviews
from platformctl.gates import gate_problems
from platformctl.hooks import redact_url
from platformctl.machine import Transition
from platformctl.ports import AnalysisTarget, DeployError, Measurement, Verdict
from platformctl.record import Phase
from platformctl.synthetic import TrafficCount, synthetic_traffic


class DriverSteps(DriverReviews):
    def _deploy(self) -> Transition:
        record = self._record()
        before = self._release()
        self._set_release(machine.deploy_config(before, record))
        try:
            outcome = self.world.stack.preview(self.world.progress)
        except StopDriving:
            raise
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
        except Interrupted:
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
            measurements += self._guards().measure(target)
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
                    record,
                    judgement.outcome,
                    f"analysis {judgement.outcome}: {judgement.reason}"
                    + _because(measurements, judgement.outcome),
                )
            if judgement.outcome == "pass":
                return machine.step_done(record, f"analysis passed: {judgement.reason}")
        raise AssertionError("the last round always ends the window")

    def _watch_live(self, seconds: float) -> Transition | None:
        """While the old slot is warm, the new live slot is judged every interval against
        the metrics' thresholds, the alarms and the SLO alerts; a failure sends traffic back
        in one routing ``up`` (the rollback), no data changes nothing."""
        record = self._record()
        analysis = self.delivery.analysis
        deadline = self.world.clock.now() + seconds
        checks = [
            m.model_copy(update={"ratio_to_live": None})
            for m in analysis.metrics
            if m.threshold_range is not None
        ]
        target = AnalysisTarget(
            stack=record.stack, service=record.service, namespace=record.service,
            candidate_slot=record.candidate_slot, live_slot=record.previous_live,
            window_seconds=analysis.window_seconds,
        )  # fmt: skip
        metrics = self.world.metrics_for(self.settings)
        record.counters = machine.AnalysisCounters()
        number = 0
        while self.world.clock.now() + analysis.interval_seconds <= deadline:
            self._wait(analysis.interval_seconds)
            number += 1
            measurements = [metrics.measure(check, target) for check in checks]
            measurements += self._guards().measure(target)
            record = self._record()
            record.counters = machine.count(record.counters, measurements)
            judgement = machine.judge_watch(record.counters, analysis)
            self._event(
                watch=number,
                measurements=[m.to_json() for m in measurements],
                judgement=judgement.outcome,
            )
            self._save()
            if judgement.outcome == "fail":
                record.detected_at = self.world.clock.now()
                return machine.step_failed(
                    record,
                    "fail",
                    f"the live slot failed after promotion: {judgement.reason}"
                    + _because(measurements, "fail"),
                )
        self._wait(max(0.0, deadline - self.world.clock.now()))
        return None

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
                "(rollback is instant until then), and the live slot is watched"
            )
            undone = None if record.judged_by_hand else self._watch_live(remaining)
            if undone is not None:
                return undone
            if record.judged_by_hand:
                self._wait(remaining)
        self._set_release(machine.scale_down_config(self._release(), record.previous_live))
        try:
            self._up(step.label())
        except StopDriving:
            raise
        except DeployError as error:
            # Traffic is where it belongs: a slot left running costs money, not availability.
            return machine.step_done(
                record,
                f"{record.previous_live} could not be scaled down ({error}); it keeps "
                "running until the next release takes its slot",
            )
        return machine.step_done(record, f"{record.previous_live} scaled down")


def _because(measurements: list[Measurement], outcome: str) -> str:
    """What in the last round made the verdict: the failing (or inconclusive) measurements'
    own reasons, so the ledger says which metric, alarm or alert it was."""
    verdict = Verdict.FAIL if outcome == "fail" else Verdict.INCONCLUSIVE
    reasons = [f"{m.metric}: {m.reason}" for m in measurements if m.verdict is verdict]
    return f" ({'; '.join(reasons)})" if reasons else ""
