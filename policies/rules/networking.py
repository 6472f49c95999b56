"""What several rules ask of the network: which subnets are public, and what a security group
admits. Shared by the EC2, VPC, EKS and ElastiCache rules."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policies.framework.resources import Resource, StackView
from policies.framework.values import MISSING, Undecidable, as_list, is_unknown

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
DEFAULT_ROUTE_TABLE = "aws:ec2/defaultRouteTable:DefaultRouteTable"
MAIN_ROUTE_TABLE_ASSOCIATION = "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation"
ROUTE_TABLES = (ROUTE_TABLE, DEFAULT_ROUTE_TABLE)
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOAD_BALANCERS = (
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:alb/loadBalancer:LoadBalancer",
    "aws:elb/loadBalancer:LoadBalancer",
)
GROUPS = (SECURITY_GROUP, DEFAULT_SECURITY_GROUP)
INGRESS_TYPES = (SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE)
ALL_PORTS = (0, 65535)


# -- subnets ---------------------------------------------------------------------------


def routes_to_internet(stack: StackView, route_table: Resource) -> bool:
    """Whether a route table of this stack sends traffic to an internet gateway."""
    for route in stack.referring_to(route_table, "routeTableId", ROUTE):
        if route.sources("gatewayId", INTERNET_GATEWAY) or _is_igw(route.get("gatewayId")):
            return True
    inline = route_table.get("routes", [])
    if route_table.sources("routes", INTERNET_GATEWAY):
        return True
    return any(isinstance(r, Mapping) and _is_igw(r.get("gatewayId")) for r in as_list(inline))


def _is_igw(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("igw-")


def is_public_subnet(stack: StackView, subnet: Resource) -> bool:
    associations = list(stack.referring_to(subnet, "subnetId", ROUTE_TABLE_ASSOCIATION))
    tables = [t for a in associations for t in a.sources("routeTableId", *ROUTE_TABLES)]
    if not associations:
        # A subnet with no association of its own uses its VPC's main route table.
        tables = [t for vpc in subnet.sources("vpcId", VPC) for t in _main_route_tables(stack, vpc)]
    return any(routes_to_internet(stack, table) for table in tables)


def _main_route_tables(stack: StackView, vpc: Resource) -> list[Resource]:
    """The VPC's main route table if this stack manages it: one made main by an
    association, else the adopted default (the main table AWS created with the VPC)."""
    chosen = [
        table
        for association in stack.referring_to(vpc, "vpcId", MAIN_ROUTE_TABLE_ASSOCIATION)
        for table in association.sources("routeTableId", *ROUTE_TABLES)
    ]
    return chosen or list(stack.referring_to(vpc, "defaultRouteTableId", DEFAULT_ROUTE_TABLE))


# -- security group ingress ------------------------------------------------------------


@dataclass(frozen=True)
class Ingress:
    """One way into a security group: a protocol, a port range and where from."""

    resource: Resource
    where: str  # the property path of the entry, for messages
    ports: tuple[int, int]
    cidrs: tuple[str, ...]  # IPv4 and IPv6 ranges, some possibly unknown
    prefix_lists: tuple[str, ...]
    from_groups: bool  # also (or only) from security groups, or from itself

    def covers(self, port: int) -> bool:
        return self.ports[0] <= port <= self.ports[1]

    @property
    def world(self) -> tuple[str, ...]:
        """The ranges that mean "anyone on the internet" (0.0.0.0/0, ::/0)."""
        return tuple(c for c in self.cidrs if _prefix_length(c) == 0)

    def describe_ports(self) -> str:
        low, high = self.ports
        if (low, high) == ALL_PORTS:
            return "all ports"
        return f"port {low}" if low == high else f"ports {low}-{high}"


def _prefix_length(cidr: str) -> int:
    if is_unknown(cidr):
        raise Undecidable
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen
    except ValueError:
        return -1


def _ports(protocol: Any, low: Any, high: Any) -> tuple[int, int] | None:
    if any(is_unknown(v) for v in (protocol, low, high)):
        raise Undecidable
    if str(protocol).lower() in ("-1", "all"):
        return ALL_PORTS
    if str(protocol).lower() not in ("tcp", "udp", "6", "17"):
        return None  # ICMP and friends have no ports
    try:
        return (int(low), int(high if high is not MISSING else low))
    except (TypeError, ValueError):
        return None


def ingress_of(resource: Resource) -> Iterator[Ingress]:
    """The ingress a security group, a group rule or an ingress rule resource grants."""
    if resource.type in GROUPS:
        entries = resource.get("ingress", [])
        if is_unknown(entries):
            raise Undecidable
        for index, entry in enumerate(as_list(entries)):
            if isinstance(entry, Mapping):
                yield from _entry(resource, f"ingress[{index}]", entry, "protocol", entry)
    elif resource.type == SECURITY_GROUP_RULE:
        if resource.get("type") == "ingress":
            yield from _entry(resource, "", resource.props, "protocol", resource.props)
    elif resource.type == INGRESS_RULE:
        props = dict(resource.props)
        props["cidrBlocks"] = as_list(props.get("cidrIpv4"))
        props["ipv6CidrBlocks"] = as_list(props.get("cidrIpv6"))
        props["prefixListIds"] = as_list(props.get("prefixListId"))
        props["securityGroups"] = as_list(props.get("referencedSecurityGroupId"))
        yield from _entry(resource, "", props, "ipProtocol", props)


def _entry(
    resource: Resource, where: str, entry: Mapping[str, Any], protocol_key: str, props: Any
) -> Iterator[Ingress]:
    ports = _ports(entry.get(protocol_key, "-1"), entry.get("fromPort", 0), entry.get("toPort"))
    if ports is None:
        return
    # An unknown range is kept: it is still a range (enough for some rules); only whether
    # it is the whole internet is undecidable, asked through ``Ingress.world``.
    cidrs = [*as_list(entry.get("cidrBlocks")), *as_list(entry.get("ipv6CidrBlocks"))]
    groups = [
        *as_list(entry.get("securityGroups")),
        *as_list(entry.get("sourceSecurityGroupId")),
    ]
    yield Ingress(
        resource=resource,
        where=where,
        ports=ports,
        cidrs=tuple(str(c) for c in cidrs),
        prefix_lists=tuple(str(p) for p in as_list(entry.get("prefixListIds"))),
        from_groups=bool(groups) or bool(entry.get("self")),
    )


def target_groups(resource: Resource) -> list[Resource]:
    """The security groups of this stack an ingress resource adds to."""
    if resource.type in GROUPS:
        return [resource]
    return resource.sources("securityGroupId", *GROUPS)
