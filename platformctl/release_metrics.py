"""What a finished release tells CloudWatch (namespace ``Platform/Releases``): one count by
stack, service, strategy and outcome, how long it took, and on a rollback the seconds from
detection to restored traffic. Dashboards and the DORA report read the same story."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from platformctl.ports import DeployError
from platformctl.record import ReleaseRecord

NAMESPACE = "Platform/Releases"


def metric_data(record: ReleaseRecord) -> list[dict[str, Any]]:
    assert record.finished_at is not None, "only a finished release is published"
    when = datetime.fromtimestamp(record.finished_at, UTC)
    by_release = [
        {"Name": "Stack", "Value": record.stack},
        {"Name": "Service", "Value": record.service},
    ]
    data: list[dict[str, Any]] = [
        {
            "MetricName": "Releases",
            "Dimensions": [
                *by_release,
                {"Name": "Strategy", "Value": record.strategy},
                {"Name": "Outcome", "Value": record.phase.value},
            ],
            "Timestamp": when,
            "Value": 1,
            "Unit": "Count",
        },
        {
            "MetricName": "ReleaseDurationSeconds",
            "Dimensions": [*by_release, {"Name": "Strategy", "Value": record.strategy}],
            "Timestamp": when,
            "Value": round(record.finished_at - record.started_at, 3),
            "Unit": "Seconds",
        },
    ]
    if record.restore_seconds is not None:
        data.append(
            {
                "MetricName": "RestoreSeconds",
                "Dimensions": by_release,
                "Timestamp": when,
                "Value": record.restore_seconds,
                "Unit": "Seconds",
            }
        )
    return data


class CloudWatchReleaseMetrics:
    """Publishes through a CloudWatch client (cloudwatch:PutMetricData)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def publish(self, data: Sequence[Mapping[str, Any]]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.put_metric_data(Namespace=NAMESPACE, MetricData=list(data))
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "error")
            raise DeployError(f"cloudwatch:PutMetricData failed ({code})") from None
        except BotoCoreError as error:
            raise DeployError(f"cloudwatch:PutMetricData failed: {error}") from None
