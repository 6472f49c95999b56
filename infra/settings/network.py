"""``platform:network``: the VPC's address plan, zones, NAT and endpoints."""

from __future__ import annotations

import ipaddress
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from infra.settings.base import Model, Number, reference

INTERFACE_ENDPOINT_SERVICES = (
    "ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager", "kms", "ssm", "ssmmessages",
    "ec2messages", "ec2", "elasticloadbalancing", "autoscaling", "monitoring", "sqs", "sns",
    "xray",
)  # fmt: skip
DEFAULT_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager")

RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_PREFIX_ALLOWED = (
    "16 to 28, not shorter than the VPC's prefix; every tier's subnets together must fit the VPC"
)
_PLAN_ALLOWED = (
    "one IPv4 CIDR per availability zone, in zone order, inside the VPC, /16 to /28, "
    "overlapping no other subnet"
)


class SubnetPrefixLengths(Model):
    """Prefix length of each tier's subnet in every zone."""

    READ_BY: ClassVar[tuple[str, ...]] = ("components/subnet_plan.py",)

    public: Number = Field(
        default=24,
        description="Prefix length of each public subnet (load balancers, NAT gateways).",
        json_schema_extra=reference(allowed=_PREFIX_ALLOWED),
    )
    private: Number = Field(
        default=20,
        description="Prefix length of each private subnet (nodes and pods, the largest tier).",
        json_schema_extra=reference(allowed=_PREFIX_ALLOWED),
    )
    isolated: Number = Field(
        default=24,
        description="Prefix length of each isolated subnet (the database and the cache).",
        json_schema_extra=reference(allowed=_PREFIX_ALLOWED),
    )


class SubnetCidrs(Model):
    """An explicit plan, one CIDR per zone per tier, for VPCs that must fit an IP plan."""

    READ_BY: ClassVar[tuple[str, ...]] = ("components/subnet_plan.py",)

    public: list[ipaddress.IPv4Network] = Field(
        description="The public subnets (load balancers, NAT gateways), one per zone.",
        json_schema_extra=reference(allowed=_PLAN_ALLOWED),
    )
    private: list[ipaddress.IPv4Network] = Field(
        description="The private subnets (nodes and pods), one per zone.",
        json_schema_extra=reference(allowed=_PLAN_ALLOWED),
    )
    isolated: list[ipaddress.IPv4Network] = Field(
        description="The isolated subnets (the database and the cache), one per zone.",
        json_schema_extra=reference(allowed=_PLAN_ALLOWED),
    )


class NetworkSettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("components/network.py",)

    cidr: ipaddress.IPv4Network = Field(
        description="The VPC's address range, which every subnet is carved from.",
        json_schema_extra=reference(
            allowed="a block inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, prefix /16 to "
            "/28, large enough for the subnets",
            read_by=("components/subnet_plan.py", "components/network.py", "components/app.py"),
        ),
    )
    availability_zone_count: Number = Field(
        default=3,
        description="How many availability zones the VPC spans: each gets a subnet of every tier, "
        "and the nodes, database and cache spread over them.",
        json_schema_extra=reference(
            allowed="2 to the number of zones the region offers",
            read_by=("infra/platform.py", "components/subnet_plan.py", "components/network.py"),
        ),
    )
    nat_gateways: Literal["perAz", "single"] = Field(
        default="perAz",
        description="A NAT gateway in every zone, or a single one for the VPC: cheaper, but one "
        "zone's outage then cuts every zone's egress.",
        json_schema_extra=reference(
            allowed="`perAz`, `single`; prod: `single` only with allowSingleNatGateway"
        ),
    )
    allow_single_nat_gateway: bool = Field(
        default=False,
        description="Lets a prod stack use a single NAT gateway anyway, as a deliberate cost "
        "decision.",
        json_schema_extra=reference(read_by=("infra/settings/profile.py",)),
    )
    subnet_prefix_lengths: SubnetPrefixLengths = Field(
        default=SubnetPrefixLengths(),
        description="The size of each tier's subnets when the plan is computed from the VPC range.",
    )
    subnet_cidrs: SubnetCidrs | None = Field(
        default=None,
        description="An explicit subnet plan, for a VPC that must match an existing IP plan; it "
        "replaces the computed one.",
    )
    flow_log_traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = Field(
        default="ALL",
        description="Which connections the VPC flow logs record: all, only accepted or only "
        "rejected ones (cheaper).",
    )
    s3_gateway_endpoint: bool = Field(
        default=True,
        description="Adds a free S3 gateway endpoint to the private route tables, so S3 traffic "
        "(image layers among it) bypasses the NAT gateways.",
    )
    interface_endpoints: tuple[str, ...] = Field(
        default=DEFAULT_INTERFACE_ENDPOINTS,
        description="AWS services reached through interface endpoints inside the VPC instead of "
        "through NAT; each endpoint is billed per zone and hour.",
        json_schema_extra=reference(
            allowed="each at most once, of: " + ", ".join(INTERFACE_ENDPOINT_SERVICES)
        ),
    )

    @field_validator("cidr")
    @classmethod
    def _private_and_sized(cls, net: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not any(net.subnet_of(block) for block in RFC1918):
            raise ValueError(
                "not a private range; allowed: a block inside 10.0.0.0/8, 172.16.0.0/12 "
                "or 192.168.0.0/16"
            )
        if not 16 <= net.prefixlen <= 28:
            raise ValueError("allowed: a VPC prefix between /16 and /28")
        return net

    @field_validator("availability_zone_count")
    @classmethod
    def _at_least_two_zones(cls, count: int) -> int:
        if count < 2:
            raise ValueError("allowed: 2 or more (one zone cannot survive a zone outage)")
        return count

    @field_validator("interface_endpoints")
    @classmethod
    def _known_services(cls, services: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in services if s not in INTERFACE_ENDPOINT_SERVICES]
        if unknown:
            raise ValueError(
                f"unknown service {', '.join(unknown)}; allowed: "
                + ", ".join(INTERFACE_ENDPOINT_SERVICES)
            )
        if len(set(services)) != len(services):
            raise ValueError("each service may appear only once")
        return services
