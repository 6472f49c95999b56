"""Composes the platform's components from the stack's settings, one function per layer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws

from components.access_logs import AccessLogs, AccessLogsArgs
from components.alarms import StackAlarms
from components.app import App, AppArgs, CacheAccess, DataStore
from components.backup import Backup
from components.cache import Cache, CacheArgs
from components.ci_runner import CiRunner, CiRunnerArgs
from components.cluster import Cluster, ClusterArgs, NodeGroupArgs
from components.database import Database, DatabaseArgs, DatabaseCapacity
from components.firewall import Firewall, FirewallArgs
from components.keys import EncryptionKeys, EncryptionKeysArgs, KeyPurpose
from components.metrics_collector import MetricsCollector
from components.network import FlowLogArgs, Network, NetworkArgs
from components.observability import Observability
from components.parts import LogArchive
from components.registry import Registry, RegistryArgs
from components.subnet_plan import Tier
from components.workload import AccessLogTarget, Probes, Resources, ServiceArgs, Slot
from infra.backup_layer import backup_layer
from infra.config import Problem, SettingsError, StackSettings
from infra.observability_layer import observability_layer
from infra.settings.app import ServiceSettings
from infra.settings.cluster import NodeGroupSettings
from infra.tagging import standard_tags
from platform_common.aws_regions import partition


@dataclass(frozen=True)
class Platform:
    keys: EncryptionKeys
    network: Network
    database: Database
    cache: Cache
    firewall: Firewall | None  # None in the bootstrap's foundation phase
    registry: Registry
    cluster: Cluster
    access_logs: AccessLogs
    ci_runner: CiRunner | None
    app: App | None  # None in the bootstrap's foundation phase
    # The last layer, over all the others (infra/observability_layer.py).
    observability: Observability | None = None
    alarms: StackAlarms | None = None
    collector: MetricsCollector | None = None  # None in the foundation phase
    backup: Backup | None = None


@dataclass(frozen=True)
class _Context:
    """What every layer reads: the settings and the account they are applied to."""

    settings: StackSettings
    account_id: str
    partition: str
    zones: list[str]

    @property
    def protect(self) -> bool:
        return self.settings.platform.protect_resources


@dataclass(frozen=True)
class _Foundation:
    keys: EncryptionKeys
    logs: LogArchive
    network: Network

    @property
    def clients(self) -> list[pulumi.Output[str]]:
        """Security groups allowed to reach the data stores: the workloads'."""
        return [self.network.workload_security_group_id]


def build_platform(settings: StackSettings) -> Platform:
    """Layer by layer, as the architecture sketch draws it: foundation (keys, logs,
    network), data (database, cache), compute (registry, CI runner, cluster), edge (access
    logs, firewall), the app, and observability over all of them. Data and compute depend
    only on the foundation, so the engine creates them side by side."""
    context = _Context(
        settings,
        account_id=aws.get_caller_identity().account_id,
        partition=partition(settings.region),
        zones=availability_zones(settings),
    )
    foundation = _foundation(context)
    database, cache = _database(context, foundation), _cache(context, foundation)
    registry = _registry(context, foundation)
    ci_runner = _ci_runner(context, foundation)
    cluster = _cluster(context, foundation, ci_runner)
    access_logs = _access_logs(context)
    built = Platform(
        foundation.keys, foundation.network, database, cache, None, registry, cluster,
        access_logs, ci_runner, None,
    )  # fmt: skip
    if cluster.provider is None:
        # Nothing the app alone uses either: the web ACL would protect no Ingress yet.
        pulumi.log.warn(
            "platform:deployPhase is foundation (platformctl bootstrap): the Kubernetes "
            "resources are not registered; an `up` of a complete stack in this phase would "
            "delete them"
        )
        return _observed(context, foundation, built)
    built = replace(built, firewall=_firewall(context, foundation))
    built = replace(built, app=_app(context, foundation, built))
    return _observed(context, foundation, built)


