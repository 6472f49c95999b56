"""Promotion: which image may move from one stack to the next, and who allowed it.

The image must be the exact one (by digest) that a completed release made live in the source
stack, still live there, live for at least the target's soak time, and healthy now.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from platformctl.ports import DeployError, Measurement, Verdict
from platformctl.record import Phase, ReleaseRecord, StepKind

APPROVAL_ENV = "PLATFORM_APPROVED_BY"
_DIGEST = re.compile(r"(^|@)sha256:[a-f0-9]{64}$")


@dataclass(frozen=True)
class Candidate:
    image: str
    source_release: str
    live_since: float


def promotable_image(
    service: str,
    source: str,
    history: Sequence[ReleaseRecord],
    live_image: str | None,
    soak_minutes: int,
    now: float,
) -> Candidate:
    """The image to promote, or a :class:`DeployError` saying why there is none."""
    unfinished = [r for r in history if not r.terminal]
    if unfinished:
        raise DeployError(
            f"release {unfinished[-1].id} of {service} on {source} is "
            f"{unfinished[-1].phase.value}; promote once it has finished"
        )
    completed = [r for r in history if r.phase is Phase.SUCCEEDED and r.promoted_at]
    if not completed:
        raise DeployError(
            f"no completed release of {service} on {source} in the ledger; promote what a "
            f"release made live (platformctl release {source} {service} --image ...)"
        )
    last = max(completed, key=lambda r: r.promoted_at or 0)
    if live_image != last.image:
        raise DeployError(
            f"{source} runs {live_image} for {service}, not {last.image} from its last "
            f"completed release {last.id} (rolled back or changed since); nothing to promote"
        )
    if not _DIGEST.search(last.image):
        raise DeployError(
            f"{service} on {source} runs {last.image} without a digest; a promotion carries "
            "the exact image: release it by digest (tag@sha256:...) first"
        )
    assert last.promoted_at is not None
    # A later release that took traffic and was rolled back interrupted the soak: it counts
    # again from when traffic came back.
    interrupted = [
        r.restored_at or r.finished_at or now
        for r in history
        if r.started_at > last.started_at and _took_all_traffic(r)
    ]
    live_since = max([last.promoted_at, *interrupted])
    soaked = (now - live_since) / 60
    if soaked < soak_minutes:
        raise DeployError(
            f"{last.image} has been live on {source} for {soaked:.0f} min; the target needs "
            f"{soak_minutes} min (platform:delivery.promotion.sourceSoakMinutes)"
        )
    return Candidate(last.image, last.id, live_since)


def _took_all_traffic(record: ReleaseRecord) -> bool:
    """Promoted, or rolled back after a step that sent it every request."""
    reached = record.steps[: record.step_index + 1]
    return record.promoted or any(
        s.kind is StepKind.SET_WEIGHT and s.weight == 100 for s in reached
    )


# Promotions move one environment at a time.
PROMOTION_ORDER = ("dev", "staging", "prod")


def promotion_path_problem(source_environment: str, target_environment: str) -> str | None:
    order = PROMOTION_ORDER
    if (
        source_environment in order
        and target_environment in order
        and order.index(target_environment) == order.index(source_environment) + 1
    ):
        return None
    return (
        f"cannot promote from a {source_environment} stack to a {target_environment} stack; "
        "allowed: one step along " + " -> ".join(order)
    )


def health_problem(measurements: Sequence[Measurement]) -> str | None:
    """The source must be healthy now, by data: inconclusive is no pass."""
    if not measurements:
        return "no metric to judge the source by"
    bad = [m for m in measurements if m.verdict is not Verdict.PASS]
    if bad:
        return "; ".join(f"{m.metric} {m.verdict.value}: {m.reason}" for m in bad)
    return None


def approver(approve_flag: bool, actor: str, environ: Mapping[str, str]) -> str:
    """Who approves: the CI environment's approver, or with ``--approve`` whoever runs it;
    empty when nobody did."""
    by = environ.get(APPROVAL_ENV, "").strip()
    return by or (actor if approve_flag else "")


def approval(
    target: str, required: bool, approve_flag: bool, actor: str, environ: Mapping[str, str],
    now: float,
) -> tuple[dict[str, Any], ...]:  # fmt: skip
    """The approval to record, from ``--approve`` or the CI environment's approval variable
    (set by a job that ran behind a GitHub environment with required reviewers)."""
    by = approver(approve_flag, actor, environ)
    if not by:
        if required:
            raise DeployError(
                f"promotion to {target} requires an approval; allowed: --approve (recorded "
                f"with your name) or {APPROVAL_ENV}=<approver> from a CI environment approval"
            )
        return ()
    return ({"by": by, "at": now, "for": f"promotion to {target}"},)
