"""Cases for policies/rules/vpc.py."""

from __future__ import annotations

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
DEFAULT_ROUTE_TABLE = "aws:ec2/defaultRouteTable:DefaultRouteTable"
MAIN_ASSOCIATION = "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation"
ROUTE = "aws:ec2/route:Route"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_INSTANCE = "aws:rds/instance:Instance"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
ROLE = "arn:aws:iam::123456789012:role/flow-logs"

VPC_0 = Res(VPC, "vpc", {"cidrBlock": "10.0.0.0/16"})
IGW = Res(INTERNET_GATEWAY, "igw", {"vpcId": UNKNOWN}, {"vpcId": ["vpc"]})


def flow_log(name: str = "flow-log", *, traffic: object = "ALL", **props: object) -> Res:
    return Res(
        FLOW_LOG,
        name,
        {"vpcId": UNKNOWN, "trafficType": traffic, "iamRoleArn": ROLE, **props},
        {"vpcId": ["vpc"]},
    )


def logged_to(group: Res, **props: object) -> tuple[Res, ...]:
    """The VPC and a flow log writing to the log group ``group`` of the case."""
    log = Res(
        FLOW_LOG,
        "flow-log",
        {
            "vpcId": UNKNOWN,
            "trafficType": "ALL",
            "iamRoleArn": ROLE,
            "logDestinationType": "cloud-watch-logs",
            "logDestination": UNKNOWN,
            **props,
        },
        {"vpcId": ["vpc"], "logDestination": [group.name]},
    )
    return VPC_0, log, group


def log_group(**props: object) -> Res:
    return Res(LOG_GROUP, "flow-logs", {"name": "/aws/vpc/flow-logs", **props})


def default_group(**props: object) -> Res:
    return Res(
        DEFAULT_SECURITY_GROUP, "default-sg", {"vpcId": UNKNOWN, **props}, {"vpcId": ["vpc"]}
    )


def tcp(port: int, *cidrs: str, ipv6: tuple[str, ...] = (), **entry: object) -> dict[str, object]:
    """An inline ingress entry of a security group."""
    return {
        "protocol": "tcp",
        "fromPort": port,
        "toPort": port,
        "cidrBlocks": list(cidrs),
        "ipv6CidrBlocks": list(ipv6),
        **entry,
    }


def group(name: str, *ingress: dict[str, object]) -> Res:
    return Res(SECURITY_GROUP, name, {"vpcId": "vpc-0abc", "ingress": list(ingress)})


def balancer(*groups: str) -> Res:
    """An application load balancer whose securityGroups come from groups of the case."""
    return Res(
        LOAD_BALANCER,
        "alb",
        {"loadBalancerType": "application", "securityGroups": [UNKNOWN] * len(groups)},
        {"securityGroups": list(groups)},
    )


def ingress_rule(name: str, group_name: str, **props: object) -> Res:
    """A SecurityGroupIngressRule resource adding to the group ``group_name`` of the case."""
    return Res(
        INGRESS_RULE,
        name,
        {"securityGroupId": UNKNOWN, **props},
        {"securityGroupId": [group_name]},
    )


def subnet(name: str = "subnet-a", **props: object) -> Res:
    return Res(
        SUBNET, name, {"vpcId": UNKNOWN, "cidrBlock": "10.0.0.0/24", **props}, {"vpcId": ["vpc"]}
    )


def associated(subnet_name: str, table: str) -> Res:
    return Res(
        ASSOCIATION,
        f"{subnet_name}-rta",
        {"subnetId": UNKNOWN, "routeTableId": UNKNOWN},
        {"subnetId": [subnet_name], "routeTableId": [table]},
    )


def table(name: str) -> Res:
    return Res(ROUTE_TABLE, name, {"vpcId": UNKNOWN}, {"vpcId": ["vpc"]})


def default_route(name: str, table_name: str, **route: object) -> Res:
    """A 0.0.0.0/0 route of ``table_name``; a gatewayId of UNKNOWN comes from the case's igw."""
    deps: dict[str, list[str]] = {"routeTableId": [table_name]}
    if route.get("gatewayId") == UNKNOWN:
        deps["gatewayId"] = ["igw"]
    return Res(
        ROUTE,
        name,
        {"routeTableId": UNKNOWN, "destinationCidrBlock": "0.0.0.0/0", **route},
        deps,
    )