def _observed(context: _Context, foundation: _Foundation, built: Platform) -> Platform:
    layer = observability_layer(
        context.settings,
        account_id=context.account_id,
        partition=context.partition,
        keys=foundation.keys,
        logs=foundation.logs,
        network=foundation.network,
        database=built.database,
        cache=built.cache,
        cluster=built.cluster,
    )
    backup = backup_layer(
        context.settings,
        partition=context.partition,
        account_id=context.account_id,
        keys=foundation.keys,
        alert_topic_arn=layer.observability.alert_topic_arn,
        database_arn=built.database.cluster_arn,
    )
    return replace(
        built,
        observability=layer.observability,
        alarms=layer.alarms,
        collector=layer.collector,
        backup=backup,
    )


def _foundation(context: _Context) -> _Foundation:
    settings, platform = context.settings, context.settings.platform
    keys = EncryptionKeys(
        "keys",
        EncryptionKeysArgs(
            name_prefix=settings.name_prefix,
            account_id=context.account_id,
            region=settings.region,
            partition=context.partition,
            purposes=list(KeyPurpose),
            deletion_window_days=platform.kms_key_deletion_window_days,
            protect=context.protect,
        ),
    )
    logs = LogArchive(platform.log_retention_days, keys.arn(KeyPurpose.LOGS))
    network_settings = platform.network
    network = Network(
        "network",
        NetworkArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            partition=context.partition,
            account_id=context.account_id,
            availability_zones=context.zones,
            subnet_plan=settings.subnet_plan,
            nat_gateways=network_settings.nat_gateways,
            flow_logs=FlowLogArgs(network_settings.flow_log_traffic_type, logs),
            s3_gateway_endpoint=network_settings.s3_gateway_endpoint,
            interface_endpoints=network_settings.interface_endpoints,
            protect=context.protect,
        ),
    )
    return _Foundation(keys, logs, network)


def _database(context: _Context, foundation: _Foundation) -> Database:
    db = context.settings.platform.database
    network = foundation.network
    return Database(
        "database",
        DatabaseArgs(
            name_prefix=context.settings.name_prefix,
            partition=context.partition,
            engine_version=db.engine_version,
            capacity=DatabaseCapacity(
                instance_class=db.instance_class,
                instance_count=db.instance_count,
                serverless_min_acus=db.serverless.min_capacity if db.serverless else None,
                serverless_max_acus=db.serverless.max_capacity if db.serverless else None,
            ),
            vpc_id=network.vpc_id,
            subnet_ids=network.isolated_subnet_ids,
            availability_zones=context.zones,
            client_security_group_ids=foundation.clients,
            kms_key_arn=foundation.keys.arn(KeyPurpose.DATABASE),
            logs=foundation.logs,
            database_name=db.database_name,
            master_username=db.master_username,
            backup_retention_days=db.backup_retention_days,
            backup_window=db.backup_window,
            maintenance_window=db.maintenance_window,
            final_snapshot=not db.skip_final_snapshot,
            apply_immediately=db.apply_immediately,
            insights=db.insights,
            monitoring_interval_seconds=db.monitoring_interval_seconds,
            master_password_rotation_days=db.master_password_rotation_days,
            log_min_duration_statement_ms=db.log_min_duration_statement_ms,
            log_statement=db.log_statement,
            protect=context.protect,
        ),
    )


def _cache(context: _Context, foundation: _Foundation) -> Cache:
    cache = context.settings.platform.cache
    return Cache(
        "cache",
        CacheArgs(
            name_prefix=context.settings.name_prefix,
            engine_version=cache.engine_version,
            node_type=cache.node_type,
            node_count=cache.node_count,
            vpc_id=foundation.network.vpc_id,
            subnet_ids=foundation.network.isolated_subnet_ids,
            availability_zones=context.zones,
            client_security_group_ids=foundation.clients,
            kms_key_arn=foundation.keys.arn(KeyPurpose.CACHE),
            logs=foundation.logs,
            snapshot_retention_days=cache.snapshot_retention_days,
            snapshot_window=cache.snapshot_window,
            maintenance_window=cache.maintenance_window,
            maxmemory_policy=cache.maxmemory_policy,
            final_snapshot=not cache.skip_final_snapshot,
            apply_immediately=cache.apply_immediately,
            users=[s.name for s in context.settings.platform.app.services if "cache" in s.secrets],
            protect=context.protect,
        ),
    )


