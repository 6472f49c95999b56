"""``platformctl bootstrap``: a stack whose API answers only inside its VPC is created in two
ups, through the command layer over the offline stack (the real program and policy packs):
first everything the AWS APIs alone make, the CI runner included, then, from the runner, the
Kubernetes resources, without touching what the first made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline_preview.policy_run import PolicyPackSource
from platformctl import cli
from platformctl.automation import repository_policy_packs
from platformctl.ledger import Ledger
from platformctl.offline_stack import OfflineStack
from platformctl.ports import StackPort
from platformctl.wiring import RealWorld
from tests.conftest import REPOSITORY
from tests.release_world import ADMIN_SESSION

pytestmark = pytest.mark.slow


class BootstrapWorld(RealWorld):
    """One offline stack that keeps what each up deployed, with the repository's packs."""

    def __init__(self, project: Path, ledger: Path, stack: str):
        super().__init__(project, {"PLATFORM_ACTOR": "dana"}, lambda line: None)
        self.caller = ADMIN_SESSION
        packs, config = repository_policy_packs(stack)
        self.offline = OfflineStack(
            project, stack, policy_packs=[PolicyPackSource(p, config) for p in packs]
        )
        self.ledger_dir = ledger

    def stack(self, name: str, config_overrides: Any = None) -> StackPort:
        self.offline.config_overrides = dict(config_overrides or {})
        return self.offline

    def ledger(self) -> Ledger:
        return Ledger(self.ledger_dir)

    def caller_arn(self, region: str) -> str:
        return self.caller


def command(world: BootstrapWorld, capsys, *args: str) -> tuple[int, dict, str]:
    code = cli.execute(cli.parse_args([*args, "--json"]), cli.Output(True), world)
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


@pytest.fixture
def staging(tmp_path) -> BootstrapWorld:
    project = tmp_path / "project"
    project.mkdir()
    document = yaml.safe_load((REPOSITORY / "Pulumi.yaml").read_text())
    document["main"] = str(REPOSITORY / "infra")
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(document))
    shutil.copy(REPOSITORY / "Pulumi.staging.yaml", project / "Pulumi.staging.yaml")
    return BootstrapWorld(project, tmp_path / "ledger", "staging")


def kinds(world: BootstrapWorld) -> set[str]:
    assert world.offline.deployed is not None
    return {r.type for r in world.offline.deployed.resources}


def test_bootstrap_then_up_from_the_runner_creates_the_stack_in_two_phases(staging, capsys):
    stack_file = staging.project_dir / "Pulumi.staging.yaml"
    before = stack_file.read_bytes()

    code, document, err = command(staging, capsys, "bootstrap", "staging")
    assert code == cli.EXIT_OK, document
    assert not [k for k in kinds(staging) if k.startswith("kubernetes")]
    assert "aws:codebuild/project:Project" in kinds(staging)
    assert staging.offline.outputs()["deployPhase"] == "foundation"
    assert document["blocked"] is False and document["applied"]["changes"]["create"] > 100
    assert "Next, to apply the Kubernetes resources: gh workflow run up.yml -f stack=staging" in err
    assert "codebuild-platform-staging-runner" in err
    # The phase was the bootstrap's alone: the stack file is as it was.
    assert stack_file.read_bytes() == before

    code, document, _ = command(staging, capsys, "up", "staging")
    assert code == cli.EXIT_OK, document
    # Only creations: nothing the bootstrap made is updated, replaced or deleted.
    assert set(document["applied"]["changes"]) == {"create"}
    assert set(document["changes"]) <= {"create", "same"}
    assert {"kubernetes:helm.sh/v3:Release", "kubernetes:apps/v1:Deployment"} <= kinds(staging)
    assert staging.offline.outputs()["deployPhase"] == "complete"

    code, document, err = command(staging, capsys, "bootstrap", "staging")
    assert code == cli.EXIT_ERROR
    assert "stack staging is already complete" in document["error"]
    assert "allowed: platformctl up staging" in err


def test_up_refuses_a_stack_file_that_sets_the_bootstrap_phase(staging, capsys):
    stack_file = staging.project_dir / "Pulumi.staging.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"]["platform:deployPhase"] = "foundation"
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    code, result, _ = command(staging, capsys, "up", "staging")
    assert code == cli.EXIT_ERROR
    assert result["error"].startswith(
        "Pulumi.staging.yaml sets platform:deployPhase: foundation, which platformctl "
        "bootstrap alone sets"
    )
    assert staging.offline.deployed is None  # refused before any engine ran


def test_up_by_a_role_the_cluster_does_not_admit_is_refused_before_anything_is_applied(
    staging, capsys
):
    staging.caller = "arn:aws:sts::123456789012:assumed-role/someone-else/laptop"
    code, result, _ = command(staging, capsys, "up", "staging")
    assert code == cli.EXIT_ERROR
    assert result["error"].startswith(
        "you run this as role someone-else of account 123456789012, which stack staging's "
        "cluster does not admit"
    )
    assert "arn:aws:iam::123456789012:role/platform-deploy" in result["error"]
    assert staging.offline.deployed is None
    # A role is known by its account and name (a session ARN carries no path).
    staging.caller = "arn:aws:sts::123456789012:assumed-role/platform-deploy/ci"
    code, result, _ = command(staging, capsys, "up", "staging")
    assert code == cli.EXIT_OK, result


def test_a_bootstrap_never_removes_what_a_complete_up_made(staging, capsys):
    assert command(staging, capsys, "bootstrap", "staging")[0] == cli.EXIT_OK
    assert command(staging, capsys, "up", "staging")[0] == cli.EXIT_OK
    # Even when the outputs do not say complete (an up that failed after creating some
    # Kubernetes resources leaves the foundation's outputs): the preview's deletions refuse it.
    staging.offline.deployed.stack_resource.outputs["deployPhase"] = "foundation"
    code, result, _ = command(staging, capsys, "bootstrap", "staging")
    assert code == cli.EXIT_REFUSED
    assert any(p.startswith("delete urn:") and "a bootstrap never removes anything" in p
               for p in result["problems"])  # fmt: skip
    assert "kubernetes:helm.sh/v3:Release" in {r.type for r in staging.offline.deployed.resources}
