"""The Messages API, faked at the HTTP layer: real response shapes, played by a recording
``httpx2.MockTransport`` handler under the SDK's real client.

The ``anthropic`` SDK 2.x sends through ``httpx2`` (pydantic's httpx fork): pass
``mock_http_client(handler)`` as ``http_client``; an ``httpx.Client`` is refused. An exception
raised by the handler reaches the caller wrapped by the SDK: any ``httpx2.TimeoutException``
(``ReadTimeout``, ``ConnectTimeout``) as ``anthropic.APITimeoutError``, anything else as
``anthropic.APIConnectionError`` (the original is its ``__cause__``).

    handler = RecordingHandler(rate_limited(), verdict_message())
    reviewer = ClaudeReviewer(settings, api_key="k", http_client=mock_http_client(handler))

For what a transport cannot fake (bytes arriving slowly on a real socket), ``SlowServer`` is a
real HTTP server on 127.0.0.1 that answers with a ``Reply``, at once or one byte at a time:

    with SlowServer(verdict_message(), trickle="body", byte_seconds=0.2) as server:
        reviewer = ClaudeReviewer(settings, api_key="k", base_url=server.base_url)
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import httpx2

MODEL = "claude-sonnet-5-5"
FAKE_API_KEY = "sk-ant-fake-3c7e1b9d-DO-NOT-LEAK"

_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    return f"{prefix}_01Fake{next(_ids):018d}"


# --- what the API answers with (JSON documents) ---------------------------------------


def valid_verdict(**overrides: Any) -> dict[str, Any]:
    """A tool input that ``Verdict`` accepts; ``overrides`` replace (or, as ``None``, drop)
    fields."""
    verdict: dict[str, Any] = {
        "risk": "high",
        "summary": "The change replaces the orders database in prod; its data would be lost.",
        "concerns": [
            {
                "resource": "urn:pulumi:prod::platform::aws:rds/instance:Instance::orders",
                "why": "replace of a stateful database without a snapshot",
            }
        ],
        "recommendation": "hold",
    }
    for key, value in overrides.items():
        if value is None:
            verdict.pop(key, None)
        else:
            verdict[key] = value
    return verdict


def valid_explanation(**overrides: Any) -> dict[str, Any]:
    explanation: dict[str, Any] = {
        "cause": "The security group rule already exists (InvalidPermission.Duplicate).",
        "next_step": "Import the existing rule or remove the duplicate from the stack.",
    }
    for key, value in overrides.items():
        if value is None:
            explanation.pop(key, None)
        else:
            explanation[key] = value
    return explanation


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_use_block(name: str, tool_input: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": _next_id("toolu"), "name": name, "input": tool_input}


def message_body(
    content: list[dict[str, Any]],
    *,
    stop_reason: str | None = "tool_use",
    model: str = MODEL,
    output_tokens: int = 187,
) -> dict[str, Any]:
    """A complete non-streaming Messages API response."""
    return {
        "id": _next_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 2312,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        },
    }


def error_body(error_type: str, message: str) -> dict[str, Any]:
    """The API's error document: ``{"type": "error", "error": {...}, "request_id": ...}``."""
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": _next_id("req"),
    }


# --- replies: one HTTP response each, built fresh every time it is played --------------


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def response(self) -> httpx2.Response:
        return httpx2.Response(self.status, content=self.body, headers=list(self.headers))

    def json(self) -> Any:
        return json.loads(self.body)


def json_reply(status: int, document: Any, headers: dict[str, str] | None = None) -> Reply:
    base = {"content-type": "application/json", "request-id": _next_id("req")}
    return Reply(status, json.dumps(document).encode(), tuple({**base, **(headers or {})}.items()))


def verdict_message(
    tool_input: Any = None, *, stop_reason: str = "tool_use", model: str = MODEL
) -> Reply:
    """Claude's answer through ``record_verdict`` (a valid verdict unless ``tool_input``)."""
    block = tool_use_block("record_verdict", valid_verdict() if tool_input is None else tool_input)
    return json_reply(200, message_body([block], stop_reason=stop_reason, model=model))


def explanation_message(tool_input: Any = None, *, model: str = MODEL) -> Reply:
    tool_input = valid_explanation() if tool_input is None else tool_input
    block = tool_use_block("record_explanation", tool_input)
    return json_reply(200, message_body([block], model=model))


def text_message(text: str = "This change looks risky; I would hold it.") -> Reply:
    """An answer in prose only: no tool call."""
    return json_reply(200, message_body([text_block(text)], stop_reason="end_turn"))


def malformed_verdict_message(**overrides: Any) -> Reply:
    """A ``record_verdict`` call whose input ``Verdict`` rejects, e.g. ``risk="severe"`` or
    ``summary=None`` (missing)."""
    return verdict_message(valid_verdict(**overrides))


def cut_off_message() -> Reply:
    """``stop_reason: max_tokens``: the tool input was cut off mid-way (the API sends what
    it parsed, here an incomplete object)."""
    block = tool_use_block("record_verdict", {"risk": "high"})
    return json_reply(200, message_body([block], stop_reason="max_tokens", output_tokens=1024))


def not_json() -> Reply:
    """A 200 whose body is not JSON (a proxy's HTML page, say)."""
    return Reply(
        200, b"<html><body>upstream maintenance</body></html>", (("content-type", "text/html"),)
    )


def not_json_declared_json() -> Reply:
    """A 200 that claims ``application/json`` but whose body does not parse."""
    return Reply(200, b'{"id": "msg_01', (("content-type", "application/json"),))


