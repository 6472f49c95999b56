"""Cases for policies/rules/eks.py."""

from __future__ import annotations

from tests.policy_cases import passes, undecided, violates
from tests.policy_cases._network import IGW, PUBLIC, routed_subnet
from tests.policy_harness import UNKNOWN, Res

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::123456789012:role/eks"
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
SECRETS = {"resources": ["secrets"], "provider": {"keyArn": KEY}}


def cluster(vpc: dict[str, object] | None = None, **props: object) -> Res:
    vpc_config = {"subnetIds": ["subnet-0a", "subnet-0b"], **(vpc or {})}
    return Res(
        CLUSTER, "eks", {"roleArn": ROLE, "version": "1.34", "vpcConfig": vpc_config, **props}
    )


def node_group(**props: object) -> Res:
    return Res(
        NODE_GROUP,
        "nodes",
        {
            "clusterName": "eks",
            "nodeRoleArn": ROLE,
            "subnetIds": ["subnet-0a"],
            "scalingConfig": {"desiredSize": 2, "minSize": 2, "maxSize": 4},
            **props,
        },
    )


def nodes_in(*subnets: str, **props: object) -> Res:
    """A node group whose subnetIds come from subnets of the case."""
    return Res(
        NODE_GROUP,
        "nodes",
        {
            "clusterName": "eks",
            "nodeRoleArn": ROLE,
            "subnetIds": [UNKNOWN] * len(subnets),
            "scalingConfig": {"desiredSize": 2, "minSize": 2, "maxSize": 4},
            **props,
        },
        {"subnetIds": list(subnets)},
    )


PRIVATE_A = routed_subnet("private-a", {"natGatewayId": "nat-0123456789abcdef0"})
PRIVATE_B = routed_subnet("private-b", {"natGatewayId": "nat-0123456789abcdef0"})

