"""The ledger outlives the process and the machine, on local files and on S3 alike: one
holder per stack's lease, a lease that dies with its holder or expires with a lost runner,
commands from several processes that all arrive once, and a killed release that another
machine resumes where it stopped."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from platformctl.blob_store import FileStore, S3Store
from platformctl.lease import DEFAULT_LEASE_SECONDS, LeaseHeld, LeaseLost
from platformctl.ledger import Control, Ledger
from platformctl.ledger_location import ledger_store
from platformctl.ports import DeployError
from platformctl.record import Phase
from tests.conftest import REPOSITORY
from tests.release_world import (
    FAST_ANALYSIS,
    FAST_DELIVERY,
    ledger_at,
    make_project,
    release_world,
)
from tests.s3_ledger import S3_ENV

PYTHON = [sys.executable, "-c"]
ENV = {**os.environ, **S3_ENV, "PYTHONPATH": str(REPOSITORY)}


class SteppedClock:
    def __init__(self) -> None:
        self.time = 1_800_000_000.0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += seconds


def hold_lease(url: str, host: str, seconds: float) -> subprocess.Popen[str]:
    script = textwrap.dedent(f"""
        import time
        from platformctl.ledger import Ledger
        from platformctl.ports import DeployError
        from tests.release_world import ledger_at
        try:
            ledger = Ledger(ledger_at({url!r}), host={host!r})
            with ledger.lease("prod", "release 9.9.9", service="chat-api", by="ci"):
                print("held", flush=True)
                time.sleep({seconds})
        except DeployError as error:
            print("refused:", error, flush=True)
    """)
    return subprocess.Popen([*PYTHON, script], env=ENV, stdout=subprocess.PIPE, text=True)


def test_two_machines_racing_for_a_stacks_lease_get_one_and_the_loser_names_the_holder(
    ledger_url,
):
    racers = [hold_lease(ledger_url, f"runner-{n}", 3) for n in (1, 2)]
    answers = sorted(p.communicate(timeout=60)[0].strip() for p in racers)
    assert answers[0] == "held"
    assert answers[1].startswith("refused: the stack is held by ci: pid ")
    winner = next(n for n, p in zip((1, 2), racers, strict=True) if f"runner-{n}" in answers[1])
    assert f"on runner-{winner} (release 9.9.9" in answers[1]


def test_the_lease_dies_with_its_holder_on_this_machine(ledger_url):
    holder = hold_lease(ledger_url, os.uname().nodename, 60)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    ledger = Ledger(ledger_at(ledger_url))
    assert f"pid {holder.pid} on" in (ledger.holder("prod") or "")
    refused = pytest.raises(LeaseHeld, match=rf"pid {holder.pid} .*release 9\.9\.9")
    with refused, ledger.lease("prod", "another release"):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert ledger.holder("prod") is None
    with ledger.lease("prod", "after the kill", by="oncall") as lease:
        assert lease.took_over_from is not None and lease.took_over_from.pid == holder.pid
        assert f"pid {os.getpid()} " in (ledger.holder("prod") or "")
    assert ledger.holder("prod") is None


def test_a_lease_left_by_a_lost_runner_is_free_only_once_it_expires(ledger_url):
    clock = SteppedClock()
    lost = Ledger(ledger_at(ledger_url), clock=clock, host="runner-1")
    other = Ledger(ledger_at(ledger_url), clock=clock, host="runner-2")
    with contextlib.ExitStack() as runner:
        held = runner.enter_context(lost.lease("prod", "release 2.0.0", by="ci"))
        # The runner vanishes: nobody releases the lease (kept referenced, never closed).
        vanished = runner.pop_all()
    clock.time += DEFAULT_LEASE_SECONDS - 1
    refused = pytest.raises(LeaseHeld, match=r"held by ci: pid \d+ on runner-1 \(release 2\.0")
    with refused, other.lease("prod", "resume", by="oncall"):
        pass
    clock.time += 2
    with other.lease("prod", "resume", by="oncall") as taken:
        assert taken.terms.epoch == held.terms.epoch + 1
        # The old holder, back from a pause, learns it lost the stack: it stops.
        with pytest.raises(LeaseLost, match=r"taken over .*oncall"):
            held.renew()
    assert any("taken over by oncall" in n["note"] for n in other.notes("prod"))
    assert vanished is not None


def test_a_holder_busy_longer_than_its_lease_keeps_it(ledger_url):
    # A preview or an `up` can outlast the lease: the holder renews from a thread meanwhile.
    ledger = Ledger(ledger_at(ledger_url), lease_seconds=0.9)
    other = Ledger(ledger_at(ledger_url), host="runner-2", lease_seconds=0.9)
    with ledger.lease("prod", "up") as lease:
        time.sleep(2.5)  # busy, not renewing from this thread: three lease periods
        lease.confirm()
        with pytest.raises(LeaseHeld), other.lease("prod", "resume"):
            pass
    assert lease.terms.renewed_at > lease.terms.acquired_at


def test_a_holder_back_from_a_pause_longer_than_its_lease_refuses_to_apply(tmp_path):
    clock = SteppedClock()
    ledger = Ledger(tmp_path, clock=clock)
    with ledger.lease("prod", "up") as lease:
        clock.time += DEFAULT_LEASE_SECONDS + 1
        with pytest.raises(LeaseLost, match="was not running to renew it"):
            lease.confirm()


def test_commands_from_many_processes_all_arrive_once(ledger_url):
    script = textwrap.dedent(f"""
        import sys
        from platformctl.ledger import Control, Ledger
        from tests.release_world import ledger_at
        ledger = Ledger(ledger_at({ledger_url!r}))
        for n in range(100):
            control = Control("pause", f"p{{sys.argv[1]}}-{{n}}", 0.0, "x" * 200)
            ledger.send("prod", "chat-api", control)
    """)
    writers = [subprocess.Popen([*PYTHON, script, str(i)], env=ENV) for i in range(4)]
    assert all(w.wait(timeout=120) == 0 for w in writers)
    ledger = Ledger(ledger_at(ledger_url))
    controls = ledger.controls("prod", "chat-api", 0)
    assert len(controls) == 400
    assert len({c.by for c in controls}) == 400
    assert ledger.controls("prod", "chat-api", 398) == controls[398:]
    # Each process's own commands keep their order.
    mine = [c.by for c in controls if c.by.startswith("p2-")]
    assert mine == [f"p2-{n}" for n in range(100)]


def test_asking_who_holds_the_lease_never_makes_taking_it_fail(ledger_url):
    ledger = Ledger(ledger_at(ledger_url))
    asker = Ledger(ledger_at(ledger_url))
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            asker.holder("prod")

    thread = threading.Thread(target=keep_asking)
    thread.start()
    try:
        for _ in range(60):
            with ledger.lease("prod", "release"):
                pass
    finally:
        stop.set()
        thread.join()
    assert ledger.holder("prod") is None


def test_a_write_interrupted_before_its_rename_leaves_the_previous_record(tmp_path, monkeypatch):
    world = release_world(tmp_path)
    world.clock.at(10, lambda: world.world.ledger.send("dev", "chat-api", Control("pause", "x", 0)))
    record = world.driver().start("1.5.0")
    ledger = world.world.ledger

    def killed_before_rename(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed_before_rename)
    changed = replace(record, image="9.9.9")
    with pytest.raises(KeyboardInterrupt):
        ledger.write(changed)
    monkeypatch.undo()
    assert ledger.read("dev", "chat-api") == record
    path = tmp_path / "ledger" / "dev" / "releases" / "chat-api.json"
    path.write_text("{broken")
    with pytest.raises(DeployError, match=r"unreadable .* move it aside"):
        ledger.read("dev", "chat-api")


def test_every_revision_of_a_record_is_kept_and_none_is_rewritten(ledger_url, tmp_path):
    world = release_world(tmp_path, ledger_url=ledger_url)
    record = world.driver().start("1.5.0")
    ledger = Ledger(ledger_at(ledger_url))
    revisions = ledger.revisions("dev", "chat-api", record.id)
    assert [r.revision for r in revisions] == list(range(1, record.revision + 1))
    assert revisions[0].phase is Phase.PROGRESSING and revisions[-1] == record
    with pytest.raises(DeployError, match="exists already"):
        ledger.write(replace(revisions[2], revision=2))
    assert ledger.revisions("dev", "chat-api", record.id)[2] == revisions[2]


def test_where_the_ledger_lives(tmp_path):
    def client(region, endpoint):
        return ("client", region, endpoint)

    def store(backend, environ=None):
        return ledger_store(tmp_path, backend, environ or {}, client_for=client)

    local = store("file:///srv/state")
    assert isinstance(local, FileStore) and local.directory == Path("/srv/state/releases")
    assert store(None).location == str(tmp_path / ".pulumi-state" / "releases")
    beside = store("s3://state-bucket/platform?region=eu-west-1")
    assert isinstance(beside, S3Store)
    assert beside.location == "s3://state-bucket/platform/platform-ledger/"
    assert beside._client == ("client", "eu-west-1", None)
    named = store(
        "s3://state-bucket", {"PLATFORM_LEDGER_URL": "s3://other/ledger?endpoint=http://x"}
    )
    assert isinstance(named, S3Store) and named.location == "s3://other/ledger/"
    assert named._client == ("client", None, "http://x")
    with pytest.raises(DeployError, match="PLATFORM_LEDGER_URL") as refused:
        store("https://ci:tok3n@state.example.com/org?key=s3cret")
    assert "https://state.example.com/org is neither S3" in str(refused.value)
    assert "tok3n" not in str(refused.value) and "s3cret" not in str(refused.value)
    with pytest.raises(DeployError) as bad:
        store(None, {"PLATFORM_LEDGER_URL": "gs://bucket/ledger"})
    assert str(bad.value) == (
        "PLATFORM_LEDGER_URL = 'gs://bucket/ledger': not a ledger location; allowed: "
        "s3://bucket/prefix (optionally ?region=…&endpoint=…) or file:///absolute/path"
    )


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from tests.release_world import FAST_DELIVERY, release_world

    ups = []

    def die_during_the_third_release_step(operation):
        if operation == "up":
            ups.append(operation)
            if len(ups) == 4:  # initial deployment, deploy, 25%, then the 100% step
                os.kill(os.getpid(), signal.SIGKILL)

    world = release_world(Path(sys.argv[1]), fault=die_during_the_third_release_step,
                          ledger_url=sys.argv[2], host="runner-1")
    world.driver().start("1.5.0")
""")


