"""``platformctl`` as users and CI run it: the console script for what needs no cloud, and the
same command layer in-process over the offline stack for releases and promotions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import StackSettings
from infra.settings.delivery import DeliverySettings
from platformctl import cli
from platformctl.changes import PreviewOutcome, ResourceChange, UpOutcome
from platformctl.ledger import Control, Ledger
from platformctl.offline_stack import OfflineStack
from platformctl.wiring import RealWorld
from platformctl.world import World
from tests.conftest import REPOSITORY
from tests.release_world import (
    ADMIN_SESSION,
    FAST_DELIVERY,
    RecordingHooks,
    RecordingTraffic,
    ScriptedMetrics,
    VirtualClock,
    make_project,
)

PLATFORMCTL = str(REPOSITORY / ".venv" / "bin" / "platformctl")
DIGEST = "sha256:" + "e" * 64
INGRESS_TYPE = "kubernetes:networking.k8s.io/v1:Ingress"


def platformctl(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PLATFORMCTL, *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.mark.slow
def test_an_offline_preview_needs_no_cli_and_reports_the_policy_gate():
    done = platformctl("preview", "dev", "--offline", "--json", env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["blocked"] is False
    assert document["changes"]["create"] > 100
    [finding] = document["policyViolations"]
    assert (finding["policyName"], finding["enforcementLevel"]) == (
        "eks-public-endpoint-restricted", "advisory",
    )  # fmt: skip


@pytest.mark.slow
def test_a_mandatory_violation_fails_the_preview_naming_resource_policy_and_remediation(
    tmp_path,
):
    project = tmp_path / "project"
    make_project(project, "prod", {})
    stack_file = project / "Pulumi.prod.yaml"
    document = yaml.safe_load(stack_file.read_text())
    # Valid settings that the security pack refuses in prod: no known-bad-inputs rules.
    document["config"]["platform:firewall"]["managedRuleGroups"] = ["AWSManagedRulesCommonRuleSet"]
    stack_file.write_text(yaml.safe_dump(document))
    done = platformctl("preview", "prod", "--offline", "--project-dir", str(project))
    assert done.returncode == 1
    blocked = done.stdout[done.stdout.index("blocked: ") :]
    assert "mandatory policy platform-security/waf-managed-rule-groups on " in blocked
    assert "urn:pulumi:prod::platform::platform:components:Firewall$" in blocked
    assert "Remediation: Add managedRuleGroupStatement" in blocked


def test_without_the_pulumi_cli_a_preview_says_how_to_get_it_and_offers_offline():
    done = platformctl("preview", "dev", env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert "https://www.pulumi.com/docs/install/" in done.stderr
    assert "--offline" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["release", "dev", "chat-api"], "--image"),
        (["release", "dev", "chat-api", "--image", "1.5.0", "--strategy", "linear"],
         "choose from 'canary', 'blue-green'"),
        (["promote", "chat-api", "--from", "staging"], "--to"),
        (["abort", "dev"], "service"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_2_and_say_what_is_allowed(args, message):
    done = platformctl(*args)
    assert done.returncode == 2
    assert message in done.stderr


# --- the command layer over the offline stack ------------------------------------------------


class OfflineWorld(RealWorld):
    """``platformctl``'s world with the offline stack for the CLI, and scripted metrics, ALB
    and hooks: what the commands decide is real, what they touch is local."""

    def __init__(self, project_dir: Path, ledger: Path, environ: Mapping[str, str]):
        super().__init__(project_dir, environ, self.lines.append)
        self.clock = VirtualClock()
        self.ledger_dir = ledger
        self.stacks: dict[str, OfflineStack] = {}
        self.hooks_seen = RecordingHooks()

    lines: list[str] = []

    def caller_arn(self, region: str) -> str:
        return ADMIN_SESSION

    def stack(self, name: str) -> OfflineStack:
        if name not in self.stacks:
            self.stacks[name] = OfflineStack(self.project_dir, name)
            self.stacks[name].up(lambda line: None, "initial deployment")
        return self.stacks[name]

    def ledger(self) -> Ledger:
        return Ledger(self.ledger_dir)

    def world(self, name: str, actor: str) -> World:
        stack = self.stack(name)
        metrics = ScriptedMetrics(stack, "chat-api")
        return World(
            project="platform", stack=stack, metrics_for=lambda s: metrics,
            traffic=RecordingTraffic(), hooks_for=lambda d: self.hooks_seen,
            ledger=self.ledger(), clock=self.clock, progress=self.progress, actor=actor,
        )  # fmt: skip

    def metrics(self, settings: StackSettings) -> Any:
        raise AssertionError("worlds carry their own metrics")

    def hooks(self, delivery: DeliverySettings) -> Any:
        return self.hooks_seen


def command(world: OfflineWorld, capsys, *args: str) -> tuple[int, dict]:
    parsed = cli.parse_args([*args, "--json"])
    code = cli.execute(parsed, cli.Output(True), world)
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def stacks(tmp_path) -> OfflineWorld:
    project = tmp_path / "project"
    for stack in ("staging", "prod"):
        promotion = {"sourceSoakMinutes": 1440, "requireApproval": True} if stack == "prod" else {}
        make_project(project, stack, {**FAST_DELIVERY, "promotion": promotion})
    return OfflineWorld(project, tmp_path / "ledger", {"PLATFORM_ACTOR": "dana"})


def test_release_status_and_a_no_op_abort_through_the_command_layer(stacks, capsys):
    code, released = command(stacks, capsys, "release", "staging", "chat-api", "--image",
                             f"1.6.0@{DIGEST}")  # fmt: skip
    assert code == cli.EXIT_OK
    assert released["release"]["phase"] == "Succeeded"
    assert released["events"][-1]["reason"].endswith("release complete")
    code, status = command(stacks, capsys, "status", "staging")
    assert code == 0
    [summary] = status["releases"]
    assert (summary["service"], summary["phase"], summary["drivenBy"]) == (
        "chat-api", "Succeeded", None,
    )  # fmt: skip
    code, aborted = command(stacks, capsys, "abort", "staging", "chat-api")
    assert code == cli.EXIT_OK and aborted["release"]["phase"] == "Succeeded"


def test_a_paused_release_exits_3_and_abort_rolls_it_back_with_exit_0(stacks, capsys):
    ledger = stacks.ledger()
    soon = stacks.clock.time - stacks.clock.start + 10
    stacks.clock.at(soon, lambda: ledger.send("staging", "chat-api", Control("pause", "x", 0)))
    code, paused = command(stacks, capsys, "release", "staging", "chat-api", "--image", "1.6.0")
    assert code == cli.EXIT_WAITING and paused["release"]["phase"] == "Paused"
    code, aborted = command(stacks, capsys, "abort", "staging", "chat-api", "--reason", "bad")
    assert code == cli.EXIT_OK and aborted["release"]["phase"] == "Aborted"
    assert any("abort by dana (bad)" in e.get("reason", "") for e in aborted["events"])
    assert (
        stacks.stack("staging").read_config()["platform:app"]["services"][0]["release"][
            "candidateWeight"
        ]
        == 0
    )


def test_promotion_carries_the_exact_digest_after_the_soak_and_with_an_approval(stacks, capsys):
    image = f"1.6.0@{DIGEST}"
    code, _ = command(stacks, capsys, "release", "staging", "chat-api", "--image", image)
    assert code == cli.EXIT_OK
    code, early = command(stacks, capsys, "promote", "chat-api", "--from", "staging", "--to",
                          "prod", "--approve")  # fmt: skip
    assert code == cli.EXIT_ERROR and "needs 1440 min" in early["error"]
    stacks.clock.time += 1441 * 60
    code, unapproved = command(stacks, capsys, "promote", "chat-api", "--from", "staging",
                               "--to", "prod")  # fmt: skip
    assert code == cli.EXIT_ERROR
    assert "--approve" in unapproved["error"] and "PLATFORM_APPROVED_BY" in unapproved["error"]
    code, promoted = command(stacks, capsys, "promote", "chat-api", "--from", "staging", "--to",
                             "prod", "--approve")  # fmt: skip
    assert code == cli.EXIT_OK, promoted
    assert promoted["release"]["image"] == image
    prod = stacks.ledger().read("prod", "chat-api")
    assert prod is not None and [a["by"] for a in prod.approvals] == ["dana"]


def test_promotion_refuses_an_image_without_a_digest(stacks, capsys):
    code, _ = command(stacks, capsys, "release", "staging", "chat-api", "--image", "1.6.0")
    assert code == cli.EXIT_OK
    stacks.clock.time += 1441 * 60
    code, refused = command(stacks, capsys, "promote", "chat-api", "--from", "staging", "--to",
                            "prod", "--approve")  # fmt: skip
    assert code == cli.EXIT_ERROR and "without a digest" in refused["error"]


class ReplacingStack:
    """A stack whose preview replaces the database: what `up` must refuse unless named."""

    name = "prod"
    database = "urn:pulumi:prod::platform::platform:components:Database$aws:rds/cluster:Cluster::db"

    def __init__(self, project: Path):
        self.offline = OfflineStack(project, "prod")
        self.ups: list[str] = []

    def read_config(self) -> dict[str, Any]:
        return self.offline.read_config()

    def preview(self, progress) -> PreviewOutcome:
        return PreviewOutcome((ResourceChange(self.database, "aws:rds/cluster:Cluster",
                                              "replace", protected=True),))  # fmt: skip

    def up(self, progress, message) -> UpOutcome:
        self.ups.append(message)
        return UpOutcome(self.preview(progress).changes, {})


def test_up_refuses_to_replace_a_protected_database_unless_its_urn_is_named(tmp_path, capsys):
    project = make_project(tmp_path / "project", "prod", {})
    replacing = ReplacingStack(project)
    world = OfflineWorld(project, tmp_path / "ledger", {})
    world.stack = lambda name: replacing  # type: ignore[method-assign,assignment,return-value]
    code, refused = command(world, capsys, "up", "prod")
    assert code == cli.EXIT_REFUSED and replacing.ups == []
    assert f"--allow-replace {replacing.database}" in refused["problems"][0]
    code, applied = command(world, capsys, "up", "prod", "--allow-replace", replacing.database)
    assert code == cli.EXIT_OK and replacing.ups == ["platformctl up"]
    assert applied["applied"]["changes"] == {"replace": 1}


def test_the_offline_preview_of_every_shipped_stack_passes_the_gate(capsys):
    world = RealWorld(REPOSITORY, {}, lambda line: None)
    for stack in ("staging", "prod"):
        code, document = command(world, capsys, "preview", stack, "--offline")
        assert code == cli.EXIT_OK, document["problems"]
        assert not [v for v in document["policyViolations"]
                    if v["enforcementLevel"] == "mandatory"]  # fmt: skip


def test_a_promotion_moves_one_environment_at_a_time(stacks, capsys, tmp_path):
    make_project(stacks.project_dir, "dev", FAST_DELIVERY)
    code, refused = command(stacks, capsys, "promote", "chat-api", "--from", "dev", "--to",
                            "prod", "--approve")  # fmt: skip
    assert code == cli.EXIT_ERROR
    assert "allowed: one step along dev -> staging -> prod" in refused["error"]
    code, backwards = command(stacks, capsys, "promote", "chat-api", "--from", "prod", "--to",
                              "staging")  # fmt: skip
    assert code == cli.EXIT_ERROR and "one step along" in backwards["error"]


def test_promoting_a_service_the_source_lacks_names_the_services_it_has(stacks, capsys):
    code, refused = command(stacks, capsys, "promote", "chat-mail", "--from", "staging", "--to",
                            "prod", "--approve")  # fmt: skip
    assert code == cli.EXIT_ERROR
    assert "'chat-mail' is not in platform:app.services" in refused["error"]
    assert "allowed: chat-api, chat-web" in refused["error"]


DRIVEN_RELEASE = """
import sys
from pathlib import Path
from platformctl.world import SystemClock
from tests.release_world import FAST_ANALYSIS, FAST_DELIVERY, release_world

