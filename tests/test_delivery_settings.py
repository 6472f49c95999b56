"""``platform:delivery``: release knobs validated at the edge like every other setting."""

from __future__ import annotations

import re

import pytest

from infra.config import SettingsError, parse_settings
from infra.settings.delivery import DEFAULT_METRICS, render_query
from platformctl.world import settings_from_stack_file
from tests.conftest import REPOSITORY, stack_setting


def problems_for(delivery: dict) -> str:
    import yaml

    config = yaml.safe_load((REPOSITORY / "Pulumi.dev.yaml").read_text())["config"]
    config["platform:delivery"] = delivery
    with pytest.raises(SettingsError) as raised:
        parse_settings(config, project="platform", stack="dev", source="Pulumi.dev.yaml")
    return str(raised.value)


@pytest.mark.parametrize(
    ("delivery", "key", "allowed"),
    [
        ({"profile": "Fast"}, "platform:delivery.profile", "Canary10Percent5Minutes"),
        ({"stepWeights": [50, 25, 100]}, "platform:delivery.stepWeights", "rising"),
        ({"stepWeights": [10, 50]}, "platform:delivery.stepWeights", "end at 100"),
        ({"analysis": {"provider": "datadog"}}, "platform:delivery.analysis.provider",
         "prometheus, cloudwatch"),
        ({"analysis": {"failureLimit": True}}, "platform:delivery.analysis.failureLimit",
         "whole number"),
        ({"analysis": {"intervalSeconds": 60, "windowSeconds": 30}}, "platform:delivery.analysis",
         "at least the interval"),
        ({"analysis": {"metrics": []}}, "platform:delivery.analysis.metrics", "at least one"),
        ({"analysis": {"metrics": [{"name": "x", "query": "up {pod}",
                                    "thresholdRange": {"min": 1}}]}},
         "platform:delivery.analysis.metrics[0].query", "{service}"),
        ({"analysis": {"metrics": [{"name": "x", "query": "up"}]}},
         "platform:delivery.analysis.metrics[0]", "thresholdRange, ratioToLive"),
        ({"analysis": {"metrics": [{"name": "x", "query": "up",
                                    "thresholdRange": {"min": 2, "max": 1}}]}},
         "platform:delivery.analysis.metrics[0].thresholdRange", "min <= max"),
        ({"analysis": {"provider": "cloudwatch"}}, "platform:delivery.analysis",
         "CloudWatch ALB statistic"),
        ({"onFailure": "ignore"}, "platform:delivery.onFailure", "'rollback' or 'pause'"),
        ({"hooks": {"preRollout": [{"name": "smoke"}]}}, "platform:delivery.hooks.preRollout[0]",
         "exactly one of url and command"),
        ({"hooks": {"notify": ["ftp://x"]}}, "platform:delivery.hooks.notify", "http://"),
    ],
)  # fmt: skip
def test_a_bad_delivery_setting_names_its_key_and_what_is_allowed(delivery, key, allowed):
    message = problems_for(delivery)
    assert key in message
    assert allowed in message


def test_the_shipped_stacks_differ_in_how_carefully_they_release():
    dev, staging, prod = (
        settings_from_stack_file(REPOSITORY, s).platform.delivery
        for s in ("dev", "staging", "prod")
    )
    assert dev.weights == (10, 100) and dev.bake_seconds == 120
    assert staging.weights == prod.weights == (5, 25, 50, 100)
    assert prod.bake_seconds > staging.bake_seconds
    assert prod.promotion.require_approval and not staging.promotion.require_approval
    assert prod.promotion.source_soak_minutes >= 24 * 60
    assert prod.scale_down_delay_seconds > staging.scale_down_delay_seconds
    assert prod.analysis.failure_limit == 0
    assert stack_setting("prod", "platform:delivery")["profile"] == "Progressive5-25-50-100"


def test_query_placeholders_are_filled_and_promql_braces_left_alone():
    values = {"stack": "prod", "service": "chat-api", "slot": "green", "window": "60s"}
    query = render_query(DEFAULT_METRICS[0].query, values)
    selector = 'stack="prod",service="chat-api",slot="green",code!~"5.."'
    assert f"http_requests_total{{{selector}}}[60s]" in query
    assert "{" + "slot}" not in query and "{" + "stack}" not in query


def test_every_default_query_is_scoped_to_the_stack():
    for metric in DEFAULT_METRICS:
        assert query_selectors(metric.query) and all(
            'stack="{stack}"' in selector for selector in query_selectors(metric.query)
        ), metric.name


def query_selectors(query: str) -> list[str]:
    """The label selectors of a PromQL query's metrics (``name{...}``)."""
    return re.findall(r"[a-z_]+\{([^{}]*(?:\{[a-z]+\}[^{}]*)*)\}", query)


def test_a_prometheus_query_that_does_not_name_the_stack_is_refused():
    message = problems_for(
        {"analysis": {"metrics": [{"name": "errors", "query": "sum(rate(x[{window}]))",
                                   "thresholdRange": {"max": 1}}]}}
    )  # fmt: skip
    assert "platform:delivery.analysis" in message
    assert 'stack="{stack}"' in message and "another's series" in message


def test_alarm_names_are_checked_for_form_and_repetition():
    assert "each once" in problems_for({"analysis": {"alarms": ["db-cpu", "db-cpu"]}})
    assert "not an alarm name" in problems_for({"analysis": {"alarms": ["bad\nname"]}})


def test_hook_urls_may_name_an_environment_variable_instead_of_holding_a_token():
    from infra.settings.delivery import Hooks

    hooks = Hooks.model_validate(
        {"notify": ["${CHAT_WEBHOOK}"], "preRollout": [{"name": "smoke", "url": "${SMOKE_URL}"}]}
    )
    assert hooks.notify == ("${CHAT_WEBHOOK}",)
    message = problems_for({"hooks": {"notify": ["${lower}"]}})
    assert "platform:delivery.hooks.notify" in message and "${VARIABLE}" in message
