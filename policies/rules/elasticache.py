"""ElastiCache (Redis): encryption at rest and in transit, AUTH, failover, backups, placement."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.framework import params
from policies.framework.checks import AtLeast, Check, Equals, OneOf, Present, property_rule
from policies.framework.resources import Resource, StackView
from policies.framework.rule import (
    Compliance,
    Finding,
    Pack,
    ResourceRule,
    StackRule,
    stack_rule,
)
from policies.framework.values import MISSING, is_unknown, show, truthy, unknown
from policies.rules.networking import SUBNET, is_public_subnet

REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SUBNET_GROUP = "aws:elasticache/subnetGroup:SubnetGroup"
USER_GROUP = "aws:elasticache/userGroup:UserGroup"
USER = "aws:elasticache/user:User"

_CUSTOMER_KEY = Check("kmsKeyId", Present("a customer-managed KMS key ARN"))


def _encrypted_at_rest(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    # AWS encrypts a Valkey group at rest unless told not to, a Redis OSS one (the default
    # engine) only when asked: what an absent flag means depends on the engine.
    engine = resource.get("engine", "redis")
    if is_unknown(engine) and resource.get("atRestEncryptionEnabled") is MISSING:
        raise unknown(engine, "engine")
    flag = Check("atRestEncryptionEnabled", Equals(True, absent=engine == "valkey"))
    yield from flag.findings(resource, settings)
    yield from _CUSTOMER_KEY.findings(resource, settings)


encrypted_at_rest = ResourceRule(
    name="elasticache-encrypted-at-rest-cmk",
    description="Cache data and snapshots are encrypted at rest with a customer-managed key.",
    remediation="Set atRestEncryptionEnabled: true and kmsKeyId to a KMS key of this stack "
    "(a new replication group: encryption cannot be turned on later).",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(REPLICATION_GROUP,),
    compliance=Compliance(fsbp=("ElastiCache.4",), checkov=("CKV_AWS_29", "CKV_AWS_191")),
    evaluate=_encrypted_at_rest,
)

encrypted_in_transit = property_rule(
    name="elasticache-encrypted-in-transit",
    description="Clients reach the cache over TLS only.",
    remediation="Set transitEncryptionEnabled: true with transitEncryptionMode: required.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(REPLICATION_GROUP,),
    compliance=Compliance(fsbp=("ElastiCache.5",), checkov=("CKV_AWS_30",)),
    checks=(
        Check("transitEncryptionEnabled", Equals(True, absent=False)),
        # "preferred" still accepts plain-text clients while migrating.
        Check("transitEncryptionMode", OneOf(("required",), absent="required")),
    ),
)


def _auth(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    # authTokenWo is the write-only form of the token (kept out of the state).
    tokens = [resource.get("authToken"), resource.get("authTokenWo")]
    users = resource.get("userGroupIds")
    if all(t is MISSING for t in tokens) and users in (MISSING, []):
        yield (
            "authToken and userGroupIds are not set; expected an AUTH token (from "
            "pulumi-random, kept as a secret) or RBAC user groups"
        )


auth_token = ResourceRule(
    name="elasticache-auth-token",
    description="Clients must authenticate to the cache (Redis AUTH or RBAC users).",
    remediation="Set authToken from a pulumi-random RandomPassword (a secret) and keep it in "
    "Secrets Manager, or use userGroupIds with RBAC users.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(REPLICATION_GROUP,),
    compliance=Compliance(fsbp=("ElastiCache.6",), checkov=("CKV_AWS_31",)),
    evaluate=_auth,
)


def _iam_only(group: Resource, stack: StackView, _: Mapping[str, Any]) -> Iterator[str]:
    if group.get("userGroupIds", None) in (None, MISSING, []):
        yield (
            f"{group.label} authenticates clients with an AUTH token (or not at all): a "
            "long-lived password every client shares"
        )
        return
    for user_group in group.sources("userGroupIds", USER_GROUP):
        for user in user_group.sources("userIds", USER):
            access = user.get("accessString", None)
            mode = user.get("authenticationMode", None)
            if is_unknown(access) or is_unknown(mode):
                raise unknown(access if is_unknown(access) else mode, "authenticationMode")
            enabled = isinstance(access, str) and access.split()[:1] == ["on"]
            kind = mode.get("type") if isinstance(mode, Mapping) else None
            if enabled and kind != "iam":
                yield (
                    f"{user.label} connects with {kind or 'no authentication'}; "
                    "expected authenticationMode iam for every user that is switched on"
                )


iam_authentication = stack_rule(
    over=(REPLICATION_GROUP,),
    name="elasticache-iam-authentication",
    description="Clients authenticate to the cache as IAM-authenticated users; any password "
    "user (the group's default, break-glass) is switched off.",
    remediation="Use userGroupIds with a user per client whose authenticationMode is iam "
    "(components/cache.py), and keep password users' accessString starting with off.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(REPLICATION_GROUP, USER_GROUP, USER),
    judge=_iam_only,
)


def _node_count(resource: Resource) -> Any:
    clusters = resource.get("numCacheClusters")
    if clusters is not MISSING:
        return clusters
    replicas = resource.get("replicasPerNodeGroup", 0)
    return replicas if is_unknown(replicas) else int(replicas) + 1


def _failover(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    nodes = _node_count(resource)
    if is_unknown(nodes):
        raise unknown(nodes, "numCacheClusters")
    if int(nodes) < 2:
        yield f"the group has {nodes} node(s); expected a primary and at least one replica"
    for key in ("automaticFailoverEnabled", "multiAzEnabled"):
        value = resource.get(key, False)
        if is_unknown(value):
            raise unknown(value, key)
        if not truthy(value):
            yield f"{key} is {show(key, value)}; expected true"


multi_az_failover = ResourceRule(
    name="elasticache-multi-az-failover",
    description="The cache fails over to a replica in another zone when its primary fails.",
    remediation="Run at least two nodes (platform:cache.nodeCount) with "
    "automaticFailoverEnabled and multiAzEnabled.",
    severity=Severity.HIGH,
    pack=Pack.QUALITY,
    resource_types=(REPLICATION_GROUP,),
    compliance=Compliance(fsbp=("ElastiCache.3",), checkov=("CKV2_AWS_50",)),
    evaluate=_failover,
)

snapshot_retention = property_rule(
    name="elasticache-snapshot-retention",
    description="Automatic cache snapshots are kept at least the configured number of days.",
    remediation="Raise snapshotRetentionLimit (platform:cache.snapshotRetentionDays).",
    severity=Severity.MEDIUM,
    pack=Pack.QUALITY,
    resource_types=(REPLICATION_GROUP,),
    compliance=Compliance(fsbp=("ElastiCache.1",), checkov=("CKV_AWS_134",)),
    params=(
        params.integer(
            "minimumDays",
            "days of automatic snapshots a cache must keep, 1-35",
            default=1,
            minimum=1,
            maximum=35,
        ),
    ),
    checks=(Check("snapshotRetentionLimit", AtLeast("minimumDays", absent=0)),),
)

auto_minor_version_upgrade = property_rule(
    name="elasticache-auto-minor-version-upgrade",
    description="The cache takes minor engine versions (security fixes) automatically.",
    remediation="Set autoMinorVersionUpgrade: true (the default).",
    severity=Severity.MEDIUM,
    pack=Pack.QUALITY,
    resource_types=(REPLICATION_GROUP,),
    compliance=Compliance(fsbp=("ElastiCache.2",)),
    checks=(Check("autoMinorVersionUpgrade", Equals(True, absent=True)),),
)


def _isolated_subnets(stack: StackView, settings: Mapping[str, Any]) -> Iterator[Finding]:
    for group in stack.of_type(REPLICATION_GROUP):
        subnet_groups = group.sources("subnetGroupName", SUBNET_GROUP)
        if group.get("subnetGroupName") is MISSING:
            yield Finding(
                f"{group.label} has no subnetGroupName; expected a subnet group of private "
                "subnets (the default subnet group uses the default VPC's public subnets)",
                group.urn,
            )
        for subnet_group in subnet_groups:
            for subnet in subnet_group.sources("subnetIds", SUBNET):
                if is_public_subnet(stack, subnet):
                    yield Finding(
                        f"{group.label} uses subnet group {subnet_group.name!r}, which holds "
                        f"public subnet {subnet.name!r} (routed to an internet gateway)",
                        group.urn,
                    )


isolated_subnets = StackRule(
    name="elasticache-isolated-subnets",
    description="Caches live in subnets with no route from the internet.",
    remediation="Give the replication group a subnet group of the isolated (or private) subnets.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(REPLICATION_GROUP, SUBNET_GROUP, SUBNET),
    compliance=Compliance(fsbp=("ElastiCache.7",), checkov=("CKV_AWS_323",)),
    evaluate=_isolated_subnets,
)

RULES = (
    encrypted_at_rest,
    encrypted_in_transit,
    auth_token,
    iam_authentication,
    multi_az_failover,
    snapshot_retention,
    auto_minor_version_upgrade,
    isolated_subnets,
)
