"""Releases judged by a real Prometheus (Debian's package, on loopback) scraping an exporter
whose error rate the test controls: a healthy canary goes through every step, one that
degrades at its second step is rolled back during that step's bake, and one whose live slot
degrades while the old slot is still warm after promotion is sent back to it. Each runs
against Prometheus directly and through a stand-in for the stack's Amazon Managed Prometheus
workspace that refuses any request whose SigV4 signature does not verify."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from platformctl.prometheus import PrometheusSource
from platformctl.record import Phase, StepKind
from platformctl.sigv4 import SigV4Auth
from platformctl.world import SystemClock
from tests.prometheus_server import RunningPrometheus
from tests.release_world import ReleaseWorld, release_world
from tests.sigv4_proxy import ACCESS_KEY, REGION, SECRET_KEY, SigV4Proxy

BAKE_SECONDS = 4
INTERVAL_SECONDS = 1
REAL_TIME = {
    "stepWeights": [5, 25, 50, 100],
    "stepBakeSeconds": BAKE_SECONDS,
    "scaleDownDelaySeconds": 1,
    "analysis": {"intervalSeconds": INTERVAL_SECONDS, "windowSeconds": 3},
}


@pytest.fixture(params=["direct", "signed"])
def metrics_source(request, prometheus: RunningPrometheus) -> Iterator[PrometheusSource]:
    """Prometheus itself, or the workspace stand-in that verifies every SigV4 signature."""
    if request.param == "direct":
        yield PrometheusSource(prometheus.url)
        return
    with SigV4Proxy(prometheus.url) as proxy:
        credentials = Credentials(ACCESS_KEY, SECRET_KEY)
        yield PrometheusSource(proxy.workspace_url, auth=SigV4Auth(credentials, REGION))
        assert proxy.refused == [] and proxy.forwarded > 0


def real_time_world(
    tmp_path: Path,
    prometheus: RunningPrometheus,
    source: PrometheusSource,
    on_weight: Callable[[int], None],
    delivery: dict | None = None,
) -> ReleaseWorld:
    # The analysis asks a Prometheus of the test's own, which scrapes every second.
    delivery = delivery or REAL_TIME
    analysis = {**delivery["analysis"], "prometheusUrl": prometheus.url}
    world = release_world(tmp_path, delivery={**delivery, "analysis": analysis})
    world.world.clock = SystemClock()
    world.world.poll_seconds = 0.05
    world.world.metrics_for = lambda settings: source
    for slot in ("blue", "green"):
        # Synthetic traffic on both slots (through the preview route for the candidate), so a
        # quiet service still yields data at 5%.
        prometheus.exporter.set_traffic(
            "chat-api", slot, requests_per_second=50, error_ratio=0.0, latency_seconds=0.04,
            serving=True,
        )  # fmt: skip
    up = world.stack.up

    def up_then_react(progress, message):
        outcome = up(progress, message)
        on_weight(world.metrics.weight())
        return outcome

    world.stack.up = up_then_react  # type: ignore[method-assign]
    return world


def analysis_rounds(record) -> list[dict]:
    return [e for e in record.events if "round" in e]


@pytest.mark.slow
def test_a_healthy_canary_is_promoted_through_every_step_on_real_metrics(
    tmp_path, prometheus, metrics_source
):
    world = real_time_world(tmp_path, prometheus, metrics_source, on_weight=lambda weight: None)
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED, record.events[-1]["reason"]
    rounds = analysis_rounds(record)
    assert len(rounds) == 4 * BAKE_SECONDS // INTERVAL_SECONDS
    values = [
        m["value"] for r in rounds for m in r["measurements"] if m["metric"] == "success-rate"
    ]
    assert values and all(v == pytest.approx(1.0) for v in values)
    assert world.release()["live"] == "green"


@pytest.mark.slow
def test_a_canary_degrading_at_its_second_step_is_rolled_back_within_that_steps_bake(
    tmp_path, prometheus, metrics_source
):
    def degrade_from_25_percent(weight: int) -> None:
        if weight >= 25:
            prometheus.exporter.set_traffic("chat-api", "green", error_ratio=0.3)

    world = real_time_world(tmp_path, prometheus, metrics_source, on_weight=degrade_from_25_percent)
    try:
        record = world.driver().start("1.5.0")
    finally:
        prometheus.exporter.set_traffic("chat-api", "green", error_ratio=0.0)
    assert record.phase is Phase.ROLLED_BACK
    failed_step = record.steps[record.step_index]
    assert failed_step.kind is StepKind.ANALYSE
    assert record.steps[record.step_index - 1].weight == 25
    # The 5% step passed on real data before the degradation started.
    assert [r["judgement"] for r in analysis_rounds(record)][:BAKE_SECONDS] == (
        ["continue"] * (BAKE_SECONDS - 1) + ["pass"]
    )
    failing = analysis_rounds(record)[-1]
    success = next(m for m in failing["measurements"] if m["metric"] == "success-rate")
    assert success["verdict"] == "fail" and success["value"] < 0.99
    assert record.step_started_at is not None and record.detected_at is not None
    assert record.detected_at - record.step_started_at <= BAKE_SECONDS + INTERVAL_SECONDS
    assert record.restore_seconds is not None and 0 < record.restore_seconds < 30
    assert world.release()["candidateWeight"] == 0


WATCHED = {**REAL_TIME, "stepWeights": [100], "scaleDownDelaySeconds": 8}


@pytest.mark.slow
def test_a_live_slot_degrading_while_the_old_one_is_warm_is_sent_back_in_one_routing_up(
    tmp_path, prometheus, metrics_source
):
    world = real_time_world(
        tmp_path, prometheus, metrics_source, on_weight=lambda weight: None, delivery=WATCHED
    )
    up = world.stack.up

    def degrade_once_promoted(progress, message):
        outcome = up(progress, message)
        if message.endswith(": promote"):
            prometheus.exporter.set_traffic("chat-api", "green", error_ratio=0.3)
        return outcome

    world.stack.up = degrade_once_promoted  # type: ignore[method-assign]
    try:
        record = world.driver().start("1.5.0")
    finally:
        prometheus.exporter.set_traffic("chat-api", "green", error_ratio=0.0)
    assert record.phase is Phase.ROLLED_BACK, record.events[-1]
    assert record.promoted and record.steps[record.step_index].kind is StepKind.SCALE_DOWN
    watched = [e for e in record.events if "watch" in e]
    assert watched and watched[-1]["judgement"] == "fail"
    assert any("failed after promotion" in str(e.get("reason", "")) for e in record.events)
    # The way back is one routing change while blue is still warm: no warm-up up.
    ups = [e["up"] for e in record.events if "up" in e]
    assert "warm up the previous slot for rollback" not in ups
    assert ups[-2:] == ["rollback: traffic back to blue", "scale-down green after rollback"]
    assert world.release()["live"] == "blue"


@pytest.mark.slow
def test_a_live_slot_that_stays_healthy_is_scaled_down_on_time(
    tmp_path, prometheus, metrics_source
):
    world = real_time_world(
        tmp_path, prometheus, metrics_source, on_weight=lambda weight: None, delivery=WATCHED
    )
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED, record.events[-1]
    watched = [e for e in record.events if "watch" in e]
    # A round a second over what is left of the delay once the step starts watching.
    rounds = WATCHED["scaleDownDelaySeconds"] // INTERVAL_SECONDS
    assert rounds - 2 <= len(watched) <= rounds
    assert {e["judgement"] for e in watched} == {"continue"}
    promoted, finished = record.promoted_at, record.finished_at
    assert promoted is not None and finished is not None
    # Scaled down when the delay ran out, not later (the last up takes a second or two).
    assert (
        WATCHED["scaleDownDelaySeconds"]
        <= finished - promoted
        < WATCHED["scaleDownDelaySeconds"] + 10
    )
    assert world.release()["blue"]["scaledDown"] is True
