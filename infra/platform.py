"""Composes the platform's components from the stack's settings.

Network and keys first; then the database, the cache, the firewall and the registry, each
of which depends only on those two, so the engine creates them side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws

from components.cache import Cache, CacheArgs
from components.database import Database, DatabaseArgs, DatabaseCapacity
from components.firewall import Firewall, FirewallArgs
from components.keys import EncryptionKeys, EncryptionKeysArgs, KeyPurpose
from components.network import FlowLogArgs, Network, NetworkArgs
from components.parts import LogArchive
from components.registry import Registry, RegistryArgs
from infra.aws_regions import partition
from infra.config import Problem, SettingsError, StackSettings


@dataclass(frozen=True)
class Platform:
    keys: EncryptionKeys
    network: Network
    database: Database
    cache: Cache
    firewall: Firewall
    registry: Registry


def build_platform(settings: StackSettings) -> Platform:
    account_id = aws.get_caller_identity().account_id
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
            performance_insights_retention_days=db.performance_insights_retention_days,
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
    return Platform(keys, network, database, cache, firewall, registry)


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
        "webAclArn": platform.firewall.web_acl_arn,
        "repositoryUrls": platform.registry.repository_urls,
    }
