"""Subnets with their route tables, for the cases of rules that ask whether a subnet is
public (routed to an internet gateway)."""

from __future__ import annotations

from tests.policy_harness import UNKNOWN, Res

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"


def routed_subnet(
    name: str, route: dict[str, object] | None = None, **deps: list[str]
) -> list[Res]:
    """A subnet, its own route table and the association; ``route`` adds a default route."""
    table = f"{name}-rt"
    resources = [
        Res(SUBNET, name, {"vpcId": "vpc-0abc", "cidrBlock": "10.0.0.0/24"}),
        Res(ROUTE_TABLE, table, {"vpcId": "vpc-0abc"}),
        Res(
            ASSOCIATION,
            f"{name}-rta",
            {"subnetId": UNKNOWN, "routeTableId": UNKNOWN},
            {"subnetId": [name], "routeTableId": [table]},
        ),
    ]
    if route is not None:
        resources.append(
            Res(
                ROUTE,
                f"{name}-default",
                {"routeTableId": UNKNOWN, "destinationCidrBlock": "0.0.0.0/0", **route},
                {"routeTableId": [table], **deps},
            )
        )
    return resources


IGW = Res(INTERNET_GATEWAY, "igw", {"vpcId": "vpc-0abc"})
# In a first preview the gateway's id is unknown: the dependency says where it came from.
PUBLIC = routed_subnet("public-a", {"gatewayId": UNKNOWN}, gatewayId=["igw"])
PRIVATE = routed_subnet("private-a", {"natGatewayId": "nat-0123456789abcdef0"})
