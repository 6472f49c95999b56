"""The GitHub workflows: they parse, every platformctl call is one the CLI accepts, and the
release state a release or promotion writes is committed back to main."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
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
# Commands that write the stack's release state into Pulumi.<stack>.yaml.
RELEASING = {"release", "promote"}
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


def changed_stack(job: dict[str, Any], commands: set[str]) -> str | None:
    """The one stack the job's platformctl commands among ``commands`` change, if any."""
    changed = set()
    for words, _ in platformctl_calls(job):
        if words[0] in commands:
            changed.add(words[words.index("--to") + 1] if "--to" in words else words[1])
    if not changed:
        return None
    [stack] = changed
    return stack


def test_jobs_that_change_a_stack_run_alone_on_it() -> None:
    for _, name, job in all_jobs():
        stack = changed_stack(job, CHANGING)
        if stack is None:
            continue
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


# The release state: `platformctl release` and `promote` write Pulumi.<stack>.yaml in the
# runner's checkout, and the job commits it back to main for the jobs after it.


def releasing_jobs() -> list[tuple[str, str, dict[str, Any], str]]:
    jobs = []
    for file, name, job in all_jobs():
        stack = changed_stack(job, RELEASING)
        if stack is not None:
            jobs.append((file, name, job, stack))
    return jobs


def platformctl_step_index(job: dict[str, Any]) -> int:
    [index] = {
        job["steps"].index(step) for words, step in platformctl_calls(job) if words[0] in RELEASING
    }
    return index


def commit_step(job: dict[str, Any]) -> dict[str, Any]:
    """The step after platformctl's that commits the stack file."""
    after = job["steps"][platformctl_step_index(job) + 1 :]
    [step] = [s for s in after if "git commit" in s.get("run", "")]
    return step


RELEASING_JOBS = releasing_jobs()


def test_the_jobs_that_write_release_state_are_the_release_and_promotions() -> None:
    assert {(name, stack) for _, name, _, stack in RELEASING_JOBS} == {
        ("release-dev", "dev"),
        ("promote-staging", "staging"),
        ("promote-prod", "prod"),
    }


@pytest.mark.parametrize(("file", "job_name", "job", "stack"), RELEASING_JOBS)
def test_the_stack_file_is_committed_to_main_after_platformctl_whatever_its_outcome(
    file: str, job_name: str, job: dict[str, Any], stack: str
) -> None:
    step = commit_step(job)
    script = step["run"]

    # A rollback, a pause or a timeout changes the file too.
    assert "always()" in step.get("if", ""), f"{file} {job_name}"
    assert not step.get("continue-on-error", False), job_name
    assert step["env"]["STACK"] == stack and '"Pulumi.$STACK.yaml"' in script, job_name
    # Nothing to commit when platformctl exited before changing anything.
    assert 'git diff --quiet -- "$file"' in script, job_name
    assert 'git add -- "$file"' in script and not re.search(r"git add (-A|--all|\.)", script)
    assert "[skip ci]" in script and 'message="release($STACK): $SERVICE ' in script, job_name
    assert 'GIT_AUTHOR_NAME="github-actions[bot]"' in script, job_name
    # Rebased on the latest main and pushed, retried on a race.
    assert "git rebase" in script and "origin/main" in script, job_name
    assert "push --quiet origin HEAD:refs/heads/main" in script, job_name
    assert re.search(r"for attempt in [1-9]( [0-9]+)+; do", script), job_name


@pytest.mark.parametrize(("file", "job_name", "job", "stack"), RELEASING_JOBS)
def test_jobs_writing_release_state_check_out_the_latest_main(
    file: str, job_name: str, job: dict[str, Any], stack: str
) -> None:
    [checkout] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    settings = checkout.get("with", {})

    # The state the jobs before this one committed, not the run's commit.
    assert settings.get("ref") == "main", f"{file} {job_name}"
    assert "github.sha" not in yaml.safe_dump(checkout)
    # No token left in .git/config for the steps that run the project's code.
    assert settings.get("persist-credentials") is False, job_name
    assert job["steps"].index(checkout) < platformctl_step_index(job)


