"""The ledger outlives the process: records survive a kill, the lock dies with its holder,
commands from several processes all arrive, and a killed release resumes where it stopped."""

from __future__ import annotations

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

from platformctl.ledger import Control, Ledger, ledger_directory
from platformctl.ports import DeployError
from platformctl.record import Phase
from tests.conftest import REPOSITORY
from tests.release_world import FAST_ANALYSIS, FAST_DELIVERY, release_world

PYTHON = [sys.executable, "-c"]
ENV = {**os.environ, "PYTHONPATH": str(REPOSITORY)}


def hold_lock(directory: Path, seconds: float) -> subprocess.Popen[str]:
    script = textwrap.dedent(f"""
        import sys, time
        from platformctl.ledger import Ledger
        from platformctl.ports import DeployError
        try:
            with Ledger({str(directory)!r}).lock("prod", "chat-api", "release 9.9.9"):
                print("locked", flush=True)
                time.sleep({seconds})
        except DeployError as error:
            print("refused:", error, flush=True)
    """)
    return subprocess.Popen([*PYTHON, script], env=ENV, stdout=subprocess.PIPE, text=True)


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path):
    holder = hold_lock(tmp_path, 60)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    ledger = Ledger(tmp_path)
    assert f"pid {holder.pid}" in (ledger.holder("prod", "chat-api") or "")
    refused = pytest.raises(DeployError, match=rf"pid {holder.pid} .*release 9\.9\.9")
    with refused, ledger.lock("prod", "chat-api", "another release"):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert ledger.holder("prod", "chat-api") is None
    with ledger.lock("prod", "chat-api", "after the kill"):
        assert f"pid {os.getpid()} " in (ledger.holder("prod", "chat-api") or "")


def test_two_releases_started_at_once_get_one_lock(tmp_path):
    first, second = hold_lock(tmp_path, 2), hold_lock(tmp_path, 2)
    answers = sorted(p.communicate(timeout=30)[0].strip() for p in (first, second))
    assert answers[0] == "locked"
    assert answers[1].startswith("refused:") and "one release per stack and service" in answers[1]


def test_commands_from_many_processes_all_arrive_whole(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from platformctl.ledger import Control, Ledger
        ledger = Ledger({str(tmp_path)!r})
        for n in range(100):
            control = Control("pause", f"p{{sys.argv[1]}}-{{n}}", 0.0, "x" * 200)
            ledger.send("prod", "chat-api", control)
    """)
    writers = [subprocess.Popen([*PYTHON, script, str(i)], env=ENV) for i in range(4)]
    assert all(w.wait(timeout=60) == 0 for w in writers)
    controls = Ledger(tmp_path).controls("prod", "chat-api", 0)
    assert len(controls) == 400
    assert len({c.by for c in controls}) == 400
    assert Ledger(tmp_path).controls("prod", "chat-api", 398) == controls[398:]


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
    path = tmp_path / "ledger" / "dev" / "chat-api.json"
    path.write_text("{broken")
    with pytest.raises(DeployError, match=r"unreadable .* move it aside"):
        ledger.read("dev", "chat-api")


def test_a_command_line_still_being_written_is_left_for_the_next_look(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.send("prod", "chat-api", Control("pause", "a", 0.0))
    path = tmp_path / "prod" / "chat-api.controls.jsonl"
    with path.open("a") as handle:
        handle.write('{"command": "abort", "by": "b"')
    assert [c.by for c in ledger.controls("prod", "chat-api", 0)] == ["a"]
    with path.open("a") as handle:
        handle.write(', "at": 0.0}\n')
    assert [c.by for c in ledger.controls("prod", "chat-api", 1)] == ["b"]


def test_asking_who_holds_the_lock_never_makes_taking_it_fail(tmp_path):
    ledger = Ledger(tmp_path)
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            ledger.holder("prod", "chat-api")

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        for _ in range(300):
            with ledger.lock("prod", "chat-api", "release"):
                pass
    finally:
        stop.set()
        asker.join()
    assert ledger.holder("prod", "chat-api") is None


def test_the_ledger_lives_beside_a_file_backend_and_must_be_named_for_a_remote_one(tmp_path):
    assert ledger_directory(tmp_path, "file:///srv/state", {}) == Path("/srv/state/releases")
    assert ledger_directory(tmp_path, None, {}) == tmp_path / ".pulumi-state" / "releases"
    custom = {"PLATFORM_LEDGER_DIR": "/mnt/ledger"}
    assert ledger_directory(tmp_path, "s3://bucket/state", custom) == Path("/mnt/ledger")
    with pytest.raises(DeployError, match="PLATFORM_LEDGER_DIR") as refused:
        ledger_directory(tmp_path, "https://ci:tok3n@state.example.com/org?key=s3cret", {})
    assert "https://state.example.com/org is remote" in str(refused.value)
    assert "tok3n" not in str(refused.value) and "s3cret" not in str(refused.value)


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

    world = release_world(Path(sys.argv[1]), fault=die_during_the_third_release_step)
    world.driver().start("1.5.0")
""")


def test_a_release_killed_between_steps_is_refused_to_others_and_resumes_where_it_stopped(
    tmp_path,
):
    killed = subprocess.run([*PYTHON, KILLED_RUN, str(tmp_path)], env=ENV, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    world = release_world(tmp_path, reopen=True)
    record = world.world.ledger.read("dev", "chat-api")
    assert record is not None and record.phase is Phase.PROGRESSING
    assert record.step is not None and record.step.label() == "set-weight 100%"
    assert world.world.ledger.holder("dev", "chat-api") is None
    with pytest.raises(DeployError, match=f"release {record.id} .* Progressing"):
        world.driver().start("1.6.0")
    started = time.time()
    resumed = world.driver().resume()
    assert resumed.phase is Phase.SUCCEEDED, json.dumps(resumed.events[-3:])
    messages = [u["message"].split(": ", 1)[1] for u in world.ups()[1:]]
    assert messages == ["set-weight 100%", "promote", "scale-down 120s"]
    assert time.time() - started < 120
    assert world.release()["live"] == "green"


def test_lock_text_left_by_a_dead_holder_on_another_machine_names_no_holder(tmp_path):
    ledger = Ledger(tmp_path)
    lock_file = tmp_path / "prod" / "chat-api.lock"
    lock_file.parent.mkdir(parents=True)
    lock_file.write_text("pid 4242 on ci-runner-7 (release 2.0.0, since 2026-11-25T09:00:00Z)")
    assert ledger.holder("prod", "chat-api") is None
    with ledger.lock("prod", "chat-api", "resume"):
        assert "(resume, since" in (ledger.holder("prod", "chat-api") or "")


def test_a_command_to_a_running_release_reports_whether_it_was_carried_out(tmp_path):
    from platformctl.commands import send_command
    from platformctl.world import SystemClock

    world = release_world(tmp_path, delivery={**FAST_DELIVERY, "stepBakeSeconds": 600,
                          "analysis": FAST_ANALYSIS})  # fmt: skip
    world.world.clock = SystemClock()
    world.world.poll_seconds = 0.05
    outcome: list[Phase] = []
    runner = threading.Thread(target=lambda: outcome.append(world.driver().start("1.5.0").phase))
    runner.start()
    ledger, clock = world.world.ledger, SystemClock()
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
