"""The GitHub workflows: they parse, every platformctl call is one the CLI accepts, every job
that runs platformctl checks first that the state backend is S3 (the release ledger lives
beside it, reached directly: no job copies a ledger directory), the stack file a release,
promotion or command writes is committed back to main, a command for a release (command.yml)
runs as a release job does but outside the stack's concurrency group, and the workflows are
hardened as zizmor (the GitHub Actions security linter) expects: actions pinned by SHA,
least-privilege permissions, no persisted credentials, a Dependabot config."""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
STACKS = {"dev", "staging", "prod"}
# Commands for a release (platformctl CONTROLS): run by hand through command.yml.
CONTROLS = {"abort", "pause", "resume", "promote-now", "approve", "rollback"}
SUBCOMMANDS = {
    "preview", "up", "bootstrap", "release", "promote", "status", "versions", "sync", *CONTROLS
}  # fmt: skip
# Commands that run the Pulumi engine (and so the advisory AI review): versions and status
# only ask AWS or read the ledger.
ENGINE = {"preview", "up", "bootstrap", "release", "promote", *CONTROLS}
FLAGS = {
    "--json", "--offline", "--image", "--strategy", "--from", "--to", "--approve", "--review",
    "--reason", "--allow-replace", "--approve-review", "--wait-for-stack",
}  # fmt: skip
VALUED_FLAGS = {"--image", "--strategy", "--from", "--to", "--reason", "--wait-for-stack"}
# Commands that change a stack: each must run alone on its stack, behind its environment.
# (A command for a release may drive it on: approve, resume, promote-now, a rollback.)
CHANGING = {"up", "bootstrap", "release", "promote", *CONTROLS}
# Commands that write the stack's release state into Pulumi.<stack>.yaml.
RELEASING = {"release", "promote", *CONTROLS}
REVIEW_KEY = "${{ secrets.ANTHROPIC_API_KEY }}"
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def workflow(name: str) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return document


def triggers(document: dict[Any, Any]) -> Any:
    # YAML 1.1 reads the bare key `on` as the boolean true.
    return document.get("on", document.get(True))


def _word(expression: str) -> str:
    # An expression is one shell word here, whatever spaces it holds.
    return "EXPR(" + expression.replace(" ", "") + ")"


def as_written(word: str) -> str:
    """``EXPR(inputs.stack)`` as the workflow writes it: ``${{ inputs.stack }}``."""
    found = re.fullmatch(r"EXPR\((.*)\)", word)
    return f"${{{{ {found[1]} }}}}" if found else word


def step_env(file: str, job: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    """The environment a step's script sees: the workflow's, the job's, then the step's."""
    return {**workflow(file).get("env", {}), **job.get("env", {}), **step.get("env", {})}


def platformctl_calls(job: dict[str, Any]) -> list[tuple[list[str], dict[str, Any]]]:
    """Each platformctl command line of the job (``${{ x }}`` kept as one word ``EXPR(x)``,
    and so is ``$VAR`` when the job or step sets VAR to one expression), with its step."""
    calls = []
    for step in job.get("steps", []):
        env = {**job.get("env", {}), **step.get("env", {})}
        script = step.get("run", "")
        script = _EXPRESSION.sub(lambda m: _word(m[1]), script)
        for line in script.replace("\\\n", " ").splitlines():
            if "platformctl" not in line:
                continue
            words = [resolve(w, env) for w in shlex.split(line, comments=True)]
            while "platformctl" in words:
                words = words[words.index("platformctl") + 1 :]
                end = next(
                    (i for i, w in enumerate(words) if w in ("|", "||", "&&", ";", ">")),
                    len(words),
                )
                calls.append((words[:end], step))
                words = words[end:]
    return calls


def resolve(word: str, env: dict[str, Any]) -> str:
    """``$VAR`` in a word, when the environment sets VAR to exactly one expression."""

    def value(match: re.Match[str]) -> str:
        found = _EXPRESSION.fullmatch(str(env.get(match[1], "")).strip())
        return _word(found[1]) if found else match[0]

    return _VARIABLE.sub(value, word)


def alternatives(file: str, word: str) -> list[str]:
    """The values a word takes: a choice input's options, or the word itself."""
    found = re.fullmatch(r"EXPR\((?:github\.event\.)?inputs\.([\w-]+)\)", word)
    if found:
        dispatch = triggers(workflow(file)).get("workflow_dispatch") or {}
        spec = dispatch.get("inputs", {}).get(found[1], {})
        if spec.get("type") == "choice":
            return [str(option) for option in spec["options"]]
    return [word]


def command_lines(file: str, words: list[str]) -> list[list[str]]:
    """Every command line a call can be, its choice inputs replaced by each option."""
    return [list(line) for line in itertools.product(*(alternatives(file, w) for w in words))]


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path.name, name, job)
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for name, job in workflow(path.name)["jobs"].items()
    ]


def all_steps() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    return [(file, name, job, step) for file, name, job in all_jobs() for step in job["steps"]]


def test_the_workflows_parse_and_have_jobs() -> None:
    names = sorted(p.name for p in WORKFLOWS.glob("*.yml"))

    assert names == ["command.yml", "preview.yml", "release.yml", "up.yml"]
    for name in names:
        document = workflow(name)
        assert triggers(document) and document["jobs"]


