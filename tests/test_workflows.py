"""The GitHub workflows: they parse, and every platformctl call is one the CLI accepts."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
STACKS = {"dev", "staging", "prod"}
SUBCOMMANDS = {
    "preview", "up", "release", "promote", "status", "abort", "pause", "resume",
    "promote-now", "rollback", "approve",
}  # fmt: skip
FLAGS = {"--json", "--offline", "--image", "--strategy", "--from", "--to", "--approve"}
VALUED_FLAGS = {"--image", "--strategy", "--from", "--to"}
# Commands that change a stack: each must run alone on its stack.
CHANGING = {"up", "release", "promote"}
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def workflow(name: str) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return document


def triggers(document: dict[Any, Any]) -> Any:
    # YAML 1.1 reads the bare key `on` as the boolean true.
    return document.get("on", document.get(True))


def platformctl_calls(job: dict[str, Any]) -> list[tuple[list[str], dict[str, Any]]]:
    """Each platformctl command line of the job (``${{ x }}`` kept as one word), with its
    step."""
    calls = []
    for step in job.get("steps", []):
        script = step.get("run", "")
        # An expression is one shell word here, whatever spaces it holds.
        script = _EXPRESSION.sub(lambda m: "EXPR(" + m[1].replace(" ", "") + ")", script)
        for line in script.replace("\\\n", " ").splitlines():
            if "platformctl" not in line:
                continue
            words = shlex.split(line, comments=True)
            while "platformctl" in words:
                words = words[words.index("platformctl") + 1 :]
                end = next(
                    (i for i, w in enumerate(words) if w in ("|", "||", "&&", ";", ">")),
                    len(words),
                )
                calls.append((words[:end], step))
                words = words[end:]
    return calls


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path.name, name, job)
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for name, job in workflow(path.name)["jobs"].items()
    ]


def test_the_workflows_parse_and_have_jobs() -> None:
    names = sorted(p.name for p in WORKFLOWS.glob("*.yml"))

    assert names == ["preview.yml", "release.yml"]
    for name in names:
        document = workflow(name)
        assert triggers(document) and document["jobs"]


@pytest.mark.parametrize(("file", "job_name", "job"), all_jobs())
def test_platformctl_calls_use_only_commands_and_flags_the_cli_accepts(
    file: str, job_name: str, job: dict[str, Any]
) -> None:
    for words, _ in platformctl_calls(job):
        assert words and words[0] in SUBCOMMANDS, f"{file} {job_name}: {words}"
        args = words[1:]
        for i, word in enumerate(args):
            if word.startswith("-"):
                assert word in FLAGS, f"{file} {job_name}: unknown flag {word}"
                if word in VALUED_FLAGS:
                    value = args[i + 1] if i + 1 < len(args) else "-"
                    assert not value.startswith("-"), f"{file} {job_name}: {word} has no value"
        stacks = [args[args.index(f) + 1] for f in ("--from", "--to") if f in args]
        assert set(stacks) <= STACKS, f"{file} {job_name}: {stacks}"


def test_every_platformctl_command_appears_somewhere() -> None:
    used = {words[0] for _, _, job in all_jobs() for words, _ in platformctl_calls(job)}

    assert used == {"preview", "release", "promote"}


def test_pull_requests_preview_every_stack_with_the_cli_and_offline() -> None:
    document = workflow("preview.yml")
    jobs = document["jobs"]

    assert "pull_request" in triggers(document)
    stacks = {entry["stack"] for entry in jobs["preview"]["strategy"]["matrix"]["include"]}
    assert stacks == STACKS
    [(words, _)] = platformctl_calls(jobs["preview"])
    assert words == ["preview", "EXPR(matrix.stack)", "--json"]
    assert set(jobs["offline"]["strategy"]["matrix"]["stack"]) == STACKS
    offline_runs = [step.get("run", "") for step in jobs["offline"]["steps"]]
    assert "./scripts/preview ${{ matrix.stack }}" in offline_runs


def test_the_offline_preview_needs_no_credentials() -> None:
    offline = workflow("preview.yml")["jobs"]["offline"]

    uses = [step.get("uses", "") for step in offline["steps"]]
    assert not any("configure-aws-credentials" in u or "pulumi/actions" in u for u in uses)
    assert "secrets." not in yaml.safe_dump(offline)


def test_a_failed_preview_fails_the_job() -> None:
    # `shell: bash` runs with pipefail: `platformctl ... | tee` keeps platformctl's exit code.
    preview = workflow("preview.yml")["jobs"]["preview"]

    [(_, step)] = platformctl_calls(preview)
    assert step.get("shell") == "bash"
    assert not step.get("continue-on-error", False)


def test_jobs_calling_platformctl_read_the_backend_from_a_secret() -> None:
    for file, name, job in all_jobs():
        if not platformctl_calls(job) or name == "offline":
            continue
        env = {**workflow(file).get("env", {}), **job.get("env", {})}
        assert env.get("PULUMI_BACKEND_URL") == "${{ secrets.PULUMI_BACKEND_URL }}", name


def test_jobs_that_change_a_stack_run_alone_on_it() -> None:
    for _, name, job in all_jobs():
        changed = set()
        for words, _ in platformctl_calls(job):
            if words[0] in CHANGING:
                changed.add(words[words.index("--to") + 1] if "--to" in words else words[1])
        if not changed:
            continue
        [stack] = changed
        concurrency = job.get("concurrency")
        assert isinstance(concurrency, dict), f"{name}: no concurrency group"
        assert concurrency["group"] == f"stack-{stack}", name
        # Cancelling a release halfway leaves traffic split: a newer run waits instead.
        assert concurrency.get("cancel-in-progress") is False, name


def test_prod_promotion_runs_behind_the_prod_environment_and_records_the_approval() -> None:
    job = workflow("release.yml")["jobs"]["promote-prod"]

    environment = job["environment"]
    assert (environment["name"] if isinstance(environment, dict) else environment) == "prod"
    [(words, step)] = platformctl_calls(job)
    assert words[:1] == ["promote"] and words[words.index("--to") + 1] == "prod"
    assert "--approve" in words
    assert step["env"]["PLATFORM_APPROVED_BY"] == "${{ github.actor }}"


def test_approve_is_passed_only_behind_an_environment() -> None:
    for _, name, job in all_jobs():
        for words, _ in platformctl_calls(job):
            if "--approve" in words:
                assert job.get("environment") == "prod", name


def test_releases_start_on_main_and_promote_dev_then_staging_then_prod() -> None:
    document = workflow("release.yml")
    jobs = document["jobs"]

    assert triggers(document)["push"]["branches"] == ["main"]
    promotions = {
        name: (words[words.index("--from") + 1], words[words.index("--to") + 1])
        for name, job in jobs.items()
        for words, _ in platformctl_calls(job)
        if words[0] == "promote"
    }
    assert promotions == {
        "promote-staging": ("dev", "staging"),
        "promote-prod": ("staging", "prod"),
    }
    assert "release-dev" in jobs["promote-staging"]["needs"]
    assert "promote-staging" in jobs["promote-prod"]["needs"]
    [(words, _)] = platformctl_calls(jobs["release-dev"])
    assert words[:2] == ["release", "dev"] and "--image" in words


@pytest.mark.parametrize(("file", "job_name", "job"), all_jobs())
def test_every_script_is_valid_bash(file: str, job_name: str, job: dict[str, Any]) -> None:
    for step in job.get("steps", []):
        if "run" not in step:
            continue
        script = _EXPRESSION.sub("EXPRESSION", step["run"])
        checked = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert checked.returncode == 0, f"{file} {job_name} {step.get('name')}: {checked.stderr}"
