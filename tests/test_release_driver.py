"""The release driver against the real program on the offline engine: each step's config
change is written to the stack file, each `up` registers real resources, and the Ingress
weights are read back from what was registered."""

from __future__ import annotations

import json

import pytest
import yaml

from platformctl.ledger import Control, Ledger
from platformctl.ports import DeployError, HookResult, TrafficCheck, Verdict
from platformctl.record import Phase
from tests.release_world import (
    FAST_DELIVERY,
    INGRESS,
    live_weights,
    record_weights,
    release_world,
    strict_dev_packs,
)

BLUE, GREEN = "chat-api-blue", "chat-api-green"
FOUR_STEPS = {**FAST_DELIVERY, "stepWeights": [5, 25, 50, 100]}
# A rollback after blue was scaled down: warm it, move traffic back, then stop green.
WARM_ROLLBACK_UPS = [
    "warm up the previous slot for rollback",
    "rollback: traffic back to blue",
    "scale-down green after rollback",
]


def changed_types(world, message_part: str) -> set[str]:
    """Resource types the `up`s whose message starts with ``message_part`` changed."""
    record = world.world.ledger.read("dev", "chat-api")
    ups = [e for e in record.events if "up" in e and e["up"].startswith(message_part)]
    assert ups, f"no up matching {message_part!r}"
    return {change.split("::")[-2].rsplit("$", 1)[-1] for e in ups for change in e["changed"]}


def test_a_healthy_canary_walks_every_step_and_each_step_moves_only_the_ingress(tmp_path):
    world = release_world(tmp_path, delivery=FOUR_STEPS)
    weights = record_weights(world)
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED
    assert weights == [
        ("deploy", {BLUE: 100, GREEN: 0}),
        ("set-weight 5%", {BLUE: 95, GREEN: 5}),
        ("set-weight 25%", {BLUE: 75, GREEN: 25}),
        ("set-weight 50%", {BLUE: 50, GREEN: 50}),
        ("set-weight 100%", {BLUE: 0, GREEN: 100}),
        ("promote", {BLUE: 0, GREEN: 100}),
        ("scale-down 120s", {BLUE: 0, GREEN: 100}),
    ]
    for step in ("set-weight", "promote"):
        assert changed_types(world, step) == {INGRESS}
    release = world.release()
    assert (release["live"], release["green"]["image"], release["candidateWeight"]) == (
        "green", "1.5.0", 0,
    )  # fmt: skip
    assert release["blue"]["scaledDown"] is True
    # Four bakes of three rounds each, then the new live slot watched while blue stays warm
    # (120 s at 20 s a round), all measured on green.
    assert len(world.metrics.calls) == 4 * 3 * 2 + 6 * 2
    assert {slot for _, _, slot in world.metrics.calls} == {"green"}
    assert [e["judgement"] for e in record.events if "watch" in e] == ["continue"] * 6


def test_errors_at_the_second_step_roll_back_there_with_one_routing_only_up(tmp_path):
    world = release_world(tmp_path, delivery=FOUR_STEPS)
    world.metrics.judge = lambda weight, metric: Verdict.FAIL if weight >= 25 else Verdict.PASS
    weights = record_weights(world)
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ROLLED_BACK
    assert [message for message, _ in weights] == [
        "deploy", "set-weight 5%", "set-weight 25%", "rollback: traffic back to blue",
        "scale-down green after rollback",
    ]  # fmt: skip
    assert weights[3][1] == {BLUE: 100, GREEN: 0}
    assert changed_types(world, "rollback") == {INGRESS}
    assert record.detected_at is not None and record.restored_at is not None
    assert "failureLimit 0" in next(
        e["reason"] for e in record.events if e.get("phase") == "RollingBack"
    )
    assert world.release()["green"]["scaledDown"] is True


def test_a_metrics_source_that_is_down_rolls_back_and_never_counts_as_success(tmp_path):
    world = release_world(tmp_path)
    world.metrics.source_down = True
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ROLLED_BACK
    reason = next(e["reason"] for e in record.events if e.get("phase") == "RollingBack")
    assert "inconclusive" in reason and "consecutiveErrorLimit 2" in reason
    assert world.release()["live"] == "blue"


