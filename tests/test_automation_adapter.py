"""The Automation API adapter, against the real ``pulumi.automation`` package.

The Pulumi CLI is not installed here, so the CLI is a fake: a small script first on PATH
that answers the commands the Automation API runs (``version``, ``stack select/init``,
``config``, ``config set-all/rm-all``, ``preview``, ``up``, ``stack output/history``,
``cancel``), logs every command line, and edits the stack file the way ``config set
--path`` does. It reports version 3.200.0, for which the Automation API reads engine
events from the ``--event-log`` file (newer CLIs stream the same JSON events over gRPC).
What it cannot show: the real engine, real policy packs, real AWS. Their words are
emulated from the CLI's own messages (the texts ``pulumi.automation.errors`` matches).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.automation import errors as auto_errors
from pulumi.automation._cmd import CommandResult
from pulumi.automation.events import EngineEvent

from platformctl.automation import (
    INSTALL_URL,
    AutomationStack,
    EngineEventTranslator,
    backend_url,
    plan_config_writes,
    repository_policy_packs,
    shown_backend_url,
    translate_error,
)
from platformctl.ports import DeployError, StackPort

REPOSITORY = Path(__file__).resolve().parents[1]

FAKE_PULUMI = r"""
import json, os, re, sys
import yaml

STATE = os.environ["FAKE_PULUMI_STATE"]
VALUED = {"--stack", "--plaintext", "--secret", "--policy-pack", "--policy-pack-config",
          "--event-log", "--exec-kind", "--message", "--color", "--page-size", "--page",
          "--secrets-provider", "--config-file"}


def scenario():
    path = os.path.join(STATE, "scenario.json")
    return json.load(open(path)) if os.path.exists(path) else {}


def parse(argv):
    words, flags = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in VALUED:
            flags.append((arg, argv[i + 1]))
            i += 2
        elif arg.startswith("--"):
            flags.append((arg, None))
            i += 1
        else:
            words.append(arg)
            i += 1
    return words, flags


def stack_file(stack):
    return os.path.join(os.getcwd(), f"Pulumi.{stack}.yaml")


def load(stack):
    doc = yaml.safe_load(open(stack_file(stack))) or {}
    return doc, doc.setdefault("config", {})


