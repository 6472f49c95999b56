"""The app's edge firewall: a regional WAFv2 web ACL for the ALB, with logging."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.parts import LogArchive, log_group

w = aws.wafv2


@dataclass(frozen=True)
class FirewallArgs:
    name_prefix: str
    rate_limit: int  # requests per client IP per window
    rate_limit_window_seconds: int
    managed_rule_groups: Sequence[str]  # AWS managed groups, in evaluation order
    logs: LogArchive
    protect: bool
    count_only_rules: Sequence[str] = ()  # "Group:Rule" whose action is downgraded to count
    blocked_countries: Sequence[str] = ()
    allowed_countries: Sequence[str] = ()  # when set, every other country is blocked
    blocked_ip_cidrs: Sequence[str] = ()
    allowed_ip_cidrs: Sequence[str] = ()  # when set, every other address is blocked
    redacted_headers: Sequence[str] = field(default=("authorization", "cookie"))


class Firewall(pulumi.ComponentResource):
    """Rules run cheapest and most certain first: address and country lists, the per-IP
    rate limit, then AWS managed rule groups. Every rule has metrics and sampled requests,
    and logs go to an encrypted ``aws-waf-logs-`` group with credentials redacted."""

    web_acl_arn: pulumi.Output[str]
    metric_name: str

    def __init__(self, name: str, args: FirewallArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:components:Firewall", name, None, opts)
        acl_name = web_acl_name(args.name_prefix)
        rules = [*self._list_rules(name, args), self._rate_rule(args)]
        rules += [_managed_rule(group, args.count_only_rules) for group in args.managed_rule_groups]
        for priority, rule in enumerate(rules):
            rule.priority = priority

        acl = w.WebAcl(
            f"{name}-acl",
            name=acl_name,
            description=f"Edge firewall of the {args.name_prefix} app",
            scope="REGIONAL",
            default_action=w.WebAclDefaultActionArgs(allow=w.WebAclDefaultActionAllowArgs()),
            rules=[rule.args() for rule in rules],
            visibility_config=w.WebAclVisibilityConfigArgs(**_visibility(acl_name)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # WAF only delivers to log groups whose name starts with aws-waf-logs-.
        logs = log_group(
            f"{name}-logs",
            name=f"aws-waf-logs-{args.name_prefix}",
            archive=args.logs,
            protect=args.protect,
            parent=self,
        )
        w.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=acl.arn,
            log_destination_configs=[logs.arn],
            redacted_fields=[
                w.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=w.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(
                        name=header
                    )
                )
                for header in args.redacted_headers
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.web_acl_arn = acl.arn
        # The name its CloudWatch metrics carry (the WebACL dimension).
        self.metric_name = acl_name
        self.register_outputs({"webAclArn": self.web_acl_arn, "metricName": self.metric_name})

    def _list_rules(self, name: str, args: FirewallArgs) -> list[_Rule]:
        rules = []
        if args.blocked_ip_cidrs:
            ip_set = self._ip_set(f"{name}-blocked-ips", args, args.blocked_ip_cidrs)
            rules.append(_Rule("blocked-ips", _in_ip_set(ip_set)))
        if args.allowed_ip_cidrs:
            ip_set = self._ip_set(f"{name}-allowed-ips", args, args.allowed_ip_cidrs)
            rules.append(_Rule("not-allowed-ips", _not(_in_ip_set(ip_set))))
        if args.blocked_countries:
            rules.append(_Rule("blocked-countries", _from_countries(args.blocked_countries)))
        if args.allowed_countries:
            rules.append(
                _Rule("not-allowed-countries", _not(_from_countries(args.allowed_countries)))
            )
        return rules

    def _ip_set(self, resource_name: str, args: FirewallArgs, cidrs: Sequence[str]) -> w.IpSet:
        return w.IpSet(
            resource_name,
            scope="REGIONAL",
            ip_address_version="IPV4",
            addresses=list(cidrs),
            description=f"{resource_name} of {args.name_prefix}",
            opts=pulumi.ResourceOptions(parent=self),
        )

    @staticmethod
    def _rate_rule(args: FirewallArgs) -> _Rule:
        return _Rule(
            "rate-limit-per-ip",
            w.WebAclRuleStatementArgs(
                rate_based_statement=w.WebAclRuleStatementRateBasedStatementArgs(
                    aggregate_key_type="IP",
                    limit=args.rate_limit,
                    evaluation_window_sec=args.rate_limit_window_seconds,
                )
            ),
        )


@dataclass
class _Rule:
    """One rule of the ACL; ``priority`` is its place in the list, set once all are known."""

    name: str
    statement: w.WebAclRuleStatementArgs
    managed: bool = False
    priority: int = 0

    def args(self) -> w.WebAclRuleArgs:
        # A managed group's own rules decide; our rules block.
        return w.WebAclRuleArgs(
            name=self.name,
            priority=self.priority,
            statement=self.statement,
            action=None
            if self.managed
            else w.WebAclRuleActionArgs(block=w.WebAclRuleActionBlockArgs()),
            override_action=(
                w.WebAclRuleOverrideActionArgs(none=w.WebAclRuleOverrideActionNoneArgs())
                if self.managed
                else None
            ),
            visibility_config=w.WebAclRuleVisibilityConfigArgs(**_visibility(self.name)),
        )


def _managed_rule(group: str, count_only_rules: Sequence[str]) -> _Rule:
    overrides = [
        w.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
            name=rule.partition(":")[2],
            action_to_use=w.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                count=w.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
            ),
        )
        for rule in count_only_rules
        if rule.partition(":")[0] == group
    ]
    return _Rule(
        group,
        w.WebAclRuleStatementArgs(
            managed_rule_group_statement=w.WebAclRuleStatementManagedRuleGroupStatementArgs(
                vendor_name="AWS", name=group, rule_action_overrides=overrides or None
            )
        ),
        managed=True,
    )


def _in_ip_set(ip_set: w.IpSet) -> w.WebAclRuleStatementArgs:
    return w.WebAclRuleStatementArgs(
        ip_set_reference_statement=w.WebAclRuleStatementIpSetReferenceStatementArgs(arn=ip_set.arn)
    )


def _from_countries(codes: Sequence[str]) -> w.WebAclRuleStatementArgs:
    return w.WebAclRuleStatementArgs(
        geo_match_statement=w.WebAclRuleStatementGeoMatchStatementArgs(country_codes=list(codes))
    )


def _not(statement: w.WebAclRuleStatementArgs) -> w.WebAclRuleStatementArgs:
    return w.WebAclRuleStatementArgs(
        not_statement=w.WebAclRuleStatementNotStatementArgs(statement=statement)
    )


def web_acl_name(name_prefix: str) -> str:
    """The web ACL's name, which is also the name its CloudWatch metrics carry: known
    before the ACL exists, so alarms on it need not wait for it."""
    return f"{name_prefix}-app"


def _visibility(metric_name: str) -> dict[str, Any]:
    # The ACL and each rule take the same fields under two different argument types.
    return {
        "cloudwatch_metrics_enabled": True,
        "metric_name": metric_name,
        "sampled_requests_enabled": True,
    }
