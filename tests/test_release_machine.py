"""The release state machine's pure decisions: plans, analysis arithmetic, commands and the
config each step writes."""

from __future__ import annotations

import pytest

from infra.settings.delivery import AnalysisSettings, DeliverySettings
from platformctl import machine
from platformctl.ports import Measurement, Verdict
from platformctl.record import AnalysisCounters, Phase, ReleaseRecord, StepKind


def delivery(**settings) -> DeliverySettings:
    return DeliverySettings.model_validate(settings)


def record(steps, **fields) -> ReleaseRecord:
    base = dict(
        id="r1", stack="staging", service="chat-api", strategy="canary", image="1.5.0",
        candidate_slot="green", previous_live="blue", previous_image="1.4.2", steps=steps,
        on_failure="rollback", on_inconclusive="rollback", started_at=0.0,
    )  # fmt: skip
    return ReleaseRecord(**{**base, **fields})


def kinds(steps) -> list[str]:
    return [s.label() for s in steps]


def test_a_canary_plan_sets_each_weight_then_bakes_then_promotes_and_scales_down():
    steps = machine.plan("canary", delivery(stepWeights=[5, 50, 100], stepBakeSeconds=120))
    assert kinds(steps) == [
        "deploy", "wait-ready",
        "set-weight 5%", "analyse 120s", "set-weight 50%", "analyse 120s",
        "set-weight 100%", "analyse 120s", "promote", "scale-down 600s",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("profile", "weights", "bake"),
    [
        ("Canary10Percent5Minutes", [10, 100], 300),
        ("Linear10PercentEvery1Minute", list(range(10, 101, 10)), 60),
        ("AllAtOnce", [100], None),
    ],
)
def test_codedeploy_profiles_expand_to_their_steps(profile, weights, bake):
    steps = machine.plan("canary", delivery(profile=profile))
    assert [s.weight for s in steps if s.kind is StepKind.SET_WEIGHT] == weights
    bakes = {s.seconds for s in steps if s.kind is StepKind.ANALYSE}
    assert bakes == ({bake} if bake else set())


def test_a_blue_green_plan_analyses_the_preview_then_switches_then_analyses_live():
    steps = machine.plan(
        "blue-green",
        delivery(prePromotionAnalysisSeconds=60, autoPromotionSeconds=300,
                 postPromotionAnalysisSeconds=90,
                 hooks={"preRollout": [{"name": "smoke", "url": "{preview}/healthz"}],
                        "confirmPromotion": {"timeoutSeconds": 900}}),
    )  # fmt: skip
    assert kinds(steps) == [
        "deploy", "wait-ready", "pre-rollout", "analyse pre-promotion 300s", "confirm",
        "promote", "analyse post-promotion 90s", "scale-down 600s",
    ]  # fmt: skip


def m(verdict: Verdict, error: bool = False) -> Measurement:
    return Measurement("success-rate", verdict, "scripted", error=error)


def tally(*rounds) -> AnalysisCounters:
    counters = AnalysisCounters()
    for measurements in rounds:
        counters = machine.count(counters, measurements)
    return counters


LIMITS = AnalysisSettings.model_validate(
    {"failureLimit": 1, "inconclusiveLimit": 1, "consecutiveErrorLimit": 1}
)


def test_a_round_is_as_good_as_its_worst_metric_and_an_empty_round_is_no_pass():
    assert machine.round_verdict([m(Verdict.PASS), m(Verdict.FAIL)]) is Verdict.FAIL
    assert machine.round_verdict([m(Verdict.PASS), m(Verdict.INCONCLUSIVE)]) is Verdict.INCONCLUSIVE
    assert machine.round_verdict([]) is Verdict.INCONCLUSIVE
    assert machine.round_verdict([m(Verdict.PASS)]) is Verdict.PASS


def test_failures_beyond_the_failure_limit_fail_the_analysis():
    one = tally([m(Verdict.FAIL)], [m(Verdict.PASS)])
    assert machine.judge(one, LIMITS, window_over=False).outcome == "continue"
    two = tally([m(Verdict.FAIL)], [m(Verdict.FAIL)])
    judgement = machine.judge(two, LIMITS, window_over=False)
    assert judgement.outcome == "fail"
    assert "failureLimit 1" in judgement.reason


def test_inconclusive_rounds_beyond_the_limit_are_inconclusive_not_a_pass():
    counters = tally([m(Verdict.PASS)], [m(Verdict.INCONCLUSIVE)], [m(Verdict.INCONCLUSIVE)])
    judgement = machine.judge(counters, LIMITS, window_over=True)
    assert judgement.outcome == "inconclusive"
    assert "inconclusiveLimit 1" in judgement.reason


def test_consecutive_source_errors_beyond_the_limit_stop_the_analysis():
    limits = AnalysisSettings.model_validate({"inconclusiveLimit": 10, "consecutiveErrorLimit": 1})
    errors = tally([m(Verdict.INCONCLUSIVE, error=True)], [m(Verdict.INCONCLUSIVE, error=True)])
    assert machine.judge(errors, limits, window_over=False).outcome == "inconclusive"
    # A good round in between resets the streak.
    broken = tally(
        [m(Verdict.INCONCLUSIVE, error=True)], [m(Verdict.PASS)],
        [m(Verdict.INCONCLUSIVE, error=True)],
    )  # fmt: skip
    assert broken.consecutive_errors == 1
    assert machine.judge(broken, limits, window_over=False).outcome == "continue"


