"""The AI review at the release driver's gates, on the real program (offline engine) and the
SDK's real client over a mock transport: it only ever adds a human approval."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from platformctl.ports import DeployError, Verdict
from platformctl.record import Phase
from platformctl.review.client import ClaudeReviewer
from tests.anthropic_fakes import (
    FAKE_API_KEY,
    RecordingHandler,
    Sleeps,
    explanation_message,
    mock_http_client,
    overloaded,
    valid_verdict,
    verdict_message,
)
from tests.release_world import FAST_DELIVERY, ReleaseWorld, release_world, strict_dev_packs

REVIEW_ON = {"enabled": True, "maxRetries": 1}


def delivery(**review: Any) -> dict[str, Any]:
    return {**FAST_DELIVERY, "review": {**REVIEW_ON, **review}}


def with_reviewer(world: ReleaseWorld, handler: RecordingHandler) -> ReleaseWorld:
    world.world.reviewer_for = lambda settings: ClaudeReviewer(
        settings, api_key=FAKE_API_KEY, http_client=mock_http_client(handler), sleep=Sleeps()
    )
    return world


def answer(risk: str, recommendation: str) -> Any:
    return verdict_message(valid_verdict(risk=risk, recommendation=recommendation))


def reviewed(tmp_path, stack: str, handler: RecordingHandler, **review: Any) -> ReleaseWorld:
    return with_reviewer(release_world(tmp_path, stack, delivery(**review)), handler)


def test_a_worrying_verdict_in_staging_waits_for_a_human_with_nothing_applied(tmp_path):
    handler = RecordingHandler(answer("high", "hold"))
    world = reviewed(tmp_path, "staging", handler)
    ups_before = len(world.ups())
    stack_file = world.stack.project_dir / "Pulumi.staging.yaml"
    before = stack_file.read_text()
    record = world.driver().start("1.6.0")
    assert record.phase is Phase.AWAITING_APPROVAL
    assert "high risk, hold" in record.last_reason
    assert "platformctl approve staging chat-api" in record.last_reason
    assert len(world.ups()) == ups_before, "nothing is applied before the approval"
    assert stack_file.read_text() == before, "the stack file is restored while waiting"
    [entry] = record.reviews
    assert entry["status"] == "given" and entry["decision"] == "approval-after-review"
    assert world.world.ledger.read("staging", "chat-api").phase is Phase.AWAITING_APPROVAL
    # What was sent: the change document with the release plan and the image change.
    sent = handler.last.user_text()
    assert '"image":"1.6.0"' in sent and '"environment":"staging"' in sent
    assert "set-weight 25%" in sent


def test_an_approval_after_the_review_lets_the_release_go_on_without_asking_again(tmp_path):
    handler = RecordingHandler(answer("critical", "abort"))
    world = reviewed(tmp_path, "staging", handler)
    waiting = world.driver().start("1.6.0")
    assert waiting.phase is Phase.AWAITING_APPROVAL
    record = world.driver().command("approve", "read the concern; the table is empty").record
    assert record.phase is Phase.SUCCEEDED
    assert handler.count == 1, "the approved document is not reviewed (or paid for) twice"
    [approval] = record.approvals
    assert approval["by"].startswith("tester") and approval["review"] == waiting.awaiting_review
    assert record.reviews[0]["documentSha256"] == approval["review"]


def test_pause_resume_and_promote_now_cannot_walk_around_a_review(tmp_path):
    world = reviewed(tmp_path, "staging", RecordingHandler(answer("high", "hold")))
    assert world.driver().start("1.6.0").phase is Phase.AWAITING_APPROVAL
    for command in ("pause", "resume", "promote-now"):
        result = world.driver().command(command)
        assert result.record.phase is Phase.AWAITING_APPROVAL, command
    assert world.driver().command("abort").record.phase is Phase.ABORTED


def test_a_reassuring_verdict_in_staging_adds_nothing(tmp_path):
    handler = RecordingHandler(answer("low", "proceed"))
    record = reviewed(tmp_path, "staging", handler).driver().start("1.6.0")
    assert record.phase is Phase.SUCCEEDED and not record.approvals
    assert handler.count == 1 and record.reviews[0]["decision"] == "none"


def test_in_dev_even_a_critical_verdict_is_advisory(tmp_path):
    handler = RecordingHandler(answer("critical", "abort"))
    record = reviewed(tmp_path, "dev", handler).driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED
    assert record.reviews[0]["verdict"]["risk"] == "critical"
    assert "advisory in dev" in record.reviews[0]["gate"]


def test_a_proceed_verdict_never_overrides_a_failed_analysis_and_is_not_even_asked(tmp_path):
    handler = RecordingHandler(answer("low", "proceed"), repeat=True)
    world = reviewed(tmp_path, "staging", handler, canaryReview=True)
    world.metrics.judge = lambda weight, metric: Verdict.FAIL if weight >= 25 else Verdict.PASS
    record = world.driver().start("1.6.0")
    assert record.phase is Phase.ROLLED_BACK
    assert [r["kind"] for r in record.reviews] == ["pre-release"], "no canary review of a fail"


def test_a_mandatory_policy_rejects_the_release_before_any_review_is_asked(tmp_path):
    packs = strict_dev_packs(tmp_path)
    handler = RecordingHandler(answer("low", "proceed"))
    world = with_reviewer(release_world(tmp_path, "dev", delivery(), policy_packs=packs), handler)
    record = world.driver().start("1.5.0")
    world.stack.close()
    assert record.phase is Phase.REJECTED
    assert handler.count == 0 and not record.reviews


def test_in_prod_an_unavailable_review_waits_for_a_human(tmp_path):
    # No reviewer given: the world has no API key, as a machine without ANTHROPIC_API_KEY.
    world = release_world(tmp_path, "prod", delivery())
    record = world.driver().start("1.4.3@sha256:" + "c" * 64)
    assert record.phase is Phase.AWAITING_APPROVAL
    assert "unavailable (no API key" in record.last_reason
    assert record.reviews[0]["decision"] == "approval-of-unreviewed"
    approved = world.driver().command("approve").record
    assert approved.phase is not Phase.AWAITING_APPROVAL
    assert approved.approvals[0]["by"].startswith("tester")


def test_in_prod_an_overloaded_api_is_no_pass_even_after_the_promotions_approval(tmp_path):
    handler = RecordingHandler.always(overloaded())
    world = reviewed(tmp_path, "prod", handler)
    promotion = ({"by": "alice", "at": 0.0, "for": "promotion to prod"},)
    image = "1.4.3@sha256:" + "c" * 64
    record = world.driver().start(image, approvals=promotion)
    assert handler.count == 2, "one attempt and the one retry the settings allow"
    assert record.reviews[0]["status"] == "unavailable"
    assert record.reviews[0]["reason"] == "overloaded (529) after 2 attempts"
    assert "never a pass" in record.reviews[0]["gate"]
    assert record.phase is Phase.AWAITING_APPROVAL
    done = world.driver().command("approve", "API down; change read by hand").record
    assert done.phase is Phase.SUCCEEDED
    assert done.approvals[-1]["review"] == record.reviews[0]["documentSha256"]


def test_in_staging_an_unavailable_review_leaves_the_decision_to_the_gates(tmp_path):
    handler = RecordingHandler.always(overloaded())
    record = reviewed(tmp_path, "staging", handler).driver().start("1.6.0")
    assert record.phase is Phase.SUCCEEDED
    assert record.reviews[0]["status"] == "unavailable"


def test_each_passing_analysis_step_gets_one_canary_review_attached_to_the_ledger(tmp_path):
    handler = RecordingHandler(answer("low", "proceed"), repeat=True)
    world = reviewed(tmp_path, "staging", handler, canaryReview=True)
    record = world.driver().start("1.6.0")
    assert record.phase is Phase.SUCCEEDED
    kinds = [r["kind"] for r in record.reviews]
    analyses = [s for s in record.steps if s.kind.value == "analyse"]
    assert kinds == ["pre-release"] + ["canary"] * len(analyses)
    assert handler.count == len(kinds)
    canary_text = handler.requests[1].user_text()
    assert "liveValue" in canary_text or "live" in canary_text
    stored = world.world.ledger.read("staging", "chat-api")
    assert [r["kind"] for r in stored.reviews] == kinds


def test_a_worrying_canary_verdict_holds_the_weight_until_approved(tmp_path):
    handler = RecordingHandler(answer("low", "proceed"), answer("high", "hold"), repeat=True)
    world = reviewed(tmp_path, "staging", handler, canaryReview=True)
    record = world.driver().start("1.6.0")
    assert record.phase is Phase.AWAITING_APPROVAL
    assert world.release()["candidateWeight"] == 25, "traffic stays where the analysis left it"
    assert "analysis passed" in record.last_reason and "high risk, hold" in record.last_reason
    # Answers from here on are reassuring: the approval moves the release on.
    handler.script = [*handler.script[:2], answer("low", "proceed")]
    done = world.driver().command("approve").record
    assert done.phase is Phase.SUCCEEDED


def test_a_failed_up_is_explained_after_the_rollback_not_before(tmp_path):
    ups: list[str] = []

    def fail_third_up(operation: str) -> None:
        if operation == "up":
            ups.append(operation)
            if len(ups) == 3:  # initial, deploy, then 25% fails
                raise DeployError(
                    "up of staging failed",
                    ("error: aws:eks/nodeGroup: InsufficientInstanceCapacity in us-east-1a",),
                )

    handler = RecordingHandler(answer("low", "proceed"), explanation_message())
    world = release_world(tmp_path, "staging", delivery(explainFailures=True), fault=fail_third_up)
    world = with_reviewer(world, handler)
    record = world.driver().start("1.6.0")
    assert record.phase is Phase.ROLLED_BACK
    failure = record.reviews[-1]
    assert failure["kind"] == "failure" and failure["status"] == "given"
    assert "InsufficientInstanceCapacity" in handler.last.user_text()
    rolled_back = next(i for i, e in enumerate(record.events) if e.get("phase") == "RolledBack")
    explained = next(i for i, e in enumerate(record.events) if e.get("review") == "failure")
    assert explained > rolled_back
    assert any(line.startswith("AI explanation (advisory):") for line in world.lines)


class _Killed(BaseException):
    """The process dying while it waits for the API (nothing below catches it)."""


class _DiesOnce:
    def __init__(self, then: ClaudeReviewer):
        self.then = then
        self.calls = 0

    def review(self, document):
        self.calls += 1
        if self.calls == 1:
            raise _Killed()
        return self.then.review(document)

    def explain(self, document):
        return self.then.explain(document)


def test_a_release_killed_during_its_review_is_resumed_and_asked_again(tmp_path):
    handler = RecordingHandler(answer("low", "proceed"))
    world = reviewed(tmp_path, "staging", handler)
    settings = world.driver().delivery.review
    dies = _DiesOnce(
        ClaudeReviewer(settings, api_key=FAKE_API_KEY, http_client=mock_http_client(handler))
    )
    world.world.reviewer_for = lambda settings: dies
    with pytest.raises(_Killed):
        world.driver().start("1.6.0")
    left = world.world.ledger.read("staging", "chat-api")
    assert left.phase is Phase.PROGRESSING and left.step_index == 0
    assert world.release()["green"]["image"] == "1.6.0", "the deploy config was written"
    record = world.driver().resume()
    assert record.phase is Phase.SUCCEEDED and handler.count == 1
    assert [r["kind"] for r in record.reviews] == ["pre-release"]


def test_the_release_json_carries_its_reviews(tmp_path, capsys):
    from platformctl import cli

    handler = RecordingHandler(answer("high", "hold"))
    record = reviewed(tmp_path, "staging", handler).driver().start("1.6.0")
    code = cli._finish(record, cli.Output(True))
    document = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_WAITING
    assert document["reviews"][0]["verdict"]["risk"] == "high"
    assert document["release"]["phase"] == "AwaitingApproval"


class _SlowReviewer:
    """A review that takes as long as the API is slow: until released."""

    def __init__(self) -> None:
        self.release = __import__("threading").Event()
        self.asked = 0

    def review(self, document):
        self.asked += 1
        self.release.wait(30)
        from platformctl.review.model import Review, ReviewStatus

        return Review(document.kind, ReviewStatus.UNAVAILABLE, reason="slow")

    def explain(self, document):
        return self.review(document)


def test_an_abort_during_a_slow_review_takes_effect_at_once_with_nothing_applied(tmp_path):
    from platformctl.ledger import Control

    slow = _SlowReviewer()
    world = release_world(tmp_path, "staging", delivery())
    world.world.reviewer_for = lambda settings: slow
    stack_file = world.stack.project_dir / "Pulumi.staging.yaml"
    before = stack_file.read_text()
    ups_before = len(world.ups())
    ledger = world.world.ledger
    timer = __import__("threading").Timer(
        0.5, lambda: ledger.send("staging", "chat-api", Control("abort", "oncall", 0.0))
    )
    timer.start()
    try:
        record = world.driver().start("1.6.0")
    finally:
        slow.release.set()
        timer.cancel()
    assert slow.asked == 1
    assert record.phase is Phase.ABORTED
    assert world.release()["green"]["image"] == "1.5.0", "the candidate was never deployed"
    assert "1.6.0" not in stack_file.read_text()
    assert yaml.safe_load(stack_file.read_text()) == yaml.safe_load(before) or all(
        "1.6.0" not in str(up) for up in world.ups()[ups_before:]
    )


def test_a_paused_release_resumed_reuses_the_verdict_it_already_has(tmp_path):
    ups: list[str] = []

    def fail_second_up(operation: str) -> None:
        if operation == "up":
            ups.append(operation)
            if len(ups) == 2:  # initial, then the deploy's up fails
                raise DeployError("up of staging failed: throttled")

    handler = RecordingHandler(answer("low", "proceed"), repeat=True)
    world = release_world(tmp_path, "staging", delivery(), fault=fail_second_up)
    world = with_reviewer(world, handler)
    paused = world.driver().start("1.6.0", on_failure="pause")
    assert paused.phase is Phase.PAUSED
    record = world.driver().resume()
    assert record.phase is Phase.SUCCEEDED
    assert handler.count == 1, "the same document is not paid for twice"
    assert [r["kind"] for r in record.reviews] == ["pre-release"]


def test_a_bad_review_model_variable_never_stops_a_rollback(tmp_path):
    from platformctl.wiring import RealWorld

    world = release_world(tmp_path, "staging", delivery())
    bad = RealWorld(tmp_path, {"PLATFORM_REVIEW_MODEL": "Not A Model!"}, lambda line: None)
    world.world.reviewer_for = bad.reviewer
    world.metrics.judge = lambda weight, metric: Verdict.FAIL
    # Starting a release with the review on is a usage error naming the variable...
    with pytest.raises(DeployError, match="PLATFORM_REVIEW_MODEL"):
        world.driver().start("1.6.0")
    assert world.world.ledger.read("staging", "chat-api") is None, "nothing was started"
    # ...but a release already running is undone whatever the reviewer's set-up says.
    world.world.reviewer_for = lambda settings: RealWorld(tmp_path, {}, print).reviewer(settings)
    paused = world.driver().start("1.6.0", on_failure="pause")
    assert paused.phase is Phase.PAUSED
    world.world.reviewer_for = bad.reviewer
    assert world.driver().command("rollback").record.phase is Phase.ROLLED_BACK


def test_status_shows_the_concerns_an_approver_is_asked_to_approve(tmp_path, capsys):
    from platformctl import cli
    from platformctl.ledger import record_summary

    world = reviewed(tmp_path, "staging", RecordingHandler(answer("high", "hold")))
    record = world.driver().start("1.6.0")
    pending = record_summary(record)["pendingReview"]
    assert pending["documentSha256"] == record.awaiting_review
    assert (
        pending["verdict"]["concerns"][0]["why"]
        == "replace of a stateful database without a snapshot"
    )
    from platformctl.cli_ledger import status

    assert status("staging", False, world.world.ledger, cli.Output(False)) == cli.EXIT_OK
    assert "concern: urn:pulumi:prod::platform::aws:rds/instance:Instance::orders" in (
        capsys.readouterr().out
    )
    aborted = world.driver().command("abort").record
    assert aborted.awaiting_review is None and record_summary(aborted)["pendingReview"] is None
