"""The release hooks against a real HTTP server on loopback and real child processes."""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

import pytest

from infra.deploy.hooks import HookRunner
from infra.settings.delivery import Hooks as HookSettings
from tests.http_recorder import Recorder

PYTHON = sys.executable


@pytest.fixture
def dead_url() -> str:
    """A loopback port nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


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

    assert reported == [f"notification to {dead_url} failed: connection refused"]
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
    assert result.reason.startswith("GET http://[::1/healthz: InvalidURL")
