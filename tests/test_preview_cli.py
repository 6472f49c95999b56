"""The offline preview command, run as a user runs it: a separate process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from platform_common.pulumi_values import reveal
from tests.conftest import REPOSITORY, preview

pytestmark = pytest.mark.slow


def run_cli(
    *args: str, cwd: Path = REPOSITORY, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "offline_preview", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_project(directory: Path, program: str, stack_config: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text("name: tiny\nruntime:\n  name: python\n")
    (directory / "__main__.py").write_text(textwrap.dedent(program))
    (directory / "Pulumi.dev.yaml").write_text(textwrap.dedent(stack_config))
    return directory


TINY_PROGRAM = """
    import pulumi
    import pulumi_aws as aws

    config = pulumi.Config()
    bucket = aws.s3.Bucket("assets", tags={"team": config.require("team")})
    aws.s3.BucketPublicAccessBlock(
        "assets-block", bucket=bucket.id, block_public_acls=True,
        opts=pulumi.ResourceOptions(protect=True),
    )
    pulumi.export("bucketArn", bucket.arn)
    pulumi.export("apiToken", pulumi.Output.secret("tok-PLAINTEXT-1234"))
    pulumi.export("dbPassword", config.require_secret("dbPassword"))
"""
TINY_CONFIG = """
    config:
      aws:region: eu-west-1
      tiny:team: search
      tiny:dbPassword:
        secure: v1:AAAABBBBCCCCdGhpcyBpcyBub3QgcmVhbA==