@pytest.mark.parametrize(("file", "job_name", "job"), all_jobs())
def test_platformctl_calls_use_only_commands_and_flags_the_cli_accepts(
    file: str, job_name: str, job: dict[str, Any]
) -> None:
    for call, _ in platformctl_calls(job):
        for words in command_lines(file, call):
            assert words and words[0] in SUBCOMMANDS, f"{file} {job_name}: {words}"
            args = words[1:]
            for i, word in enumerate(args):
                if word.startswith("-"):
                    flag, valued = word.split("=", 1)[0], "=" in word
                    assert flag in FLAGS, f"{file} {job_name}: unknown flag {word}"
                    if flag in VALUED_FLAGS and not valued:
                        value = args[i + 1] if i + 1 < len(args) else "-"
                        assert not value.startswith("-"), f"{file} {job_name}: {word} has no value"
            stacks = [args[args.index(f) + 1] for f in ("--from", "--to") if f in args]
            if words[0] not in ("promote", "status"):
                stacks.append(args[0])
            assert set(stacks) <= STACKS | {"EXPR(matrix.stack)"}, f"{file} {job_name}: {stacks}"


@pytest.mark.parametrize(("file", "job_name", "job"), all_jobs())
def test_platformctl_calls_parse_with_the_cli_itself(
    file: str, job_name: str, job: dict[str, Any]
) -> None:
    from platformctl.cli import parse_args

    for call, _ in platformctl_calls(job):
        for words in command_lines(file, call):
            # Another expression or variable stands for a plain value (a service name is
            # checked; a reason is passed as --reason=..., so it is never read as an option).
            values = [re.sub(r"EXPR\([^)]*\)|\$\w+", "x", word) for word in words]
            # A review's digest is hex (the CLI checks its form).
            values = [
                "0123456789abcdef" if before == "--approve-review" else value
                for before, value in zip(["", *values], values, strict=False)
            ]
            try:
                parse_args(values)
            except SystemExit as error:
                pytest.fail(f"{file} {job_name}: platformctl {shlex.join(words)}: {error}")


def test_every_platformctl_command_appears_somewhere() -> None:
    used = {
        words[0]
        for file, _, job in all_jobs()
        for call, _ in platformctl_calls(job)
        for words in command_lines(file, call)
    }

    # bootstrap is run once by hand (docs/first-deploy.md); status reads the ledger; sync is
    # what a person runs when `up` refuses a stack file that disagrees with the ledger.
    assert used == SUBCOMMANDS - {"bootstrap", "status", "sync"}


def test_pull_requests_preview_every_stack_with_the_cli_and_offline() -> None:
    document = workflow("preview.yml")
    jobs = document["jobs"]

    assert "pull_request" in triggers(document)
    stacks = {entry["stack"] for entry in jobs["preview"]["strategy"]["matrix"]["include"]}
    assert stacks == STACKS
    # First the pinned versions against what AWS offers, then the gated preview.
    assert [words for words, _ in platformctl_calls(jobs["preview"])] == [
        ["versions", "EXPR(matrix.stack)"],
        ["preview", "EXPR(matrix.stack)", "--review", "--json"],
    ]
    assert set(jobs["offline"]["strategy"]["matrix"]["stack"]) == STACKS
    [offline] = [s for s in jobs["offline"]["steps"] if "./scripts/preview" in s.get("run", "")]
    assert offline["run"] == './scripts/preview "$STACK"'
    assert step_env("preview.yml", jobs["offline"], offline)["STACK"] == "${{ matrix.stack }}"


def runs_the_engine(file: str, step: dict[str, Any], words: list[str]) -> bool:
    """A platformctl call that runs the Pulumi CLI (and so may ask for the AI review)."""
    return bool(set(alternatives(file, words[0])) & ENGINE) and not is_offline(step, words)


def is_offline(step: dict[str, Any], words: list[str] | None = None) -> bool:
    """The offline engine: no Pulumi CLI, no cloud account, no secret."""
    return "./scripts/preview" in step.get("run", "") or "--offline" in (words or [])


def test_the_cli_previews_ask_for_the_review_and_the_offline_ones_do_not() -> None:
    previews = [
        (words, step)
        for _, _, job in all_jobs()
        for words, step in platformctl_calls(job)
        if words[0] == "preview"
    ]

    assert previews
    for words, step in previews:
        assert ("--review" in words) is not is_offline(step, words), words
    offline = workflow("preview.yml")["jobs"]["offline"]
    assert "--review" not in yaml.safe_dump(offline)


def test_the_offline_preview_needs_no_credentials() -> None:
    offline = workflow("preview.yml")["jobs"]["offline"]

    uses = [step.get("uses", "") for step in offline["steps"]]
    assert not any("configure-aws-credentials" in u or "pulumi/actions" in u for u in uses)
    assert "secrets." not in yaml.safe_dump(offline)


def test_a_failed_preview_fails_the_job() -> None:
    # `shell: bash` runs with pipefail: `platformctl ... | tee` keeps platformctl's exit code.
    preview = workflow("preview.yml")["jobs"]["preview"]

    for _, step in platformctl_calls(preview):
        assert step.get("shell") == "bash"
        assert not step.get("continue-on-error", False)


def test_jobs_calling_platformctl_read_the_backend_from_a_secret() -> None:
    for file, name, job in all_jobs():
        if not platformctl_calls(job) or name == "offline":
            continue
        env = {**workflow(file).get("env", {}), **job.get("env", {})}
        assert env.get("PULUMI_BACKEND_URL") == "${{ secrets.PULUMI_BACKEND_URL }}", name


# The advisory AI review: its key reaches the steps that run platformctl with the real CLI,
# and no other step (not the offline engine, not pip, not the commit).


