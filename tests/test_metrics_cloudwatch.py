"""CloudWatchSource: against moto's CloudWatch API in server mode on loopback, and, for the
latency percentiles moto cannot compute, against botocore's Stubber."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber
from moto.server import ThreadedMotoServer

from infra.settings.delivery import CLOUDWATCH_STATISTICS, MetricCheck
from platformctl.cloudwatch import NAMESPACE, CloudWatchSource
from platformctl.ports import AnalysisTarget, DeployError, Verdict

WINDOW_SECONDS = 300
# No retries: an unreachable endpoint answers at once, and the driver retries by interval.
NO_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)
LOAD_BALANCER = "app/k8s-apps-chatapi/50dc6c495c0c9188"


def slot_dimensions(target: AnalysisTarget, slot: str) -> Mapping[str, str] | None:
    """Each slot's target group, named as ELBv2 would; every test's stack has its own, so
    tests sharing the moto server never see each other's datapoints. "unknown" has none."""
    if slot == "unknown":
        return None
    group = f"targetgroup/{target.stack}-{slot}/73e2d6bc24d8a067"
    return {"LoadBalancer": LOAD_BALANCER, "TargetGroup": group}


def target(stack: str, candidate: str = "green", live: str = "blue") -> AnalysisTarget:
    return AnalysisTarget(
        stack=stack,
        service="chat-api",
        namespace="apps",
        candidate_slot=candidate,
        live_slot=live,
        window_seconds=WINDOW_SECONDS,
    )


def check(query: str, name: str | None = None, **bounds: Any) -> MetricCheck:
    return MetricCheck.model_validate({"name": name or query, "query": query, **bounds})


