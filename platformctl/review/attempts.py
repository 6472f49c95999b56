"""One attempt at the Messages API and what comes between attempts.

- the pause: the bounded back-off (``backoff_seconds``) or the API's ``retry-after``
  (``retry_after_seconds``), and which statuses are worth another attempt;
- the wall-clock deadline of an attempt: ``_within`` runs it in a daemon worker thread and
  abandons it at the deadline, and the HTTP client built for the reviewer
  (``_ReviewHttpClient``) lets an abandoned worker stop at the next chunk it receives;
- the short reasons an attempt's failure is told with (``_status_reason``, ``_attempts``,
  ``_seconds``), never the API's message, a header or the document.

The loop that puts them together (how many attempts, the whole review's budget) is the
reviewer's, in :mod:`platformctl.review.client`; these know nothing of documents, prompts or
verdicts, so they are kept apart from it.
"""

from __future__ import annotations

import email.utils
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2

# Back-off between attempts: 0.5 s, 1 s, 2 s, ... never more than 8 s; a retry-after above
# the bound ends the review instead of holding the release up.
INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0

# 408 request timeout, 409 lock conflict, 429 rate limited, 5xx transient, 529 overloaded.
_RETRIED_STATUSES: Mapping[int, str] = {
    408: "request timeout (408)",
    409: "conflict (409)",
    429: "rate limited (429)",
    500: "server error (500)",
    502: "bad gateway (502)",
    503: "service unavailable (503)",
    504: "gateway timeout (504)",
    529: "overloaded (529)",
}

_ERROR_TYPE = re.compile(r"[a-z][a-z0-9_]{0,59}")


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def _seconds(value: float) -> str:
    return f"{round(value, 1):g}s"


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def retry_after_seconds(
    headers: httpx2.Headers, now: Callable[[], float] = time.time
) -> float | None:
    """How long the API asks to wait: ``retry-after-ms``, else ``retry-after`` in seconds or
    as an HTTP date; ``None`` when absent, unreadable or not in the future."""
    millis = _number(headers.get("retry-after-ms"))
    seconds = millis / 1000 if millis is not None else _number(headers.get("retry-after"))
    if seconds is None and (value := headers.get("retry-after")) is not None:
        date = email.utils.parsedate_tz(value)
        if date is not None:
            seconds = float(email.utils.mktime_tz(date)) - now()
    if seconds is None or math.isnan(seconds) or seconds <= 0:
        return None
    return seconds


def backoff_seconds(failed_attempts: int) -> float:
    """The pause after the ``failed_attempts``-th failure: 0.5, 1, 2, 4, 8, 8 ... seconds."""
    exponent = min(max(failed_attempts - 1, 0), 16)
    return min(INITIAL_BACKOFF_SECONDS * 2.0**exponent, MAX_BACKOFF_SECONDS)


# --- a wall-clock deadline per attempt -----------------------------------------------------

# Set in each attempt's worker thread: the event the review sets when it gives up on it.
_WORKER = threading.local()


class _AttemptExpired(Exception):
    """The attempt did not finish within its deadline; its worker was abandoned."""


class _AbandonableBody(httpx2.SyncByteStream):
    """A response body that stops (``ReadError``) at the next chunk once its attempt has been
    abandoned, so that the worker closes its own connection instead of reading a trickle to
    the end. Closed and read only by the worker thread."""

    def __init__(self, body: httpx2.SyncByteStream, abandoned: threading.Event) -> None:
        self._body = body
        self._abandoned = abandoned

    @property
    def elapsed(self) -> Any:
        """``httpx2.Response.elapsed`` reads it from ``response.stream``."""
        return getattr(self._body, "elapsed", None)

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            if self._abandoned.is_set():
                raise httpx2.ReadError("review attempt abandoned")
            yield chunk

    def close(self) -> None:
        self._body.close()


def _stop_when_abandoned(response: httpx2.Response) -> None:
    """An httpx2 ``response`` hook (it runs in the worker thread that sent the request)."""
    abandoned = getattr(_WORKER, "abandoned", None)
    if isinstance(abandoned, threading.Event) and isinstance(
        response.stream, httpx2.SyncByteStream
    ):
        response.stream = _AbandonableBody(response.stream, abandoned)


class _ReviewHttpClient(anthropic.DefaultHttpxClient):
    """The SDK's default client (its limits, keep-alive and proxy handling) with the hook that
    lets an abandoned attempt stop reading; closed when dropped, as the SDK's own is."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout, event_hooks={"response": [_stop_when_abandoned]})

    def __del__(self) -> None:
        try:
            if not self.is_closed:
                self.close()
        except Exception:
            pass


@dataclass
class _Outcome:
    """What one attempt's worker came to. Written only by that worker, read only by the
    review after the worker has finished; an abandoned worker's outcome is never read."""

    value: Any = None
    error: Exception | None = None
    finished: bool = False


def _within(call: Callable[[], Any], seconds: float, name: str) -> Any:
    """``call()`` in a daemon thread, waited for ``seconds`` of wall time at most: its result,
    or its exception raised again here, or ``_AttemptExpired`` when it is still running (the
    thread is then abandoned: told to stop at its next chunk, and never waited for)."""
    outcome = _Outcome()
    abandoned = threading.Event()

    def work() -> None:
        _WORKER.abandoned = abandoned
        try:
            outcome.value = call()
        except Exception as error:
            outcome.error = error
        finally:
            outcome.finished = True

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        abandoned.set()
        raise _AttemptExpired
    if outcome.error is not None:
        raise outcome.error
    if not outcome.finished:
        raise RuntimeError("the attempt ended without an outcome")
    return outcome.value


def _status_reason(error: anthropic.APIStatusError) -> str:
    """A refusal that is not retried: the status and the error type, never its message
    (which may echo what was sent)."""
    kind = error.type if isinstance(error.type, str) and _ERROR_TYPE.fullmatch(error.type) else ""
    label = "refused" if error.status_code < 500 else "server error"
    return f"{label}: {error.status_code} {kind}".rstrip()
