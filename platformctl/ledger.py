"""The durable ledger of releases: one record per stack and service, a lock, and a queue of
commands (abort, pause, approve ...) that reach a running release.

Layout under the ledger directory::

    <stack>/<service>.json           the current (or last) release record
    <stack>/<service>.lock           held (flock) by the process driving the release
    <stack>/<service>.controls.jsonl commands, appended by any process
    <stack>/history/<service>-<id>.json  finished releases

Records are replaced atomically (write, fsync, rename), so a process killed mid-write leaves
the previous record intact. The lock is an OS lock: it dies with its process, so a killed
driver never leaves a stale lock behind, while its unfinished record still refuses a second
release until someone resumes, rolls back or aborts it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from platformctl.ports import DeployError
from platformctl.record import ReleaseRecord

LEDGER_ENV = "PLATFORM_LEDGER_DIR"
_RELEASE_ID = re.compile(r"\d{8}T\d{6}-[0-9a-f]{4}")


def ledger_directory(project_dir: Path, backend_url: str | None, environ: dict[str, str]) -> Path:
    """Beside a local file backend's state; ``PLATFORM_LEDGER_DIR`` for other backends (a
    directory CI keeps, or a mounted bucket)."""
    if environ.get(LEDGER_ENV):
        return Path(environ[LEDGER_ENV])
    if backend_url and backend_url.startswith("file://"):
        return Path(backend_url.removeprefix("file://")) / "releases"
    if backend_url:
        from platformctl.automation import shown_backend_url

        raise DeployError(
            f"the state backend {shown_backend_url(backend_url)} is remote, and the release ledger "
            f"must outlive this machine; set {LEDGER_ENV} to a directory that does (mounted "
            "storage, or one your CI caches and restores)"
        )
    return project_dir / ".pulumi-state" / "releases"


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
    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _path(self, stack: str, service: str, suffix: str) -> Path:
        return self.directory / stack / f"{service}{suffix}"

    def read(self, stack: str, service: str) -> ReleaseRecord | None:
        path = self._path(stack, service, ".json")
        try:
            return ReleaseRecord.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as error:
            raise DeployError(
                f"release record {path} is unreadable ({error}); move it aside to continue"
            ) from None

    def write(self, record: ReleaseRecord) -> None:
        path = self._path(record.stack, record.service, ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        with partial.open("w") as handle:
            json.dump(record.to_json(), handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)

    def archive(self, record: ReleaseRecord) -> None:
        """Moves a finished record to history, so its successor starts a clean file."""
        history = self.directory / record.stack / "history"
        history.mkdir(parents=True, exist_ok=True)
        target = history / f"{record.service}-{record.id}.json"
        target.write_text(json.dumps(record.to_json(), indent=1))

    def history(self, stack: str, service: str) -> list[ReleaseRecord]:
        folder = self.directory / stack / "history"
        # Only this service's files: `chat-*` would also match chat-api's.
        records = [
            ReleaseRecord.from_json(json.loads(p.read_text()))
            for p in folder.glob(f"{service}-*.json")
            if _RELEASE_ID.fullmatch(p.stem[len(service) + 1 :])
        ]
        current = self.read(stack, service)
        if current is not None and current.id not in {r.id for r in records}:
            records.append(current)
        return sorted(records, key=lambda r: r.started_at)

    def keep_review(self, stack: str, review: dict[str, Any]) -> None:
        """A review shown to someone (by `up` or `preview --review`) that needs an approval:
        kept so that `up --approve-review DIGEST` approves exactly what was shown."""
        folder = self.directory / stack / "reviews"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{review['documentSha256']}.json"
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(review, indent=1))
        os.replace(partial, path)

    def shown_review(self, stack: str, document_sha256: str) -> dict[str, Any] | None:
        path = self.directory / stack / "reviews" / f"{document_sha256}.json"
        try:
            loaded: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except ValueError as error:
            raise DeployError(f"kept review {path} is unreadable ({error})") from None
        return loaded

    def services(self, stack: str) -> list[str]:
        return sorted(p.stem for p in (self.directory / stack).glob("*.json"))

    def stacks(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if p.is_dir())

    # --- commands from other processes ------------------------------------------------------

    def send(self, stack: str, service: str, control: Control) -> None:
        path = self._path(stack, service, ".controls.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(control.__dict__) + "\n"
        # One write of one short line with O_APPEND: concurrent senders never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def controls(self, stack: str, service: str, seen: int) -> list[Control]:
        """Commands after the first ``seen``; a line still being written is left for later."""
        return [Control(**json.loads(line)) for line in self._lines(stack, service)[seen:]]

    def control_count(self, stack: str, service: str) -> int:
        return len(self._lines(stack, service))

    def _lines(self, stack: str, service: str) -> list[str]:
        path = self._path(stack, service, ".controls.jsonl")
        try:
            text = path.read_text()
        except FileNotFoundError:
            return []
        return text.split("\n")[:-1]

    # --- the lock -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, stack: str, service: str, purpose: str) -> Iterator[None]:
        path = self._path(stack, service, ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = path.open("a+")
        try:
            if not _take(handle, LOCK_PATIENCE_SECONDS):
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise DeployError(
                    f"{service} on {stack} is being driven by {holder}; one release per "
                    "stack and service at a time: wait for it, or send it a command "
                    f"(platformctl abort|pause|promote-now {stack} {service})"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(
                f"pid {os.getpid()} on {socket.gethostname()} ({purpose}, since "
                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())})"
            )
            handle.flush()
            try:
                yield
            finally:
                # A holder that ends, even by an exception, says so; a killed one leaves its
                # pid, which `holder` finds dead.
                handle.seek(0)
                handle.truncate()
                handle.flush()
        finally:
            handle.close()

    def holder(self, stack: str, service: str) -> str | None:
        """Who drives the release now, or None. The OS lock decides (a holder killed on any
        machine leaves text but no lock); the text only names the holder. The probe's shared
        lock lasts microseconds, and `lock` retries briefly, so asking never makes a release
        fail."""
        path = self._path(stack, service, ".lock")
        try:
            handle = path.open("r")
        except FileNotFoundError:
            return None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return handle.read().strip() or "another process"
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None


# How long `lock` waits for a lock held only by a `holder` probe (microseconds in practice).
LOCK_PATIENCE_SECONDS = 1.0


def _take(handle: IO[str], patience: float) -> bool:
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


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