def test_a_release_killed_mid_step_is_resumed_by_another_machine_once_its_lease_expires(
    tmp_path, ledger_url
):
    killed = subprocess.run([*PYTHON, KILLED_RUN, str(tmp_path), ledger_url], env=ENV,
                            timeout=300)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    world = release_world(tmp_path, reopen=True, ledger_url=ledger_url, host="runner-2")
    record = world.world.ledger.read("dev", "chat-api")
    assert record is not None and record.phase is Phase.PROGRESSING
    assert record.step is not None and record.step.label() == "set-weight 100%"
    # The lost runner's lease still holds the stack, until it expires.
    assert "on runner-1 (release 1.5.0" in (world.world.ledger.holder("dev") or "")
    with pytest.raises(DeployError, match=r"held by .* on runner-1"):
        world.driver().resume()
    world.clock.time += DEFAULT_LEASE_SECONDS + 60
    with pytest.raises(DeployError, match=f"release {record.id} .* Progressing"):
        world.driver().start("1.6.0")
    # This machine's checkout is from before the release: the ledger rebuilds it.
    fresh = make_project(tmp_path / "checkout", "dev", FAST_DELIVERY)
    world.stack._file.write_text((fresh / "Pulumi.dev.yaml").read_text())
    assert "image: 1.5.0" not in world.stack._file.read_text()
    resumed = world.driver().resume()
    assert resumed.phase is Phase.SUCCEEDED, json.dumps(resumed.events[-3:])
    messages = [u["message"].split(": ", 1)[1] for u in world.ups()[1:]]
    assert messages == ["set-weight 100%", "promote", "scale-down 120s"]
    assert world.release()["live"] == "green" and world.release()["green"]["image"] == "1.5.0"
    assert any("lease" in e and "runner-1" in e["lease"] for e in resumed.events)


