"""Cases for policies/rules/ec2.py."""

from __future__ import annotations

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
IMDSV2 = {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
# Launch template EBS flags are strings in the provider ("true" / "false").
ROOT = {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 50}}
AMI = "ami-0123456789abcdef0"


def template(**props: object) -> Res:
    return Res(LAUNCH_TEMPLATE, "nodes", {"metadataOptions": IMDSV2, **props})


def instance(**props: object) -> Res:
    return Res(
        INSTANCE,
        "host",
        {
            "ami": AMI,
            "instanceType": "t3.micro",
            "metadataOptions": IMDSV2,
            "rootBlockDevice": {"encrypted": True},
            **props,
        },
    )


def tcp(port: int, *cidrs: str, to: int | None = None, **entry: object) -> dict[str, object]:
    """An inline ingress entry of a security group."""
    return {
        "protocol": "tcp",
        "fromPort": port,
        "toPort": port if to is None else to,
        "cidrBlocks": list(cidrs),
        **entry,
    }


def group(*ingress: dict[str, object]) -> Res:
    return Res(SECURITY_GROUP, "sg", {"vpcId": "vpc-0abc", "ingress": list(ingress)})


def group_rule(**props: object) -> Res:
    return Res(
        SECURITY_GROUP_RULE,
        "sg-rule",
        {"type": "ingress", "securityGroupId": "sg-0abc", **props},
    )


def ingress_rule(**props: object) -> Res:
    return Res(INGRESS_RULE, "sg-ingress", {"securityGroupId": "sg-0abc", **props})


