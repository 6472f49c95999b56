"""Cases for policies/rules/rds.py."""

from __future__ import annotations

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

CLUSTER = "aws:rds/cluster:Cluster"
INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
DB_INSTANCE = "aws:rds/instance:Instance"
CLUSTER_PARAMS = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PG = {"engine": "aurora-postgresql", "engineVersion": "16.6"}


def cluster(**props: object) -> Res:
    return Res(CLUSTER, "db", {**PG, **props})


def instance(name: str = "db-1", **props: object) -> Res:
    return Res(
        INSTANCE, name, {"engine": "aurora-postgresql", **props}, {"clusterIdentifier": ["db"]}
    )


def force_ssl_group(value: object) -> Res:
    return Res(
        CLUSTER_PARAMS,
        "params",
        {
            "family": "aurora-postgresql16",
            "parameters": [
                {"name": "rds.force_ssl", "value": value, "applyMethod": "pending-reboot"}
            ],
        },
    )


CASES = [
    violates(
        "rds-storage-encrypted-cmk",
        "unencrypted storage",
        cluster(kmsKeyId=KEY),
        message="storageEncrypted is not set; expected true",
    ),
    violates(
        "rds-storage-encrypted-cmk",
        "encrypted with the AWS-managed key",
        cluster(storageEncrypted=True),
        message="kmsKeyId is not set",
    ),
    passes(
        "rds-storage-encrypted-cmk",
        "encrypted with a key",
        cluster(storageEncrypted=True, kmsKeyId=KEY),
    ),
    passes(
        "rds-storage-encrypted-cmk",
        "key ARN unknown until created counts as set",
        cluster(storageEncrypted=True, kmsKeyId=UNKNOWN),
    ),
    undecided(
        "rds-storage-encrypted-cmk",
        "encryption flag unknown",
        cluster(storageEncrypted=UNKNOWN, kmsKeyId=KEY),
    ),
    violates(
        "rds-not-publicly-accessible",
        "public instance",
        instance(publiclyAccessible=True),
        message="publiclyAccessible is true",
    ),
    passes("rds-not-publicly-accessible", "default is private", instance()),
    undecided("rds-not-publicly-accessible", "flag unknown", instance(publiclyAccessible=UNKNOWN)),
    violates(
        "rds-deletion-protection",
        "off by default",
        cluster(),
        message="deletionProtection is not set",
    ),
    passes("rds-deletion-protection", "on", cluster(deletionProtection=True)),
    undecided("rds-deletion-protection", "unknown", cluster(deletionProtection=UNKNOWN)),
    violates(
        "rds-final-snapshot",
        "skipped",
        cluster(skipFinalSnapshot=True, finalSnapshotIdentifier="x"),
        message="skipFinalSnapshot is true",
    ),
    violates(
        "rds-final-snapshot",
        "no snapshot name",
        cluster(skipFinalSnapshot=False),
        message="finalSnapshotIdentifier is not set",
    ),
    passes(
        "rds-final-snapshot",
        "named final snapshot",
        cluster(finalSnapshotIdentifier="db-final-1a2b"),
    ),
    undecided(
        "rds-final-snapshot",
        "skip flag unknown",
        cluster(skipFinalSnapshot=UNKNOWN, finalSnapshotIdentifier=UNKNOWN),
    ),
    violates(
        "rds-backup-retention",
        "AWS default of one day is below the default minimum of 7",
        cluster(),
        message="backupRetentionPeriod is not set; expected at least 7",
    ),
    violates(
        "rds-backup-retention",
        "below a configured minimum",
        cluster(backupRetentionPeriod=7),
        config={"minimumDays": 14},
        message="expected at least 14",
    ),
    passes(
        "rds-backup-retention",
        "meets the configured minimum",
        cluster(backupRetentionPeriod=1),
        config={"minimumDays": 1},
    ),
    undecided("rds-backup-retention", "period unknown", cluster(backupRetentionPeriod=UNKNOWN)),
    violates(
        "rds-iam-authentication", "off", cluster(), message="iamDatabaseAuthenticationEnabled"
    ),
    passes("rds-iam-authentication", "on", cluster(iamDatabaseAuthenticationEnabled=True)),
    undecided(
        "rds-iam-authentication", "unknown", cluster(iamDatabaseAuthenticationEnabled=UNKNOWN)
    ),
    violates(
        "rds-force-ssl",
        "default parameter group",
        cluster(),
        at="db",
        message="uses the engine's default parameter group",
    ),
    violates(
        "rds-force-ssl",
        "group of this stack without force_ssl",
        Res(
            CLUSTER,
            "db",
            {**PG, "dbClusterParameterGroupName": "params"},
            {"dbClusterParameterGroupName": ["params"]},
        ),
        force_ssl_group("0"),
        at="params",
        message='sets rds.force_ssl = "0"',
    ),
    violates(
        "rds-force-ssl",
        "a group this stack does not manage",
        cluster(dbClusterParameterGroupName="shared-params"),
        message="not one of this stack",
    ),
    passes(
        "rds-force-ssl",
        "group forcing TLS",
        Res(
            CLUSTER,
            "db",
            {**PG, "dbClusterParameterGroupName": "params"},
            {"dbClusterParameterGroupName": ["params"]},
        ),
        force_ssl_group("1"),
    ),
    passes(
        "rds-force-ssl", "not a PostgreSQL engine", Res(CLUSTER, "db", {"engine": "aurora-mysql"})
    ),
    passes(
        "rds-force-ssl",
        "RDS for PostgreSQL 16 on its default group, which forces TLS",
        Res(DB_INSTANCE, "pg", {"engine": "postgres", "engineVersion": "16.4"}),
    ),
    violates(
        "rds-force-ssl",
        "RDS for PostgreSQL 14 on its default group, which does not",
        Res(DB_INSTANCE, "pg", {"engine": "postgres", "engineVersion": "14.12"}),
        at="pg",
        message="uses the engine's default parameter group",
    ),
    undecided(
        "rds-force-ssl",
        "parameter value unknown",
        Res(
            CLUSTER,
            "db",
            {**PG, "dbClusterParameterGroupName": "params"},
            {"dbClusterParameterGroupName": ["params"]},
        ),
        force_ssl_group(UNKNOWN),
    ),
    violates(
        "rds-log-exports", "no exports", cluster(), message="expected it to include postgresql"
    ),
    violates(
        "rds-log-exports",
        "wrong log type for PostgreSQL",
        cluster(enabledCloudwatchLogsExports=["upgrade"]),
        message="include postgresql",
    ),
    passes(
        "rds-log-exports",
        "postgresql exported",
        cluster(enabledCloudwatchLogsExports=["postgresql"]),
    ),
    undecided("rds-log-exports", "exports unknown", cluster(enabledCloudwatchLogsExports=UNKNOWN)),
    violates(
        "rds-performance-insights-encrypted",
        "insights on without a key",
        instance(performanceInsightsEnabled=True),
        message="performanceInsightsKmsKeyId is not set",
    ),
    passes(
        "rds-performance-insights-encrypted",
        "insights with a key",
        instance(performanceInsightsEnabled=True, performanceInsightsKmsKeyId=KEY),
    ),
    passes("rds-performance-insights-encrypted", "insights off", instance()),
    undecided(
        "rds-performance-insights-encrypted",
        "enabled flag unknown",
        instance(performanceInsightsEnabled=UNKNOWN),
    ),
    violates(
        "rds-auto-minor-version-upgrade",
        "turned off",
        instance(autoMinorVersionUpgrade=False),
        message="autoMinorVersionUpgrade is false",
    ),
    passes("rds-auto-minor-version-upgrade", "default is on", instance()),
    undecided(
        "rds-auto-minor-version-upgrade", "unknown", instance(autoMinorVersionUpgrade=UNKNOWN)
    ),
    violates("rds-copy-tags-to-snapshot", "off", cluster(), message="copyTagsToSnapshot"),
    passes("rds-copy-tags-to-snapshot", "on", cluster(copyTagsToSnapshot=True)),
    undecided("rds-copy-tags-to-snapshot", "unknown", cluster(copyTagsToSnapshot=UNKNOWN)),
    violates(
        "rds-managed-master-password",
        "plaintext password in the program",
        cluster(
            masterPassword={
                "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                "value": "hunter2-plaintext",
            }
        ),
        message="masterPassword is set (value not shown)",
    ),
    violates(
        "rds-managed-master-password",
        "password neither given nor managed",
        cluster(),
        message="manageMasterUserPassword is not true",
    ),
    passes(
        "rds-managed-master-password",
        "RDS manages the password",
        cluster(manageMasterUserPassword=True),
    ),
    passes(
        "rds-managed-master-password",
        "restored from a snapshot",
        cluster(snapshotIdentifier="snap-1"),
    ),
    undecided(
        "rds-managed-master-password",
        "managed flag unknown",
        cluster(manageMasterUserPassword=UNKNOWN),
    ),
    violates("rds-enhanced-monitoring", "off", instance(), message="monitoringInterval is not set"),
    passes(
        "rds-enhanced-monitoring",
        "every 15 s with a role",
        instance(monitoringInterval=15, monitoringRoleArn="arn:aws:iam::123456789012:role/mon"),
    ),
    undecided(
        "rds-enhanced-monitoring",
        "interval unknown",
        instance(monitoringInterval=UNKNOWN, monitoringRoleArn=UNKNOWN),
    ),
    violates(
        "rds-multi-az",
        "a single writer",
        cluster(),
        instance(),
        at="db",
        message="has 1 instance(s)",
    ),
    violates(
        "rds-multi-az",
        "two instances in one zone",
        cluster(),
        instance("db-1", availabilityZone="us-east-1a"),
        instance("db-2", availabilityZone="us-east-1a"),
        message="every instance in us-east-1a",
    ),
    violates(
        "rds-multi-az",
        "three instances below a configured minimum of four",
        cluster(),
        instance("db-1"),
        instance("db-2"),
        instance("db-3"),
        config={"minimumInstances": 4},
        message="expected at least 4",
    ),
    passes(
        "rds-multi-az",
        "writer and reader in two zones",
        cluster(),
        instance("db-1", availabilityZone="us-east-1a"),
        instance("db-2", availabilityZone="us-east-1b"),
    ),
    undecided(
        "rds-multi-az",
        "zones unknown",
        cluster(),
        instance("db-1", availabilityZone=UNKNOWN),
        instance("db-2", availabilityZone=UNKNOWN),
    ),
]
