"""``platform:network``: the VPC's address plan, zones, NAT and endpoints."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import field_validator

from infra.settings.base import Model, Number

INTERFACE_ENDPOINT_SERVICES = (
    "ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager", "kms", "ssm", "ssmmessages",
    "ec2messages", "ec2", "elasticloadbalancing", "autoscaling", "monitoring", "sqs", "sns",
    "xray",
)  # fmt: skip
DEFAULT_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager")

RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


class SubnetPrefixLengths(Model):
    """Prefix length of each tier's subnet in every zone."""

    public: Number = 24
    private: Number = 20
    isolated: Number = 24


class SubnetCidrs(Model):
    """An explicit plan, one CIDR per zone per tier, for VPCs that must fit an IP plan."""

    public: list[ipaddress.IPv4Network]
    private: list[ipaddress.IPv4Network]
    isolated: list[ipaddress.IPv4Network]


class NetworkSettings(Model):
    cidr: ipaddress.IPv4Network
    availability_zone_count: Number = 3
    nat_gateways: Literal["perAz", "single"] = "perAz"
    allow_single_nat_gateway: bool = False
    subnet_prefix_lengths: SubnetPrefixLengths = SubnetPrefixLengths()
    subnet_cidrs: SubnetCidrs | None = None
    flow_log_traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = "ALL"
    s3_gateway_endpoint: bool = True
    interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS

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
