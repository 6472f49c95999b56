"""WAFv2: a blocking rate limit, the AWS managed rule groups, redacted logging, and an ACL
that actually sits in front of the app's load balancer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.framework import kubernetes as k8s
from policies.framework import params
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Finding, Pack, ResourceRule, stack_rule
from policies.framework.values import MISSING, as_list, get, is_unknown, unknown
from policies.rules.alb import WAF_ANNOTATION, alb_annotations

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
SCHEME = "alb.ingress.kubernetes.io/scheme"


def _rules(resource: Resource) -> list[Mapping[str, Any]]:
    rules = resource.get("rules", [])
    if is_unknown(rules):
        raise unknown(rules, "rules")
    return [r for r in as_list(rules) if isinstance(r, Mapping)]


def _blocks(rule: Mapping[str, Any]) -> bool:
    action = rule.get("action") or {}
    return isinstance(action, Mapping) and bool(action.get("block") is not None)


def _rate_based(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    rate_rules = [r for r in _rules(resource) if get(r, "statement.rateBasedStatement")]
    if not rate_rules:
        yield "rules have no rateBasedStatement; expected a per-IP rate limit that blocks"
    elif not any(_blocks(r) for r in rate_rules):
        for rule in rate_rules:
            if is_unknown(rule.get("action")):
                raise unknown(rule.get("action"), "rules[*].action")  # it may block
        names = ", ".join(str(r.get("name")) for r in rate_rules)
        yield f"rate-based rule(s) {names} only count; expected action block"


rate_based_rule = ResourceRule(
    name="waf-rate-based-rule",
    description="The web ACL blocks clients that exceed a request rate (floods, scraping, "
    "credential stuffing).",
    remediation="Add a rule with statement.rateBasedStatement (aggregateKeyType IP, a limit "
    "from platform:firewall.rateLimit) and action block.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(WEB_ACL,),
    evaluate=_rate_based,
)


def _managed_groups(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    present: dict[str, Mapping[str, Any]] = {}
    rule: Mapping[str, Any] | None
    for rule in _rules(resource):
        statement = get(rule, "statement.managedRuleGroupStatement")
        if isinstance(statement, Mapping) and statement.get("vendorName") == "AWS":
            present[str(statement.get("name"))] = rule
    for name in settings["requiredGroups"]:
        rule = present.get(name)
        if rule is None:
            yield f"the AWS managed rule group {name} is not in the web ACL's rules"
        elif is_unknown(rule.get("overrideAction")):
            raise unknown(rule.get("overrideAction"), "rules[*].overrideAction")
        elif get(rule, "overrideAction.count") is not MISSING:
            yield (
                f"the AWS managed rule group {name} runs with overrideAction count, so it "
                "blocks nothing; expected overrideAction none"
            )


managed_rule_groups = ResourceRule(
    name="waf-managed-rule-groups",
    description="The web ACL runs the AWS managed core rule set and the known-bad-inputs "
    "set (Log4j, Spring4Shell) in blocking mode.",
    remediation="Add managedRuleGroupStatement rules for the listed groups (vendor AWS) with "
    "overrideAction none; count single rules with ruleActionOverrides if they misfire.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(WEB_ACL,),
    compliance=Compliance(fsbp=("WAF.10",), checkov=("CKV_AWS_192", "CKV_AWS_175")),
    params=(
        params.string_list(
            "requiredGroups",
            "AWS managed rule groups every web ACL must run",
            default=["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"],
            min_items=1,
        ),
    ),
    evaluate=_managed_groups,
)


def _redacted_headers(config: Resource) -> set[str]:
    fields = config.get("redactedFields", [])
    if is_unknown(fields):
        raise unknown(fields, "redactedFields")
    names = [get(f, "singleHeader.name") for f in as_list(fields)]
    # An unknown name stays the unknown sentinel: it may be any of the required headers.
    return {n if is_unknown(n) else str(n).lower() for n in names if n is not MISSING}


def _logging(
    acl: Resource, stack: StackView, settings: Mapping[str, Any]
) -> Iterator[Finding | str]:
    required = {h.lower() for h in settings["redactedHeaders"]}
    configs = list(stack.referring_to(acl, "resourceArn", LOGGING))
    if not configs:
        yield (
            f"{acl.label} has no logging configuration; expected requests logged to an "
            "aws-waf-logs-* destination"
        )
    for config in configs:
        redacted = _redacted_headers(config)
        missing = sorted(required - redacted)
        pending = [h for h in redacted if is_unknown(h)]
        if missing and pending:
            raise unknown(pending[0], "redactedFields[*].singleHeader.name")
        if missing:
            yield Finding(
                f"{config.label} logs the {', '.join(missing)} header(s) in clear; "
                "expected them in redactedFields",
                config.urn,
            )


logging_redacted = stack_rule(
    over=(WEB_ACL,),
    name="waf-logging-redacted",
    description="Every web ACL logs its requests, with credentials (authorization, cookie) "
    "redacted.",
    remediation="Add an aws.wafv2.WebAclLoggingConfiguration for the ACL with redactedFields "
    "singleHeader authorization and cookie.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(WEB_ACL, LOGGING),
    compliance=Compliance(checkov=("CKV2_AWS_31",)),
    params=(
        params.string_list(
            "redactedHeaders",
            "request headers the logs must redact",
            default=["authorization", "cookie"],
        ),
    ),
    judge=_logging,
)


def _attached(stack: StackView) -> set[int]:
    """The web ACLs something attaches: an association, or an ALB Ingress's annotation
    (whatever its scheme: an internal ALB uses it too)."""
    used: set[int] = set()
    for association in stack.of_type(ASSOCIATION):
        used |= {id(acl) for acl in association.sources("webAclArn", WEB_ACL)}
    for ingress in stack.of_type(k8s.INGRESS):
        if alb_annotations(ingress.props) is not None:
            used |= {id(acl) for acl in ingress.sources("metadata", WEB_ACL)}
    return used


def _protects_ingress(
    resource: Resource, stack: StackView, settings: Mapping[str, Any]
) -> Iterator[str]:
    if resource.type == WEB_ACL:
        if id(resource) in stack.memo("attached web ACLs", lambda: _attached(stack)):
            return
        scope = get(resource.props, "scope")
        if is_unknown(scope):
            raise unknown(scope, "scope")  # a CLOUDFRONT ACL is attached elsewhere
        if scope != "CLOUDFRONT":
            yield f"{resource.label} protects nothing: no Ingress or WebAclAssociation uses it"
        return
    annotations = alb_annotations(resource.props)
    if annotations is None:
        return
    acls = resource.sources("metadata", WEB_ACL)
    scheme = annotations.get(SCHEME)
    if is_unknown(scheme) and (WAF_ANNOTATION not in annotations or not acls):
        raise unknown(scheme, f"metadata.annotations.{SCHEME}")
    if scheme != "internet-facing":
        return
    if WAF_ANNOTATION not in annotations:
        yield (
            f"internet-facing {resource.label} has no {WAF_ANNOTATION}; expected the stack's "
            "web ACL in front of its load balancer"
        )
    elif not acls:
        yield (
            f"internet-facing {resource.label} names a web ACL this stack does not manage; "
            "its rules cannot be checked"
        )


protects_ingress = stack_rule(
    over=(k8s.INGRESS, WEB_ACL),
    name="waf-protects-ingress",
    description="The app's internet-facing load balancer is behind a web ACL of this stack, "
    "and no web ACL is left unattached.",
    remediation="Set alb.ingress.kubernetes.io/wafv2-acl-arn on the Ingress to the "
    "firewall's web ACL ARN (an output of the Firewall component).",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(k8s.INGRESS, WEB_ACL, ASSOCIATION),
    compliance=Compliance(checkov=("CKV2_AWS_28",)),
    judge=_protects_ingress,
)

RULES = (rate_based_rule, managed_rule_groups, logging_redacted, protects_ingress)