def test_every_platformctl_step_with_the_cli_gets_the_review_key_from_secrets() -> None:
    cli_steps = []
    for file, name, job in all_jobs():
        for words, step in platformctl_calls(job):
            if runs_the_engine(file, step, words):
                cli_steps.append(step)
                env = step_env(file, job, step)
                assert env.get("ANTHROPIC_API_KEY") == REVIEW_KEY, f"{file} {name} {words}"

    # preview, release-dev, promote-staging, promote-prod, command, and up (two calls in one
    # step: with and without an approved review)
    assert len(cli_steps) == 7


def test_only_the_platformctl_steps_with_the_cli_get_the_review_key() -> None:
    for file, name, job in all_jobs():
        # Not for every step of a job or workflow: only where the step itself sets it.
        assert "ANTHROPIC_API_KEY" not in workflow(file).get("env", {}), file
        assert "ANTHROPIC_API_KEY" not in job.get("env", {}), f"{file} {name}"
        cli_steps = [
            step for words, step in platformctl_calls(job) if runs_the_engine(file, step, words)
        ]
        for step in job["steps"]:
            has_key = "ANTHROPIC_API_KEY" in step.get("env", {})
            assert has_key == any(step is s for s in cli_steps), f"{file} {name} {step.get('name')}"
            if is_offline(step):
                assert "ANTHROPIC" not in yaml.safe_dump(step), f"{file} {name}"


def test_the_review_key_is_documented_as_optional_in_each_workflow_header() -> None:
    for file in ("preview.yml", "release.yml", "command.yml"):
        header = (WORKFLOWS / file).read_text().split("\nname:", 1)[0]
        text = " ".join(line.lstrip("# ") for line in header.splitlines())
        found = re.search(r"secrets\.ANTHROPIC_API_KEY\s+optional: the advisory AI review", text)
        assert found, file
        assert "prod releases need a human approval" in text, file


def changed_stack(file: str, job: dict[str, Any], commands: set[str]) -> str | None:
    """The one stack the job's platformctl commands among ``commands`` change, if any, as
    the workflow writes it (``${{ inputs.stack }}`` when a run chooses it)."""
    changed = set()
    for words, _ in platformctl_calls(job):
        if set(alternatives(file, words[0])) & commands:
            changed.add(words[words.index("--to") + 1] if "--to" in words else words[1])
    if not changed:
        return None
    [stack] = changed
    return as_written(stack)


def test_jobs_that_change_a_stack_never_cancel_one_in_progress() -> None:
    for file, name, job in all_jobs():
        stack = changed_stack(file, job, CHANGING)
        if stack is None:
            continue
        concurrency = job.get("concurrency")
        assert isinstance(concurrency, dict), f"{name}: no concurrency group"
        # Cancelling a release halfway leaves traffic split: a newer run waits instead.
        assert concurrency.get("cancel-in-progress") is False, name
        # The release, promotion and up jobs take turns on their stack; a command for a
        # release does not wait for them (the ledger's lease serializes stack changes).
        if file == "command.yml":
            assert not concurrency["group"].startswith("stack-"), name
        else:
            assert concurrency["group"] == f"stack-{stack}", f"{file} {name}"


