"""Queries to the stack's Prometheus workspace, signed with SigV4 by botocore, through a
loopback stand-in for Amazon Managed Prometheus that verifies every signature with botocore
and fixed test credentials before it forwards to a real Prometheus (Debian's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from botocore.credentials import Credentials

from infra.settings.delivery import DEFAULT_METRICS
from platformctl.ports import AnalysisTarget, DeployError, Verdict
from platformctl.prometheus import PrometheusSource, workspace_query_url
from platformctl.sigv4 import SigV4Auth
from platformctl.wiring import RealWorld
from tests.metrics_exporter import STACK
from tests.prometheus_server import RunningPrometheus
from tests.sigv4_proxy import ACCESS_KEY, REGION, SECRET_KEY, SigV4Proxy

PERMISSION = "aps:QueryMetrics on the workspace"
SUCCESS_RATE = DEFAULT_METRICS[0]


@pytest.fixture
def proxy(prometheus: RunningPrometheus) -> Iterator[SigV4Proxy]:
    prometheus.exporter.set_traffic("signed", "green", requests_per_second=50)
    with SigV4Proxy(prometheus.url) as running:
        yield running


def source(proxy: SigV4Proxy, secret: str = SECRET_KEY) -> PrometheusSource:
    return PrometheusSource(
        proxy.workspace_url,
        auth=SigV4Auth(Credentials(ACCESS_KEY, secret), REGION),
        permission=PERMISSION,
    )


def target() -> AnalysisTarget:
    return AnalysisTarget(
        stack=STACK, service="signed", namespace="signed", candidate_slot="green",
        live_slot="blue", window_seconds=5,
    )  # fmt: skip


def settled(measure) -> object:
    """Measures until the series has two scrapes in its window (a fresh service's first
    rounds have no data yet), at most for 15 s."""
    import time

    deadline = time.monotonic() + 15
    while (measurement := measure()).verdict is Verdict.INCONCLUSIVE and not measurement.error:
        assert time.monotonic() < deadline, measurement.reason
        time.sleep(0.5)
    return measurement


def test_an_unsigned_request_is_refused(proxy):
    answer = httpx.post(proxy.workspace_url + "api/v1/query", data={"query": "up"}, timeout=5)
    assert answer.status_code == 403
    assert proxy.refused == ["Missing Authentication Token"] and proxy.forwarded == 0


def test_a_signed_query_reaches_prometheus_and_is_judged(proxy):
    measurement = settled(lambda: source(proxy).measure(SUCCESS_RATE, target()))
    assert measurement.verdict is Verdict.PASS, measurement.reason
    assert measurement.value == pytest.approx(1.0)
    assert proxy.refused == [] and proxy.forwarded >= 1


def test_a_query_signed_with_the_wrong_secret_is_refused_and_inconclusive(proxy):
    measurement = source(proxy, secret="not-the-secret").measure(SUCCESS_RATE, target())
    assert measurement.verdict is Verdict.INCONCLUSIVE and measurement.error
    assert "refused the request (HTTP 403)" in measurement.reason
    assert proxy.refused == [
        "The request signature we calculated does not match the signature you provided"
    ] * len(proxy.refused)


def test_a_role_without_query_permission_is_inconclusive_naming_the_permission(proxy):
    proxy.deny = True
    measurement = source(proxy).measure(SUCCESS_RATE, target())
    assert measurement.verdict is Verdict.INCONCLUSIVE and measurement.error
    assert f"needs {PERMISSION}" in measurement.reason
    assert "aps:QueryMetrics" in proxy.refused[0]


def test_alerts_are_listed_through_the_signed_api_too(proxy):
    assert source(proxy).firing_alerts(STACK, "signed") == []
    assert proxy.refused == []


def test_the_workspace_url_comes_from_the_stacks_outputs():
    endpoint = "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/"
    assert workspace_query_url({"prometheusQueryUrl": endpoint}, "dev") == endpoint.rstrip("/")
    with pytest.raises(DeployError) as missing:
        workspace_query_url({}, "dev")
    assert "platformctl up dev" in str(missing.value) and "prometheusUrl" in str(missing.value)


class OutputsWorld(RealWorld):
    def __init__(self, outputs: dict) -> None:
        super().__init__(Path("."), {}, lambda _: None)
        self._outputs = outputs

    def stack(self, name, config_overrides=None):  # type: ignore[override]
        return SimpleNamespace(outputs=lambda: self._outputs)


def test_platformctl_signs_its_queries_with_the_default_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    endpoint = "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/"
    settings = SimpleNamespace(
        stack="dev", region="us-east-1",
        platform=SimpleNamespace(delivery=SimpleNamespace(analysis=SimpleNamespace(
            prometheus_url=None))),
    )  # fmt: skip
    prometheus = OutputsWorld({"prometheusQueryUrl": endpoint}).prometheus(settings)  # type: ignore[arg-type]
    assert prometheus.url == endpoint.rstrip("/")
    request = httpx.Request("POST", endpoint + "api/v1/query", data={"query": "up"})
    signed = next(prometheus._client.auth.auth_flow(request))  # type: ignore[union-attr]
    assert signed.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert "/us-east-1/aps/aws4_request" in signed.headers["Authorization"]


def test_without_credentials_platformctl_says_how_to_give_some(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = SimpleNamespace(
        stack="dev", region="us-east-1",
        platform=SimpleNamespace(delivery=SimpleNamespace(analysis=SimpleNamespace(
            prometheus_url=None))),
    )  # fmt: skip
    world = OutputsWorld({"prometheusQueryUrl": "https://aps-workspaces.x/workspaces/ws-1/"})
    with pytest.raises(DeployError) as refused:
        world.prometheus(settings)  # type: ignore[arg-type]
    assert "no AWS credentials" in str(refused.value) and "prometheusUrl" in str(refused.value)
