"""Times the offline preview of each stack as a user runs it (a whole process) and prints
the median over several runs and the resources each stack registers.

    .venv/bin/python bench/preview_stacks.py [--runs N] [--stacks dev staging prod]

Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def preview_once(stack: str) -> tuple[float, int]:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "infra.preview", stack, "--json"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    return elapsed, json.loads(completed.stdout)["summary"]["resources"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stacks", nargs="+", default=["dev", "staging", "prod"])
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: allowed: 1 or more")

    print(f"offline preview, whole process, median of {args.runs} runs")
    print(f"{'stack':<10} {'resources':>9} {'median s':>9} {'min s':>7} {'max s':>7} {'ms/res':>7}")
    baseline = None
    for stack in args.stacks:
        times, resources = [], 0
        for _ in range(args.runs):
            elapsed, resources = preview_once(stack)
            times.append(elapsed)
        median = statistics.median(times)
        baseline = baseline or median
        print(
            f"{stack:<10} {resources:>9} {median:>9.2f} {min(times):>7.2f} {max(times):>7.2f} "
            f"{1000 * median / resources:>7.1f}   x{median / baseline:.2f} of {args.stacks[0]}"
        )


if __name__ == "__main__":
    main()