def test_jobs_that_change_a_stack_run_behind_its_environment() -> None:
    # Its AWS role (assumed through OIDC, whatever the runner), and for prod its reviewers.
    for file, name, job in all_jobs():
        stack = changed_stack(file, job, CHANGING)
        if stack is None:
            continue
        environment = job.get("environment")
        name_of = environment["name"] if isinstance(environment, dict) else environment
        assert name_of == stack, f"{file} {name}"
        aws = [s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", "")]
        assert [s["with"]["role-to-assume"] for s in aws] == ["${{ vars.AWS_DEPLOY_ROLE_ARN }}"]
        assert "if" not in aws[0], f"{file} {name}: the role is assumed on every runner"


RUNNER = "codebuild-platform-{stack}-runner-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"


def test_staging_and_prod_jobs_run_on_their_stacks_runner():
    # Their APIs answer CI only inside their VPCs.
    jobs = workflow("release.yml")["jobs"]
    for stack in ("staging", "prod"):
        assert jobs[f"promote-{stack}"]["runs-on"] == RUNNER.format(stack=stack)
    for file in ("command.yml", "up.yml"):
        [job] = workflow(file)["jobs"].values()
        assert "format('codebuild-platform-{0}-runner-{1}-{2}', inputs.stack" in job["runs-on"]
    preview = workflow("preview.yml")["jobs"]["preview"]
    runners = {e["stack"]: e["runner"] for e in preview["strategy"]["matrix"]["include"]}
    assert runners["staging"] == RUNNER.format(stack="staging")
    assert runners["prod"] == RUNNER.format(stack="prod")
    # A pull request's job there gets only the read-only preview role.
    [assume] = [s for s in preview["steps"] if "configure-aws" in s.get("uses", "")]
    assert assume["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"


def test_every_job_on_a_stacks_runner_ends_before_the_runner_is_stopped():
    from tests.conftest import preview

    for file, name, job in all_jobs():
        if "codebuild" not in str(job.get("runs-on", "")) + str(job.get("strategy", "")):
            continue
        for stack in ("staging", "prod"):
            [project] = preview(stack).of_type("aws:codebuild/project:Project")
            assert job["timeout-minutes"] < project.inputs["buildTimeout"], f"{file} {name}"


def test_the_runner_the_workflows_name_is_the_one_each_stack_creates():
    from tests.conftest import preview

    for stack in ("staging", "prod"):
        project = preview(stack).outputs["ciRunnerProject"]
        assert RUNNER.format(stack=stack).startswith(f"codebuild-{project}-")


def test_prod_promotion_runs_behind_the_prod_environment_and_records_the_approval() -> None:
    job = workflow("release.yml")["jobs"]["promote-prod"]

    environment = job["environment"]
    assert (environment["name"] if isinstance(environment, dict) else environment) == "prod"
    [(words, step)] = platformctl_calls(job)
    assert words[:1] == ["promote"] and words[words.index("--to") + 1] == "prod"
    assert "--approve" in words
    assert step["env"]["PLATFORM_APPROVED_BY"] == "${{ github.actor }}"


def test_approve_is_passed_only_behind_an_environment() -> None:
    for file, name, job in all_jobs():
        for words, _ in platformctl_calls(job):
            if "--approve" in words:
                assert job.get("environment") == "prod", name
            if "approve" in alternatives(file, words[0]):
                assert job.get("environment") == as_written(words[1]), name


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


# The command workflow: a command for a release, by hand.


def command_job() -> dict[str, Any]:
    job: dict[str, Any] = workflow("command.yml")["jobs"]["command"]
    return job


def test_the_command_workflow_is_dispatched_by_hand_with_a_stack_service_and_command() -> None:
    on = triggers(workflow("command.yml"))
    inputs = on["workflow_dispatch"]["inputs"]

    assert set(on) == {"workflow_dispatch"}
    assert inputs["stack"]["type"] == "choice" and set(inputs["stack"]["options"]) == STACKS
    assert inputs["command"]["type"] == "choice"
    assert set(inputs["command"]["options"]) == CONTROLS
    assert inputs["service"]["type"] == "string" and inputs["service"]["required"] is True
    assert inputs["reason"]["type"] == "string" and inputs["reason"]["required"] is False
    assert workflow("command.yml")["permissions"] == {}


def test_the_command_job_runs_behind_the_stacks_environment_outside_the_release_group() -> None:
    job = command_job()
    release_groups = {
        release["environment"]: release["concurrency"]["group"]
        for file in ("release.yml", "up.yml")
        for release in workflow(file)["jobs"].values()
        if "concurrency" in release
    }

    # So prod's required reviewers approve every command there.
    assert job["environment"] == "${{ inputs.stack }}"
    # The release and up jobs' groups, one per stack ...
    assert release_groups == {
        **{stack: f"stack-{stack}" for stack in STACKS},
        "${{ inputs.stack }}": "stack-${{ inputs.stack }}",
    }
    # ... which a command never joins: an abort, pause or rollback reaches a running release
    # through the ledger at once, instead of waiting for its job to end. Only the same command
    # for the same service waits for the one before, and none is cancelled.
    assert job["concurrency"] == {
        "group": "command-${{ inputs.stack }}-${{ inputs.service }}-${{ inputs.command }}",
        "cancel-in-progress": False,
    }
    assert "concurrency" not in workflow("command.yml")
    [(words, _)] = platformctl_calls(job)
    assert words[:3] == ["EXPR(inputs.command)", "EXPR(inputs.stack)", "EXPR(inputs.service)"]
    assert "--json" in words and any(w.startswith("--reason") for w in words)


def test_expressions_reach_scripts_only_through_the_environment() -> None:
    # Inputs above all, but also matrix values, step outcomes and secrets: no `${{ }}` is
    # spliced into a script (zizmor's template-injection).
    for file, name, _, step in all_steps():
        assert not _EXPRESSION.search(step.get("run", "")), f"{file} {name} {step.get('name')}"


def service_check(job: dict[str, Any]) -> dict[str, Any]:
    [step] = [s for s in job["steps"] if '"$SERVICE" =~' in s.get("run", "")]
    return step


@pytest.mark.parametrize(
    ("service", "valid"),
    [
        ("chat-api", True),
        ("a", True),
        ("worker2", True),
        ("-x", False),
        ("--help", False),
        ("", False),
        ("chat api", False),
        ("chat;id", False),
        ("$(id)", False),
        ("../prod", False),
        ("Chat", False),
        ("chat-", False),
        ("chat-api\n::error::x", False),
        ("a" * 25, False),
    ],
)
def test_the_command_job_checks_the_service_name_before_using_it(service: str, valid: bool) -> None:
    job = command_job()
    step = service_check(job)

    # Before anything runs with it, and never skipped.
    assert job["steps"].index(step) < platformctl_step_index(job)
    assert "if" not in step and not step.get("continue-on-error", False)
    assert step_env("command.yml", job, step)["SERVICE"] == "${{ inputs.service }}"
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env={"PATH": os.environ["PATH"], "SERVICE": service}, text=True, capture_output=True,
    )  # fmt: skip
    assert (done.returncode == 0) is valid, done.stdout + done.stderr
    # A rejected name is not echoed: it could hold a workflow command.
    assert valid or not service or service not in done.stdout


# The release state: `platformctl release` and `promote` write Pulumi.<stack>.yaml in the
# runner's checkout (and so may a command that drives a release on), and the job commits it
# back to main for the jobs after it.


def releasing_jobs() -> list[tuple[str, str, dict[str, Any], str]]:
    jobs = []
    for file, name, job in all_jobs():
        stack = changed_stack(file, job, RELEASING)
        if stack is not None:
            jobs.append((file, name, job, stack))
    return jobs


def platformctl_step_index(job: dict[str, Any]) -> int:
    [index] = {job["steps"].index(step) for _, step in platformctl_calls(job)}
    return index


def commit_step(job: dict[str, Any]) -> dict[str, Any]:
    """The step after platformctl's that commits the stack file."""
    after = job["steps"][platformctl_step_index(job) + 1 :]
    [step] = [s for s in after if "git commit" in s.get("run", "")]
    return step


def concrete(stack: str) -> str:
    """A stack the run may choose, for running a step."""
    return stack if stack in STACKS else "prod"


RELEASING_JOBS = releasing_jobs()


def test_the_jobs_that_write_release_state_are_the_release_promotions_and_command() -> None:
    assert {(name, stack) for _, name, _, stack in RELEASING_JOBS} == {
        ("release-dev", "dev"),
        ("promote-staging", "staging"),
        ("promote-prod", "prod"),
        ("command", "${{ inputs.stack }}"),
    }


@pytest.mark.parametrize(("file", "job_name", "job", "stack"), RELEASING_JOBS)
def test_the_stack_file_is_committed_to_main_after_platformctl_whatever_its_outcome(
    file: str, job_name: str, job: dict[str, Any], stack: str
) -> None:
    step = commit_step(job)
    script = step["run"]

    # A rollback, a pause, a wait for approval or a timeout changes the file too.
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


def test_every_job_writing_release_state_commits_it_with_the_same_script() -> None:
    # The command job mirrors the release jobs' commit (GitHub Actions has no YAML anchors).
    scripts = {commit_step(job)["run"] for _, _, job, _ in RELEASING_JOBS}
    conditions = {commit_step(job)["if"] for _, _, job, _ in RELEASING_JOBS}

    assert len(scripts) == 1
    assert conditions == {"always() && steps.platformctl.outcome != 'skipped'"}
    for file, name, job, _ in RELEASING_JOBS:
        env = step_env(file, job, commit_step(job))
        assert {"STACK", "SERVICE", "IMAGE", "OUTCOME", "PUSH_TOKEN"} <= set(env), name
        assert env["OUTCOME"] == "${{ steps.platformctl.outcome }}", name


def test_no_workflow_copies_a_ledger_directory() -> None:
    # The ledger lives in S3 beside the state and platformctl reaches it there: a copy
    # restored into a job and saved after it is what lost commands and runners' work.
    for path in sorted(WORKFLOWS.glob("*.yml")):
        text = path.read_text()
        for copy in ("aws s3 sync", "aws s3 cp", "PLATFORM_LEDGER_DIR", "PLATFORM_LEDGER_S3_URI"):
            assert copy not in text, f"{path.name}: {copy}"
        assert "actions/cache" not in text and "upload-artifact" not in text, path.name


def the_cli_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    """The jobs that run platformctl against real stacks (not the offline engine)."""
    return [
        (file, name, job)
        for file, name, job in all_jobs()
        if any(not is_offline(step, words) for words, step in platformctl_calls(job))
    ]


def test_the_jobs_running_platformctl_against_real_stacks() -> None:
    assert {(file, name) for file, name, _ in the_cli_jobs()} == {
        ("preview.yml", "preview"),
        ("release.yml", "release-dev"),
        ("release.yml", "promote-staging"),
        ("release.yml", "promote-prod"),
        ("command.yml", "command"),
        ("up.yml", "up"),
    }


@pytest.mark.parametrize(("file", "job_name", "job"), the_cli_jobs())
def test_platformctl_steps_see_the_ledger_url_variable(
    file: str, job_name: str, job: dict[str, Any]
) -> None:
    # Optional: unset, the ledger is in the S3 backend's bucket.
    for _, step in platformctl_calls(job):
        env = step_env(file, job, step)
        assert env.get("PLATFORM_LEDGER_URL") == "${{ vars.PLATFORM_LEDGER_URL }}", job_name
        assert env.get("PULUMI_BACKEND_URL") == "${{ secrets.PULUMI_BACKEND_URL }}", job_name


# The backend check: without an S3 backend Pulumi falls back to a local one (a fresh, empty
# stack on the runner), and the ledger has no bucket.


def backend_check(job: dict[str, Any]) -> dict[str, Any]:
    step: dict[str, Any] = job["steps"][0]
    return step


@pytest.mark.parametrize(("file", "job_name", "job"), the_cli_jobs())
def test_every_job_running_platformctl_checks_the_backend_first(
    file: str, job_name: str, job: dict[str, Any]
) -> None:
    step = backend_check(job)

    assert "$PULUMI_BACKEND_URL" in step.get("run", ""), f"{file} {job_name}: not the first step"
    assert "if" not in step and not step.get("continue-on-error", False), job_name
    assert step.get("shell") == "bash", job_name
    # The URL reaches the script through the environment, never spliced into it.
    assert "${{" not in step["run"], job_name
    env = step_env(file, job, step)
    assert env["PULUMI_BACKEND_URL"] == "${{ secrets.PULUMI_BACKEND_URL }}", job_name
    assert env["PLATFORM_LEDGER_URL"] == "${{ vars.PLATFORM_LEDGER_URL }}", job_name


def test_every_backend_check_is_the_same_script() -> None:
    assert len({backend_check(job)["run"] for _, _, job in the_cli_jobs()}) == 1


@pytest.mark.parametrize(
    ("backend", "ledger", "accepted"),
    [
        ("s3://acme-platform-state", "", True),
        ("s3://acme-platform-state/pulumi", "", True),
        ("s3://acme-platform-state?region=eu-west-1&awssdk=v2", "", True),
        ("s3://acme-platform-state", "s3://acme-releases/ledger", True),
        ("", "", False),
        ("s3://", "", False),
        ("file:///home/runner/state", "", False),
        ("https://api.pulumi.com", "", False),
        ("S3://acme-platform-state", "", False),
        (" s3://acme-platform-state", "", False),
        ("s3://acme-platform-state", "/mnt/ledger", False),
        ("s3://acme-platform-state", "file:///tmp/ledger", False),
    ],
)
def test_the_backend_check_refuses_anything_but_s3(
    backend: str, ledger: str, accepted: bool
) -> None:
    [(_, _, job), *_] = the_cli_jobs()
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", backend_check(job)["run"]],
        env={
            "PATH": os.environ["PATH"], "PULUMI_BACKEND_URL": backend,
            "PLATFORM_LEDGER_URL": ledger,
        },
        text=True, capture_output=True,
    )  # fmt: skip

    assert (done.returncode == 0) is accepted, done.stdout + done.stderr
    if not accepted:
        [error] = [line for line in done.stdout.splitlines() if line.startswith("::error::")]
        assert ("PLATFORM_LEDGER_URL" if ledger else "PULUMI_BACKEND_URL") in error
        assert "s3://bucket/prefix" in error
        # The secret's value is not echoed (GitHub masks it, but never rely on that).
        assert "acme" not in done.stdout and (not ledger or ledger not in done.stdout)


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
    writers = {(file, name) for file, name, _, _ in RELEASING_JOBS}
    for file, name, job in all_jobs():
        permissions = job.get("permissions", workflow(file).get("permissions", {}))
        if (file, name) not in writers:
            assert permissions.get("contents") != "write", f"{file} {name}"