def _registry(context: _Context, foundation: _Foundation) -> Registry:
    registry = context.settings.platform.registry
    return Registry(
        "registry",
        RegistryArgs(
            name_prefix=context.settings.name_prefix,
            repositories=registry.repositories,
            kms_key_arn=foundation.keys.arn(KeyPurpose.REGISTRY),
            keep_images=registry.keep_images,
            untagged_expiry_days=registry.untagged_expiry_days,
            protect=context.protect,
        ),
    )


def _cluster(context: _Context, foundation: _Foundation, ci_runner: CiRunner | None) -> Cluster:
    settings = context.settings
    cluster = settings.platform.cluster
    return Cluster(
        "cluster",
        ClusterArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            partition=context.partition,
            kubernetes_version=cluster.kubernetes_version,
            vpc_id=foundation.network.vpc_id,
            subnet_ids=foundation.network.private_subnet_ids,
            public_access_cidrs=[str(c) for c in cluster.public_access_cidrs],
            private_access_cidrs=[str(c) for c in cluster.private_access_cidrs],
            api_client_security_group_ids=[ci_runner.security_group_id] if ci_runner else [],
            admin_role_arns=cluster.admin_role_arns,
            node_security_group_ids=foundation.clients,
            node_groups=[_node_group_args(group) for group in cluster.node_groups],
            metadata_hop_limit=cluster.metadata_hop_limit,
            addon_versions={
                "vpc-cni": cluster.addons.vpc_cni,
                "coredns": cluster.addons.coredns,
                "kube-proxy": cluster.addons.kube_proxy,
                "aws-ebs-csi-driver": cluster.addons.aws_ebs_csi_driver,
                "metrics-server": cluster.addons.metrics_server,
            },
            load_balancer_controller_chart_version=cluster.load_balancer_controller_chart_version,
            secrets_kms_key_arn=foundation.keys.arn(KeyPurpose.EKS),
            logs=foundation.logs,
            resource_tags=standard_tags(settings),
            kubernetes_api=settings.platform.deploy_phase == "complete",
            protect=context.protect,
        ),
    )


def _node_group_args(group: NodeGroupSettings) -> NodeGroupArgs:
    return NodeGroupArgs(
        name=group.name,
        instance_types=group.instance_types,
        architecture=group.architecture,
        capacity_type=group.capacity_type,
        min_size=group.min_size,
        desired_size=group.desired_size,
        max_size=group.max_size,
        disk_size_gib=group.disk_size_gib,
        max_unavailable=group.max_unavailable,
        labels=group.labels,
        taints=[(t.key, t.value, t.effect) for t in group.taints],
    )


def _access_logs(context: _Context) -> AccessLogs:
    settings = context.settings
    return AccessLogs(
        "access-logs",
        AccessLogsArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            partition=context.partition,
            account_id=context.account_id,
            retention_days=settings.platform.log_retention_days,
            protect=context.protect,
        ),
    )


def _firewall(context: _Context, foundation: _Foundation) -> Firewall:
    waf = context.settings.platform.firewall
    return Firewall(
        "firewall",
        FirewallArgs(
            name_prefix=context.settings.name_prefix,
            rate_limit=waf.rate_limit,
            rate_limit_window_seconds=waf.rate_limit_window_seconds,
            managed_rule_groups=waf.managed_rule_groups,
            count_only_rules=waf.count_only_rules,
            blocked_countries=waf.blocked_countries,
            allowed_countries=waf.allowed_countries,
            blocked_ip_cidrs=[str(cidr) for cidr in waf.blocked_ip_cidrs],
            allowed_ip_cidrs=[str(cidr) for cidr in waf.allowed_ip_cidrs],
            logs=foundation.logs,
            protect=context.protect,
        ),
    )