world = release_world(Path(sys.argv[1]), delivery={**FAST_DELIVERY, "stepBakeSeconds": 600,
                      "analysis": FAST_ANALYSIS})
world.world.clock = SystemClock()
world.world.poll_seconds = 0.05
record = world.driver().start("1.5.0")
print(record.phase.value, flush=True)
"""


@pytest.mark.slow
def test_abort_from_another_machine_without_the_cli_stops_a_running_release_at_once(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVEN_RELEASE, str(tmp_path)], env=env,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    ledger = Ledger(tmp_path / "ledger")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        record = ledger.read("dev", "chat-api")
        if (
            record is not None
            and record.step is not None
            and record.step.label().startswith("analyse")
        ):
            break
        time.sleep(0.2)
    else:
        driver.kill()
        pytest.fail("the release never reached its first bake")
    sent = time.monotonic()
    done = platformctl(
        "abort", "dev", "chat-api", "--reason", "bad deploy", "--project-dir",
        str(tmp_path / "project"), "--json",
        env={"PATH": "/usr/bin:/bin", "PLATFORM_LEDGER_URL": f"file://{tmp_path}/ledger",
             "PLATFORM_ACTOR": "erin"},
    )  # fmt: skip
    assert done.returncode == cli.EXIT_OK, done.stderr
    assert json.loads(done.stdout)["queued"] is True
    out, _ = driver.communicate(timeout=120)
    assert out.strip().splitlines()[-1] == "Aborted"
    assert time.monotonic() - sent < 60, "the 600 s bake did not have to finish"
    final = ledger.read("dev", "chat-api")
    assert final is not None
    assert any(e.get("reason") == "abort by erin (bad deploy)" for e in final.events)


def test_the_gate_guards_exactly_the_types_the_policy_requires_protected():
    from platformctl.gates import unapproved_destruction

    # The VPC is on the policy's list (and was not on the gate's own, before they shared it).
    vpc = ResourceChange("urn:pulumi:prod::platform::aws:ec2/vpc:Vpc::network", "aws:ec2/vpc:Vpc",
                         "replace")  # fmt: skip
    ingress = ResourceChange("urn:…::chat-api-ingress", INGRESS_TYPE, "replace")
    assert unapproved_destruction(PreviewOutcome((vpc, ingress)), ()) == [vpc]
    assert unapproved_destruction(PreviewOutcome((vpc,)), (vpc.urn,)) == []
