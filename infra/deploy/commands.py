"""Commands for a release from another process: handed over through the ledger's queue."""

from __future__ import annotations

from dataclasses import dataclass

from infra.deploy.ledger import Control, Ledger
from infra.deploy.ports import Clock, DeployError
from infra.deploy.record import ReleaseRecord

# How long a sender waits for the driving process to take its command.
COMMAND_HANDOVER_SECONDS = 30


@dataclass(frozen=True)
class CommandResult:
    record: ReleaseRecord
    # Handed to the process driving the release, rather than carried out here.
    queued: bool


def send_command(
    ledger: Ledger, stack: str, service: str, command: str, by: str, clock: Clock,
    reason: str = "",
) -> ReleaseRecord | None:  # fmt: skip
    """Queues ``command`` for the process driving the release and waits until it is taken;
    None when no process drives it (or it stopped before taking the command), so the caller
    carries the command out itself. Needs only the ledger: no stack, no CLI."""
    deadline = clock.now() + COMMAND_HANDOVER_SECONDS
    while True:
        if ledger.holder(stack, service) is None:
            return None
        record = ledger.read(stack, service)
        if record is not None and not record.terminal:
            break
        # A release is starting (its record not written yet), finishing, or being rolled
        # back by another command: look again in a moment.
        if clock.now() >= deadline:
            raise DeployError(
                f"{service} on {stack} is busy ({ledger.holder(stack, service)}); send "
                f"{command} again in a moment"
            )
        clock.sleep(0.1)
    position = ledger.control_count(stack, service)
    ledger.send(stack, service, Control(command, by, clock.now(), reason, record.id))
    while clock.now() < deadline:
        current = ledger.read(stack, service)
        if current is not None and current.controls_seen > position:
            return current
        if ledger.holder(stack, service) is None:
            return None
        clock.sleep(0.1)
    raise DeployError(
        f"{command} is queued for release {record.id}, but the process driving it has not "
        f"taken it within {COMMAND_HANDOVER_SECONDS}s ({ledger.holder(stack, service)}); it "
        "will act on it at its next look"
    )
