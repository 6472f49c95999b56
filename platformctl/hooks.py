"""The release's webhooks and checks (``platform:delivery.hooks``), as Flagger runs them.

``preRollout`` checks run against the preview route before any traffic moves; the confirm
gate's URL is asked for a 2xx before promotion; every phase change is POSTed to each notify
URL. Only the outcome of a check leaves this module: a failed notification is reported to
the driver, never raised, so a broken chat webhook cannot stop (or roll back) a release.

A hook URL is a credential (a Slack or Teams incoming webhook carries its token in the path;
others put one in the query or in ``user:password@``), so no reason or failure text shows
more of it than ``redact_url`` leaves, and no httpx message (which may quote the whole URL)
is passed on as it is.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from infra.settings.delivery import ENV_REFERENCE, HttpCheck
from infra.settings.delivery import Hooks as HookSettings
from platformctl.ports import HookResult

# The end of a failed command's output kept in its reason: enough for the assertion that
# failed, short enough for a log line and a notification.
OUTPUT_TAIL_CHARS = 500
# A response body excerpt: status pages often say why in their first line.
BODY_EXCERPT_CHARS = 200
COMMAND_SHOWN_CHARS = 80
NOTIFY_TIMEOUT_SECONDS = 5.0
CONFIRM_TIMEOUT_SECONDS = 10.0
NOTIFY_ATTEMPTS = 2
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*(?=://)")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"`]+")
# `password=…`, `token: …`, `--api-key …`, `Bearer …` in a command line or its output.
_KEYWORD = r"(?:password|passwd|pwd|secret|token|api[_-]?key|auth(?:orization)?)"
_CREDENTIAL_IN_TEXT = re.compile(
    rf"(?i)((?<![a-z0-9]){_KEYWORD}[\"']?\s*[:=]\s*(?:bearer\s+|basic\s+)?[\"']?"
    rf"|--?{_KEYWORD}[\s=]+|\bbearer\s+)[^\s\"',&;|]+"
)


def redact_url(url: str) -> str:
    """What of a hook URL may be shown: ``scheme://host[:port]``, and ``/…`` when it had a
    path, query or fragment. Never the credentials, the path or the query."""
    if ENV_REFERENCE.fullmatch(url.strip()):
        return url.strip()  # a variable's name, not its value
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:  # "http://[::1", a port out of range
        host = None
    if host is None:
        scheme = _SCHEME.match(url.strip())
        return f"{scheme[0]}://…" if scheme else "…"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    rest = parts.path.strip("/") or parts.query or parts.fragment
    return f"{parts.scheme}://{netloc}" + ("/…" if rest else "")


@dataclass(frozen=True)
class DeliveryFailure:
    """A notification that did not arrive, after its retry."""

    url: str = field(repr=False)
    reason: str

    def __str__(self) -> str:
        return f"notification to {redact_url(self.url)} failed: {self.reason}"


class HookRunner:
    """Runs the hooks of one service's delivery settings; implements ``ports.Hooks``.

    ``transport`` replaces httpx's network transport (tests). ``notify`` returns one line
    per failed delivery ("notification to URL failed: why", the URL redacted) for the
    driver's log; ``delivery_failures`` keeps them all.
    """

    def __init__(
        self,
        settings: HookSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        notify_timeout_seconds: float = NOTIFY_TIMEOUT_SECONDS,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._environ = os.environ if environ is None else environ
        self._transport = transport
        self._notify_timeout = notify_timeout_seconds
        self.delivery_failures: list[DeliveryFailure] = []

    def pre_rollout(self, preview_url: str) -> list[HookResult]:
        results: list[HookResult] = []
        for check in self._settings.pre_rollout:
            if check.url is not None:
                result = self._url_check(check, check.url, preview_url)
            else:
                result = self._command_check(check, preview_url)
            results.append(result)
            if not result.passed:
                # Later checks usually assume earlier ones held (migrated, then smoke-tested).
                break
        return results

    def confirmation(self) -> bool | None:
        result = self.confirmation_check()
        return None if result is None else result.passed

    def confirmation_check(self) -> HookResult | None:
        """``confirmation`` with the reason, for the driver's log; None without a URL."""
        gate = self._settings.confirm_promotion
        if gate is None or gate.url is None:
            return None
        url, missing = self._resolve(gate.url)
        if url is None:
            return HookResult("confirm-promotion", False, missing)
        outcome = self._get(url, CONFIRM_TIMEOUT_SECONDS)
        return HookResult("confirm-promotion", outcome.passed, outcome.reason)

    def notify(self, event: Mapping[str, Any]) -> list[str]:
        failures = self.deliver(event)
        self.delivery_failures.extend(failures)
        return [str(failure) for failure in failures]

    def deliver(self, event: Mapping[str, Any]) -> list[DeliveryFailure]:
        """POSTs ``event`` to every notify URL (one retry each); returns what failed."""
        # Exactly the event given: nothing from this process's environment is added.
        body = json.dumps(event, default=str).encode()
        failures = []
        for configured in self._settings.notify:
            url, missing = self._resolve(configured)
            reason = missing if url is None else self._post(url, body)
            if reason is not None:
                failures.append(DeliveryFailure(url or configured, reason))
        return failures

    def _resolve(self, configured: str) -> tuple[str | None, str]:
        """The URL itself, or the one a ``${NAME}`` reference names; (None, why) when the
        variable is not set."""
        reference = ENV_REFERENCE.fullmatch(configured)
        if reference is None:
            return configured, ""
        value = self._environ.get(reference[1], "").strip()
        if not value:
            return None, f"environment variable {reference[1]} is not set"
        return value, ""

    def _url_check(self, check: HttpCheck, template: str, preview_url: str) -> HookResult:
        resolved, missing = self._resolve(template)
        if resolved is None:
            return HookResult(check.name, False, missing)
        url = resolved.replace("{preview}", preview_url.rstrip("/"))
        outcome = self._get(url, check.timeout_seconds)
        return HookResult(check.name, outcome.passed, outcome.reason)

    def _get(self, url: str, timeout: float) -> _Outcome:
        shown = redact_url(url)
        started = time.monotonic()
        try:
            with self._client(timeout) as client:
                response = client.get(url)
        except httpx.TimeoutException:
            return _Outcome(False, f"GET {shown}: no answer within {timeout:g}s")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return _Outcome(False, f"GET {shown}: {_transport_error(exc)}")
        elapsed = time.monotonic() - started
        status = f"{response.status_code} {response.reason_phrase}".strip()
        if response.is_success:
            return _Outcome(True, f"GET {shown} answered {status} in {elapsed:.2f}s")
        # Error pages often quote the path they were asked for.
        excerpt = _without_url(_one_line(response.text), url)[:BODY_EXCERPT_CHARS]
        detail = f" ({excerpt})" if excerpt else ""
        return _Outcome(False, f"GET {shown} answered {status}{detail}; allowed: 2xx")

    def _post(self, url: str, body: bytes) -> str | None:
        reason = ""
        for _attempt in range(NOTIFY_ATTEMPTS):
            try:
                with self._client(self._notify_timeout) as client:
                    response = client.post(
                        url, content=body, headers={"content-type": "application/json"}
                    )
            except httpx.TimeoutException:
                reason = f"no answer within {self._notify_timeout:g}s"
                continue
            except httpx.InvalidURL as exc:
                return _transport_error(exc)
            except httpx.HTTPError as exc:
                reason = _transport_error(exc)
                continue
            if response.is_success:
                return None
            reason = f"answered {response.status_code} {response.reason_phrase}".strip()
            if response.status_code < 500 and response.status_code != 429:
                # The receiver refused this event; sending it again changes nothing.
                return reason
        return reason

    def _client(self, timeout: float) -> httpx.Client:
        return httpx.Client(timeout=timeout, transport=self._transport, follow_redirects=False)

    def _command_check(self, check: HttpCheck, preview_url: str) -> HookResult:
        assert check.command is not None
        # A command line may hold a URL too (`curl https://token@host/...`).
        shown = _scrub(_one_line(shlex.join(check.command)))
        if len(shown) > COMMAND_SHOWN_CHARS:
            shown = shown[: COMMAND_SHOWN_CHARS - 1] + "…"
        env = {**os.environ, "PREVIEW_URL": preview_url}
        try:
            # Its own session, so a timeout stops everything it started, not only itself.
            process = subprocess.Popen(
                list(check.command),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except FileNotFoundError:
            return HookResult(
                check.name,
                False,
                f"command {check.command[0]!r} not found; allowed: a program on PATH or a "
                "path relative to the working directory",
            )
        except PermissionError:
            return HookResult(
                check.name, False, f"command {check.command[0]!r} is not executable (chmod +x)"
            )
        try:
            output, _ = process.communicate(timeout=check.timeout_seconds)
        except subprocess.TimeoutExpired:
            _stop_session(process)
            output, _ = process.communicate()
            tail = _tail(output)
            return HookResult(
                check.name,
                False,
                f"`{shown}` did not finish within {check.timeout_seconds}s"
                + (f"; output ends: {tail}" if tail else ""),
            )
        tail = _tail(output)
        if process.returncode == 0:
            return HookResult(check.name, True, f"`{shown}` exited 0")
        code = process.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited {code}"
        return HookResult(
            check.name,
            False,
            f"`{shown}` {how}; allowed: exit 0" + (f"; output ends: {tail}" if tail else ""),
        )


@dataclass(frozen=True)
class _Outcome:
    passed: bool
    reason: str


def _transport_error(exc: httpx.HTTPError | httpx.InvalidURL) -> str:
    """Why a request failed, from the exception's type and the operating system's error
    behind it: never the exception's own text, which may quote the request's URL."""
    name = type(exc).__name__
    cause = _os_error(exc)
    if isinstance(exc, httpx.ConnectError):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "could not connect (host name not found)"
        if isinstance(cause, ssl.SSLError):
            return f"could not connect (TLS: {cause.reason or type(cause).__name__})"
        if cause is not None and cause.strerror:
            return f"could not connect ({cause.strerror})"
        return f"could not connect ({name})"
    if isinstance(exc, httpx.InvalidURL):
        return f"{name}: not a URL httpx can request"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"{name}: allowed: http://, https://"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{name}: the server closed the connection or broke the HTTP protocol"
    if cause is not None and cause.strerror:
        return f"{name}: {cause.strerror}"
    return name


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError behind an httpx exception (httpx raises its own from httpcore's, which
    is raised from the socket's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _without_url(text: str, url: str) -> str:
    """``text`` with the URL and its secret parts (credentials, path, query) cut out."""
    pieces = {url}
    with contextlib.suppress(ValueError):
        parts = urlsplit(url)
        pieces |= {parts.netloc.rpartition("@")[0], parts.password or "", parts.query}
        pieces |= {parts.username or "", parts.fragment}
        if parts.path.strip("/"):
            pieces.add(parts.path)
    pieces |= {unquote(piece) for piece in pieces}
    for piece in sorted(filter(None, pieces), key=len, reverse=True):
        text = text.replace(piece, "…")
    return text


def _stop_session(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _scrub(text: str) -> str:
    """URLs reduced to scheme and host, and credential-looking values masked."""
    text = _URL_IN_TEXT.sub(lambda found: redact_url(found[0]), text)
    return _CREDENTIAL_IN_TEXT.sub(lambda found: found[1] + "[secret]", text)


def _tail(output: bytes | None) -> str:
    """The output's last lines on one line (`` | `` between them), at most ~500 characters."""
    lines = [line.strip() for line in (output or b"").decode(errors="replace").splitlines()]
    # A migration job may print its connection string: the reason lands in the ledger, the
    # JSON output and every notification.
    text = _scrub(" | ".join(line for line in lines if line))
    if len(text) <= OUTPUT_TAIL_CHARS:
        return text
    return "…" + text[-OUTPUT_TAIL_CHARS:]


def _one_line(text: str) -> str:
    return " ".join(text.split())
