"""The commands that read or hold the shared ledger: `status` (and its history), `sync`, and
the lease an `up` or a bootstrap holds with the stack file checked against the ledger."""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from typing import Any, Protocol

from platformctl.lease import Lease
from platformctl.ledger import Ledger, record_summary
from platformctl.ports import DeployError, StackPort
from platformctl.record import ReleaseRecord
from platformctl.stack_file import adopt, disagreements, sync_stack_file


class Printer(Protocol):
    def line(self, text: str) -> None: ...

    def document(self, doc: dict[str, Any]) -> None: ...


def wait_seconds(text: str) -> float:
    """--wait-for-stack: how long to wait for another machine's hold on the stack."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86_400:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: seconds from 0 to 86400")
    return seconds


@contextlib.contextmanager
def holding_for_up(
    ledger: Ledger, stack: StackPort, by: str, purpose: str, wait: float
) -> Iterator[Lease]:
    """An `up` holds the stack like a release does, and applies only a stack file whose
    `release` blocks are the ledger's: an older checkout would revert a release."""
    with ledger.lease(stack.name, purpose, by=by, wait_seconds=wait) as lease:
        config = stack.read_config()
        blocks = adopt(ledger, stack.name, config, lease.terms.epoch)
        differ = disagreements(config, blocks)
        if differ:
            raise DeployError(
                f"Pulumi.{stack.name}.yaml disagrees with the release ledger on the release "
                f"of {', '.join(differ)} (the ledger at {ledger.location} is what is deployed "
                f"or being released); allowed: platformctl sync {stack.name}, which writes "
                "the file from the ledger, then commit it"
            )
        yield lease


def sync(stack: StackPort, ledger: Ledger, by: str, wait: float, out: Printer) -> int:
    with ledger.lease(stack.name, "sync", by=by, wait_seconds=wait) as lease:
        _, changed = sync_stack_file(ledger, stack, lease.terms.epoch)
    if changed:
        out.line(f"Pulumi.{stack.name}.yaml: release of {', '.join(changed)} from the ledger")
    else:
        out.line(f"Pulumi.{stack.name}.yaml agrees with the ledger")
    out.document({"stack": stack.name, "changed": changed, "ledger": ledger.location})
    return 0


def status(stack: str | None, history: bool, ledger: Ledger, out: Printer) -> int:
    stacks = [stack] if stack else ledger.stacks()
    summaries = []
    for name in stacks:
        holder = ledger.lease_holder(name)
        for service in ledger.services(name):
            record = ledger.read(name, service)
            if record is None:
                continue
            summary = record_summary(record)
            driving = holder is not None and holder.service == service
            summary["drivenBy"] = holder.describe() if holder and driving else None
            if history:
                summary["history"] = [
                    _revision(r) for r in ledger.revisions(name, service, record.id)
                ]
            summaries.append(summary)
    if not summaries:
        out.line("no releases in the ledger" + (f" for {stack}" if stack else ""))
    for s in summaries:
        out.line(
            f"{s['stack']}/{s['service']}: {s['phase']} {s['image']} ({s['strategy']}) "
            f"{s['step'] or ''} - {s['reason']}"
        )
        # What an approver approves: the concerns themselves, not only their summary.
        verdict = (s["pendingReview"] or {}).get("verdict") or {}
        for concern in verdict.get("concerns", []):
            out.line(f"  concern: {concern['resource']}: {concern['why']}")
        for line in _timeline(s.get("history", [])):
            out.line(line)
    notes = [n for name in stacks for n in ledger.notes(name)] if history else []
    for note in notes:
        out.line(f"note {_at(note['at'])} {note['host']} pid {note['pid']}: {note['note']}")
    out.document({"releases": summaries, **({"notes": notes} if history else {})})
    return 0


def _revision(record: ReleaseRecord) -> dict[str, Any]:
    step = record.step
    return {
        "revision": record.revision,
        "at": record.events[-1]["at"] if record.events else record.started_at,
        "phase": record.phase.value,
        "step": f"{record.step_index + 1}/{len(record.steps)} {step.label()}" if step else None,
        "reason": record.last_reason,
    }


def _timeline(revisions: list[dict[str, Any]]) -> list[str]:
    """One line per change of phase or step: the revisions between say the same thing."""
    lines, last = [], None
    for r in revisions:
        if (r["phase"], r["step"]) == last:
            continue
        last = (r["phase"], r["step"])
        lines.append(
            f"  r{r['revision']} {_at(r['at'])} {r['phase']} {r['step'] or ''} {r['reason']}"
        )
    return lines


def _at(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
