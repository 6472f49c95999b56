"""One ledger for every machine: a holder fenced out by a takeover changes nothing more, a
command from another machine reaches a CI-driven release, releases of two services of one
stack are serialized and neither reverts the other, a lost S3 endpoint stops a release
safely, and the stack file follows the ledger."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from platformctl import cli
from platformctl.blob_store import FileStore, StopDriving, StoreUnavailable
from platformctl.cli_ledger import holding_for_up, sync
from platformctl.lease import DEFAULT_LEASE_SECONDS
from platformctl.ledger import Control, Ledger
from platformctl.ledger_location import pulumi_locks
from platformctl.ports import DeployError
from platformctl.record import Phase
from platformctl.wiring import RealWorld
from tests.conftest import REPOSITORY
from tests.release_world import ledger_at, live_weights, release_world
from tests.s3_ledger import S3_ENV, moto_s3, new_bucket, s3_ledger_url

ENV = {**os.environ, **S3_ENV, "PYTHONPATH": str(REPOSITORY)}
BLUE, GREEN = "chat-api-blue", "chat-api-green"


class ShiftedClock:
    """Another machine's view of the same moment, ``shift`` seconds on."""

    def __init__(self, base, shift: float):
        self.base, self.shift = base, shift

    def now(self) -> float:
        return self.base.now() + self.shift

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds)


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.documents: list[dict] = []

    def line(self, text: str) -> None:
        self.lines.append(text)

    def document(self, doc: dict) -> None:
        self.documents.append(doc)


def test_a_holder_whose_lease_was_taken_over_writes_nothing_more_and_applies_no_up(
    tmp_path, ledger_url
):
    world = release_world(tmp_path, ledger_url=ledger_url)
    other = Ledger(
        ledger_at(ledger_url),
        clock=ShiftedClock(world.clock, DEFAULT_LEASE_SECONDS + 1),
        host="runner-2",
    )
    holding = contextlib.ExitStack()
    ups_at_takeover: list[int] = []

    def take_over() -> None:
        holding.enter_context(other.lease("dev", "resume", service="chat-api", by="oncall"))
        ups_at_takeover.append(len(world.ups()))

    world.clock.at(30, take_over)
    with holding, pytest.raises(StopDriving, match=r"taken over|changed by another machine"):
        world.driver().start("1.5.0")
    assert ups_at_takeover and len(world.ups()) == ups_at_takeover[0]
    record = other.read("dev", "chat-api")
    assert record is not None
    revisions = other.revisions("dev", "chat-api", record.id)
    # The takeover's revision is the last one: the old holder wrote nothing after it.
    assert "taken over by oncall" in revisions[-1].events[-1]["lease"]
    assert revisions[-1] == record
    notes = [n["note"] for n in other.notes("dev")]
    assert any("stopped driving chat-api" in n for n in notes)


DRIVEN_RELEASE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from platformctl.world import SystemClock
    from tests.release_world import FAST_ANALYSIS, FAST_DELIVERY, live_weights, release_world

    world = release_world(Path(sys.argv[1]), ledger_url=sys.argv[2], host="ci-runner",
                          delivery={**FAST_DELIVERY, "stepBakeSeconds": 600,
                                    "analysis": FAST_ANALYSIS})
    world.world.clock = SystemClock()
    world.world.poll_seconds = 0.05
    record = world.driver().start("1.5.0")
    print(json.dumps({"phase": record.phase.value, "weights": live_weights(world.stack)}))