def save(stack, doc):
    with open(stack_file(stack), "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)


def segments(name):
    found = re.findall(r'\["([^"]*)"\]|\[(\d+)\]|([^.\[\]]+)', name)
    return [q if q else int(i) if i else n for q, i, n in found]


def adjust(text):
    # pulumi's adjustObjectValue: true/false, then integers without a leading zero.
    if text in ("true", "false"):
        return text == "true"
    if len(text) > 1 and text[0] == "0":
        return text
    if re.fullmatch(r"[+-]?[0-9]+", text) and -2**63 <= int(text) < 2**63:
        return int(text)
    return text


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(255)


def set_path(config, key, text):
    namespace, _, name = key.partition(":")
    path = segments(name)
    top = f"{namespace}:{path[0]}"
    if len(path) == 1:
        config[top] = text
        return
    root = config.get(top)
    holder = {"": None if isinstance(root, str) else root}
    cursor, cursor_key = holder, ""
    for segment in path[1:]:
        value = get(cursor, cursor_key)
        if value is None:
            value = [] if isinstance(segment, int) else {}
            put(cursor, cursor_key, value)
        elif isinstance(segment, int) and not isinstance(value, list):
            fail(f"an array was expected for index {segment}")
        elif isinstance(segment, str) and not isinstance(value, dict):
            fail(f"a map was expected for key {segment!r}")
        cursor, cursor_key = value, segment
    put(cursor, cursor_key, adjust(text))
    config[top] = holder[""]


def get(container, key):
    if isinstance(container, list):
        if key > len(container):
            fail("array index out of range")
        return container[key] if key < len(container) else None
    return container.get(key)


def put(container, key, value):
    if isinstance(container, list):
        if key > len(container):
            fail("array index out of range")
        if key == len(container):
            container.append(value)
        else:
            container[key] = value
    else:
        container[key] = value


def remove_path(config, key):
    namespace, _, name = key.partition(":")
    path = segments(name)
    top = f"{namespace}:{path[0]}"
    if len(path) == 1:
        config.pop(top, None)
        return
    cursor = config.get(top)
    for segment in path[1:-1]:
        try:
            cursor = cursor[segment]
        except (KeyError, IndexError, TypeError):
            return
    last = path[-1]
    if isinstance(cursor, list) and isinstance(last, int) and last < len(cursor):
        del cursor[last]
    elif isinstance(cursor, dict):
        cursor.pop(last, None)


def emit(event_log, events, kind):
    with open(event_log, "a") as log:
        for sequence, event in enumerate(events, 1):
            log.write(json.dumps({"sequence": sequence, "timestamp": 0, **event}) + "\n")
        counts = {}
        for event in events:
            op = event.get("resourcePreEvent", {}).get("metadata", {}).get("op")
            if op:
                counts[op] = counts.get(op, 0) + 1
        log.write(json.dumps({"sequence": 900, "timestamp": 0,
                              "summaryEvent": {"resourceChanges": counts}}) + "\n")
        log.write(json.dumps({"sequence": 901, "timestamp": 0, "cancelEvent": {}}) + "\n")


def main(argv):
    with open(os.path.join(STATE, "calls.jsonl"), "a") as calls:
        env = {k: v for k, v in os.environ.items() if k.startswith(("PULUMI_", "FAKE_"))}
        calls.write(json.dumps({"argv": argv, "env": env}) + "\n")
    words, flags = parse([a for a in argv if a != "--non-interactive"])
    values = {}
    for flag, value in flags:
        values.setdefault(flag, []).append(value)
    stack = (values.get("--stack") or [None])[-1]
    plan = scenario()
    command = " ".join(words[:2])
    failures = plan.get("fail", {})
    failure = failures.get(command) or failures.get(words[0] if words else "")
    if words == ["version"]:
        print("v3.200.0")
        return 0
    if failure is not None and "--event-log" not in values:
        print(failure.get("stdout", ""))
        print(failure["stderr"], file=sys.stderr)
        return failure.get("code", 255)
    stacks_path = os.path.join(STATE, "stacks.json")
    stacks = json.load(open(stacks_path)) if os.path.exists(stacks_path) else []
    if command == "stack select":
        if stack not in stacks:
            fail(f"no stack named '{stack}' found")
        return 0
    if command == "stack init":
        json.dump(stacks + [words[2]], open(stacks_path, "w"))
        return 0
    if words == ["config"]:
        _, config = load(stack)
        shown = {}
        for key, value in config.items():
            if isinstance(value, dict) and set(value) == {"secure"}:
                shown[key] = {"value": "decrypted secret text", "secret": True}
            elif isinstance(value, str):
                shown[key] = {"value": value, "secret": False}
            else:
                shown[key] = {"value": json.dumps(value), "objectValue": value, "secret": False}
        print(json.dumps(shown))
        return 0
    if command == "config set-all":
        if "--secret" in values:
            fail("the fake CLI does not encrypt")
        doc, config = load(stack)
        for pair in values.get("--plaintext", []):
            key, _, text = pair.partition("=")
            if "--path" in values:
                set_path(config, key, text)
            else:
                config[key] = text
        save(stack, doc)
        return 0
    if command == "config rm-all":
        doc, config = load(stack)
        for key in words[2:]:
            remove_path(config, key) if "--path" in values else config.pop(key, None)
        save(stack, doc)
        return 0
    if words and words[0] in ("preview", "up"):
        for path in values.get("--config-file", []):
            # Kept for the test: the adapter removes its file once the command ends.
            seen = os.path.join(STATE, f"config-file-{words[0]}.yaml")
            with open(path) as given, open(seen, "w") as kept:
                kept.write(given.read())
        emit(values["--event-log"][0], plan.get("events", []), words[0])
        if failure is not None:
            print(failure.get("stdout", ""))
            print(failure["stderr"], file=sys.stderr)
            return failure.get("code", 255)
        return 0
    if command == "stack output":
        outputs = plan.get("outputs", {})
        secret = set(plan.get("secretOutputs", []))
        if "--show-secrets" not in values:
            outputs = {k: "[secret]" if k in secret else v for k, v in outputs.items()}
        print(json.dumps(outputs))
        return 0
    if command == "stack history":
        print(json.dumps(plan.get("history", [])))
        return 0
    if words == ["cancel"]:
        return 0
    fail(f"the fake CLI does not know `{' '.join(words)}`")


sys.exit(main(sys.argv[1:]))
"""


class FakeCli:
    def __init__(self, root: Path) -> None:
        self.state = root / "fake-state"
        self.state.mkdir()
        self.project = root / "project"
        self.project.mkdir()
        for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
            shutil.copy(REPOSITORY / name, self.project / name)
        # The program is never run by the fake; the project only has to look complete.
        (self.project / "infra").mkdir()
        (self.project / "infra" / "__main__.py").write_text("")
        self.packs, self.pack_config = repository_policy_packs("dev")

    def scenario(self, **plan: Any) -> None:
        (self.state / "scenario.json").write_text(json.dumps(plan))

    def calls(self) -> list[dict[str, Any]]:
        lines = (self.state / "calls.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def argvs(self, *words: str) -> list[list[str]]:
        """The command lines (without --non-interactive) that start with ``words``."""
        found = []
        for call in self.calls():
            argv = [a for a in call["argv"] if a != "--non-interactive"]
            if argv[: len(words)] == list(words):
                found.append(argv)
        return found

    def stack_file(self) -> dict[str, Any]:
        config: dict[str, Any] = yaml.safe_load((self.project / "Pulumi.dev.yaml").read_text())
        return config["config"]

    def stack(self, **env: str) -> AutomationStack:
        return AutomationStack(
            self.project,
            "dev",
            policy_packs=self.packs,
            policy_pack_config=self.pack_config,
            env={"FAKE_PULUMI_STATE": str(self.state), **env},
        )


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCli:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(f"#!{sys.executable}\n{FAKE_PULUMI}")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    # The Automation API's version check runs `pulumi version` with this process's env.
    cli = FakeCli(tmp_path)
    monkeypatch.setenv("FAKE_PULUMI_STATE", str(cli.state))
    return cli


def step(op: str, urn_name: str, type_: str, **metadata: Any) -> dict[str, Any]:
    urn = f"urn:pulumi:dev::platform::{type_}::{urn_name}"
    return {
        "resourcePreEvent": {
            "metadata": {"op": op, "urn": urn, "type": type_, "provider": "", **metadata},
            "planning": True,
        }
    }


# The CLI missing


def test_missing_cli_is_a_clear_error_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    stack = AutomationStack.for_repository("dev", env={"PULUMI_BACKEND_URL": "file:///nowhere"})

    with pytest.raises(DeployError) as raised:
        stack.read_config()

    message = str(raised.value)
    assert "not on PATH" in message
    assert INSTALL_URL in message and "platformctl preview --offline" in message
    assert "Traceback" not in message
    # Raised `from None`: the CLI layer has nothing else to print.
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_stack_without_a_stack_file_is_refused_before_the_cli_runs(fake: FakeCli) -> None:
    with pytest.raises(DeployError, match=r"'qa' has no stack file Pulumi\.qa\.yaml.*dev"):
        AutomationStack(fake.project, "qa", policy_packs=(), policy_pack_config=None)


# Backend and stack selection


def test_backend_is_pulumi_backend_url_when_set(tmp_path: Path) -> None:
    environ = {"PULUMI_BACKEND_URL": "s3://state-bucket/platform"}

    assert backend_url(tmp_path, environ) == "s3://state-bucket/platform"
    assert not (tmp_path / ".pulumi-state").exists()


def test_backend_defaults_to_a_file_backend_in_the_project(tmp_path: Path) -> None:
    url = backend_url(tmp_path, {})

    assert url == f"file://{tmp_path.resolve()}/.pulumi-state"
    assert (tmp_path / ".pulumi-state").is_dir()


def test_stack_is_created_when_the_backend_does_not_have_it(fake: FakeCli) -> None:
    fake.stack().read_config()

    assert fake.argvs("stack", "select") == [["stack", "select", "--stack", "dev"]]
    assert fake.argvs("stack", "init") == [["stack", "init", "dev"]]
    backends = {call["env"].get("PULUMI_BACKEND_URL") for call in fake.calls()[1:]}
    assert backends == {f"file://{fake.project}/.pulumi-state"}


# Config


def test_read_config_returns_typed_values_and_hides_secrets(fake: FakeCli) -> None:
    document = yaml.safe_load((fake.project / "Pulumi.dev.yaml").read_text())
    document["config"]["platform:alertToken"] = {"secure": "v1:c2VjcmV0"}
    (fake.project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))

    config = fake.stack().read_config()

    assert config["aws:region"] == "us-east-1"
    assert config["platform:protectResources"] is False
    assert config["platform:logRetentionDays"] == 7
    assert config["platform:environment"] == "dev"
    assert config["platform:app"]["services"][0]["release"]["blue"]["image"] == "1.4.2"
    assert config["platform:alertToken"] == "[secret]"
    assert "decrypted secret text" not in json.dumps(config)


def test_set_config_writes_only_changed_leaves_as_structured_yaml(fake: FakeCli) -> None:
    stack = fake.stack()
    app = stack.read_config()["platform:app"]
    release = app["services"][0]["release"]
    release["candidateWeight"] = 25
    release["green"] = {"image": "1.5.0", "replicas": 1}  # scaledDown: true is dropped

    stack.set_config({"platform:app": app})

    prefix = "platform:app.services[0].release"
    assert fake.argvs("config", "rm-all") == [
        ["config", "rm-all", "--stack", "dev", "--path", f"{prefix}.green.scaledDown"]
    ]
    assert fake.argvs("config", "set-all") == [
        ["config", "set-all", "--stack", "dev", "--path",
         "--plaintext", f"{prefix}.green.image=1.5.0",
         "--plaintext", f"{prefix}.candidateWeight=25"]
    ]  # fmt: skip
    written = fake.stack_file()["platform:app"]["services"][0]["release"]
    assert written["candidateWeight"] == 25
    assert written["green"] == {"replicas": 1, "image": "1.5.0"}
    assert stack.read_config()["platform:app"] == app


def test_set_config_with_nothing_changed_runs_no_write(fake: FakeCli) -> None:
    stack = fake.stack()
    stack.set_config(stack.read_config())

    assert fake.argvs("config", "set-all") == []
    assert fake.argvs("config", "rm-all") == []


def test_set_config_refuses_text_the_cli_would_store_as_a_number(fake: FakeCli) -> None:
    stack = fake.stack()
    app = stack.read_config()["platform:app"]
    app["services"][0]["release"]["green"]["image"] = "1234567"

    with pytest.raises(DeployError, match=r"green\.image = '1234567'.*as a number"):
        stack.set_config({"platform:app": app})

    assert fake.argvs("config", "set-all") == []


def test_set_config_removes_list_elements_that_are_gone(fake: FakeCli) -> None:
    stack = fake.stack()
    app = stack.read_config()["platform:app"]
    app["services"] = app["services"][:1]

    stack.set_config({"platform:app": app})

    assert fake.argvs("config", "rm-all")[0][-1] == "platform:app.services[1]"
    assert fake.argvs("config", "set-all") == []
    assert stack.read_config()["platform:app"] == app


def test_plan_removes_from_the_end_so_remaining_indices_hold() -> None:
    current = {"platform:x": {"items": [{"n": "a"}, {"n": "b", "k": 1}, {"n": "c"}, {"n": "d"}]}}
    desired = {"platform:x": {"items": [{"n": "a"}, {"n": "c"}]}}

    plan = plan_config_writes(current, desired)

    assert plan.removals == ("platform:x.items[3]", "platform:x.items[2]", "platform:x.items[1].k")
    assert plan.writes == (("platform:x.items[1].n", "c"),)


def test_plan_refuses_to_create_an_empty_list_it_cannot_write() -> None:
    with pytest.raises(DeployError, match=r"services\[0\]\.secrets = an empty list"):
        plan_config_writes(
            {"platform:app": {"services": [{"name": "a"}]}},
            {"platform:app": {"services": [{"name": "a", "secrets": []}]}},
        )


def test_plan_keeps_numbers_written_as_text_idempotent() -> None:
    # A float with a fraction is stored as "0.99"; writing 0.99 again changes nothing.
    plan = plan_config_writes(
        {"platform:delivery": {"analysis": {"min": "0.99", "max": 0.5}}},
        {"platform:delivery": {"analysis": {"min": 0.99, "max": 0.5}}},
    )

    assert plan.writes == () and plan.removals == ()


def test_plan_clears_a_scalar_before_writing_a_map_through_it() -> None:
    plan = plan_config_writes({"platform:x": {"a": "text"}}, {"platform:x": {"a": {"b": 1}}})

    assert plan.removals == ("platform:x.a",)
    assert plan.writes == (("platform:x.a.b", "1"),)


def test_plan_quotes_keys_that_are_not_plain_names() -> None:
    plan = plan_config_writes({}, {"platform:app": {"env": {"feature.flag": "on"}}})

    assert plan.writes == (('platform:app.env["feature.flag"]', "on"),)


def test_set_config_refuses_keys_outside_the_platform_namespace(fake: FakeCli) -> None:
    with pytest.raises(DeployError, match="'aws:region' is not a platform setting"):
        fake.stack().set_config({"aws:region": "us-west-2"})


# Preview and up


def test_preview_passes_every_policy_pack_with_the_stacks_config(fake: FakeCli) -> None:
    fake.scenario(events=[])

    fake.stack().preview(lambda line: None)

    [argv] = fake.argvs("preview")
    pairs = list(itertools.pairwise(argv))
    packs = [value for flag, value in pairs if flag == "--policy-pack"]
    configs = [value for flag, value in pairs if flag == "--policy-pack-config"]
    assert packs == [str(p) for p in fake.packs]
    assert configs == [str(fake.pack_config)] * 2
    assert fake.pack_config is not None and fake.pack_config.name == "dev.json"


def test_config_overrides_reach_preview_and_up_through_a_config_file_not_the_stack_file(
    fake: FakeCli,
) -> None:
    update = {
        "kind": "update", "startTime": "2025-01-01T10:00:00.000Z",
        "endTime": "2025-01-01T10:02:00.000Z", "message": "platformctl bootstrap",
        "environment": {}, "config": {}, "result": "succeeded", "version": 1,
        "resourceChanges": {"create": 1},
    }  # fmt: skip
    fake.scenario(events=[], outputs={}, history=[update])
    before = (fake.project / "Pulumi.dev.yaml").read_bytes()
    stack = AutomationStack(
        fake.project, "dev", policy_packs=fake.packs, policy_pack_config=fake.pack_config,
        env={"FAKE_PULUMI_STATE": str(fake.state)},
        config_overrides={"platform:deployPhase": "foundation"},
    )  # fmt: skip

    stack.preview(lambda line: None)
    stack.up(lambda line: None, "platformctl bootstrap")

    for command in ("preview", "up"):
        [argv] = fake.argvs(command)
        given = dict(itertools.pairwise(argv))["--config-file"]
        assert not Path(given).exists()  # removed when the command ended
        seen = yaml.safe_load((fake.state / f"config-file-{command}.yaml").read_text())
        assert seen["config"] == {**fake.stack_file(), "platform:deployPhase": "foundation"}
    assert (fake.project / "Pulumi.dev.yaml").read_bytes() == before
    # Without overrides the stack file is the CLI's own.
    fake.stack().preview(lambda line: None)
    assert "--config-file" not in fake.argvs("preview")[-1]


def test_preview_turns_engine_events_into_progress_changes_and_findings(fake: FakeCli) -> None:
    ingress = "kubernetes:networking.k8s.io/v1:Ingress"
    cluster = "aws:rds/cluster:Cluster"
    violation = {
        "policyEvent": {
            "message": "Storage of the cluster is not encrypted.\nSet storageEncrypted.",
            "color": "never",
            "policyName": "rds-storage-encrypted",
            "policyPackName": "security",
            "policyPackVersion": "0.1.0",
            "policyPackVersionTag": "0.1.0",
            "enforcementLevel": "mandatory",
            "resourceUrn": f"urn:pulumi:dev::platform::{cluster}::database-cluster",
        }
    }
    fake.scenario(
        events=[
            step("create", "database-cluster", cluster),
            step("update", "chat-api-ingress", ingress, diffs=["metadata"]),
            step("create-replacement", "cache", "aws:elasticache/replicationGroup:ReplicationGroup",
                 keys=["engine"], old={"type": "x", "urn": "u", "id": "i", "parent": "",
                                       "provider": "", "protect": True}),
            step("replace", "cache", "aws:elasticache/replicationGroup:ReplicationGroup",
                 keys=["engine"]),
            step("same", "vpc", "aws:ec2/vpc:Vpc"),
            violation,
        ],
        fail={"preview": {"stderr": "error: preview failed", "code": 255}},
    )  # fmt: skip
    lines: list[str] = []

    outcome = fake.stack().preview(lines.append)

    assert lines[:3] == [
        f"  + create {cluster} database-cluster",
        f"  ~ update {ingress} chat-api-ingress [metadata]",
        "  +- replace aws:elasticache/replicationGroup:ReplicationGroup cache [engine] (protected)",
    ]
    assert lines[3] == (
        f"  ✗ mandatory security/rds-storage-encrypted on urn:pulumi:dev::platform::{cluster}"
        "::database-cluster: Storage of the cluster is not encrypted. Set storageEncrypted."
    )
    assert outcome.counts() == {"create": 1, "update": 1, "replace": 1, "same": 1}
    replaced = next(c for c in outcome.changes if c.operation == "replace")
    assert replaced.protected and replaced.changed_inputs == ("engine",)
    [blocking] = outcome.blocking
    assert (blocking.policy_pack, blocking.policy_name) == ("security", "rds-storage-encrypted")


def test_up_passes_the_message_and_hides_secret_outputs(fake: FakeCli) -> None:
    fake.scenario(
        events=[step("update", "chat-api-blue", "kubernetes:apps/v1:Deployment", diffs=["spec"])],
        outputs={"kubeconfig": "apiVersion: v1 ...", "releases": {"chat-api": {"live": "blue"}}},
        secretOutputs=["kubeconfig"],
        history=[
            {
                "kind": "update",
                "startTime": "2025-01-01T10:00:00.000Z",
                "endTime": "2025-01-01T10:02:00.000Z",
                "message": "release chat-api 1.5.0 step 2",
                "environment": {},
                "config": {},
                "result": "succeeded",
                "version": 7,
                "resourceChanges": {"update": 1},
            }
        ],
    )

    outcome = fake.stack().up(lambda line: None, "release chat-api 1.5.0 step 2")

    [argv] = fake.argvs("up")
    assert argv[argv.index("--message") + 1] == "release chat-api 1.5.0 step 2"
    assert "--policy-pack" in argv
    assert outcome.outputs == {"kubeconfig": "[secret]", "releases": {"chat-api": {"live": "blue"}}}
    assert [c.changed_inputs for c in outcome.changes] == [("spec",)]


def test_history_and_outputs_never_show_secrets(fake: FakeCli) -> None:
    fake.scenario(
        outputs={"kubeconfig": "token text"},
        secretOutputs=["kubeconfig"],
        history=[
            {
                "kind": "update",
                "startTime": "2025-01-01T10:00:00.000Z",
                "message": "m",
                "environment": {"exec.kind": "auto.local"},
                "config": {"platform:alertToken": {"secret": True}},
                "result": "failed",
                "version": 3,
            }
        ],
    )
    stack = fake.stack()

    assert stack.outputs() == {"kubeconfig": "[secret]"}
    [entry] = stack.history(5)
    assert entry == {
        "version": 3,
        "kind": "update",
        "result": "failed",
        "message": "m",
        "startTime": "2025-01-01T10:00:00Z",
        "endTime": None,
        "resourceChanges": {},
    }
    [argv] = fake.argvs("stack", "history")
    assert "--show-secrets" not in argv and argv[argv.index("--page-size") + 1] == "5"


def test_cancel_asks_the_cli_to_cancel_this_stack(fake: FakeCli) -> None:
    fake.stack().cancel()

    [argv] = fake.argvs("cancel")
    assert "--yes" in argv and argv[argv.index("--stack") + 1] == "dev"


# The CLI's failures, translated


def test_a_locked_stack_says_another_update_runs_and_how_to_cancel(fake: FakeCli) -> None:
    fake.scenario(
        fail={"preview": {"stderr": "error: [409] Conflict: Another update is currently in "
                                    "progress.", "code": 255}}
    )  # fmt: skip

    with pytest.raises(DeployError) as raised:
        fake.stack().preview(lambda line: None)

    message = str(raised.value)
    assert "stack dev is locked: another update is running" in message
    assert "pulumi cancel --yes --stack dev" in message


def test_a_locked_file_backend_stack_is_reported_the_same_way(fake: FakeCli) -> None:
    stderr = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other "
        "process(es) to end or delete the lock file with `pulumi cancel`."
    )
    fake.scenario(fail={"up": {"stderr": stderr}})

    with pytest.raises(DeployError, match="stack dev is locked"):
        fake.stack().up(lambda line: None, "m")


def test_missing_aws_credentials_are_named_with_what_to_do(fake: FakeCli) -> None:
    stdout = (
        "error: pulumi:providers:aws resource 'default_7_0_0' has a problem: No valid "
        "credential sources found.\n  Please see https://www.pulumi.com/registry/packages/aws/"
    )
    fake.scenario(fail={"preview": {"stdout": stdout, "stderr": "error: preview failed"}})

    with pytest.raises(DeployError) as raised:
        fake.stack().preview(lambda line: None)

    message = str(raised.value)
    assert message.startswith("AWS credentials for stack dev are missing or expired")
    assert "No valid credential sources found" in message
    assert "aws sso login" in message and "--offline" in message


def test_a_missing_passphrase_names_the_variable_to_set(fake: FakeCli) -> None:
    stderr = (
        "error: getting stack configuration: get stack secrets manager: passphrase must be set "
        "with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
    )
    fake.scenario(fail={"config": {"stderr": stderr}})

    with pytest.raises(DeployError, match="export PULUMI_CONFIG_PASSPHRASE"):
        fake.stack().read_config()


def test_other_cli_failures_show_the_clis_error_lines(fake: FakeCli) -> None:
    fake.scenario(fail={"stack output": {"stderr": "warning: x\nerror: backend unreachable"}})

    with pytest.raises(DeployError) as raised:
        fake.stack().outputs()

    assert str(raised.value) == (
        "pulumi could not read the outputs of stack dev: error: backend unreachable"
    )


# Translation on constructed objects


def test_stack_not_found_error_says_how_to_create_the_stack() -> None:
    result = CommandResult(stdout="", stderr="error: no stack named 'prod' found", code=255)
    error = auto_errors.create_command_error(result)
    assert isinstance(error, auto_errors.StackNotFoundError)

    translated = translate_error(
        error, stack="prod", action="select", backend="s3://b", project_dir=Path("/p")
    )

    assert "stack prod does not exist in the backend s3://b" in str(translated)
    assert "pulumi stack init prod" in str(translated)


# Backend URLs in errors: no credentials, no query string

S3_BACKEND = "s3://state-bucket/platform?region=eu-west-1&awssdk=v2&profile=deployer"
HTTP_BACKEND = "https://alice:pul-t0ken@pulumi.example.com/acme?access_token=abc123"
BACKEND_SECRETS = ("region=", "awssdk", "profile=deployer", "alice", "pul-t0ken", "abc123")


def assert_no_backend_secrets(message: str) -> None:
    for secret in BACKEND_SECRETS:
        assert secret not in message, f"{secret!r} shown in {message!r}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (S3_BACKEND, "s3://state-bucket/platform"),
        (HTTP_BACKEND, "https://pulumi.example.com/acme"),
        ("postgres://u:p/w?d@db:5432/state?sslmode=require", "postgres://db:5432/state"),
        ("azblob://state#part", "azblob://state"),
        ("https://api.pulumi.com", "https://api.pulumi.com"),
        ("file:///srv/project/.pulumi-state", "file:///srv/project/.pulumi-state"),
    ],
)
def test_a_backend_url_is_shown_without_credentials_or_query(url: str, shown: str) -> None:
    assert shown_backend_url(url) == shown


@pytest.mark.parametrize("backend", [S3_BACKEND, HTTP_BACKEND])
def test_errors_naming_the_backend_show_it_without_credentials_or_query(backend: str) -> None:
    missing = auto_errors.create_command_error(
        CommandResult(stdout="", stderr="error: no stack named 'prod' found", code=255)
    )
    locked = auto_errors.ConcurrentUpdateError(
        CommandResult(stdout="", stderr="error: [409] Conflict: Another update", code=255)
    )
    passphrase = auto_errors.CommandError(
        CommandResult(stdout="", stderr="error: PULUMI_CONFIG_PASSPHRASE is not set", code=255)
    )
    for error in (missing, locked, passphrase):
        translated = translate_error(
            error, stack="prod", action="select", backend=backend, project_dir=Path("/p")
        )

        message = str(translated)
        assert shown_backend_url(backend) in message
        assert_no_backend_secrets(message)


def test_the_clis_words_quoting_the_backend_lose_its_credentials_and_query(
    fake: FakeCli,
) -> None:
    # The CLI quotes the URL as it parsed it, which need not be the text it was given.
    stderr = (
        "error: problem logging in: could not reach "
        "https://alice:pul-t0ken@pulumi.example.com/acme/?access_token=abc123: 401 (retry later)"
    )
    fake.scenario(fail={"stack output": {"stderr": stderr}})

    with pytest.raises(DeployError) as raised:
        fake.stack(PULUMI_BACKEND_URL=HTTP_BACKEND).outputs()

    message = str(raised.value)
    assert "could not reach https://pulumi.example.com/acme/: 401 (retry later)" in message
    assert_no_backend_secrets(message)


def test_an_unexpected_failure_quoting_the_backend_loses_its_secrets() -> None:
    failure = RuntimeError(f"cannot open {S3_BACKEND}: bucket not found")

    translated = translate_error(
        failure, stack="dev", action="select", backend=S3_BACKEND, project_dir=Path("/p")
    )

    assert str(translated) == (
        "could not select stack dev: RuntimeError: cannot open s3://state-bucket/platform: "
        "bucket not found"
    )


def test_program_exceptions_show_their_last_line_not_the_traceback() -> None:
    lines: list[str] = []
    events = EngineEventTranslator(lines.append)
    message = (
        "Program failed with an unhandled exception:\nTraceback (most recent call last):\n"
        '  File "infra/__main__.py", line 3, in <module>\nValueError: bad setting\n'
    )

    events.on_event(
        EngineEvent.from_json(
            {"diagnosticEvent": {"message": message, "color": "never", "severity": "error"}}
        )
    )

    assert lines == ["  error: ValueError: bad setting"]
    assert events.errors == ["error: ValueError: bad setting"]


def test_a_broken_progress_callback_does_not_kill_the_event_reader() -> None:
    def broken(line: str) -> None:
        raise BrokenPipeError("stdout closed")

    events = EngineEventTranslator(broken)

    events.on_event(EngineEvent.from_json(step("create", "a", "aws:s3/bucket:Bucket")))

    assert events.failure == "BrokenPipeError: stdout closed"


def test_the_adapter_is_a_stack_port(fake: FakeCli) -> None:
    port: StackPort = fake.stack()
    assert port.name == "dev"


def test_credentials_from_the_environment_stay_out_of_the_workspace(
    fake: FakeCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wiring hands the whole environment over; the CLI inherits it anyway, and the
    # workspace's repr (shown by any debugger or log of the Stack) must not carry it.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-example")
    stack = fake.stack(**os.environ)

    stack.read_config()

    assert stack._stack is not None
    assert "wJalrXUtnFEMI-example" not in repr(stack._stack.workspace)
