"""A world for the release driver in tests: the real program on the offline engine (config
changes written to a copy of the stack file, resources registered for real), a virtual clock,
and metrics, ALB and hooks whose answers the test scripts."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.settings.delivery import MetricCheck
from offline_preview.policy_run import PolicyPackSource
from platformctl.blob_store import BlobStore, FileStore
from platformctl.driver import ReleaseDriver
from platformctl.ledger import Ledger
from platformctl.ledger_location import ledger_store
from platformctl.offline_stack import OfflineStack
from platformctl.ports import (
    AnalysisTarget,
    Clock,
    HookResult,
    Measurement,
    TrafficCheck,
    TrafficExpectation,
    Verdict,
)
from platformctl.world import World
from tests.conftest import REPOSITORY

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
LIVE_ACTION = "alb.ingress.kubernetes.io/actions.live"
# Short steps, so a test walks a whole release in a few offline `up`s.
FAST_DELIVERY: dict[str, Any] = {
    "stepWeights": [25, 100],
    "stepBakeSeconds": 60,
    "scaleDownDelaySeconds": 120,
    "prePromotionAnalysisSeconds": 60,
    "postPromotionAnalysisSeconds": 60,
    "analysis": {"intervalSeconds": 20, "windowSeconds": 20},
}
# One-second rounds for tests on the wall clock. The stack's own collector scrapes every 5 s
# at the fastest, so a 1 s window is refused for it; naming a Prometheus of one's own lifts
# that check, and the scripted metrics answer in its place (nothing listens on port 9).
FAST_ANALYSIS: dict[str, Any] = {
    "intervalSeconds": 1,
    "windowSeconds": 1,
    "prometheusUrl": "http://127.0.0.1:9",
}


class VirtualClock:
    """Time moves only when the driver sleeps; ``at`` runs a callback once time passes a
    mark (a command from another terminal, a metric going bad)."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.time = start
        self.start = start
        self._marks: list[tuple[float, Callable[[], None]]] = []

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += seconds
        due = [m for m in self._marks if m[0] <= self.time]
        self._marks = [m for m in self._marks if m[0] > self.time]
        for _, callback in due:
            callback()

    def at(self, elapsed: float, callback: Callable[[], None]) -> None:
        self._marks.append((self.start + elapsed, callback))


class _WorldClock:
    """The world's clock, whichever a test sets: the lease runs on the driver's time."""

    def __init__(self, current: Callable[[], Clock]):
        self._current = current

    def now(self) -> float:
        return self._current().now()

    def sleep(self, seconds: float) -> None:
        self._current().sleep(seconds)


def ledger_at(url: str) -> BlobStore:
    """The store a PLATFORM_LEDGER_URL names, as platformctl would open it."""
    return ledger_store(Path("."), None, {"PLATFORM_LEDGER_URL": url})


class ScriptedMetrics:
    """Every metric passes unless ``judge`` says otherwise; ``judge`` sees the candidate's
    current weight from the stack file, so a test can say "errors from 25% on"."""

    def __init__(self, stack: OfflineStack, service: str):
        self.stack = stack
        self.service = service
        self.judge: Callable[[int, MetricCheck], Verdict] = lambda weight, metric: Verdict.PASS
        # The source cannot be asked at all (down, refused): an error, not "no data".
        self.source_down = False
        self.calls: list[tuple[str, int, str]] = []

    def weight(self) -> int:
        services = self.stack.read_config()["platform:app"]["services"]
        release = next(s for s in services if s["name"] == self.service)["release"]
        return int(release.get("candidateWeight", 0))

    def measure(self, metric: MetricCheck, target: AnalysisTarget) -> Measurement:
        weight = self.weight()
        self.calls.append((metric.name, weight, target.candidate_slot))
        if self.source_down:
            return Measurement(metric.name, Verdict.INCONCLUSIVE, "source down", error=True)
        verdict = self.judge(weight, metric)
        value = None if verdict is Verdict.INCONCLUSIVE else 1.0
        return Measurement(metric.name, verdict, f"scripted {verdict.value} at {weight}%", value)


class RecordingTraffic:
    """The ALB: confirms what it is asked, after ``lag`` refusals per expectation."""

    def __init__(self) -> None:
        self.expectations: list[TrafficExpectation] = []
        self.lag = 0
        self._refused = 0

    def verify(self, expectation: TrafficExpectation) -> TrafficCheck:
        self.expectations.append(expectation)
        if self._refused < self.lag:
            self._refused += 1
            return TrafficCheck(False, "the controller has not applied the weights yet")
        self._refused = 0
        return TrafficCheck(True, "weights in force", dict(expectation.weights))


@dataclass
class RecordingHooks:
    events: list[Mapping[str, Any]] = field(default_factory=list)
    pre_rollout_results: list[HookResult] = field(default_factory=list)
    preview_urls: list[str] = field(default_factory=list)
    approve_by_url: bool | None = None

    def pre_rollout(self, preview_url: str) -> list[HookResult]:
        self.preview_urls.append(preview_url)
        return list(self.pre_rollout_results)

    def confirmation(self) -> bool | None:
        return self.approve_by_url

    def notify(self, event: Mapping[str, Any]) -> list[str]:
        self.events.append(copy.deepcopy(dict(event)))
        return []


