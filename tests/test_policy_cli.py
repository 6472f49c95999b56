"""The offline preview's policy gate, run as CI runs it: a separate process per preview."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from platform_common.pulumi_values import reveal
from tests.conftest import REPOSITORY, preview
from tests.test_preview_cli import run_cli, write_project

pytestmark = pytest.mark.slow

INSECURE_PROGRAM = """
    import pulumi
    import pulumi_aws as aws
    import pulumi_kubernetes as k8s

    group = aws.ec2.SecurityGroup("admin", description="admin access", tags={"team": "ops"})
    aws.vpc.SecurityGroupIngressRule(
        "ssh-from-anywhere", security_group_id=group.id, ip_protocol="tcp",
        from_port=22, to_port=22, cidr_ipv4="0.0.0.0/0",
    )
    k8s.apps.v1.Deployment(
        "debug",
        metadata={"namespace": "tools"},
        spec={
            "selector": {"match_labels": {"app": "debug"}},
            "template": {
                "metadata": {"labels": {"app": "debug"}},
                "spec": {"containers": [{
                    "name": "shell", "image": "busybox:latest",
                    "security_context": {"privileged": True},
                }]},
            },
        },
    )
"""


def insecure_project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path / "insecure", INSECURE_PROGRAM, "config:\n  aws:region: us-east-1\n"
    )


def test_shipped_stacks_pass_the_gate_and_say_so():
    result = run_cli("prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Policies: platform-security@v0.1.0, platform-quality@v0.1.0" in result.stdout
    assert "no violations" in result.stdout


def test_advisory_findings_are_listed_but_do_not_block():
    result = run_cli("dev")
    assert result.returncode == 0, result.stdout + result.stderr
    section = result.stdout.split("Advisory violations (1):", 1)[1]
    assert "eks-public-endpoint-restricted [platform-security, critical]" in section
    assert "::cluster-eks" in section and "remediation: " in section
    assert "Mandatory violations" not in result.stdout


def test_packs_judge_any_project_and_a_mandatory_violation_exits_1(tmp_path):
    result = run_cli("dev", "--project-dir", str(insecure_project(tmp_path)))
    assert result.returncode == 1, result.stderr
    blocking = result.stdout.split("Mandatory violations (block the preview)", 1)[1]
    for policy in ("ec2-no-admin-ports-open", "k8s-no-privileged", "k8s-image-pinned"):
        assert f"- {policy} [platform-security," in blocking
    assert (
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::ssh-from-anywhere" in blocking
    )
    assert "remediation: Remove the 0.0.0.0/0 or ::/0 ingress" in blocking
    assert "error: " in result.stdout and "block this preview" in result.stdout
    assert "Traceback" not in result.stderr


def test_json_lists_each_violation_in_diagnostics(tmp_path):
    result = run_cli("dev", "--project-dir", str(insecure_project(tmp_path)), "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    violations = [d for d in document["diagnostics"] if d.get("source") == "policy"]
    privileged = next(d for d in violations if d["policyName"] == "k8s-no-privileged")
    assert privileged["policyPack"] == "platform-security"
    assert privileged["enforcementLevel"] == "mandatory"
    assert privileged["urn"].endswith("kubernetes:apps/v1:Deployment::debug")
    assert "container 'shell': privileged is true" in privileged["message"]
    assert {"policyPackVersion", "severity", "remediation"} <= set(privileged)
    counts = document["summary"]["policyViolations"]
    assert counts["mandatory"] == sum(d["enforcementLevel"] == "mandatory" for d in violations)
    assert [p["name"] for p in document["policyPacks"]] == ["platform-security", "platform-quality"]


def test_the_stack_policy_config_is_applied_by_default():
    document = json.loads(run_cli("staging", "--json").stdout)
    packs = {p["name"]: p for p in document["policyPacks"]}
    assert packs["platform-security"]["config"].endswith("policies/config/staging.json")
    # staging's config disables prod-only rules, so nothing is reported for them.
    names = {d.get("policyName") for d in document["diagnostics"]}
    assert "rds-deletion-protection" not in names


# -- a pack written by someone else, through --policy-pack ------------------------------

LEAKY_PACK = """
    from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

    def quote_the_token(args, report_violation):
        if args.resource_type == "aws:elasticache/user:User" and (
            args.props.get("userName") == "breakglass"
        ):
            report_violation("the token is " + args.props["authenticationMode"]["passwords"][0])

    PolicyPack(
        name="leaky",
        enforcement_level=EnforcementLevel.ADVISORY,
        policies=[ResourceValidationPolicy(
            name="quote-the-token", description="Quotes a secret.", validate=quote_the_token)],
    )