def _retry_headers(retry_after: float | str | None, retry_after_ms: float | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return headers


def rate_limited(
    retry_after: float | str | None = None, *, retry_after_ms: float | None = None
) -> Reply:
    headers = _retry_headers(retry_after, retry_after_ms)
    headers["anthropic-ratelimit-requests-remaining"] = "0"
    return json_reply(
        429,
        error_body("rate_limit_error", "Number of request tokens has exceeded your rate limit."),
        headers,
    )


def overloaded(
    retry_after: float | str | None = None, *, retry_after_ms: float | None = None
) -> Reply:
    return json_reply(
        529,
        error_body("overloaded_error", "Overloaded"),
        _retry_headers(retry_after, retry_after_ms),
    )


def server_error(status: int = 500) -> Reply:
    return json_reply(status, error_body("api_error", "Internal server error"))


def unauthorized(message: str = "invalid x-api-key") -> Reply:
    return json_reply(401, error_body("authentication_error", message))


def bad_request(message: str = "messages: text content blocks must be non-empty") -> Reply:
    return json_reply(400, error_body("invalid_request_error", message))


# --- the recording handler ---------------------------------------------------------------


@dataclass(frozen=True)
class SentRequest:
    method: str
    url: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # the parsed JSON body, or None
    raw: bytes
    timeout: dict[str, float | None] | None  # httpx2's per-request timeout extension

    def user_text(self) -> str:
        """The text of the (single) user message."""
        content = self.body["messages"][0]["content"]
        if isinstance(content, str):
            return content
        return "".join(block.get("text", "") for block in content)


Step = Reply | BaseException | type[BaseException] | Callable[[httpx2.Request], httpx2.Response]


class RecordingHandler:
    """Records every request and plays ``script`` in order; with ``repeat`` the last step is
    played again once the script runs out, otherwise an extra request gets a 599 and counts
    in ``overrun``. An exception class is raised as ``cls("scripted ...", request=request)``."""

    def __init__(self, *script: Step, repeat: bool = False) -> None:
        self.script: list[Step] = list(script)
        self.repeat = repeat
        self.requests: list[SentRequest] = []
        self.overrun = 0

    @classmethod
    def always(cls, step: Step) -> RecordingHandler:
        return cls(step, repeat=True)

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def last(self) -> SentRequest:
        return self.requests[-1]

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        raw = request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.requests.append(
            SentRequest(
                method=request.method,
                url=str(request.url),
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                raw=raw,
                timeout=request.extensions.get("timeout"),
            )
        )
        index = len(self.requests) - 1
        if index < len(self.script):
            step = self.script[index]
        elif self.repeat and self.script:
            step = self.script[-1]
        else:
            self.overrun += 1
            return json_reply(
                599, error_body("script_exhausted", "no more scripted replies")
            ).response()
        return _play(step, request)


def _play(step: Step, request: httpx2.Request) -> httpx2.Response:
    if isinstance(step, Reply):
        return step.response()
    if isinstance(step, BaseException):
        raise step
    if not isinstance(step, type):
        return step(request)
    if issubclass(step, httpx2.RequestError):
        raise step(f"scripted {step.__name__}", request=request)
    if issubclass(step, BaseException):
        raise step(f"scripted {step.__name__}")
    raise TypeError(f"not a step: {step!r}")


def mock_http_client(handler: RecordingHandler) -> httpx2.Client:
    return httpx2.Client(transport=httpx2.MockTransport(handler))


@dataclass
class Sleeps:
    """An injected ``sleep`` that records what it was asked to wait, and waits not at all."""

    seconds: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


# --- a real server on 127.0.0.1 that may answer slowly ------------------------------------


class SlowServer:
    """A threading HTTP server on 127.0.0.1 that answers every POST with ``reply``.

    ``trickle``: ``"none"`` sends the whole response at once; ``"body"`` sends the status line
    and the headers at once, then the body one byte every ``byte_seconds``; ``"all"`` sends
    everything, status line and headers included, one byte at a time. ``requests`` counts the
    requests received; ``disconnected`` is set when a write fails because the client went
    away. Leaving the ``with`` block stops the server and every answer still being sent."""

    def __init__(
        self,
        reply: Reply,
        *,
        trickle: Literal["none", "body", "all"] = "none",
        byte_seconds: float = 0.2,
    ) -> None:
        self.reply = reply
        self.trickle = trickle
        self.byte_seconds = byte_seconds
        self.requests = 0
        self.disconnected = threading.Event()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="slow-server", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> SlowServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _response_bytes(self) -> tuple[bytes, bytes]:
        """The status line with the headers, and the body."""
        reason = http.HTTPStatus(self.reply.status).phrase if self.reply.status < 600 else "?"
        lines = [f"HTTP/1.1 {self.reply.status} {reason}"]
        lines += [f"{name}: {value}" for name, value in self.reply.headers]
        lines += [f"content-length: {len(self.reply.body)}", "connection: close", "", ""]
        return "\r\n".join(lines).encode("latin-1"), self.reply.body

    def _send(self, connection: Any, data: bytes, slowly: bool) -> bool:
        """Whether all of ``data`` went out (not when the client left or the server stops)."""
        try:
            if not slowly:
                connection.sendall(data)
                return True
            for index in range(len(data)):
                if self.stopping.wait(self.byte_seconds):
                    return False
                connection.sendall(data[index : index + 1])
            return True
        except OSError:  # BrokenPipeError, ConnectionResetError
            self.disconnected.set()
            return False

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with server._lock:
                    server.requests += 1
                head, body = server._response_bytes()
                self.close_connection = True
                if server._send(self.connection, head, server.trickle == "all"):
                    server._send(self.connection, body, server.trickle != "none")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
