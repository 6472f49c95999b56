"""What the AI review costs before any request: building the redacted, size-bounded change
document, and how much of a change survives the size bound.

1. Prod's whole stack as a first deployment (every resource a create with all its inputs,
   the largest document the shipped stacks can produce), at the default bound (24,000
   characters) and at the smallest allowed (2,000): build time, the unbounded size, the
   size sent, and which summary rung was needed.
2. A synthetic outcome of N updates with large values (a big diff), same figures.

    .venv/bin/python bench/review_document.py [--runs N] [--synthetic N]

Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import textwrap
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from platformctl.changes import PreviewOutcome, PropertyChange, ResourceChange  # noqa: E402
from platformctl.offline_stack import OfflineStack  # noqa: E402
from platformctl.review.document import ReleasePlan, change_document  # noqa: E402
from policies.rules.stack import STATEFUL_TYPES  # noqa: E402

PLAN = ReleasePlan("chat-api", "canary", "1.6.0@sha256:" + "c" * 64, "1.5.0", "green",
                   "blue", ("deploy", "set-weight 5%", "analyse 600s", "promote"))  # fmt: skip


def synthetic(count: int) -> PreviewOutcome:
    value = {f"key{i}": {"image": f"repo/app:{i}", "replicas": i, "env": ["x" * 40] * 5}
             for i in range(20)}  # fmt: skip
    return PreviewOutcome(
        tuple(
            ResourceChange(
                f"urn:pulumi:prod::platform::kubernetes:apps/v1:Deployment::app{i}",
                "kubernetes:apps/v1:Deployment", "update", changed_inputs=("spec",),
                properties=(PropertyChange("spec", value, {**value, "new": i}),),
            )
            for i in range(count)
        )
    )  # fmt: skip


def measure(name: str, outcome: PreviewOutcome, runs: int) -> None:
    unbounded = change_document(stack="prod", environment="prod", outcome=outcome, plan=PLAN,
                                stateful_types=STATEFUL_TYPES, known_secrets=(),
                                max_chars=50_000_000)  # fmt: skip
    for bound in (24_000, 2_000):
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            document = change_document(stack="prod", environment="prod", outcome=outcome,
                                       plan=PLAN, stateful_types=STATEFUL_TYPES,
                                       known_secrets=(), max_chars=bound)  # fmt: skip
            times.append(time.perf_counter() - started)
        note = json.loads(document.text).get("summarised", "full document")
        print(
            f"{name:<22} {len(outcome.changes):>7,} {len(unbounded.text):>10,} {bound:>7,} "
            f"{len(document.text):>7,} {len(document.text) / len(unbounded.text):>7.2%} "
            f"{statistics.median(times) * 1000:>6.0f}"
        )
        print(f"{'':<22} {textwrap.shorten(note, 100)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=3000)
    args = parser.parse_args()
    stack = OfflineStack(REPOSITORY, "prod")
    outcome = stack.preview(lambda line: None)
    stack.close()
    print(f"change document, median of {args.runs} runs")
    print(f"{'workload':<22} {'changes':>7} {'unbounded':>10} {'bound':>7} {'sent':>7} "
          f"{'share':>7} {'ms':>6}")  # fmt: skip
    measure("prod, first deployment", outcome, args.runs)
    measure("synthetic big diff", synthetic(args.synthetic), args.runs)


if __name__ == "__main__":
    main()
