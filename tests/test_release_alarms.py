"""Alarms and SLO alerts judged with the metrics, against moto's CloudWatch in server mode on
loopback (real boto3 calls): an alarm set to ALARM during a bake rolls the release back with
its name in the reason; a watched alarm that does not exist stops the release before
anything is written; a firing SLO alert fails a round as a metric would; and a finished
release's figures arrive in CloudWatch."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from platformctl.alarms import CloudWatchAlarms, watched_alarms
from platformctl.guards import ReleaseGuards
from platformctl.judge import Unmeasured
from platformctl.ports import DeployError
from platformctl.record import Phase
from platformctl.release_metrics import NAMESPACE, CloudWatchReleaseMetrics
from tests.release_world import ReleaseWorld, release_world

CPU = "platform-dev-db-cpu"
BLOCKED = "platform-dev-waf-blocked"


@pytest.fixture(scope="module")
def cloudwatch() -> Iterator[Any]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", endpoint_url=f"http://{host}:{port}",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    for name, metric in ((CPU, "CPUUtilization"), (BLOCKED, "BlockedRequests")):
        client.put_metric_alarm(
            AlarmName=name, Namespace="AWS/RDS", MetricName=metric, Statistic="Average",
            Period=300, EvaluationPeriods=1, Threshold=80,
            ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    try:
        yield client
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def quiet_alarms(cloudwatch):
    for name in (CPU, BLOCKED):
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test start")


def guarded_world(tmp_path, cloudwatch, *watched: str, alerts=None) -> ReleaseWorld:
    world = release_world(tmp_path)
    guards = ReleaseGuards(
        alarms=CloudWatchAlarms(cloudwatch), watched=watched, alerts=alerts,
        alarm_prefix="platform-dev-",
    )  # fmt: skip
    world.world.guards_for = lambda settings: guards
    return world


def on_weight(world: ReleaseWorld, weight: int, action) -> None:
    up = world.stack.up

    def reacting(progress, message):
        outcome = up(progress, message)
        if world.metrics.weight() >= weight:
            action()
        return outcome

    world.stack.up = reacting  # type: ignore[method-assign]


def test_an_alarm_going_off_during_a_bake_rolls_the_release_back_naming_it(tmp_path, cloudwatch):
    world = guarded_world(tmp_path, cloudwatch, CPU, BLOCKED)
    on_weight(world, 25, lambda: cloudwatch.set_alarm_state(
        AlarmName=CPU, StateValue="ALARM", StateReason="writer CPU 97 %"))  # fmt: skip
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ROLLED_BACK
    [why] = [e["reason"] for e in record.events if e.get("phase") == "RollingBack"]
    assert why.startswith("analysis fail:") and f"alarms: in ALARM: {CPU}" in why
    failing = [e for e in record.events if e.get("judgement") == "fail"][-1]
    alarms = next(m for m in failing["measurements"] if m["metric"] == "alarms")
    assert alarms == {**alarms, "verdict": "fail", "reason": f"in ALARM: {CPU}"}
    # The metrics passed: the alarm alone decided.
    assert {m["verdict"] for m in failing["measurements"] if m["metric"] != "alarms"} == {"pass"}
    assert world.release()["candidateWeight"] == 0


def test_quiet_alarms_let_a_release_through(tmp_path, cloudwatch):
    record = guarded_world(tmp_path, cloudwatch, CPU).driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED
    rounds = [e for e in record.events if "round" in e]
    assert all(
        m["verdict"] == "pass" for r in rounds for m in r["measurements"] if m["metric"] == "alarms"
    )


def test_a_watched_alarm_that_does_not_exist_stops_the_release_before_anything_is_written(
    tmp_path, cloudwatch
):
    world = guarded_world(tmp_path, cloudwatch, "platform-dev-db-cpuu")
    before = world.release()
    with pytest.raises(DeployError) as refused:
        world.driver().start("1.5.0")
    message = str(refused.value)
    assert "platform-dev-db-cpuu" in message and "which no alarm is called" in message
    assert f"alarms that exist: {CPU}, {BLOCKED}" in message or CPU in message
    assert world.release() == before
    assert world.world.ledger.read("dev", "chat-api") is None


def test_stack_stands_for_every_alarm_the_stack_made():
    outputs = {"alarmNames": [CPU, BLOCKED]}
    assert watched_alarms(["stack", CPU, "extra"], outputs) == (CPU, BLOCKED, "extra")
    with pytest.raises(DeployError) as refused:
        watched_alarms(["stack"], {})
    assert "alarmNames" in str(refused.value)


class FiringAlerts:
    """The workspace's alerts: the SLO burn-rate alert fires once the candidate takes 25 %."""

    def __init__(self, world: ReleaseWorld, down: bool = False) -> None:
        self.world, self.down = world, down

    def firing_alerts(self, stack: str, service: str) -> list[str]:
        if self.down:
            raise Unmeasured("Prometheus at https://aps-workspaces... did not answer", error=True)
        if self.world.metrics.weight() >= 25:
            return ["SLOAvailabilityBudgetBurn (severity=page, slo=availability, window=1h)"]
        return []


