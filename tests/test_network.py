"""The Network component, inspected through the offline engine's captured registrations."""

from __future__ import annotations

import ipaddress
import itertools
import json

import pytest

from platform_common.aws_types import takes_tag_map
from platform_common.pulumi_values import is_unknown
from tests.conftest import preview, stack_setting

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
NETWORK = "platform:components:Network"


def subnets(result, tier):
    return [s for s in result.of_type(SUBNET) if s.inputs["tags"]["tier"] == tier]


@pytest.mark.parametrize(
    ("stack", "zones", "nats", "retention", "traffic"),
    [("dev", 2, 1, 7, "REJECT"), ("staging", 3, 3, 90, "ALL"), ("prod", 3, 3, 365, "ALL")],
)
def test_each_stack_builds_the_network_its_profile_asks_for(stack, zones, nats, retention, traffic):
    result = preview(stack)
    assert len(result.of_type(SUBNET)) == 3 * zones
    for tier in ("public", "private", "isolated"):
        assert len(subnets(result, tier)) == zones
    assert len({s.inputs["availabilityZone"] for s in result.of_type(SUBNET)}) == zones
    assert len(result.of_type(NAT)) == nats
    assert len(result.of_type("aws:ec2/eip:Eip")) == nats
    [log_group] = result.of_type(LOG_GROUP, within=NETWORK)
    assert log_group.inputs["retentionInDays"] == retention
    [flow_log] = result.of_type("aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["trafficType"] == traffic


def test_subnet_cidrs_follow_the_plan_and_never_overlap(stack_preview):
    vpc = stack_preview.of_type("aws:ec2/vpc:Vpc")[0]
    vpc_cidr = ipaddress.ip_network(vpc.inputs["cidrBlock"])
    cidrs = [ipaddress.ip_network(s.inputs["cidrBlock"]) for s in stack_preview.of_type(SUBNET)]
    assert all(c.subnet_of(vpc_cidr) for c in cidrs)
    for a, b in itertools.combinations(cidrs, 2):
        assert not a.overlaps(b)
    assert {c.prefixlen for c in cidrs} == {20, 24}


def test_vpc_has_dns_support_and_hostnames():
    vpc = preview("dev").of_type("aws:ec2/vpc:Vpc")[0]
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True
    assert vpc.inputs["cidrBlock"] == "10.10.0.0/16"


def _routes_by_table(result):
    return {r.inputs["routeTableId"]: r for r in result.of_type(ROUTE)}


def _table_of_subnet(result, subnet):
    [association] = [a for a in result.of_type(ASSOCIATION) if a.inputs["subnetId"] == subnet.id]
    return association.inputs["routeTableId"]


def test_private_subnets_leave_through_the_nat_gateway_of_their_own_zone_in_prod():
    result = preview("prod")
    nat_by_subnet = {n.inputs["subnetId"]: n.id for n in result.of_type(NAT)}
    public_by_zone = {s.inputs["availabilityZone"]: s.id for s in subnets(result, "public")}
    routes = _routes_by_table(result)
    for subnet in subnets(result, "private"):
        route = routes[_table_of_subnet(result, subnet)]
        assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0"
        expected_nat = nat_by_subnet[public_by_zone[subnet.inputs["availabilityZone"]]]
        assert route.inputs["natGatewayId"] == expected_nat


def test_dev_shares_one_nat_gateway_between_its_zones():
    result = preview("dev")
    [nat] = result.of_type(NAT)
    routes = _routes_by_table(result)
    nat_targets = {
        routes[_table_of_subnet(result, s)].inputs["natGatewayId"]
        for s in subnets(result, "private")
    }
    assert nat_targets == {nat.id}


def test_public_subnets_route_to_the_internet_gateway_and_isolated_ones_nowhere(stack_preview):
    result = stack_preview
    [igw] = result.of_type("aws:ec2/internetGateway:InternetGateway")
    routes = _routes_by_table(result)
    for subnet in subnets(result, "public"):
        assert routes[_table_of_subnet(result, subnet)].inputs["gatewayId"] == igw.id
    for subnet in subnets(result, "isolated"):
        assert _table_of_subnet(result, subnet) not in routes
    assert all(not s.inputs["mapPublicIpOnLaunch"] for s in result.of_type(SUBNET))


def test_nat_gateways_wait_for_the_internet_gateway():
    result = preview("prod")
    [igw] = result.of_type("aws:ec2/internetGateway:InternetGateway")
    for nat in result.of_type(NAT):
        assert igw.urn in nat.options["dependsOn"]


def test_subnets_carry_the_tags_the_load_balancer_controller_expects(stack_preview):
    for subnet in subnets(stack_preview, "public"):
        assert subnet.inputs["tags"]["kubernetes.io/role/elb"] == "1"
        assert "kubernetes.io/role/internal-elb" not in subnet.inputs["tags"]
    for subnet in subnets(stack_preview, "private"):
        assert subnet.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert "kubernetes.io/role/elb" not in subnet.inputs["tags"]
    for subnet in subnets(stack_preview, "isolated"):
        assert not any(k.startswith("kubernetes.io/") for k in subnet.inputs["tags"])


def test_flow_logs_go_to_an_encrypted_retained_group_through_a_scoped_role(stack_preview):
    result = stack_preview
    [vpc] = result.of_type("aws:ec2/vpc:Vpc")
    [flow_log] = result.of_type("aws:ec2/flowLog:FlowLog")
    [log_group] = result.of_type(LOG_GROUP, within=NETWORK)
    [role] = result.of_type("aws:iam/role:Role", within=NETWORK)
    [policy] = result.of_type("aws:iam/rolePolicy:RolePolicy", within=NETWORK)
    key = result.named("keys-logs")
    log_group_arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{log_group.inputs['name']}"
    assert flow_log.inputs["vpcId"] == vpc.id
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow_log.inputs["logDestination"] == log_group_arn
    assert flow_log.inputs["iamRoleArn"].endswith(f":role/{role.inputs['name']}")
    assert log_group.inputs["kmsKeyId"] == f"arn:aws:kms:us-east-1:123456789012:key/{key.id}"
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    # Built inside an .apply on the log group's ARN: present only if the apply really ran.
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert statements[0]["Resource"] == f"{log_group_arn}:*"
    assert "*" not in [s["Resource"] for s in statements]


def test_logs_key_rotates_and_grants_nothing_to_everyone(stack_preview):
    key = stack_preview.named("keys-logs")
    assert key.inputs["enableKeyRotation"] is True
    policy = json.loads(key.inputs["policy"])
    for statement in policy["Statement"]:
        assert statement["Principal"] not in ("*", {"AWS": "*"})
    [logs_statement] = [s for s in policy["Statement"] if s["Sid"] == "CloudWatchLogsOfThisAccount"]
    assert logs_statement["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    alias = stack_preview.named("keys-logs-alias")
    assert alias.inputs["targetKeyId"] == key.id


def test_default_security_group_is_stripped_of_all_rules(stack_preview):
    [default_sg] = stack_preview.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg.inputs["ingress"] == []
    assert default_sg.inputs["egress"] == []
    assert default_sg.inputs["vpcId"] == stack_preview.of_type("aws:ec2/vpc:Vpc")[0].id


def test_dev_has_only_the_free_s3_gateway_endpoint():
    result = preview("dev")
    [s3] = result.of_type(ENDPOINT)
    assert s3.inputs["vpcEndpointType"] == "Gateway"
    assert s3.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    private_tables = {_table_of_subnet(result, s) for s in subnets(result, "private")}
    assert set(s3.inputs["routeTableIds"]) == private_tables
    [workloads] = result.of_type(SECURITY_GROUP, within=NETWORK)
    assert workloads.name == "network-workloads"


def test_prod_interface_endpoints_sit_in_private_subnets_behind_https_only():
    result = preview("prod")
    interface = [e for e in result.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"]
    services = sorted(
        e.inputs["serviceName"].removeprefix("com.amazonaws.us-east-1.") for e in interface
    )
    assert services == ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "sts"]
    private_ids = sorted(s.id for s in subnets(result, "private"))
    sg = result.named("network-endpoints")
    for endpoint in interface:
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert sorted(endpoint.inputs["subnetIds"]) == private_ids
        assert endpoint.inputs["securityGroupIds"] == [sg.id]
    [rule] = result.of_type(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", within=NETWORK
    )
    assert rule.inputs["securityGroupId"] == sg.id
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (
        443,
        443,
        "tcp",
    )
    assert rule.inputs["cidrIpv4"] == "10.30.0.0/16"


def test_every_taggable_resource_carries_the_standard_tags(stack_preview):
    stack = stack_preview.stack
    expected = {
        "project": "platform",
        "stack": stack,
        "environment": stack,
        "owner": "platform-team",
        "cost-center": f"cc-1042-{stack}",
        "managed-by": "pulumi",
    }
    taggable = [r for r in stack_preview.resources if r.custom and takes_tag_map(r.type)]
    assert len(taggable) >= 20
    for resource in taggable:
        tags = resource.inputs.get("tags", {})
        assert {k: tags.get(k) for k in expected} == expected, resource.urn


def test_standard_tags_follow_the_settings_and_keep_resource_tags():
    result = preview("dev", platform__owner="data-team", platform__tags={"team": "chat"})
    vpc = result.of_type("aws:ec2/vpc:Vpc")[0]
    assert vpc.inputs["tags"]["owner"] == "data-team"
    assert vpc.inputs["tags"]["team"] == "chat"
    assert vpc.inputs["tags"]["Name"] == "platform-dev"


def test_prod_protects_the_vpc_log_group_and_key_and_dev_protects_nothing():
    prod = preview("prod")
    protected = {r.type for r in prod.within(NETWORK) if r.options.get("protect")}
    assert protected == {"aws:ec2/vpc:Vpc", "aws:cloudwatch/logGroup:LogGroup"}
    assert all(key.options["protect"] for key in prod.of_type("aws:kms/key:Key"))
    [log_group] = prod.of_type(LOG_GROUP, within=NETWORK)
    assert log_group.inputs["deletionProtectionEnabled"] is True
    assert not any(r.options.get("protect") for r in preview("dev").resources)


def test_every_aws_resource_is_a_child_of_a_component(stack_preview):
    components = {
        r.urn for r in stack_preview.resources if r.type.startswith("platform:components:")
    }
    for resource in stack_preview.resources:
        if resource.type.startswith("aws:"):
            assert resource.parent in components, resource.urn


def test_network_registers_the_outputs_other_components_consume():
    result = preview("staging")
    [network] = result.of_type("platform:components:Network")
    outputs = network.outputs
    assert outputs["vpcId"] == result.of_type("aws:ec2/vpc:Vpc")[0].id
    assert sorted(outputs["privateSubnetIds"]) == sorted(s.id for s in subnets(result, "private"))
    assert len(outputs["isolatedSubnetIds"]) == 3
    assert outputs["endpointSecurityGroupId"].startswith("sg-")
    assert len(outputs["privateRouteTableIds"]) == 3
    assert result.outputs["vpcId"] == outputs["vpcId"]


def test_with_unknowns_the_program_still_builds_and_computed_values_stay_unknown():
    known, unknown = preview("prod"), preview("prod", unknowns=True)
    assert [r.urn for r in unknown.resources] == [r.urn for r in known.resources]
    [flow_log] = unknown.of_type("aws:ec2/flowLog:FlowLog")
    assert is_unknown(flow_log.inputs["logDestination"])
    assert is_unknown(flow_log.inputs["vpcId"])
    [policy] = unknown.of_type("aws:iam/rolePolicy:RolePolicy", within=NETWORK)
    assert is_unknown(policy.inputs["policy"])  # the apply waits, as in a real first preview
    assert is_unknown(unknown.outputs["vpcId"])


def test_a_different_region_gets_its_own_zones_and_endpoint_names():
    app = stack_setting("staging", "platform:app")
    app["certificateArn"] = app["certificateArn"].replace("us-east-1", "eu-west-1")
    result = preview("staging", aws__region="eu-west-1", platform__app=app)
    zones = {s.inputs["availabilityZone"] for s in result.of_type(SUBNET)}
    assert zones == {"eu-west-1a", "eu-west-1b", "eu-west-1c"}
    names = {e.inputs["serviceName"] for e in result.of_type(ENDPOINT)}
    assert "com.amazonaws.eu-west-1.s3" in names


def test_the_flow_log_is_created_only_once_its_role_may_write():
    result = preview("dev")
    [flow_log] = result.of_type("aws:ec2/flowLog:FlowLog")
    [policy] = result.of_type("aws:iam/rolePolicy:RolePolicy", within=NETWORK)
    assert policy.urn in flow_log.options["dependsOn"]


def test_captured_values_follow_the_settings_so_assertions_on_them_can_fail():
    """Guards against the mock pitfall: a value the tests check must move with its setting."""
    baseline = preview("dev")
    changed = preview(
        "dev",
        platform__logRetentionDays=30,
        platform__network={
            "cidr": "172.16.0.0/16",
            "availabilityZoneCount": 3,
            "natGateways": "perAz",
            "flowLogTrafficType": "ALL",
            "interfaceEndpoints": ["sts"],
        },
    )
    for result, retention, traffic, nats, endpoints in (
        (baseline, 7, "REJECT", 1, 1),
        (changed, 30, "ALL", 3, 2),
    ):
        [log_group] = result.of_type(LOG_GROUP, within=NETWORK)
        [flow_log] = result.of_type("aws:ec2/flowLog:FlowLog")
        assert log_group.inputs["retentionInDays"] == retention
        assert flow_log.inputs["trafficType"] == traffic
        assert len(result.of_type(NAT)) == nats
        assert len(result.of_type(ENDPOINT)) == endpoints
    changed_cidrs = [s.inputs["cidrBlock"] for s in changed.of_type(SUBNET)]
    assert all(cidr.startswith("172.16.") for cidr in changed_cidrs)
    # Values built inside .apply callbacks change too, so those callbacks really ran.
    [policy] = changed.of_type("aws:iam/rolePolicy:RolePolicy", within=NETWORK)
    [baseline_policy] = baseline.of_type("aws:iam/rolePolicy:RolePolicy", within=NETWORK)
    assert policy.inputs["policy"] == baseline_policy.inputs["policy"]  # same group name
    key = changed.named("keys-logs")
    assert json.loads(key.inputs["policy"])["Statement"][1]["Principal"] == {
        "Service": "logs.us-east-1.amazonaws.com"
    }