def _app(context: _Context, foundation: _Foundation, built: Platform) -> App:
    """The app on the cluster, behind the firewall, reading the data stores."""
    settings = context.settings
    app = settings.platform.app
    database, cache = built.database, built.cache
    provider = built.cluster.provider
    assert built.firewall is not None and provider is not None  # the complete phase only
    return App(
        "app",
        AppArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            host=app.host,
            preview_host=app.preview_host,
            preview_allowed_cidrs=[str(c) for c in app.preview_allowed_cidrs],
            certificate_arn=app.certificate_arn,
            web_acl_arn=built.firewall.web_acl_arn,
            vpc_cidr=str(settings.platform.network.cidr),
            data_subnet_cidrs=settings.subnet_plan.cidrs(Tier.ISOLATED),
            issuer=built.cluster.issuer,
            database=DataStore(
                host=database.endpoint,
                reader_host=database.reader_endpoint,
                port=database.port,
                dbuser_arn_prefix=database.cluster_resource_id.apply(
                    lambda resource_id: (
                        f"arn:{context.partition}:rds-db:{settings.region}:"
                        f"{context.account_id}:dbuser:{resource_id}"
                    )
                ),
            ),
            database_name=settings.platform.database.database_name,
            cache=CacheAccess(
                host=cache.primary_endpoint,
                reader_host=cache.reader_endpoint,
                port=cache.port,
                replication_group_id=cache.replication_group_id,
                arn=cache.arn,
                user_ids=cache.user_ids,
                user_arns=cache.user_arns,
            ),
            services=[
                _service_args(service, built.registry.repository_urls[service.repository])
                for service in app.services
            ],
            provider=provider,
            tags=standard_tags(settings),
            access_logs=AccessLogTarget(built.access_logs.bucket_name, built.access_logs.prefix),
            load_balancer_deletion_protection=(
                context.protect
                if app.load_balancer_deletion_protection is None
                else app.load_balancer_deletion_protection
            ),
            protect=context.protect,
        ),
        # Pods need nodes, and the load balancer controller's webhooks must answer before
        # Services and Ingresses are admitted.
        opts=pulumi.ResourceOptions(depends_on=[built.cluster]),
    )


def _ci_runner(context: _Context, foundation: _Foundation) -> CiRunner | None:
    settings = context.settings
    runner = settings.platform.ci_runner
    if runner is None:
        return None
    return CiRunner(
        "ci-runner",
        CiRunnerArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            partition=context.partition,
            account_id=context.account_id,
            repository=runner.repository,
            connection_arn=runner.connection_arn,
            vpc_id=foundation.network.vpc_id,
            subnet_ids=foundation.network.private_subnet_ids,
            compute_type=runner.compute_type,
            image=runner.image,
            build_timeout_minutes=runner.build_timeout_minutes,
            logs=foundation.logs,
            protect=context.protect,
        ),
    )


def _service_args(service: ServiceSettings, repository_url: pulumi.Output[str]) -> ServiceArgs:
    release = service.release
    return ServiceArgs(
        name=service.name,
        port=service.port,
        path=service.path,
        image_repository=repository_url,
        probes=Probes(
            startup=service.health.startup,
            readiness=service.health.readiness,
            liveness=service.health.liveness,
        ),
        resources=Resources(
            cpu_request=service.resources.cpu_request,
            cpu_limit=service.resources.cpu_limit,
            memory_request=service.resources.memory_request,
            memory_limit=service.resources.memory_limit,
        ),
        max_replicas=service.scaling.max_replicas,
        target_cpu_percent=service.scaling.target_cpu_percent,
        env=service.env,
        secret_sources=service.secrets,
        live=release.live,
        candidate_weight=release.candidate_weight,
        strategy=release.strategy,
        slots={
            name: Slot(
                image=release.slot(name).image,
                replicas=release.slot(name).replicas,
                scaled_down=release.slot(name).scaled_down,
            )
            for name in ("blue", "green")
        },
    )


