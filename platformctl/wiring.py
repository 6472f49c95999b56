"""The real world of ``platformctl``: the Pulumi CLI through the Automation API, Prometheus or
CloudWatch, the ELBv2 API and the hooks, chosen from each stack's settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.workload import slot_service_name
from infra.config import StackSettings
from infra.settings.delivery import DeliverySettings
from infra.settings.review import ReviewSettings
from offline_preview.project import ProjectError, load_project
from platformctl.aws_clients import AWS_CLIENT_CONFIG
from platformctl.driver import ReleaseDriver
from platformctl.ledger import Ledger
from platformctl.ledger_location import PulumiLock, backend_store, ledger_store, pulumi_locks
from platformctl.ports import (
    AnalysisTarget,
    DeployError,
    Hooks,
    MetricsSource,
    Progress,
    StackPort,
)
from platformctl.promotion import (
    approval,
    health_problem,
    promotable_image,
    promotion_path_problem,
)
from platformctl.record import ReleaseRecord
from platformctl.review.model import Reviewer
from platformctl.reviews import environment_secrets
from platformctl.versions import VersionSource
from platformctl.world import World, service_index, settings_from_stack_file, stack_settings

if TYPE_CHECKING:
    from platformctl.elbv2 import ElbTrafficVerifier
    from platformctl.guards import ReleaseGuards
    from platformctl.prometheus import PrometheusSource
    from platformctl.release_metrics import CloudWatchReleaseMetrics


class RealWorld:
    def __init__(self, project_dir: Path, environ: Mapping[str, str], progress: Progress):
        self.project_dir = Path(project_dir)
        self.environ = dict(environ)
        self.progress = progress
        # How long a release, command or up waits for another machine's hold on the stack.
        self.lease_wait_seconds = 0.0

    def project(self) -> str:
        try:
            return load_project(self.project_dir).name
        except ProjectError as error:
            raise DeployError(str(error)) from None

    def stack_file_settings(self, name: str) -> StackSettings:
        """The stack's validated settings read from its stack file (no Pulumi CLI)."""
        from infra.config import SettingsError

        try:
            return settings_from_stack_file(self.project_dir, name)
        except (SettingsError, ProjectError) as error:
            raise DeployError(str(error)) from None

    def caller_arn(self, region: str) -> str:
        """The ARN of the identity AWS sees (STS GetCallerIdentity)."""
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            sts = boto3.session.Session(region_name=region).client(
                "sts", config=Config(**AWS_CLIENT_CONFIG)
            )
            return str(sts.get_caller_identity()["Arn"])
        except (BotoCoreError, ClientError) as error:
            raise DeployError(
                f"could not ask AWS who is running this ({error}); set AWS credentials "
                "(AWS_PROFILE, or run where a role is assumed)"
            ) from None

    def version_source(self, region: str) -> VersionSource:
        from platformctl.version_sources import published_versions

        return published_versions(region)

    def ledger(self) -> Ledger:
        """In S3 beside the state (or PLATFORM_LEDGER_URL), files beside a local state."""
        from platformctl.automation import backend_url

        url = backend_url(self.project_dir, self.environ)
        return Ledger(ledger_store(self.project_dir, url, self.environ))

    def pulumi_locks(self, stack: str) -> list[PulumiLock]:
        from platformctl.automation import backend_url

        url = backend_url(self.project_dir, self.environ)
        return pulumi_locks(backend_store(url, self.project_dir), self.project(), stack)

    def stack(self, name: str, config_overrides: Mapping[str, Any] | None = None) -> StackPort:
        """The stack through the Pulumi CLI; ``config_overrides`` change its config for its
        previews and updates only, never in the stack file."""
        from platformctl.automation import AutomationStack, repository_policy_packs

        packs, config = repository_policy_packs(name)
        return AutomationStack(
            self.project_dir, name, policy_packs=packs, policy_pack_config=config,
            env=self.environ, config_overrides=config_overrides,
        )  # fmt: skip

    def offline_stack(
        self, name: str, config_overrides: Mapping[str, Any] | None = None
    ) -> StackPort:
        from offline_preview.policy_run import PolicyPackSource
        from platformctl.automation import repository_policy_packs
        from platformctl.offline_stack import OfflineStack

        packs, config = repository_policy_packs(name)
        return OfflineStack(
            self.project_dir, name, policy_packs=[PolicyPackSource(p, config) for p in packs],
            config_overrides=config_overrides,
        )  # fmt: skip

    def metrics(self, settings: StackSettings) -> MetricsSource:
        analysis = settings.platform.delivery.analysis
        if analysis.provider == "prometheus":
            return self.prometheus(settings)
        from platformctl.cloudwatch import CloudWatchSource

        elbv2 = self.traffic(settings)

        def dimensions(target: AnalysisTarget, slot: str) -> Mapping[str, str] | None:
            return elbv2.cloudwatch_dimensions(
                target.namespace, target.service, slot_service_name(target.service, slot)
            )

        return CloudWatchSource(self._client("cloudwatch", settings.region), dimensions)

    def prometheus(self, settings: StackSettings) -> PrometheusSource:
        """A Prometheus of your own (``prometheusUrl``), or the stack's workspace, asked with
        SigV4 and the default credential chain."""
        from platformctl.prometheus import PrometheusSource, workspace_query_url
        from platformctl.sigv4 import SigV4Auth, default_credentials

        own = settings.platform.delivery.analysis.prometheus_url
        if own is not None:
            return PrometheusSource(own)
        url = workspace_query_url(self.stack(settings.stack).outputs(), settings.stack)
        credentials = default_credentials()
        if credentials is None:
            raise DeployError(
                f"no AWS credentials to query {settings.stack}'s Prometheus workspace; set "
                "AWS_PROFILE (or run where a role is assumed), or set "
                "platform:delivery.analysis.prometheusUrl to a Prometheus of your own"
            )
        return PrometheusSource(
            url,
            auth=SigV4Auth(credentials, settings.region),
            permission="aps:QueryMetrics (and aps:ListAlerts for the SLO alerts) on the "
            "workspace, and kms:Decrypt of its key",
        )

    def guards(self, settings: StackSettings) -> ReleaseGuards:
        """The alarms ``analysis.alarms`` names (``stack``: every alarm the stack made) and,
        with Prometheus, the service's SLO alerts in the same workspace."""
        from platformctl.alarms import CloudWatchAlarms, watched_alarms
        from platformctl.guards import ReleaseGuards

        analysis = settings.platform.delivery.analysis
        outputs = self.stack(settings.stack).outputs() if analysis.alarms else {}
        watched = watched_alarms(analysis.alarms, outputs)
        return ReleaseGuards(
            alarms=CloudWatchAlarms(self._client("cloudwatch", settings.region))
            if watched
            else None,
            watched=watched,
            alerts=self.prometheus(settings) if analysis.provider == "prometheus" else None,
            alarm_prefix=f"{settings.name_prefix}-",
        )

    def image_pushes(self) -> EcrImagePushes:
        """When images were pushed, from each stack's registry (for the DORA report)."""
        return EcrImagePushes(self)

    def release_metrics(self, region: str) -> CloudWatchReleaseMetrics:
        from platformctl.release_metrics import CloudWatchReleaseMetrics

        return CloudWatchReleaseMetrics(self._client("cloudwatch", region))

    def traffic(self, settings: StackSettings) -> ElbTrafficVerifier:
        from platformctl.elbv2 import ElbTrafficVerifier

        # The controller tags what it creates with the cluster's name (components/cluster.py).
        cluster = f"{settings.name_prefix}-eks"
        return ElbTrafficVerifier(self._client("elbv2", settings.region), cluster)

    def hooks(self, delivery: DeliverySettings) -> Hooks:
        from platformctl.hooks import HookRunner

        return HookRunner(delivery.hooks)

    def reviewer(self, review: ReviewSettings) -> Reviewer:
        """Claude with the key from the environment, or "unavailable" without one. A bad
        PLATFORM_REVIEW_MODEL is a usage error (callers ask for the reviewer before a
        release or an update starts, never on the way to an abort or a rollback)."""
        from platformctl.review.client import reviewer_from_environment

        try:
            return reviewer_from_environment(review, self.environ)
        except ValueError as error:
            raise DeployError(str(error)) from None

    def known_secrets(self) -> frozenset[str]:
        return environment_secrets(self.environ)

    def _client(self, service: str, region: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(service, region_name=region, config=Config(**AWS_CLIENT_CONFIG))

    def world(self, name: str, actor: str) -> World:
        stack = self.stack(name)
        settings = stack_settings(self.project(), stack)
        return World(
            project=self.project(),
            stack=stack,
            metrics_for=self.metrics,
            traffic=self.traffic(settings),
            hooks_for=self.hooks,
            ledger=self.ledger(),
            progress=self.progress,
            actor=actor,
            reviewer_for=self.reviewer,
            known_secrets=self.known_secrets(),
            guards_for=self.guards,
            release_metrics=self.release_metrics(settings.region),
            pulumi_locks=self.pulumi_locks,
            lease_wait_seconds=self.lease_wait_seconds,
        )

    def promote(self, service: str, source: str, target: str, approve: bool, actor: str
                ) -> ReleaseRecord:  # fmt: skip
        if source == target:
            raise DeployError(f"--from and --to are both {source}; allowed: two stacks")
        source_world = self.world(source, actor)
        source_settings = stack_settings(source_world.project, source_world.stack)
        target_world = self.world(target, actor)
        target_settings = stack_settings(target_world.project, target_world.stack)
        path = promotion_path_problem(source_settings.environment, target_settings.environment)
        if path is not None:
            raise DeployError(f"--from {source} --to {target}: {path}")
        service_index(source_settings, service)
        driver = ReleaseDriver(target_world, service)
        candidate = promotable_image(
            service, source, source_world.ledger.history(source, service),
            live_image(source_world, source_settings, service),
            target_settings.platform.delivery.promotion.source_soak_minutes,
            source_world.clock.now(),
        )  # fmt: skip
        problem = health_problem(live_health(source_world, source_settings, service))
        if problem is not None:
            raise DeployError(f"{candidate.image} is not healthy on {source} now: {problem}")
        approvals = approval(
            target, target_settings.platform.delivery.promotion.require_approval, approve,
            actor, self.environ, target_world.clock.now(),
        )  # fmt: skip
        self.progress(
            f"promoting {service} {candidate.image} from {source} (release "
            f"{candidate.source_release}) to {target}"
        )
        return driver.start(candidate.image, approvals=approvals)


def live_image(world: World, settings: StackSettings, service: str) -> str | None:
    """What the source serves: the deployed stack's output when it has one (the truth, even
    if this checkout's stack file is behind), otherwise the stack file."""
    deployed = (world.stack.outputs().get("releases") or {}).get(service)
    if isinstance(deployed, Mapping) and isinstance(deployed.get("images"), Mapping):
        image = deployed["images"].get(deployed.get("live"))
        return image if isinstance(image, str) else None
    release = settings.platform.app.services[service_index(settings, service)].release
    return release.slot(release.live).image


def live_health(world: World, settings: StackSettings, service: str) -> list[Any]:
    """One round of the analysis's threshold checks on the live slot, as it serves now."""
    analysis = settings.platform.delivery.analysis
    deployed = (world.stack.outputs().get("releases") or {}).get(service)
    live = (
        deployed["live"]
        if isinstance(deployed, Mapping) and deployed.get("live") in ("blue", "green")
        else settings.platform.app.services[service_index(settings, service)].release.live
    )
    target = AnalysisTarget(
        stack=settings.stack, service=service, namespace=service, candidate_slot=live,
        live_slot=live, window_seconds=analysis.window_seconds,
    )  # fmt: skip
    metrics = world.metrics_for(settings)
    return [
        metrics.measure(m.model_copy(update={"ratio_to_live": None}), target)
        for m in analysis.metrics
        if m.threshold_range is not None
    ]


class EcrImagePushes:
    """``imagePushedAt`` of a release's image in its stack's ECR repository; None when it
    cannot be read (the report then counts from the release's start and says so)."""

    def __init__(self, world: RealWorld) -> None:
        self._world = world
        self._clients: dict[str, Any] = {}

    def pushed_at(self, stack: str, service: str, image: str) -> float | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            settings = self._world.stack_file_settings(stack)
            index = service_index(settings, service)
        except DeployError:
            return None
        repository = settings.platform.app.services[index].repository
        digest = image.partition("@")[2] or (image if image.startswith("sha256:") else "")
        image_id = {"imageDigest": digest} if digest else {"imageTag": image}
        client = self._clients.setdefault(
            settings.region, self._world._client("ecr", settings.region)
        )
        try:
            answer = client.describe_images(
                repositoryName=f"{settings.name_prefix}/{repository}", imageIds=[image_id]
            )
        except (BotoCoreError, ClientError):
            return None
        details = answer.get("imageDetails") or []
        pushed = details[0].get("imagePushedAt") if details else None
        return pushed.timestamp() if pushed is not None else None
