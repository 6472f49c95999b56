"""Metrics from the ALB's CloudWatch statistics (``AWS/ApplicationELB``), judged by
``judge.py``.

Each slot is one target group behind the service's load balancer; ``dimensions`` tells which
(``LoadBalancer`` ``app/name/id`` and ``TargetGroup`` ``targetgroup/name/id``). A metric's
``query`` names one of ``CLOUDWATCH_STATISTICS``. No datapoints, or a CloudWatch that cannot
be asked (``error=True``), is inconclusive, never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from infra.deploy.judge import Unmeasured, measure_slots
from infra.deploy.ports import AnalysisTarget, DeployError, Measurement
from infra.settings.delivery import CLOUDWATCH_STATISTICS, MetricCheck

NAMESPACE = "AWS/ApplicationELB"
# Target-group dimensions of one slot, or None when the slot has no target group (yet).
SlotDimensions = Callable[[AnalysisTarget, str], Mapping[str, str] | None]

# The CloudWatch query ids, metric names and statistics each ALB statistic needs.
_REQUESTS = ("requests", "RequestCount", "Sum")
_ERRORS = ("errors", "HTTPCode_Target_5XX_Count", "Sum")
_QUERIES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "success-rate": (_REQUESTS, _ERRORS),
    "error-rate": (_REQUESTS, _ERRORS),
    "latency-p95": (("latency", "TargetResponseTime", "p95"),),
    "latency-p99": (("latency", "TargetResponseTime", "p99"),),
    "requests": (_REQUESTS,),
}
_MESSAGE_LIMIT = 200


class CloudWatchClient(Protocol):
    def get_metric_data(self, **request: Any) -> Mapping[str, Any]: ...


class CloudWatchSource:
    def __init__(
        self,
        client: CloudWatchClient,
        dimensions: SlotDimensions,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._dimensions = dimensions
        self._clock = clock

    def measure(self, metric: MetricCheck, target: AnalysisTarget) -> Measurement:
        if metric.query not in _QUERIES:
            raise DeployError(
                f"metric {metric.name}: query {metric.query!r} is not a CloudWatch ALB "
                "statistic; allowed: " + ", ".join(CLOUDWATCH_STATISTICS)
            )

        def read(slot: str) -> float:
            try:
                dimensions = self._dimensions(target, slot)
                if dimensions is None:
                    raise Unmeasured(f"no ALB target group known for {target.service} slot {slot}")
                datapoints = self._read(metric.query, dimensions, target.window_seconds)
            except ClientError as failure:
                error = failure.response.get("Error", {})
                raise Unmeasured(
                    f"CloudWatch{self._endpoint()} refused the request: "
                    f"{error.get('Code', 'unknown')}: "
                    f"{_brief(error.get('Message', ''))}",
                    error=True,
                ) from None
            except BotoCoreError as failure:
                raise Unmeasured(
                    f"CloudWatch{self._endpoint()} could not be asked: {_brief(failure)}",
                    error=True,
                ) from None
            return _statistic(metric.query, datapoints, slot, target.window_seconds)

        return measure_slots(metric, target, read)

    def _endpoint(self) -> str:
        endpoint = getattr(getattr(self._client, "meta", None), "endpoint_url", None)
        return f" at {endpoint}" if endpoint else ""

    def _read(
        self, statistic: str, dimensions: Mapping[str, str], window_seconds: int
    ) -> dict[str, list[float]]:
        """Every datapoint of the statistic's queries over the window, by query id."""
        end = self._clock()
        # One period spans the whole window (ALB metrics have one-minute resolution, and a
        # period is a multiple of 60 seconds), so a window gives one or two datapoints.
        period = max(60, math.ceil(window_seconds / 60) * 60)
        queries = [
            {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": metric_name,
                        "Dimensions": [
                            {"Name": name, "Value": value} for name, value in dimensions.items()
                        ],
                    },
                    "Period": period,
                    "Stat": stat,
                },
            }
            for query_id, metric_name, stat in _QUERIES[statistic]
        ]
        values: dict[str, list[float]] = {query_id: [] for query_id, _, _ in _QUERIES[statistic]}
        request: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": end - timedelta(seconds=window_seconds),
            "EndTime": end,
        }
        while True:
            answer = self._client.get_metric_data(**request)
            for result in answer.get("MetricDataResults", []):
                if result.get("StatusCode") in ("InternalError", "Forbidden"):
                    raise Unmeasured(
                        f"CloudWatch{self._endpoint()} answered {result['StatusCode']} for "
                        f"{result.get('Id')}",
                        error=True,
                    )
                values.setdefault(result["Id"], []).extend(
                    float(v) for v in result.get("Values", []) if v is not None
                )
            if not answer.get("NextToken"):
                return values
            request["NextToken"] = answer["NextToken"]


def _statistic(statistic: str, values: dict[str, list[float]], slot: str, window: int) -> float:
    if statistic.startswith("latency-"):
        if not values["latency"]:
            raise Unmeasured(f"no TargetResponseTime datapoints for slot {slot} in {window}s")
        # Percentiles of separate periods cannot be merged; the worst one is never too kind.
        return max(values["latency"])
    if not values["requests"]:
        raise Unmeasured(f"no RequestCount datapoints for slot {slot} in {window}s")
    requests = sum(values["requests"])
    if statistic == "requests":
        return requests
    if requests == 0:
        raise Unmeasured(f"no requests to slot {slot} in {window}s")
    # The ALB reports 5XX counts only when there are some: none means no errors.
    error_rate = sum(values["errors"]) / requests
    return error_rate if statistic == "error-rate" else 1 - error_rate


def _brief(message: object) -> str:
    """A message on one line, cut short: an HTML error page must not flood the log."""
    return " ".join(str(message).split())[:_MESSAGE_LIMIT]
