"""One lease per stack: the right to change it (apply an `up`, write its release state).

A lease is one object in the ledger, created with ``If-None-Match: *`` and renewed with
``If-Match: <ETag>``, so two machines can never both believe they hold it: the second
conditional write loses. It expires unless renewed, so a lost runner frees the stack after
``seconds``; a holder process known dead on this very host frees it at once. The holder
renews from every wait and confirms before every `up`; a renewal that loses means another
machine took over, and this process stops (etcd/Chubby-style leases; the fencing of the
records is the ledger's, see :mod:`platformctl.ledger`).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

from platformctl.blob_store import BlobStore, Conflict, StopDriving
from platformctl.ports import Clock

# Long enough for the slowest wait between two renewals (an `up` is kept alive by a
# heartbeat), short enough that a lost runner's stack is free within minutes.
DEFAULT_LEASE_SECONDS = 120.0


class LeaseLost(StopDriving):
    """Another machine holds the stack now; this process must change nothing more."""


class LeaseHeld(StopDriving):
    """The stack is someone else's for now."""


@dataclass(frozen=True)
class LeaseTerms:
    holder: str
    host: str
    pid: int
    purpose: str
    service: str
    token: str
    epoch: int
    acquired_at: float
    renewed_at: float
    expires_at: float
    released: bool = False

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> LeaseTerms:
        return cls(**json.loads(data))

    def live(self, now: float, host: str) -> bool:
        if self.released or now >= self.expires_at:
            return False
        # A holder that died on this machine left no one to renew: free at once.
        return self.host != host or _alive(self.pid)

    def describe(self) -> str:
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expires_at))
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.acquired_at))
        return (
            f"{self.holder}: pid {self.pid} on {self.host} ({self.purpose}, since {since}, "
            f"lease until {until} unless renewed)"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lease:
    """A lease this process holds."""

    def __init__(
        self, store: BlobStore, key: str, terms: LeaseTerms, etag: str, clock: Clock,
        seconds: float,
    ):  # fmt: skip
        self._store, self._key, self._clock = store, key, clock
        self.terms, self._etag, self.seconds = terms, etag, seconds
        self.lost: str | None = None
        # The terms of a holder that never released the lease, when this one replaced it.
        self.took_over_from: LeaseTerms | None = None
        self._guard = threading.Lock()

    def renew(self) -> None:
        with self._guard:
            if self.lost is not None:
                raise LeaseLost(self.lost)
            now = self._clock.now()
            renewed = replace(self.terms, renewed_at=now, expires_at=now + self.seconds)
            try:
                self._etag = self._store.put(self._key, renewed.to_bytes(), if_match=self._etag)
            except Conflict:
                self.lost = self._taken_over()
                raise LeaseLost(self.lost) from None
            self.terms = renewed

    def keep(self) -> None:
        """From every wait: renews once a third of the lease has passed."""
        if self._clock.now() - self.terms.renewed_at >= self.seconds / 3:
            self.renew()

    def confirm(self) -> None:
        """Before an `up`: the lease must be ours, renewed now, so that no one can take it
        for a whole lease period."""
        if self._clock.now() >= self.terms.expires_at:
            # Paused (a suspended VM, a stopped process) past the lease: someone may own
            # the stack already, whatever the object says by the time we look.
            self.lost = (
                f"this process held the lease of the stack until "
                f"{time.strftime('%H:%M:%SZ', time.gmtime(self.terms.expires_at))} and was not "
                "running to renew it; another machine may hold it now"
            )
            raise LeaseLost(self.lost)
        self.renew()

    @contextlib.contextmanager
    def kept_alive(self) -> Iterator[None]:
        """Renews from a thread while this one is busy (a preview, an `up`): a process
        frozen as a whole (a suspended VM) stops renewing, a live one never loses its lease
        to a slow call."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.seconds / 3):
                try:
                    self.renew()
                except StopDriving:
                    return

        heart = threading.Thread(target=beat, name="lease-heartbeat", daemon=True)
        heart.start()
        try:
            yield
        finally:
            stop.set()
            heart.join()

    def release(self) -> None:
        with self._guard:
            if self.lost is not None:
                return
            done = replace(self.terms, released=True, renewed_at=self._clock.now())
            with contextlib.suppress(StopDriving):
                self._store.put(self._key, done.to_bytes(), if_match=self._etag)

    def _taken_over(self) -> str:
        blob = self._store.get(self._key)
        now_held = LeaseTerms.from_bytes(blob.data).describe() if blob else "nobody"
        return (
            f"the lease of the stack was taken over (now {now_held}); this process stops and "
            "changes nothing more"
        )


def acquire(
    store: BlobStore, key: str, wanted: LeaseTerms, clock: Clock, seconds: float,
    wait_seconds: float, host: str,
) -> tuple[Lease, LeaseTerms | None]:  # fmt: skip
    """The lease, and the terms it replaced when it was taken from a holder that never
    released it (expired, or dead on this host): the caller fences that holder out."""
    deadline = clock.now() + wait_seconds
    while True:
        blob = store.get(key)
        now = clock.now()
        current = LeaseTerms.from_bytes(blob.data) if blob else None
        if current is None or not current.live(now, host):
            terms = replace(
                wanted,
                epoch=(current.epoch + 1) if current else 1,
                acquired_at=now,
                renewed_at=now,
                expires_at=now + seconds,
            )
            try:
                if blob is None:
                    etag = store.put(key, terms.to_bytes(), create_only=True)
                else:
                    etag = store.put(key, terms.to_bytes(), if_match=blob.etag)
            except Conflict:
                continue  # another machine came first: look again
            lease = Lease(store, key, terms, etag, clock, seconds)
            abandoned = current if current is not None and not current.released else None
            return lease, abandoned
        if now >= deadline:
            raise LeaseHeld(
                f"the stack is held by {current.describe()}; one change per stack at a time: "
                "wait for it, or send it a command (platformctl abort|pause|rollback)"
            )
        clock.sleep(min(1.0, max(0.05, deadline - now)))
