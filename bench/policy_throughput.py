"""Policy evaluation throughput through the Analyzer protocol: resources per second.

Both shipped packs run as their own processes, started and configured once (start-up is
printed apart); each run sends every resource to ``Analyze`` and the whole stack to
``AnalyzeStack`` in both packs, as a preview does. Two workloads in one run:
- the prod stack's offline preview;
- a synthetic stack of N resources (default 5,000): copies of the prod stack with their own
  URNs and dependencies, so stack rules link each copy as they link prod (the last copy is
  partial: its resources whose keys or ACLs it lacks are reported, as they should be).
And what the gate costs a user: the whole ``python -m offline_preview prod`` process with the
packs and with ``--no-policies``, and the ratio.

    .venv/bin/python bench/policy_throughput.py [--runs N] [--resources 5000]

Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from offline_preview.engine import (  # noqa: E402
    STACK_TYPE,
    CapturedResource,
    PreviewResult,
    run_preview,
)
from offline_preview.policy_run import PolicyPacks, PolicyPackSource  # noqa: E402
from offline_preview.project import load_project, load_stack_config  # noqa: E402

PACKS = [REPOSITORY / "policies" / name for name in ("security", "quality")]


def synthetic(prod: PreviewResult, count: int) -> PreviewResult:
    """``count`` resources: whole copies of prod (the last one partial), URNs renamed."""
    stack, body = prod.stack_resource, [r for r in prod.resources if r.type != STACK_TYPE]
    resources: list[CapturedResource] = [stack]
    copy = 0
    while len(resources) < count:

        def renamed(urn: str | None, copy: int = copy) -> str | None:
            if urn is None or urn == stack.urn or "::" not in urn:
                return urn
            head, _, name = urn.rpartition("::")
            return f"{head}::{name}-{copy}"

        for resource in body[: count - len(resources)]:
            resources.append(
                replace(
                    resource,
                    urn=renamed(resource.urn) or "",
                    name=f"{resource.name}-{copy}",
                    parent=renamed(resource.parent),
                    dependencies=[renamed(d) or d for d in resource.dependencies],
                    property_dependencies={
                        k: [renamed(u) or u for u in v]
                        for k, v in resource.property_dependencies.items()
                    },
                )
            )
        copy += 1
    return replace(prod, resources=resources)


def measure(packs: PolicyPacks, result: PreviewResult, runs: int) -> tuple[float, int]:
    times = []
    violations = 0
    for _ in range(runs):
        started = time.perf_counter()
        report = packs.evaluate(result)
        times.append(time.perf_counter() - started)
        violations = len(report.violations)
    return statistics.median(times), violations


def whole_process(*extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "offline_preview", "prod", "--json", *extra],
        cwd=REPOSITORY,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--resources", type=int, default=5000)
    args = parser.parse_args()
    if args.runs < 1 or args.resources < 1:
        parser.error("--runs and --resources: allowed: 1 or more")

    project = load_project(REPOSITORY)
    config = load_stack_config(project, "prod")
    policy_config = REPOSITORY / "policies" / "config" / "prod.json"
    started = time.perf_counter()
    packs = PolicyPacks(
        [PolicyPackSource(pack, policy_config) for pack in PACKS],
        project=project.name,
        stack="prod",
        config=config.values,
    )
    prod = run_preview(REPOSITORY, "prod")
    try:
        packs.evaluate(prod)  # start-up: processes, imports, configuration, first call
        start_up = time.perf_counter() - started
        policies = sum(p.policies for p in packs.evaluate(prod).packs)
        print(
            f"policy packs: 2 processes, {policies} policies; start-up and first run "
            f"{start_up:.2f} s"
        )
        print(f"evaluation through the Analyzer protocol, median of {args.runs} runs")
        print(
            f"{'workload':<12} {'resources':>9} {'seconds':>8} {'resources/s':>12} "
            f"{'ms/resource':>12} {'violations':>11}"
        )
        for label, result in (("prod", prod), ("synthetic", synthetic(prod, args.resources))):
            seconds, violations = measure(packs, result, args.runs)
            count = len(result.resources)
            print(
                f"{label:<12} {count:>9} {seconds:>8.2f} {count / seconds:>12.0f} "
                f"{1000 * seconds / count:>12.2f} {violations:>11}"
            )
    finally:
        packs.close()
    gated = statistics.median(whole_process() for _ in range(args.runs))
    bare = statistics.median(whole_process("--no-policies") for _ in range(args.runs))
    print(
        f"whole preview of prod (process): {gated:.2f} s with both packs, {bare:.2f} s "
        f"without; the gate costs {gated - bare:.2f} s ({gated / bare:.2f}x)"
    )


if __name__ == "__main__":
    main()
