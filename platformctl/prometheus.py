"""Metrics from Prometheus's HTTP API (``POST /api/v1/query``), judged by ``judge.py``: the
stack's Amazon Managed Prometheus workspace (requests signed with SigV4) or a Prometheus of
your own. Queries go as a form body, as AWS's examples send them: a query string would be
signed as ``%20`` and sent as ``+``.

Every answer that is not exactly one finite number is inconclusive, never a pass: an empty
vector (no traffic yet), several series (the query does not aggregate), NaN, an error status,
a refusal (403: a missing permission), or a Prometheus that cannot be reached
(``error=True``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from infra.settings.delivery import MetricCheck, render_query
from platformctl.judge import Unmeasured, measure_slots
from platformctl.ports import AnalysisTarget, DeployError, Measurement


def without_credentials(url: str) -> str:
    """The URL as it may be shown: any ``user:password@`` removed."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=host))


# The stack output holding the workspace's Prometheus endpoint (infra/platform.py).
QUERY_URL_OUTPUT = "prometheusQueryUrl"


def workspace_query_url(outputs: Mapping[str, Any], stack: str) -> str:
    """The stack's workspace endpoint, from its outputs (it ends in ``/``; the API's paths
    are appended to it)."""
    url = outputs.get(QUERY_URL_OUTPUT)
    if not isinstance(url, str) or not url.startswith("https://"):
        raise DeployError(
            f"stack {stack} has no {QUERY_URL_OUTPUT} output to query its metrics at: run "
            f"`platformctl up {stack}` first (the stack creates its Prometheus workspace), or "
            "set platform:delivery.analysis.prometheusUrl to a Prometheus of your own"
        )
    return url.rstrip("/")


class PrometheusSource:
    def __init__(
        self,
        url: str,
        timeout_seconds: float = 5,
        transport: httpx.BaseTransport | None = None,
        *,
        auth: httpx.Auth | None = None,
        permission: str = "",
    ) -> None:
        """``permission`` names what a refused query lacks (the workspace's
        ``aps:QueryMetrics``), for the reason a 401 or 403 gives."""
        self.url = url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._shown_url = without_credentials(self.url)
        self._permission = permission
        self._client = httpx.Client(timeout=timeout_seconds, transport=transport, auth=auth)

    def close(self) -> None:
        self._client.close()

    def measure(self, metric: MetricCheck, target: AnalysisTarget) -> Measurement:
        def read(slot: str) -> float:
            query = render_query(
                metric.query,
                {
                    "stack": target.stack,
                    "service": target.service,
                    "namespace": target.namespace,
                    "slot": slot,
                    "window": f"{target.window_seconds}s",
                },
            )
            return self._value(self._ask(query), slot, target.window_seconds)

        return measure_slots(metric, target, read)

    def _ask(self, query: str) -> dict[str, Any]:
        return self._api("POST", "query", data={"query": query})

    def firing_alerts(self, stack: str, service: str) -> list[str]:
        """The alerts firing now for the service (the workspace's ruler evaluates the SLO
        rules; ``GET /api/v1/alerts``), as ``alertname (label=value, ...)``."""
        data = self._api("GET", "alerts")
        alerts = data.get("alerts")
        if not isinstance(alerts, list):
            raise Unmeasured(f"Prometheus at {self._shown_url} listed no alerts", error=True)
        firing = []
        for alert in alerts:
            labels = alert.get("labels") if isinstance(alert, dict) else None
            if not isinstance(labels, dict) or alert.get("state") != "firing":
                continue
            if labels.get("stack") == stack and labels.get("service") == service:
                shown = ", ".join(
                    f"{k}={labels[k]}" for k in ("severity", "slo", "window") if k in labels
                )
                firing.append(f"{labels.get('alertname', 'alert')} ({shown})")
        return sorted(firing)

    def _api(
        self, method: str, endpoint: str, data: dict[str, str] | None = None
    ) -> dict[str, Any]:
        where = f"Prometheus at {self._shown_url}"
        try:
            response = self._client.request(method, f"{self.url}/api/v1/{endpoint}", data=data)
        except httpx.TimeoutException:
            raise Unmeasured(
                f"{where} did not answer within {self.timeout_seconds:g}s", error=True
            ) from None
        except httpx.HTTPError as failure:
            detail = str(failure) or type(failure).__name__
            raise Unmeasured(f"{where} could not be reached: {detail}", error=True) from None
        if response.status_code in (401, 403):
            needs = f": the caller needs {self._permission}" if self._permission else ""
            raise Unmeasured(
                f"{where} refused the request (HTTP {response.status_code}){needs}",
                error=True,
            )
        try:
            answer = response.json()
        except ValueError:
            raise Unmeasured(
                f"{where} answered HTTP {response.status_code} with a body that is not JSON",
                error=True,
            ) from None
        if not isinstance(answer, dict):
            raise Unmeasured(f"{where} answered JSON that is not an object", error=True)
        if answer.get("status") != "success":
            # Prometheus explains a bad query (HTTP 400) or an overload in errorType/error.
            kind = answer.get("errorType", "unknown error")
            raise Unmeasured(
                f"{where} answered HTTP {response.status_code}, status "
                f"{answer.get('status')!r}: {kind}: {answer.get('error', 'no message')}",
                error=True,
            )
        data = answer.get("data")
        if not isinstance(data, dict):
            raise Unmeasured(f"{where} answered without a data object", error=True)
        return data

    def _value(self, data: dict[str, Any], slot: str, window_seconds: int) -> float:
        kind, result = data.get("resultType"), data.get("result")
        sample: Any
        if kind == "scalar":
            sample = result
        elif kind == "vector" and isinstance(result, list):
            if not result:
                raise Unmeasured(
                    f"no data for slot {slot} in the last {window_seconds}s "
                    "(the query returned no series)"
                )
            if len(result) > 1:
                raise Unmeasured(
                    f"ambiguous: the query returned {len(result)} series for slot {slot}; "
                    "allowed: a query that aggregates to one series, such as sum(...)"
                )
            sample = result[0].get("value") if isinstance(result[0], dict) else None
        else:
            raise Unmeasured(
                f"the query returned a {kind} result; allowed: an instant vector or a scalar"
            )
        try:
            _, text = sample
            # "NaN" and "+Inf" parse too: judge() rules them inconclusive.
            return float(text)
        except (TypeError, ValueError):
            raise Unmeasured(
                f"Prometheus at {self._shown_url} answered a malformed sample {repr(sample)[:80]}",
                error=True,
            ) from None