CASES = [
    violates(
        "eks-secrets-encryption",
        "no encryption config",
        cluster(),
        message='encryptionConfig.resources is not set; expected a list including "secrets"',
    ),
    violates(
        "eks-secrets-encryption",
        "config without a key",
        cluster(encryptionConfig={"resources": ["secrets"], "provider": {}}),
        message="encryptionConfig.provider.keyArn is not set",
    ),
    violates(
        "eks-secrets-encryption",
        "config that leaves secrets out",
        cluster(encryptionConfig={"resources": [], "provider": {"keyArn": KEY}}),
        message='expected a list including "secrets"',
    ),
    passes(
        "eks-secrets-encryption", "secrets encrypted with a key", cluster(encryptionConfig=SECRETS)
    ),
    passes(
        "eks-secrets-encryption",
        "key ARN unknown until created counts as set",
        cluster(encryptionConfig={"resources": ["secrets"], "provider": {"keyArn": UNKNOWN}}),
    ),
    undecided(
        "eks-secrets-encryption",
        "resource list unknown",
        cluster(encryptionConfig={"resources": UNKNOWN, "provider": {"keyArn": KEY}}),
    ),
    undecided(
        "eks-secrets-encryption",
        "a resource of the list unknown",
        cluster(encryptionConfig={"resources": [UNKNOWN], "provider": {"keyArn": KEY}}),
    ),
    violates(
        "eks-public-endpoint-restricted",
        "public endpoint open to the world by default",
        cluster(),
        message="the public API endpoint admits 0.0.0.0/0",
    ),
    violates(
        "eks-public-endpoint-restricted",
        "a malformed range is reported, not a crash",
        cluster({"endpointPublicAccess": True, "publicAccessCidrs": ["10.0.0.300/32"]}),
        message='publicAccessCidrs holds "10.0.0.300/32", which is not a CIDR range',
    ),
    violates(
        "eks-public-endpoint-restricted",
        "public endpoint open to IPv6 ::/0",
        cluster({"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24", "::/0"]}),
        message="the public API endpoint admits ::/0",
    ),
    violates(
        "eks-public-endpoint-restricted",
        "empty range list means the AWS default of 0.0.0.0/0",
        cluster({"endpointPublicAccess": True, "publicAccessCidrs": []}),
        message="admits 0.0.0.0/0",
    ),
    violates(
        "eks-public-endpoint-restricted",
        "a range outside the allowed ranges",
        cluster({"publicAccessCidrs": ["203.0.113.0/24", "198.51.100.0/24"]}),
        config={"allowedPublicCidrs": ["203.0.113.0/24"]},
        message='admits 198.51.100.0/24, outside allowedPublicCidrs ["203.0.113.0/24"]',
    ),
    passes(
        "eks-public-endpoint-restricted",
        "public endpoint limited to named ranges",
        cluster({"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}),
    ),
    passes(
        "eks-public-endpoint-restricted",
        "ranges inside the allowed ranges",
        cluster({"publicAccessCidrs": ["203.0.113.16/28", "2001:db8::/48"]}),
        config={"allowedPublicCidrs": ["203.0.113.0/24", "2001:db8::/32"]},
    ),
    passes(
        "eks-public-endpoint-restricted",
        "no public endpoint",
        cluster({"endpointPublicAccess": False, "endpointPrivateAccess": True}),
    ),
    undecided(
        "eks-public-endpoint-restricted",
        "public access flag unknown",
        cluster({"endpointPublicAccess": UNKNOWN}),
    ),
    undecided(
        "eks-public-endpoint-restricted",
        "range list unknown",
        cluster({"endpointPublicAccess": True, "publicAccessCidrs": UNKNOWN}),
    ),
    undecided(
        "eks-public-endpoint-restricted",
        "a range unknown",
        cluster({"endpointPublicAccess": True, "publicAccessCidrs": [UNKNOWN]}),
    ),
    violates(
        "eks-private-endpoint-only",
        "public endpoint on by default",
        cluster({"endpointPrivateAccess": True}),
        message="vpcConfig.endpointPublicAccess is not set; expected false",
    ),
    violates(
        "eks-private-endpoint-only",
        "private endpoint off by default",
        cluster({"endpointPublicAccess": False}),
        message="vpcConfig.endpointPrivateAccess is not set; expected true",
    ),
    violates(
        "eks-private-endpoint-only",
        "public endpoint limited to ranges is still public",
        cluster(
            {
                "endpointPublicAccess": True,
                "endpointPrivateAccess": True,
                "publicAccessCidrs": ["203.0.113.0/24"],
            }
        ),
        message="vpcConfig.endpointPublicAccess is true; expected false",
    ),
    passes(
        "eks-private-endpoint-only",
        "private endpoint only",
        cluster({"endpointPublicAccess": False, "endpointPrivateAccess": True}),
    ),
    undecided(
        "eks-private-endpoint-only",
        "public access flag unknown",
        cluster({"endpointPublicAccess": UNKNOWN, "endpointPrivateAccess": True}),
    ),
    violates(
        "eks-control-plane-logging",
        "no control-plane logs",
        cluster(),
        message='enabledClusterLogTypes is not set; expected a list including "api", "audit"',
    ),
    violates(
        "eks-control-plane-logging",
        "audit log missing",
        cluster(enabledClusterLogTypes=["api", "authenticator", "controllerManager", "scheduler"]),
        message="enabledClusterLogTypes is",
    ),
    violates(
        "eks-control-plane-logging",
        "a configured type missing",
        cluster(enabledClusterLogTypes=["api"]),
        config={"logTypes": ["api", "audit"]},
        message='["api"]; expected a list including "api", "audit"',
    ),
    passes(
        "eks-control-plane-logging", "all five types", cluster(enabledClusterLogTypes=LOG_TYPES)
    ),
    passes(
        "eks-control-plane-logging",
        "the configured types",
        cluster(enabledClusterLogTypes=["audit"]),
        config={"logTypes": ["audit"]},
    ),
    undecided(
        "eks-control-plane-logging", "type list unknown", cluster(enabledClusterLogTypes=UNKNOWN)
    ),
    undecided(
        "eks-control-plane-logging",
        "a missing type may be the unknown one",
        cluster(enabledClusterLogTypes=["api", "audit", "authenticator", "scheduler", UNKNOWN]),
    ),
    violates(
        "eks-supported-version",
        "an old cluster version",
        cluster(version="1.29"),
        message='version is "1.29"; expected one of "1.35", "1.36"',
    ),
    violates(
        "eks-supported-version",
        "cluster version not pinned",
        Res(CLUSTER, "eks", {"roleArn": ROLE, "vpcConfig": {"subnetIds": ["subnet-0a"]}}),
        message="version is not set",
    ),
    violates(
        "eks-supported-version",
        "node group pinned to an old version",
        node_group(version="1.31"),
        message='version is "1.31"',
    ),
    violates(
        "eks-supported-version",
        "outside a configured list",
        cluster(version="1.35"),
        config={"supportedVersions": ["1.36"]},
        message='expected one of "1.36" (parameter supportedVersions)',
    ),
    violates(
        "eks-supported-version",
        "a version whose standard support has ended",
        cluster(version="1.34"),
        message='version is "1.34"',
    ),
    passes("eks-supported-version", "supported cluster version", cluster(version="1.35")),
    passes("eks-supported-version", "node group follows its cluster", node_group()),
    passes(
        "eks-supported-version",
        "in a configured list",
        cluster(version="1.33"),
        node_group(version="1.33"),
        config={"supportedVersions": ["1.33"]},
    ),
    undecided("eks-supported-version", "cluster version unknown", cluster(version=UNKNOWN)),
    undecided("eks-supported-version", "node group version unknown", node_group(version=UNKNOWN)),
    violates(
        "eks-node-group-launch-template",
        "no launch template",
        node_group(),
        message="launchTemplate is not set; expected a launch template of this stack",
    ),
    violates(
        "eks-node-group-launch-template",
        "empty launch template",
        node_group(launchTemplate={}),
        message="launchTemplate is",
    ),
    passes(
        "eks-node-group-launch-template",
        "launch template by id and version",
        node_group(launchTemplate={"id": "lt-0123456789abcdef0", "version": "3"}),
    ),
    undecided(
        "eks-node-group-launch-template",
        "template id and version unknown until created",
        node_group(launchTemplate={"id": UNKNOWN, "version": UNKNOWN}),
    ),
    undecided(
        "eks-node-group-launch-template",
        "template unknown",
        node_group(launchTemplate=UNKNOWN),
    ),
    violates(
        "eks-nodes-private-subnets",
        "nodes in a subnet routed to an internet gateway",
        nodes_in("private-a", "public-a"),
        *PRIVATE_A,
        *PUBLIC,
        IGW,
        at="nodes",
        message="places nodes in public subnet 'public-a'",
    ),
    violates(
        "eks-nodes-private-subnets",
        "route to an internet gateway made elsewhere (igw- id)",
        nodes_in("public-a"),
        *routed_subnet("public-a", {"gatewayId": "igw-0123456789abcdef0"}),
        at="nodes",
        message="public subnet 'public-a'",
    ),
    violates(
        "eks-nodes-private-subnets",
        "no subnets",
        Res(NODE_GROUP, "nodes", {"clusterName": "eks", "nodeRoleArn": ROLE}),
        at="nodes",
        message="has no subnetIds",
    ),
    passes(
        "eks-nodes-private-subnets",
        "nodes in NAT-routed subnets",
        nodes_in("private-a", "private-b"),
        *PRIVATE_A,
        *PRIVATE_B,
        *PUBLIC,
        IGW,
    ),
    passes(
        "eks-nodes-private-subnets",
        "subnets this stack does not manage",
        node_group(subnetIds=["subnet-0a", "subnet-0b"]),
    ),
    undecided(
        "eks-nodes-private-subnets",
        "subnet ids unknown, from outside the stack",
        node_group(subnetIds=UNKNOWN),
    ),
    undecided(
        "eks-nodes-private-subnets",
        "route target unknown, from outside the stack",
        nodes_in("private-a"),
        *routed_subnet("private-a", {"gatewayId": UNKNOWN}),
    ),
]
