"""Times the offline preview of each stack and prints resources per stack.

Two figures per stack, measured in one run so they compare:
- whole process: ``python -m offline_preview STACK --json --no-policies``, as a user or CI
  runs it, without the policy gate (``bench/policy_throughput.py`` measures that);
- in process: ``run_preview`` on an already warm interpreter, as the tests and (later) the
  policy gate and release driver call it.

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
sys.path.insert(0, str(REPOSITORY))

from offline_preview.engine import run_preview  # noqa: E402


def whole_process(stack: str) -> tuple[float, int]:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "offline_preview", stack, "--json", "--no-policies"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    return elapsed, json.loads(completed.stdout)["summary"]["resources"]


def in_process(stack: str) -> float:
    started = time.perf_counter()
    run_preview(REPOSITORY, stack)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stacks", nargs="+", default=["dev", "staging", "prod"])
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: allowed: 1 or more")

    in_process(args.stacks[0])  # warm the interpreter's imports once
    print(f"offline preview, median of {args.runs} runs")
    print(
        f"{'stack':<9} {'resources':>9} {'process s':>10} {'in-process s':>13} "
        f"{'ms/resource':>12} {'process/in-process':>19}"
    )
    for stack in args.stacks:
        process_times, resources = [], 0
        for _ in range(args.runs):
            elapsed, resources = whole_process(stack)
            process_times.append(elapsed)
        warm_times = [in_process(stack) for _ in range(args.runs)]
        process, warm = statistics.median(process_times), statistics.median(warm_times)
        print(
            f"{stack:<9} {resources:>9} {process:>10.2f} {warm:>13.3f} "
            f"{1000 * warm / resources:>12.1f} {process / warm:>18.1f}x"
        )


if __name__ == "__main__":
    main()
