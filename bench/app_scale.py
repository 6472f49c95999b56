"""How the offline preview grows with the number of app services.

Each run previews the staging stack with N synthetic services (tests/fleet.py: both slots
running, a canary at 10 %), in one warm interpreter, and prints the median time, the
resources registered, the time per resource, and the ratio to the one-service preview.

    .venv/bin/python bench/app_scale.py [--runs N] [--services 1 10 50]

Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from offline_preview.engine import run_preview  # noqa: E402
from tests.conftest import stack_setting  # noqa: E402
from tests.fleet import fleet  # noqa: E402


def preview_with(count: int) -> tuple[float, int]:
    app = {**stack_setting("staging", "platform:app"), "services": fleet(count)}
    started = time.perf_counter()
    result = run_preview(REPOSITORY, "staging", config_overrides={"platform:app": app})
    return time.perf_counter() - started, len(result.resources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--services", type=int, nargs="+", default=[1, 10, 25, 50])
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: allowed: 1 or more")
    if any(count < 1 for count in args.services):
        parser.error(f"--services {args.services}: allowed: counts of 1 or more")

    preview_with(1)  # warm the interpreter's imports once
    print(f"offline preview of staging with N services, median of {args.runs} runs")
    print(
        f"{'services':>8} {'resources':>9} {'seconds':>8} {'ms/resource':>12} {'x one service':>14}"
    )
    baseline: float | None = None
    for count in args.services:
        timings, resources = [], 0
        for _ in range(args.runs):
            elapsed, resources = preview_with(count)
            timings.append(elapsed)
        median = statistics.median(timings)
        baseline = baseline or median
        print(
            f"{count:>8} {resources:>9} {median:>8.2f} {1000 * median / resources:>12.1f} "
            f"{median / baseline:>14.1f}"
        )


if __name__ == "__main__":
    main()