def database(*groups: str) -> Res:
    return Res(
        RDS_CLUSTER,
        "db",
        {"engine": "aurora-postgresql", "vpcSecurityGroupIds": [UNKNOWN] * len(groups)},
        {"vpcSecurityGroupIds": list(groups)},
    )


def cache(*groups: str) -> Res:
    return Res(
        CACHE,
        "cache",
        {"description": "cache", "securityGroupIds": [UNKNOWN] * len(groups)},
        {"securityGroupIds": list(groups)},
    )


PUBLIC_NETWORK = (
    VPC_0,
    IGW,
    table("public-rt"),
    default_route("public-internet", "public-rt", gatewayId=UNKNOWN),
)

CASES = [
    # -- vpc-flow-logs-enabled -----------------------------------------------------------
    violates(
        "vpc-flow-logs-enabled",
        "VPC without a flow log",
        VPC_0,
        at="vpc",
        message="has no flow log; expected a flow log of ALL (or at least REJECT) traffic",
    ),
    violates(
        "vpc-flow-logs-enabled",
        "flow log of accepted traffic only",
        VPC_0,
        flow_log(traffic="ACCEPT"),
        at="vpc",
        message="has flow logs of ACCEPT traffic only",
    ),
    violates(
        "vpc-flow-logs-enabled",
        "a subnet's flow log does not cover the VPC",
        VPC_0,
        subnet(),
        Res(
            FLOW_LOG,
            "subnet-flow-log",
            {"subnetId": UNKNOWN, "trafficType": "ALL"},
            {"subnetId": ["subnet-a"]},
        ),
        at="vpc",
        message="has no flow log",
    ),
    violates(
        "vpc-flow-logs-enabled",
        "the second VPC without a flow log",
        VPC_0,
        flow_log(),
        Res(VPC, "other-vpc", {"cidrBlock": "10.1.0.0/16"}),
        at="other-vpc",
        message="Vpc 'other-vpc' has no flow log",
    ),
    passes("vpc-flow-logs-enabled", "flow log of all traffic", VPC_0, flow_log()),
    passes(
        "vpc-flow-logs-enabled", "flow log of rejected traffic", VPC_0, flow_log(traffic="REJECT")
    ),
    passes(
        "vpc-flow-logs-enabled",
        "accepted and rejected traffic in two logs",
        VPC_0,
        flow_log("accepted", traffic="ACCEPT"),
        flow_log("rejected", traffic="REJECT"),
    ),
    undecided("vpc-flow-logs-enabled", "traffic type unknown", VPC_0, flow_log(traffic=UNKNOWN)),
    # -- vpc-flow-logs-retained ----------------------------------------------------------
    violates(
        "vpc-flow-logs-retained",
        "log group that never expires",
        *logged_to(log_group()),
        at="flow-log",
        message="writes to log group 'flow-logs', which never expires its logs",
    ),
    violates(
        "vpc-flow-logs-retained",
        "retention of 0 days is forever",
        *logged_to(log_group(retentionInDays=0)),
        at="flow-log",
        message="never expires its logs",
    ),
    violates(
        "vpc-flow-logs-retained",
        "cloud-watch-logs is the default destination type",
        VPC_0,
        flow_log(logDestination="arn:aws:logs:us-east-1:123456789012:log-group:shared"),
        at="flow-log",
        message="writes to a log group this stack does not manage",
    ),
    passes(
        "vpc-flow-logs-retained",
        "log group kept a year",
        *logged_to(log_group(retentionInDays=365)),
    ),
    passes(
        "vpc-flow-logs-retained",
        "S3 destination keeps logs by its lifecycle",
        VPC_0,
        flow_log(logDestinationType="s3", logDestination="arn:aws:s3:::flow-logs-bucket"),
    ),
    undecided(
        "vpc-flow-logs-retained",
        "retention unknown",
        *logged_to(log_group(retentionInDays=UNKNOWN)),
    ),
    undecided(
        "vpc-flow-logs-retained",
        "destination type unknown",
        *logged_to(log_group(), logDestinationType=UNKNOWN),
    ),
    # -- vpc-default-security-group-closed -----------------------------------------------
    violates(
        "vpc-default-security-group-closed",
        "default security group left as AWS creates it",
        VPC_0,
        at="vpc",
        message="leaves its default security group as AWS creates it",
    ),
    violates(
        "vpc-default-security-group-closed",
        "adopted default group keeps an ingress rule",
        VPC_0,
        default_group(
            ingress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}], egress=[]
        ),
        at="default-sg",
        message="has 1 ingress rule(s); expected none",
    ),
    violates(
        "vpc-default-security-group-closed",
        "adopted default group keeps all egress",
        VPC_0,
        default_group(
            ingress=[],
            egress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}],
        ),
        at="default-sg",
        message="has 1 egress rule(s); expected none",
    ),
    violates(
        "vpc-default-security-group-closed",
        "ingress rule resource added to the default group",
        VPC_0,
        default_group(ingress=[], egress=[]),
        ingress_rule(
            "default-ssh",
            "default-sg",
            ipProtocol="tcp",
            fromPort=22,
            toPort=22,
            cidrIpv4="10.0.0.0/8",
        ),
        at="default-ssh",
        message="SecurityGroupIngressRule 'default-ssh' adds a rule to DefaultSecurityGroup",
    ),
    violates(
        "vpc-default-security-group-closed",
        "egress rule resource added to the default group",
        VPC_0,
        default_group(ingress=[], egress=[]),
        Res(
            EGRESS_RULE,
            "default-egress",
            {"securityGroupId": UNKNOWN, "ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"},
            {"securityGroupId": ["default-sg"]},
        ),
        at="default-egress",
        message="adds a rule to DefaultSecurityGroup 'default-sg'",
    ),
    passes(
        "vpc-default-security-group-closed",
        "adopted with no rules",
        VPC_0,
        default_group(ingress=[], egress=[]),
    ),
    passes(
        "vpc-default-security-group-closed",
        "adopted without rule lists (the provider strips the rules)",
        VPC_0,
        default_group(),
    ),
    undecided(
        "vpc-default-security-group-closed",
        "ingress of the adopted group unknown",
        VPC_0,
        default_group(ingress=UNKNOWN, egress=[]),
    ),
    # -- ec2-no-world-ingress ------------------------------------------------------------
    violates(
        "ec2-no-world-ingress",
        "a group with an unknown range does not hide another group's world-open SSH",
        group("pending", tcp(22, UNKNOWN)),
        group("app", tcp(22, "0.0.0.0/0")),
        at="app",
        message="SecurityGroup 'app' (ingress[0]) admits 0.0.0.0/0 on port 22",
    ),
    violates(
        "ec2-no-world-ingress",
        "world-open SSH on a group",
        group("app", tcp(22, "0.0.0.0/0")),
        at="app",
        message="SecurityGroup 'app' (ingress[0]) admits 0.0.0.0/0 on port 22; this group is not "
        "a load balancer's",
    ),
    violates(
        "ec2-no-world-ingress",
        "world-open HTTPS on a group no load balancer uses",
        group("app", tcp(443, "10.0.0.0/8"), tcp(443, "0.0.0.0/0")),
        at="app",
        message="(ingress[1]) admits 0.0.0.0/0 on port 443; this group is not a load balancer's",
    ),
    violates(
        "ec2-no-world-ingress",
        "world-open SSH on a load balancer's group",
        group("alb-sg", tcp(443, "0.0.0.0/0"), tcp(22, "0.0.0.0/0")),
        balancer("alb-sg"),
        at="alb-sg",
        message="admits 0.0.0.0/0 on port 22; only a load balancer's group may admit the "
        "internet, on 80, 443",
    ),
    violates(
        "ec2-no-world-ingress",
        "all protocols (-1) from IPv6 ::/0 on a load balancer's group",
        group("alb-sg", {"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::/0"]}),
        balancer("alb-sg"),
        at="alb-sg",
        message="admits ::/0 on all ports",
    ),
    violates(
        "ec2-no-world-ingress",
        "port range 80-443 on a load balancer's group",
        group("alb-sg", {**tcp(80, "0.0.0.0/0"), "toPort": 443}),
        balancer("alb-sg"),
        at="alb-sg",
        message="admits 0.0.0.0/0 on ports 80-443",
    ),
    violates(
        "ec2-no-world-ingress",
        "IPv6 HTTPS on an ingress rule resource of a plain group",
        group("app"),
        ingress_rule(
            "app-https", "app", ipProtocol="tcp", fromPort=443, toPort=443, cidrIpv6="::/0"
        ),
        at="app-https",
        message="SecurityGroupIngressRule 'app-https' admits ::/0 on port 443",
    ),
    violates(
        "ec2-no-world-ingress",
        "rule resource on a group made elsewhere",
        Res(
            SECURITY_GROUP_RULE,
            "https",
            {
                "type": "ingress",
                "securityGroupId": "sg-0elsewhere",
                "protocol": "tcp",
                "fromPort": 443,
                "toPort": 443,
                "cidrBlocks": ["0.0.0.0/0"],
            },
        ),
        at="https",
        message="this group is not a load balancer's",
    ),
    passes(
        "ec2-no-world-ingress",
        "HTTP and HTTPS from the world on a load balancer's group",
        group(
            "alb-sg", tcp(80, "0.0.0.0/0", ipv6=("::/0",)), tcp(443, "0.0.0.0/0", ipv6=("::/0",))
        ),
        balancer("alb-sg"),
    ),
    passes(
        "ec2-no-world-ingress",
        "HTTPS rule resource on a load balancer's group",
        group("alb-sg"),
        balancer("alb-sg"),
        ingress_rule(
            "alb-https", "alb-sg", ipProtocol="tcp", fromPort=443, toPort=443, cidrIpv4="0.0.0.0/0"
        ),
    ),
    passes(
        "ec2-no-world-ingress",
        "a configured load balancer port",
        group("alb-sg", tcp(8443, "0.0.0.0/0")),
        balancer("alb-sg"),
        config={"loadBalancerPorts": [8443]},
    ),
    passes(
        "ec2-no-world-ingress",
        "private ranges and groups only",
        group("app", tcp(22, "10.0.0.0/8"), tcp(5432, securityGroups=["sg-0clients"])),
    ),
    undecided(
        "ec2-no-world-ingress",
        "source range of a rule resource unknown",
        group("app"),
        ingress_rule(
            "app-https", "app", ipProtocol="tcp", fromPort=443, toPort=443, cidrIpv4=UNKNOWN
        ),
    ),
    undecided(
        "ec2-no-world-ingress",
        "ports of a world-open entry unknown",
        group("alb-sg", {**tcp(443, "0.0.0.0/0"), "fromPort": UNKNOWN, "toPort": UNKNOWN}),
        balancer("alb-sg"),
    ),
    # -- ec2-subnet-no-auto-public-ip ----------------------------------------------------
    violates(
        "ec2-subnet-no-auto-public-ip",
        "public IPs in a subnet routed through NAT",
        VPC_0,
        subnet("private-a", mapPublicIpOnLaunch=True),
        table("private-rt"),
        default_route("private-egress", "private-rt", natGatewayId="nat-0123456789abcdef0"),
        associated("private-a", "private-rt"),
        at="private-a",
        message="has no route to the internet but gives instances public IPs",
    ),
    violates(
        "ec2-subnet-no-auto-public-ip",
        "public IPs in a subnet on a main route table that AWS created",
        VPC_0,
        subnet("private-a", mapPublicIpOnLaunch=True),
        at="private-a",
        message="Subnet 'private-a' has no route to the internet",
    ),
    passes(
        "ec2-subnet-no-auto-public-ip",
        "public IPs in a subnet routed to an internet gateway",
        *PUBLIC_NETWORK,
        subnet("public-a", mapPublicIpOnLaunch=True),
        associated("public-a", "public-rt"),
    ),
    passes(
        "ec2-subnet-no-auto-public-ip",
        "public IPs in a subnet on an adopted main route table to an internet gateway",
        VPC_0,
        IGW,
        Res(
            DEFAULT_ROUTE_TABLE,
            "main-rt",
            {
                "defaultRouteTableId": UNKNOWN,
                "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": UNKNOWN}],
            },
            {"defaultRouteTableId": ["vpc"], "routes": ["igw"]},
        ),
        subnet("public-a", mapPublicIpOnLaunch=True),
    ),
    passes(
        "ec2-subnet-no-auto-public-ip",
        "public IPs in a subnet on a main route table set to a public one",
        *PUBLIC_NETWORK,
        Res(
            MAIN_ASSOCIATION,
            "main",
            {"vpcId": UNKNOWN, "routeTableId": UNKNOWN},
            {"vpcId": ["vpc"], "routeTableId": ["public-rt"]},
        ),
        subnet("public-a", mapPublicIpOnLaunch=True),
    ),
    passes("ec2-subnet-no-auto-public-ip", "no public IPs by default", VPC_0, subnet("private-a")),
    passes(
        "ec2-subnet-no-auto-public-ip",
        "public IPs turned off",
        VPC_0,
        subnet("private-a", mapPublicIpOnLaunch=False),
    ),
    undecided(
        "ec2-subnet-no-auto-public-ip",
        "public IP flag unknown",
        VPC_0,
        subnet("private-a", mapPublicIpOnLaunch=UNKNOWN),
    ),
    # -- data-store-ingress-from-security-groups -----------------------------------------
    violates(
        "data-store-ingress-from-security-groups",
        "database group admits a CIDR range",
        group("db-sg", tcp(5432, "10.0.0.0/16")),
        database("db-sg"),
        at="db-sg",
        message="SecurityGroup 'db-sg' (ingress[0]) admits [\"10.0.0.0/16\"] to Cluster 'db'",
    ),
    violates(
        "data-store-ingress-from-security-groups",
        "cache group admits a CIDR range through a rule resource",
        group("cache-sg"),
        cache("cache-sg"),
        ingress_rule(
            "cache-vpc",
            "cache-sg",
            ipProtocol="tcp",
            fromPort=6379,
            toPort=6379,
            cidrIpv4="10.0.0.0/16",
        ),
        at="cache-vpc",
        message="to ReplicationGroup 'cache'; expected only security groups",
    ),
    violates(
        "data-store-ingress-from-security-groups",
        "database instance group admits a prefix list",
        group("db-sg", tcp(5432, prefixListIds=["pl-0123456789abcdef0"])),
        Res(
            RDS_INSTANCE,
            "db",
            {"engine": "postgres", "vpcSecurityGroupIds": [UNKNOWN]},
            {"vpcSecurityGroupIds": ["db-sg"]},
        ),
        at="db-sg",
        message="admits [\"pl-0123456789abcdef0\"] to Instance 'db'",
    ),
    violates(
        "data-store-ingress-from-security-groups",
        "a range unknown until created is still a range",
        group("db-sg"),
        database("db-sg"),
        ingress_rule(
            "db-vpc", "db-sg", ipProtocol="tcp", fromPort=5432, toPort=5432, cidrIpv6=UNKNOWN
        ),
        at="db-vpc",
        message="to Cluster 'db'; expected only security groups",
    ),
    passes(
        "data-store-ingress-from-security-groups",
        "database admits its clients' group",
        group("db-sg", tcp(5432, securityGroups=["sg-0clients"])),
        database("db-sg"),
    ),
    passes(
        "data-store-ingress-from-security-groups",
        "cache admits a referenced group through a rule resource",
        group("cache-sg"),
        cache("cache-sg"),
        ingress_rule(
            "cache-clients",
            "cache-sg",
            ipProtocol="tcp",
            fromPort=6379,
            toPort=6379,
            referencedSecurityGroupId="sg-0clients",
        ),
    ),
    passes(
        "data-store-ingress-from-security-groups",
        "CIDR ingress on a group no data store uses",
        group("app", tcp(443, "10.0.0.0/16")),
        group("db-sg", tcp(5432, self=True)),
        database("db-sg"),
    ),
    undecided(
        "data-store-ingress-from-security-groups",
        "ingress of the database's group unknown",
        Res(SECURITY_GROUP, "db-sg", {"vpcId": "vpc-0abc", "ingress": UNKNOWN}),
        database("db-sg"),
    ),
]