CASES = [
    violates(
        "ec2-imdsv2-required",
        "IMDSv1 allowed on a launch template",
        template(metadataOptions={**IMDSV2, "httpTokens": "optional"}),
        message='expected "required"',
    ),
    violates(
        "ec2-imdsv2-required",
        "no metadata options on an instance (AWS allows IMDSv1)",
        Res(INSTANCE, "host", {"ami": AMI, "instanceType": "t3.micro"}),
        message="metadataOptions.httpTokens is not set",
    ),
    violates(
        "ec2-imdsv2-required",
        "a known hop limit is reported though the tokens setting is unknown",
        template(metadataOptions={"httpTokens": UNKNOWN, "httpPutResponseHopLimit": 64}),
        message="httpPutResponseHopLimit is 64; expected at most 2",
    ),
    violates(
        "ec2-imdsv2-required",
        "hop limit above the default maximum of 2",
        template(metadataOptions={**IMDSV2, "httpPutResponseHopLimit": 3}),
        message="httpPutResponseHopLimit is 3; expected at most 2 (parameter maxHopLimit)",
    ),
    violates(
        "ec2-imdsv2-required",
        "hop limit above a configured maximum",
        instance(metadataOptions={**IMDSV2, "httpPutResponseHopLimit": 2}),
        config={"maxHopLimit": 1},
        message="expected at most 1",
    ),
    passes("ec2-imdsv2-required", "IMDSv2 with a hop limit of 1", template()),
    passes(
        "ec2-imdsv2-required",
        "hop limit defaults to 1",
        instance(metadataOptions={"httpTokens": "required"}),
    ),
    passes(
        "ec2-imdsv2-required",
        "hop limit of 2 for pods",
        template(metadataOptions={**IMDSV2, "httpPutResponseHopLimit": 2}),
    ),
    undecided(
        "ec2-imdsv2-required",
        "token setting unknown",
        template(metadataOptions={**IMDSV2, "httpTokens": UNKNOWN}),
    ),
    undecided(
        "ec2-imdsv2-required",
        "hop limit unknown",
        instance(metadataOptions={**IMDSV2, "httpPutResponseHopLimit": UNKNOWN}),
    ),
    violates(
        "ec2-volumes-encrypted",
        "launch template without block devices uses the AMI's root volume",
        template(),
        message="blockDeviceMappings has no entries",
    ),
    violates(
        "ec2-volumes-encrypted",
        "launch template volume not encrypted",
        template(
            blockDeviceMappings=[ROOT, {"deviceName": "/dev/xvdb", "ebs": {"encrypted": "false"}}]
        ),
        message='blockDeviceMappings[1].ebs.encrypted is "false"; expected true',
    ),
    violates(
        "ec2-volumes-encrypted",
        "launch template volume without the flag",
        template(blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 50}}]),
        message="blockDeviceMappings[0].ebs.encrypted is not set",
    ),
    violates(
        "ec2-volumes-encrypted",
        "instance root volume from the AMI",
        Res(INSTANCE, "host", {"ami": AMI, "instanceType": "t3.micro"}),
        message="rootBlockDevice.encrypted is not set; expected true",
    ),
    violates(
        "ec2-volumes-encrypted",
        "instance data volume not encrypted",
        instance(ebsBlockDevices=[{"deviceName": "/dev/sdb", "volumeSize": 100}]),
        message="ebsBlockDevices[0].encrypted is not set; expected true",
    ),
    passes(
        "ec2-volumes-encrypted",
        "encrypted launch template root volume",
        template(blockDeviceMappings=[ROOT]),
    ),
    passes("ec2-volumes-encrypted", "encrypted instance root volume, no data volumes", instance()),
    passes(
        "ec2-volumes-encrypted",
        "encrypted instance root and data volumes",
        instance(ebsBlockDevices=[{"deviceName": "/dev/sdb", "encrypted": True}]),
    ),
    undecided(
        "ec2-volumes-encrypted",
        "launch template encryption flag unknown",
        template(blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"encrypted": UNKNOWN}}]),
    ),
    undecided(
        "ec2-volumes-encrypted",
        "launch template block devices unknown",
        template(blockDeviceMappings=UNKNOWN),
    ),
    passes(
        "ec2-volumes-encrypted",
        "empty list of instance data volumes",
        instance(ebsBlockDevices=[]),
    ),
    undecided(
        "ec2-volumes-encrypted",
        "instance data volumes unknown",
        instance(ebsBlockDevices=UNKNOWN),
    ),
    undecided(
        "ec2-volumes-encrypted",
        "instance data volume encryption flag unknown",
        instance(ebsBlockDevices=[{"deviceName": "/dev/sdb", "encrypted": UNKNOWN}]),
    ),
    undecided(
        "ec2-volumes-encrypted",
        "instance root encryption flag unknown",
        instance(rootBlockDevice={"encrypted": UNKNOWN}),
    ),
    violates(
        "ec2-no-admin-ports-open",
        "world-open SSH on a security group",
        group(tcp(443, "0.0.0.0/0"), tcp(22, "0.0.0.0/0")),
        message="ingress[1]: port 22 open to 0.0.0.0/0 exposes administration port(s) 22",
    ),
    violates(
        "ec2-no-admin-ports-open",
        "world-open RDP over IPv6 on a security group",
        group({"protocol": "tcp", "fromPort": 3389, "toPort": 3389, "ipv6CidrBlocks": ["::/0"]}),
        message="port 3389 open to ::/0 exposes administration port(s) 3389",
    ),
    violates(
        "ec2-no-admin-ports-open",
        "a port range spanning PostgreSQL on a rule resource",
        group_rule(protocol="tcp", fromPort=5000, toPort=6000, cidrBlocks=["0.0.0.0/0"]),
        message="ports 5000-6000 open to 0.0.0.0/0 exposes administration port(s) 5432",
    ),
    violates(
        "ec2-no-admin-ports-open",
        "all protocols (-1) on an ingress rule resource",
        ingress_rule(ipProtocol="-1", cidrIpv6="::/0"),
        message="all ports open to ::/0 exposes administration port(s) 22, 3389, 5432, 6379",
    ),
    violates(
        "ec2-no-admin-ports-open",
        "world-open Redis on an ingress rule resource",
        ingress_rule(ipProtocol="tcp", fromPort=6379, toPort=6379, cidrIpv4="0.0.0.0/0"),
        message="port 6379 open to 0.0.0.0/0",
    ),
    violates(
        "ec2-no-admin-ports-open",
        "protocol number 6 is TCP",
        group_rule(protocol="6", fromPort=22, toPort=22, cidrBlocks=["0.0.0.0/0"]),
        message="port 22 open to 0.0.0.0/0",
    ),
    violates(
        "ec2-no-admin-ports-open",
        "a configured administration port",
        group(tcp(8080, "0.0.0.0/0")),
        config={"adminPorts": [8080]},
        message="exposes administration port(s) 8080",
    ),
    violates(
        "ec2-no-admin-ports-open",
        "world-open SSH on the default security group",
        Res(
            DEFAULT_SECURITY_GROUP,
            "default-sg",
            {"vpcId": "vpc-0abc", "ingress": [tcp(22, "0.0.0.0/0")]},
        ),
        message="port 22 open to 0.0.0.0/0",
    ),
    passes("ec2-no-admin-ports-open", "HTTPS open to the world", group(tcp(443, "0.0.0.0/0"))),
    passes(
        "ec2-no-admin-ports-open",
        "SSH from a private range and from a group",
        group(tcp(22, "10.0.0.0/8"), tcp(22, securityGroups=["sg-0bastion"])),
    ),
    passes(
        "ec2-no-admin-ports-open",
        "egress rule to the world",
        group_rule(type="egress", protocol="-1", fromPort=0, toPort=0, cidrBlocks=["0.0.0.0/0"]),
    ),
    passes(
        "ec2-no-admin-ports-open",
        "ICMP from the world has no ports",
        ingress_rule(ipProtocol="icmp", fromPort=8, toPort=0, cidrIpv4="0.0.0.0/0"),
    ),
    passes(
        "ec2-no-admin-ports-open",
        "SSH no longer an administration port by configuration",
        group(tcp(22, "0.0.0.0/0")),
        config={"adminPorts": [3389]},
    ),
    undecided(
        "ec2-no-admin-ports-open",
        "source range unknown",
        group(tcp(22, UNKNOWN)),
    ),
    undecided(
        "ec2-no-admin-ports-open",
        "port unknown on a world-open rule resource",
        group_rule(protocol="tcp", fromPort=UNKNOWN, toPort=UNKNOWN, cidrBlocks=["0.0.0.0/0"]),
    ),
    undecided(
        "ec2-no-admin-ports-open",
        "IPv6 range unknown on an ingress rule resource",
        ingress_rule(ipProtocol="tcp", fromPort=22, toPort=22, cidrIpv6=UNKNOWN),
    ),
    undecided(
        "ec2-no-admin-ports-open",
        "ingress list unknown",
        Res(SECURITY_GROUP, "sg", {"vpcId": "vpc-0abc", "ingress": UNKNOWN}),
    ),
]