def client(endpoint: str, **options: Any) -> Any:
    return boto3.client(
        "cloudwatch",
        region_name="us-east-1",
        endpoint_url=endpoint,
        config=NO_RETRIES,
        **options,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cloudwatch() -> Iterator[Any]:
    """A CloudWatch client on a moto server of its own on 127.0.0.1."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield client(f"http://{host}:{port}", aws_access_key_id="test", aws_secret_access_key="t")
    finally:
        server.stop()


def publish(cloudwatch: Any, stack: str, slot: str, **sums: float) -> None:
    """Puts one datapoint per ALB metric (``RequestCount=1000``) for the slot, 30s ago."""
    where = slot_dimensions(target(stack), slot) or {}
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in where.items()],
                "Timestamp": datetime.now(UTC) - timedelta(seconds=30),
                "Value": value,
                "Unit": "Count",
            }
            for name, value in sums.items()
        ],
    )


def source(cloudwatch: Any) -> CloudWatchSource:
    return CloudWatchSource(cloudwatch, slot_dimensions)


# With moto.


def test_a_slot_with_few_target_errors_passes_success_rate(cloudwatch):
    publish(cloudwatch, "few-errors", "green", RequestCount=1000, HTTPCode_Target_5XX_Count=5)
    measurement = source(cloudwatch).measure(
        check("success-rate", thresholdRange={"min": 0.99}), target("few-errors")
    )
    assert measurement.verdict == Verdict.PASS, measurement.reason
    assert measurement.value == pytest.approx(0.995)


def test_a_slot_with_many_target_errors_fails_with_the_value_in_the_reason(cloudwatch):
    publish(cloudwatch, "many-errors", "green", RequestCount=1000, HTTPCode_Target_5XX_Count=70)
    measurement = source(cloudwatch).measure(
        check("success-rate", thresholdRange={"min": 0.99}), target("many-errors")
    )
    assert measurement.verdict == Verdict.FAIL
    assert measurement.reason == "success-rate 0.93 outside [0.99, +inf]"
    error_rate = source(cloudwatch).measure(
        check("error-rate", thresholdRange={"max": 0.01}), target("many-errors")
    )
    assert (error_rate.verdict, error_rate.value) == (Verdict.FAIL, pytest.approx(0.07))


def test_a_slot_whose_connections_fail_fails_success_rate_without_any_target_5xx(cloudwatch):
    # A crashing candidate: the ALB answers 502/503 itself, so only TargetConnectionErrorCount
    # grows. Those requests are not in RequestCount, so they count on both sides.
    publish(cloudwatch, "refused", "green", RequestCount=900, TargetConnectionErrorCount=100)
    measurement = source(cloudwatch).measure(
        check("success-rate", thresholdRange={"min": 0.99}), target("refused")
    )
    assert measurement.verdict == Verdict.FAIL
    assert measurement.value == pytest.approx(0.9)
    error_rate = source(cloudwatch).measure(
        check("error-rate", thresholdRange={"max": 0.01}), target("refused")
    )
    assert (error_rate.verdict, error_rate.value) == (Verdict.FAIL, pytest.approx(0.1))


def test_target_5xx_and_connection_errors_add_up(cloudwatch):
    publish(
        cloudwatch,
        "both",
        "green",
        RequestCount=990,
        HTTPCode_Target_5XX_Count=10,
        TargetConnectionErrorCount=10,
    )
    measurement = source(cloudwatch).measure(
        check("error-rate", thresholdRange={"max": 0.05}), target("both")
    )
    assert measurement.verdict == Verdict.PASS, measurement.reason
    assert measurement.value == pytest.approx(0.02)


def test_a_slot_that_refuses_every_connection_fails_rather_than_having_no_requests(cloudwatch):
    publish(cloudwatch, "down", "green", RequestCount=0, TargetConnectionErrorCount=40)
    measurement = source(cloudwatch).measure(
        check("success-rate", thresholdRange={"min": 0.99}), target("down")
    )
    assert (measurement.verdict, measurement.value) == (Verdict.FAIL, 0.0)


def test_connection_errors_of_the_live_slot_are_not_the_candidates(cloudwatch):
    publish(cloudwatch, "live-refused", "green", RequestCount=500)
    publish(cloudwatch, "live-refused", "blue", RequestCount=500, TargetConnectionErrorCount=250)
    measurement = source(cloudwatch).measure(
        check("success-rate", thresholdRange={"min": 0.99}), target("live-refused")
    )
    assert (measurement.verdict, measurement.value) == (Verdict.PASS, 1.0)


def test_no_5xx_datapoints_means_no_errors_since_the_alb_reports_only_nonzero_counts(cloudwatch):
    publish(cloudwatch, "no-errors", "green", RequestCount=400)
    measurement = source(cloudwatch).measure(
        check("success-rate", thresholdRange={"min": 0.99}), target("no-errors")
    )
    assert (measurement.verdict, measurement.value) == (Verdict.PASS, 1.0)


def test_request_count_is_summed_and_judged_against_its_range(cloudwatch):
    publish(cloudwatch, "requests", "green", RequestCount=30)
    publish(cloudwatch, "requests", "green", RequestCount=12)
    measurement = source(cloudwatch).measure(
        check("requests", thresholdRange={"min": 100}), target("requests")
    )
    assert measurement.verdict == Verdict.FAIL
    assert measurement.reason == "requests 42 outside [100, +inf]"


def test_request_ratio_to_live_compares_the_two_target_groups(cloudwatch):
    publish(cloudwatch, "ratio", "green", RequestCount=50)
    publish(cloudwatch, "ratio", "blue", RequestCount=1000)
    measurement = source(cloudwatch).measure(
        check("requests", ratioToLive={"min": 0.1}), target("ratio")
    )
    assert (measurement.verdict, measurement.live_value) == (Verdict.FAIL, 1000)
    assert "ratio to live 0.05 outside [0.1, +inf]" in measurement.reason


def test_a_slot_without_datapoints_is_inconclusive_not_a_pass(cloudwatch):
    measurement = source(cloudwatch).measure(
        check("success-rate", thresholdRange={"min": 0.99}), target("silent")
    )
    assert measurement.verdict == Verdict.INCONCLUSIVE
    assert not measurement.error
    assert "no RequestCount datapoints for slot green in 300s" in measurement.reason


def test_zero_requests_leave_the_success_rate_inconclusive(cloudwatch):
    publish(cloudwatch, "zero", "green", RequestCount=0)
    measurement = source(cloudwatch).measure(
        check("success-rate", thresholdRange={"min": 0.99}), target("zero")
    )
    assert measurement.verdict == Verdict.INCONCLUSIVE
    assert "no requests to slot green" in measurement.reason


def test_a_slot_without_a_target_group_is_inconclusive(cloudwatch):
    measurement = source(cloudwatch).measure(
        check("requests", thresholdRange={"min": 1}), target("any", candidate="unknown")
    )
    assert measurement.verdict == Verdict.INCONCLUSIVE
    assert "no ALB target group known for chat-api slot unknown" in measurement.reason


def test_an_unreachable_endpoint_is_an_inconclusive_error(cloudwatch):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    unreachable = client(endpoint, aws_access_key_id="test", aws_secret_access_key="t")
    measurement = CloudWatchSource(unreachable, slot_dimensions).measure(
        check("success-rate", thresholdRange={"min": 0.99}), target("few-errors")
    )
    assert (measurement.verdict, measurement.error) == (Verdict.INCONCLUSIVE, True)
    assert f"CloudWatch at {endpoint} could not be asked" in measurement.reason
    assert "Traceback" not in measurement.reason


def test_missing_credentials_are_an_inconclusive_error(cloudwatch, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    anonymous = client(cloudwatch.meta.endpoint_url)
    measurement = CloudWatchSource(anonymous, slot_dimensions).measure(
        check("requests", thresholdRange={"min": 1}), target("few-errors")
    )
    assert (measurement.verdict, measurement.error) == (Verdict.INCONCLUSIVE, True)
    assert "Unable to locate credentials" in measurement.reason


def test_every_cloudwatch_statistic_the_settings_allow_can_be_measured():
    for statistic in CLOUDWATCH_STATISTICS:
        stubbed, stubber = stubbed_client()
        stubber.add_response("get_metric_data", {"MetricDataResults": []})
        with stubber:
            measurement = CloudWatchSource(stubbed, slot_dimensions).measure(
                check(statistic, thresholdRange={"min": 0}), target("all")
            )
        assert measurement.verdict == Verdict.INCONCLUSIVE, statistic


def test_a_query_that_is_not_an_alb_statistic_is_refused_naming_the_allowed_ones(cloudwatch):
    with pytest.raises(DeployError, match=r"query 'p95\(latency\)'.*allowed: success-rate"):
        source(cloudwatch).measure(
            check("p95(latency)", name="latency", thresholdRange={"max": 1}), target("any")
        )


# With botocore's Stubber: moto 5.2 answers a percentile statistic with HTTP 500.


def stubbed_client() -> tuple[Any, Stubber]:
    stubbed = client(
        "https://monitoring.us-east-1.amazonaws.com",
        aws_access_key_id="test",
        aws_secret_access_key="t",
    )
    return stubbed, Stubber(stubbed)


NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ANY_REQUEST = {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY}


def latency_request(stat: str, slot: str) -> dict[str, Any]:
    where = slot_dimensions(target("latency"), slot) or {}
    return {
        "MetricDataQueries": [
            {
                "Id": "latency",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": "TargetResponseTime",
                        "Dimensions": [{"Name": k, "Value": v} for k, v in where.items()],
                    },
                    "Period": 300,
                    "Stat": stat,
                },
            }
        ],
        "StartTime": NOW - timedelta(seconds=WINDOW_SECONDS),
        "EndTime": NOW,
    }


def latency_answer(*values: float) -> dict[str, Any]:
    return {
        "MetricDataResults": [{"Id": "latency", "Values": list(values), "StatusCode": "Complete"}]
    }


@pytest.mark.parametrize("statistic", ["latency-p95", "latency-p99"])
def test_latency_asks_for_the_target_response_time_percentile_and_keeps_the_worst_period(
    statistic,
):
    stubbed, stubber = stubbed_client()
    stat = statistic.removeprefix("latency-")
    stubber.add_response(
        "get_metric_data", latency_answer(0.2, 0.4), latency_request(stat, "green")
    )
    stubber.add_response("get_metric_data", latency_answer(0.1), latency_request(stat, "blue"))
    with stubber:
        measurement = CloudWatchSource(stubbed, slot_dimensions, clock=lambda: NOW).measure(
            check(statistic, thresholdRange={"max": 0.5}, ratioToLive={"max": 1.5}),
            target("latency"),
        )
        stubber.assert_no_pending_responses()
    assert (measurement.value, measurement.live_value) == (0.4, 0.1)
    assert measurement.verdict == Verdict.FAIL
    assert f"{statistic} ratio to live 4 outside [-inf, 1.5]" in measurement.reason


def test_latency_without_datapoints_is_inconclusive():
    stubbed, stubber = stubbed_client()
    stubber.add_response("get_metric_data", latency_answer(), latency_request("p95", "green"))
    with stubber:
        measurement = CloudWatchSource(stubbed, slot_dimensions, clock=lambda: NOW).measure(
            check("latency-p95", thresholdRange={"max": 0.5}), target("latency")
        )
    assert measurement.verdict == Verdict.INCONCLUSIVE
    assert "no TargetResponseTime datapoints for slot green" in measurement.reason


def test_a_refused_request_is_an_inconclusive_error_with_aws_explanation():
    stubbed, stubber = stubbed_client()
    stubber.add_client_error(
        "get_metric_data",
        service_error_code="AccessDenied",
        service_message="User is not authorized to perform: cloudwatch:GetMetricData",
        http_status_code=403,
    )
    with stubber:
        measurement = CloudWatchSource(stubbed, slot_dimensions).measure(
            check("requests", thresholdRange={"min": 1}), target("latency")
        )
    assert (measurement.verdict, measurement.error) == (Verdict.INCONCLUSIVE, True)
    assert measurement.reason == (
        "requests: CloudWatch at https://monitoring.us-east-1.amazonaws.com refused the "
        "request: AccessDenied: User is not authorized to perform: cloudwatch:GetMetricData"
    )


def test_a_forbidden_result_is_an_inconclusive_error():
    stubbed, stubber = stubbed_client()
    answer = {"MetricDataResults": [{"Id": "requests", "Values": [], "StatusCode": "Forbidden"}]}
    stubber.add_response("get_metric_data", answer)
    with stubber:
        measurement = CloudWatchSource(stubbed, slot_dimensions).measure(
            check("requests", thresholdRange={"min": 1}), target("latency")
        )
    assert (measurement.verdict, measurement.error) == (Verdict.INCONCLUSIVE, True)
    assert "answered Forbidden for requests" in measurement.reason


def test_results_split_over_pages_are_all_counted():
    stubbed, stubber = stubbed_client()
    first = {
        "MetricDataResults": [{"Id": "requests", "Values": [600.0], "StatusCode": "PartialData"}],
        "NextToken": "page-2",
    }
    second = {
        "MetricDataResults": [{"Id": "requests", "Values": [400.0], "StatusCode": "Complete"}]
    }
    stubber.add_response("get_metric_data", first)
    stubber.add_response("get_metric_data", second, {**ANY_REQUEST, "NextToken": "page-2"})
    with stubber:
        measurement = CloudWatchSource(stubbed, slot_dimensions).measure(
            check("requests", thresholdRange={"min": 1}), target("latency")
        )
    assert measurement.value == 1000
