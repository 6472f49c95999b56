"""The reviewer that asks Claude, through the ``anthropic`` SDK, for one verdict per document.

One ``messages.create`` per review, with the answer forced through a tool whose schema is
derived from ``Verdict`` (or ``Explanation``), so the shape sent and the validation applied
cannot drift apart. The SDK's own retries are off (``max_retries=0``): it would obey a
``retry-after`` of hours; here attempts are ``1 + maxRetries``, the back-off is bounded and a
longer ``retry-after`` ends the review at once. Nothing here raises: every failure is an
``unavailable`` review whose reason is short and never holds the API key, a header or the
document.

``timeoutSeconds`` is a wall-clock deadline per attempt, not httpx's per-read timeout (which
restarts with every byte, so a server trickling its answer could hold a review, and the
release's ledger lock, for ever). Each attempt runs in a daemon worker thread that the review
waits for at most ``timeoutSeconds``; a worker still running then is abandoned (the attempt
counts as a timeout) and, on the client built here, stops at the next chunk of body it
receives. The whole review is capped too: see ``longest_review_seconds``.

This module holds the reviewers, the review loop with its budget, and how an answer is
read. What is asked (prompts, tool schemas) is :mod:`platformctl.review.prompts`; one attempt's
mechanics (its deadline, the back-off, ``retry-after``, the reasons for an API error) are
:mod:`platformctl.review.attempts`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
from pydantic import ValidationError

from infra.settings.review import MODEL_ALLOWED, MODEL_ENV, MODEL_NAME, ReviewSettings
from platformctl.review.attempts import (
    _RETRIED_STATUSES,
    MAX_BACKOFF_SECONDS,
    _AttemptExpired,
    _attempts,
    _ReviewHttpClient,
    _seconds,
    _status_reason,
    _within,
    backoff_seconds,
    retry_after_seconds,
)
from platformctl.review.model import (
    ChangeDocument,
    Explanation,
    Review,
    Reviewer,
    ReviewKind,
    ReviewStatus,
    Verdict,
)
from platformctl.review.prompts import (
    _EXPLAIN_TASK,
    _VERDICT_TASK,
    _property_names,
    _Task,
    _user_message,
)

API_KEY_ENV = "ANTHROPIC_API_KEY"
# Pinned, so that ANTHROPIC_BASE_URL in the process environment cannot send the document
# elsewhere behind the caller's back.
API_BASE_URL = "https://api.anthropic.com"

# What ``longest_review_seconds`` allows on top of the attempts and the pauses: starting the
# worker threads, reading the answer and building the review.
REVIEW_MARGIN_SECONDS = 1.0

_LOCATION_LIMIT = 80
_MESSAGE_LIMIT = 160


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _attempts_budget_seconds(settings: ReviewSettings) -> float:
    """The wall time the attempts and the pauses between them may take together; the review
    loop enforces it (no attempt and no pause runs past it)."""
    retries = int(settings.max_retries)
    return (1 + retries) * float(settings.timeout_seconds) + retries * MAX_BACKOFF_SECONDS


def longest_review_seconds(settings: ReviewSettings) -> float:
    """The longest one ``review`` or ``explain`` call can take, in seconds of wall time:

        (1 + maxRetries) x timeoutSeconds + maxRetries x MAX_BACKOFF_SECONDS + REVIEW_MARGIN_SECONDS

    Every attempt is cut at ``timeoutSeconds`` whatever the server does, every pause (back-off
    or an honoured ``retry-after``) is at most ``MAX_BACKOFF_SECONDS``, and the loop ends the
    review once the attempts and pauses together reach their share. With the defaults (30 s,
    2 retries): 3 x 30 + 2 x 8 + 1 = 107 s.
    """
    return _attempts_budget_seconds(settings) + REVIEW_MARGIN_SECONDS


@dataclass(frozen=True)
class _Answer:
    """What one review's API call came to: a message, or why there is none."""

    message: Any = None
    reason: str = ""


def _validation_reason(task: _Task, error: ValidationError) -> str:
    """The first error's location and message. A key the schema does not have (an extra
    field) is not shown: the model chose it, and it may hold anything."""
    first = error.errors(include_url=False, include_input=False)[0]
    known = _property_names(task.tool["input_schema"])
    location = ".".join(
        str(part) if isinstance(part, int) or part in known else "<unknown field>"
        for part in first.get("loc", ())
    )
    noun = task.noun
    message = _clip(str(first.get("msg", "invalid")), _MESSAGE_LIMIT)
    if location:
        return f"malformed {noun}: {_clip(location, _LOCATION_LIMIT)}: {message}"
    return f"malformed {noun}: {message}"


