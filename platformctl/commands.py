"""Commands for a release from any machine: handed over through the ledger's queue to the
process that holds the stack's lease for that release, or carried out by the sender when
no one does (the sender then takes the lease)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from platformctl.lease import LeaseTerms
from platformctl.ledger import Control, Ledger
from platformctl.ports import Clock, DeployError
from platformctl.record import ReleaseRecord

# How long a sender waits for the driving process to take its command.
COMMAND_HANDOVER_SECONDS = 30
# How often the sender looks for the outcome: four reads a second for at most the handover.
_LOOK_SECONDS = 0.25


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
        if _driver(ledger, stack, service) is None:
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
                f"{service} on {stack} is busy ({ledger.holder(stack)}); send "
                f"{command} again in a moment"
            )
        clock.sleep(_LOOK_SECONDS)
    control = Control(command, by, clock.now(), reason, record.id, secrets.token_hex(6))
    ledger.send(stack, service, control)
    while clock.now() < deadline:
        current = ledger.read(stack, service)
        outcome = _outcome(current, control.id)
        if current is not None and outcome is not None:
            return Handover(current, outcome)
        if _driver(ledger, stack, service) is None:
            return None
        clock.sleep(_LOOK_SECONDS)
    raise NotTakenYet(
        f"{command} is queued for release {record.id}, but the process driving it has not "
        f"taken it within {COMMAND_HANDOVER_SECONDS}s ({ledger.holder(stack)}); it "
        "will act on it at its next look"
    )


def _driver(ledger: Ledger, stack: str, service: str) -> LeaseTerms | None:
    """The live holder of the stack's lease when it drives this service's release; a holder
    busy with another service will not look at this one's commands."""
    holder = ledger.lease_holder(stack)
    return holder if holder is not None and holder.service == service else None


def _outcome(record: ReleaseRecord | None, control_id: str) -> str | None:
    if record is None:
        return None
    return next(
        (e["outcome"] for e in reversed(record.events) if e.get("control") == control_id), None
    )