def availability_zones(settings: StackSettings) -> list[str]:
    """The first N zones the account can use in the region (no opt-in Local Zones)."""
    wanted = settings.platform.network.availability_zone_count
    offered = aws.get_availability_zones(
        state="available",
        filters=[
            aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])
        ],
    ).names
    if len(offered) < wanted:
        raise SettingsError(
            settings.stack,
            f"Pulumi.{settings.stack}.yaml",
            [
                Problem(
                    "platform:network.availabilityZoneCount",
                    wanted,
                    f"this account sees {len(offered)} zones in {settings.region} "
                    f"({', '.join(offered)}); allowed: 2 to {len(offered)}",
                )
            ],
        )
    return sorted(offered)[:wanted]


def stack_outputs(platform: Platform) -> dict[str, Any]:
    """What other stacks, CI and the release driver read. Nothing secret is exported as a
    value: consumers get secret ARNs and read the secret with their own permissions."""
    network, database, cache = platform.network, platform.database, platform.cache
    return {
        "vpcId": network.vpc_id,
        "vpcCidr": network.vpc_cidr,
        "availabilityZones": network.availability_zones,
        "publicSubnetIds": network.public_subnet_ids,
        "privateSubnetIds": network.private_subnet_ids,
        "isolatedSubnetIds": network.isolated_subnet_ids,
        "workloadSecurityGroupId": network.workload_security_group_id,
        "flowLogGroupName": network.flow_log_group_name,
        "keyArns": {str(purpose): platform.keys.arn(purpose) for purpose in KeyPurpose},
        "databaseEndpoint": database.endpoint,
        "databaseReaderEndpoint": database.reader_endpoint,
        "databasePort": database.port,
        "databaseSecretArn": database.secret_arn,
        "databaseSecurityGroupId": database.security_group_id,
        "cachePrimaryEndpoint": cache.primary_endpoint,
        "cacheReaderEndpoint": cache.reader_endpoint,
        "cachePort": cache.port,
        "cacheUserIds": cache.user_ids,
        "cacheBreakGlassSecretArn": cache.break_glass_secret_arn,
        "cacheSecurityGroupId": cache.security_group_id,
        **({"webAclArn": platform.firewall.web_acl_arn} if platform.firewall else {}),
        "accessLogBucket": platform.access_logs.bucket_name,
        "repositoryUrls": platform.registry.repository_urls,
        "clusterName": platform.cluster.name,
        "clusterEndpoint": platform.cluster.endpoint,
        "oidcProviderArn": platform.cluster.oidc_provider_arn,
        "oidcIssuerUrl": platform.cluster.oidc_issuer_url,
        "nodeSecurityGroupId": platform.cluster.node_security_group_id,
        "kubeconfig": platform.cluster.kubeconfig,
        "releases": platform.app.releases if platform.app else {},
        # What platformctl bootstrap reads: a complete stack is never bootstrapped again.
        "deployPhase": "complete" if platform.app else "foundation",
        **({"ciRunnerProject": platform.ci_runner.project_name} if platform.ci_runner else {}),
        **_observability_outputs(platform),
    }


def _observability_outputs(platform: Platform) -> dict[str, Any]:
    """Where platformctl queries the metrics and which alarms may roll a release back."""
    observability, alarms = platform.observability, platform.alarms
    assert observability is not None and alarms is not None
    return {
        "prometheusQueryUrl": observability.query_url,
        "alertTopicArn": observability.alert_topic_arn,
        "alarmNames": alarms.alarm_names,
        "dashboardName": alarms.dashboard_name,
        **({"grafanaUrl": observability.grafana_url} if observability.grafana_url else {}),
    }
