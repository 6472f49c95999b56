"""The release hooks against a real HTTP server on loopback and real child processes."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import httpx
import pytest

from infra.settings.delivery import Hooks as HookSettings
from platformctl import hooks as hooks_module
from platformctl.hooks import HookRunner, redact_url
from tests.http_recorder import Recorder

PYTHON = sys.executable


def runner(**settings: Any) -> HookRunner:
    return HookRunner(HookSettings.model_validate(settings))


def command_check(name: str, code: str, timeout: int = 30) -> dict[str, Any]:
    return {"name": name, "command": [PYTHON, "-c", code], "timeoutSeconds": timeout}


# Pre-rollout URL checks


def test_url_check_passes_on_200_and_fills_in_the_preview_route(server: Recorder) -> None:
    hooks = runner(preRollout=[{"name": "smoke", "url": "{preview}/healthz"}])

    results = hooks.pre_rollout(server.base)

    assert [(r.name, r.passed) for r in results] == [("smoke", True)]
    assert "200" in results[0].reason
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/healthz")]


def test_url_check_fails_on_503_with_the_status_in_the_reason(server: Recorder) -> None:
    server.statuses["/healthz"] = 503
    hooks = runner(preRollout=[{"name": "smoke", "url": "{preview}/healthz"}])

    [result] = hooks.pre_rollout(server.base)

    assert not result.passed
    assert "503" in result.reason and "allowed: 2xx" in result.reason


def test_url_check_fails_when_no_answer_comes_within_its_timeout(server: Recorder) -> None:
    server.delays["/slow"] = 3
    hooks = runner(preRollout=[{"name": "smoke", "url": "{preview}/slow", "timeoutSeconds": 1}])

    started = time.monotonic()
    [result] = hooks.pre_rollout(server.base)

    assert not result.passed
    assert "no answer within 1s" in result.reason
    assert time.monotonic() - started < 2.5


def test_url_check_reports_a_refused_connection(dead_url: str) -> None:
    hooks = runner(preRollout=[{"name": "smoke", "url": dead_url}])

    [result] = hooks.pre_rollout("http://unused")

    assert not result.passed
    assert "connection refused" in result.reason


def test_checks_stop_at_the_first_failure(server: Recorder) -> None:
    server.statuses["/first"] = 500
    hooks = runner(
        preRollout=[
            {"name": "first", "url": "{preview}/first"},
            {"name": "second", "url": "{preview}/second"},
        ]
    )

    results = hooks.pre_rollout(server.base)

    assert [(r.name, r.passed) for r in results] == [("first", False)]
    assert server.to("/second") == []


# Pre-rollout commands


def test_command_check_passes_when_it_exits_0() -> None:
    hooks = runner(preRollout=[command_check("migrate", "print('done')")])

    [result] = hooks.pre_rollout("http://preview")

    assert result.passed
    assert "exited 0" in result.reason


def test_command_check_fails_on_exit_3_with_its_output_tail_in_the_reason() -> None:
    code = (
        "import sys\n"
        "for i in range(200): print(f'line {i}')\n"
        "print('assertion failed: /api/chat answered 500', file=sys.stderr)\n"
        "sys.exit(3)"
    )
    hooks = runner(preRollout=[command_check("smoke", code)])

    [result] = hooks.pre_rollout("http://preview")

    assert not result.passed
    assert "exited 3" in result.reason
    assert result.reason.endswith("assertion failed: /api/chat answered 500")
    # Only the tail: the first lines of a long output are not in the reason.
    assert "line 0 " not in result.reason
    assert len(result.reason) < 700


def test_command_check_fails_when_it_outlives_its_timeout() -> None:
    code = "import time\nprint('waiting', flush=True)\ntime.sleep(30)"
    hooks = runner(preRollout=[command_check("slow", code, timeout=1)])

    started = time.monotonic()
    [result] = hooks.pre_rollout("http://preview")

    assert not result.passed
    assert "did not finish within 1s" in result.reason and "waiting" in result.reason
    assert time.monotonic() - started < 5


def test_command_receives_the_preview_url_in_its_environment() -> None:
    code = "import os, sys\nsys.exit(0 if os.environ['PREVIEW_URL'] == 'https://pv.example' else 4)"
    hooks = runner(preRollout=[command_check("env", code)])

    [result] = hooks.pre_rollout("https://pv.example")

    assert result.passed, result.reason


def test_missing_command_is_a_failed_check_not_a_traceback() -> None:
    hooks = runner(preRollout=[{"name": "smoke", "command": ["no-such-program-xyz"]}])

    [result] = hooks.pre_rollout("http://preview")

    assert not result.passed
    assert "'no-such-program-xyz' not found" in result.reason


# Confirm gate


def test_confirm_gate_approves_on_200(server: Recorder) -> None:
    hooks = runner(confirmPromotion={"url": server.base + "/gate"})

    assert hooks.confirmation() is True
    assert [r.method for r in server.to("/gate")] == ["GET"]


def test_confirm_gate_does_not_approve_on_403(server: Recorder) -> None:
    server.statuses["/gate"] = 403
    hooks = runner(confirmPromotion={"url": server.base + "/gate"})

    assert hooks.confirmation() is False


def test_confirm_gate_does_not_approve_when_unreachable(dead_url: str) -> None:
    hooks = runner(confirmPromotion={"url": dead_url})

    assert hooks.confirmation() is False


def test_confirm_gate_without_url_has_no_opinion() -> None:
    assert runner(confirmPromotion={"timeoutSeconds": 60}).confirmation() is None
    assert runner().confirmation() is None


# Notifications


def test_notify_posts_the_exact_json_event_to_every_url(server: Recorder) -> None:
    hooks = runner(notify=[server.base + "/chat", server.base + "/audit"])
    event = {"stack": "dev", "service": "chat-api", "phase": "Progressing", "weight": 25}

    reported = hooks.notify(event)

    for path in ("/chat", "/audit"):
        [request] = server.to(path)
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.body) == event
    assert reported == [] and hooks.delivery_failures == []


def test_a_dead_notify_url_is_reported_without_raising(server: Recorder, dead_url: str) -> None:
    hooks = runner(notify=[dead_url, server.base + "/chat"])

    reported = hooks.notify({"phase": "Succeeded"})

    assert reported == [
        f"notification to {dead_url.removesuffix('/hook')}/… failed: connection refused"
    ]
    assert [f.url for f in hooks.delivery_failures] == [dead_url]
    # The other receivers still get the event.
    assert len(server.to("/chat")) == 1


def test_a_failing_receiver_gets_one_retry(server: Recorder) -> None:
    server.statuses["/flaky"] = 502
    hooks = runner(notify=[server.base + "/flaky"])

    failures = hooks.deliver({"phase": "Paused"})

    assert len(server.to("/flaky")) == 2
    assert [f.reason for f in failures] == ["answered 502 Bad Gateway"]


def test_a_receiver_refusing_the_event_is_not_asked_again(server: Recorder) -> None:
    server.statuses["/strict"] = 400
    hooks = runner(notify=[server.base + "/strict"])

    failures = hooks.deliver({"phase": "Paused"})

    assert len(server.to("/strict")) == 1
    assert [f.reason for f in failures] == ["answered 400 Bad Request"]


def test_a_preview_url_that_makes_no_url_is_a_failed_check() -> None:
    hooks = runner(preRollout=[{"name": "smoke", "url": "{preview}/healthz"}])

    [result] = hooks.pre_rollout("http://[::1")

    assert not result.passed
    assert result.reason.startswith("GET http://…: InvalidURL")


# Hook URLs are credentials: reasons show scheme://host[:port] only


SECRET_PATH = "/services/T000/B000/SECRETTOKEN?token=abc"
SECRETS = ("SECRETTOKEN", "token=abc", "abc", "T000", "B000", "services", "alice", "hunter2")


def secret_url(base: str) -> str:
    """``base`` (http://127.0.0.1:PORT) with credentials, a webhook path and a token query."""
    return base.replace("http://", "http://alice:hunter2@") + SECRET_PATH


def assert_redacted(text: str, base: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown in {text!r}"
    # The host stays, so the reason still says which receiver failed.
    assert f"{base}/…" in text


@pytest.fixture
def dead_base(dead_url: str) -> str:
    return dead_url.removesuffix("/hook")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/…"),
        ("https://alice:hunter2@example.com:8443?token=abc", "https://example.com:8443/…"),
        ("https://example.com/#token", "https://example.com/…"),
        ("http://[::1]:8080/hook", "http://[::1]:8080/…"),
        ("http://example.com", "http://example.com"),
        ("http://example.com/", "http://example.com"),
        ("http://[::1/healthz", "http://…"),
        ("http://example.com:99999/secret", "http://…"),
        ("not a url", "…"),
    ],
)
def test_a_url_is_shown_as_scheme_host_and_port_only(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_dead_notify_url_is_reported_without_its_path_query_or_credentials(
    dead_base: str,
) -> None:
    hooks = runner(notify=[secret_url(dead_base)])

    reported = hooks.notify({"phase": "Failed"})

    assert reported == [f"notification to {dead_base}/… failed: connection refused"]
    [failure] = hooks.delivery_failures
    assert_redacted(str(failure), dead_base)
    assert "hunter2" not in repr(failure) and "SECRETTOKEN" not in repr(failure)


def test_a_notify_url_answering_500_is_reported_without_its_secrets(server: Recorder) -> None:
    server.statuses[SECRET_PATH] = 500
    hooks = runner(notify=[secret_url(server.base)])

    reported = hooks.notify({"phase": "Failed"})

    assert len(server.to(SECRET_PATH)) == 2
    [line] = reported
    assert "answered 500" in line
    assert_redacted(line, server.base)


def test_a_notify_url_that_times_out_is_reported_without_its_secrets(server: Recorder) -> None:
    server.delays[SECRET_PATH] = 2
    hooks = HookRunner(
        HookSettings.model_validate({"notify": [secret_url(server.base)]}),
        notify_timeout_seconds=0.3,
    )

    [line] = hooks.notify({"phase": "Failed"})

    assert "no answer within 0.3s" in line
    assert_redacted(line, server.base)


def test_a_pre_rollout_url_check_never_shows_the_urls_secrets(
    server: Recorder, dead_base: str
) -> None:
    server.statuses[SECRET_PATH] = 500
    server.delays["/services/slow?token=abc"] = 3
    checks = [
        ("dead", secret_url(dead_base), dead_base, "connection refused"),
        # The recorder's error page quotes the path and query it was asked for.
        ("status-500", secret_url(server.base), server.base, "answered 500"),
        (
            "timeout",
            server.base.replace("http://", "http://alice:hunter2@") + "/services/slow?token=abc",
            server.base,
            "no answer within 1s",
        ),
    ]
    for name, url, base, why in checks:
        hooks = runner(preRollout=[{"name": name, "url": url, "timeoutSeconds": 1}])

        [result] = hooks.pre_rollout("http://unused")

        assert not result.passed
        assert why in result.reason, result.reason
        assert_redacted(result.reason, base)


def test_the_confirm_gate_never_shows_the_urls_secrets(
    server: Recorder, dead_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks_module, "CONFIRM_TIMEOUT_SECONDS", 0.5)
    server.statuses[SECRET_PATH] = 500
    server.delays["/services/slow?token=abc"] = 2
    slow = server.base.replace("http://", "http://alice:hunter2@") + "/services/slow?token=abc"
    gates = [
        (secret_url(dead_base), dead_base, "connection refused"),
        (secret_url(server.base), server.base, "answered 500"),
        (slow, server.base, "no answer within 0.5s"),
    ]
    for url, base, why in gates:
        result = runner(confirmPromotion={"url": url}).confirmation_check()

        assert result is not None and not result.passed
        assert why in result.reason, result.reason
        assert_redacted(result.reason, base)


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, httpx.ProxyError],
)
def test_transport_errors_quoting_the_url_are_not_passed_on(
    error: type[httpx.TransportError],
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error(f"failed talking to {request.url} (token=abc)", request=request)

    url = secret_url("http://hooks.example")
    hooks = HookRunner(
        HookSettings.model_validate(
            {"notify": [url], "preRollout": [{"name": "smoke", "url": url}]}
        ),
        transport=httpx.MockTransport(fail),
    )

    [line] = hooks.notify({"phase": "Failed"})
    [result] = hooks.pre_rollout("http://unused")

    for text in (line, result.reason):
        assert error.__name__ in text or "could not connect" in text
        assert_redacted(text, "http://hooks.example")


def test_a_command_line_holding_a_url_is_shown_without_its_secrets() -> None:
    url = secret_url("https://hooks.example")
    hooks = runner(preRollout=[{"name": "smoke", "command": [PYTHON, "-c", "exit(2)", url]}])

    [result] = hooks.pre_rollout("http://preview")

    assert "exited 2" in result.reason
    assert_redacted(result.reason, "https://hooks.example")


def test_a_webhook_url_named_by_an_environment_variable_is_read_when_the_hook_runs(
    server: Recorder,
) -> None:
    settings = HookSettings.model_validate(
        {"notify": ["${CHAT_WEBHOOK}"], "confirmPromotion": {"url": "${GATE_URL}"}}
    )
    hooks = HookRunner(settings, environ={"CHAT_WEBHOOK": server.base + "/chat/T0/B0/token"})
    assert hooks.notify({"phase": "Succeeded"}) == []
    assert [json.loads(r.body) for r in server.to("/chat/T0/B0/token")] == [{"phase": "Succeeded"}]
    gate = hooks.confirmation_check()
    assert gate is not None and not gate.passed
    assert gate.reason == "environment variable GATE_URL is not set"
    [failure] = HookRunner(settings, environ={}).notify({"phase": "Succeeded"})
    assert (
        failure
        == "notification to ${CHAT_WEBHOOK} failed: environment variable CHAT_WEBHOOK is not set"
    )


def test_credentials_a_failing_command_prints_never_reach_its_reason() -> None:
    script = (
        "print('connecting to postgres://app:hunter2@db.internal:5432/app');"
        "print('DB_PASSWORD=hunter2 api_key: k3y Authorization: Bearer abc.def');"
        "print('migration 0042 failed: token expired'); raise SystemExit(1)"
    )
    hooks = runner(preRollout=[{"name": "migrate", "command": [PYTHON, "-c", script]}])
    [result] = hooks.pre_rollout("https://preview.example.com")
    assert not result.passed
    for secret in ("hunter2", "k3y", "abc.def"):
        assert secret not in result.reason
    assert "postgres://db.internal:5432/…" in result.reason
    assert "DB_PASSWORD=[secret]" in result.reason
    assert "migration 0042 failed: token expired" in result.reason