def test_a_command_to_a_running_release_reports_whether_it_was_carried_out(tmp_path, ledger_url):
    from platformctl.commands import send_command
    from platformctl.world import SystemClock

    world = release_world(tmp_path, delivery={**FAST_DELIVERY, "stepBakeSeconds": 600,
                          "analysis": FAST_ANALYSIS}, ledger_url=ledger_url)  # fmt: skip
    world.world.clock = SystemClock()
    world.world.poll_seconds = 0.05
    outcome: list[Phase] = []
    runner = threading.Thread(target=lambda: outcome.append(world.driver().start("1.5.0").phase))
    runner.start()
    # Another machine's view of the same ledger.
    ledger, clock = Ledger(ledger_at(ledger_url)), SystemClock()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = ledger.read("dev", "chat-api")
        if record is not None and record.step is not None and record.step.label() == "analyse 600s":
            break
        time.sleep(0.05)
    assert record is not None
    ignored = send_command(ledger, "dev", "chat-api", "approve", "ops", clock, record.id)
    assert ignored is not None and ignored.outcome == "ignored: release is Progressing"
    taken = send_command(ledger, "dev", "chat-api", "abort", "ops", clock, record.id)
    assert taken is not None and taken.outcome == "carried out"
    runner.join(timeout=120)
    assert outcome == [Phase.ABORTED]
    # Nobody drives it any more: the caller carries a command out itself, for its release only.
    assert send_command(ledger, "dev", "chat-api", "abort", "ops", clock, "1") is None
    with pytest.raises(DeployError, match="release 1 is over"):
        world.driver().carry_out("abort", "ops", "1")
