"""EC2: the instance metadata service, volume encryption, and ports open to the world."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.framework import params
from policies.framework.checks import AtMost, Check, Equals, property_rule
from policies.framework.resources import Resource
from policies.framework.rule import Compliance, Pack, ResourceRule
from policies.framework.values import MISSING
from policies.rules.networking import INGRESS_TYPES, ingress_of

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"

imdsv2_required = property_rule(
    name="ec2-imdsv2-required",
    description="Nodes and instances answer only IMDSv2 (session tokens), with a hop limit "
    "that keeps the node's credentials away from pods.",
    remediation="Set metadataOptions.httpTokens: required and httpPutResponseHopLimit to 1 "
    "(pods use IRSA, not the node's role) or at most 2.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(LAUNCH_TEMPLATE, INSTANCE),
    compliance=Compliance(
        cis=("5.6",), fsbp=("EC2.8", "EC2.170"), checkov=("CKV_AWS_79", "CKV_AWS_341")
    ),
    params=(
        params.integer(
            "maxHopLimit",
            "highest httpPutResponseHopLimit allowed, 1-64 (2 lets pods reach IMDS)",
            default=2,
            minimum=1,
            maximum=64,
        ),
    ),
    checks=(
        Check("metadataOptions.httpTokens", Equals("required")),
        # AWS applies a hop limit of 1 to a launch template that sets none.
        Check("metadataOptions.httpPutResponseHopLimit", AtMost("maxHopLimit", absent=1)),
    ),
)

_VOLUME_CHECKS = (
    # Without a mapping the AMI's root volume is used, unencrypted unless the account
    # encrypts by default, which the program cannot see.
    Check(
        "blockDeviceMappings[*].ebs.encrypted",
        Equals(True, absent=False),
        types=(LAUNCH_TEMPLATE,),
        need_entries=True,
    ),
    Check("rootBlockDevice.encrypted", Equals(True, absent=False), types=(INSTANCE,)),
)
_DATA_VOLUMES = Check("ebsBlockDevices[*].encrypted", Equals(True, absent=False))


def _volumes(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    for check in _VOLUME_CHECKS:
        if resource.type in check.types:
            yield from check.findings(resource, settings)
    # Data volumes are optional: only those an instance lists must be encrypted (a check of
    # the path alone would judge an absent list as one unencrypted volume).
    if resource.type == INSTANCE and resource.get("ebsBlockDevices") is not MISSING:
        yield from _DATA_VOLUMES.findings(resource, settings)


volumes_encrypted = ResourceRule(
    name="ec2-volumes-encrypted",
    description="Node and instance volumes are encrypted.",
    remediation="Give the launch template a block device mapping for the root volume with "
    "ebs.encrypted: true (and the volume type and size), or set rootBlockDevice.encrypted on "
    "an instance.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(LAUNCH_TEMPLATE, INSTANCE),
    compliance=Compliance(
        cis=("2.2.1",),
        fsbp=("EC2.181",),
        checkov=("CKV_AWS_8",),
        awsguard=("encrypted-volumes",),
    ),
    evaluate=_volumes,
)


def _admin_ports(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    ports = [int(p) for p in settings["adminPorts"]]
    for entry in ingress_of(resource):
        if not entry.world:
            continue
        exposed = [p for p in ports if entry.covers(p)]
        if exposed:
            where = f"{entry.where}: " if entry.where else ""
            yield (
                f"{where}{entry.describe_ports()} open to {', '.join(entry.world)} exposes "
                f"administration port(s) {', '.join(map(str, exposed))}; expected no "
                "ingress from the internet to them"
            )


admin_ports_closed = ResourceRule(
    name="ec2-no-admin-ports-open",
    description="No security group opens administration or data ports (SSH, RDP, "
    "PostgreSQL, Redis) to the internet.",
    remediation="Remove the 0.0.0.0/0 or ::/0 ingress; reach hosts through SSM Session "
    "Manager and data stores from their client security groups.",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    resource_types=INGRESS_TYPES,
    compliance=Compliance(
        cis=("5.2", "5.3"), fsbp=("EC2.19",), checkov=("CKV_AWS_24", "CKV_AWS_25")
    ),
    params=(
        params.integer_list(
            "adminPorts",
            "ports that must never be open to 0.0.0.0/0 or ::/0",
            default=[22, 3389, 5432, 6379],
            minimum=0,
            maximum=65535,
        ),
    ),
    evaluate=_admin_ports,
)

RULES = (imdsv2_required, volumes_encrypted, admin_ports_closed)
