"""Which image may be promoted: exact, still live, soaked without interruption, and healthy."""

from __future__ import annotations

import pytest

from platformctl.ledger import Ledger
from platformctl.ports import DeployError, Measurement, Verdict
from platformctl.promotion import (
    approval,
    health_problem,
    promotable_image,
    promotion_path_problem,
)
from platformctl.record import Phase, ReleaseRecord

IMAGE = "1.6.0@sha256:" + "a" * 64
HOUR = 3600.0


def release(image: str, started: float, phase: Phase, promoted_at: float | None, **more):
    return ReleaseRecord(
        id=f"20260101T0000{int(started) % 100:02d}-abcd", stack="staging", service="chat-api",
        strategy="canary", image=image, candidate_slot="green", previous_live="blue",
        previous_image="1.5.0", steps=[], on_failure="rollback", on_inconclusive="rollback",
        started_at=started, phase=phase, promoted=promoted_at is not None,
        promoted_at=promoted_at, **more,
    )  # fmt: skip


def test_the_image_of_the_last_completed_release_is_promoted_once_soaked():
    history = [release(IMAGE, 0, Phase.SUCCEEDED, promoted_at=10)]
    candidate = promotable_image("chat-api", "staging", history, IMAGE, 60, now=10 + HOUR)
    assert (candidate.image, candidate.live_since) == (IMAGE, 10)
    with pytest.raises(DeployError, match="live on staging for 50 min; the target needs 60"):
        promotable_image("chat-api", "staging", history, IMAGE, 60, now=10 + 50 * 60)


def test_a_later_release_that_took_traffic_and_was_rolled_back_restarts_the_soak():
    history = [
        release(IMAGE, 0, Phase.SUCCEEDED, promoted_at=10),
        release("1.7.0", 2 * HOUR, Phase.ROLLED_BACK, promoted_at=2 * HOUR + 60,
                restored_at=2 * HOUR + 120),
    ]  # fmt: skip
    with pytest.raises(DeployError, match="for 58 min"):
        promotable_image("chat-api", "staging", history, IMAGE, 60, now=3 * HOUR)
    soaked = promotable_image("chat-api", "staging", history, IMAGE, 60, now=4 * HOUR)
    assert soaked.live_since == 2 * HOUR + 120


def test_a_canary_rolled_back_before_promotion_does_not_interrupt_the_soak():
    history = [
        release(IMAGE, 0, Phase.SUCCEEDED, promoted_at=10),
        release("1.7.0", 2 * HOUR, Phase.ROLLED_BACK, promoted_at=None),
    ]
    assert promotable_image("chat-api", "staging", history, IMAGE, 60, 3 * HOUR).live_since == 10


@pytest.mark.parametrize(
    ("history", "live", "message"),
    [
        ([], IMAGE, "no completed release"),
        ([release(IMAGE, 0, Phase.SUCCEEDED, 10)], "1.5.0", "rolled back or changed since"),
        ([release("1.6.0", 0, Phase.SUCCEEDED, 10)], "1.6.0", "without a digest"),
        ([release(IMAGE, 0, Phase.SUCCEEDED, 10), release("1.7.0", 99, Phase.PAUSED, None)],
         IMAGE, "is Paused; promote once it has finished"),
    ],
)  # fmt: skip
def test_nothing_is_promoted_that_is_not_exactly_and_still_live(history, live, message):
    with pytest.raises(DeployError, match=message):
        promotable_image("chat-api", "staging", history, live, 0, now=10 * HOUR)


def test_promotions_move_one_environment_forward():
    assert promotion_path_problem("dev", "staging") is None
    assert promotion_path_problem("staging", "prod") is None
    for source, target in (("dev", "prod"), ("prod", "staging"), ("staging", "staging")):
        assert "one step along dev -> staging -> prod" in (
            promotion_path_problem(source, target) or ""
        )


def test_the_source_must_be_healthy_by_data_and_no_data_is_not_healthy():
    passing = Measurement("success-rate", Verdict.PASS, "ok", 1.0)
    quiet = Measurement("latency-p95", Verdict.INCONCLUSIVE, "no data")
    assert health_problem([passing]) is None
    assert health_problem([passing, quiet]) == "latency-p95 inconclusive: no data"
    assert health_problem([]) == "no metric to judge the source by"


def test_an_approval_comes_from_the_flag_or_the_ci_environment_and_names_who():
    assert approval("prod", True, True, "dana", {}, 5.0) == (
        {"by": "dana", "at": 5.0, "for": "promotion to prod"},
    )
    from_ci = approval("prod", True, False, "ci-bot", {"PLATFORM_APPROVED_BY": "erin"}, 5.0)
    assert from_ci[0]["by"] == "erin"
    with pytest.raises(DeployError, match=r"--approve .* PLATFORM_APPROVED_BY"):
        approval("prod", True, False, "dana", {}, 5.0)
    assert approval("staging", False, False, "dana", {}, 5.0) == ()


def test_a_services_history_never_includes_another_service_with_a_longer_name(tmp_path):
    ledger = Ledger(tmp_path)
    for service in ("chat", "chat-api"):
        record = release(IMAGE, 1, Phase.SUCCEEDED, 2)
        record.service = service
        ledger.write(record)
    assert [r.service for r in ledger.history("staging", "chat")] == ["chat"]


def test_a_canary_rolled_back_after_taking_every_request_restarts_the_soak():
    from platformctl.record import Step, StepKind

    steps = [Step(StepKind.SET_WEIGHT, weight=100), Step(StepKind.ANALYSE, seconds=60)]
    history = [
        release(IMAGE, 0, Phase.SUCCEEDED, promoted_at=10),
        release("1.7.0", 2 * HOUR, Phase.ROLLED_BACK, promoted_at=None,
                restored_at=2 * HOUR + 300),
    ]  # fmt: skip
    history[1].steps = steps
    history[1].step_index = 1
    soaked = promotable_image("chat-api", "staging", history, IMAGE, 60, now=4 * HOUR)
    assert soaked.live_since == 2 * HOUR + 300
