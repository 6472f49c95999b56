"""``platformctl report [STACK] [--since 30d] [--json]``: the four DORA keys of each stack,
from its release ledger (and ECR's push times, where the caller may read them)."""

from __future__ import annotations

import argparse
import re
import time
from typing import Protocol

from platformctl.dora import DoraKeys, dora_keys, duration
from platformctl.ledger import Ledger
from platformctl.record import ReleaseRecord

_SINCE = re.compile(r"([1-9]\d{0,3})([dh])")


class ImagePushes(Protocol):
    def pushed_at(self, stack: str, service: str, image: str) -> float | None:
        """When the image was pushed to the stack's registry, or None when that cannot be
        read (no permission, gone, another registry)."""
        ...


def since_seconds(text: str) -> float:
    """``30d``, ``12h``: an argparse type, so a bad value is a usage error naming it."""
    found = _SINCE.fullmatch(text)
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a period; allowed: a number of days or hours, such as 30d or 12h"
        )
    return int(found[1]) * (86400 if found[2] == "d" else 3600)


def stack_keys(
    ledger: Ledger,
    stack: str,
    since: float,
    pushes: ImagePushes,
) -> DoraKeys:
    records = [r for service in ledger.services(stack) for r in ledger.history(stack, service)]

    def pushed_at(record: ReleaseRecord) -> float | None:
        return pushes.pushed_at(record.stack, record.service, record.image)

    return dora_keys(stack, records, now=time.time(), since_seconds=since, pushed_at=pushed_at)


def report_lines(keys: DoraKeys) -> list[str]:
    days = keys.since_seconds / 86400
    period = f"{days:g} days" if days >= 1 else f"{keys.since_seconds / 3600:g} hours"
    rate = (
        "-"
        if keys.change_failure_rate is None
        else f"{keys.change_failure_rate:.0%} ({keys.failed} of {keys.took_traffic} releases "
        "that took traffic were rolled back or failed)"
    )
    return [
        f"DORA keys of {keys.stack}, last {period} ({keys.releases} releases finished):",
        f"  deployment frequency   {keys.succeeded} live, {keys.deployments_per_week:.1f} a week",
        f"  lead time for changes  median {duration(keys.lead_time_seconds)} "
        f"(from {keys.lead_time_from} to live)",
        f"  change failure rate    {rate}",
        f"  time to restore        median {duration(keys.time_to_restore_seconds)} "
        f"({keys.restores} restore(s))",
    ]
