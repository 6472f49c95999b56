"""ElastiCache Redis (one shard, a primary and replicas) with TLS and IAM authentication:
each service connects as its own ElastiCache user with a short-lived IAM token, so no
long-lived password exists to leak or rotate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.parts import (
    VENDED_LOGS_PREFIX,
    LogArchive,
    final_snapshot_name,
    log_group,
    security_group_for_clients,
)

PORT = 6379
# What a service's user may run: everything but the commands that reconfigure or wipe the
# server (Redis's @dangerous category: FLUSHALL, CONFIG, DEBUG, ...).
SERVICE_ACCESS = "on ~* +@all -@dangerous"
# Every user group must hold a user named "default"; this one can do nothing ("off").
DEFAULT_ACCESS = "off -@all"
# The break-glass user, for when IAM authentication itself fails: switched off until an
# administrator switches it on (docs/components.md says how), its password in Secrets Manager.
BREAK_GLASS_ACCESS = "off ~* +@all"


@dataclass(frozen=True)
class CacheArgs:
    name_prefix: str
    engine_version: str  # pinned, e.g. "7.1"
    node_type: str
    node_count: int  # the primary plus replicas; more than one means Multi-AZ failover
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]  # isolated subnets
    availability_zones: Sequence[str]
    client_security_group_ids: Sequence[pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]
    logs: LogArchive
    snapshot_retention_days: int
    snapshot_window: str
    maintenance_window: str
    maxmemory_policy: str
    final_snapshot: bool
    apply_immediately: bool
    # The services that connect, each as its own IAM-authenticated user.
    users: Sequence[str]
    protect: bool


class Cache(pulumi.ComponentResource):
    """A Redis replication group encrypted at rest (CMK) and in transit (TLS required), whose
    clients authenticate as IAM users (RBAC): ``user_ids`` and ``user_arns`` by service, and
    ``arn``, are what a service's role needs for ``elasticache:Connect``."""

    replication_group_id: str
    arn: pulumi.Output[str]
    member_clusters: pulumi.Output[Sequence[str]]
    primary_endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]
    port: int
    user_ids: dict[str, str]
    user_arns: dict[str, pulumi.Output[str]]
    break_glass_secret_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:components:Cache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group_id = f"{args.name_prefix}-cache"
        if len(group_id) > 40:
            raise ValueError(f"replication group id {group_id!r} is longer than 40 characters")

        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            description=f"Isolated subnets of {args.name_prefix}",
            subnet_ids=args.subnet_ids,
            opts=child,
        )
        security_group = security_group_for_clients(
            f"{name}-sg",
            name=group_id,
            description=f"Redis of {args.name_prefix} from its client security groups",
            vpc_id=args.vpc_id,
            port=PORT,
            client_security_group_ids=args.client_security_group_ids,
            parent=self,
        )
        parameters = self._parameters(name, args, group_id)
        # Log delivery lists each destination group in the account's CloudWatch Logs
        # resource policy (5,120 characters per region, shared by every stack); groups
        # under /aws/vendedlogs/ are covered by one wildcard entry instead.
        slow_log = log_group(
            f"{name}-slow-log",
            name=f"{VENDED_LOGS_PREFIX}/elasticache/{group_id}/slow-log",
            archive=args.logs,
            protect=args.protect,
            parent=self,
        )
        users = self._users(name, args, group_id)
        group = self._group(
            name, args, group_id,
            subnet_group=subnet_group, security_group=security_group,
            parameters=parameters, slow_log=slow_log, users=users,
        )  # fmt: skip

        self.replication_group_id = group_id
        self.arn = group.arn
        # The node clusters of the group (<id>-001, ...), as CloudWatch names each node.
        self.member_clusters = group.member_clusters
        self.primary_endpoint = group.primary_endpoint_address
        self.reader_endpoint = group.reader_endpoint_address
        self.port = PORT
        self.security_group_id = security_group.id
        self.register_outputs(
            {
                "arn": self.arn,
                "primaryEndpoint": self.primary_endpoint,
                "readerEndpoint": self.reader_endpoint,
                "port": self.port,
                "userIds": self.user_ids,
                "breakGlassSecretArn": self.break_glass_secret_arn,
                "securityGroupId": self.security_group_id,
            }
        )

    def _parameters(
        self, name: str, args: CacheArgs, group_id: str
    ) -> aws.elasticache.ParameterGroup:
        child = pulumi.ResourceOptions(parent=self)
        return aws.elasticache.ParameterGroup(
            f"{name}-params",
            family=f"redis{args.engine_version.split('.')[0]}",
            description=f"Eviction and slow log settings for {group_id}",
            parameters=[
                aws.elasticache.ParameterGroupParameterArgs(
                    name="maxmemory-policy", value=args.maxmemory_policy
                ),
                # Commands slower than 10 ms reach the slow log (and CloudWatch).
                aws.elasticache.ParameterGroupParameterArgs(
                    name="slowlog-log-slower-than", value="10000"
                ),
            ],
            opts=child,
        )

    def _users(self, name: str, args: CacheArgs, group_id: str) -> aws.elasticache.UserGroup:
        """A user per service, authenticated by IAM (its ID is its name, as IAM
        authentication requires), and the group's mandatory "default" user, switched off."""
        child = pulumi.ResourceOptions(parent=self)
        default = aws.elasticache.User(
            f"{name}-default-user",
            user_id=f"{group_id}-default",
            user_name="default",
            engine="redis",
            access_string=DEFAULT_ACCESS,
            authentication_mode=aws.elasticache.UserAuthenticationModeArgs(
                type="no-password-required"
            ),
            opts=child,
        )
        self.user_ids, self.user_arns = {}, {}
        members = [default, self._break_glass(name, args, group_id)]
        for service in args.users:
            user_id = f"{args.name_prefix}-{service}"
            user = aws.elasticache.User(
                f"{name}-user-{service}",
                user_id=user_id,
                user_name=user_id,
                engine="redis",
                access_string=SERVICE_ACCESS,
                authentication_mode=aws.elasticache.UserAuthenticationModeArgs(type="iam"),
                opts=child,
            )
            self.user_ids[service] = user_id
            self.user_arns[service] = user.arn
            members.append(user)
        return aws.elasticache.UserGroup(
            f"{name}-users",
            user_group_id=f"{group_id}-users",
            engine="redis",
            user_ids=[u.user_id for u in members],
            opts=child,
        )

    def _break_glass(self, name: str, args: CacheArgs, group_id: str) -> aws.elasticache.User:
        """A password user, off: the way in when IAM authentication fails. Its password is
        generated by pulumi-random and kept in Secrets Manager on the cache's key; no
        service's role may read it."""
        child = pulumi.ResourceOptions(parent=self)
        # Letters and digits only: ElastiCache refuses some punctuation in passwords, and 64
        # characters of this alphabet is far beyond guessing.
        password = random.RandomPassword(
            f"{name}-break-glass", length=64, special=False, opts=child
        )
        secret = aws.secretsmanager.Secret(
            f"{name}-break-glass",
            description=f"Break-glass password of Redis {group_id} (user breakglass, off)",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=30 if args.protect else 7,
            # Rotated by a person after each use (pulumi up --replace of the password), as
            # docs/components.md says; the secrets-rotation policy reads this tag.
            tags={"rotation": "replace-after-use"},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-break-glass", secret_id=secret.id, secret_string=password.result, opts=child
        )
        self.break_glass_secret_arn = secret.arn
        return aws.elasticache.User(
            f"{name}-break-glass-user",
            user_id=f"{group_id}-breakglass",
            user_name="breakglass",
            engine="redis",
            access_string=BREAK_GLASS_ACCESS,
            authentication_mode=aws.elasticache.UserAuthenticationModeArgs(
                type="password", passwords=[password.result]
            ),
            opts=child,
        )

    def _group(
        self,
        name: str,
        args: CacheArgs,
        group_id: str,
        *,
        subnet_group: aws.elasticache.SubnetGroup,
        security_group: aws.ec2.SecurityGroup,
        parameters: aws.elasticache.ParameterGroup,
        slow_log: aws.cloudwatch.LogGroup,
        users: aws.elasticache.UserGroup,
    ) -> aws.elasticache.ReplicationGroup:
        highly_available = args.node_count > 1
        final_snapshot_identifier = (
            final_snapshot_name(f"{name}-final-snapshot", prefix=group_id, parent=self)
            if args.final_snapshot
            else None
        )

        zones = [
            args.availability_zones[i % len(args.availability_zones)]
            for i in range(args.node_count)
        ]
        return aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            replication_group_id=group_id,
            description=f"Redis of {args.name_prefix}",
            engine="redis",
            engine_version=args.engine_version,
            node_type=args.node_type,
            num_cache_clusters=args.node_count,
            preferred_cache_cluster_azs=zones,
            port=PORT,
            parameter_group_name=parameters.name,
            subnet_group_name=subnet_group.name,
            security_group_ids=[security_group.id],
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            # IAM authentication through the user group: no AUTH token (the two exclude
            # each other), so no long-lived password to keep, leak or rotate.
            user_group_ids=[users.user_group_id],
            automatic_failover_enabled=highly_available,
            multi_az_enabled=highly_available,
            snapshot_retention_limit=args.snapshot_retention_days,
            snapshot_window=args.snapshot_window,
            maintenance_window=args.maintenance_window,
            final_snapshot_identifier=final_snapshot_identifier,
            auto_minor_version_upgrade=True,
            apply_immediately=args.apply_immediately,
            log_delivery_configurations=[
                aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
                    destination=slow_log.name,
                    destination_type="cloudwatch-logs",
                    log_format="json",
                    log_type="slow-log",
                )
            ],
            tags={"Name": group_id},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