"""


def write_pack(directory: Path, program: str, virtualenv: str | None = None) -> Path:
    directory.mkdir(parents=True)
    venv = virtualenv or str(Path(sys.executable).parent.parent)
    (directory / "PulumiPolicy.yaml").write_text(
        f"runtime:\n  name: python\n  options:\n    virtualenv: {venv}\nversion: 1.2.3\n"
    )
    (directory / "__main__.py").write_text(textwrap.dedent(program))
    return directory


def test_any_pack_can_be_given_and_a_secret_it_quotes_prints_as_secret(tmp_path):
    pack = write_pack(tmp_path / "leaky", LEAKY_PACK)
    [user] = [
        u
        for u in preview("dev").of_type("aws:elasticache/user:User")
        if u.inputs["userName"] == "breakglass"
    ]
    [token] = reveal(user.inputs["authenticationMode"])["passwords"]
    human = run_cli("dev", "--policy-pack", str(pack))
    as_json = run_cli("dev", "--policy-pack", str(pack), "--json")
    assert human.returncode == as_json.returncode == 0, human.stderr
    assert "Policies: leaky@v1.2.3 (1 policies)" in human.stdout
    assert "the token is [secret]" in human.stdout
    for output in (human.stdout, human.stderr, as_json.stdout, as_json.stderr):
        assert token not in output
    [quoted] = [d for d in json.loads(as_json.stdout)["diagnostics"] if d.get("policyName")]
    assert quoted["message"].endswith("the token is [secret]")


def test_a_pack_that_crashes_at_start_exits_2_with_what_it_printed(tmp_path):
    pack = write_pack(tmp_path / "broken", "raise RuntimeError('no policies here')\n")
    result = run_cli("dev", "--policy-pack", str(pack))
    assert result.returncode == 2
    assert f"policy pack {pack}" in result.stderr
    assert "RuntimeError: no policies here" in result.stderr


def test_a_pack_without_a_virtualenv_exits_2_naming_the_option(tmp_path):
    pack = tmp_path / "no-venv"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    result = run_cli("dev", "--policy-pack", str(pack))
    assert result.returncode == 2
    assert "runtime.options.virtualenv is not set" in result.stderr
    assert "pulumi/pulumi#19568" in result.stderr


def test_a_directory_that_is_not_a_pack_exits_2(tmp_path):
    result = run_cli("dev", "--policy-pack", str(tmp_path))
    assert result.returncode == 2
    assert "no PulumiPolicy.yaml; allowed: a policy pack directory" in result.stderr


# -- malformed policy config ------------------------------------------------------------


def run_with_config(tmp_path: Path, document: object, *extra: str):
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return run_cli(
        "dev",
        "--policy-pack",
        str(REPOSITORY / "policies" / "security"),
        "--policy-pack-config",
        str(config),
        *extra,
    )


@pytest.mark.parametrize(
    "document,message",
    [
        pytest.param(
            {"logs-retention": {"minimumDays": "seven"}},
            "logs-retention.minimumDays: 'seven' is not of type 'integer'",
            id="wrong type, refused as the CLI does",
        ),
        pytest.param(
            {"rds-backup-retention": {"minimumDays": 90}},
            "rds-backup-retention.minimumDays: 90 is greater than the maximum of 35",
            id="out of range",
        ),
        pytest.param(
            {"rds-deletion-protection": "strict"},
            'rds-deletion-protection = "strict": not an enforcement level; allowed: advisory, '
            "mandatory, remediate, disabled",
            id="unknown enforcement level",
        ),
        pytest.param(
            {"logs-retention": {"minimumDayz": 30}},
            "logs-retention.minimumDayz: no such parameter; allowed: minimumDays",
            id="misspelled parameter, refused by the pack",
        ),
        pytest.param(
            {"rds-storage-encrypted": "mandatory"},
            "\"rds-storage-encrypted\": no such policy (did you mean 'rds-storage-encrypted-cmk'?)",
            id="misspelled policy, refused by the pack",
        ),
        pytest.param(
            {"eks-public-endpoint-restricted": {"allowedPublicCidrs": ["10.0.0.1/8"]}},
            'eks-public-endpoint-restricted.allowedPublicCidrs = ["10.0.0.1/8"]: "10.0.0.1/8" '
            "is not a cidr",
            id="not a CIDR, refused by the pack",
        ),
        pytest.param("{not json", "not valid JSON", id="not JSON"),
    ],
)
def test_a_malformed_policy_config_exits_2_with_a_clear_message(tmp_path, document, message):
    result = run_with_config(tmp_path, document, "--json")
    assert result.returncode == 2, result.stdout
    assert message in result.stderr  # the human message, on stderr
    assert message in json.loads(result.stdout)["error"]
    assert "Traceback" not in result.stderr


def test_a_config_for_each_pack_must_pair_with_a_pack(tmp_path):
    config = tmp_path / "c.json"
    config.write_text("{}")
    result = run_cli("dev", "--policy-pack-config", str(config))
    assert result.returncode == 2
    assert "--policy-pack-config given 1 time(s) for 0 --policy-pack" in result.stderr


CHATTY_PACK = """
    from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

    def chatter(args, report_violation):
        print("x" * 4096)  # far more than a pipe holds, over the whole stack

    PolicyPack(
        name="chatty",
        enforcement_level=EnforcementLevel.ADVISORY,
        policies=[
            ResourceValidationPolicy(name="chatter", description="Prints.", validate=chatter)
        ],
    )
