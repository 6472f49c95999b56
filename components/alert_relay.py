"""The chat relay: a Lambda function subscribed to the stack's alert topic that posts each
alert to the chat webhook as one line of text.

Why a relay and not an HTTPS subscription of the webhook itself: SNS delivers to an HTTPS
endpoint only after the endpoint confirms the subscription (it must fetch SubscribeURL),
which chat webhooks do not do; and a subscription's endpoint, token included, is returned to
anyone allowed sns:ListSubscriptions. The relay reads the URL from Secrets Manager when it
starts, so the token stays in one encrypted place.

This file is the function's whole code (the Python standard library and the boto3 of the
Lambda runtime); the component uploads it as it is, and the tests import it.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

HANDLER = "alert_relay.handler"
TIMEOUT_SECONDS = 5
_webhook_url: str | None = None


def handler(event: Mapping[str, Any], context: object) -> dict[str, int]:
    url = _webhook()
    posted = 0
    for record in event.get("Records", []):
        sns = record.get("Sns", {})
        post(url, text_of(sns.get("Subject"), sns.get("Message", "")))
        posted += 1
    return {"posted": posted}


def _webhook(read_secret: Callable[[str], str] | None = None) -> str:
    global _webhook_url
    if _webhook_url is None:
        read = read_secret or _read_secret
        _webhook_url = read(os.environ["WEBHOOK_SECRET_ARN"])
    return _webhook_url


def _read_secret(arn: str) -> str:
    import boto3  # the Lambda runtime's

    return str(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def text_of(subject: str | None, message: str) -> str:
    """One readable line per notification: a CloudWatch alarm's state change, the
    alert manager's alerts, or the subject and message as they came."""
    try:
        body = json.loads(message)
    except ValueError:
        body = None
    if isinstance(body, dict) and "AlarmName" in body:
        return (
            f"{body.get('NewStateValue', '?')}: {body['AlarmName']}: "
            f"{body.get('NewStateReason', '')}"
        ).strip()
    if isinstance(body, dict) and isinstance(body.get("alerts"), list):
        lines = []
        for alert in body["alerts"]:
            labels = alert.get("labels", {})
            summary = alert.get("annotations", {}).get("summary", "")
            status = str(alert.get("status", body.get("status", "?"))).upper()
            lines.append(f"{status}: {labels.get('alertname', 'alert')}: {summary}".strip())
        return "\n".join(lines) or (subject or "alert")
    return f"{subject}: {message}" if subject else message


def post(url: str, text: str) -> None:
    """Posts ``{"text": ...}``, the payload Slack's, Mattermost's and Google Chat's incoming
    webhooks take. A failure raises, so Lambda retries the delivery."""
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        if not 200 <= response.status < 300:
            raise RuntimeError(f"the webhook answered HTTP {response.status}")