# Hardening, as zizmor (and a security reviewer) expects.


def test_workflows_grant_nothing_and_each_job_only_what_it_needs() -> None:
    # (A role is assumed through OIDC only where configure-aws-credentials runs; the approvals
    # API is read only where a job asks who approved its environment.)
    for file, name, job in all_jobs():
        assert workflow(file)["permissions"] == {}, file
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{file} {name}: no permissions of its own"
        assert set(permissions.values()) <= {"read", "write"}, f"{file} {name}"
        assumes_a_role = any("configure-aws-credentials" in s.get("uses", "") for s in job["steps"])
        assert (permissions.get("id-token") == "write") is assumes_a_role, f"{file} {name}"
        reads_approvals = any("/approvals" in s.get("run", "") for s in job["steps"])
        assert ("actions" in permissions) is reads_approvals, f"{file} {name}"
        assert set(permissions) <= {"contents", "id-token", "actions"}, f"{file} {name}"


def test_every_permission_says_why() -> None:
    # A comment on each grant, for reviewers (zizmor's undocumented-permissions, pedantic).
    said = 0
    for path in sorted(WORKFLOWS.glob("*.yml")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() == "permissions: {}":
                assert lines[i - 1].lstrip().startswith("#"), f"{path.name}:{i + 1}"
            elif line.strip() == "permissions:":
                indent = len(line) - len(line.lstrip()) + 2
                for entry in itertools.takewhile(
                    lambda x, indent=indent: x.startswith(" " * indent), lines[i + 1 :]
                ):
                    assert re.search(r"^\s+[\w-]+: (read|write) # \S", entry), (
                        f"{path.name}: {entry}"
                    )
                    said += 1
    assert said == sum(len(job["permissions"]) for _, _, job in all_jobs())


_PINNED = re.compile(r"^\s*(?:- )?uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$")


def test_every_action_is_pinned_by_commit_sha_with_its_version() -> None:
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text().splitlines():
            if re.match(r"^\s*(?:- )?uses:", line):
                found = _PINNED.match(line)
                assert found, f"{path.name}: {line.strip()}"
                pins.setdefault(found[1], set()).add((found[2], found[3]))
    # One version of each action across the workflows (Dependabot moves them together).
    assert {action: len(versions) for action, versions in pins.items()} == {
        "actions/checkout": 1,
        "actions/setup-python": 1,
        "aws-actions/configure-aws-credentials": 1,
        "pulumi/actions": 1,
    }
    # And the parsed workflows agree with the lines read.
    for file, name, _, step in all_steps():
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), f"{file} {name}"


