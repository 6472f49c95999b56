"""SLOs as code: the recording and alerting rules of each service's objectives, and the
alert manager's routing of what fires, as the Prometheus rule files and the Alertmanager
configuration the stack's workspace is given. Pure: the component and the tests (which
load the rules into a real Prometheus and ``promtool``) share it.

Alerts are the SRE workbook's multiwindow, multi-burn-rate alerts over a 30-day window
(https://sre.google/workbook/alerting-on-slos/, "Multiwindow, Multi-Burn-Rate Alerts"): an
alert fires when the error budget burns at a rate over both a long and a short window, so it
fires fast on a sharp outage, still catches a slow leak, and stops soon after either ends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

# (severity, long window, short window, burn rate): 2 % of a 30-day budget in an hour and
# 5 % in six hours page; 10 % in three days opens a ticket.
BURN_RATE_ALERTS = (
    ("page", "1h", "5m", 14.4),
    ("page", "6h", "30m", 6.0),
    ("ticket", "3d", "6h", 1.0),
)
WINDOWS = ("5m", "30m", "1h", "6h", "3d")
SLIS = ("availability", "latency")
ALERT_NAMES = {"availability": "SLOAvailabilityBudgetBurn", "latency": "SLOLatencyBudgetBurn"}
# Alerts group per service; repeats stay well inside the alert manager's 5-day limit.
REPEAT_INTERVAL = "4h"


@dataclass(frozen=True)
class ServiceObjectives:
    service: str
    availability: float  # share of requests that must not answer 5xx
    latency_threshold_seconds: float  # a bucket bound of the latency histogram
    latency_objective: float  # share of requests that must be answered within it


def record_name(sli: str, window: str) -> str:
    return f"slo:{sli}_error_ratio:rate{window}"


def rule_groups(stack: str, services: Sequence[ServiceObjectives]) -> dict[str, Any]:
    """One group per service: its error ratios over every window, then its burn-rate
    alerts. Every selector names the stack, so a workspace that held another stack's series
    would still judge only this one's."""
    return {"groups": [_group(stack, objectives) for objectives in services]}


def rules_yaml(stack: str, services: Sequence[ServiceObjectives]) -> str:
    return yaml.safe_dump(rule_groups(stack, services), sort_keys=False, width=1000)


def _group(stack: str, objectives: ServiceObjectives) -> dict[str, Any]:
    labels = f'stack="{stack}",service="{objectives.service}"'
    bucket = _le_matcher(objectives.latency_threshold_seconds)
    ratios = {
        "availability": lambda w: (
            f'sum(rate(http_requests_total{{{labels},code=~"5.."}}[{w}])) / '
            f"sum(rate(http_requests_total{{{labels}}}[{w}]))"
        ),
        # A service without the threshold's bucket counts as all slow: its alerts fire and
        # say so, where an empty ratio would keep them silent for ever.
        "latency": lambda w: (
            f'1 - (sum(rate(http_request_duration_seconds_bucket{{{labels},le=~"{bucket}"}}'
            f"[{w}])) or vector(0)) / sum(rate(http_request_duration_seconds_count{{{labels}}}"
            f"[{w}]))"
        ),
    }
    static = {"stack": stack, "service": objectives.service}
    records = [
        {"record": record_name(sli, window), "expr": ratios[sli](window), "labels": static}
        for sli in SLIS
        for window in WINDOWS
    ]
    return {
        "name": f"slo-{objectives.service}",
        "rules": records + _alerts(stack, objectives),
    }


def _alerts(stack: str, objectives: ServiceObjectives) -> list[dict[str, Any]]:
    selector = f'{{stack="{stack}",service="{objectives.service}"}}'
    budgets = {
        "availability": 1 - objectives.availability,
        "latency": 1 - objectives.latency_objective,
    }
    alerts = []
    for sli in SLIS:
        for severity, long_window, short_window, burn_rate in BURN_RATE_ALERTS:
            threshold = _number(burn_rate * budgets[sli])
            alerts.append(
                {
                    "alert": ALERT_NAMES[sli],
                    "expr": (
                        f"{record_name(sli, long_window)}{selector} > {threshold} and "
                        f"{record_name(sli, short_window)}{selector} > {threshold}"
                    ),
                    "labels": {
                        "severity": severity,
                        "slo": sli,
                        "window": long_window,
                        "stack": stack,
                        "service": objectives.service,
                    },
                    "annotations": {
                        "summary": (
                            f"{objectives.service} on {stack} burns its {sli} error budget "
                            f"{burn_rate:g}x too fast over {long_window} and {short_window}"
                        ),
                    },
                }
            )
    return alerts


def _le_matcher(seconds: float) -> str:
    """Client libraries write a bucket bound as ``1`` (Go) or ``1.0`` (Python); Prometheus 3
    normalises to the latter. Both spellings, regex-escaped, then escaped again for the
    PromQL string the regex is written in."""
    spellings = dict.fromkeys((f"{seconds:g}", repr(float(seconds))))
    return "|".join(re.escape(s) for s in spellings).replace("\\", "\\\\")


def _number(value: float) -> str:
    return f"{round(value, 10):g}"


def alertmanager_yaml(topic_arn: str, region: str) -> str:
    """The workspace's alert manager definition: everything to the stack's SNS topic, one
    notification per alert, stack and service (the only receiver AMP's alert manager has
    is SNS in the same account)."""
    config = {
        "route": {
            "receiver": "sns",
            "group_by": ["alertname", "stack", "service", "severity"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": REPEAT_INTERVAL,
        },
        "receivers": [
            {
                "name": "sns",
                "sns_configs": [
                    {
                        "topic_arn": topic_arn,
                        "sigv4": {"region": region},
                        "subject": "{{ .CommonLabels.alertname }} {{ .CommonLabels.service }}",
                        "attributes": {"source": "prometheus"},
                    }
                ],
            }
        ],
    }
    body = yaml.safe_dump(config, sort_keys=False, width=1000)
    return yaml.safe_dump({"alertmanager_config": body}, sort_keys=False, width=1000)
