"""What the release driver needs from the world, as interfaces.

The state machine (``machine.py``) and the driver (``driver.py``) depend only on these.
Real implementations: ``automation.py`` (Pulumi Automation API), ``prometheus.py`` and
``cloudwatch.py`` (metrics), ``elbv2.py`` (ALB weights), ``hooks.py`` (webhooks and checks).
Tests use ``offline_stack.py``, which runs the real program on the offline engine.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from infra.settings.delivery import MetricCheck
from platformctl.changes import PreviewOutcome, UpOutcome


class DeployError(Exception):
    """A failure the user can act on; the message says what and how. Never a traceback.
    ``details`` keeps the engine's own error lines, for the failure explanation."""

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class AnalysisTarget:
    """Which pods a measurement is about: the candidate slot, compared with the live one."""

    stack: str
    service: str
    namespace: str
    candidate_slot: str
    live_slot: str
    window_seconds: int


@dataclass(frozen=True)
class Measurement:
    """One metric, measured once. ``error`` marks a source that could not be asked (down,
    timed out, refused): always inconclusive, never a pass."""

    metric: str
    verdict: Verdict
    reason: str
    value: float | None = None
    live_value: float | None = None
    error: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "value": self.value,
            "liveValue": self.live_value,
            "error": self.error,
        }


class MetricsSource(Protocol):
    def measure(self, metric: MetricCheck, target: AnalysisTarget) -> Measurement:
        """Never raises for an unreachable source or empty data: returns an inconclusive
        measurement whose ``reason`` says what happened."""
        ...


@dataclass(frozen=True)
class TrafficExpectation:
    """The weights the driver just applied, for the ALB to confirm: ``weights`` maps slot
    Service name (``chat-api-green``) to its weight in the live route's forward action."""

    stack: str
    namespace: str
    ingress: str
    service: str
    weights: Mapping[str, int]
    # The slot that must have healthy targets (the one now taking traffic).
    healthy_slot_service: str | None


@dataclass(frozen=True)
class TrafficCheck:
    in_force: bool
    reason: str
    observed: Mapping[str, int] = field(default_factory=dict)


class TrafficVerifier(Protocol):
    def verify(self, expectation: TrafficExpectation) -> TrafficCheck:
        """One look at the load balancer; the driver retries until its timeout."""
        ...


@dataclass(frozen=True)
class HookResult:
    name: str
    passed: bool
    reason: str


class Hooks(Protocol):
    def pre_rollout(self, preview_url: str) -> list[HookResult]: ...

    def confirmation(self) -> bool | None:
        """True when the confirm gate's URL approves, None when the gate has no URL."""
        ...

    def notify(self, event: Mapping[str, Any]) -> list[str]:
        """Delivers the event to every notify URL; returns one line per failed delivery
        (never raises: a dead webhook must not stop a rollback)."""
        ...


Progress = Callable[[str], None]


class StackPort(Protocol):
    """One stack of the project, as the driver sees it. ``read_config`` returns typed
    values for ``platform:`` keys (objects as dicts); ``set_config`` writes them back."""

    name: str

    def read_config(self) -> dict[str, Any]: ...

    def set_config(self, values: Mapping[str, Any]) -> None: ...

    def preview(self, progress: Progress) -> PreviewOutcome: ...

    def up(self, progress: Progress, message: str) -> UpOutcome: ...

    def outputs(self) -> Mapping[str, Any]: ...

    def history(self, limit: int) -> Sequence[Mapping[str, Any]]: ...

    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class AlarmSource(Protocol):
    """CloudWatch alarms, as a release watches them."""

    def states(self, names: Sequence[str]) -> Mapping[str, str]:
        """Each named alarm's state (OK, ALARM, INSUFFICIENT_DATA); a name no alarm has is
        left out. Raises DeployError when the alarms cannot be read."""
        ...

    def names(self, prefix: str) -> list[str]:
        """The names of the alarms that start with ``prefix``."""
        ...


class AlertSource(Protocol):
    def firing_alerts(self, stack: str, service: str) -> list[str]:
        """The alerts firing now for the service; raises ``Unmeasured`` when they cannot
        be read."""
        ...


class ReleaseMetrics(Protocol):
    def publish(self, data: Sequence[Mapping[str, Any]]) -> None:
        """CloudWatch ``MetricData`` entries; raises DeployError when they cannot be sent."""
        ...
