"""``platformctl preview --review`` and ``up`` with the AI review: the approval is given on
the command line, bound to the reviewed change; a failed ``up`` is explained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.settings.review import ReviewSettings
from platformctl import cli
from platformctl.changes import PreviewOutcome, PropertyChange, ResourceChange, UpOutcome
from platformctl.offline_stack import OfflineStack
from platformctl.ports import DeployError
from platformctl.review.client import ClaudeReviewer
from platformctl.review.model import Reviewer
from platformctl.wiring import RealWorld
from tests.anthropic_fakes import (
    FAKE_API_KEY,
    RecordingHandler,
    Sleeps,
    explanation_message,
    mock_http_client,
    valid_verdict,
    verdict_message,
)
from tests.conftest import REPOSITORY
from tests.release_world import ADMIN_SESSION, make_project

CLUSTER = (
    "urn:pulumi:staging::platform::platform:components:Cache"
    "$aws:elasticache/replicationGroup:ReplicationGroup::cache"
)
PASSWORD = "correct-horse-battery-staple-42"


class ChangingStack:
    """A stack whose preview updates the cache (a secret auth token among its inputs)."""

    def __init__(self, project: Path, name: str, fail_up: bool = False):
        self.name = name
        self.offline = OfflineStack(project, name)
        self.fail_up = fail_up
        self.ups: list[str] = []

    def read_config(self) -> dict[str, Any]:
        return self.offline.read_config()

    def preview(self, progress) -> PreviewOutcome:
        secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                  "value": PASSWORD}  # fmt: skip
        change = ResourceChange(
            CLUSTER, "aws:elasticache/replicationGroup:ReplicationGroup", "update",
            changed_inputs=("nodeType", "authToken"),
            properties=(
                PropertyChange("nodeType", "cache.r7g.large", "cache.t4g.small"),
                PropertyChange("authToken", secret, secret),
            ),
        )  # fmt: skip
        return PreviewOutcome((change,))

    def up(self, progress, message) -> UpOutcome:
        if self.fail_up:
            # As the Automation adapter builds it: the engine's lines in message and details.
            lines = [f"error: modifying cache: InvalidParameterCombination (token {PASSWORD})"]
            raise DeployError(f"pulumi could not update stack {self.name}: {lines[0]}", lines)
        self.ups.append(message)
        return UpOutcome(self.preview(progress).changes, {})


class ReviewedWorld(RealWorld):
    def __init__(self, project: Path, stack: ChangingStack, handler: RecordingHandler | None):
        super().__init__(project, {"PLATFORM_ACTOR": "dana"}, lambda line: None)
        self.changing = stack
        self.handler = handler

    def caller_arn(self, region: str) -> str:
        return ADMIN_SESSION

    def stack(self, name: str) -> Any:
        return self.changing

    def reviewer(self, review: ReviewSettings) -> Reviewer:
        if self.handler is None:
            return super().reviewer(review)
        return ClaudeReviewer(
            review, api_key=FAKE_API_KEY, http_client=mock_http_client(self.handler),
            sleep=Sleeps(),
        )  # fmt: skip


def world_for(
    tmp_path, stack: str, handler: RecordingHandler | None, fail_up: bool = False, **review: Any
) -> ReviewedWorld:
    project = make_project(tmp_path / "project", stack, {"review": {"enabled": True, **review}})
    return ReviewedWorld(project, ChangingStack(project, stack, fail_up), handler)


def run(world: RealWorld, capsys, *args: str) -> tuple[int, dict, str]:
    code = cli.execute(cli.parse_args([*args, "--json"]), cli.Output(True), world)
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_up_waits_on_a_concern_and_goes_on_only_with_the_reviewed_digest(tmp_path, capsys):
    handler = RecordingHandler(verdict_message(valid_verdict(risk="high")), repeat=True)
    world = world_for(tmp_path, "staging", handler)
    code, waiting, err = run(world, capsys, "up", "staging")
    assert code == cli.EXIT_WAITING and world.changing.ups == []
    assert waiting["review"]["decision"] == "approval-after-review"
    digest = waiting["review"]["documentSha256"][:16]
    assert f"--approve-review {digest}" in err
    code, wrong, _ = run(world, capsys, "up", "staging", "--approve-review", "0" * 16)
    assert code == cli.EXIT_ERROR and f"this change's document is {digest}" in wrong["error"]
    assert world.changing.ups == []
    code, _, _ = run(world, capsys, "up", "staging", "--approve-review", digest)
    assert code == cli.EXIT_OK
    assert world.changing.ups == [f"platformctl up (AI review {digest} approved by dana)"]


def test_up_in_prod_without_a_review_waits_and_goes_on_with_the_shown_digest(tmp_path, capsys):
    world = world_for(tmp_path, "prod", None)  # no ANTHROPIC_API_KEY in its environment
    code, waiting, err = run(world, capsys, "up", "prod")
    assert code == cli.EXIT_WAITING and world.changing.ups == []
    assert waiting["review"]["status"] == "unavailable"
    digest = waiting["review"]["documentSha256"][:16]
    assert f"--approve-review {digest}" in err
    code, _, _ = run(world, capsys, "up", "prod", "--approve-review", digest)
    assert code == cli.EXIT_OK
    assert world.changing.ups == [f"platformctl up (AI review {digest} approved by dana)"]


def test_a_digest_printed_by_a_preview_cannot_approve_a_verdict_nobody_saw(tmp_path, capsys):
    quiet = world_for(tmp_path, "staging", None)
    code, previewed, _ = run(quiet, capsys, "preview", "staging", "--review")
    assert code == cli.EXIT_OK and previewed["review"]["status"] == "unavailable"
    digest = previewed["review"]["documentSha256"][:16]
    worried = ReviewedWorld(
        quiet.project_dir, quiet.changing,
        RecordingHandler(verdict_message(valid_verdict(risk="critical", recommendation="abort"))),
    )  # fmt: skip
    code, refused, _ = run(worried, capsys, "up", "staging", "--approve-review", digest)
    assert code == cli.EXIT_ERROR and "no review of this change was shown" in refused["error"]
    assert quiet.changing.ups == []


def test_a_malformed_digest_is_a_usage_error():
    with pytest.raises(SystemExit) as exited:
        cli.parse_args(["up", "staging", "--approve-review", "zz"])
    assert exited.value.code == 2


def test_up_in_staging_goes_on_when_the_review_is_unavailable(tmp_path, capsys):
    world = world_for(tmp_path, "staging", None)
    code, document, _ = run(world, capsys, "up", "staging")
    assert code == cli.EXIT_OK and document["review"]["status"] == "unavailable"


def test_a_failed_up_is_explained_and_no_secret_reaches_the_api_or_the_output(tmp_path, capsys):
    handler = RecordingHandler(
        verdict_message(valid_verdict(risk="low", recommendation="proceed")),
        explanation_message(),
    )
    world = world_for(tmp_path, "staging", handler, fail_up=True, explainFailures=True)
    code, document, err = run(world, capsys, "up", "staging")
    assert code == cli.EXIT_ERROR
    assert document["explanation"]["status"] == "given"
    assert "AI explanation (advisory):" in err
    assert handler.count == 2
    assert "InvalidParameterCombination" in handler.last.user_text()
    for request in handler.requests:
        assert PASSWORD.encode() not in request.raw
    assert "cache.t4g.small" in handler.requests[0].user_text()
    assert PASSWORD not in json.dumps(document) and PASSWORD not in err


def test_preview_review_is_advisory_and_off_where_the_stack_turns_it_off(capsys):
    world = RealWorld(REPOSITORY, {}, lambda line: None)
    code, staging, err = run(world, capsys, "preview", "staging", "--offline", "--review")
    assert code == cli.EXIT_OK
    assert staging["review"]["status"] == "unavailable"
    assert staging["review"]["reason"] == "no API key: ANTHROPIC_API_KEY is not set"
    assert "the deterministic gates decide" in staging["review"]["gate"]
    code, dev, err = run(world, capsys, "preview", "dev", "--offline", "--review")
    assert code == cli.EXIT_OK and "review" not in dev
    assert "AI review: turned off" in err


def test_a_bad_review_model_variable_is_a_usage_error_naming_it(capsys):
    world = RealWorld(REPOSITORY, {"PLATFORM_REVIEW_MODEL": "Opus please!"}, lambda line: None)
    code, document, err = run(world, capsys, "preview", "staging", "--offline", "--review")
    assert code == cli.EXIT_ERROR
    assert "PLATFORM_REVIEW_MODEL" in document["error"] and "Opus please!" in document["error"]
    assert "Traceback" not in err
