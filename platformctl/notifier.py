"""Phase-change notifications, sent off the driver's thread."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from platformctl.ports import Hooks


class Notifier:
    """Sends phase-change events from a background thread, in order: a slow or dead webhook
    never delays a rollback. Failures are collected for the ledger."""

    def __init__(self, hooks: Callable[[], Hooks]):
        self._hooks = hooks
        self._queue: queue.Queue[Mapping[str, Any] | None] = queue.Queue()
        self._failed: list[str] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def send(self, event: Mapping[str, Any]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="notify")
            self._thread.start()
        self._queue.put(event)

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            failures = self._hooks().notify(event)
            with self._lock:
                self._failed += failures
            self._queue.task_done()
        self._queue.task_done()

    def flush(self, timeout: float = 30.0) -> None:
        """Waits (bounded) until every event so far was sent, so the last phase is out before
        the process ends."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def failures(self) -> list[str]:
        with self._lock:
            failed, self._failed = self._failed, []
        return failed