def test_a_window_without_a_single_passing_round_never_succeeds():
    limits = AnalysisSettings.model_validate({"inconclusiveLimit": 5})
    quiet = tally([m(Verdict.INCONCLUSIVE)], [m(Verdict.INCONCLUSIVE)])
    judgement = machine.judge(quiet, limits, window_over=True)
    assert judgement.outcome == "inconclusive"
    assert "no data is no success" in judgement.reason
    assert machine.judge(tally([m(Verdict.PASS)]), limits, window_over=True).outcome == "pass"


def canary_record(**fields) -> ReleaseRecord:
    return record(machine.plan("canary", delivery(stepWeights=[25, 100])), **fields)


def test_a_failure_rolls_back_or_pauses_as_the_release_chose():
    assert machine.step_failed(canary_record(), "fail", "x").phase is Phase.ROLLING_BACK
    paused = machine.step_failed(canary_record(on_failure="pause"), "fail", "x")
    assert paused.phase is Phase.PAUSED
    # Inconclusive has its own policy: pausing on failures does not pause on no data.
    no_data = machine.step_failed(canary_record(on_failure="pause"), "inconclusive", "x")
    assert no_data.phase is Phase.ROLLING_BACK


@pytest.mark.parametrize("phase", [Phase.PROGRESSING, Phase.PAUSED, Phase.AWAITING_CONFIRMATION])
def test_abort_wins_from_any_live_phase_and_is_idempotent(phase):
    transition = machine.control(canary_record(phase=phase), "abort", "ci")
    assert transition is not None
    assert transition.phase is Phase.ROLLING_BACK
    assert transition.rollback_ends_in is Phase.ABORTED
    aborting = canary_record(phase=Phase.ROLLING_BACK, rollback_ends_in=Phase.ABORTED)
    assert machine.control(aborting, "abort", "ci") is None
    assert machine.control(canary_record(phase=Phase.ABORTED), "abort", "ci") is None
    # An abort during a rollback for a failure does not stop it; it renames its ending.
    failing = canary_record(phase=Phase.ROLLING_BACK, rollback_ends_in=Phase.ROLLED_BACK)
    renamed = machine.control(failing, "abort", "ci")
    assert renamed is not None and renamed.phase is Phase.ROLLING_BACK
    assert renamed.rollback_ends_in is Phase.ABORTED
    assert machine.control(failing, "pause", "ci") is None


def test_promote_now_skips_to_the_promotion_and_after_it_to_the_scale_down():
    fresh = canary_record(step_index=3)
    jump = machine.control(fresh, "promote-now", "alice")
    assert jump is not None and fresh.steps[jump.step_index].kind is StepKind.PROMOTE
    promoted = canary_record(step_index=7, promoted=True)
    jump = machine.control(promoted, "promote-now", "alice")
    assert jump is not None and promoted.steps[jump.step_index].kind is StepKind.SCALE_DOWN


def test_commands_that_change_nothing_are_no_ops():
    assert machine.control(canary_record(), "resume", "x") is None
    assert machine.control(canary_record(phase=Phase.PAUSED), "pause", "x") is None
    assert machine.control(canary_record(), "approve", "x") is None
    assert machine.control(canary_record(phase=Phase.SUCCEEDED), "pause", "x") is None


def test_rollback_of_a_completed_release_reopens_it():
    done = canary_record(phase=Phase.SUCCEEDED, promoted=True)
    transition = machine.control(done, "rollback", "oncall")
    assert transition is not None and transition.phase is Phase.ROLLING_BACK


RELEASE = {"live": "blue", "candidateWeight": 0, "blue": {"image": "1.4.2"},
           "green": {"scaledDown": True}}  # fmt: skip


def test_deploy_puts_the_image_on_the_idle_slot_without_moving_traffic():
    deployed = machine.deploy_config(RELEASE, canary_record())
    assert deployed["green"] == {"image": "1.5.0", "scaledDown": False}
    assert (deployed["live"], deployed["candidateWeight"]) == ("blue", 0)
    assert RELEASE["green"] == {"scaledDown": True}, "the input is not modified"


def test_rollback_before_promotion_only_zeroes_the_weight():
    canary = {**machine.deploy_config(RELEASE, canary_record()), "candidateWeight": 25}
    rolled = machine.rollback_config(canary, canary_record())
    assert {k: v for k, v in rolled.items() if canary[k] != v} == {"candidateWeight": 0}


def test_rollback_after_promotion_flips_live_back_to_the_warm_slot():
    promoted = machine.promote_config(machine.deploy_config(RELEASE, canary_record()),
                                      canary_record())  # fmt: skip
    assert promoted["live"] == "green"
    rolled = machine.rollback_config(promoted, canary_record(promoted=True))
    assert (rolled["live"], rolled["candidateWeight"]) == ("blue", 0)
    assert not machine.needs_warm_up(promoted, canary_record(promoted=True))
    cold = machine.scale_down_config(promoted, "blue")
    assert machine.needs_warm_up(cold, canary_record(promoted=True))


def test_every_transition_is_recorded_with_its_reason():
    start = canary_record()
    after = machine.apply(start, machine.step_done(start, "deployed"), now=5.0)
    assert after.step_index == 1
    assert after.events[-1] == {
        "at": 5.0, "from": "Progressing", "phase": "Progressing", "step": "wait-ready",
        "reason": "deployed",
    }  # fmt: skip
    assert start.events == [], "apply returns a new record"
