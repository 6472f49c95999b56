"""Metrics from Prometheus's HTTP API (``GET /api/v1/query``), judged by ``judge.py``.

Every answer that is not exactly one finite number is inconclusive, never a pass: an empty
vector (no traffic yet), several series (the query does not aggregate), NaN, an error status,
or a Prometheus that cannot be reached (``error=True``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from infra.settings.delivery import MetricCheck, render_query
from platformctl.judge import Unmeasured, measure_slots
from platformctl.ports import AnalysisTarget, Measurement


def without_credentials(url: str) -> str:
    """The URL as it may be shown: any ``user:password@`` removed."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=host))


class PrometheusSource:
    def __init__(
        self,
        url: str,
        timeout_seconds: float = 5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._shown_url = without_credentials(self.url)
        self._client = httpx.Client(timeout=timeout_seconds, transport=transport)

    def close(self) -> None:
        self._client.close()

    def measure(self, metric: MetricCheck, target: AnalysisTarget) -> Measurement:
        def read(slot: str) -> float:
            query = render_query(
                metric.query,
                {
                    "service": target.service,
                    "namespace": target.namespace,
                    "slot": slot,
                    "window": f"{target.window_seconds}s",
                },
            )
            return self._value(self._ask(query), slot, target.window_seconds)

        return measure_slots(metric, target, read)

    def _ask(self, query: str) -> dict[str, Any]:
        where = f"Prometheus at {self._shown_url}"
        try:
            response = self._client.get(f"{self.url}/api/v1/query", params={"query": query})
        except httpx.TimeoutException:
            raise Unmeasured(
                f"{where} did not answer within {self.timeout_seconds:g}s", error=True
            ) from None
        except httpx.HTTPError as failure:
            detail = str(failure) or type(failure).__name__
            raise Unmeasured(f"{where} could not be reached: {detail}", error=True) from None
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