def test_no_checkout_keeps_credentials() -> None:
    # Not even in the jobs that push: their commit step brings its own token (see
    # test_jobs_writing_release_state_may_push_and_still_assume_their_role).
    for file, name, _, step in all_steps():
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, f"{file} {name}"


def test_dependabot_keeps_the_pinned_actions_current_after_a_cooldown() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())

    assert config["version"] == 2
    [actions] = [u for u in config["updates"] if u["package-ecosystem"] == "github-actions"]
    assert actions["directory"] == "/"
    assert actions["schedule"]["interval"] == "weekly"
    # zizmor's dependabot-cooldown: a release gets a week to be found bad before it is used.
    assert actions["cooldown"]["default-days"] >= 7


def zizmor_binary() -> str | None:
    beside = Path(sys.executable).parent / "zizmor"
    return str(beside) if beside.exists() else shutil.which("zizmor")


needs_zizmor = pytest.mark.skipif(
    zizmor_binary() is None,
    reason="zizmor is not installed (pip install -e '.[dev]' installs it: zizmor==1.33.1)",
)


def zizmor(target: Path) -> subprocess.CompletedProcess[str]:
    """zizmor over a directory, offline: no GitHub API even with a token in the environment."""
    binary = zizmor_binary()
    assert binary is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GH_", "GITHUB_", "ZIZMOR_"))}
    return subprocess.run(
        [binary, "--offline", "--no-progress", "--format=json", str(target)],
        env=env, text=True, capture_output=True, timeout=120,
    )  # fmt: skip


