"""Aurora PostgreSQL in the isolated subnets, reachable only from the caller's security groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.parts import (
    LogArchive,
    final_snapshot_name,
    log_group,
    security_group_for_clients,
    service_trust_policy,
)

PORT = 5432
ENGINE = aws.rds.EngineType.AURORA_POSTGRESQL
# Days of Performance Insights history each Database Insights mode keeps: standard is the
# free 7 days; advanced requires 465 (15 months).
INSIGHTS_RETENTION_DAYS = {"standard": 7, "advanced": 465}
_MONITORING_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"


@dataclass(frozen=True)
class DatabaseCapacity:
    """Instances of the cluster: the first is the writer, the rest readers."""

    instance_class: str  # "db.serverless" or a provisioned class such as db.r7g.large
    instance_count: int
    serverless_min_acus: float | None = None
    serverless_max_acus: float | None = None


@dataclass(frozen=True)
class DatabaseArgs:
    name_prefix: str
    partition: str
    engine_version: str  # pinned, e.g. "16.8"
    capacity: DatabaseCapacity
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]  # isolated subnets
    availability_zones: Sequence[str]
    client_security_group_ids: Sequence[pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]
    logs: LogArchive
    database_name: str
    master_username: str
    backup_retention_days: int
    backup_window: str
    maintenance_window: str
    final_snapshot: bool
    apply_immediately: bool
    insights: str  # CloudWatch Database Insights mode: standard | advanced
    monitoring_interval_seconds: int
    master_password_rotation_days: int
    log_min_duration_statement_ms: int
    log_statement: str
    protect: bool


class Database(pulumi.ComponentResource):
    """An Aurora PostgreSQL cluster with TLS forced, IAM authentication and a master
    password that RDS keeps in Secrets Manager, so no password passes through Pulumi."""

    cluster_identifier: str
    endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]
    port: int
    secret_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:components:Database", name, None, opts)
        identifier = f"{args.name_prefix}-db"
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            description=f"Isolated subnets of {args.name_prefix}",
            subnet_ids=args.subnet_ids,
            opts=pulumi.ResourceOptions(parent=self),
        )
        security_group = security_group_for_clients(
            f"{name}-sg",
            name=identifier,
            description=f"PostgreSQL of {args.name_prefix} from its client security groups",
            vpc_id=args.vpc_id,
            port=PORT,
            client_security_group_ids=args.client_security_group_ids,
            parent=self,
        )
        parameters = self._parameters(name, args, identifier)
        # Created before the cluster so its exported logs are retained and encrypted.
        postgres_logs = log_group(
            f"{name}-logs",
            name=f"/aws/rds/cluster/{identifier}/postgresql",
            archive=args.logs,
            protect=args.protect,
            parent=self,
        )
        monitoring_role, monitoring_policy = self._monitoring_role(name, args)
        cluster = self._cluster(
            name,
            args,
            identifier,
            subnet_group=subnet_group,
            security_group=security_group,
            parameters=parameters,
            postgres_logs=postgres_logs,
        )
        self._instances(
            name, args, identifier, cluster, subnet_group, (monitoring_role, monitoring_policy)
        )

        self.cluster_identifier = identifier
        self.cluster_arn = cluster.arn
        # What IAM database authentication names: arn:...:rds-db:<region>:<account>:dbuser:<id>
        self.cluster_resource_id = cluster.cluster_resource_id
        self.endpoint = cluster.endpoint
        self.reader_endpoint = cluster.reader_endpoint
        self.port = PORT
        self.secret_arn = cluster.master_user_secrets.apply(_managed_secret_arn)
        # RDS rotates the secret it manages every 7 days unless told otherwise; no Lambda is
        # involved. Not at once on creation: the cluster has just been given its password.
        aws.secretsmanager.SecretRotation(
            f"{name}-master-secret-rotation",
            secret_id=self.secret_arn,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                automatically_after_days=args.master_password_rotation_days
            ),
            rotate_immediately=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.security_group_id = security_group.id
        self.register_outputs(
            {
                "clusterArn": self.cluster_arn,
                "endpoint": self.endpoint,
                "readerEndpoint": self.reader_endpoint,
                "port": self.port,
                "secretArn": self.secret_arn,
                "securityGroupId": self.security_group_id,
            }
        )

    def _parameters(
        self, name: str, args: DatabaseArgs, identifier: str
    ) -> aws.rds.ClusterParameterGroup:
        major = args.engine_version.split(".")[0]
        child = pulumi.ResourceOptions(parent=self)
        return aws.rds.ClusterParameterGroup(
            f"{name}-params",
            family=f"aurora-postgresql{major}",
            description=f"TLS only and statement logging for {identifier}",
            parameters=[
                # Applied at the next reboot; a new cluster starts with it.
                aws.rds.ClusterParameterGroupParameterArgs(
                    name="rds.force_ssl", value="1", apply_method="pending-reboot"
                ),
                aws.rds.ClusterParameterGroupParameterArgs(
                    name="log_min_duration_statement",
                    value=str(args.log_min_duration_statement_ms),
                ),
                aws.rds.ClusterParameterGroupParameterArgs(
                    name="log_statement", value=args.log_statement
                ),
                aws.rds.ClusterParameterGroupParameterArgs(name="log_connections", value="1"),
                aws.rds.ClusterParameterGroupParameterArgs(name="log_disconnections", value="1"),
            ],
            opts=child,
        )

    def _cluster(
        self,
        name: str,
        args: DatabaseArgs,
        identifier: str,
        *,
        subnet_group: aws.rds.SubnetGroup,
        security_group: aws.ec2.SecurityGroup,
        parameters: aws.rds.ClusterParameterGroup,
        postgres_logs: aws.cloudwatch.LogGroup,
    ) -> aws.rds.Cluster:
        final_snapshot_identifier = (
            final_snapshot_name(f"{name}-final-snapshot", prefix=identifier, parent=self)
            if args.final_snapshot
            else None
        )

        capacity = args.capacity
        serverless = None
        if capacity.serverless_min_acus is not None and capacity.serverless_max_acus is not None:
            serverless = aws.rds.ClusterServerlessv2ScalingConfigurationArgs(
                min_capacity=capacity.serverless_min_acus,
                max_capacity=capacity.serverless_max_acus,
            )
        return aws.rds.Cluster(
            f"{name}-cluster",
            cluster_identifier=identifier,
            engine=ENGINE,
            engine_mode="provisioned",
            engine_version=args.engine_version,
            database_name=args.database_name,
            master_username=args.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key_arn,
            iam_database_authentication_enabled=True,
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            port=PORT,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            db_cluster_parameter_group_name=parameters.name,
            enabled_cloudwatch_logs_exports=["postgresql"],
            backup_retention_period=args.backup_retention_days,
            preferred_backup_window=args.backup_window,
            preferred_maintenance_window=args.maintenance_window,
            copy_tags_to_snapshot=True,
            deletion_protection=args.protect,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=final_snapshot_identifier,
            serverlessv2_scaling_configuration=serverless,
            # Database Insights is set on the cluster (Aurora allows no other place);
            # Performance Insights, which holds query text, under the database's key.
            database_insights_mode=args.insights,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            performance_insights_retention_period=INSIGHTS_RETENTION_DAYS[args.insights],
            apply_immediately=args.apply_immediately,
            tags={"Name": identifier},
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=[postgres_logs],
                # The pin is the version a cluster is created with. Automatic minor
                # upgrades then move it ahead in the maintenance window, and setting the
                # pin again would be a downgrade AWS refuses (docs/configuration.md, Notes).
                ignore_changes=["engineVersion"],
            ),
        )

    def _instances(
        self,
        name: str,
        args: DatabaseArgs,
        identifier: str,
        cluster: aws.rds.Cluster,
        subnet_group: aws.rds.SubnetGroup,
        monitoring: tuple[aws.iam.Role, aws.iam.RolePolicyAttachment],
    ) -> None:
        capacity = args.capacity
        monitoring_role, monitoring_policy = monitoring
        for index in range(capacity.instance_count):
            # Spread round-robin over the zones: the writer and each reader in another zone.
            zone = args.availability_zones[index % len(args.availability_zones)]
            aws.rds.ClusterInstance(
                f"{name}-instance-{index + 1}",
                identifier=f"{identifier}-{index + 1}",
                cluster_identifier=cluster.id,
                engine=ENGINE,
                instance_class=capacity.instance_class,
                availability_zone=zone,
                db_subnet_group_name=subnet_group.name,
                publicly_accessible=False,
                promotion_tier=min(index, 15),
                auto_minor_version_upgrade=True,
                # Database Insights needs every instance to match the cluster's settings.
                performance_insights_enabled=True,
                performance_insights_kms_key_id=args.kms_key_arn,
                performance_insights_retention_period=INSIGHTS_RETENTION_DAYS[args.insights],
                monitoring_interval=args.monitoring_interval_seconds,
                monitoring_role_arn=monitoring_role.arn,
                copy_tags_to_snapshot=True,
                preferred_maintenance_window=args.maintenance_window,
                apply_immediately=args.apply_immediately,
                tags={"Name": f"{identifier}-{index + 1}", "zone": zone},
                # RDS checks that the monitoring role may publish metrics when the
                # instance is created, not merely that the role exists.
                opts=pulumi.ResourceOptions(
                    parent=self, protect=args.protect, depends_on=[monitoring_policy]
                ),
            )

    def _monitoring_role(
        self, name: str, args: DatabaseArgs
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        role = aws.iam.Role(
            f"{name}-monitoring",
            description=f"Enhanced monitoring of {args.name_prefix}-db",
            assume_role_policy=service_trust_policy("monitoring.rds.amazonaws.com"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring",
            role=role.name,
            policy_arn=_MONITORING_POLICY.format(partition=args.partition),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role, attachment


def _managed_secret_arn(secrets: Sequence[aws.rds.outputs.ClusterMasterUserSecret]) -> str:
    arns = [s.secret_arn for s in secrets if s.secret_arn]
    if not arns:
        raise ValueError("RDS reported no managed master user secret for the cluster")
    return arns[0]