def test_inconclusive_results_may_pause_for_a_human_instead(tmp_path):
    delivery = {**FAST_DELIVERY, "analysis": {**FAST_DELIVERY["analysis"],
                                              "onInconclusive": "pause"}}  # fmt: skip
    world = release_world(tmp_path, delivery=delivery)
    world.metrics.judge = lambda weight, metric: Verdict.INCONCLUSIVE
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.PAUSED
    assert world.release()["candidateWeight"] == 25, "traffic stays where it was"
    world.metrics.judge = lambda weight, metric: Verdict.PASS
    assert world.driver().resume().phase is Phase.SUCCEEDED


def test_on_failure_pause_keeps_traffic_for_a_release_with_a_one_way_migration(tmp_path):
    world = release_world(tmp_path)
    world.metrics.judge = lambda weight, metric: Verdict.FAIL
    record = world.driver().start("1.5.0", on_failure="pause")
    assert record.phase is Phase.PAUSED
    assert world.release()["candidateWeight"] == 25
    rolled = world.driver().command("rollback", "migration cannot be undone; fix forward").record
    assert rolled.phase is Phase.ROLLED_BACK
    assert world.release()["candidateWeight"] == 0


def test_an_up_that_fails_mid_release_rolls_back(tmp_path):
    ups = []

    def fail_third_up(operation: str) -> None:
        if operation == "up":
            ups.append(operation)
            if len(ups) == 4:  # initial, deploy, 25%, then 100% fails
                raise DeployError("up of dev failed: the API server timed out")

    world = release_world(tmp_path, fault=fail_third_up)
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ROLLED_BACK
    reason = next(e["reason"] for e in record.events if e.get("phase") == "RollingBack")
    assert "up failed" in reason and "API server timed out" in reason
    assert live_weights(world.stack) == {BLUE: 100, GREEN: 0}


def test_a_mandatory_violation_in_the_preview_rejects_the_release_and_changes_nothing(tmp_path):
    world = release_world(tmp_path, policy_packs=strict_dev_packs(tmp_path))
    stack_file = world.stack.project_dir / "Pulumi.dev.yaml"
    before = stack_file.read_text()
    ups_before = len(world.ups())
    record = world.driver().start("1.5.0")
    world.stack.close()
    assert record.phase is Phase.REJECTED
    assert "eks-public-endpoint-restricted" in record.events[-1]["reason"]
    assert "nothing applied" in record.events[-1]["reason"]
    assert stack_file.read_text() == before
    assert len(world.ups()) == ups_before


def test_abort_during_analysis_takes_effect_at_once_and_a_second_abort_is_a_no_op(tmp_path):
    world = release_world(tmp_path)
    ledger = world.world.ledger
    world.clock.at(30, lambda: ledger.send("dev", "chat-api", Control("abort", "ci", 0.0)))
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ABORTED
    # The bake was 60 s: the abort landed in its first round, not after it.
    assert world.clock.time - world.clock.start < 60
    again = world.driver().command("abort").record
    assert again.phase is Phase.ABORTED
    assert "nothing to change" in world.lines[-1]


def test_pause_then_resume_continues_from_the_step_it_stopped_in(tmp_path):
    world = release_world(tmp_path)
    ledger = world.world.ledger
    world.clock.at(10, lambda: ledger.send("dev", "chat-api", Control("pause", "alice", 0.0)))
    paused = world.driver().start("1.5.0")
    assert paused.phase is Phase.PAUSED
    assert paused.step is not None and paused.step.label() == "analyse 60s"
    ups_while_paused = len(world.ups())
    resumed = world.driver().resume()
    assert resumed.phase is Phase.SUCCEEDED
    messages = [u["message"].split(": ", 1)[1] for u in world.ups()[ups_while_paused:]]
    assert messages == ["set-weight 100%", "promote", "scale-down 120s"]


def test_promote_now_skips_the_remaining_steps(tmp_path):
    world = release_world(tmp_path, delivery=FOUR_STEPS)
    ledger = world.world.ledger
    world.clock.at(30, lambda: ledger.send("dev", "chat-api", Control("promote-now", "bob", 0)))
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED
    messages = [u["message"].split(": ", 1)[1] for u in world.ups()[1:]]
    assert messages == ["deploy", "set-weight 5%", "promote", "scale-down 120s"]
    assert any("promote-now by bob" in e.get("reason", "") for e in record.events)


CONFIRMED = {**FAST_DELIVERY, "hooks": {"confirmPromotion": {"timeoutSeconds": 600}}}