@pytest.mark.parametrize(("file", "job_name", "job", "stack"), RELEASING_JOBS)
def test_jobs_writing_release_state_may_push_and_still_assume_their_role(
    file: str, job_name: str, job: dict[str, Any], stack: str
) -> None:
    # Job permissions replace the workflow's: id-token must be repeated.
    permissions = job.get("permissions", workflow(file).get("permissions", {}))

    assert permissions.get("contents") == "write", f"{file} {job_name}"
    assert permissions.get("id-token") == "write", f"{file} {job_name}"
    assert commit_step(job)["env"]["PUSH_TOKEN"] == (
        "${{ secrets.RELEASE_PUSH_TOKEN || github.token }}"
    )


def test_only_the_jobs_writing_release_state_may_write_contents() -> None:
    assert workflow("release.yml")["permissions"]["contents"] == "read"
    writers = {name for _, name, _, _ in RELEASING_JOBS}
    for file, name, job in all_jobs():
        permissions = job.get("permissions", workflow(file).get("permissions", {}))
        if name not in writers:
            assert permissions.get("contents") != "write", f"{file} {name}"


@pytest.mark.parametrize(("file", "job_name", "job", "stack"), RELEASING_JOBS)
def test_platformctl_times_out_before_its_job_so_the_state_is_still_committed(
    file: str, job_name: str, job: dict[str, Any], stack: str
) -> None:
    step = job["steps"][platformctl_step_index(job)]

    assert step["id"] == "platformctl"
    assert step["timeout-minutes"] < job["timeout-minutes"], job_name
    assert commit_step(job)["if"] == "always() && steps.platformctl.outcome != 'skipped'"


def test_no_script_splices_a_secret() -> None:
    for file, name, job in all_jobs():
        for step in job.get("steps", []):
            assert "secrets." not in step.get("run", ""), f"{file} {name} {step.get('name')}"


# The commit step itself, run against a local origin.

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="no git")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(), text=True, capture_output=True, check=True
    )
    return done.stdout.strip()


def git_env() -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "someone",
        "GIT_AUTHOR_EMAIL": "someone@example.com",
        "GIT_COMMITTER_NAME": "someone",
        "GIT_COMMITTER_EMAIL": "someone@example.com",
    }


class Repository:
    """An origin with main, another clone pushing to it, and the runner's shallow checkout."""

    def __init__(self, root: Path):
        self.root = root
        self.origin = root / "origin.git"
        self.other = root / "other"
        self.checkout = root / "checkout"
        self.temp = root / "runner-temp"
        self.temp.mkdir()
        git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(self.origin))
        git(root, "clone", "--quiet", str(self.origin), str(self.other))
        for stack in sorted(STACKS):
            (self.other / f"Pulumi.{stack}.yaml").write_text(f"config:\n  live: blue\n# {stack}\n")
        (self.other / "code.py").write_text("v1\n")
        git(self.other, "add", "-A")
        git(self.other, "commit", "--quiet", "-m", "first")
        git(self.other, "push", "--quiet", "origin", "HEAD:refs/heads/main")
        # As actions/checkout: the tip of main, depth 1.
        url = self.origin.as_uri()
        git(root, "clone", "--quiet", "--depth=1", "--branch=main", url, str(self.checkout))

    def push_from_other(self, name: str, text: str) -> None:
        git(self.other, "pull", "--quiet", "--rebase", "origin", "main")
        (self.other / name).write_text(text)
        git(self.other, "commit", "--quiet", "-am", f"change {name}")
        git(self.other, "push", "--quiet", "origin", "HEAD:refs/heads/main")

    def main(self, *args: str) -> str:
        return git(self.origin, *args)

    def run(
        self, step: dict[str, Any], record: dict[str, Any] | None
    ) -> subprocess.CompletedProcess[str]:
        if record is not None:
            (self.temp / "release.json").write_text(json.dumps(record))
        env = {
            **git_env(),
            "STACK": step["env"]["STACK"],
            "SERVICE": "chat-api",
            "IMAGE": "abc123@sha256:0f",
            "OUTCOME": "failure",
            "PUSH_TOKEN": "not-a-real-token",
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "acme/platform",
            "GITHUB_RUN_ID": "42",
        }
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=self.checkout, env=env, text=True, capture_output=True, timeout=120,
        )  # fmt: skip


