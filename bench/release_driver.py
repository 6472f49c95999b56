"""The release driver's own cost, what each kind of step changes, and how fast a bad canary
is undone on real metrics.

1. Overhead per step: a canary (5/25/50/100) and a blue-green release of staging's chat-api
   on the offline engine with a virtual clock, so no time is spent waiting. Each step's wall
   time is split into the engine (the program run plus policy packs: what `pulumi up` costs
   in the real world) and the driver's own share (settings, decisions, ledger writes, config
   edits, metric calls): the figure that matters is the latter.
2. Resources each kind of step changes, from the `up`s' own diffs.
3. Detection to restored on a real Prometheus (Debian's, on loopback, started by
   scripts/prometheus): a canary whose error rate rises at 25 % is rolled back; printed are
   the time from degradation to the failing measurement and from that measurement to the
   rollback's `up` completing (the ledger's figure).

    .venv/bin/python bench/release_driver.py [--runs N] [--no-prometheus]

Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))
# gRPC notes every fork (Prometheus, hooks) while the packs' channels are open; not news.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from offline_preview.policy_run import PolicyPackSource  # noqa: E402
from platformctl.driver import ReleaseDriver  # noqa: E402
from platformctl.ports import Verdict  # noqa: E402
from platformctl.world import SystemClock  # noqa: E402
from tests.release_world import FAST_DELIVERY, ReleaseWorld, release_world  # noqa: E402

FOUR_STEPS = {**FAST_DELIVERY, "stepWeights": [5, 25, 50, 100]}
PACKS = [
    PolicyPackSource(REPOSITORY / "policies" / name, REPOSITORY / "policies/config/staging.json")
    for name in ("security", "quality")
]


class TimedDriver(ReleaseDriver):
    """Times each step and the rollback; the engine's share is measured around the port."""

    def __init__(self, world: ReleaseWorld, samples: dict[str, list[tuple[float, float]]]):
        super().__init__(world.world, "chat-api")
        self.samples = samples
        self.engine = 0.0
        stack = world.stack
        for name in ("up", "preview"):
            original = getattr(stack, name)

            def timed(*args: Any, _original: Any = original) -> Any:
                started = time.perf_counter()
                try:
                    return _original(*args)
                finally:
                    self.engine += time.perf_counter() - started

            setattr(stack, name, timed)

    def _measure(self, label: str, action: Any) -> Any:
        engine_before, started = self.engine, time.perf_counter()
        result = action()
        total = time.perf_counter() - started
        self.samples[label].append((total, self.engine - engine_before))
        return result

    def _perform(self) -> Any:
        step = self._record().step
        assert step is not None
        return self._measure(step.kind.value, super()._perform)

    def _roll_back(self) -> None:
        self._measure("rollback", super()._roll_back)


def overhead(runs: int) -> None:
    samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
    changes: dict[str, set[str]] = defaultdict(set)
    for run in range(runs):
        for strategy, judge in (("canary", None), ("canary", "fail"), ("blue-green", None)):
            with tempfile.TemporaryDirectory() as directory:
                world = release_world(
                    Path(directory), stack="staging", delivery=FOUR_STEPS, policy_packs=PACKS
                )
                if judge:
                    world.metrics.judge = lambda w, m: Verdict.FAIL if w >= 25 else Verdict.PASS
                record = TimedDriver(world, samples).start(f"1.6.{run}", strategy=strategy)
                world.stack.close()
                for event in record.events:
                    if "up" in event:
                        kind = event["up"].split(":")[0].split(" ")[0]
                        changes[kind].add(
                            ", ".join(sorted(_short(c) for c in event["changed"])) or "nothing"
                        )
    print(f"driver overhead per step, offline engine with both policy packs, {runs} run(s)")
    print(f"{'step':<12}{'samples':>8}{'total ms':>10}{'engine ms':>11}{'driver ms':>11}")
    for kind, rows in sorted(samples.items()):
        total = statistics.median(t for t, _ in rows) * 1000
        engine = statistics.median(e for _, e in rows) * 1000
        driver = statistics.median(t - e for t, e in rows) * 1000
        print(f"{kind:<12}{len(rows):>8}{total:>10.0f}{engine:>11.0f}{driver:>11.1f}")
    print("\nresources each kind of `up` changes")
    for kind, seen in sorted(changes.items()):
        for change in sorted(seen):
            print(f"  {kind:<10} {change}")


def _short(change: str) -> str:
    operation, urn = change.split(" ", 1)
    return f"{operation} {urn.rsplit('::', 1)[-1]} ({urn.split('::')[-2].rsplit(':', 1)[-1]})"


def detection_to_restored(runs: int) -> None:
    from tests.metrics_exporter import MetricsExporter
    from tests.prometheus_server import start_prometheus, stop_prometheus, wait_for_scrape

    delivery = {
        "stepWeights": [5, 25, 50, 100],
        "stepBakeSeconds": 4,
        "scaleDownDelaySeconds": 1,
        "analysis": {"intervalSeconds": 1, "windowSeconds": 3},
    }
    detection, restore = [], []
    with tempfile.TemporaryDirectory() as directory, MetricsExporter() as exporter:
        url = start_prometheus(Path(directory) / "prometheus", exporter.target)
        try:
            wait_for_scrape(url)
            from platformctl.prometheus import PrometheusSource

            source = PrometheusSource(url)
            for run in range(runs):
                degraded_at: list[float] = []
                # The analysis asks this Prometheus, which scrapes every second.
                analysis = {**delivery["analysis"], "prometheusUrl": url}
                world = release_world(
                    Path(directory) / f"run{run}", delivery={**delivery, "analysis": analysis}
                )
                world.world.clock = SystemClock()
                world.world.poll_seconds = 0.05
                world.world.metrics_for = lambda settings: source
                for slot in ("blue", "green"):
                    exporter.set_traffic(
                        "chat-api", slot, requests_per_second=50, error_ratio=0.0,
                        latency_seconds=0.04, serving=True,
                    )  # fmt: skip
                up = world.stack.up

                def degrading_up(progress: Any, message: str, _up: Any = up,
                                 _world: ReleaseWorld = world, _at: list[float] = degraded_at
                                 ) -> Any:  # fmt: skip
                    outcome = _up(progress, message)
                    if _world.metrics.weight() >= 25 and not _at:
                        exporter.set_traffic("chat-api", "green", error_ratio=0.3)
                        _at.append(time.time())
                    return outcome

                world.stack.up = degrading_up  # type: ignore[method-assign]
                record = world.driver().start(f"1.6.{run}")
                exporter.set_traffic("chat-api", "green", error_ratio=0.0)
                assert record.detected_at and record.restore_seconds is not None, record.phase
                detection.append(record.detected_at - degraded_at[0])
                restore.append(record.restore_seconds)
        finally:
            stop_prometheus(Path(directory) / "prometheus")
    print(f"\nreal Prometheus (scrape 1 s, interval 1 s, window 3 s), {runs} run(s)")
    print(f"  degradation -> failing measurement  median {statistics.median(detection):.2f} s"
          f"  (min {min(detection):.2f}, max {max(detection):.2f})")  # fmt: skip
    print(f"  failing measurement -> restored     median {statistics.median(restore):.2f} s"
          f"  (min {min(restore):.2f}, max {max(restore):.2f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-prometheus", action="store_true")
    args = parser.parse_args()
    overhead(args.runs)
    if not args.no_prometheus:
        detection_to_restored(args.runs)


if __name__ == "__main__":
    main()