def test_the_confirm_gate_waits_for_an_approval_and_records_who_gave_it(tmp_path):
    world = release_world(tmp_path, delivery=CONFIRMED)
    ledger = world.world.ledger
    world.clock.at(400, lambda: ledger.send("dev", "chat-api", Control("approve", "carol", 0)))
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED
    assert [a["by"] for a in record.approvals] == ["carol"]
    assert any(e.get("phase") == "AwaitingConfirmation" for e in record.events)


def test_the_confirm_gate_times_out_into_rollback(tmp_path):
    world = release_world(tmp_path, delivery=CONFIRMED)
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ROLLED_BACK
    assert "no approval within 600s" in next(
        e["reason"] for e in record.events if e.get("phase") == "RollingBack"
    )
    assert world.release()["candidateWeight"] == 0


def test_a_paused_gate_resumed_later_keeps_its_original_deadline(tmp_path):
    world = release_world(tmp_path, delivery=CONFIRMED)
    ledger = world.world.ledger
    world.clock.at(300, lambda: ledger.send("dev", "chat-api", Control("pause", "x", 0)))
    paused = world.driver().start("1.5.0")
    assert paused.phase is Phase.PAUSED and paused.step is not None
    assert paused.step.label() == "confirm"
    gate_opened = paused.step_started_at
    assert gate_opened is not None
    world.clock.time += 200  # someone resumes later; the gate's 600 s keep running
    record = world.driver().resume()
    assert record.phase is Phase.ROLLED_BACK
    timed_out = next(e for e in record.events if e.get("phase") == "RollingBack")
    assert "no approval within 600s" in timed_out["reason"]
    assert timed_out["at"] - gate_opened == pytest.approx(600, abs=21)


def test_rollback_within_the_scale_down_delay_is_one_routing_only_up(tmp_path):
    world = release_world(tmp_path)
    ledger = world.world.ledger
    # Steps: 25% bake 60 s, 100% bake 60 s, promote, then 120 s warm: 150 s is in the window.
    world.clock.at(150, lambda: ledger.send("dev", "chat-api", Control("rollback", "oncall", 0)))
    weights = record_weights(world)
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ROLLED_BACK and record.promoted
    assert weights[-2] == ("rollback: traffic back to blue", {BLUE: 100, GREEN: 0})
    assert changed_types(world, "rollback") == {INGRESS}
    assert not any("warm up" in e.get("up", "") for e in record.events)
    assert world.release()["live"] == "blue"


def test_rollback_after_the_old_slot_was_scaled_down_warms_it_first(tmp_path):
    world = release_world(tmp_path)
    assert world.driver().start("1.5.0").phase is Phase.SUCCEEDED
    record = world.driver().command("rollback", "a bug found after release").record
    assert record.phase is Phase.ROLLED_BACK
    ups = [e["up"] for e in record.events if "up" in e]
    assert ups[-3:] == WARM_ROLLBACK_UPS
    release = world.release()
    assert (release["live"], release["blue"].get("scaledDown")) == ("blue", False)


def test_blue_green_switches_in_one_up_and_a_post_promotion_failure_switches_back(tmp_path):
    world = release_world(tmp_path)
    weights = record_weights(world)
    world.metrics.judge = lambda weight, metric: (
        Verdict.FAIL if world.release()["live"] == "green" else Verdict.PASS
    )
    record = world.driver().start("1.5.0", strategy="blue-green")
    assert record.phase is Phase.ROLLED_BACK and record.promoted
    assert [m for m, _ in weights] == [
        "deploy", "promote", "rollback: traffic back to blue", "scale-down green after rollback",
    ]  # fmt: skip
    assert weights[1][1] == {BLUE: 0, GREEN: 100}
    assert weights[2][1] == {BLUE: 100, GREEN: 0}
    assert world.release()["live"] == "blue"


def test_the_bake_starts_only_after_the_alb_confirms_the_new_weights(tmp_path):
    world = release_world(tmp_path)
    world.traffic.lag = 2
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED
    verified = [e for e in record.events if "verified" in e]
    assert verified and all(e["attempts"] == 3 for e in verified)
    set_weight = world.traffic.expectations
    assert {GREEN: 25, BLUE: 75} in [dict(e.weights) for e in set_weight]


