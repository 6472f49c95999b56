"""Composes the platform's components from the stack's settings.

Network and keys first; then the database, the cache, the firewall and the registry, each
of which depends only on those two, so the engine creates them side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.access_logs import AccessLogs, AccessLogsArgs
from components.app import App, AppArgs, DataStore
from components.cache import Cache, CacheArgs
from components.ci_runner import CiRunner, CiRunnerArgs
from components.cluster import Cluster, ClusterArgs, NodeGroupArgs
from components.database import Database, DatabaseArgs, DatabaseCapacity
from components.firewall import Firewall, FirewallArgs
from components.keys import EncryptionKeys, EncryptionKeysArgs, KeyPurpose
from components.network import FlowLogArgs, Network, NetworkArgs
from components.parts import LogArchive
from components.registry import Registry, RegistryArgs
from components.subnet_plan import Tier
from components.workload import AccessLogTarget, Probes, Resources, ServiceArgs, Slot
from infra.config import Problem, SettingsError, StackSettings
from infra.settings.app import ServiceSettings
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


def build_platform(settings: StackSettings) -> Platform:
    caller = aws.get_caller_identity()
    account_id = caller.account_id
    zones = availability_zones(settings)
    platform = settings.platform
    aws_partition = partition(settings.region)
    protect = platform.protect_resources

    keys = EncryptionKeys(
        "keys",
        EncryptionKeysArgs(
            name_prefix=settings.name_prefix,
            account_id=account_id,
            region=settings.region,
            partition=aws_partition,
            purposes=list(KeyPurpose),
            deletion_window_days=platform.kms_key_deletion_window_days,
            protect=protect,
        ),
    )
    logs = LogArchive(platform.log_retention_days, keys.arn(KeyPurpose.LOGS))
    network_settings = platform.network
    network = Network(
        "network",
        NetworkArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            partition=aws_partition,
            account_id=account_id,
            availability_zones=zones,
            subnet_plan=settings.subnet_plan,
            nat_gateways=network_settings.nat_gateways,
            flow_logs=FlowLogArgs(network_settings.flow_log_traffic_type, logs),
            s3_gateway_endpoint=network_settings.s3_gateway_endpoint,
            interface_endpoints=network_settings.interface_endpoints,
            protect=protect,
        ),
    )
    clients = [network.workload_security_group_id]

    db = platform.database
    database = Database(
        "database",
        DatabaseArgs(
            name_prefix=settings.name_prefix,
            partition=aws_partition,
            engine_version=db.engine_version,
            capacity=DatabaseCapacity(
                instance_class=db.instance_class,
                instance_count=db.instance_count,
                serverless_min_acus=db.serverless.min_capacity if db.serverless else None,
                serverless_max_acus=db.serverless.max_capacity if db.serverless else None,
            ),
            vpc_id=network.vpc_id,
            subnet_ids=network.isolated_subnet_ids,
            availability_zones=zones,
            client_security_group_ids=clients,
            kms_key_arn=keys.arn(KeyPurpose.DATABASE),
            logs=logs,
            database_name=db.database_name,
            master_username=db.master_username,
            backup_retention_days=db.backup_retention_days,
            backup_window=db.backup_window,
            maintenance_window=db.maintenance_window,
            final_snapshot=not db.skip_final_snapshot,
            apply_immediately=db.apply_immediately,
            insights=db.insights,
            monitoring_interval_seconds=db.monitoring_interval_seconds,
            log_min_duration_statement_ms=db.log_min_duration_statement_ms,
            log_statement=db.log_statement,
            protect=protect,
        ),
    )

    cache_settings = platform.cache
    cache = Cache(
        "cache",
        CacheArgs(
            name_prefix=settings.name_prefix,
            engine_version=cache_settings.engine_version,
            node_type=cache_settings.node_type,
            node_count=cache_settings.node_count,
            vpc_id=network.vpc_id,
            subnet_ids=network.isolated_subnet_ids,
            availability_zones=zones,
            client_security_group_ids=clients,
            kms_key_arn=keys.arn(KeyPurpose.CACHE),
            logs=logs,
            snapshot_retention_days=cache_settings.snapshot_retention_days,
            snapshot_window=cache_settings.snapshot_window,
            maintenance_window=cache_settings.maintenance_window,
            maxmemory_policy=cache_settings.maxmemory_policy,
            final_snapshot=not cache_settings.skip_final_snapshot,
            apply_immediately=cache_settings.apply_immediately,
            protect=protect,
        ),
    )

    registry = Registry(
        "registry",
        RegistryArgs(
            name_prefix=settings.name_prefix,
            repositories=platform.registry.repositories,
            kms_key_arn=keys.arn(KeyPurpose.REGISTRY),
            keep_images=platform.registry.keep_images,
            untagged_expiry_days=platform.registry.untagged_expiry_days,
            protect=protect,
        ),
    )
    ci_runner = _ci_runner(settings, account_id, network, logs)
    cluster_settings = platform.cluster
    cluster = Cluster(
        "cluster",
        ClusterArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            partition=aws_partition,
            kubernetes_version=cluster_settings.kubernetes_version,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            public_access_cidrs=[str(c) for c in cluster_settings.public_access_cidrs],
            private_access_cidrs=[str(c) for c in cluster_settings.private_access_cidrs],
            api_client_security_group_ids=[ci_runner.security_group_id] if ci_runner else [],
            admin_role_arns=cluster_settings.admin_role_arns,
            node_security_group_ids=clients,
            node_groups=[
                NodeGroupArgs(
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
                for group in cluster_settings.node_groups
            ],
            metadata_hop_limit=cluster_settings.metadata_hop_limit,
            addon_versions={
                "vpc-cni": cluster_settings.addons.vpc_cni,
                "coredns": cluster_settings.addons.coredns,
                "kube-proxy": cluster_settings.addons.kube_proxy,
                "aws-ebs-csi-driver": cluster_settings.addons.aws_ebs_csi_driver,
                "metrics-server": cluster_settings.addons.metrics_server,
            },
            load_balancer_controller_chart_version=(
                cluster_settings.load_balancer_controller_chart_version
            ),
            secrets_kms_key_arn=keys.arn(KeyPurpose.EKS),
            logs=logs,
            resource_tags=standard_tags(settings),
            kubernetes_api=platform.deploy_phase == "complete",
            protect=protect,
        ),
    )

    access_logs = AccessLogs(
        "access-logs",
        AccessLogsArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            partition=aws_partition,
            account_id=account_id,
            retention_days=platform.log_retention_days,
            protect=protect,
        ),
    )
    if cluster.provider is None:
        # Nothing the app alone uses either: the web ACL would protect no Ingress yet.
        pulumi.log.warn(
            "platform:deployPhase is foundation (platformctl bootstrap): the Kubernetes "
            "resources are not registered; an `up` of a complete stack in this phase would "
            "delete them"
        )
        return Platform(
            keys, network, database, cache, None, registry, cluster, access_logs, ci_runner, None
        )  # fmt: skip
    waf = platform.firewall
    firewall = Firewall(
        "firewall",
        FirewallArgs(
            name_prefix=settings.name_prefix,
            rate_limit=waf.rate_limit,
            rate_limit_window_seconds=waf.rate_limit_window_seconds,
            managed_rule_groups=waf.managed_rule_groups,
            count_only_rules=waf.count_only_rules,
            blocked_countries=waf.blocked_countries,
            allowed_countries=waf.allowed_countries,
            blocked_ip_cidrs=[str(cidr) for cidr in waf.blocked_ip_cidrs],
            allowed_ip_cidrs=[str(cidr) for cidr in waf.allowed_ip_cidrs],
            logs=logs,
            protect=protect,
        ),
    )

    app_settings = platform.app
    app = App(
        "app",
        AppArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            host=app_settings.host,
            preview_host=app_settings.preview_host,
            preview_allowed_cidrs=[str(c) for c in app_settings.preview_allowed_cidrs],
            certificate_arn=app_settings.certificate_arn,
            web_acl_arn=firewall.web_acl_arn,
            vpc_cidr=str(network_settings.cidr),
            data_subnet_cidrs=settings.subnet_plan.cidrs(Tier.ISOLATED),
            issuer=cluster.issuer,
            database=DataStore(
                host=database.endpoint,
                reader_host=database.reader_endpoint,
                port=database.port,
                secret_arn=database.secret_arn,
                kms_key_arn=keys.arn(KeyPurpose.DATABASE),
            ),
            database_name=db.database_name,
            cache=DataStore(
                host=cache.primary_endpoint,
                reader_host=cache.reader_endpoint,
                port=cache.port,
                secret_arn=cache.auth_secret_arn,
                kms_key_arn=keys.arn(KeyPurpose.CACHE),
            ),
            services=[
                _service_args(service, registry.repository_urls[service.repository])
                for service in app_settings.services
            ],
            provider=cluster.provider,
            tags=standard_tags(settings),
            access_logs=AccessLogTarget(access_logs.bucket_name, access_logs.prefix),
            load_balancer_deletion_protection=(
                protect
                if app_settings.load_balancer_deletion_protection is None
                else app_settings.load_balancer_deletion_protection
            ),
            protect=protect,
        ),
        # Pods need nodes, and the load balancer controller's webhooks must answer before
        # Services and Ingresses are admitted.
        opts=pulumi.ResourceOptions(depends_on=[cluster]),
    )
    return Platform(
        keys, network, database, cache, firewall, registry, cluster, access_logs, ci_runner, app
    )


def _ci_runner(
    settings: StackSettings, account_id: str, network: Network, logs: LogArchive
) -> CiRunner | None:
    runner = settings.platform.ci_runner
    if runner is None:
        return None
    return CiRunner(
        "ci-runner",
        CiRunnerArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            partition=partition(settings.region),
            account_id=account_id,
            repository=runner.repository,
            connection_arn=runner.connection_arn,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            compute_type=runner.compute_type,
            image=runner.image,
            build_timeout_minutes=runner.build_timeout_minutes,
            logs=logs,
            protect=settings.platform.protect_resources,
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
        "cacheAuthSecretArn": cache.auth_secret_arn,
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
    }
