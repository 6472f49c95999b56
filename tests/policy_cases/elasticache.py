"""Cases for policies/rules/elasticache.py."""

from __future__ import annotations

from tests.policy_cases import passes, undecided, violates
from tests.policy_cases._network import (
    ASSOCIATION,
    IGW,
    PRIVATE,
    PUBLIC,
    ROUTE_TABLE,
    SUBNET,
    routed_subnet,
)
from tests.policy_harness import UNKNOWN, Res

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SUBNET_GROUP = "aws:elasticache/subnetGroup:SubnetGroup"
USER_GROUP = "aws:elasticache/userGroup:UserGroup"
USER = "aws:elasticache/user:User"
VPC = "aws:ec2/vpc:Vpc"
DEFAULT_ROUTE_TABLE = "aws:ec2/defaultRouteTable:DefaultRouteTable"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET = "1b47061264138c4ac30d75fd1eb44270"
TOKEN = {"4dabf18193072939515e22adb298388d": SECRET, "value": "c0mpl1cated-auth-token-value"}
REDIS = {"description": "cache", "engine": "redis", "nodeType": "cache.t4g.small"}


def group(**props: object) -> Res:
    return Res(GROUP, "cache", {**REDIS, **props})


def group_in(subnet_group: str = "cache-subnets", **props: object) -> Res:
    """A replication group whose subnetGroupName comes from a subnet group of the case."""
    return Res(
        GROUP,
        "cache",
        {**REDIS, "subnetGroupName": UNKNOWN, **props},
        {"subnetGroupName": [subnet_group]},
    )


def subnet_group(*subnets: str, **props: object) -> Res:
    return Res(
        SUBNET_GROUP,
        "cache-subnets",
        {"description": "cache subnets", "subnetIds": [UNKNOWN] * len(subnets), **props},
        {"subnetIds": list(subnets)},
    )


ISOLATED = routed_subnet("isolated-a")


def user(name: str, access: object, mode: object) -> Res:
    return Res(USER, name, {"userId": name, "userName": name, "engine": "redis",
                            "accessString": access, "authenticationMode": mode})  # fmt: skip


def rbac(*users: Res) -> tuple[Res, ...]:
    """A group whose user group holds ``users`` and a default user switched off."""
    default = user("default", "off -@all", {"type": "no-password-required"})
    members = (default, *users)
    user_group = Res(USER_GROUP, "users", {"userGroupId": "x", "engine": "redis",
                                           "userIds": [UNKNOWN] * len(members)},
                     {"userIds": [m.name for m in members]})  # fmt: skip
    cache = Res(GROUP, "cache", {**REDIS, "userGroupIds": [UNKNOWN]}, {"userGroupIds": ["users"]})
    return (cache, user_group, *members)