def test_weights_the_alb_never_confirms_roll_the_release_back(tmp_path):
    world = release_world(tmp_path)
    world.traffic.lag = 10_000
    record = world.driver().start("1.5.0")
    # Readiness is the first thing verified, so no traffic ever moved; but the rollback's
    # weights are unconfirmed too, and an unconfirmed rollback is not called a success.
    assert record.phase is Phase.FAILED
    assert "did not confirm the weights within" in record.last_reason
    assert "platformctl rollback dev chat-api" in record.last_reason
    assert live_weights(world.stack) == {BLUE: 100, GREEN: 0}


def test_a_failing_pre_rollout_check_stops_the_release_and_its_candidate_before_traffic_moves(
    tmp_path,
):
    world = release_world(
        tmp_path,
        delivery={
            **FAST_DELIVERY,
            "hooks": {"preRollout": [{"name": "smoke", "url": "{preview}/ok"}]},
        },
    )
    world.hooks.pre_rollout_results = [HookResult("smoke", False, "503 Service Unavailable")]
    weights = record_weights(world)
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ROLLED_BACK
    assert all(w[GREEN] == 0 for _, w in weights)
    assert world.hooks.preview_urls == ["https://preview.chat.dev.example.com/api"]
    # No route to undo: the rollback's one up stops the candidate (which may never become
    # ready, and would fail a later up on its readiness wait).
    [rollback] = [e for e in record.events if e.get("up", "").startswith("rollback")]
    assert rollback["changed"] and all("chat-api-green" in c for c in rollback["changed"])
    assert world.release()["green"]["scaledDown"] is True


def test_every_phase_change_is_notified_with_its_reason(tmp_path):
    world = release_world(tmp_path)
    world.metrics.judge = lambda weight, metric: Verdict.FAIL if weight == 100 else Verdict.PASS
    world.driver().start("1.5.0")
    phases = [e["phase"] for e in world.hooks.events]
    assert phases[-2:] == ["RollingBack", "RolledBack"]
    assert all(e["reason"] and e["service"] == "chat-api" for e in world.hooks.events)
    assert world.hooks.events[-1]["image"] == "1.5.0"


def test_a_second_release_is_refused_while_one_is_in_progress(tmp_path):
    world = release_world(tmp_path)
    with (
        world.world.ledger.lease("dev", "release 1.5.0", service="chat-api"),
        pytest.raises(DeployError, match=r"held by .*pid \d+ on .*\(release 1.5.0"),
    ):
        world.driver().start("1.6.0")
    # A release left unfinished by a dead process refuses a new one until someone decides.
    world.clock.at(10, lambda: world.world.ledger.send("dev", "chat-api", Control("pause", "x", 0)))
    world.driver().start("1.5.0")
    with pytest.raises(DeployError, match="resume\\|rollback\\|abort"):
        world.driver().start("1.6.0")


def test_an_image_already_live_or_invalid_is_refused_before_anything_is_written(tmp_path):
    world = release_world(tmp_path)
    before = (world.stack.project_dir / "Pulumi.dev.yaml").read_text()
    with pytest.raises(DeployError, match="already live"):
        world.driver().start("1.4.2")
    with pytest.raises(DeployError, match=r"platform:app.services\[0\].release.green.image"):
        world.driver().start("registry.example.com/chat-api:1.5.0")
    assert (world.stack.project_dir / "Pulumi.dev.yaml").read_text() == before
    assert world.world.ledger.read("dev", "chat-api") is None


def test_a_webhook_receives_a_json_event_for_every_phase_change(tmp_path, server):
    from infra.settings.delivery import Hooks
    from platformctl.hooks import HookRunner

    world = release_world(tmp_path)
    runner = HookRunner(Hooks.model_validate({"notify": [server.base + "/events"]}))
    world.world.hooks_for = lambda delivery: runner
    record = world.driver().start("1.5.0")
    received = [json.loads(r.body) for r in server.to("/events")]
    transitions = [e for e in record.events if "reason" in e]
    assert [(e["from"], e["phase"], e["reason"]) for e in received] == [
        (e["from"], e["phase"], e["reason"]) for e in transitions
    ]
    assert received[-1]["phase"] == "Succeeded"
    assert {r.headers["content-type"] for r in server.to("/events")} == {"application/json"}
    assert all(e["release"] == record.id and e["image"] == "1.5.0" for e in received)