class ClaudeReviewer:
    """A ``Reviewer`` that asks Claude through the Messages API."""

    def __init__(
        self,
        settings: ReviewSettings,
        *,
        api_key: str,
        model: str | None = None,
        http_client: httpx2.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        base_url: str = API_BASE_URL,
    ) -> None:
        """``http_client``, ``sleep``, ``clock`` and ``base_url`` are for tests. Without an
        ``http_client`` the client is built here, with the hook that stops an abandoned
        attempt's worker at its next chunk; a given client is used as it is (an abandoned
        worker on it reads on until its per-read timeout or the end of the answer)."""
        self.settings = settings
        self.model = model or settings.model
        self._sleep = sleep
        self._clock = clock
        timeout = float(settings.timeout_seconds)
        self._client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            # Our own bounded loop retries; the SDK would obey any retry-after.
            max_retries=0,
            # Per connect, read, write and pool wait; the wall-clock deadline is _within's.
            timeout=timeout,
            http_client=http_client if http_client is not None else _ReviewHttpClient(timeout),
            # No spans: the SDK can be told by the environment to record request content.
            open_telemetry=False,
        )

    def review(self, document: ChangeDocument) -> Review:
        task = _VERDICT_TASK.get(document.kind)
        if task is None:
            return self._unavailable(
                document.kind,
                document,
                f"a {document.kind.value} document is explained, not reviewed",
            )
        return self._run(task, document)

    def explain(self, document: ChangeDocument) -> Review:
        if document.kind is not ReviewKind.FAILURE:
            return self._unavailable(
                ReviewKind.FAILURE,
                document,
                f"a {document.kind.value} document is reviewed, not explained",
            )
        return self._run(_EXPLAIN_TASK, document)

    def _unavailable(self, kind: ReviewKind, document: ChangeDocument, reason: str) -> Review:
        return Review(
            kind=kind,
            status=ReviewStatus.UNAVAILABLE,
            reason=reason,
            model=self.model,
            document_sha256=document.sha256,
            document_chars=len(document.text),
        )

    def _run(self, task: _Task, document: ChangeDocument) -> Review:
        try:
            answer = self._ask(task, document)
            if answer.reason:
                return self._unavailable(task.kind, document, answer.reason)
            return self._interpret(task, document, answer.message)
        except Exception as exc:  # never raise: the deterministic gates decide alone
            return self._unavailable(task.kind, document, f"unexpected error: {type(exc).__name__}")

    def _create(self, task: _Task, document: ChangeDocument) -> Any:
        return self._client.messages.create(
            model=self.model,
            max_tokens=int(self.settings.max_output_tokens),
            system=task.system,
            tools=[task.tool],
            tool_choice={"type": "tool", "name": task.tool_name},
            messages=[{"role": "user", "content": _user_message(document)}],
        )

    def _ask(self, task: _Task, document: ChangeDocument) -> _Answer:
        attempts = 1 + int(self.settings.max_retries)
        timeout = float(self.settings.timeout_seconds)
        budget = _attempts_budget_seconds(self.settings)
        deadline = self._clock() + budget

        def out_of_time(made: int) -> _Answer:
            return _Answer(
                reason=f"review time limit of {_seconds(budget)} reached after {_attempts(made)}"
            )

        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            wait: float | None = None
            seconds = min(timeout, deadline - self._clock())
            if seconds <= 0:
                return out_of_time(attempt - 1)
            try:
                message = _within(
                    lambda: self._create(task, document), seconds, f"claude-review-{attempt}"
                )
                return _Answer(message=message)
            except anthropic.APIStatusError as error:
                label = _RETRIED_STATUSES.get(error.status_code)
                if label is None:
                    return _Answer(reason=_status_reason(error))
                if last:
                    return _Answer(reason=f"{label} after {_attempts(attempts)}")
                wait = retry_after_seconds(error.response.headers)
                if wait is not None and wait > MAX_BACKOFF_SECONDS:
                    return _Answer(
                        reason=f"{label}: retry-after {_seconds(wait)} is beyond the "
                        f"{_seconds(MAX_BACKOFF_SECONDS)} bound"
                    )
            except (anthropic.APITimeoutError, _AttemptExpired):
                if last:
                    return _Answer(
                        reason=f"timed out after {_attempts(attempts)} of {_seconds(timeout)}"
                    )
            except anthropic.APIConnectionError as error:
                if last:
                    cause = type(error.__cause__ or error).__name__
                    return _Answer(reason=f"could not connect: {cause} after {_attempts(attempts)}")
            except anthropic.APIResponseValidationError:
                return _Answer(reason="the API answered with something that is not a message")
            except json.JSONDecodeError:
                # A 200 declared as JSON whose body is not: the SDK lets the decoder's error out.
                return _Answer(reason="the API answered with something that is not JSON")
            remaining = deadline - self._clock()
            if remaining <= 0:
                return out_of_time(attempt)
            self._sleep(min(wait if wait is not None else backoff_seconds(attempt), remaining))
        raise AssertionError("unreachable: the last attempt always returns")

    def _interpret(self, task: _Task, document: ChangeDocument, message: Any) -> Review:
        if isinstance(message, str):
            # A 200 whose content-type is not JSON comes back from the SDK as its text.
            return self._unavailable(
                task.kind, document, "the API answered with something that is not JSON"
            )
        content = getattr(message, "content", None)
        if not isinstance(content, list):
            return self._unavailable(
                task.kind, document, "the API answered with something that is not a message"
            )
        stop_reason = getattr(message, "stop_reason", None)
        if stop_reason in ("max_tokens", "model_context_window_exceeded"):
            return self._unavailable(task.kind, document, f"answer cut off ({stop_reason})")
        if stop_reason == "refusal":
            return self._unavailable(task.kind, document, "the model declined to answer (refusal)")

        # Blocks are matched on their `type`: the SDK builds an unknown block type as a
        # TextBlock rather than failing.
        types = [getattr(block, "type", None) for block in content]
        tool_input: object = None
        found = False
        for block in content:
            if getattr(block, "type", None) == "tool_use" and (
                getattr(block, "name", None) == task.tool_name
            ):
                tool_input, found = getattr(block, "input", None), True
                break
        if not found:
            if "tool_use" in types:
                reason = f"answered with another tool, no {task.noun}"
            elif "text" in types:
                reason = f"text-only answer, no {task.noun}"
            else:
                reason = f"empty answer, no {task.noun}"
            return self._unavailable(task.kind, document, reason)

        try:
            result = task.result.model_validate(tool_input)
        except ValidationError as error:
            return self._unavailable(task.kind, document, _validation_reason(task, error))

        answered_model = getattr(message, "model", None)
        model = answered_model if isinstance(answered_model, str) and answered_model else None
        return Review(
            kind=task.kind,
            status=ReviewStatus.GIVEN,
            verdict=result if isinstance(result, Verdict) else None,
            explanation=result if isinstance(result, Explanation) else None,
            model=model or self.model,
            document_sha256=document.sha256,
            document_chars=len(document.text),
        )