@needs_git
@pytest.mark.parametrize(("file", "job_name", "job", "stack"), RELEASING_JOBS)
def test_the_commit_step_rebases_the_release_state_onto_main(
    tmp_path: Path, file: str, job_name: str, job: dict[str, Any], stack: str
) -> None:
    repo = Repository(tmp_path)
    repo.push_from_other("code.py", "v2\n")  # main moved on while the release ran
    stack_file = repo.checkout / f"Pulumi.{stack}.yaml"
    stack_file.write_text(stack_file.read_text().replace("live: blue", "live: green"))

    done = repo.run(commit_step(job), {"release": {"phase": "Succeeded", "image": "1.2@sha256:9"}})

    assert done.returncode == 0, done.stdout + done.stderr
    subject = repo.main("log", "-1", "--format=%s", "main")
    assert subject == f"release({stack}): chat-api 1.2@sha256:9 Succeeded [skip ci]"
    # The bot identity, over any identity the runner's environment sets.
    identity = repo.main("log", "-1", "--format=%an <%ae> %cn", "main")
    assert identity == (
        "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com> "
        "github-actions[bot]"
    )
    assert repo.main("log", "-1", "--format=%s", "main~1") == "change code.py"
    assert repo.main("show", "--format=", "--name-only", "main") == f"Pulumi.{stack}.yaml"
    assert "live: green" in repo.main("show", f"main:Pulumi.{stack}.yaml")
    assert "not-a-real-token" not in done.stdout + done.stderr


@needs_git
def test_the_commit_step_commits_nothing_when_platformctl_changed_nothing(
    tmp_path: Path,
) -> None:
    [(_, _, job, _), *_] = RELEASING_JOBS
    repo = Repository(tmp_path)
    before = repo.main("rev-parse", "main")

    done = repo.run(commit_step(job), {"error": "no Pulumi CLI"})

    assert done.returncode == 0, done.stdout + done.stderr
    assert repo.main("rev-parse", "main") == before


@needs_git
def test_the_commit_step_records_a_release_without_a_record_by_its_step_outcome(
    tmp_path: Path,
) -> None:
    # platformctl killed at its step's timeout, or an error after the file changed.
    [(_, _, job, stack), *_] = RELEASING_JOBS
    repo = Repository(tmp_path)
    (repo.checkout / f"Pulumi.{stack}.yaml").write_text("config:\n  live: green\n")

    done = repo.run(commit_step(job), None)

    assert done.returncode == 0, done.stdout + done.stderr
    subject = repo.main("log", "-1", "--format=%s", "main")
    assert subject == f"release({stack}): chat-api abc123@sha256:0f failure [skip ci]"


@needs_git
def test_the_commit_step_retries_a_push_that_lost_a_race(tmp_path: Path) -> None:
    [(_, _, job, stack), *_] = RELEASING_JOBS
    repo = Repository(tmp_path)
    marker = tmp_path / "rejected-once"
    hook = repo.origin / "hooks" / "pre-receive"
    hook.write_text(f'#!/bin/sh\n[ -f "{marker}" ] && exit 0\ntouch "{marker}"\nexit 1\n')
    hook.chmod(0o755)
    (repo.checkout / f"Pulumi.{stack}.yaml").write_text("config:\n  live: green\n")

    done = repo.run(commit_step(job), {"release": {"phase": "RolledBack", "image": "1@sha256:1"}})

    assert done.returncode == 0, done.stdout + done.stderr
    assert "attempt 1 of 5" in done.stdout
    subject = repo.main("log", "-1", "--format=%s", "main")
    assert subject == f"release({stack}): chat-api 1@sha256:1 RolledBack [skip ci]"


@needs_git
def test_the_commit_step_fails_loudly_when_main_changed_the_same_lines(tmp_path: Path) -> None:
    [(_, _, job, stack), *_] = RELEASING_JOBS
    repo = Repository(tmp_path)
    repo.push_from_other(f"Pulumi.{stack}.yaml", "config:\n  live: red\n")
    before = repo.main("rev-parse", "main")
    (repo.checkout / f"Pulumi.{stack}.yaml").write_text("config:\n  live: green\n")

    done = repo.run(commit_step(job), {"release": {"phase": "Succeeded", "image": "1@sha256:1"}})

    assert done.returncode == 1
    assert "::error::" in done.stdout and "+  live: green" in done.stdout
    assert repo.main("rev-parse", "main") == before