def test_ci_sending_promote_now_then_abort_ends_aborted_with_traffic_back_on_blue(tmp_path):
    world = release_world(tmp_path, delivery=FOUR_STEPS)
    ledger = world.world.ledger
    world.clock.at(30, lambda: ledger.send("dev", "chat-api", Control("promote-now", "ci", 0)))
    # The promotion lands; the abort arrives while the old slot is still warm.
    world.clock.at(60, lambda: ledger.send("dev", "chat-api", Control("abort", "ci", 0)))
    weights = record_weights(world)
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ABORTED and record.promoted
    assert weights[-2] == ("rollback: traffic back to blue", {BLUE: 100, GREEN: 0})
    assert world.release()["live"] == "blue"


def test_abort_during_the_confirm_gate_wins_over_a_later_approval(tmp_path):
    world = release_world(tmp_path, delivery=CONFIRMED)
    ledger = world.world.ledger

    def abort_then_approve() -> None:
        ledger.send("dev", "chat-api", Control("abort", "ops", 0))
        ledger.send("dev", "chat-api", Control("approve", "ops", 0))

    world.clock.at(300, abort_then_approve)
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ABORTED
    assert world.release()["candidateWeight"] == 0
    assert record.approvals == []
    assert any(e.get("ignored") == "approve by ops" for e in record.events)


class Killed(BaseException):
    """Stands in for SIGKILL in-process: nothing after it runs, the record stays as written."""


def fail_at_up(number: int, error: BaseException):
    """A fault hook: the ``number``-th `up` (the initial deployment is 1) raises ``error``."""
    ups: list[str] = []

    def fault(operation: str) -> None:
        if operation == "up":
            ups.append(operation)
            if len(ups) == number:
                raise error

    return fault


def test_a_promotion_whose_up_fails_is_undone_at_the_alb_not_only_in_the_file(tmp_path):
    # initial, deploy, 25%, 100%, then the promotion's up fails after being written.
    world = release_world(tmp_path, fault=fail_at_up(5, DeployError("API server gone")))
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ROLLED_BACK
    assert live_weights(world.stack) == {BLUE: 100, GREEN: 0}
    release = world.release()
    assert (release["live"], release["green"]["scaledDown"]) == ("blue", True)


def test_a_release_killed_during_its_promotion_is_undone_by_a_later_abort(tmp_path):
    world = release_world(tmp_path, fault=fail_at_up(5, Killed()))
    with pytest.raises(Killed):
        world.driver().start("1.5.0")
    assert world.release()["live"] == "green", "the flip was written before the kill"
    world.stack._fault = None
    record = world.driver().command("abort", "process died").record
    assert record.phase is Phase.ABORTED
    assert live_weights(world.stack) == {BLUE: 100, GREEN: 0}
    assert world.release()["live"] == "blue"


def test_an_abort_after_a_killed_rollback_finishes_it(tmp_path):
    world = release_world(tmp_path, fault=fail_at_up(4, Killed()))
    world.metrics.judge = lambda weight, metric: Verdict.FAIL if weight else Verdict.PASS
    with pytest.raises(Killed):
        world.driver().start("1.5.0")  # fails at 25%; its rollback (4th up) is killed
    stuck = world.world.ledger.read("dev", "chat-api")
    assert stuck is not None and stuck.phase is Phase.ROLLING_BACK
    assert live_weights(world.stack) == {BLUE: 75, GREEN: 25}
    world.stack._fault = None
    record = world.driver().command("abort").record
    assert record.phase is Phase.ABORTED
    assert live_weights(world.stack) == {BLUE: 100, GREEN: 0}


def test_a_permission_the_alb_refuses_mid_release_rolls_back_instead_of_stranding_it(tmp_path):
    world = release_world(tmp_path)
    verify = world.traffic.verify

    def refuse_the_25_percent_check(expectation):
        if dict(expectation.weights).get(GREEN) == 25:
            raise DeployError("AWS denied elasticloadbalancing:DescribeRules")
        return verify(expectation)

    world.traffic.verify = refuse_the_25_percent_check  # type: ignore[method-assign]
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ROLLED_BACK
    assert "DescribeRules" in next(
        e["reason"] for e in record.events if e.get("phase") == "RollingBack"
    )
    assert world.world.ledger.holder("dev") is None
    assert live_weights(world.stack) == {BLUE: 100, GREEN: 0}


