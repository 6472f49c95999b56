"""VPC-wide rules that need the whole stack: flow logs and where they go, the default
security group, what the internet may reach, public IPs, and who reaches the data stores."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.framework import params
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Finding, Pack, stack_rule
from policies.framework.values import MISSING, is_unknown, show, truthy, unknown
from policies.rules.networking import (
    DEFAULT_SECURITY_GROUP,
    FLOW_LOG,
    GROUPS,
    INGRESS_RULE,
    INGRESS_TYPES,
    LOAD_BALANCERS,
    SECURITY_GROUP_RULE,
    SUBNET,
    VPC,
    ingress_of,
    is_public_subnet,
    target_groups,
)

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
RDS_DATABASES = ("aws:rds/cluster:Cluster", "aws:rds/instance:Instance")
CACHES = ("aws:elasticache/replicationGroup:ReplicationGroup",)
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
GROUP_RULES = (SECURITY_GROUP_RULE, INGRESS_RULE, EGRESS_RULE)


def _flow_logs(vpc: Resource, stack: StackView, settings: Mapping[str, Any]) -> Iterator[str]:
    logs = list(stack.referring_to(vpc, "vpcId", FLOW_LOG))
    traffic = [log.get("trafficType", MISSING) for log in logs]
    if any(is_unknown(t) for t in traffic):
        raise unknown(next(t for t in traffic if is_unknown(t)), "trafficType")
    if not any(t in ("ALL", "REJECT") for t in traffic):
        what = (
            "no flow log"
            if not logs
            else f"flow logs of {', '.join(sorted(map(str, traffic)))} traffic only"
        )
        yield f"{vpc.label} has {what}; expected a flow log of ALL (or at least REJECT) traffic"


flow_logs_enabled = stack_rule(
    name="vpc-flow-logs-enabled",
    description="Every VPC records its traffic (at least rejected traffic) in flow logs.",
    remediation="Add an aws.ec2.FlowLog for the VPC with trafficType ALL (or REJECT) to a "
    "retained, encrypted log group.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    over=(VPC,),
    resource_types=(VPC, FLOW_LOG),
    compliance=Compliance(cis=("3.7",), fsbp=("EC2.6",), checkov=("CKV2_AWS_11",)),
    judge=_flow_logs,
)


def _flow_log_destination(
    flow_log: Resource, stack: StackView, settings: Mapping[str, Any]
) -> Iterator[str]:
    if flow_log.get("logDestinationType", "cloud-watch-logs") != "cloud-watch-logs":
        return  # S3 and Firehose destinations keep logs by their own lifecycle
    groups = flow_log.sources("logDestination", LOG_GROUP) + flow_log.sources(
        "logGroupName", LOG_GROUP
    )
    if not groups:
        yield (
            f"{flow_log.label} writes to a log group this stack does not manage; its "
            "retention cannot be checked"
        )
    for group in groups:
        retention = group.get("retentionInDays", 0)
        if is_unknown(retention):
            raise unknown(retention, "retentionInDays")
        if not retention:
            yield (
                f"{flow_log.label} writes to log group {group.name!r}, which never expires its "
                "logs; expected retentionInDays"
            )


flow_logs_retained = stack_rule(
    name="vpc-flow-logs-retained",
    description="Every flow log writes to a log group of this stack that has a retention period.",
    remediation="Point logDestination at a log group created in the stack with "
    "retentionInDays (and kmsKeyId) set.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    over=(FLOW_LOG,),
    resource_types=(FLOW_LOG, LOG_GROUP),
    compliance=Compliance(checkov=("CKV_AWS_66",)),
    judge=_flow_log_destination,
)


def _default_security_group(
    resource: Resource, stack: StackView, settings: Mapping[str, Any]
) -> Iterator[Finding | str]:
    if resource.type == VPC:
        if not list(stack.referring_to(resource, "vpcId", DEFAULT_SECURITY_GROUP)):
            yield (
                f"{resource.label} leaves its default security group as AWS creates it (all "
                "traffic between members, all egress); expected it adopted with no rules"
            )
        return
    for key in ("ingress", "egress"):
        rules = resource.get(key, [])
        if is_unknown(rules):
            raise unknown(rules, key)
        if rules:
            yield f"{resource.label} has {len(rules)} {key} rule(s); expected none"
    # Rules can also come as resources of their own, added to the group.
    for rule in stack.referring_to(resource, "securityGroupId", *GROUP_RULES):
        yield Finding(f"{rule.label} adds a rule to {resource.label}; expected none", rule.urn)


default_security_group_closed = stack_rule(
    name="vpc-default-security-group-closed",
    description="The default security group of every VPC allows no traffic.",
    remediation="Adopt it with aws.ec2.DefaultSecurityGroup(vpc_id=..., ingress=[], "
    "egress=[]) and give resources their own groups.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    over=(VPC, DEFAULT_SECURITY_GROUP),
    resource_types=(VPC, DEFAULT_SECURITY_GROUP, *GROUP_RULES),
    compliance=Compliance(cis=("5.4",), fsbp=("EC2.2",), checkov=("CKV2_AWS_12",)),
    judge=_default_security_group,
)


def _load_balancer_groups(stack: StackView) -> set[int]:
    return {
        id(group)
        for balancer in stack.of_type(*LOAD_BALANCERS)
        for group in balancer.sources("securityGroups", *GROUPS)
    }


def _on_load_balancer(stack: StackView, resource: Resource) -> bool:
    balancer_groups = stack.memo("load balancer groups", lambda: _load_balancer_groups(stack))
    groups = target_groups(resource)
    return bool(groups) and all(id(g) in balancer_groups for g in groups)


def _world_ingress(
    resource: Resource, stack: StackView, settings: Mapping[str, Any]
) -> Iterator[str]:
    web_ports = {int(p) for p in settings["loadBalancerPorts"]}
    for entry in ingress_of(resource):
        if not entry.world:
            continue
        on_balancer = _on_load_balancer(stack, resource)
        low, high = entry.ports
        web_only = high - low < 2 and {low, high} <= web_ports
        if on_balancer and web_only:
            continue
        where = f" ({entry.where})" if entry.where else ""
        reason = (
            "only a load balancer's group may admit the internet, on "
            + ", ".join(map(str, sorted(web_ports)))
            if on_balancer
            else "this group is not a load balancer's"
        )
        yield (
            f"{resource.label}{where} admits {', '.join(entry.world)} on "
            f"{entry.describe_ports()}; {reason}"
        )


no_world_ingress = stack_rule(
    name="ec2-no-world-ingress",
    description="Nothing admits traffic from 0.0.0.0/0 or ::/0, except HTTP and HTTPS on "
    "a load balancer's security group.",
    remediation="Admit other security groups (or named ranges) instead; put internet-facing "
    "services behind the ALB.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    over=INGRESS_TYPES,
    compliance=Compliance(fsbp=("EC2.18", "EC2.19"), checkov=("CKV_AWS_277",)),
    params=(
        params.integer_list(
            "loadBalancerPorts",
            "ports a load balancer's security group may open to the internet",
            default=[80, 443],
            minimum=1,
            maximum=65535,
        ),
    ),
    judge=_world_ingress,
)


def _auto_public_ip(
    subnet: Resource, stack: StackView, settings: Mapping[str, Any]
) -> Iterator[str]:
    assigns = subnet.get("mapPublicIpOnLaunch", False)
    if is_unknown(assigns):
        raise unknown(assigns, "mapPublicIpOnLaunch")
    if truthy(assigns) and not is_public_subnet(stack, subnet):
        yield (
            f"{subnet.label} has no route to the internet but gives instances public IPs "
            "(mapPublicIpOnLaunch); expected false"
        )


subnet_no_auto_public_ip = stack_rule(
    name="ec2-subnet-no-auto-public-ip",
    description="Private subnets do not give instances public IP addresses.",
    remediation="Set mapPublicIpOnLaunch: false on every subnet that is not routed to an "
    "internet gateway.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    over=(SUBNET,),
    compliance=Compliance(fsbp=("EC2.15",), checkov=("CKV_AWS_130",)),
    judge=_auto_public_ip,
)


def _data_store_of(stack: StackView, group: Resource) -> Resource | None:
    for store in stack.referring_to(group, "vpcSecurityGroupIds", *RDS_DATABASES):
        return store
    for cache in stack.referring_to(group, "securityGroupIds", *CACHES):
        return cache
    return None


def _data_store_ingress(
    resource: Resource, stack: StackView, settings: Mapping[str, Any]
) -> Iterator[str]:
    for group in target_groups(resource):
        store = _data_store_of(stack, group)
        if store is None:
            continue
        for entry in ingress_of(resource):
            ranges = [*entry.cidrs, *entry.prefix_lists]
            if ranges:
                # A range unknown until the update is still a range.
                known = [r for r in ranges if not is_unknown(r)]
                what = show("ranges", known) if known else "a range unknown until the update"
                where = f" ({entry.where})" if entry.where else ""
                yield (
                    f"{resource.label}{where} admits {what} to {store.label}; expected only "
                    "security groups (clients are identified by group, not by address)"
                )


data_store_ingress = stack_rule(
    name="data-store-ingress-from-security-groups",
    description="Databases and caches admit their clients by security group, never by CIDR range.",
    remediation="Replace the CIDR rule with one whose referencedSecurityGroupId is the "
    "client's security group (the network's workloads group).",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    over=INGRESS_TYPES,
    resource_types=(*INGRESS_TYPES, *RDS_DATABASES, *CACHES),
    judge=_data_store_ingress,
)


RULES = (
    flow_logs_enabled,
    flow_logs_retained,
    default_security_group_closed,
    no_world_ingress,
    subnet_no_auto_public_ip,
    data_store_ingress,
)