class UnavailableReviewer:
    """A ``Reviewer`` that cannot review (no API key, say): every answer is ``unavailable``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def _review(self, kind: ReviewKind, document: ChangeDocument) -> Review:
        return Review(
            kind=kind,
            status=ReviewStatus.UNAVAILABLE,
            reason=self.reason,
            document_sha256=document.sha256,
            document_chars=len(document.text),
        )

    def review(self, document: ChangeDocument) -> Review:
        return self._review(document.kind, document)

    def explain(self, document: ChangeDocument) -> Review:
        return self._review(ReviewKind.FAILURE, document)


def review_model(settings: ReviewSettings, environ: Mapping[str, str]) -> str:
    """``PLATFORM_REVIEW_MODEL`` when set and not empty, else ``settings.model``; an invalid
    override raises ``ValueError`` naming the variable, the value and what is allowed."""
    override = environ.get(MODEL_ENV, "")
    if not override:
        return settings.model
    if not MODEL_NAME.fullmatch(override):
        shown = _clip(json.dumps(override), 80)
        raise ValueError(f"{MODEL_ENV} = {shown}: allowed: {MODEL_ALLOWED}")
    return override


def reviewer_from_environment(
    settings: ReviewSettings,
    environ: Mapping[str, str],
    http_client: httpx2.Client | None = None,
) -> Reviewer:
    """A ``ClaudeReviewer`` when ``ANTHROPIC_API_KEY`` is set, else an ``UnavailableReviewer``.

    The model override is checked first, so a bad ``PLATFORM_REVIEW_MODEL`` is reported
    (``ValueError``) whether or not a key is present.
    """
    model = review_model(settings, environ)
    api_key = environ.get(API_KEY_ENV, "").strip()
    if not api_key:
        return UnavailableReviewer(f"no API key: {API_KEY_ENV} is not set")
    return ClaudeReviewer(settings, api_key=api_key, model=model, http_client=http_client)
