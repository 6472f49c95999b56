"""The driver's hands on the world: ``up``, the ALB's confirmation of the weights, and
waits that take the ledger's commands the whole time (an abort never waits for a step)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from platformctl import machine
from platformctl.blob_store import StopDriving
from platformctl.changes import UpOutcome
from platformctl.driver_base import DriverBase
from platformctl.elbv2 import wait_for_traffic
from platformctl.ledger import Control
from platformctl.machine import Transition
from platformctl.ports import Clock, DeployError, TrafficExpectation
from platformctl.record import Phase

VERIFY_INTERVAL_SECONDS = 2.0


class WaitingClock:
    """The driver's clock, with its own wait: commands stay live while the ALB catches up."""

    def __init__(self, clock: Clock, wait: Callable[[float], None]):
        self._clock = clock
        self.sleep = wait

    def now(self) -> float:
        return self._clock.now()


class Interrupted(Exception):
    """A command that changes the phase, taken during a wait: the step stops where it is."""

    def __init__(self, transition: Transition):
        self.transition = transition


class DriverActs(DriverBase):
    def _up(self, why: str) -> UpOutcome:
        record = self._record()
        self._confirm_lease()
        outcome = self.world.stack.up(self.world.progress, f"release {record.id}: {why}")
        changed = [c for c in outcome.changes if c.operation != "same"]
        self._event(up=why, changed=[f"{c.operation} {c.urn}" for c in changed])
        self._save()
        return outcome

    def _up_then(self, then: Callable[[], Transition]) -> Transition:
        record = self._record()
        step = record.step
        label = step.label() if step else "step"
        try:
            self._up(label)
        except StopDriving:
            raise
        except DeployError as error:
            record.detected_at = self.world.clock.now()
            self._failed_up = (label, error)
            return machine.step_failed(record, "fail", f"up failed: {error}")
        return then()

    def _verify(
        self, weights: dict[str, int], healthy_slot: str | None, timeout: int
    ) -> str | None:
        """None when the ALB has the weights in force (or verification is off); otherwise
        why not, after ``timeout`` seconds of looking."""
        if self.world.traffic is None or not self.delivery.verify_target_group:
            return None
        expectation = TrafficExpectation(
            stack=self.world.stack.name,
            namespace=self.service,
            ingress=self.service,
            service=self.service,
            weights=weights,
            healthy_slot_service=self._slot_service(healthy_slot) if healthy_slot else None,
        )
        # The driver's own wait keeps commands live while the ALB catches up.
        waited = wait_for_traffic(
            self.world.traffic, expectation, timeout, VERIFY_INTERVAL_SECONDS,
            WaitingClock(self.world.clock, self._wait),
        )  # fmt: skip
        if waited.check.in_force:
            self._event(verified=waited.check.reason, attempts=waited.attempts)
            return None
        self._record().detected_at = self.world.clock.now()
        return f"the ALB did not confirm the weights within {timeout}s: {waited.check.reason}"

    def _wait(self, seconds: float) -> None:
        """Sleeps, looking at the command queue throughout: commands never wait for a step.
        During a rollback nothing interrupts it: an abort only renames its ending."""
        deadline = self.world.clock.now() + seconds
        while True:
            self._held().keep()
            if self.world.clock.now() >= self._next_look:
                self._take_commands(interrupt=self._record().phase is not Phase.ROLLING_BACK)
            remaining = deadline - self.world.clock.now()
            if remaining <= 0:
                return
            self.world.clock.sleep(min(self.world.poll_seconds, remaining))

    def _take_commands(self, interrupt: bool = False) -> None:
        # One read of the queue per look: at most one a second while waiting (the bound on
        # the ledger's request rate, and on how long a command waits to be seen).
        self._next_look = self.world.clock.now() + self.world.command_poll_seconds
        record = self._record()
        for control in self.world.ledger.controls(
            record.stack, record.service, record.controls_seen
        ):
            record.controls_seen += 1
            sent = f"{control.command} by {control.by}"
            if control.release and control.release != record.id:
                self._taken(control, f"ignored: meant for release {control.release}", sent)
                continue
            transition = machine.control(record, control.command, control.by)
            if transition is None:
                self._taken(control, f"ignored: release is {record.phase.value}", sent)
                continue
            if control.command == "approve":
                self._approve(control.by)
            self._taken(control, "carried out")
            if interrupt:
                raise Interrupted(transition)
            self._transition(self._detecting(transition))
            record = self._record()

    def _taken(self, control: Control, outcome: str, ignored: str | None = None) -> None:
        """Records what became of a command, for the audit trail and for its sender."""
        event: dict[str, Any] = {"control": control.id, "outcome": outcome}
        if ignored is not None:
            event["ignored"] = ignored
        self._event(**event)
        self._save()

    def _detecting(self, transition: Transition) -> Transition:
        """A human's rollback starts the restore clock when it is given; a human's decision
        to go on from a pause leaves no failure pending."""
        record = self._record()
        if transition.phase is Phase.ROLLING_BACK and record.phase is not Phase.ROLLING_BACK:
            record.detected_at = self.world.clock.now()
            record.restored_at = None
        elif record.phase is Phase.PAUSED and transition.phase is Phase.PROGRESSING:
            record.detected_at = None
        return transition

    def _approve(self, by: str) -> None:
        record = self._record()
        approval: dict[str, Any] = {
            "by": by,
            "at": self.world.clock.now(),
            "step": record.step.label() if record.step else None,
        }
        if record.phase is Phase.AWAITING_APPROVAL and record.awaiting_review:
            # Bound to the reviewed document: it approves that change, not whatever comes.
            approval["review"] = record.awaiting_review
            record.awaiting_review = None
        record.approvals.append(approval)
