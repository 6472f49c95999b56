"""Releases judged by a real Prometheus (Debian's package, on loopback) scraping an exporter
whose error rate the test controls: a healthy canary goes through every step, and one that
degrades at its second step is rolled back during that step's bake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from platformctl.prometheus import PrometheusSource
from platformctl.record import Phase, StepKind
from platformctl.world import SystemClock
from tests.prometheus_server import RunningPrometheus
from tests.release_world import ReleaseWorld, release_world

BAKE_SECONDS = 4
INTERVAL_SECONDS = 1
REAL_TIME = {
    "stepWeights": [5, 25, 50, 100],
    "stepBakeSeconds": BAKE_SECONDS,
    "scaleDownDelaySeconds": 1,
    "analysis": {"intervalSeconds": INTERVAL_SECONDS, "windowSeconds": 3},
}


def real_time_world(
    tmp_path: Path, prometheus: RunningPrometheus, on_weight: Callable[[int], None]
) -> ReleaseWorld:
    world = release_world(tmp_path, delivery=REAL_TIME)
    world.world.clock = SystemClock()
    world.world.poll_seconds = 0.05
    source = PrometheusSource(prometheus.url)
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
def test_a_healthy_canary_is_promoted_through_every_step_on_real_metrics(tmp_path, prometheus):
    world = real_time_world(tmp_path, prometheus, on_weight=lambda weight: None)
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
    tmp_path, prometheus
):
    def degrade_from_25_percent(weight: int) -> None:
        if weight >= 25:
            prometheus.exporter.set_traffic("chat-api", "green", error_ratio=0.3)

    world = real_time_world(tmp_path, prometheus, on_weight=degrade_from_25_percent)
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
