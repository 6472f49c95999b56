"""The release driver: performs the state machine's steps against a stack.

Every step is written to the ledger before it runs and after it ends; every wait polls the
ledger's command queue, so an abort, pause or promote-now takes effect at once. Decisions
come from :mod:`platformctl.machine`; the driver only acts on the world and reports.

The driver is one class built in layers, each a module small enough to read at once:
``driver_base`` (settings, stack file, record) < ``driver_acts`` (up, ALB checks, waits that
take commands) < ``driver_reviews`` (the AI review's gates) < ``driver_steps`` (one method
per step) < ``driver_rollback`` < this module (the entry points and the loop).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from platformctl import machine
from platformctl.blob_store import StopDriving
from platformctl.commands import CommandResult, send_command
from platformctl.driver_acts import Interrupted
from platformctl.driver_rollback import DriverRollback
from platformctl.machine import Transition
from platformctl.ports import DeployError
from platformctl.record import TERMINAL, Phase, ReleaseRecord, StepKind


class ReleaseDriver(DriverRollback):
    def start(
        self,
        image: str,
        *,
        strategy: str | None = None,
        on_failure: str | None = None,
        approvals: tuple[dict[str, Any], ...] = (),
    ) -> ReleaseRecord:
        ledger, stack = self.world.ledger, self.world.stack.name
        self._reviews.check_model()
        # A watched alarm that does not exist stops the release before anything is written.
        self._guards().check()
        wait = self.world.lease_wait_seconds
        with self._holding(f"release {image}", wait), self._flushing():
            current = ledger.read(stack, self.service)
            if current is not None and (not current.terminal or current.phase is Phase.FAILED):
                raise DeployError(
                    f"release {current.id} of {self.service} on {stack} is {current.phase.value}"
                    f" at step {current.step_index + 1}/{len(current.steps)}; finish it first "
                    f"(platformctl resume|rollback|abort {stack} {self.service})"
                )
            self._refuse_stale_stack_file()
            record = self._new_record(image, strategy, on_failure, approvals)
            # Commands queued for earlier releases are history, not instructions.
            record.controls_seen = ledger.control_count(stack, self.service)
            self.record = record
            self._save()
            self._say(f"release {record.id}: {self.service} {image} on {stack} ({record.strategy})")
            return self._drive()

    def resume(self) -> ReleaseRecord:
        """Continues a release a killed or paused process left, from the step it stopped in."""
        with self._holding("resume", self.world.lease_wait_seconds), self._flushing():
            self.record = self._current()
            if self.record.terminal:
                self._say(f"release {self.record.id} is {self.record.phase.value}; nothing to do")
                return self.record
            self._refuse_file_of_another_release()
            if self.record.phase is Phase.PAUSED:
                self._transition(
                    self._detecting(Transition(Phase.PROGRESSING, f"resumed by {self.world.actor}"))
                )
            return self._drive()

    def command(
        self, command: str, reason: str = "", release_id: str | None = None
    ) -> CommandResult:
        """abort, pause, resume, promote-now, approve or rollback, from any process: queued
        for the process driving the release, or carried out here when none is. With
        ``release_id``, only for that release (a command never lands on a later one)."""
        ledger, stack = self.world.ledger, self.world.stack.name
        by = self.world.actor + (f" ({reason})" if reason else "")
        release_id = release_id or self._current().id
        handed = send_command(
            ledger, stack, self.service, command, by, self.world.clock, release_id, reason
        )
        if handed is not None:
            self._say(f"{command} for release {release_id}: {handed.outcome}")
            return CommandResult(handed.record, queued=True, outcome=handed.outcome)
        return self.carry_out(command, by, release_id)

    def carry_out(self, command: str, by: str, release_id: str) -> CommandResult:
        """The command, here: no process drives the release (paused, or its driver died)."""
        stack = self.world.stack.name
        with self._holding(command, self.world.lease_wait_seconds), self._flushing():
            self.record = self._current()
            if self.record.id != release_id:
                raise DeployError(
                    f"release {release_id} is over; the current release of {self.service} "
                    f"on {stack} is {self.record.id} ({self.record.phase.value}): send "
                    f"{command} again if it is meant for that one"
                )
            self._refuse_file_of_another_release()
            # Commands sent before this one (to a process that has since died) come first.
            self._take_commands()
            transition = machine.control(self._record(), command, by)
            if command == "approve" and transition is not None:
                self._approve(by)
            if transition is not None:
                self._transition(self._detecting(transition))
                outcome = "carried out"
            else:
                outcome = f"nothing to change: release is {self._record().phase.value}"
                self._say(f"{command}: {outcome}")
                self._save()
            if self._record().phase in (Phase.PAUSED, *TERMINAL):
                return CommandResult(self._record(), queued=False, outcome=outcome)
            # An interrupted rollback, an approval, promote-now, or a release whose driver
            # died: carry it on here.
            return CommandResult(self._drive(), queued=False, outcome=outcome)

    @contextlib.contextmanager
    def _flushing(self) -> Iterator[None]:
        """Phase events still on their way go out before the lock is let go, and any that
        failed are written to the record."""
        stopped = False
        try:
            yield
        except StopDriving:
            # Nothing more is written: the ledger is another machine's, or unreachable.
            stopped = True
            raise
        finally:
            self._notifier.flush()
            if self.record is not None and not stopped:
                self._save()

    def _drive(self) -> ReleaseRecord:
        while True:
            # Also after the last step: a rollback sent during it is not lost.
            self._take_commands()
            record = self._record()
            if record.terminal or record.phase in (Phase.PAUSED, Phase.AWAITING_APPROVAL):
                self._explain_failed_up()
            if record.terminal:
                self._publish()
                return record
            if record.phase is Phase.AWAITING_APPROVAL:
                self._say(
                    f"waiting for approval: {record.last_reason}; continue with "
                    f"platformctl approve {record.stack} {record.service}, or abort"
                )
                return record
            if record.phase is Phase.PAUSED:
                self._say(
                    f"paused: {record.last_reason}; continue with "
                    f"platformctl resume {record.stack} {record.service}"
                )
                return record
            try:
                if record.phase is Phase.ROLLING_BACK:
                    self._roll_back()
                else:
                    self._transition(self._perform())
            except Interrupted as interrupted:
                self._transition(self._detecting(interrupted.transition))

    def _perform(self) -> Transition:
        record = self._record()
        step = record.step
        assert step is not None
        if record.step_started_at is None:
            record.step_started_at = self.world.clock.now()
        record.events.append({"at": self.world.clock.now(), "step": step.label(), "started": True})
        self._save()
        self._say(f"step {record.step_index + 1}/{len(record.steps)}: {step.label()}")
        perform = {
            StepKind.DEPLOY: self._deploy,
            StepKind.WAIT_READY: self._wait_ready,
            StepKind.PRE_ROLLOUT: self._pre_rollout,
            StepKind.SET_WEIGHT: self._set_weight,
            StepKind.ANALYSE: self._analyse,
            StepKind.CONFIRM: self._confirm,
            StepKind.PROMOTE: self._promote,
            StepKind.SCALE_DOWN: self._scale_down,
        }[step.kind]
        try:
            return perform()
        except StopDriving:
            raise
        except DeployError as error:
            # A permission refused, config that could not be written: the step failed, and
            # whatever it had applied is undone like any other failure.
            self._record().detected_at = self.world.clock.now()
            return machine.step_failed(self._record(), "fail", f"{step.label()} failed: {error}")