# platformctl refuses an up or a release by a role the cluster does not admit: the tests run
# as one of the admins the stack files list.
ADMIN_SESSION = "arn:aws:sts::123456789012:assumed-role/platform-admins/test"


def make_project(directory: Path, stack: str, delivery: Mapping[str, Any]) -> Path:
    """A project whose program is this repository's, with a copy of one stack file."""
    directory.mkdir(parents=True, exist_ok=True)
    project = yaml.safe_load((REPOSITORY / "Pulumi.yaml").read_text())
    project["main"] = str(REPOSITORY / "infra")
    (directory / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    shutil.copy(REPOSITORY / f"Pulumi.{stack}.yaml", directory / f"Pulumi.{stack}.yaml")
    document = yaml.safe_load((directory / f"Pulumi.{stack}.yaml").read_text())
    document["config"]["platform:delivery"] = dict(delivery)
    # The fastest the collector scrapes, so the tests' short analysis windows hold two scrapes.
    document["config"]["platform:observability"]["scrapeIntervalSeconds"] = 5
    (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return directory


@dataclass
class ReleaseWorld:
    world: World
    stack: OfflineStack
    metrics: ScriptedMetrics
    traffic: RecordingTraffic
    hooks: RecordingHooks
    clock: VirtualClock
    lines: list[str]

    def driver(self, service: str = "chat-api") -> ReleaseDriver:
        return ReleaseDriver(self.world, service)

    def release(self, service: str = "chat-api") -> dict[str, Any]:
        services = self.stack.read_config()["platform:app"]["services"]
        return next(s for s in services if s["name"] == service)["release"]

    def ups(self) -> list[Mapping[str, Any]]:
        return list(reversed(self.stack.history(1000)))


def release_world(
    tmp_path: Path,
    stack: str = "dev",
    delivery: Mapping[str, Any] = FAST_DELIVERY,
    policy_packs: list[PolicyPackSource] | None = None,
    fault: Callable[[str], None] | None = None,
    reopen: bool = False,
    ledger_url: str | None = None,
    host: str | None = None,
) -> ReleaseWorld:
    """A fresh project under ``tmp_path``; with ``reopen``, the one an earlier (perhaps
    killed) process left there, as it left it. The ledger is files under ``tmp_path``, or
    the store ``ledger_url`` names (S3 on a loopback moto server); ``host`` is the machine
    the ledger's lease says this process runs on."""
    project = tmp_path / "project"
    if not reopen:
        make_project(project, stack, delivery)
    offline = OfflineStack(project, stack, fault=fault)
    clock = VirtualClock()
    metrics = ScriptedMetrics(offline, "chat-api")
    traffic = RecordingTraffic()
    hooks = RecordingHooks()
    lines: list[str] = []
    world = World(
        project="platform",
        stack=offline,
        metrics_for=lambda settings: metrics,
        traffic=traffic,
        hooks_for=lambda delivery: hooks,
        ledger=Ledger(
            ledger_at(ledger_url) if ledger_url else FileStore(tmp_path / "ledger"),
            clock=_WorldClock(lambda: world.clock),
            host=host,
        ),
        clock=clock,
        progress=lines.append,
        actor="tester",
    )
    # What is running before the release: the stack as its file describes it.
    offline.up(lambda line: None, "initial deployment")
    # Policies given here gate the release, as a policy made stricter after deployment would.
    offline._sources = list(policy_packs or [])
    return ReleaseWorld(world, offline, metrics, traffic, hooks, clock, lines)


def live_weights(stack: OfflineStack, service: str = "chat-api") -> dict[str, int]:
    """The live route's weights as the deployed Ingress registers them."""
    assert stack.deployed is not None
    ingress = next(
        r for r in stack.deployed.resources
        if r.type == INGRESS and r.inputs["metadata"]["name"] == service
    )  # fmt: skip
    action = json.loads(ingress.inputs["metadata"]["annotations"][LIVE_ACTION])
    return {g["serviceName"]: g["weight"] for g in action["forwardConfig"]["targetGroups"]}


def record_weights(world: ReleaseWorld) -> list[tuple[str, dict[str, int]]]:
    """From now on, the Ingress weights after every `up`, with the up's message."""
    seen: list[tuple[str, dict[str, int]]] = []
    up = world.stack.up

    def recording_up(progress, message):
        outcome = up(progress, message)
        seen.append((message.split(": ", 1)[-1], live_weights(world.stack)))
        return outcome

    world.stack.up = recording_up  # type: ignore[method-assign]
    return seen


def strict_dev_packs(tmp_path: Path) -> list[PolicyPackSource]:
    """The security pack with dev's own config, its one accepted advisory finding (the
    public EKS endpoint) made mandatory: a policy made stricter after deployment."""
    strict = json.loads((REPOSITORY / "policies" / "config" / "dev.json").read_text())
    strict["eks-public-endpoint-restricted"] = "mandatory"
    config = tmp_path / "strict.json"
    config.write_text(json.dumps(strict))
    return [PolicyPackSource(REPOSITORY / "policies" / "security", config)]
