"""The versions the stacks may pin (``versions.yaml`` beside this module), and the checks the
settings make against them: a pin must be listed, and listed for the stack's Kubernetes
minor. ``platformctl versions`` reads the same file to ask the live APIs about each pin."""

from __future__ import annotations

import datetime
import functools
from pathlib import Path
from typing import Literal

import yaml

from infra.settings.base import Model

VERSIONS_FILE = Path(__file__).with_name("versions.yaml")
SHOWN_PATH = "infra/settings/versions.yaml"


class ConfirmedVersion(Model):
    version: str
    # Kubernetes minors an add-on version is built for (empty: not tied to one).
    kubernetes: tuple[str, ...] = ()
    standard_support_ends: datetime.date | None = None
    app_version: str | None = None
    parameter_group_family: str | None = None
    evidence: Literal["aws-docs", "artefact", "public-usage"]
    source: str
    confirmed: datetime.date


class VersionCatalogue(Model):
    kubernetes: tuple[ConfirmedVersion, ...]
    addons: dict[str, tuple[ConfirmedVersion, ...]]
    chart_repositories: dict[str, str]
    charts: dict[str, tuple[ConfirmedVersion, ...]]
    engines: dict[str, tuple[ConfirmedVersion, ...]]
    images: dict[str, tuple[ConfirmedVersion, ...]] = {}
    runtimes: dict[str, tuple[ConfirmedVersion, ...]] = {}

    def chart_repository(self, chart: str) -> str:
        return self.chart_repositories[chart]

    def kubernetes_versions(self) -> tuple[str, ...]:
        return tuple(entry.version for entry in self.kubernetes)

    def listed(self, section: str, name: str) -> tuple[ConfirmedVersion, ...]:
        entries: dict[str, tuple[ConfirmedVersion, ...]] = getattr(self, section)
        return entries.get(name, ())

    def entry(self, section: str, name: str, version: str) -> ConfirmedVersion | None:
        return next((e for e in self.listed(section, name) if e.version == version), None)

    def refusal(
        self, section: str, name: str, version: str, kubernetes: str | None = None
    ) -> str | None:
        """Why ``version`` of ``name`` may not be pinned (for the ``kubernetes`` minor, when
        given), naming what may; None when it may."""
        listed = self.listed(section, name)
        entry = self.entry(section, name, version)
        if entry is None:
            allowed = ", ".join(e.version for e in listed if _fits(e, kubernetes)) or "none"
            return (
                f"not a version of {name} that {SHOWN_PATH} confirms; allowed: {allowed} (or "
                "add one there, with where and when you confirmed it)"
            )
        if not _fits(entry, kubernetes):
            compatible = [e.version for e in listed if _fits(e, kubernetes)]
            return (
                f"this {name} build is for Kubernetes {', '.join(entry.kubernetes)}, not the "
                f"cluster's {kubernetes}; allowed for {kubernetes}: "
                + (", ".join(compatible) or f"none listed in {SHOWN_PATH}")
            )
        return None


def _fits(entry: ConfirmedVersion, kubernetes: str | None) -> bool:
    return kubernetes is None or not entry.kubernetes or kubernetes in entry.kubernetes


@functools.cache
def catalogue() -> VersionCatalogue:
    return VersionCatalogue.model_validate(yaml.safe_load(VERSIONS_FILE.read_text("utf-8")))