"""


def test_dev_preview_prints_the_resource_tree_and_summary():
    result = run_cli("dev")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Previewing update (dev) offline")
    assert " +   pulumi:pulumi:Stack" in out
    assert "├─ platform:components:Network" in out or "└─ platform:components:Network" in out
    assert "aws:ec2:Vpc" in out and "network-vpc" in out
    assert f"+ {len(preview('dev').resources)} to create" in out
    assert re.search(r"aws:ec2:Subnet +6\n", out)


def test_json_output_has_the_documented_shape():
    result = run_cli("staging", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) >= {"project", "stack", "resources", "diagnostics", "summary"}
    assert (document["project"], document["stack"]) == ("platform", "staging")
    assert document["diagnostics"] == []
    resource = next(r for r in document["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    assert set(resource) == {
        "urn",
        "type",
        "name",
        "parent",
        "provider",
        "inputs",
        "options",
        "dependencies",
    }
    assert resource["urn"].endswith("platform:components:Network$aws:ec2/vpc:Vpc::network-vpc")
    assert resource["inputs"]["cidrBlock"] == "10.20.0.0/16"
    assert document["summary"]["resources"] == len(document["resources"])
    assert document["summary"]["byType"]["aws:ec2/subnet:Subnet"] == 9


def test_unknown_stack_exits_2_and_lists_the_stacks():
    result = run_cli("qa")
    assert result.returncode == 2
    assert "Pulumi.qa.yaml not found; stacks here: dev, prod, staging" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_settings_exit_2_with_the_message_and_no_traceback(tmp_path):
    project = tmp_path / "broken"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        f"name: platform\nruntime: python\nmain: {REPOSITORY / 'infra'}\n"
    )
    stack_file = (REPOSITORY / "Pulumi.dev.yaml").read_text()
    (project / "Pulumi.dev.yaml").write_text(
        stack_file.replace("cidr: 10.10.0.0/16", "cidr: 8.8.0.0/16")
    )
    result = run_cli("dev", "--project-dir", str(project))
    assert result.returncode == 2
    assert "stack 'dev' has 1 invalid setting (Pulumi.dev.yaml)" in result.stderr
    assert 'platform:network.cidr = "8.8.0.0/16": not a private range' in result.stderr
    assert "Traceback" not in result.stderr
    as_json = run_cli("dev", "--project-dir", str(project), "--json")
    assert as_json.returncode == 2
    assert "platform:network.cidr" in json.loads(as_json.stdout)["error"]


def test_any_pulumi_python_project_can_be_previewed(tmp_path):
    project = write_project(tmp_path / "tiny", TINY_PROGRAM, TINY_CONFIG)
    result = run_cli("dev", "--project-dir", str(project), "--no-policies")
    assert result.returncode == 0, result.stderr
    assert "aws:s3:Bucket" in result.stdout and "assets-block" in result.stdout
    assert "+ 3 to create" in result.stdout
    assert "Policies:" not in result.stdout

    document = json.loads(
        run_cli("dev", "--project-dir", str(project), "--json", "--no-policies").stdout
    )
    assert document["project"] == "tiny"
    bucket = next(r for r in document["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    assert bucket["inputs"]["tags"] == {"team": "search"}
    block = next(r for r in document["resources"] if r["name"] == "assets-block")
    assert block["options"]["protect"] is True
    assert bucket["urn"] in block["dependencies"]
    # Bucket ARNs name neither a region nor an account; the name is auto-named like the
    # provider does (logical name plus a random suffix).
    assert document["outputs"]["bucketArn"] == f"arn:aws:s3:::{bucket['inputs']['bucket']}"
    assert bucket["inputs"]["bucket"].startswith("assets-")


def test_a_project_with_its_own_infra_package_is_previewed_with_its_own(tmp_path):
    # The engine imports nothing of this repository's program, so another project's
    # top-level `infra` package is the one its program imports.
    project = tmp_path / "other"
    (project / "infra").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: other\nruntime: python\nmain: infra/\n")
    (project / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (project / "infra" / "__init__.py").write_text("NAME = 'the other project'\n")
    (project / "infra" / "__main__.py").write_text(
        "import pulumi\nimport pulumi_aws as aws\nfrom infra import NAME\n"
        "aws.s3.Bucket('logs', tags={'owner': NAME})\n"
    )
    result = run_cli("dev", "--project-dir", str(project), "--no-policies", "--json")
    assert result.returncode == 0, result.stderr
    [bucket] = [r for r in json.loads(result.stdout)["resources"] if r["name"] == "logs"]
    assert bucket["inputs"]["tags"] == {"owner": "the other project"}


def test_secrets_print_as_secret_and_encrypted_config_is_never_decrypted(tmp_path):
    project = write_project(tmp_path / "tiny", TINY_PROGRAM, TINY_CONFIG)
    for args in (["dev"], ["dev", "--json"]):
        result = run_cli(*args, "--project-dir", str(project))
        # The bucket breaks policies (exit 1); what matters here is what is printed.
        assert result.returncode == 1, result.stderr
        assert "tok-PLAINTEXT-1234" not in result.stdout + result.stderr
        assert "AAAABBBBCCCC" not in result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["outputs"]["apiToken"] == "[secret]"
    assert document["outputs"]["dbPassword"] == "[secret]"


def test_a_failing_program_exits_2_naming_the_error_and_its_line(tmp_path):
    program = """
        import pulumi_aws as aws

        aws.s3.Bucket("fine")
        raise ValueError("bucket names must be unique")
    """
    project = write_project(tmp_path / "failing", program, "config:\n  aws:region: us-east-1\n")
    result = run_cli("dev", "--project-dir", str(project))
    assert result.returncode == 2
    assert "the program failed: ValueError: bucket names must be unique (at __main__.py:5)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    verbose = run_cli("dev", "--project-dir", str(project), "--verbose")
    assert "Traceback" in verbose.stderr


def test_a_directory_without_a_project_exits_2(tmp_path):
    result = run_cli("dev", "--project-dir", str(tmp_path))
    assert result.returncode == 2
    assert "no Pulumi.yaml" in result.stderr


def test_unknowns_mode_prints_unknown_outputs():
    result = run_cli("dev", "--unknowns")
    assert result.returncode == 0, result.stderr
    assert re.search(r'vpcId: +"\[unknown\]"', result.stdout)
    assert "computed attributes left unknown" in result.stdout


def test_the_cache_break_glass_password_is_printed_only_as_secret_in_human_and_json_output():
    [user] = [
        u
        for u in preview("dev").of_type("aws:elasticache/user:User")
        if u.inputs["userName"] == "breakglass"
    ]
    [password] = reveal(user.inputs["authenticationMode"])["passwords"]
    assert len(password) == 64
    human, document = run_cli("dev"), run_cli("dev", "--json")
    assert human.returncode == document.returncode == 0
    for output in (human.stdout, human.stderr, document.stdout, document.stderr):
        assert password not in output
    resources = json.loads(document.stdout)["resources"]
    [printed] = [r for r in resources if r["urn"] == user.urn]
    assert printed["inputs"]["authenticationMode"] == "[secret]"
