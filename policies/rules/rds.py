"""Aurora and RDS: encryption, exposure, data protection, TLS, audit logs, credentials."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.framework import params
from policies.framework.checks import AtLeast, Check, Equals, OneOf, Present, property_rule
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Finding, Pack, ResourceRule, stack_rule
from policies.framework.values import MISSING, is_unknown, show, truthy, unknown

CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
INSTANCE = "aws:rds/instance:Instance"
CLUSTER_PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
STATEFUL = (CLUSTER, CLUSTER_INSTANCE, INSTANCE)

storage_encrypted = property_rule(
    name="rds-storage-encrypted-cmk",
    description="Database storage is encrypted with a customer-managed KMS key.",
    remediation="Set storageEncrypted: true and kmsKeyId to a KMS key of this stack. "
    "Encryption cannot be added to an existing cluster: restore an encrypted copy of a "
    "snapshot instead.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER, INSTANCE),
    compliance=Compliance(
        cis=("2.3.1",),
        fsbp=("RDS.3", "RDS.27"),
        checkov=("CKV_AWS_16", "CKV_AWS_96", "CKV_AWS_327"),
        awsguard=("rds-storage-encrypted",),
    ),
    checks=(
        Check("storageEncrypted", Equals(True, absent=False)),
        Check("kmsKeyId", Present("a customer-managed KMS key ARN")),
    ),
)

not_public = property_rule(
    name="rds-not-publicly-accessible",
    description="Database instances have no public endpoint.",
    remediation="Set publiclyAccessible: false and reach the database from inside the VPC.",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER_INSTANCE, INSTANCE),
    compliance=Compliance(
        cis=("2.3.3",),
        fsbp=("RDS.2",),
        checkov=("CKV_AWS_17",),
        awsguard=("rds-instance-public-access",),
    ),
    checks=(Check("publiclyAccessible", Equals(False, absent=False)),),
)

deletion_protection = property_rule(
    name="rds-deletion-protection",
    description="Databases cannot be deleted while deletion protection is on.",
    remediation="Set deletionProtection: true (platform:protectResources turns it on).",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER, INSTANCE),
    compliance=Compliance(fsbp=("RDS.7", "RDS.8"), checkov=("CKV_AWS_139", "CKV_AWS_293")),
    checks=(Check("deletionProtection", Equals(True, absent=False)),),
)

final_snapshot = property_rule(
    name="rds-final-snapshot",
    description="Deleting a database takes a final snapshot first.",
    remediation="Set skipFinalSnapshot: false and a unique finalSnapshotIdentifier "
    "(the database component adds a pulumi-random suffix).",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER, INSTANCE),
    checks=(
        Check("skipFinalSnapshot", Equals(False, absent=False)),
        Check("finalSnapshotIdentifier", Present("a snapshot name")),
    ),
)

backup_retention = property_rule(
    name="rds-backup-retention",
    description="Automated backups are kept at least the configured number of days.",
    remediation="Raise backupRetentionPeriod (platform:database.backupRetentionDays) to the "
    "minimum, up to 35 days.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER, INSTANCE),
    compliance=Compliance(
        fsbp=("RDS.11",),
        checkov=("CKV_AWS_133",),
        awsguard=("rds-instance-backup-enabled",),
    ),
    params=(
        params.integer(
            "minimumDays",
            "days of automated backups a database must keep, 1-35",
            default=7,
            minimum=1,
            maximum=35,
        ),
    ),
    # AWS keeps one day of backups when the period is not given.
    checks=(Check("backupRetentionPeriod", AtLeast("minimumDays", absent=1)),),
)

iam_authentication = property_rule(
    name="rds-iam-authentication",
    description="Databases accept IAM authentication, so applications need no long-lived password.",
    remediation="Set iamDatabaseAuthenticationEnabled: true.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER, INSTANCE),
    compliance=Compliance(fsbp=("RDS.10", "RDS.12"), checkov=("CKV_AWS_161", "CKV_AWS_162")),
    checks=(Check("iamDatabaseAuthenticationEnabled", Equals(True, absent=False)),),
)


def _log_exports(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    engine = resource.get("engine", "")
    exports = resource.get("enabledCloudwatchLogsExports", [])
    if is_unknown(exports):
        raise unknown(exports, "enabledCloudwatchLogsExports")
    if is_unknown(engine):
        raise unknown(engine, "engine")
    required = ["postgresql"] if "postgres" in str(engine) else []
    missing = [t for t in required if t not in exports]
    if missing or not exports:
        yield (
            f"enabledCloudwatchLogsExports is {show('exports', exports or MISSING)}; expected "
            + (f"it to include {', '.join(missing)}" if missing else "at least one log type")
            + f" for engine {show('engine', engine)}"
        )


log_exports = ResourceRule(
    name="rds-log-exports",
    description="Database logs are exported to CloudWatch Logs, where they are retained "
    "and encrypted.",
    remediation="Add the engine's log types to enabledCloudwatchLogsExports (postgresql for "
    "PostgreSQL) and create the /aws/rds/cluster/<name>/<type> log group first.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER, INSTANCE),
    compliance=Compliance(
        fsbp=("RDS.9", "RDS.36", "RDS.37"), checkov=("CKV_AWS_129", "CKV_AWS_324")
    ),
    evaluate=_log_exports,
)


def _performance_insights(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    enabled = resource.get("performanceInsightsEnabled", False)
    if is_unknown(enabled):
        raise unknown(enabled, "performanceInsightsEnabled")
    if truthy(enabled) and resource.get("performanceInsightsKmsKeyId") is MISSING:
        yield (
            "performanceInsightsEnabled is true but performanceInsightsKmsKeyId is not set; "
            "expected a customer-managed KMS key ARN (Performance Insights holds query text)"
        )


performance_insights_encrypted = ResourceRule(
    name="rds-performance-insights-encrypted",
    description="Performance Insights, which stores query text, is encrypted with a "
    "customer-managed key.",
    remediation="Set performanceInsightsKmsKeyId to the database's KMS key wherever "
    "performanceInsightsEnabled is true.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER, CLUSTER_INSTANCE, INSTANCE),
    compliance=Compliance(checkov=("CKV_AWS_354",)),
    evaluate=_performance_insights,
)

auto_minor_version_upgrade = property_rule(
    name="rds-auto-minor-version-upgrade",
    description="Database instances take minor engine versions (security fixes) in the "
    "maintenance window.",
    remediation="Set autoMinorVersionUpgrade: true (the default).",
    severity=Severity.MEDIUM,
    pack=Pack.QUALITY,
    resource_types=(CLUSTER_INSTANCE, INSTANCE),
    compliance=Compliance(cis=("2.3.2",), fsbp=("RDS.13", "RDS.35"), checkov=("CKV_AWS_226",)),
    checks=(Check("autoMinorVersionUpgrade", Equals(True, absent=True)),),
)

copy_tags_to_snapshot = property_rule(
    name="rds-copy-tags-to-snapshot",
    description="Snapshots carry the database's tags (owner, cost center, environment).",
    remediation="Set copyTagsToSnapshot: true.",
    severity=Severity.LOW,
    pack=Pack.QUALITY,
    resource_types=(CLUSTER, INSTANCE),
    compliance=Compliance(fsbp=("RDS.16", "RDS.17"), checkov=("CKV_AWS_313", "CKV2_AWS_60")),
    checks=(Check("copyTagsToSnapshot", Equals(True, absent=False)),),
)


def _managed_master_password(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    for key in ("masterPassword", "masterPasswordWo"):
        if resource.get(key) is not MISSING:
            yield (
                f"{key} is set (value not shown); expected no password in the program: "
                "manageMasterUserPassword: true lets RDS create and rotate it in Secrets Manager"
            )
    restored = any(
        resource.get(k) is not MISSING
        for k in ("snapshotIdentifier", "replicationSourceIdentifier", "replicateSourceDb")
    )
    managed = resource.get("manageMasterUserPassword", False)
    if is_unknown(managed):
        raise unknown(managed, "manageMasterUserPassword")
    if resource.type == CLUSTER_INSTANCE or restored or truthy(managed):
        return
    if resource.get("engineMode") == "serverless" or resource.get("globalClusterIdentifier"):
        return
    yield "manageMasterUserPassword is not true; expected true (RDS keeps the password)"


managed_master_password = ResourceRule(
    name="rds-managed-master-password",
    description="The master password is created and kept by RDS in Secrets Manager, never "
    "written in the program or its state.",
    remediation="Remove masterPassword and set manageMasterUserPassword: true (with "
    "masterUserSecretKmsKeyId for the database key); applications read the secret by ARN.",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER, INSTANCE),
    evaluate=_managed_master_password,
)

enhanced_monitoring = property_rule(
    name="rds-enhanced-monitoring",
    description="Database instances report OS metrics (enhanced monitoring).",
    remediation="Set monitoringInterval (1-60 s) and monitoringRoleArn to a role with "
    "AmazonRDSEnhancedMonitoringRole.",
    severity=Severity.LOW,
    pack=Pack.QUALITY,
    resource_types=(CLUSTER_INSTANCE, INSTANCE),
    compliance=Compliance(fsbp=("RDS.6",), checkov=("CKV_AWS_118",)),
    checks=(
        Check("monitoringInterval", OneOf((1, 5, 10, 15, 30, 60), absent=0)),
        Check("monitoringRoleArn", Present("an IAM role ARN")),
    ),
)


_PARAMETER_GROUP_OF = {
    CLUSTER: ("dbClusterParameterGroupName", CLUSTER_PARAMETER_GROUP),
    INSTANCE: ("parameterGroupName", PARAMETER_GROUP),
}


def _force_ssl(
    database: Resource, stack: StackView, settings: Mapping[str, Any]
) -> Iterator[Finding | str]:
    engine = database.get("engine", "")
    if is_unknown(engine):
        raise unknown(engine, "engine")
    if "postgres" not in str(engine):
        return
    key, group_type = _PARAMETER_GROUP_OF[database.type]
    sources = database.sources(key, group_type)
    if not sources and database.get(key) is MISSING and _forces_ssl_by_default(database):
        return
    if not sources:
        where = (
            "the engine's default parameter group"
            if database.get(key) is MISSING
            else f"parameter group {show(key, database.get(key))}, not one of this stack"
        )
        yield f"{database.label} uses {where}; rds.force_ssl cannot be shown to be 1"
    for group in sources:
        value = _parameter(group, "rds.force_ssl")
        if value != "1":
            yield Finding(
                f"parameter group {group.name!r} of {database.label} sets rds.force_ssl "
                f'= {show("value", value)}; expected "1" (TLS only)',
                group.urn,
            )


def _forces_ssl_by_default(database: Resource) -> bool:
    """RDS for PostgreSQL 15 and later ships rds.force_ssl = 1 in its default parameter
    group (Aurora's defaults differ, so clusters always need a group of this stack)."""
    if database.type != INSTANCE or database.get("engine") != "postgres":
        return False
    version = database.get("engineVersion", "")
    if is_unknown(version):
        raise unknown(version, "engineVersion")
    major = str(version).split(".", 1)[0]
    return major.isdigit() and int(major) >= 15


def _parameter(group: Resource, name: str) -> Any:
    entries = group.get("parameters", [])
    if is_unknown(entries):
        raise unknown(entries, "parameters")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            value = entry.get("value", MISSING)
            if is_unknown(value):
                raise unknown(value, f"parameters[{name}].value")
            return str(value)
    return MISSING


force_ssl = stack_rule(
    name="rds-force-ssl",
    description="PostgreSQL databases refuse connections without TLS (rds.force_ssl = 1 in "
    "a parameter group of this stack).",
    remediation="Give the cluster a cluster parameter group that sets rds.force_ssl to 1 "
    "(applyMethod pending-reboot) and point dbClusterParameterGroupName at it.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    over=(CLUSTER, INSTANCE),
    resource_types=(CLUSTER, INSTANCE, CLUSTER_PARAMETER_GROUP, PARAMETER_GROUP),
    # Checkov's CKV2_AWS_69 checks DB instance parameter groups only.
    compliance=Compliance(checkov=("CKV2_AWS_69",)),
    judge=_force_ssl,
)


def _multi_az(database: Resource, stack: StackView, settings: Mapping[str, Any]) -> Iterator[str]:
    if database.type == INSTANCE:
        multi_az = database.get("multiAz", False)
        if is_unknown(multi_az):
            raise unknown(multi_az, "multiAz")
        if not truthy(multi_az):
            yield f"{database.label} has multiAz {show('multiAz', multi_az)}; expected true"
        return
    if database.get("engineMode") == "serverless":
        return
    minimum = int(settings["minimumInstances"])
    members = list(stack.referring_to(database, "clusterIdentifier", CLUSTER_INSTANCE))
    if len(members) < minimum:
        yield (
            f"{database.label} has {len(members)} instance(s); expected at least {minimum} "
            "(a writer and a reader in another zone to fail over to)"
        )
        return
    zones = {m.get("availabilityZone") for m in members} - {MISSING}
    if any(is_unknown(z) for z in zones):
        raise unknown(next(z for z in zones if is_unknown(z)), "availabilityZone")
    if zones and len(zones) < 2:
        yield (
            f"{database.label} has every instance in {', '.join(sorted(zones))}; expected "
            "instances in at least 2 availability zones"
        )


multi_az = stack_rule(
    name="rds-multi-az",
    description="Databases survive the loss of an availability zone.",
    remediation="Run at least two cluster instances in different zones "
    "(platform:database.instanceCount), or multiAz: true for a DB instance.",
    severity=Severity.HIGH,
    pack=Pack.QUALITY,
    over=(CLUSTER, INSTANCE),
    resource_types=(CLUSTER, CLUSTER_INSTANCE, INSTANCE),
    compliance=Compliance(
        fsbp=("RDS.5", "RDS.15"),
        checkov=("CKV_AWS_157",),
        awsguard=("rds-instance-multi-az-enabled",),
    ),
    params=(
        params.integer(
            "minimumInstances",
            "instances an Aurora cluster needs, 2-16",
            default=2,
            minimum=2,
            maximum=16,
        ),
    ),
    judge=_multi_az,
)

RULES = (
    storage_encrypted,
    not_public,
    deletion_protection,
    final_snapshot,
    backup_retention,
    iam_authentication,
    force_ssl,
    log_exports,
    performance_insights_encrypted,
    auto_minor_version_upgrade,
    copy_tags_to_snapshot,
    managed_master_password,
    enhanced_monitoring,
    multi_az,
)
