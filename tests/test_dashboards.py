"""The Grafana dashboard kept in the repository (observability/dashboards/): every query is
one a real Prometheus (Debian's) accepts and answers, and each is scoped to the stack and
the service the dashboard is set to."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import REPOSITORY
from tests.metrics_exporter import STACK
from tests.prometheus_server import RunningPrometheus

DASHBOARDS = sorted((REPOSITORY / "observability" / "dashboards").glob("*.json"))


def queries(path) -> list[str]:
    document = json.loads(path.read_text())
    return [target["expr"] for panel in document["panels"] for target in panel["targets"]]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_asks_one_stack_and_one_service(path):
    found = queries(path)
    assert found
    for expr in found:
        assert 'stack="$stack"' in expr and 'service="$service"' in expr, expr


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_a_real_prometheus_accepts_every_query(path, prometheus: RunningPrometheus):
    prometheus.exporter.set_traffic("dashboard", "blue", requests_per_second=20)
    for expr in queries(path):
        concrete = expr.replace("$stack", STACK).replace("$service", "dashboard")
        answer = httpx.post(
            f"{prometheus.url}/api/v1/query", data={"query": concrete}, timeout=5
        ).json()
        assert answer["status"] == "success", (expr, answer)
