"""Undoing a release: warm the previous slot when it was scaled down, send traffic back,
confirm it at the ALB, then scale the candidate down. A rollback is never interrupted: an
abort during it only renames its ending."""

from __future__ import annotations

from platformctl import machine
from platformctl.blob_store import StopDriving
from platformctl.driver_steps import DriverSteps
from platformctl.machine import Transition
from platformctl.ports import DeployError
from platformctl.record import Phase


class DriverRollback(DriverSteps):
    def _roll_back(self) -> None:
        record = self._record()
        if record.detected_at is None:
            record.detected_at = self.world.clock.now()
        detected = record.detected_at
        try:
            release = self._release()
            if machine.needs_warm_up(release, record) or record.warm_up_pending:
                # Remembered until its up succeeds: the config alone cannot tell whether the
                # slot it calls warm has ever been started again.
                self._record().warm_up_pending = True
                self._save()
                warm = {
                    **release,
                    record.previous_live: {**release[record.previous_live], "scaledDown": False},
                }
                self._set_release(warm)
                self._up("warm up the previous slot for rollback")
                self._record().warm_up_pending = False
                self._save()
            self._set_release(machine.rollback_config(self._release(), record))
            self._up("rollback: traffic back to " + record.previous_live)
            problem = self._verify(
                self._weights(live=100, candidate=0),
                record.previous_live,
                self.delivery.verify_timeout_seconds,
            )
        except StopDriving:
            raise
        except DeployError as error:
            problem = f"it could not be applied ({error})"
        # A failed confirmation does not move the moment the release was found failing.
        self._record().detected_at = detected
        record = self._record()
        if problem is not None:
            self._transition(
                Transition(
                    Phase.FAILED,
                    f"rollback not confirmed: {problem}; traffic may still reach "
                    f"{record.candidate_slot}: fix the cause, then platformctl rollback "
                    f"{record.stack} {record.service}",
                )
            )
            return
        record.restored_at = self.world.clock.now()
        ending = record.rollback_ends_in or Phase.ROLLED_BACK
        self._transition(
            Transition(
                ending,
                f"traffic restored to {record.previous_live} "
                f"{record.restore_seconds:.2f}s after detection",
            )
        )
        try:
            self._set_release(machine.scale_down_config(self._release(), record.candidate_slot))
            self._up(f"scale-down {record.candidate_slot} after rollback")
        except StopDriving:
            raise
        except DeployError as error:
            self._event(note=f"could not scale down {record.candidate_slot}: {error}")
            self._save()
