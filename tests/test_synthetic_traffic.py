"""Synthetic traffic through the preview route while a bake runs."""

from __future__ import annotations

import time

from platformctl.record import Phase
from platformctl.synthetic import synthetic_traffic
from platformctl.world import SystemClock
from tests.http_recorder import Recorder
from tests.release_world import FAST_ANALYSIS, FAST_DELIVERY, release_world
from tests.test_delivery_settings import problems_for


def test_requests_flow_at_about_the_rate_while_the_block_runs_and_stop_after(server: Recorder):
    with synthetic_traffic(server.base + "/probe", 20) as count:
        time.sleep(0.5)
    received = len(server.to("/probe"))
    assert 5 <= received <= 15
    assert (count.sent, count.failed) == (received, 0)
    time.sleep(0.3)
    assert len(server.to("/probe")) == received, "nothing is sent after the block"


def test_an_unreachable_route_is_counted_not_raised(dead_url: str):
    with synthetic_traffic(dead_url, 20) as count:
        time.sleep(0.3)
    assert count.sent >= 2 and count.failed == count.sent


def test_every_bake_before_promotion_sends_traffic_to_the_candidate(tmp_path, server: Recorder):
    delivery = {
        **FAST_DELIVERY,
        "stepWeights": [50, 100],
        "stepBakeSeconds": 2,
        "scaleDownDelaySeconds": 0,
        "analysis": {
            **FAST_ANALYSIS,
            "syntheticTraffic": {"requestsPerSecond": 10, "url": server.base + "/api/probe"},
        },
    }  # fmt: skip
    # Slow answers keep a request in flight when each bake ends: the recorded count must
    # still equal what the service received.
    server.delays["/api/probe"] = 0.15
    world = release_world(tmp_path, delivery=delivery)
    world.world.clock = SystemClock()
    world.world.poll_seconds = 0.05
    record = world.driver().start("1.5.0")
    assert record.phase is Phase.SUCCEEDED
    sent = [e["synthetic"] for e in record.events if "synthetic" in e]
    assert len(sent) == 2
    assert all(s["sent"] >= 5 and s["failed"] == 0 for s in sent)
    assert all(s["url"] == server.base + "/…" for s in sent)
    assert len(server.to("/api/probe")) == sum(s["sent"] for s in sent)


def test_a_synthetic_rate_out_of_range_is_refused():
    message = problems_for({"analysis": {"syntheticTraffic": {"requestsPerSecond": 500}}})
    assert "platform:delivery.analysis.syntheticTraffic.requestsPerSecond" in message
    assert "0.1 to 100" in message