def test_a_firing_slo_alert_fails_the_round_as_a_metric_would(tmp_path, cloudwatch):
    world = guarded_world(tmp_path, cloudwatch)
    alerts = FiringAlerts(world)
    world.world.guards_for = lambda settings: ReleaseGuards(alerts=alerts)
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.ROLLED_BACK
    failing = [e for e in record.events if e.get("judgement") == "fail"][-1]
    [slo] = [m for m in failing["measurements"] if m["metric"] == "slo-alerts"]
    assert slo["verdict"] == "fail" and "SLOAvailabilityBudgetBurn" in slo["reason"]


def test_alerts_that_cannot_be_read_are_inconclusive_never_a_pass(tmp_path, cloudwatch):
    world = guarded_world(tmp_path, cloudwatch)
    world.world.guards_for = lambda settings: ReleaseGuards(alerts=FiringAlerts(world, down=True))
    record = world.driver().start("1.5.0")
    # Two errors in a row are tolerated (consecutiveErrorLimit), the third is not.
    assert record.phase is Phase.ROLLED_BACK
    [why] = [e["reason"] for e in record.events if e.get("phase") == "RollingBack"]
    assert "analysis inconclusive: 3 consecutive rounds could not reach" in why
    assert "slo-alerts: Prometheus at https://aps-workspaces... did not answer" in why


def test_a_finished_release_publishes_its_figures_to_cloudwatch(tmp_path, cloudwatch):
    world = guarded_world(tmp_path, cloudwatch)
    world.world.release_metrics = CloudWatchReleaseMetrics(cloudwatch)
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED and record.published
    metrics = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    names = {m["MetricName"] for m in metrics}
    assert {"Releases", "ReleaseDurationSeconds"} <= names
    [releases] = [
        m for m in metrics
        if m["MetricName"] == "Releases"
        and {"Name": "Outcome", "Value": "Succeeded"} in m["Dimensions"]
    ]  # fmt: skip
    assert {"Name": "Service", "Value": "chat-api"} in releases["Dimensions"]
    finished = datetime.fromtimestamp(record.finished_at, UTC)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {"Id": "duration", "MetricStat": {"Metric": {
                "Namespace": NAMESPACE, "MetricName": "ReleaseDurationSeconds",
                "Dimensions": [{"Name": "Stack", "Value": "dev"},
                               {"Name": "Service", "Value": "chat-api"},
                               {"Name": "Strategy", "Value": "canary"}]},
                "Period": 60, "Stat": "Maximum"}},
        ],
        StartTime=finished - timedelta(minutes=5), EndTime=finished + timedelta(minutes=5),
    )  # fmt: skip
    [values] = [r["Values"] for r in answer["MetricDataResults"]]
    assert values == [pytest.approx(record.finished_at - record.started_at, abs=0.01)]
    assert [e for e in record.events if e.get("published") == NAMESPACE]


def test_a_release_whose_figures_cannot_be_sent_keeps_its_outcome(tmp_path, cloudwatch):
    class Refusing:
        def publish(self, data):
            raise DeployError("cloudwatch:PutMetricData failed (AccessDenied)")

    world = guarded_world(tmp_path, cloudwatch)
    world.world.release_metrics = Refusing()
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED
    assert any("PutMetricData failed" in str(e.get("note", "")) for e in record.events)
