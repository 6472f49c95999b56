"""The durable ledger of releases, shared by every machine that drives a stack: the release
records, their append-only history, the `release` blocks of the stack file, a lease per
stack, and a queue of commands (abort, pause, approve ...) that reach a running release.

Layout in the store (S3 beside the Pulumi state, or a local directory)::

    <stack>/lease.json                          who may change the stack now (lease.py)
    <stack>/release-blocks.json                 every service's `release` block: the truth
                                                the stack file is written from
    <stack>/releases/<service>.json             the current (or last) release record
    <stack>/history/<service>/<id>/<rev>.json   every revision of every record, never rewritten
    <stack>/commands/<service>/<seq>.json       one object per command, numbered in order
    <stack>/notes/<time>-<token>.json           why a process stopped (a lost lease)
    <stack>/reviews/<sha256>.json               reviews shown for approval

Fencing: every write of a record or of the release blocks is conditional on the ETag this
process last saw. A machine taking over an abandoned lease rewrites the stack's unfinished
records and release blocks first, so a paused "zombie" that wakes up finds every write it
tries refused, and stops (:class:`platformctl.blob_store.StopDriving`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from platformctl.blob_store import BlobStore, Conflict, FileStore, StopDriving
from platformctl.lease import DEFAULT_LEASE_SECONDS, Lease, LeaseTerms, acquire
from platformctl.ports import Clock, DeployError
from platformctl.record import ReleaseRecord


class Fenced(StopDriving):
    """A conditional write lost: another machine changed the stack's release state."""


class _WallClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class Control:
    command: str
    by: str
    at: float
    reason: str = ""
    # The release it is meant for: a command never reaches a later release by accident.
    release: str = ""
    # Lets the sender find what became of it in the record.
    id: str = ""


