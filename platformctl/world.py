"""What the release driver acts through, for one stack, and the stack's settings as the
driver reads them (validated at the edge like the program's)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import SettingsError, StackSettings, parse_settings
from infra.settings.delivery import DeliverySettings
from infra.settings.review import ReviewSettings
from offline_preview.project import load_project, load_stack_config
from platformctl.guards import ReleaseGuards, no_guards
from platformctl.ledger import Ledger
from platformctl.ledger_location import PulumiLock
from platformctl.ports import (
    Clock,
    DeployError,
    Hooks,
    MetricsSource,
    Progress,
    ReleaseMetrics,
    StackPort,
    TrafficVerifier,
)
from platformctl.review.client import API_KEY_ENV, UnavailableReviewer
from platformctl.review.model import Reviewer


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def no_reviewer(_: ReviewSettings) -> Reviewer:
    return UnavailableReviewer(f"no API key: {API_KEY_ENV} is not set")


@dataclass
class World:
    """Everything the driver acts through, for one stack."""

    project: str
    stack: StackPort
    metrics_for: Callable[[StackSettings], MetricsSource]
    traffic: TrafficVerifier | None
    hooks_for: Callable[[DeliverySettings], Hooks]
    ledger: Ledger
    clock: Clock = field(default_factory=SystemClock)
    progress: Progress = print
    actor: str = "platformctl"
    # How often waits wake (to renew the lease, see a metric, check a deadline) ...
    poll_seconds: float = 0.2
    # ... and how often they read the command queue: the pick-up time of a command.
    command_poll_seconds: float = 1.0
    # The AI reviewer for the stack's review settings; without one, reviews are unavailable.
    reviewer_for: Callable[[ReviewSettings], Reviewer] = no_reviewer
    # Values masked wherever they appear in what is sent for review (credentials from the
    # environment), on top of every Pulumi secret the preview holds.
    known_secrets: frozenset[str] = frozenset()
    # Alarms and SLO alerts that fail a round besides the metrics.
    guards_for: Callable[[StackSettings], ReleaseGuards] = no_guards
    # Where a finished release's figures go (CloudWatch, namespace Platform/Releases).
    release_metrics: ReleaseMetrics | None = None
    # Pulumi's own locks on the stack (a lost `up` leaves one), named on a takeover.
    pulumi_locks: Callable[[str], list[PulumiLock]] = lambda stack: []
    # How long an entry point waits for another machine's hold on the stack to end.
    lease_wait_seconds: float = 0.0


def settings_from_stack_file(project_dir: Path, stack: str) -> StackSettings:
    """The settings read from ``Pulumi.<stack>.yaml``, without a Pulumi engine. Raises
    ``ProjectError`` for a missing project or stack file, ``SettingsError`` for bad ones."""
    project = load_project(project_dir)
    stack_config = load_stack_config(project, stack)
    return parse_settings(
        stack_config.values,
        project=project.name,
        stack=stack,
        source=stack_config.path.name,
        secret_keys=stack_config.secret_keys,
    )


def stack_settings(
    project: str, stack: StackPort, config: Mapping[str, Any] | None = None
) -> StackSettings:
    """The stack's validated settings; a bad stack file is one clear error, before any step."""
    try:
        return parse_settings(
            stack.read_config() if config is None else config,
            project=project,
            stack=stack.name,
            source=f"Pulumi.{stack.name}.yaml",
        )
    except SettingsError as error:
        raise DeployError(str(error)) from None


def service_index(settings: StackSettings, service: str) -> int:
    names = [s.name for s in settings.platform.app.services]
    if service not in names:
        raise DeployError(
            f"service {service!r} is not in platform:app.services of stack "
            f"{settings.stack}; allowed: {', '.join(names)}"
        )
    return names.index(service)