CASES = [
    violates(
        "elasticache-encrypted-at-rest-cmk",
        "Redis is not encrypted at rest by default",
        group(kmsKeyId=KEY),
        message="atRestEncryptionEnabled is not set; expected true",
    ),
    violates(
        "elasticache-encrypted-at-rest-cmk",
        "encryption turned off",
        group(atRestEncryptionEnabled=False, kmsKeyId=KEY),
        message="atRestEncryptionEnabled is false; expected true",
    ),
    violates(
        "elasticache-encrypted-at-rest-cmk",
        "encrypted with the AWS-managed key",
        group(atRestEncryptionEnabled=True),
        message="kmsKeyId is not set; expected a customer-managed KMS key ARN",
    ),
    passes(
        "elasticache-encrypted-at-rest-cmk",
        "encrypted with a customer-managed key",
        group(atRestEncryptionEnabled=True, kmsKeyId=KEY),
    ),
    passes(
        "elasticache-encrypted-at-rest-cmk",
        "key ARN unknown until created counts as set",
        group(atRestEncryptionEnabled=True, kmsKeyId=UNKNOWN),
    ),
    passes(
        "elasticache-encrypted-at-rest-cmk",
        "Valkey encrypts at rest by default",
        group(engine="valkey", kmsKeyId=KEY),
    ),
    violates(
        "elasticache-encrypted-at-rest-cmk",
        "Valkey with encryption turned off",
        group(engine="valkey", atRestEncryptionEnabled=False, kmsKeyId=KEY),
        message="atRestEncryptionEnabled is false; expected true",
    ),
    undecided(
        "elasticache-encrypted-at-rest-cmk",
        "encryption flag unknown",
        group(atRestEncryptionEnabled=UNKNOWN, kmsKeyId=KEY),
    ),
    undecided(
        "elasticache-encrypted-at-rest-cmk",
        "engine unknown and the flag left to its default",
        group(engine=UNKNOWN, kmsKeyId=KEY),
    ),
    violates(
        "elasticache-encrypted-in-transit",
        "off by default",
        group(),
        message="transitEncryptionEnabled is not set; expected true",
    ),
    violates(
        "elasticache-encrypted-in-transit",
        "preferred mode still admits plain text",
        group(transitEncryptionEnabled=True, transitEncryptionMode="preferred"),
        message='transitEncryptionMode is "preferred"; expected one of "required"',
    ),
    passes(
        "elasticache-encrypted-in-transit",
        "TLS required explicitly",
        group(transitEncryptionEnabled=True, transitEncryptionMode="required"),
    ),
    passes(
        "elasticache-encrypted-in-transit",
        "TLS on, mode defaults to required",
        group(transitEncryptionEnabled=True),
    ),
    undecided(
        "elasticache-encrypted-in-transit",
        "encryption flag unknown",
        group(transitEncryptionEnabled=UNKNOWN, transitEncryptionMode="required"),
    ),
    undecided(
        "elasticache-encrypted-in-transit",
        "mode unknown",
        group(transitEncryptionEnabled=True, transitEncryptionMode=UNKNOWN),
    ),
    violates(
        "elasticache-auth-token",
        "neither AUTH token nor user groups",
        group(transitEncryptionEnabled=True),
        message="authToken and userGroupIds are not set",
    ),
    violates(
        "elasticache-auth-token",
        "an empty list of user groups",
        group(transitEncryptionEnabled=True, userGroupIds=[]),
        message="authToken and userGroupIds are not set",
    ),
    passes(
        "elasticache-auth-token",
        "secret AUTH token",
        group(transitEncryptionEnabled=True, authToken=TOKEN),
    ),
    passes(
        "elasticache-auth-token",
        "write-only AUTH token",
        group(transitEncryptionEnabled=True, authTokenWo=TOKEN, authTokenWoVersion=1),
    ),
    passes(
        "elasticache-auth-token",
        "RBAC user group",
        group(transitEncryptionEnabled=True, userGroupIds=["app-users"]),
    ),
    undecided(
        "elasticache-auth-token",
        "token from pulumi-random, unknown until created",
        group(transitEncryptionEnabled=True, authToken=UNKNOWN),
    ),
    undecided(
        "elasticache-auth-token",
        "user groups unknown",
        group(transitEncryptionEnabled=True, userGroupIds=UNKNOWN),
    ),
    violates(
        "elasticache-multi-az-failover",
        "a single node by default",
        group(),
        message="the group has 1 node(s); expected a primary and at least one replica",
    ),
    violates(
        "elasticache-multi-az-failover",
        "replicas without automatic failover",
        group(numCacheClusters=2, multiAzEnabled=True),
        message="automaticFailoverEnabled is false; expected true",
    ),
    violates(
        "elasticache-multi-az-failover",
        "failover without Multi-AZ",
        group(numCacheClusters=3, automaticFailoverEnabled=True, multiAzEnabled=False),
        message="multiAzEnabled is false; expected true",
    ),
    violates(
        "elasticache-multi-az-failover",
        "shards without replicas",
        group(numNodeGroups=2, automaticFailoverEnabled=True, multiAzEnabled=True),
        message="the group has 1 node(s)",
    ),
    passes(
        "elasticache-multi-az-failover",
        "primary and replica with Multi-AZ failover",
        group(numCacheClusters=2, automaticFailoverEnabled=True, multiAzEnabled=True),
    ),
    passes(
        "elasticache-multi-az-failover",
        "cluster mode with a replica per shard",
        group(
            numNodeGroups=2,
            replicasPerNodeGroup=1,
            automaticFailoverEnabled=True,
            multiAzEnabled=True,
        ),
    ),
    undecided(
        "elasticache-multi-az-failover",
        "node count unknown",
        group(numCacheClusters=UNKNOWN, automaticFailoverEnabled=True, multiAzEnabled=True),
    ),
    undecided(
        "elasticache-multi-az-failover",
        "replicas per shard unknown",
        group(
            numNodeGroups=2,
            replicasPerNodeGroup=UNKNOWN,
            automaticFailoverEnabled=True,
            multiAzEnabled=True,
        ),
    ),
    undecided(
        "elasticache-multi-az-failover",
        "Multi-AZ flag unknown",
        group(numCacheClusters=2, automaticFailoverEnabled=True, multiAzEnabled=UNKNOWN),
    ),
    violates(
        "elasticache-snapshot-retention",
        "no automatic snapshots by default",
        group(),
        message="snapshotRetentionLimit is not set; expected at least 1",
    ),
    violates(
        "elasticache-snapshot-retention",
        "snapshots turned off",
        group(snapshotRetentionLimit=0),
        message="snapshotRetentionLimit is 0; expected at least 1",
    ),
    violates(
        "elasticache-snapshot-retention",
        "below a configured minimum",
        group(snapshotRetentionLimit=7),
        config={"minimumDays": 14},
        message="expected at least 14 (parameter minimumDays)",
    ),
    passes("elasticache-snapshot-retention", "a day of snapshots", group(snapshotRetentionLimit=1)),
    passes(
        "elasticache-snapshot-retention",
        "meets a configured minimum",
        group(snapshotRetentionLimit=35),
        config={"minimumDays": 35},
    ),
    undecided(
        "elasticache-snapshot-retention", "limit unknown", group(snapshotRetentionLimit=UNKNOWN)
    ),
    violates(
        "elasticache-auto-minor-version-upgrade",
        "turned off",
        group(autoMinorVersionUpgrade=False),
        message="autoMinorVersionUpgrade is false; expected true",
    ),
    passes("elasticache-auto-minor-version-upgrade", "on by default", group()),
    passes("elasticache-auto-minor-version-upgrade", "on", group(autoMinorVersionUpgrade=True)),
    undecided(
        "elasticache-auto-minor-version-upgrade",
        "flag unknown",
        group(autoMinorVersionUpgrade=UNKNOWN),
    ),
    violates(
        "elasticache-isolated-subnets",
        "default subnet group",
        group(),
        at="cache",
        message="has no subnetGroupName",
    ),
    violates(
        "elasticache-isolated-subnets",
        "subnet group holding a subnet routed to an internet gateway",
        group_in(),
        subnet_group("isolated-a", "public-a"),
        *ISOLATED,
        *PUBLIC,
        IGW,
        at="cache",
        message="holds public subnet 'public-a'",
    ),
    violates(
        "elasticache-isolated-subnets",
        "route to an internet gateway made elsewhere (igw- id)",
        group_in(),
        subnet_group("public-a"),
        *routed_subnet("public-a", {"gatewayId": "igw-0123456789abcdef0"}),
        at="cache",
        message="public subnet 'public-a'",
    ),
    violates(
        "elasticache-isolated-subnets",
        "inline route of the route table to an internet gateway",
        group_in(),
        subnet_group("public-a"),
        Res(SUBNET, "public-a", {"vpcId": "vpc-0abc", "cidrBlock": "10.0.0.0/24"}),
        Res(
            ROUTE_TABLE,
            "public-rt",
            {"vpcId": "vpc-0abc", "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": UNKNOWN}]},
            {"routes": ["igw"]},
        ),
        Res(
            ASSOCIATION,
            "public-a-rta",
            {"subnetId": UNKNOWN, "routeTableId": UNKNOWN},
            {"subnetId": ["public-a"], "routeTableId": ["public-rt"]},
        ),
        IGW,
        at="cache",
        message="public subnet 'public-a'",
    ),
    violates(
        "elasticache-isolated-subnets",
        "subnet on the VPC's main route table, adopted with a route to an internet gateway",
        group_in(),
        subnet_group("public-a"),
        Res(VPC, "vpc", {"cidrBlock": "10.0.0.0/16"}),
        Res(SUBNET, "public-a", {"vpcId": UNKNOWN, "cidrBlock": "10.0.0.0/24"}, {"vpcId": ["vpc"]}),
        Res(
            DEFAULT_ROUTE_TABLE,
            "main-rt",
            {
                "defaultRouteTableId": UNKNOWN,
                "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": UNKNOWN}],
            },
            {"defaultRouteTableId": ["vpc"], "routes": ["igw"]},
        ),
        IGW,
        at="cache",
        message="public subnet 'public-a'",
    ),
    passes(
        "elasticache-isolated-subnets",
        "subnet on a main route table AWS created (local routes only)",
        group_in(),
        subnet_group("isolated-a"),
        Res(VPC, "vpc", {"cidrBlock": "10.0.0.0/16"}),
        Res(
            SUBNET, "isolated-a", {"vpcId": UNKNOWN, "cidrBlock": "10.0.0.0/24"}, {"vpcId": ["vpc"]}
        ),
    ),
    passes(
        "elasticache-isolated-subnets",
        "isolated and NAT-routed subnets",
        group_in(),
        subnet_group("isolated-a", "private-a"),
        *ISOLATED,
        *PRIVATE,
        *PUBLIC,
        IGW,
    ),
    passes(
        "elasticache-isolated-subnets",
        "a named subnet group managed elsewhere",
        group(subnetGroupName="shared-cache-subnets"),
    ),
    undecided(
        "elasticache-isolated-subnets",
        "subnet group name unknown, from outside the stack",
        group(subnetGroupName=UNKNOWN),
    ),
    undecided(
        "elasticache-isolated-subnets",
        "subnet ids of the group unknown, from outside the stack",
        group_in(),
        subnet_group(subnetIds=UNKNOWN),
    ),
    violates("elasticache-iam-authentication", "a group on an AUTH token",
             group(authToken=TOKEN), message="AUTH token", at="cache"),
    violates("elasticache-iam-authentication", "a password user switched on",
             *rbac(user("app", "on ~* +@all", {"type": "password", "passwords": ["x"]})),
             message="connects with password"),
    passes("elasticache-iam-authentication", "IAM users, and password users switched off",
           *rbac(user("app", "on ~* +@all -@dangerous", {"type": "iam"}),
                 user("breakglass", "off ~* +@all", {"type": "password", "passwords": ["x"]}))),
    undecided("elasticache-iam-authentication", "a user's access is not known yet",
              *rbac(user("app", UNKNOWN, {"type": "iam"}))),
]  # fmt: skip
