"""The chat relay's code as Lambda runs it: each notification of the alert topic becomes one
post of one readable line to the webhook (a real HTTP server here), the webhook's URL is read
from Secrets Manager once, and a webhook that refuses makes the invocation fail (so Lambda
retries it)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components import alert_relay

ALARM = json.dumps({
    "AlarmName": "platform-prod-db-cpu", "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 3 datapoints were greater than the threshold (80.0)",
})  # fmt: skip


class Chat:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[dict] = []
        chat = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                chat.posts.append(json.loads(body))
                self.send_response(chat.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0/B0/token"


@pytest.fixture
def chat(monkeypatch) -> Iterator[Chat]:
    running = Chat()
    reads: list[str] = []
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:1:secret:x")
    monkeypatch.setattr(alert_relay, "_webhook_url", None)
    monkeypatch.setattr(alert_relay, "_read_secret", lambda arn: reads.append(arn) or running.url)
    running.reads = reads  # type: ignore[attr-defined]
    yield running
    running.server.shutdown()


def event(*messages: tuple[str | None, str]) -> dict:
    return {"Records": [{"Sns": {"Subject": s, "Message": m}} for s, m in messages]}


def test_an_alarm_becomes_one_line_with_its_state_and_reason(chat):
    assert alert_relay.handler(event(("ALARM: db cpu", ALARM)), None) == {"posted": 1}
    assert chat.posts == [{
        "text": "ALARM: platform-prod-db-cpu: Threshold Crossed: 3 datapoints were greater "
        "than the threshold (80.0)"
    }]  # fmt: skip


def test_alert_manager_alerts_each_get_a_line(chat):
    alerts = json.dumps({"status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "SLOAvailabilityBudgetBurn"},
         "annotations": {"summary": "chat-api on prod burns its availability error budget"}},
        {"status": "resolved", "labels": {"alertname": "SLOLatencyBudgetBurn"},
         "annotations": {"summary": "chat-web on prod burns its latency error budget"}},
    ]})  # fmt: skip
    alert_relay.handler(event((None, alerts)), None)
    assert chat.posts[0]["text"].splitlines() == [
        "FIRING: SLOAvailabilityBudgetBurn: chat-api on prod burns its availability error budget",
        "RESOLVED: SLOLatencyBudgetBurn: chat-web on prod burns its latency error budget",
    ]


def test_plain_text_passes_through_with_its_subject(chat):
    alert_relay.handler(event(("Alert", "something happened")), None)
    assert chat.posts == [{"text": "Alert: something happened"}]


def test_the_webhook_is_read_from_secrets_manager_once(chat):
    alert_relay.handler(event(("a", "1")), None)
    alert_relay.handler(event(("b", "2"), ("c", "3")), None)
    assert len(chat.posts) == 3
    assert chat.reads == ["arn:aws:secretsmanager:us-east-1:1:secret:x"]  # type: ignore[attr-defined]


def test_a_webhook_that_refuses_fails_the_invocation(chat):
    chat.status = 404
    with pytest.raises(Exception) as failed:
        alert_relay.handler(event(("a", "1")), None)
    # The URL holds the webhook's token: no error shows it.
    assert "token" not in str(failed.value) and "hooks" not in str(failed.value)
