"""The VPC: three subnet tiers per zone, NAT egress, flow logs and private AWS endpoints."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.parts import LogArchive, log_group, service_trust_policy
from components.subnet_plan import SubnetPlan, Tier

# Subnet tags the AWS Load Balancer Controller uses to discover where to put load balancers.
_ELB_ROLE_TAGS = {
    Tier.PUBLIC: {"kubernetes.io/role/elb": "1"},
    Tier.PRIVATE: {"kubernetes.io/role/internal-elb": "1"},
    Tier.ISOLATED: {},
}


@dataclass(frozen=True)
class FlowLogArgs:
    traffic_type: Literal["ALL", "ACCEPT", "REJECT"]
    archive: LogArchive


@dataclass(frozen=True)
class NetworkArgs:
    name_prefix: str
    region: str
    partition: str
    account_id: str
    availability_zones: Sequence[str]
    subnet_plan: SubnetPlan
    nat_gateways: Literal["perAz", "single"]
    flow_logs: FlowLogArgs
    s3_gateway_endpoint: bool
    interface_endpoints: Sequence[str]
    protect: bool
    # Set once the cluster exists so EKS can discover the subnets it shares.
    cluster_name: str | None = None


class Network(pulumi.ComponentResource):
    """VPC with public, private (NAT egress) and isolated (no route out) subnets per zone.

    Consumers use the outputs below and nothing else: subnet and route table ids by tier,
    the VPC id and CIDR, the security group that interface endpoints accept and the one
    the platform's workloads carry.
    """

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    availability_zones: list[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    isolated_subnet_ids: pulumi.Output[list[str]]
    nat_gateway_ids: list[pulumi.Output[str]]
    public_route_table_ids: pulumi.Output[list[str]]
    private_route_table_ids: pulumi.Output[list[str]]
    isolated_route_table_ids: pulumi.Output[list[str]]
    endpoint_security_group_id: pulumi.Output[str] | None
    workload_security_group_id: pulumi.Output[str]
    flow_log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:components:Network", name, None, opts)
        if len(args.availability_zones) != args.subnet_plan.zone_count:
            raise ValueError(
                f"{len(args.availability_zones)} zones but a subnet plan for "
                f"{args.subnet_plan.zone_count}"
            )
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        prefix = args.name_prefix

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(args.subnet_plan.vpc_cidr),
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": prefix},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        # Adopt the default security group and strip its rules, so nothing that lands in it
        # by accident can talk to anything.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags={"Name": f"{prefix}-default-deny-all"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={"Name": prefix}, opts=child
        )

        subnets = {tier: self._subnets(vpc, tier) for tier in Tier}
        public_rt = self._public_routing(vpc, igw, subnets[Tier.PUBLIC])
        nat_ids = self._nat_gateways(igw, subnets[Tier.PUBLIC])
        # Each gateway once (with a single one, every zone's route names the same).
        self.nat_gateway_ids = list({id(gateway): gateway for gateway in nat_ids}.values())
        private_rts = self._private_routing(vpc, nat_ids, subnets[Tier.PRIVATE])
        isolated_rt = self._isolated_routing(vpc, subnets[Tier.ISOLATED])
        self.flow_log_group_name = self._flow_logs(vpc)
        self.endpoint_security_group_id = self._endpoints(vpc, private_rts, subnets[Tier.PRIVATE])
        # An identity, not a firewall: it has no rules. The platform's workloads (EKS
        # nodes and pods) carry it, and data stores admit whoever carries it.
        self.workload_security_group_id = aws.ec2.SecurityGroup(
            f"{name}-workloads",
            description=f"Identity of the workloads of {prefix}; data stores admit it",
            vpc_id=vpc.id,
            tags={"Name": f"{prefix}-workloads"},
            opts=child,
        ).id

        self.vpc_id = vpc.id
        self.vpc_cidr = str(args.subnet_plan.vpc_cidr)
        self.availability_zones = list(args.availability_zones)
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in subnets[Tier.PUBLIC]])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in subnets[Tier.PRIVATE]])
        self.isolated_subnet_ids = pulumi.Output.all(*[s.id for s in subnets[Tier.ISOLATED]])
        self.public_route_table_ids = pulumi.Output.all(public_rt.id)
        self.private_route_table_ids = pulumi.Output.all(*[rt.id for rt in private_rts])
        self.isolated_route_table_ids = pulumi.Output.all(isolated_rt.id)
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "vpcCidr": self.vpc_cidr,
                "availabilityZones": self.availability_zones,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
                "isolatedSubnetIds": self.isolated_subnet_ids,
                "publicRouteTableIds": self.public_route_table_ids,
                "privateRouteTableIds": self.private_route_table_ids,
                "isolatedRouteTableIds": self.isolated_route_table_ids,
                "endpointSecurityGroupId": self.endpoint_security_group_id,
                "workloadSecurityGroupId": self.workload_security_group_id,
                "flowLogGroupName": self.flow_log_group_name,
            }
        )

    def _subnets(self, vpc: aws.ec2.Vpc, tier: Tier) -> list[aws.ec2.Subnet]:
        args = self._args
        cluster_tag = (
            {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
            if args.cluster_name and tier is not Tier.ISOLATED
            else {}
        )
        return [
            aws.ec2.Subnet(
                f"{self._name}-{tier}-{zone}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                # Load balancers and NAT gateways bring their own addresses; nothing
                # launched in any tier gets a public IP by accident.
                map_public_ip_on_launch=False,
                tags={
                    "Name": f"{args.name_prefix}-{tier}-{zone}",
                    "tier": str(tier),
                    **_ELB_ROLE_TAGS[tier],
                    **cluster_tag,
                },
                opts=pulumi.ResourceOptions(parent=self),
            )
            for zone, cidr in zip(
                args.availability_zones, args.subnet_plan.cidrs(tier), strict=True
            )
        ]

    def _route_table(self, vpc: aws.ec2.Vpc, suffix: str) -> aws.ec2.RouteTable:
        return aws.ec2.RouteTable(
            f"{self._name}-{suffix}-rt",
            vpc_id=vpc.id,
            tags={"Name": f"{self._args.name_prefix}-{suffix}"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _associate(
        self, route_table: aws.ec2.RouteTable, subnet: aws.ec2.Subnet, tier: Tier, zone: str
    ) -> None:
        aws.ec2.RouteTableAssociation(
            f"{self._name}-{tier}-{zone}-rta",
            route_table_id=route_table.id,
            subnet_id=subnet.id,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _public_routing(
        self, vpc: aws.ec2.Vpc, igw: aws.ec2.InternetGateway, subnets: list[aws.ec2.Subnet]
    ) -> aws.ec2.RouteTable:
        route_table = self._route_table(vpc, "public")
        aws.ec2.Route(
            f"{self._name}-public-internet",
            route_table_id=route_table.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        for zone, subnet in zip(self._args.availability_zones, subnets, strict=True):
            self._associate(route_table, subnet, Tier.PUBLIC, zone)
        return route_table

    def _nat_gateways(
        self, igw: aws.ec2.InternetGateway, public_subnets: list[aws.ec2.Subnet]
    ) -> list[pulumi.Output[str]]:
        """NAT gateway id to use for each zone's private route table."""
        zones = self._args.availability_zones
        nat_zone_count = len(zones) if self._args.nat_gateways == "perAz" else 1
        gateways = []
        for zone, subnet in list(zip(zones, public_subnets, strict=True))[:nat_zone_count]:
            eip = aws.ec2.Eip(
                f"{self._name}-nat-{zone}-eip",
                domain="vpc",
                tags={"Name": f"{self._args.name_prefix}-nat-{zone}"},
                opts=pulumi.ResourceOptions(parent=self),
            )
            gateways.append(
                aws.ec2.NatGateway(
                    f"{self._name}-nat-{zone}",
                    allocation_id=eip.allocation_id,
                    subnet_id=subnet.id,
                    connectivity_type="public",
                    tags={"Name": f"{self._args.name_prefix}-nat-{zone}"},
                    # A NAT gateway needs the internet gateway attached before it works.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                ).id
            )
        return [gateways[i] if i < len(gateways) else gateways[0] for i in range(len(zones))]

    def _private_routing(
        self,
        vpc: aws.ec2.Vpc,
        nat_ids: list[pulumi.Output[str]],
        subnets: list[aws.ec2.Subnet],
    ) -> list[aws.ec2.RouteTable]:
        route_tables = []
        for zone, nat_id, subnet in zip(
            self._args.availability_zones, nat_ids, subnets, strict=True
        ):
            route_table = self._route_table(vpc, f"private-{zone}")
            aws.ec2.Route(
                f"{self._name}-private-{zone}-egress",
                route_table_id=route_table.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self._associate(route_table, subnet, Tier.PRIVATE, zone)
            route_tables.append(route_table)
        return route_tables

    def _isolated_routing(
        self, vpc: aws.ec2.Vpc, subnets: list[aws.ec2.Subnet]
    ) -> aws.ec2.RouteTable:
        # Only the implicit local route: databases and caches cannot reach the internet.
        route_table = self._route_table(vpc, "isolated")
        for zone, subnet in zip(self._args.availability_zones, subnets, strict=True):
            self._associate(route_table, subnet, Tier.ISOLATED, zone)
        return route_table

    def _flow_logs(self, vpc: aws.ec2.Vpc) -> pulumi.Output[str]:
        args = self._args
        flow_log_group = log_group(
            f"{self._name}-flow-logs",
            name=f"/aws/vpc/{args.name_prefix}/flow-logs",
            archive=args.flow_logs.archive,
            protect=args.protect,
            parent=self,
        )
        role = aws.iam.Role(
            f"{self._name}-flow-logs",
            description=f"VPC flow logs of {args.name_prefix} to CloudWatch Logs",
            # Confused-deputy guard: only this account's flow logs.
            assume_role_policy=service_trust_policy(
                "vpc-flow-logs.amazonaws.com",
                {
                    "StringEquals": {"aws:SourceAccount": args.account_id},
                    "ArnLike": {
                        "aws:SourceArn": (
                            f"arn:{args.partition}:ec2:{args.region}:"
                            f"{args.account_id}:vpc-flow-log/*"
                        )
                    },
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        writer_policy = aws.iam.RolePolicy(
            f"{self._name}-flow-logs",
            role=role.id,
            policy=flow_log_group.arn.apply(_flow_log_writer_policy),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=vpc.id,
            traffic_type=args.flow_logs.traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=flow_log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": f"{args.name_prefix}-flow-log"},
            # Delivery starts at creation and fails until the role may write to the group.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[writer_policy]),
        )
        return flow_log_group.name

    def _endpoints(
        self,
        vpc: aws.ec2.Vpc,
        private_route_tables: list[aws.ec2.RouteTable],
        private_subnets: list[aws.ec2.Subnet],
    ) -> pulumi.Output[str] | None:
        args = self._args
        if args.s3_gateway_endpoint:
            aws.ec2.VpcEndpoint(
                f"{self._name}-s3",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.s3",
                vpc_endpoint_type="Gateway",
                route_table_ids=[rt.id for rt in private_route_tables],
                tags={"Name": f"{args.name_prefix}-s3"},
                opts=pulumi.ResourceOptions(parent=self),
            )
        if not args.interface_endpoints:
            return None
        security_group = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints",
            description=f"HTTPS from inside {args.name_prefix} to AWS interface endpoints",
            vpc_id=vpc.id,
            tags={"Name": f"{args.name_prefix}-endpoints"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-endpoints-https",
            security_group_id=security_group.id,
            description="HTTPS from the VPC",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=str(args.subnet_plan.vpc_cidr),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for service in args.interface_endpoints:
            aws.ec2.VpcEndpoint(
                f"{self._name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.id for subnet in private_subnets],
                security_group_ids=[security_group.id],
                tags={"Name": f"{args.name_prefix}-{service}"},
                opts=pulumi.ResourceOptions(parent=self),
            )
        return security_group.id


def _flow_log_writer_policy(log_group_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WriteFlowLogsToItsGroup",
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    "Resource": f"{log_group_arn}:*",
                },
                {
                    "Sid": "FindItsGroup",
                    "Effect": "Allow",
                    "Action": "logs:DescribeLogGroups",
                    "Resource": log_group_arn.rsplit(":", 1)[0] + ":*",
                },
            ],
        }
    )
