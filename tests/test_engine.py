"""The offline engine on small throwaway projects: reads, invokes, isolation, failures."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from offline_preview.engine import ProgramError, run_preview
from offline_preview.project import ProjectError
from platform_common.pulumi_values import is_secret
from tests.conftest import REPOSITORY


def project(directory: Path, program: str, config: str = "  aws:region: us-east-1\n") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text("name: scratch\nruntime: python\n")
    (directory / "__main__.py").write_text(textwrap.dedent(program))
    (directory / "Pulumi.dev.yaml").write_text("config:\n" + config)
    return directory


def test_existing_resources_read_with_get_are_captured_as_reads(tmp_path):
    program = """
        import pulumi_aws as aws
        vpc = aws.ec2.Vpc.get("shared", "vpc-0123456789abcdef0")
        aws.ec2.Subnet("mine", vpc_id=vpc.id, cidr_block="10.0.1.0/24")
    """
    result = run_preview(project(tmp_path / "p", program), "dev")
    shared = result.named("shared")
    assert (shared.operation, shared.id) == ("read", "vpc-0123456789abcdef0")
    assert result.named("mine").inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert result.summary()["operations"] == {"create": 2, "read": 1}


def test_an_invoke_the_engine_cannot_answer_fails_by_name(tmp_path):
    program = """
        import pulumi_aws as aws
        aws.ec2.get_vpc(default=True)
    """
    with pytest.raises(ProgramError) as error:
        run_preview(project(tmp_path / "p", program), "dev")
    assert "no answer for invoke 'aws:ec2/getVpc:getVpc'" in str(error.value)


def test_secret_inputs_stay_marked_secret_and_outputs_keep_the_mark(tmp_path):
    program = """
        import pulumi
        import pulumi_aws as aws
        secret = aws.secretsmanager.Secret("s")
        version = aws.secretsmanager.SecretVersion(
            "v", secret_id=secret.id, secret_string=pulumi.Output.secret("hunter2"))
        pulumi.export("echo", version.secret_string)
    """
    result = run_preview(project(tmp_path / "p", program), "dev")
    assert is_secret(result.named("v").inputs["secretString"])
    assert is_secret(result.outputs["echo"])


def test_two_projects_with_the_same_module_names_each_get_their_own(tmp_path):
    for name, bucket in (("one", "first"), ("two", "second")):
        directory = project(tmp_path / name, "import helpers\nhelpers.make()\n")
        (directory / "helpers.py").write_text(
            f"import pulumi_aws as aws\ndef make():\n    aws.s3.Bucket({bucket!r})\n"
        )
    first = run_preview(tmp_path / "one", "dev")
    second = run_preview(tmp_path / "two", "dev")
    assert [r.name for r in first.of_type("aws:s3/bucket:Bucket")] == ["first"]
    assert [r.name for r in second.of_type("aws:s3/bucket:Bucket")] == ["second"]


def test_a_program_that_calls_sys_exit_is_reported_not_obeyed(tmp_path):
    with pytest.raises(ProgramError, match="SystemExit"):
        run_preview(project(tmp_path / "p", "import sys\nsys.exit(3)\n"), "dev")


def test_a_failure_inside_an_apply_is_reported(tmp_path):
    program = """
        import pulumi_aws as aws
        bucket = aws.s3.Bucket("b")
        bucket.arn.apply(lambda arn: 1 / 0)
    """
    with pytest.raises(ProgramError, match="ZeroDivisionError"):
        run_preview(project(tmp_path / "p", program), "dev")


def test_the_runtime_is_clean_after_a_failed_run(tmp_path):
    with pytest.raises(ProgramError):
        run_preview(project(tmp_path / "bad", "raise RuntimeError('x')\n"), "dev")
    result = run_preview(
        project(tmp_path / "good", "import pulumi_aws as aws\naws.s3.Bucket('ok')\n"), "dev"
    )
    assert [r.name for r in result.resources] == ["scratch-dev", "ok"]


def test_project_level_defaults_apply_and_stack_values_win(tmp_path):
    program = """
        import pulumi
        pulumi.export("a", pulumi.Config().get("a"))
        pulumi.export("b", pulumi.Config().get("b"))
    """
    directory = project(tmp_path / "p", program, "  scratch:b: from-stack\n")
    (directory / "Pulumi.yaml").write_text(
        "name: scratch\nruntime: python\nconfig:\n"
        "  a: {type: string, default: from-project}\n  b: {default: overridden}\n"
    )
    assert run_preview(directory, "dev").outputs == {"a": "from-project", "b": "from-stack"}


def test_a_project_in_another_language_is_refused(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: js\nruntime: nodejs\n")
    with pytest.raises(ProjectError, match='runtime = "nodejs"; allowed: python'):
        run_preview(tmp_path, "dev")


def test_duplicate_logical_names_are_refused_like_the_engine_does(tmp_path):
    program = """
        import pulumi_aws as aws
        aws.s3.Bucket("b")
        aws.s3.Bucket("b")
    """
    with pytest.raises(ProgramError, match="duplicate resource URN"):
        run_preview(project(tmp_path / "p", program), "dev")


def test_a_failed_run_leaves_nothing_behind_for_the_next(tmp_path):
    failing = """
        import pulumi, pulumi_aws as aws
        def explode(args):
            raise ValueError("transform boom")
        pulumi.runtime.register_resource_transform(explode)
        aws.s3.Bucket("b")
    """
    with pytest.raises(ProgramError, match="transform boom"):
        run_preview(project(tmp_path / "bad", failing), "dev")
    ok = run_preview(
        project(tmp_path / "ok", "import pulumi_aws as aws\naws.s3.Bucket('b')\n"), "dev"
    )
    assert [r.name for r in ok.resources] == ["scratch-dev", "b"]


def test_secret_tags_stay_secret_in_computed_attributes(tmp_path):
    program = """
        import pulumi, pulumi_aws as aws
        bucket = aws.s3.Bucket("b", tags={"pw": pulumi.Output.secret("hunter2")})
        pulumi.export("tagsAll", bucket.tags_all)
    """
    result = run_preview(project(tmp_path / "p", program), "dev")
    assert "hunter2" not in json.dumps(result.to_json())


def test_program_prints_go_to_stderr_not_into_the_result(tmp_path, capsys):
    run_preview(project(tmp_path / "p", "print('hello from the program')\n"), "dev")
    captured = capsys.readouterr()
    assert "hello from the program" not in captured.out
    assert "hello from the program" in captured.err


def test_sys_exit_with_success_ends_the_program_normally(tmp_path):
    program = """
        import sys, pulumi_aws as aws
        aws.s3.Bucket("b")
        sys.exit(0)
    """
    result = run_preview(project(tmp_path / "p", program), "dev")
    assert [r.name for r in result.resources] == ["scratch-dev", "b"]


def test_two_previews_of_a_stack_print_the_same_document():
    # Registrations and their dependency lists arrive in thread-pool order.
    first = run_preview(REPOSITORY, "staging").to_json()
    second = run_preview(REPOSITORY, "staging").to_json()
    assert json.dumps(first) == json.dumps(second)
