"""What each environment demands beyond well-formed values: prod is highly available,
protected, kept and audited. Dev and staging may trade that for cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.settings.base import Problem

if TYPE_CHECKING:
    from infra.settings.data import CacheSettings, DatabaseSettings
    from infra.settings.platform_config import PlatformConfig

# A requirement: (failed, key, value shown, what is allowed).
_Check = tuple[bool, str, object, str]

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
PROD_MIN_LOG_RETENTION_DAYS = 365
PROD_MIN_BACKUP_RETENTION_DAYS = 14
PROD_MIN_DATABASE_INSTANCES = 2
PROD_MIN_CACHE_NODES = 2


PROD_MIN_NODES = 2
PROD_MIN_REPLICAS = 2


def environment_problems(platform: PlatformConfig) -> list[Problem]:
    problems = _cluster_endpoint_problems(platform)
    if platform.environment == "prod":
        problems += _prod_problems(platform)
    return problems


def _cluster_endpoint_problems(platform: PlatformConfig) -> list[Problem]:
    cidrs = platform.cluster.public_access_cidrs
    key = "platform:cluster.publicAccessCidrs"
    shown = [str(c) for c in cidrs]
    if platform.environment == "prod" and cidrs:
        return [
            Problem(
                key,
                shown,
                "prod's API endpoint is private (reach it from the VPC: CI runners there or "
                "a VPN); allowed: []",
            )
        ]
    if platform.environment != "dev" and any(c.prefixlen == 0 for c in cidrs):
        return [
            Problem(
                key,
                shown,
                f"opens the {platform.environment} API endpoint to the whole internet; "
                "allowed: your offices' and CI's address ranges (prefix /1 or longer)",
            )
        ]
    return []


def _prod_problems(platform: PlatformConfig) -> list[Problem]:
    checks = [
        *_prod_platform_checks(platform),
        *_prod_data_checks(platform.database, platform.cache),
        *_prod_capacity_checks(platform),
    ]
    return [Problem(key, value, message) for failed, key, value, message in checks if failed]


def _prod_platform_checks(platform: PlatformConfig) -> list[_Check]:
    network = platform.network
    return [
        (
            network.nat_gateways == "single" and not network.allow_single_nat_gateway,
            "platform:network.natGateways",
            network.nat_gateways,
            "prod needs a NAT gateway per zone so one zone's outage does not cut the "
            "others' egress; allowed: perAz, or single with "
            "platform:network.allowSingleNatGateway: true",
        ),
        (
            not platform.protect_resources,
            "platform:protectResources",
            platform.protect_resources,
            "prod resources must be protected from deletion; allowed: true",
        ),
        (
            platform.log_retention_days < PROD_MIN_LOG_RETENTION_DAYS,
            "platform:logRetentionDays",
            platform.log_retention_days,
            f"prod keeps logs for at least {PROD_MIN_LOG_RETENTION_DAYS} days; allowed: "
            + ", ".join(str(d) for d in LOG_RETENTION_DAYS if d >= PROD_MIN_LOG_RETENTION_DAYS),
        ),
    ]


def _prod_data_checks(database: DatabaseSettings, cache: CacheSettings) -> list[_Check]:
    return [
        (
            database.instance_count < PROD_MIN_DATABASE_INSTANCES,
            "platform:database.instanceCount",
            database.instance_count,
            "prod needs a reader in another zone to fail over to; allowed: "
            f"{PROD_MIN_DATABASE_INSTANCES} to 16",
        ),
        (
            database.backup_retention_days < PROD_MIN_BACKUP_RETENTION_DAYS,
            "platform:database.backupRetentionDays",
            database.backup_retention_days,
            f"prod keeps backups for at least {PROD_MIN_BACKUP_RETENTION_DAYS} days; allowed: "
            f"{PROD_MIN_BACKUP_RETENTION_DAYS} to 35",
        ),
        (
            database.skip_final_snapshot,
            "platform:database.skipFinalSnapshot",
            database.skip_final_snapshot,
            "prod takes a final snapshot before a cluster is deleted; allowed: false",
        ),
        (
            cache.node_count < PROD_MIN_CACHE_NODES,
            "platform:cache.nodeCount",
            cache.node_count,
            "prod needs a replica in another zone for automatic failover; allowed: "
            f"{PROD_MIN_CACHE_NODES} to 6",
        ),
        (
            cache.skip_final_snapshot,
            "platform:cache.skipFinalSnapshot",
            cache.skip_final_snapshot,
            "prod takes a final snapshot before a cache is deleted; allowed: false",
        ),
        (
            cache.snapshot_retention_days < 1,
            "platform:cache.snapshotRetentionDays",
            cache.snapshot_retention_days,
            "prod keeps daily cache snapshots; allowed: 1 to 35",
        ),
    ]


def _prod_capacity_checks(platform: PlatformConfig) -> list[_Check]:
    untainted_min = sum(g.min_size for g in platform.cluster.node_groups if not g.taints)
    checks: list[_Check] = [
        (
            untainted_min < PROD_MIN_NODES,
            "platform:cluster.nodeGroups",
            untainted_min,
            f"prod keeps at least {PROD_MIN_NODES} untainted nodes (sum of minSize) so losing "
            "one does not stop CoreDNS and the ingress controller; allowed: "
            f"{PROD_MIN_NODES} or more",
        )
    ]
    for index, service in enumerate(platform.app.services):
        for slot_name in ("blue", "green"):
            replicas = service.release.slot(slot_name).replicas
            checks.append(
                (
                    replicas < PROD_MIN_REPLICAS,
                    f"platform:app.services[{index}].release.{slot_name}.replicas",
                    replicas,
                    f"prod runs {service.name} on at least {PROD_MIN_REPLICAS} pods so a "
                    f"node or zone loss does not take it down; allowed: {PROD_MIN_REPLICAS} "
                    "or more",
                )
            )
    return checks
