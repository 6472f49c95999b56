"""AWS maintenance and backup windows: parsing, length and overlap.

A daily window is ``hh:mm-hh:mm`` (UTC); a weekly one is ``ddd:hh:mm-ddd:hh:mm``. AWS
rejects a backup or snapshot window that overlaps the maintenance window, so the settings
check it here, where the error can name both keys.
"""

from __future__ import annotations

import re

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_MINUTES = 24 * 60
_WEEK_MINUTES = 7 * _DAY_MINUTES
_DAILY = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")
_WEEKLY = re.compile(
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)"
)

Span = tuple[int, int]  # minutes from Monday 00:00, end exclusive, end may pass the week


def daily_window(text: str, min_minutes: int) -> str:
    match = _DAILY.fullmatch(text)
    if not match:
        raise ValueError("allowed: hh:mm-hh:mm in UTC, such as 03:00-04:00")
    start, end = _daily_span(match)
    if match.group(1, 2) == match.group(3, 4):
        raise ValueError("the window starts where it ends; allowed: a window of some length")
    if end - start < min_minutes:
        raise ValueError(f"the window lasts {end - start} minutes; allowed: {min_minutes} or more")
    return text


def weekly_window(text: str, min_minutes: int) -> str:
    match = _WEEKLY.fullmatch(text.lower())
    if not match:
        raise ValueError("allowed: ddd:hh:mm-ddd:hh:mm in UTC, such as sun:04:30-sun:05:30")
    start, end = _weekly_span(match)
    if match.group(1, 2, 3) == match.group(4, 5, 6):
        raise ValueError("the window starts where it ends; allowed: a window of some length")
    if end - start < min_minutes:
        raise ValueError(f"the window lasts {end - start} minutes; allowed: {min_minutes} or more")
    return text.lower()


def overlaps(daily: str, weekly: str) -> bool:
    """Whether a daily window, on any day, overlaps a weekly window."""
    daily_match, weekly_match = _DAILY.fullmatch(daily), _WEEKLY.fullmatch(weekly)
    if not daily_match or not weekly_match:
        return False
    start, end = _daily_span(daily_match)
    weekly_span = _weekly_span(weekly_match)
    return any(
        _intersect((day * _DAY_MINUTES + start, day * _DAY_MINUTES + end), weekly_span)
        for day in range(-1, 8)
    )


def windows_apart(daily_key: str, daily: str, maintenance: str) -> None:
    if overlaps(daily, maintenance):
        raise ValueError(
            f"{daily_key} {daily} overlaps maintenanceWindow {maintenance}; allowed: "
            "windows that do not overlap (AWS refuses them)"
        )


def _intersect(a: Span, b: Span) -> bool:
    # Compare in the week, and shifted a week either way, since spans may wrap.
    return any(
        a[0] < b[1] + shift and b[0] + shift < a[1] for shift in (-_WEEK_MINUTES, 0, _WEEK_MINUTES)
    )


def _daily_span(match: re.Match[str]) -> Span:
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    return start, end if end > start else end + _DAY_MINUTES


def _weekly_span(match: re.Match[str]) -> Span:
    start = DAYS.index(match[1]) * _DAY_MINUTES + int(match[2]) * 60 + int(match[3])
    end = DAYS.index(match[4]) * _DAY_MINUTES + int(match[5]) * 60 + int(match[6])
    return start, end if end > start else end + _WEEK_MINUTES
