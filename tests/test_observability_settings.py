"""``platform:observability`` and the chat webhook's secret: what each stack sets, and every
mistake refused with the key, the value (never the webhook's) and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import parse_settings
from infra.settings.observability import ALERT_WEBHOOK_KEY
from platform_common.pulumi_values import SECRET_MARK
from platformctl.world import settings_from_stack_file
from tests.conftest import REPOSITORY, STACKS
from tests.test_config import BASE, problems_for, settings_with

WEBHOOK = "https://chat.example.com/hooks/T000/B000/Xy9tokenValue"


def observability(**changes: Any) -> dict[str, Any]:
    return {**BASE["platform:observability"], **changes}


def parsed(config: dict[str, Any], secret_keys: frozenset[str] = frozenset()):
    return parse_settings(
        config, project="platform", stack="staging", source="x", secret_keys=secret_keys
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_collects_metrics_with_a_confirmed_collector(stack):
    settings = settings_from_stack_file(REPOSITORY, stack)
    assert settings.platform.observability.collector_chart_version == "29.27.0"
    assert settings.platform.observability.alert_emails


def test_prod_holds_its_services_to_tighter_objectives_than_dev():
    dev, _, prod = (settings_from_stack_file(REPOSITORY, s) for s in STACKS)
    assert (
        dev.platform.observability.slo.availability < prod.platform.observability.slo.availability
    )


@pytest.mark.parametrize(
    ("changes", "key", "allowed"),
    [
        ({"slo": {"availability": 0.5}}, "slo.availability", "0.9 to 0.9999"),
        ({"slo": {"latencyThresholdSeconds": 0.3}}, "slo.latencyThresholdSeconds", "0.25, 0.5"),
        ({"alertEmails": ["not-an-address"]}, "alertEmails", "name@domain"),
        ({"alertEmails": ["a@example.com", "a@example.com"]}, "alertEmails", "each once"),
        ({"scrapeIntervalSeconds": 2}, "scrapeIntervalSeconds", "5 to 120"),
        ({"alarms": {"databaseCpuPercent": 0}}, "alarms.databaseCpuPercent", "1 to 100"),
        ({"grafana": {"authentication": "LDAP"}}, "grafana.authentication", "AWS_SSO"),
        ({"collectorChartVersion": "29.0.0"}, "collectorChartVersion", "allowed: 29.27.0"),
    ],
)
def test_a_bad_observability_setting_names_its_key_and_what_is_allowed(changes, key, allowed):
    [problem] = problems_for(settings_with(platform__observability=observability(**changes)))
    assert problem.startswith(f"platform:observability.{key}")
    assert allowed in problem


def test_an_analysis_window_too_short_for_two_scrapes_is_refused():
    config = settings_with(
        platform__observability=observability(scrapeIntervalSeconds=60),
        platform__delivery={"analysis": {"intervalSeconds": 30, "windowSeconds": 60}},
    )
    [problem] = problems_for(config)
    assert problem.startswith("platform:delivery.analysis.windowSeconds = 60")
    assert "allowed: at least 120" in problem


def test_a_service_may_hold_its_own_objectives():
    app = BASE["platform:app"]
    service = {**app["services"][0], "slo": {"availability": 0.9999}}
    settings = parsed(settings_with(platform__app={**app, "services": [service]}))
    [chat_api] = settings.platform.app.services
    assert chat_api.slo is not None and chat_api.slo.availability == 0.9999


def test_a_webhook_url_in_plain_text_is_refused_without_being_shown():
    with pytest.raises(Exception) as refused:
        parsed({**BASE, ALERT_WEBHOOK_KEY: WEBHOOK})
    message = str(refused.value)
    assert ALERT_WEBHOOK_KEY in message and "--secret" in message
    assert "Xy9token" not in message and "chat.example.com/hooks" not in message


def test_a_secret_webhook_is_taken_and_only_its_presence_is_kept():
    settings = parsed({**BASE, ALERT_WEBHOOK_KEY: WEBHOOK}, frozenset({ALERT_WEBHOOK_KEY}))
    assert settings.alert_webhook is True
    assert WEBHOOK not in repr(settings)
    # The stack file's encrypted value reaches the tools as a placeholder: nothing to check.
    placeholder = {**BASE, ALERT_WEBHOOK_KEY: SECRET_MARK}
    assert parsed(placeholder, frozenset({ALERT_WEBHOOK_KEY})).alert_webhook is True
    assert parsed(BASE).alert_webhook is False


def test_a_secret_webhook_that_is_not_https_is_refused_without_being_shown():
    plain = "http://chat.example.com/hooks/Xy9tokenValue"
    with pytest.raises(Exception) as refused:
        parsed({**BASE, ALERT_WEBHOOK_KEY: plain}, frozenset({ALERT_WEBHOOK_KEY}))
    message = str(refused.value)
    assert "allowed: an https:// URL" in message
    assert "Xy9token" not in message