""")


@pytest.mark.slow
def test_a_ci_driven_release_is_aborted_from_another_machine_with_an_empty_directory(
    tmp_path, s3_endpoint
):
    bucket = new_bucket(s3_endpoint)
    # The ledger CI uses by default: beside the state, in the state bucket.
    ledger_url = s3_ledger_url(s3_endpoint, bucket, "platform-ledger")
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVEN_RELEASE, str(tmp_path / "ci"), ledger_url],
        env=ENV, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    ledger = Ledger(ledger_at(ledger_url))
    deadline = time.monotonic() + 120
    record = None
    while time.monotonic() < deadline:
        record = ledger.read("dev", "chat-api")
        if record is not None and record.step is not None and record.step.label() == "analyse 600s":
            break
        time.sleep(0.2)
    else:
        driver.kill()
        pytest.fail("the release never reached its bake")
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    backend = f"s3://{bucket}?region=us-east-1&endpoint={s3_endpoint}"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "platformctl"), "abort", "dev", "chat-api", "--reason",
         "bad deploy", "--project-dir", str(laptop), "--json"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPOSITORY), **S3_ENV,
             "PULUMI_BACKEND_URL": backend, "PLATFORM_ACTOR": "erin"},
        cwd=laptop, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == cli.EXIT_OK, done.stderr
    assert json.loads(done.stdout)["outcome"] == "carried out"
    out, _ = driver.communicate(timeout=120)
    final = json.loads(out.strip().splitlines()[-1])
    assert final == {"phase": "Aborted", "weights": {BLUE: 100, GREEN: 0}}
    assert list(laptop.iterdir()) == [], "the laptop kept nothing: the ledger is in S3"
    record = ledger.read("dev", "chat-api")
    assert record is not None and record.phase is Phase.ABORTED
    [command] = ledger.controls("dev", "chat-api", record.controls_seen - 1)
    assert command.by == "erin (bad deploy)" and command.release == record.id
    [taken] = [e for e in record.events if e.get("control") == command.id]
    assert taken["outcome"] == "carried out" and taken["at"] >= command.at
    assert any(e.get("reason") == "abort by erin (bad deploy)" for e in record.events)


TWO_SERVICES = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from platformctl.world import SystemClock
    from tests.release_world import FAST_ANALYSIS, FAST_DELIVERY, release_world

    directory, ledger_url, service, image = sys.argv[1:]
    delivery = {**FAST_DELIVERY, "stepWeights": [50, 100], "stepBakeSeconds": 1,
                "scaleDownDelaySeconds": 0, "analysis": FAST_ANALYSIS}
    world = release_world(Path(directory), ledger_url=ledger_url, host=service,
                          delivery=delivery)
    world.world.clock = SystemClock()
    world.world.poll_seconds = 0.05
    world.world.lease_wait_seconds = 300
    record = world.driver(service).start(image)
    print(json.dumps({"phase": record.phase.value, "started": record.started_at,
                      "finished": record.finished_at}))
""")