"""


def test_a_pack_that_prints_does_not_stall_the_preview(tmp_path):
    pack = write_pack(tmp_path / "chatty", CHATTY_PACK)
    result = run_cli("dev", "--policy-pack", str(pack))
    assert result.returncode == 0, result.stderr
    assert "Policies: chatty@v1.2.3" in result.stdout


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has already exited


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_stopping_the_preview_stops_its_policy_packs(signal_number):
    preview_process = subprocess.Popen(
        [sys.executable, "-m", "offline_preview", "prod"],
        cwd=REPOSITORY,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    packs: set[int] = set()
    while len(packs) < 2 and time.monotonic() < deadline:
        packs = _children(preview_process.pid)
        time.sleep(0.1)
    assert len(packs) == 2, "the two packs did not start"
    preview_process.send_signal(signal_number)
    preview_process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in packs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in packs if _alive(p)]
    if signal_number == signal.SIGTERM:
        assert preview_process.returncode == 128 + signal.SIGTERM


# A busy task that swallows every exception, as an SDK task may: a stop signal raised as an
# exception inside it would be lost and the event loop would wait for ever.
SWALLOWING_PROGRAM = """
    import asyncio
    from pathlib import Path

    import pulumi

    async def busy() -> str:
        Path("running").write_text("yes")
        while True:
            try:
                sum(range(200_000))
            except BaseException:
                pass
            await asyncio.sleep(0)

    pulumi.export("never", pulumi.Output.from_input(busy()))
"""


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_stop_signal_during_the_program_ends_the_preview_even_if_a_task_swallows_it(
    tmp_path, signal_number
):
    project = write_project(tmp_path / "busy", SWALLOWING_PROGRAM, "config: {}\n")
    preview_process = subprocess.Popen(
        [sys.executable, "-m", "offline_preview", "dev", "--project-dir", str(project)],
        cwd=REPOSITORY,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (project / "running").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (project / "running").exists(), "the program did not start"
    preview_process.send_signal(signal_number)
    try:
        _, stderr = preview_process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        preview_process.kill()
        pytest.fail("the preview ignored the signal")
    assert preview_process.returncode == 128 + signal_number
    assert stderr.strip() == "error: interrupted"


def test_a_policy_config_that_is_not_text_exits_2(tmp_path):
    config = tmp_path / "binary.json"
    config.write_bytes(b"\xff\xfe{}")
    result = run_cli(
        "dev",
        "--policy-pack",
        str(REPOSITORY / "policies" / "security"),
        "--policy-pack-config",
        str(config),
    )
    assert result.returncode == 2
    assert "not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr
