"""docs/releases/state-machine.md is what platformctl/machine.py decides, read back from it."""

from __future__ import annotations

import textwrap

from platformctl import machine
from platformctl.machine_reference import PAGE, command_table, driver_transitions, page
from platformctl.record import PHASE_MEANINGS, STEP_MEANINGS, Phase, StepKind
from tests.conftest import REPOSITORY


def test_the_state_machine_page_is_what_the_machine_decides():
    written = (REPOSITORY / PAGE).read_text()
    assert written == page(REPOSITORY), (
        "docs/releases/state-machine.md is stale: run python -m platformctl.machine_reference"
    )


def test_every_phase_and_step_kind_is_explained():
    assert set(PHASE_MEANINGS) == set(Phase)
    assert set(STEP_MEANINGS) == set(StepKind)


def test_the_command_table_changes_when_the_machine_does(monkeypatch):
    before = command_table()
    original = machine.control

    def pause_refused(record, command, by):
        return None if command == "pause" else original(record, command, by)

    monkeypatch.setattr(machine, "control", pause_refused)
    after = command_table()
    assert before != after
    progressing = next(line for line in after.splitlines() if line.startswith("| Progressing"))
    assert progressing.split(" | ")[2] == "-"


def test_a_transition_the_driver_makes_itself_is_found_in_its_source(tmp_path):
    (tmp_path / "platformctl").mkdir()
    (tmp_path / "platformctl" / "driver_new.py").write_text(
        textwrap.dedent(
            """
            class DriverNew:
                def _quarantine(self):
                    return Transition(Phase.PAUSED, "held for inspection")

                def _roll_back(self):
                    return Transition(Phase.FAILED, "could not restore")
            """
        )
    )
    assert driver_transitions(tmp_path) == {
        ("Progressing", "Paused"): ["quarantine"],
        ("RollingBack", "Failed"): ["roll back"],
    }


def test_the_shipped_driver_rejects_and_fails_a_release_where_the_page_says():
    edges = driver_transitions(REPOSITORY)
    assert ("Progressing", "Rejected") in edges
    assert ("RollingBack", "Failed") in edges