@pytest.mark.slow
def test_releases_of_two_services_of_one_stack_are_serialized_and_neither_reverts_the_other(
    tmp_path, s3_endpoint
):
    ledger_url = s3_ledger_url(s3_endpoint, new_bucket(s3_endpoint))
    runs = {
        service: subprocess.Popen(
            [
                sys.executable,
                "-c",
                TWO_SERVICES,
                str(tmp_path / service),
                ledger_url,
                service,
                image,
            ],
            env=ENV,
            stdout=subprocess.PIPE,
            text=True,
        )
        for service, image in (("chat-api", "1.5.0"), ("chat-web", "2.1.0"))
    }
    results = {
        s: json.loads(p.communicate(timeout=600)[0].splitlines()[-1]) for s, p in runs.items()
    }
    assert {r["phase"] for r in results.values()} == {"Succeeded"}
    first, second = sorted(results.values(), key=lambda r: r["started"])
    assert second["started"] >= first["finished"], "one holder of the stack at a time"
    blocks = Ledger(ledger_at(ledger_url)).release_blocks("dev")
    assert (blocks["chat-api"]["live"], blocks["chat-api"]["green"]["image"]) == ("green", "1.5.0")
    assert (blocks["chat-web"]["live"], blocks["chat-web"]["green"]["image"]) == ("green", "2.1.0")
    later = max(results, key=lambda s: results[s]["started"])
    document = yaml.safe_load((tmp_path / later / "project" / "Pulumi.dev.yaml").read_text())
    services = {s["name"]: s["release"] for s in document["config"]["platform:app"]["services"]}
    assert services == {"chat-api": blocks["chat-api"], "chat-web": blocks["chat-web"]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_lost_s3_endpoint_stops_the_release_safely_and_it_resumes_when_s3_is_back(
    tmp_path, s3_endpoint
):
    port = free_port()
    with contextlib.ExitStack() as s3:
        endpoint = s3.enter_context(moto_s3(port))
        world = release_world(tmp_path, ledger_url=s3_ledger_url(endpoint, new_bucket(endpoint)))
        lost: list[tuple[int, dict[str, int]]] = []

        def s3_goes_away() -> None:
            lost.append((len(world.ups()), live_weights(world.stack)))
            s3.close()

        world.clock.at(30, s3_goes_away)
        with pytest.raises(StoreUnavailable, match="could not be reached") as stopped:
            world.driver().start("1.5.0")
    assert f"127.0.0.1:{port}" in str(stopped.value)
    # No traffic change that is not recorded: the weights of the last recorded step hold.
    [(ups, weights)] = lost
    assert len(world.ups()) == ups and live_weights(world.stack) == weights == {BLUE: 75, GREEN: 25}
    with moto_s3(port):
        record = world.world.ledger.read("dev", "chat-api")
        assert record is not None and record.phase is Phase.PROGRESSING
        # This process's lease outlives its stop; once it expires, resume takes over.
        world.clock.time += DEFAULT_LEASE_SECONDS + 1
        resumed = world.driver().resume()
    assert resumed.phase is Phase.SUCCEEDED
    assert live_weights(world.stack) == {BLUE: 0, GREEN: 100}


def test_a_pulumi_lock_left_by_a_lost_up_is_named_with_the_command_that_clears_it(tmp_path):
    world = release_world(tmp_path)
    world.clock.at(10, lambda: world.world.ledger.send("dev", "chat-api", Control("pause", "x", 0)))
    assert world.driver().start("1.5.0").phase is Phase.PAUSED
    # A runner took the stack to resume and vanished mid-`up`: its lease and Pulumi's lock stay.
    lost = Ledger(FileStore(tmp_path / "ledger"), clock=world.clock, host="runner-1")
    vanished = contextlib.ExitStack()
    vanished.enter_context(lost.lease("dev", "resume", service="chat-api", by="ci"))
    state = FileStore(tmp_path / "state")
    lock_key = ".pulumi/locks/organization/platform/dev/8c1e.json"
    lock = {"pid": 4242, "username": "runner", "hostname": "runner-1", "timestamp": "T"}
    state.put(lock_key, json.dumps(lock).encode())
    world.world.pulumi_locks = lambda stack: pulumi_locks(state, "platform", stack)
    world.clock.time += DEFAULT_LEASE_SECONDS + 1
    with pytest.raises(DeployError) as refused:
        world.driver().resume()
    assert str(refused.value) == (
        f"Pulumi's lock {tmp_path}/state/{lock_key} (runner@runner-1 pid 4242 at T) is still "
        "there; if no `up` of dev is running anywhere, clear it with `pulumi cancel --yes "
        "--stack dev`, then run this again"
    )
    assert (tmp_path / "state" / lock_key).exists(), "never removed by platformctl"
    (tmp_path / "state" / lock_key).unlink()
    assert world.driver().resume().phase is Phase.SUCCEEDED
    vanished.pop_all()


def test_up_refuses_a_stack_file_that_disagrees_with_the_ledger_and_sync_rewrites_it(tmp_path):
    world = release_world(tmp_path)
    before = world.stack._file.read_text()
    assert world.driver().start("1.5.0").phase is Phase.SUCCEEDED
    released = world.stack._file.read_text()
    ledger = world.world.ledger
    world.stack._file.write_text(before)  # an older checkout
    with pytest.raises(DeployError) as refused, holding_for_up(ledger, world.stack, "ops", "up", 0):
        pass
    assert "disagrees with the release ledger on the release of chat-api " in str(refused.value)
    assert "allowed: platformctl sync dev" in str(refused.value)
    printed = Lines()
    assert sync(world.stack, ledger, "ops", 0, printed) == 0
    assert printed.lines == ["Pulumi.dev.yaml: release of chat-api from the ledger"]
    assert yaml.safe_load(world.stack._file.read_text()) == yaml.safe_load(released)
    with holding_for_up(ledger, world.stack, "ops", "up", 0) as lease:
        assert lease.terms.purpose == "up"
    sync(world.stack, ledger, "ops", 0, printed)
    assert printed.lines[-1] == "Pulumi.dev.yaml agrees with the ledger"


def status(tmp_path: Path, ledger_url: str, *flags: str) -> int:
    """`platformctl status dev --history` in this process (not main(): it would hand SIGPIPE
    back to its default action, which a later test's closed pipe would turn into a kill)."""
    args = cli.parse_args(["status", "dev", "--history", *flags, "--project-dir", str(tmp_path)])
    environ = {**S3_ENV, "PLATFORM_LEDGER_URL": ledger_url}
    out = cli.Output(args.json)
    return cli.execute(args, out, RealWorld(tmp_path, environ, out.line))


def test_status_history_shows_every_step_of_the_release_from_the_shared_ledger(
    tmp_path, s3_endpoint, capsys
):
    ledger_url = s3_ledger_url(s3_endpoint, new_bucket(s3_endpoint))
    world = release_world(tmp_path, ledger_url=ledger_url)
    record = world.driver().start("1.5.0")
    assert status(tmp_path, ledger_url) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("dev/chat-api: Succeeded 1.5.0 (canary)")
    timeline = [line.split()[2:4] for line in printed[1:] if line.startswith("  r")]
    assert timeline[0] == ["Progressing", "1/8"] and timeline[-1][0] == "Succeeded"
    assert status(tmp_path, ledger_url, "--json") == 0
    [release] = json.loads(capsys.readouterr().out)["releases"]
    assert [r["revision"] for r in release["history"]] == list(range(1, record.revision + 1))