class Ledger:
    def __init__(
        self,
        store: BlobStore | Path | str,
        *,
        clock: Clock | None = None,
        host: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ):
        self.store: BlobStore = FileStore(Path(store)) if isinstance(store, (str, Path)) else store
        self.clock: Clock = clock or _WallClock()
        self.host = host or socket.gethostname()
        self.lease_seconds = lease_seconds
        # The ETag of each object as this process last read or wrote it (None: absent):
        # the condition of its next write.
        self._seen: dict[str, str | None] = {}

    @property
    def location(self) -> str:
        return self.store.location

    # --- objects, read and written on conditions ----------------------------------------

    def _get(self, key: str) -> bytes | None:
        blob = self.store.get(key)
        self._seen[key] = blob.etag if blob else None
        return blob.data if blob else None

    def _put_fenced(self, key: str, data: bytes, what: str) -> None:
        if key not in self._seen:
            self._get(key)
        etag = self._seen[key]
        try:
            if etag is None:
                self._seen[key] = self.store.put(key, data, create_only=True)
            else:
                self._seen[key] = self.store.put(key, data, if_match=etag)
        except Conflict:
            raise Fenced(
                f"{what} was changed by another machine since this process read it (the "
                "stack's lease was taken over); this process stops and changes nothing more"
            ) from None

    # --- release records ------------------------------------------------------------------

    def read(self, stack: str, service: str) -> ReleaseRecord | None:
        key = f"{stack}/releases/{service}.json"
        data = self._get(key)
        if data is None:
            return None
        return _record(data, f"{self.location}/{key}")

    def write(self, record: ReleaseRecord) -> None:
        """The record as the current one, then as a new revision in the history."""
        record.revision += 1
        data = json.dumps(record.to_json(), indent=1).encode()
        what = f"release {record.id} of {record.service} on {record.stack}"
        self._put_fenced(f"{record.stack}/releases/{record.service}.json", data, what)
        key = f"{record.stack}/history/{record.service}/{record.id}/{record.revision:06d}.json"
        try:
            self.store.put(key, data, create_only=True)
        except Conflict:
            raise Fenced(f"revision {record.revision} of {what} exists already") from None

    def history(self, stack: str, service: str) -> list[ReleaseRecord]:
        """Every release of the service, each as its last revision, oldest first."""
        latest: dict[str, str] = {}
        for key in self.store.keys(f"{stack}/history/{service}/"):
            release_id = key.split("/")[-2]
            latest[release_id] = max(latest.get(release_id, ""), key)
        records = [self._history_record(key) for key in latest.values()]
        current = self.read(stack, service)
        if current is not None and current.id not in latest:
            records.append(current)
        return sorted((r for r in records if r is not None), key=lambda r: r.started_at)

    def revisions(self, stack: str, service: str, release_id: str) -> list[ReleaseRecord]:
        keys = self.store.keys(f"{stack}/history/{service}/{release_id}/")
        return [r for r in map(self._history_record, keys) if r is not None]

    def _history_record(self, key: str) -> ReleaseRecord | None:
        blob = self.store.get(key)
        return _record(blob.data, f"{self.location}/{key}") if blob else None

    def services(self, stack: str) -> list[str]:
        return [n.removesuffix(".json") for n in self.store.children(f"{stack}/releases/")]

    def stacks(self) -> list[str]:
        return [n for n in self.store.children("") if "." not in n]

    # --- the stack file's release blocks --------------------------------------------------

    def release_blocks(self, stack: str) -> dict[str, dict[str, Any]]:
        data = self._get(f"{stack}/release-blocks.json")
        return dict(json.loads(data)["services"]) if data else {}

    def write_release_blocks(
        self, stack: str, blocks: dict[str, dict[str, Any]], fence: int = 0
    ) -> None:
        """Before the `up` that applies them: the ledger, not a checkout, says what each
        service's slots run. ``fence`` changes the object even when the blocks do not (a
        takeover), so an older holder's next write is refused."""
        document = {"services": blocks, "fence": fence}
        data = json.dumps(document, indent=1, sort_keys=True).encode()
        self._put_fenced(f"{stack}/release-blocks.json", data, f"the release blocks of {stack}")

    # --- reviews shown for approval ---------------------------------------------------------

    def keep_review(self, stack: str, review: dict[str, Any]) -> None:
        """A review shown to someone (by `up` or `preview --review`) that needs an approval:
        kept so that `up --approve-review DIGEST` approves exactly what was shown."""
        key = f"{stack}/reviews/{review['documentSha256']}.json"
        self.store.put(key, json.dumps(review, indent=1).encode())

    def shown_review(self, stack: str, document_sha256: str) -> dict[str, Any] | None:
        key = f"{stack}/reviews/{document_sha256}.json"
        blob = self.store.get(key)
        if blob is None:
            return None
        try:
            loaded: dict[str, Any] = json.loads(blob.data)
        except ValueError as error:
            raise DeployError(
                f"kept review {self.location}/{key} is unreadable ({error})"
            ) from None
        return loaded

    # --- commands from any machine ----------------------------------------------------------

    def send(self, stack: str, service: str, control: Control) -> int:
        """Adds the command as the next numbered object; two senders racing for a number
        both land, one after the other (``If-None-Match``), and none is overwritten."""
        prefix = f"{stack}/commands/{service}/"
        number = len(self.store.keys(prefix))
        data = json.dumps(asdict(control)).encode()
        while True:
            try:
                self.store.put(f"{prefix}{number:08d}.json", data, create_only=True)
                return number
            except Conflict:
                number += 1

    def controls(self, stack: str, service: str, seen: int) -> list[Control]:
        """Commands after the first ``seen``, in the order they were numbered: one read per
        look when nothing is new."""
        found: list[Control] = []
        while True:
            blob = self.store.get(f"{stack}/commands/{service}/{seen + len(found):08d}.json")
            if blob is None:
                return found
            found.append(Control(**json.loads(blob.data)))

    def control_count(self, stack: str, service: str) -> int:
        return len(self.store.keys(f"{stack}/commands/{service}/"))

    # --- the lease of each stack --------------------------------------------------------------

    @contextlib.contextmanager
    def lease(
        self, stack: str, purpose: str, *, service: str = "", by: str = "",
        wait_seconds: float = 0.0,
    ) -> Iterator[Lease]:  # fmt: skip
        """Holds the stack for the block. Taken from a holder that never released it, the
        holder is fenced out first (its unfinished records and the release blocks are
        rewritten, so its next write fails) and the takeover is recorded."""
        wanted = LeaseTerms(
            holder=by or "platformctl", host=self.host, pid=os.getpid(), purpose=purpose,
            service=service, token=secrets.token_hex(8), epoch=0, acquired_at=0.0,
            renewed_at=0.0, expires_at=0.0,
        )  # fmt: skip
        held, abandoned = acquire(
            self.store, f"{stack}/lease.json", wanted, self.clock, self.lease_seconds,
            wait_seconds, self.host,
        )  # fmt: skip
        held.took_over_from = abandoned
        try:
            if abandoned is not None:
                self._fence_out(stack, held, abandoned)
            # Renewed from a thread for as long as it is held: a preview, a review or an
            # `up` can each outlast the lease, and the holder is still alive through them.
            with held.kept_alive():
                yield held
        finally:
            held.release()

    def lease_holder(self, stack: str) -> LeaseTerms | None:
        """The live holder of the stack's lease, or None."""
        blob = self.store.get(f"{stack}/lease.json")
        if blob is None:
            return None
        terms = LeaseTerms.from_bytes(blob.data)
        return terms if terms.live(self.clock.now(), self.host) else None

    def holder(self, stack: str) -> str | None:
        terms = self.lease_holder(stack)
        return terms.describe() if terms else None

    def _fence_out(self, stack: str, held: Lease, abandoned: LeaseTerms) -> None:
        reason = (
            f"lease of {stack} taken over by {held.terms.holder} ({held.terms.purpose}) from "
            f"{abandoned.describe()}, which never released it"
        )
        for service in self.services(stack):
            record = self.read(stack, service)
            if record is not None and not record.terminal:
                record.events.append({"at": self.clock.now(), "lease": reason})
                self.write(record)
        blocks = self.release_blocks(stack)
        if blocks:
            self.write_release_blocks(stack, blocks, fence=held.terms.epoch)
        self.note(stack, reason)

    # --- notes: why a process stopped ---------------------------------------------------------

    def note(self, stack: str, text: str) -> None:
        """Appended, never conditional on anything: a fenced-out process can still say why
        it stopped."""
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self.clock.now()))
        key = f"{stack}/notes/{stamp}-{secrets.token_hex(3)}.json"
        document = {"at": self.clock.now(), "host": self.host, "pid": os.getpid(), "note": text}
        with contextlib.suppress(StopDriving):
            self.store.put(key, json.dumps(document).encode(), create_only=True)

    def notes(self, stack: str) -> list[dict[str, Any]]:
        found = (self.store.get(key) for key in self.store.keys(f"{stack}/notes/"))
        return [json.loads(blob.data) for blob in found if blob is not None]


