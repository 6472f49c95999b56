"""Commands for a release from another process: handed over through the ledger's queue."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from platformctl.ledger import Control, Ledger
from platformctl.ports import Clock, DeployError
from platformctl.record import ReleaseRecord

# How long a sender waits for the driving process to take its command.
COMMAND_HANDOVER_SECONDS = 30


@dataclass(frozen=True)
class CommandResult:
    record: ReleaseRecord
    # Handed to the process driving the release, rather than carried out here.
    queued: bool
    # What became of it: carried out, or why it changed nothing.
    outcome: str = ""


@dataclass(frozen=True)
class Handover:
    record: ReleaseRecord
    outcome: str


class NotTakenYet(DeployError):
    """The command is queued, but the driving process has not looked yet."""


def send_command(
    ledger: Ledger, stack: str, service: str, command: str, by: str, clock: Clock,
    release_id: str, reason: str = "",
) -> Handover | None:  # fmt: skip
    """Queues ``command`` for release ``release_id`` and waits until its driving process has
    taken it; None when no process drives it (or it stopped first), so the caller carries
    the command out itself. Needs only the ledger: no stack, no CLI."""
    deadline = clock.now() + COMMAND_HANDOVER_SECONDS
    while True:
        if ledger.holder(stack, service) is None:
            return None
        record = ledger.read(stack, service)
        if record is not None and record.id != release_id:
            raise DeployError(
                f"release {release_id} is over; the current release of {service} on {stack} "
                f"is {record.id} ({record.phase.value}): send {command} again if it is meant "
                "for that one"
            )
        if record is not None and not record.terminal:
            break
        # Finishing, or being rolled back by another command: look again in a moment.
        if clock.now() >= deadline:
            raise DeployError(
                f"{service} on {stack} is busy ({ledger.holder(stack, service)}); send "
                f"{command} again in a moment"
            )
        clock.sleep(0.1)
    control = Control(command, by, clock.now(), reason, record.id, secrets.token_hex(6))
    ledger.send(stack, service, control)
    while clock.now() < deadline:
        current = ledger.read(stack, service)
        outcome = _outcome(current, control.id)
        if current is not None and outcome is not None:
            return Handover(current, outcome)
        if ledger.holder(stack, service) is None:
            return None
        clock.sleep(0.1)
    raise NotTakenYet(
        f"{command} is queued for release {record.id}, but the process driving it has not "
        f"taken it within {COMMAND_HANDOVER_SECONDS}s ({ledger.holder(stack, service)}); it "
        "will act on it at its next look"
    )


def _outcome(record: ReleaseRecord | None, control_id: str) -> str | None:
    if record is None:
        return None
    return next(
        (e["outcome"] for e in reversed(record.events) if e.get("control") == control_id), None
    )
