"""``platformctl versions STACK``: every version the stack pins, against what AWS and the chart
repository offer today. Pure: the pins come from the settings, the offers from a
:class:`VersionSource` (``version_sources.py`` asks the real APIs; tests record their
answers), and the verdict is a plain function of both."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from infra.config import StackSettings
from infra.settings.cluster import ADDON_KEYS, LOAD_BALANCER_CONTROLLER_CHART
from infra.settings.observability import COLLECTOR_CHART


@dataclass(frozen=True)
class Pin:
    key: str  # the settings key, e.g. platform:cluster.addons.vpcCni
    kind: str  # kubernetes, addon, chart, aurora-postgresql, redis
    name: str  # what is pinned: the add-on, chart or engine
    version: str


@dataclass(frozen=True)
class Offer:
    """What the live source says of one pin: whether a new stack could still use it, the
    source's default and the newest version that fits (the same Kubernetes minor, engine
    major or parameter family)."""

    offered: bool
    default: str | None = None
    latest: str | None = None
    note: str = ""


class VersionSourceError(Exception):
    """The source could not be asked (no credentials, a missing permission, no network):
    the message says which call failed and what it needs."""


class VersionSource(Protocol):
    def offer(self, pin: Pin, kubernetes: str) -> Offer:
        """Raises :class:`VersionSourceError` when the source cannot be asked."""
        ...


@dataclass(frozen=True)
class PinReport:
    pin: Pin
    offer: Offer | None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        offer = self.offer
        return {
            "key": self.pin.key,
            "name": self.pin.name,
            "pinned": self.pin.version,
            "offered": offer.offered if offer else None,
            "default": offer.default if offer else None,
            "latest": offer.latest if offer else None,
            "note": offer.note if offer else "",
            "error": self.error or None,
        }


def stack_pins(settings: StackSettings) -> list[Pin]:
    platform = settings.platform
    cluster = platform.cluster
    return [
        Pin(
            "platform:cluster.kubernetesVersion",
            "kubernetes",
            "kubernetes",
            cluster.kubernetes_version,
        ),
        *(
            Pin(f"platform:cluster.addons.{ADDON_KEYS[addon]}", "addon", addon, version)
            for addon, version in cluster.addons.by_addon().items()
        ),
        Pin(
            "platform:cluster.loadBalancerControllerChartVersion",
            "chart",
            LOAD_BALANCER_CONTROLLER_CHART,
            cluster.load_balancer_controller_chart_version,
        ),
        Pin(
            "platform:observability.collectorChartVersion",
            "chart",
            COLLECTOR_CHART,
            platform.observability.collector_chart_version,
        ),
        Pin(
            "platform:database.engineVersion",
            "aurora-postgresql",
            "aurora-postgresql",
            platform.database.engine_version,
        ),
        Pin("platform:cache.engineVersion", "redis", "redis", platform.cache.engine_version),
    ]


def check(pins: Sequence[Pin], source: VersionSource, kubernetes: str) -> list[PinReport]:
    reports = []
    for pin in pins:
        try:
            reports.append(PinReport(pin, source.offer(pin, kubernetes)))
        except VersionSourceError as error:
            reports.append(PinReport(pin, None, str(error)))
    return reports


def version_order(version: str) -> tuple[int, ...]:
    """``v1.21.1-eksbuild.7`` -> (1, 21, 1, 7); ``16.8`` -> (16, 8): numbers in order."""
    return tuple(int(number) for number in re.findall(r"\d+", version))


def newest(versions: Iterable[str]) -> str | None:
    return max(versions, key=version_order, default=None)


def render(stack: str, region: str, kubernetes: str, reports: Sequence[PinReport]) -> list[str]:
    rows = [("key", "pinned", "offered", "default", "latest", "")]
    for report in reports:
        offer = report.offer
        offered = "?" if offer is None else ("yes" if offer.offered else "NO")
        rows.append(
            (
                report.pin.key,
                report.pin.version,
                offered,
                (offer.default if offer else None) or "-",
                (offer.latest if offer else None) or "-",
                report.error or (offer.note if offer else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"Pinned versions of {stack} ({region}, Kubernetes {kubernetes}):"]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)]
        lines.append(("  " + "  ".join(cells) + ("  " + row[5] if row[5] else "")).rstrip())
    return lines


def not_offered(reports: Sequence[PinReport]) -> list[PinReport]:
    return [r for r in reports if r.offer is not None and not r.offer.offered]


def unanswered(reports: Sequence[PinReport]) -> list[PinReport]:
    return [r for r in reports if r.offer is None]