def test_a_failed_rollback_blocks_new_releases_and_can_be_retried_once_fixed(tmp_path):
    world = release_world(tmp_path)
    world.traffic.lag = 10_000
    assert world.driver().start("1.5.0").phase is Phase.FAILED
    with pytest.raises(DeployError, match="Failed"):
        world.driver().start("1.6.0")
    world.traffic.lag = 0
    record = world.driver().command("rollback", "ALB access fixed").record
    assert record.phase is Phase.ROLLED_BACK
    assert world.driver().start("1.6.0").phase is Phase.SUCCEEDED


def test_a_manual_rollback_times_its_restore_from_the_command_not_an_old_failure(tmp_path):
    world = release_world(tmp_path)
    world.metrics.judge = lambda weight, metric: Verdict.FAIL
    assert world.driver().start("1.5.0", on_failure="pause").phase is Phase.PAUSED
    world.metrics.judge = lambda weight, metric: Verdict.PASS
    assert world.driver().resume().phase is Phase.SUCCEEDED
    world.clock.time += 86_400
    asked_at = world.clock.time
    record = world.driver().command("rollback").record
    assert record.phase is Phase.ROLLED_BACK
    assert record.detected_at is not None and record.detected_at >= asked_at
    assert record.restore_seconds is not None and record.restore_seconds < 60


def test_a_rollback_sent_during_the_last_up_is_carried_out(tmp_path):
    world = release_world(tmp_path)
    ledger = world.world.ledger
    ups: list[str] = []

    def rollback_during_the_scale_down(operation: str) -> None:
        if operation == "up":
            ups.append(operation)
            if len(ups) == 5:  # deploy, 25%, 100%, promote, scale-down
                current = ledger.read("dev", "chat-api")
                ledger.send("dev", "chat-api", Control("rollback", "oncall", 0, "", current.id))

    world.stack._fault = rollback_during_the_scale_down
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ROLLED_BACK
    assert [e["up"] for e in record.events if "up" in e][-3:] == [
        "warm up the previous slot for rollback", "rollback: traffic back to blue",
        "scale-down green after rollback",
    ]  # fmt: skip
    assert live_weights(world.stack) == {BLUE: 100, GREEN: 0}


def test_commands_meant_for_an_earlier_release_never_reach_the_next(tmp_path):
    world = release_world(tmp_path)
    ledger = world.world.ledger
    first = world.driver().start("1.5.0")
    ledger.send("dev", "chat-api", Control("abort", "late", 0, "", first.id))
    ledger.send("dev", "chat-api", Control("pause", "old queue", 0))
    second = world.driver().start("1.6.0")
    assert second.phase is Phase.SUCCEEDED
    assert second.controls_seen == ledger.control_count("dev", "chat-api")


def an_older_checkout(world) -> None:
    """Another checkout's stack file: still says blue runs 1.4.2 and is live."""
    document = yaml.safe_load(world.stack._file.read_text())
    release = document["config"]["platform:app"]["services"][0]["release"]
    release.update(live="blue", blue={"image": "1.4.2", "replicas": 1})
    release["green"] = {"replicas": 1, "scaledDown": True}
    world.stack._file.write_text(yaml.safe_dump(document, sort_keys=False))


def test_an_older_checkout_is_rewritten_from_the_ledger_before_a_release(tmp_path):
    world = release_world(tmp_path)
    assert world.driver().start("1.5.0").phase is Phase.SUCCEEDED
    an_older_checkout(world)
    record = world.driver().start("1.6.0")
    assert record.phase is Phase.SUCCEEDED
    # Released onto blue, the slot that was not serving: the ledger said green was live.
    assert (record.previous_live, record.candidate_slot) == ("green", "blue")
    assert "release of chat-api taken from the ledger" in "\n".join(world.lines)
    assert world.release()["live"] == "blue" and world.release()["blue"]["image"] == "1.6.0"


def test_a_stack_file_behind_the_deployed_stack_refuses_a_release_the_ledger_cannot_correct(
    tmp_path,
):
    world = release_world(tmp_path)
    assert world.driver().start("1.5.0").phase is Phase.SUCCEEDED
    an_older_checkout(world)
    # A ledger that knows nothing of the stack (a new location): the deployed stack decides.
    world.world.ledger = Ledger(tmp_path / "an empty ledger", clock=world.clock)
    with pytest.raises(DeployError, match="stale for chat-api: the deployed stack has live=green"):
        world.driver().start("1.6.0")


