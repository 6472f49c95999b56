"""How a measured value becomes a verdict: one rule for every metrics source.

A source only reads numbers (``read(slot)``); this module decides. The rule never turns
missing or doubtful data into a pass: no value, NaN or infinity, or a live value of zero for
a ratio, is inconclusive; a value outside ``thresholdRange`` or a ratio outside
``ratioToLive`` fails.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from infra.settings.delivery import MetricCheck
from platformctl.ports import AnalysisTarget, Measurement, Verdict


class Unmeasured(Exception):
    """Why a source has no value for a slot. ``error`` marks a source that could not be
    asked (down, timed out, refused), as opposed to one that answered without data."""

    def __init__(self, reason: str, *, error: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


def shown(value: float) -> str:
    return f"{value:g}"


def judge(
    metric: MetricCheck,
    value: float,
    live: float | Unmeasured | None = None,
    *,
    slot: str = "the candidate",
) -> Measurement:
    """The verdict on ``value`` (the candidate ``slot``'s) and, when the metric has a
    ``ratioToLive``, on ``value / live``. ``live`` is the live slot's value, or why there is
    none."""
    name = metric.name
    if not math.isfinite(value):
        reason = f"{name} is {shown(value)} for {slot} (no traffic in the window?)"
        return Measurement(name, Verdict.INCONCLUSIVE, reason)
    live_read = None if live is None or isinstance(live, Unmeasured) else float(live)
    live_value = live_read if live_read is not None and math.isfinite(live_read) else None
    threshold = metric.threshold_range
    if threshold is not None and not threshold.holds(value):
        # A candidate out of bounds fails whatever the live slot shows.
        reason = f"{name} {shown(value)} outside {threshold}"
        return Measurement(name, Verdict.FAIL, reason, value=value, live_value=live_value)
    passed = [] if threshold is None else [f"{name} {shown(value)} within {threshold}"]
    allowed_ratio = metric.ratio_to_live
    if allowed_ratio is None:
        return Measurement(name, Verdict.PASS, "; ".join(passed), value=value)

    if live_read is None:
        why = live.reason if isinstance(live, Unmeasured) else "not measured"
        error = isinstance(live, Unmeasured) and live.error
        reason = f"{name}: no live value to compare with ({why})"
        return Measurement(name, Verdict.INCONCLUSIVE, reason, value=value, error=error)
    if live_value is None or live_value == 0:
        reason = f"{name}: live value is {shown(live_read)}, so the ratio to live cannot be judged"
        return Measurement(name, Verdict.INCONCLUSIVE, reason, value=value, live_value=live_value)
    ratio = value / live_value
    compared = f"(candidate {shown(value)}, live {shown(live_value)})"
    if not allowed_ratio.holds(ratio):
        reason = f"{name} ratio to live {shown(ratio)} outside {allowed_ratio} {compared}"
        return Measurement(name, Verdict.FAIL, reason, value=value, live_value=live_value)
    passed.append(f"ratio to live {shown(ratio)} within {allowed_ratio} {compared}")
    return Measurement(name, Verdict.PASS, "; ".join(passed), value=value, live_value=live_value)


def measure_slots(
    metric: MetricCheck, target: AnalysisTarget, read: Callable[[str], float]
) -> Measurement:
    """Reads the candidate slot, and the live slot when the metric compares with it, then
    judges. ``read(slot)`` raises ``Unmeasured`` when it has no value."""
    try:
        value = read(target.candidate_slot)
    except Unmeasured as problem:
        return Measurement(
            metric.name,
            Verdict.INCONCLUSIVE,
            f"{metric.name}: {problem.reason}",
            error=problem.error,
        )
    live: float | Unmeasured | None = None
    if metric.ratio_to_live is not None and math.isfinite(value):
        try:
            live = read(target.live_slot)
        except Unmeasured as problem:
            live = problem
    return judge(metric, value, live, slot=f"slot {target.candidate_slot}")
