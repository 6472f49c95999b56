"""What the shared ledger costs: how soon a command sent from another machine is taken, and
how many S3 requests a release makes.

Two parts in one run, both on loopback:

1. Pick-up: a release bakes (wall clock) while another machine's ledger sends commands one
   at a time (``approve`` while Progressing: taken and recorded as ignored, so the release
   goes on); the pick-up of each is the time its driver recorded taking it minus the time it
   was sent (each sent at a random moment of the driver's one-second look cycle). Once
   with the ledger in files, once in S3 (moto's server), and the ratio.
2. Requests: a whole prod-shaped release (prod's steps, bakes, interval and scale-down delay;
   no AI review) on a virtual clock, with the ledger's requests counted by kind; per release,
   per hour of release, and what that costs at S3 Standard request prices.

    .venv/bin/python bench/ledger_requests.py [--commands N]

Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

import yaml  # noqa: E402

from platformctl.blob_store import Blob, BlobStore  # noqa: E402
from platformctl.ledger import Control, Ledger  # noqa: E402
from platformctl.world import SystemClock  # noqa: E402
from tests.release_world import FAST_ANALYSIS, FAST_DELIVERY, ledger_at, release_world  # noqa: E402
from tests.s3_ledger import S3_ENV, moto_s3, new_bucket, s3_ledger_url  # noqa: E402

# S3 Standard request prices in us-east-1 (USD per 1,000 requests), as AWS's pricing page
# lists them: PUT/COPY/POST/LIST $0.005, GET/SELECT $0.0004. Other regions differ a little.
PRICE_PER_1000 = {"PUT": 0.005, "LIST": 0.005, "GET": 0.0004}


class CountingStore:
    """The ledger's store, with each call counted as the S3 request it makes."""

    def __init__(self, inner: BlobStore):
        self.inner = inner
        self.requests: Counter[str] = Counter()

    @property
    def location(self) -> str:
        return self.inner.location

    def get(self, key: str) -> Blob | None:
        self.requests["GET"] += 1
        return self.inner.get(key)

    def put(self, key: str, data: bytes, **conditions: Any) -> str:
        self.requests["PUT"] += 1
        return self.inner.put(key, data, **conditions)

    def keys(self, prefix: str) -> list[str]:
        self.requests["LIST"] += 1
        return self.inner.keys(prefix)

    def children(self, prefix: str) -> list[str]:
        self.requests["LIST"] += 1
        return self.inner.children(prefix)


def pick_up_seconds(directory: Path, ledger_url: str, commands: int) -> list[float]:
    delivery = {**FAST_DELIVERY, "stepBakeSeconds": 3600, "analysis": FAST_ANALYSIS}
    world = release_world(directory, ledger_url=ledger_url, delivery=delivery)
    world.world.clock = SystemClock()
    world.world.poll_seconds = 0.05
    driver = threading.Thread(target=lambda: world.driver().start("1.5.0"))
    driver.start()
    sender = Ledger(ledger_at(ledger_url), host="laptop")
    record = sender.read("dev", "chat-api")
    while record is None or record.step is None or not record.step.label().startswith("analyse"):
        time.sleep(0.05)
        record = sender.read("dev", "chat-api")
    taken: list[float] = []
    jitter = random.Random(7)
    for n in range(commands):
        # Commands arrive at any moment of the driver's one-second look cycle.
        time.sleep(jitter.uniform(0, 1))
        control = Control("approve", "bench", time.time(), "", record.id, f"c{n}")
        sender.send("dev", "chat-api", control)
        while True:
            record = sender.read("dev", "chat-api")
            assert record is not None
            done = [e for e in record.events if e.get("control") == control.id]
            if done:
                taken.append(done[0]["at"] - control.at)
                break
            time.sleep(0.01)
    sender.send("dev", "chat-api", Control("abort", "bench", time.time(), "", record.id, "end"))
    driver.join()
    return taken


def prod_release_requests(directory: Path) -> tuple[Counter[str], float]:
    prod = yaml.safe_load((REPOSITORY / "Pulumi.prod.yaml").read_text())["config"]
    delivery = dict(prod["platform:delivery"])
    delivery.pop("review", None)
    delivery.pop("promotion", None)
    world = release_world(directory, stack="prod", delivery=delivery)
    counting = CountingStore(world.world.ledger.store)
    world.world.ledger.store = counting
    started = world.clock.now()
    record = world.driver().start("sha256:" + "b" * 64)
    assert record.phase.value == "Succeeded", record.last_reason
    return counting.requests, world.clock.now() - started


def line(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"  {name:6} median {statistics.median(ordered):.3f} s   p95 {p95:.3f} s   "
        f"max {ordered[-1]:.3f} s   ({len(ordered)} commands)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update(S3_ENV)
    with tempfile.TemporaryDirectory() as scratch, moto_s3() as endpoint:
        root = Path(scratch)
        print("command pick-up (sent on one machine, taken by the release's driver):")
        files = pick_up_seconds(root / "files", f"file://{root}/files-ledger", args.commands)
        print(line("files", files))
        s3_url = s3_ledger_url(endpoint, new_bucket(endpoint))
        s3 = pick_up_seconds(root / "s3", s3_url, args.commands)
        print(line("S3", s3))
        ratio = statistics.median(s3) / statistics.median(files)
        print(f"  S3 / files (median): {ratio:.2f}x")
        requests, seconds = prod_release_requests(root / "prod")
    hours = seconds / 3600
    total = sum(requests.values())
    print(f"\nS3 requests of one prod release ({seconds / 60:.0f} min on the virtual clock):")
    cost = 0.0
    for kind in ("GET", "PUT", "LIST"):
        count = requests[kind]
        dollars = count * PRICE_PER_1000[kind] / 1000
        cost += dollars
        print(f"  {kind:4} {count:6d}   {count / hours:7.0f} per hour   ${dollars:.4f}")
    print(f"  all  {total:6d}   {total / hours:7.0f} per hour   ${cost:.4f} per release, "
          f"${cost / hours:.4f} per hour of release")  # fmt: skip


if __name__ == "__main__":
    main()
