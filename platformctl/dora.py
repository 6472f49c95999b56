"""The four DORA keys of a stack, computed from its release ledger. Pure: the report command
reads the records (and, where it can, when each image was pushed) and hands them here.

How each key is counted here (https://dora.dev/guides/dora-metrics-four-keys/):

- deployment frequency: releases that went live and stayed (Succeeded), per week;
- lead time for changes: from the image's push to ECR (``imagePushedAt``) to its going live,
  or, where the push time cannot be read, from the release's start; the report says which;
- change failure rate: of the releases that took traffic (Succeeded, RolledBack, Failed),
  the share that was rolled back or failed; rejected and aborted releases took none, or were
  stopped by a person, and count in neither;
- time to restore: from the failing measurement (or the human's rollback) to traffic back on
  the previous slot, as the driver measured it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from platformctl.record import Phase, ReleaseRecord

WEEK = 7 * 24 * 3600
TOOK_TRAFFIC = (Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED)
FAILED = (Phase.ROLLED_BACK, Phase.FAILED)


@dataclass(frozen=True)
class DoraKeys:
    stack: str
    since_seconds: float
    releases: int  # finished in the window, whatever the outcome
    succeeded: int
    took_traffic: int
    failed: int
    deployments_per_week: float
    lead_time_seconds: float | None  # median
    lead_time_from: str
    change_failure_rate: float | None
    time_to_restore_seconds: float | None  # median
    restores: int

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "sinceSeconds": self.since_seconds,
            "releases": self.releases,
            "deploymentFrequency": {
                "succeeded": self.succeeded,
                "perWeek": round(self.deployments_per_week, 2),
            },
            "leadTimeForChanges": {
                "medianSeconds": _rounded(self.lead_time_seconds),
                "from": self.lead_time_from,
            },
            "changeFailureRate": {
                "rate": _rounded(self.change_failure_rate, 4),
                "failed": self.failed,
                "tookTraffic": self.took_traffic,
            },
            "timeToRestore": {
                "medianSeconds": _rounded(self.time_to_restore_seconds),
                "restores": self.restores,
            },
        }


def dora_keys(
    stack: str,
    records: Sequence[ReleaseRecord],
    *,
    now: float,
    since_seconds: float,
    pushed_at: Callable[[ReleaseRecord], float | None],
) -> DoraKeys:
    finished = [
        r for r in records
        if r.finished_at is not None and now - since_seconds <= r.finished_at <= now
    ]  # fmt: skip
    succeeded = [r for r in finished if r.phase is Phase.SUCCEEDED]
    took_traffic = [r for r in finished if r.phase in TOOK_TRAFFIC]
    failed = [r for r in took_traffic if r.phase in FAILED]
    leads, from_push = _lead_times(succeeded, pushed_at)
    restores = [r.restore_seconds for r in finished if r.restore_seconds is not None]
    return DoraKeys(
        stack=stack,
        since_seconds=since_seconds,
        releases=len(finished),
        succeeded=len(succeeded),
        took_traffic=len(took_traffic),
        failed=len(failed),
        deployments_per_week=len(succeeded) * WEEK / since_seconds,
        lead_time_seconds=statistics.median(leads) if leads else None,
        lead_time_from=_lead_from(from_push, len(leads)),
        change_failure_rate=len(failed) / len(took_traffic) if took_traffic else None,
        time_to_restore_seconds=statistics.median(restores) if restores else None,
        restores=len(restores),
    )


def _lead_times(
    succeeded: Sequence[ReleaseRecord], pushed_at: Callable[[ReleaseRecord], float | None]
) -> tuple[list[float], int]:
    leads, from_push = [], 0
    for record in succeeded:
        live = record.promoted_at or record.finished_at
        assert live is not None
        pushed = pushed_at(record)
        if pushed is not None and pushed <= live:
            leads.append(live - pushed)
            from_push += 1
        else:
            leads.append(live - record.started_at)
    return leads, from_push


def _lead_from(from_push: int, total: int) -> str:
    if total == 0 or from_push == total:
        return "image pushed to ECR"
    if from_push == 0:
        return "release start (no image push time could be read)"
    return f"image pushed to ECR for {from_push} of {total}, release start for the rest"


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def duration(seconds: float | None) -> str:
    """``3h 12m``, ``41 s``: how long, for people."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours < 48 else f"{hours / 24:.1f} days"
