"""EKS: secrets encryption, API endpoint exposure, audit logs, supported versions, nodes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from policies.framework import params
from policies.framework.checks import Check, Equals, Includes, OneOf, Present, property_rule
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Finding, Pack, ResourceRule, StackRule
from policies.framework.values import MISSING, is_unknown, show, truthy, unknown
from policies.rules.networking import SUBNET, is_public_subnet

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

secrets_encryption = property_rule(
    name="eks-secrets-encryption",
    description="Kubernetes secrets are envelope-encrypted with a customer-managed KMS key.",
    remediation="Set encryptionConfig with resources: [secrets] and provider.keyArn to the "
    "stack's eks key.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER,),
    compliance=Compliance(fsbp=("EKS.3",), checkov=("CKV_AWS_58",)),
    checks=(
        Check("encryptionConfig.resources", Includes(("secrets",))),
        Check("encryptionConfig.provider.keyArn", Present("a customer-managed KMS key ARN")),
    ),
)


def _public_endpoint(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    public = resource.get("vpcConfig.endpointPublicAccess", True)  # AWS opens it by default
    if is_unknown(public):
        raise unknown(public, "vpcConfig.endpointPublicAccess")
    if not truthy(public):
        return
    cidrs = resource.get("vpcConfig.publicAccessCidrs", ["0.0.0.0/0"])
    if is_unknown(cidrs) or any(is_unknown(c) for c in cidrs):
        raise unknown(cidrs, "vpcConfig.publicAccessCidrs")
    allowed = [ipaddress.ip_network(c) for c in settings["allowedPublicCidrs"]]
    for cidr in cidrs or ["0.0.0.0/0"]:
        try:
            network = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            yield f"publicAccessCidrs holds {show('cidr', cidr)}, which is not a CIDR range"
            continue
        if network.prefixlen == 0:
            yield (
                f"the public API endpoint admits {cidr}; expected only listed ranges "
                "(vpcConfig.publicAccessCidrs), or no public endpoint"
            )
        elif allowed and not any(
            network.version == a.version and network.subnet_of(a)  # type: ignore[arg-type]
            for a in allowed
        ):
            yield (
                f"the public API endpoint admits {cidr}, outside allowedPublicCidrs "
                f"{show('cidrs', [str(a) for a in allowed])}"
            )


public_endpoint_restricted = ResourceRule(
    name="eks-public-endpoint-restricted",
    description="The cluster's public API endpoint, if any, is not open to the whole internet.",
    remediation="List the office, VPN and CI ranges in platform:cluster.publicAccessCidrs, or "
    "turn the public endpoint off and reach the private one from the VPC.",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER,),
    compliance=Compliance(fsbp=("EKS.1",), checkov=("CKV_AWS_38",)),
    params=(
        params.string_list(
            "allowedPublicCidrs",
            "CIDR ranges the public endpoint may admit (each listed range must sit inside "
            "one of them); empty: any range but 0.0.0.0/0 and ::/0",
            default=[],
            item=params.CIDR,
        ),
    ),
    evaluate=_public_endpoint,
)

private_endpoint_only = property_rule(
    name="eks-private-endpoint-only",
    description="The cluster's API is reachable only from inside the VPC.",
    remediation="Set platform:cluster.publicAccessCidrs: [] (endpointPublicAccess false) and "
    "list the ranges that run `pulumi up` in privateAccessCidrs.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER,),
    # A deliberate choice per stack, not a universal rule: the stack's config turns it on.
    enforcement=EnforcementLevel.ADVISORY,
    compliance=Compliance(fsbp=("EKS.1",), checkov=("CKV_AWS_39",)),
    checks=(
        Check("vpcConfig.endpointPublicAccess", Equals(False, absent=True)),
        Check("vpcConfig.endpointPrivateAccess", Equals(True, absent=False)),
    ),
)

control_plane_logging = property_rule(
    name="eks-control-plane-logging",
    description="Every control-plane log type (API, audit, authenticator, controller "
    "manager, scheduler) goes to CloudWatch Logs.",
    remediation="Set enabledClusterLogTypes to all five types and create the "
    "/aws/eks/<name>/cluster log group first.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(CLUSTER,),
    compliance=Compliance(fsbp=("EKS.8",), checkov=("CKV_AWS_37",)),
    params=(
        params.string_list(
            "logTypes",
            "control-plane log types that must be on",
            default=LOG_TYPES,
            item={"enum": LOG_TYPES},
            min_items=1,
        ),
    ),
    checks=(Check("enabledClusterLogTypes", Includes(param="logTypes")),),
)

supported_version = property_rule(
    name="eks-supported-version",
    description="The cluster runs a pinned Kubernetes version in EKS standard support.",
    remediation="Set version (platform:cluster.kubernetesVersion) to a version in standard "
    "support and upgrade one minor version at a time before support ends.",
    severity=Severity.HIGH,
    pack=Pack.QUALITY,
    resource_types=(CLUSTER, NODE_GROUP),
    compliance=Compliance(fsbp=("EKS.2",), checkov=("CKV_AWS_339",)),
    params=(
        params.string_list(
            "supportedVersions",
            "Kubernetes minor versions in EKS standard support (check with `aws eks "
            "describe-cluster-versions`; as of 2026-12-06 standard support ends 2027-03-27 "
            "for 1.35 and 2027-08-02 for 1.36; 1.34's ended 2026-12-02)",
            # The same list as infra/settings/versions.yaml (a test keeps them equal).
            default=["1.35", "1.36"],
            item={"type": "string", "pattern": r"^1\.[0-9]{2}$"},
            min_items=1,
        ),
    ),
    checks=(
        Check("version", OneOf(param="supportedVersions"), types=(CLUSTER,)),
        # A node group without a version follows its cluster.
        Check("version", OneOf(param="supportedVersions"), types=(NODE_GROUP,), optional=True),
    ),
)

node_group_launch_template = property_rule(
    name="eks-node-group-launch-template",
    description="Managed node groups start nodes from a launch template of this stack, where "
    "IMDSv2 and volume encryption are set.",
    remediation="Give the node group a launchTemplate (id and version) with metadataOptions "
    "httpTokens: required and encrypted block devices.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(NODE_GROUP,),
    checks=(Check("launchTemplate", Present("a launch template of this stack")),),
)


def _nodes_private(stack: StackView, settings: Mapping[str, Any]) -> Iterator[Finding]:
    for group in stack.of_type(NODE_GROUP):
        for subnet in group.sources("subnetIds", SUBNET):
            if is_public_subnet(stack, subnet):
                yield Finding(
                    f"{group.label} places nodes in public subnet {subnet.name!r} (routed to "
                    "an internet gateway); expected private subnets",
                    group.urn,
                )
        # Subnets not created by this stack cannot be judged here.
        if group.get("subnetIds") is MISSING:
            yield Finding(f"{group.label} has no subnetIds", group.urn)


nodes_private_subnets = StackRule(
    name="eks-nodes-private-subnets",
    description="Worker nodes run in private subnets, with no route from the internet.",
    remediation="Pass the network's private subnet ids to the node group.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(NODE_GROUP, SUBNET),
    evaluate=_nodes_private,
)

RULES = (
    secrets_encryption,
    public_endpoint_restricted,
    private_endpoint_only,
    control_plane_logging,
    supported_version,
    node_group_launch_template,
    nodes_private_subnets,
)
