"""Synthetic traffic through the preview route while a bake runs, so a quiet service still
yields data (no data is inconclusive, and a quiet hour would roll every release back)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

# One slow answer must not hold the rate back for long.
REQUEST_TIMEOUT_SECONDS = 2.0


@dataclass
class TrafficCount:
    sent: int = 0
    failed: int = 0


@contextlib.contextmanager
def synthetic_traffic(
    url: str,
    requests_per_second: float,
    transport: httpx.BaseTransport | None = None,
    count: TrafficCount | None = None,
) -> Iterator[TrafficCount]:
    """GETs ``url`` at about ``requests_per_second`` from a background thread until the
    block ends. Failures are counted, never raised: the metrics judge the candidate.
    When the block has ended, the count includes every request the service could have seen."""
    count = count if count is not None else TrafficCount()
    stop = threading.Event()
    interval = 1.0 / requests_per_second

    def send() -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS, transport=transport) as client:
            next_at = time.monotonic()
            while not stop.is_set():
                try:
                    client.get(url)
                except httpx.HTTPError:
                    count.failed += 1
                count.sent += 1
                next_at += interval
                stop.wait(max(0.0, next_at - time.monotonic()))

    sender = threading.Thread(target=send, daemon=True, name="synthetic-traffic")
    sender.start()
    try:
        yield count
    finally:
        stop.set()
        sender.join(timeout=REQUEST_TIMEOUT_SECONDS + 1)