def test_a_failing_webhook_is_noted_and_never_stops_the_release(tmp_path):
    from infra.settings.delivery import Hooks
    from platformctl.hooks import HookRunner

    world = release_world(tmp_path)
    runner = HookRunner(Hooks.model_validate({"notify": ["${UNSET_WEBHOOK}"]}), environ={})
    world.world.hooks_for = lambda delivery: runner
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED
    notes = [e["note"] for e in record.events if "note" in e]
    assert notes and all("UNSET_WEBHOOK is not set" in n for n in notes)


def test_undoing_from_an_older_checkout_undoes_the_release_the_ledger_holds(tmp_path):
    world = release_world(tmp_path)
    before = world.stack._file.read_text()
    assert world.driver().start("1.5.0").phase is Phase.SUCCEEDED
    world.stack._file.write_text(before)  # the checkout from before the release
    record = world.driver().command("rollback").record
    assert record.phase is Phase.ROLLED_BACK
    assert world.release()["live"] == "blue" and world.release()["green"]["image"] == "1.5.0"
    assert live_weights(world.stack) == {BLUE: 100, GREEN: 0}


def test_resuming_or_undoing_with_a_file_the_ledger_cannot_correct_is_refused(tmp_path):
    world = release_world(tmp_path)
    before = world.stack._file.read_text()
    assert world.driver().start("1.5.0").phase is Phase.SUCCEEDED
    after = world.stack._file.read_text()
    blocks = tmp_path / "ledger" / "dev" / "release-blocks.json"
    kept = blocks.read_bytes()
    blocks.unlink()  # a ledger without the stack's blocks: only the record is left
    world.stack._file.write_text(before)
    with pytest.raises(DeployError, match=r"not the stack file release .* wrote"):
        world.driver().command("rollback")
    blocks.write_bytes(kept)
    world.stack._file.write_text(after)
    assert world.driver().command("rollback").record.phase is Phase.ROLLED_BACK


def test_a_rollback_retried_after_its_warm_up_failed_warms_the_slot_again(tmp_path):
    world = release_world(tmp_path)
    assert world.driver().start("1.5.0").phase is Phase.SUCCEEDED
    world.stack._fault = fail_at_up(1, DeployError("quota exceeded"))
    assert world.driver().command("rollback").record.phase is Phase.FAILED
    world.stack._fault = None
    record = world.driver().command("rollback", "quota raised").record
    assert record.phase is Phase.ROLLED_BACK
    ups = [e["up"] for e in record.events if "up" in e]
    assert ups[-3:] == WARM_ROLLBACK_UPS
    assert changed_types(world, "rollback") == {INGRESS}


def test_a_scale_down_that_fails_leaves_a_promoted_release_succeeded(tmp_path):
    # initial, deploy, 25%, 100%, promote, then the scale-down fails.
    world = release_world(tmp_path, fault=fail_at_up(6, DeployError("throttled")))
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED
    assert "could not be scaled down (throttled)" in record.last_reason
    assert live_weights(world.stack) == {BLUE: 0, GREEN: 100}


def test_promote_now_from_a_failure_pause_leaves_no_old_detection_behind(tmp_path):
    world = release_world(tmp_path)
    world.metrics.judge = lambda weight, metric: Verdict.FAIL
    paused = world.driver().start("1.5.0", on_failure="pause")
    assert paused.phase is Phase.PAUSED and paused.detected_at is not None
    world.clock.time += 3 * 3600
    record = world.driver().command("promote-now", "judged fine by hand").record
    assert record.phase is Phase.SUCCEEDED
    assert record.detected_at is None


def test_an_abort_during_a_rollbacks_alb_check_does_not_restart_the_rollback(tmp_path):
    world = release_world(tmp_path)
    world.metrics.judge = lambda weight, metric: Verdict.FAIL if weight else Verdict.PASS
    ledger = world.world.ledger
    verify = world.traffic.verify
    refused = []

    def slow_to_confirm_the_rollback(expectation):
        record = ledger.read("dev", "chat-api")
        if record.phase is Phase.ROLLING_BACK and not refused:
            refused.append(expectation)
            ledger.send("dev", "chat-api", Control("abort", "ops", 0, "", record.id, "c1"))
            return TrafficCheck(False, "not yet")
        return verify(expectation)

    world.traffic.verify = slow_to_confirm_the_rollback  # type: ignore[method-assign]
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ABORTED
    ups = [e["up"] for e in record.events if "up" in e]
    assert ups.count("rollback: traffic back to blue") == 1