@needs_zizmor
def test_zizmor_finds_nothing_in_the_workflows_and_dependabot_config() -> None:
    done = zizmor(ROOT / ".github")

    findings = json.loads(done.stdout or "[]")
    shown = [f"{f['ident']}: {f['desc']}" for f in findings]
    assert done.returncode == 0 and findings == [], f"{shown}\n{done.stderr}"
    # It did read them: the workflows and dependabot.yml.
    for name in ("dependabot.yml", *(p.name for p in WORKFLOWS.glob("*.yml"))):
        assert name in done.stderr, name


@needs_zizmor
def test_zizmor_would_catch_an_unpinned_action_and_a_missing_cooldown(tmp_path: Path) -> None:
    # The check above is not vacuous: the same files, an action back on a tag, no cooldown.
    copy = tmp_path / ".github"
    shutil.copytree(ROOT / ".github", copy)
    release = copy / "workflows" / "release.yml"
    release.write_text(
        re.sub(
            r"actions/setup-python@[0-9a-f]{40} # \S+",
            "actions/setup-python@v5",
            release.read_text(),
        )
    )
    dependabot = copy / "dependabot.yml"
    dependabot.write_text(
        re.sub(r"\n    cooldown:\n      default-days: 7", "", dependabot.read_text())
    )

    done = zizmor(copy)

    assert done.returncode != 0
    assert {f["ident"] for f in json.loads(done.stdout)} == {"unpinned-uses", "dependabot-cooldown"}


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
        self, step: dict[str, Any], record: dict[str, Any] | None, stack: str
    ) -> subprocess.CompletedProcess[str]:
        if record is not None:
            (self.temp / "release.json").write_text(json.dumps(record))
        env = {
            **git_env(),
            "STACK": concrete(stack),
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
    stack = concrete(stack)
    stack_file = repo.checkout / f"Pulumi.{stack}.yaml"
    stack_file.write_text(stack_file.read_text().replace("live: blue", "live: green"))

    record = {"release": {"phase": "Succeeded", "image": "1.2@sha256:9"}}
    done = repo.run(commit_step(job), record, stack)

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
    [(_, _, job, stack), *_] = RELEASING_JOBS
    stack = concrete(stack)
    repo = Repository(tmp_path)
    before = repo.main("rev-parse", "main")

    done = repo.run(commit_step(job), {"error": "no Pulumi CLI"}, stack)

    assert done.returncode == 0, done.stdout + done.stderr
    assert repo.main("rev-parse", "main") == before


@needs_git
@pytest.mark.parametrize(("file", "job_name", "job", "stack"), RELEASING_JOBS)
def test_the_commit_step_records_a_release_without_a_record_by_its_step_outcome(
    tmp_path: Path, file: str, job_name: str, job: dict[str, Any], stack: str
) -> None:
    # platformctl killed at its step's timeout, or an error after the file changed.
    stack = concrete(stack)
    repo = Repository(tmp_path)
    (repo.checkout / f"Pulumi.{stack}.yaml").write_text("config:\n  live: green\n")

    done = repo.run(commit_step(job), None, stack)

    assert done.returncode == 0, done.stdout + done.stderr
    subject = repo.main("log", "-1", "--format=%s", "main")
    assert subject == f"release({stack}): chat-api abc123@sha256:0f failure [skip ci]"


@needs_git
def test_the_commit_step_retries_a_push_that_lost_a_race(tmp_path: Path) -> None:
    [(_, _, job, stack), *_] = RELEASING_JOBS
    stack = concrete(stack)
    repo = Repository(tmp_path)
    marker = tmp_path / "rejected-once"
    hook = repo.origin / "hooks" / "pre-receive"
    hook.write_text(f'#!/bin/sh\n[ -f "{marker}" ] && exit 0\ntouch "{marker}"\nexit 1\n')
    hook.chmod(0o755)
    (repo.checkout / f"Pulumi.{stack}.yaml").write_text("config:\n  live: green\n")

    record = {"release": {"phase": "RolledBack", "image": "1@sha256:1"}}
    done = repo.run(commit_step(job), record, stack)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "attempt 1 of 5" in done.stdout
    subject = repo.main("log", "-1", "--format=%s", "main")
    assert subject == f"release({stack}): chat-api 1@sha256:1 RolledBack [skip ci]"


@needs_git
def test_the_commit_step_fails_loudly_when_main_changed_the_same_lines(tmp_path: Path) -> None:
    [(_, _, job, stack), *_] = RELEASING_JOBS
    stack = concrete(stack)
    repo = Repository(tmp_path)
    repo.push_from_other(f"Pulumi.{stack}.yaml", "config:\n  live: red\n")
    before = repo.main("rev-parse", "main")
    (repo.checkout / f"Pulumi.{stack}.yaml").write_text("config:\n  live: green\n")

    record = {"release": {"phase": "Succeeded", "image": "1@sha256:1"}}
    done = repo.run(commit_step(job), record, stack)

    assert done.returncode == 1
    assert "::error::" in done.stdout and "+  live: green" in done.stdout
    assert repo.main("rev-parse", "main") == before


# The platformctl step itself, with a stand-in platformctl (and gh) on the PATH.

# What the expressions of a step's environment hold in these runs.
EXPRESSIONS = {
    "matrix.service": "chat-api",
    "matrix.image": "1.2@sha256:9",
    "inputs.stack": "prod",
    "inputs.service": "chat-api",
    "inputs.command": "approve",
    "inputs.reason": "checked the\nmigration",
    "github.actor": "starter",
}


class Runner:
    """A runner's temp directory and PATH, with a platformctl that records how it was called
    and prints a release record, and a gh that names the environment's reviewer (or fails)."""

    def __init__(self, root: Path):
        self.temp = root / "runner-temp"
        self.bin = root / "bin"
        self.calls = root / "calls"
        for directory in (self.temp, self.bin, self.calls):
            directory.mkdir()
        stand_in = {
            "platformctl": """#!/bin/sh
                printf '%s\\n' "$@" > "$CALLS/argv"
                printf '%s' "$PLATFORM_ACTOR" > "$CALLS/actor"
                printf '%s' "$ANTHROPIC_API_KEY" > "$CALLS/key"
                printf '{"release": {"phase": "%s", "image": "1@sha256:1"}}\\n' "$FAKE_PHASE"
                exit "$FAKE_EXIT"
            """,
            "gh": """#!/bin/sh
                [ -n "$FAKE_REVIEWER" ] || exit 1
                echo "$FAKE_REVIEWER"
            """,
        }
        for name, text in stand_in.items():
            path = self.bin / name
            path.write_text("\n".join(line.strip() for line in text.splitlines()))
            path.chmod(0o755)

    def run(
        self, file: str, job: dict[str, Any], exit_code: int, phase: str = "AwaitingApproval",
        reviewer: str = "",
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        step = job["steps"][platformctl_step_index(job)]
        assert "${{" not in step["run"], "an expression spliced into the script"
        env = {
            name: _EXPRESSION.sub(lambda m: EXPRESSIONS.get(m[1], "not-a-real-secret"), str(value))
            for name, value in step_env(file, job, step).items()
        }
        env.update(
            PATH=f"{self.bin}:{os.environ['PATH']}", HOME=os.environ.get("HOME", "/tmp"),
            RUNNER_TEMP=str(self.temp), GITHUB_REPOSITORY="acme/platform", GITHUB_RUN_ID="42",
            GITHUB_ACTOR="starter", CALLS=str(self.calls), FAKE_EXIT=str(exit_code),
            FAKE_PHASE=phase, FAKE_REVIEWER=reviewer,
        )  # fmt: skip
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            env=env, text=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def argv(self) -> list[str]:
        return (self.calls / "argv").read_text().splitlines()

    def actor(self) -> str:
        return (self.calls / "actor").read_text()


@pytest.mark.parametrize(("file", "job_name", "job", "stack"), RELEASING_JOBS)
@pytest.mark.parametrize("phase", ["AwaitingApproval", "AwaitingConfirmation", "Paused"])
def test_a_release_waiting_for_a_human_says_how_to_continue_it(
    tmp_path: Path, file: str, job_name: str, job: dict[str, Any], stack: str, phase: str
) -> None:
    runner = Runner(tmp_path)

    done = runner.run(file, job, exit_code=3, phase=phase)

    # Still a failed step (later promotions wait), with a warning in the log and the run.
    assert done.returncode == 3, done.stdout + done.stderr
    [warning] = [line for line in done.stdout.splitlines() if line.startswith("::warning")]
    assert "command workflow" in warning, warning
    assert f"stack {concrete(stack)}, service chat-api" in warning, warning
    assert "approve" in warning and "resume" in warning and "abort" in warning, warning
    if shutil.which("jq"):
        assert f"is {phase}::" in warning, warning
    # The record still goes to the file the commit step reads.
    record = json.loads((runner.temp / "release.json").read_text())
    assert record["release"]["phase"] == phase


@pytest.mark.parametrize(("file", "job_name", "job", "stack"), RELEASING_JOBS)
@pytest.mark.parametrize("exit_code", [0, 1, 2])
def test_other_outcomes_keep_their_exit_code_and_say_nothing_about_approving(
    tmp_path: Path, file: str, job_name: str, job: dict[str, Any], stack: str, exit_code: int
) -> None:
    runner = Runner(tmp_path)

    done = runner.run(file, job, exit_code=exit_code, phase="Succeeded")

    assert done.returncode == exit_code, done.stdout + done.stderr
    assert "::warning" not in done.stdout and "command workflow" not in done.stdout
    # The key from the step's environment reached platformctl.
    assert (runner.calls / "key").read_text() == "not-a-real-secret"


@pytest.mark.parametrize(
    ("reviewer", "actor"), [("prod-reviewer", "prod-reviewer"), ("", "starter")]
)
def test_the_command_runs_with_its_inputs_and_records_who_gave_it(
    tmp_path: Path, reviewer: str, actor: str
) -> None:
    # The environment's reviewer when the job was approved (prod), else who started the run.
    runner = Runner(tmp_path)

    done = runner.run("command.yml", command_job(), exit_code=0, reviewer=reviewer)

    assert done.returncode == 0, done.stdout + done.stderr
    # One line of reason: a newline in the input cannot start a line of the log.
    assert runner.argv() == [
        "approve",
        "prod",
        "chat-api",
        "--reason=checked the migration",
        "--wait-for-stack",
        "1800",
        "--json",
    ]
    assert runner.actor() == actor