def _record(data: bytes, where: str) -> ReleaseRecord:
    try:
        return ReleaseRecord.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError) as error:
        raise DeployError(
            f"release record {where} is unreadable ({error}); move it aside to continue"
        ) from None


def record_summary(record: ReleaseRecord) -> dict[str, Any]:
    step = record.step
    return {
        "id": record.id,
        "stack": record.stack,
        "service": record.service,
        "strategy": record.strategy,
        "image": record.image,
        "phase": record.phase.value,
        "step": f"{record.step_index + 1}/{len(record.steps)} {step.label()}" if step else None,
        "candidateSlot": record.candidate_slot,
        "promoted": record.promoted,
        "reason": record.last_reason,
        "restoreSeconds": record.restore_seconds,
        "pendingReview": pending_review(record),
    }


_PENDING_REVIEW_KEYS = ("kind", "status", "reason", "gate", "verdict", "step")


def pending_review(record: ReleaseRecord) -> dict[str, Any] | None:
    """The review a release waits on, with its concerns: what an approver approves."""
    if record.awaiting_review is None:
        return None
    return next(
        (
            {key: review.get(key) for key in _PENDING_REVIEW_KEYS}
            | {"documentSha256": record.awaiting_review}
            for review in reversed(record.reviews)
            if review.get("documentSha256") == record.awaiting_review
        ),
        None,
    )
