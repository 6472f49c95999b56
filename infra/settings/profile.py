"""What each environment demands beyond well-formed values: prod is highly available,
protected, kept and audited. Dev and staging may trade that for cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.settings.base import Problem

if TYPE_CHECKING:
    from infra.config import PlatformConfig

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
PROD_MIN_LOG_RETENTION_DAYS = 365
PROD_MIN_BACKUP_RETENTION_DAYS = 14
PROD_MIN_DATABASE_INSTANCES = 2
PROD_MIN_CACHE_NODES = 2


def environment_problems(platform: PlatformConfig) -> list[Problem]:
    if platform.environment != "prod":
        return []
    network, database, cache = platform.network, platform.database, platform.cache
    checks = [
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
    return [Problem(key, value, message) for failed, key, value, message in checks if failed]
