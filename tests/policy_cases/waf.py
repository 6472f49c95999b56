"""Cases for policies/rules/waf.py."""

from __future__ import annotations

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
PREFIX = "alb.ingress.kubernetes.io/"
WAF_ANNOTATION = PREFIX + "wafv2-acl-arn"
ACL_ARN = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/app/a1b2c3d4"
COMMON = "AWSManagedRulesCommonRuleSet"
BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"


def visibility(name: str) -> dict[str, object]:
    return {"cloudwatchMetricsEnabled": True, "metricName": name, "sampledRequestsEnabled": True}


def rate_rule(action: str = "block", name: str = "rate-limit-per-ip") -> dict[str, object]:
    return {
        "name": name,
        "priority": 0,
        "action": {action: {}},
        "statement": {"rateBasedStatement": {"aggregateKeyType": "IP", "limit": 2000}},
        "visibilityConfig": visibility(name),
    }


def managed(group: str, override: str = "none", vendor: str = "AWS") -> dict[str, object]:
    return {
        "name": group,
        "priority": 1,
        "overrideAction": {override: {}},
        "statement": {"managedRuleGroupStatement": {"vendorName": vendor, "name": group}},
        "visibilityConfig": visibility(group),
    }


FULL = [rate_rule(), managed(COMMON), managed(BAD_INPUTS)]


def acl(rules: object = FULL, name: str = "acl", **props: object) -> Res:
    return Res(
        WEB_ACL,
        name,
        {
            "name": "platform-app",
            "scope": "REGIONAL",
            "defaultAction": {"allow": {}},
            "rules": rules,
            "visibilityConfig": visibility("platform-app"),
            **props,
        },
    )


def redacting(*headers: object) -> list[dict[str, object]]:
    return [{"singleHeader": {"name": header}} for header in headers]


def logging(redacted: object, of: str = "acl") -> Res:
    return Res(
        LOGGING,
        f"{of}-logging",
        {
            "resourceArn": UNKNOWN,
            "logDestinationConfigs": [UNKNOWN],
            "redactedFields": redacted,
        },
        {"resourceArn": [of], "logDestinationConfigs": ["waf-logs"]},
    )


def ingress(annotations: object, acl_source: str | None = None, **spec: object) -> Res:
    """An ALB Ingress; ``acl_source`` names the web ACL its annotations came from."""
    return Res(
        INGRESS,
        "web",
        {
            "metadata": {"name": "web", "namespace": "app", "annotations": annotations},
            "spec": {"ingressClassName": "alb", **spec},
        },
        {"metadata": [acl_source]} if acl_source else {},
    )


def public(**annotations: object) -> dict[str, object]:
    return {PREFIX + "scheme": "internet-facing", PREFIX + "target-type": "ip", **annotations}


def association(of: str = "acl") -> Res:
    return Res(
        ASSOCIATION,
        "association",
        {"resourceArn": "arn:aws:elasticloadbalancing:...", "webAclArn": UNKNOWN},
        {"webAclArn": [of]},
    )


CASES = [
    violates(
        "waf-rate-based-rule",
        "no rate-based rule",
        acl([managed(COMMON), managed(BAD_INPUTS)]),
        message="rules have no rateBasedStatement; expected a per-IP rate limit that blocks",
    ),
    violates(
        "waf-rate-based-rule",
        "no rules at all",
        acl(None),
        message="rules have no rateBasedStatement",
    ),
    violates(
        "waf-rate-based-rule",
        "rate limit in count mode",
        acl([rate_rule("count"), managed(COMMON), managed(BAD_INPUTS)]),
        message="rate-based rule(s) rate-limit-per-ip only count; expected action block",
    ),
    passes("waf-rate-based-rule", "blocking rate limit", acl()),
    passes(
        "waf-rate-based-rule",
        "one of two rate limits blocks",
        acl([rate_rule("count", "rate-trial"), rate_rule("block")]),
    ),
    undecided("waf-rate-based-rule", "rules unknown", acl(UNKNOWN)),
    undecided(
        "waf-rate-based-rule",
        "action of the rate rule unknown",
        acl([{**rate_rule(), "action": UNKNOWN}]),
    ),
    # waf-managed-rule-groups
    violates(
        "waf-managed-rule-groups",
        "known-bad-inputs group missing",
        acl([rate_rule(), managed(COMMON)]),
        message=f"the AWS managed rule group {BAD_INPUTS} is not in the web ACL's rules",
    ),
    violates(
        "waf-managed-rule-groups",
        "core rule set in count mode",
        acl([rate_rule(), managed(COMMON, override="count"), managed(BAD_INPUTS)]),
        message=f"the AWS managed rule group {COMMON} runs with overrideAction count, so it "
        "blocks nothing",
    ),
    violates(
        "waf-managed-rule-groups",
        "a group of the same name from another vendor",
        acl([rate_rule(), managed(COMMON, vendor="F5"), managed(BAD_INPUTS)]),
        message=f"the AWS managed rule group {COMMON} is not in the web ACL's rules",
    ),
    violates(
        "waf-managed-rule-groups",
        "a configured group missing",
        acl(),
        config={"requiredGroups": [COMMON, "AWSManagedRulesSQLiRuleSet"]},
        message="the AWS managed rule group AWSManagedRulesSQLiRuleSet is not in",
    ),
    passes("waf-managed-rule-groups", "both default groups blocking", acl()),
    passes(
        "waf-managed-rule-groups",
        "single rules counted with ruleActionOverrides still block the rest",
        acl(
            [
                {
                    **managed(COMMON),
                    "statement": {
                        "managedRuleGroupStatement": {
                            "vendorName": "AWS",
                            "name": COMMON,
                            "ruleActionOverrides": [
                                {"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}
                            ],
                        }
                    },
                },
                managed(BAD_INPUTS),
            ]
        ),
    ),
    passes(
        "waf-managed-rule-groups",
        "only the configured group required",
        acl([managed(COMMON)]),
        config={"requiredGroups": [COMMON]},
    ),
    undecided("waf-managed-rule-groups", "rules unknown", acl(UNKNOWN)),
    undecided(
        "waf-managed-rule-groups",
        "override action of a group unknown",
        acl([rate_rule(), {**managed(COMMON), "overrideAction": UNKNOWN}, managed(BAD_INPUTS)]),
    ),
    # waf-logging-redacted
    violates(
        "waf-logging-redacted",
        "no logging configuration",
        acl(),
        at="acl",
        message="WebAcl 'acl' has no logging configuration",
    ),
    violates(
        "waf-logging-redacted",
        "cookie not redacted",
        acl(),
        logging(redacting("authorization")),
        at="acl-logging",
        message="WebAclLoggingConfiguration 'acl-logging' logs the cookie header(s) in clear",
    ),
    violates(
        "waf-logging-redacted",
        "nothing redacted",
        acl(),
        logging(None),
        at="acl-logging",
        message="logs the authorization, cookie header(s) in clear; expected them in "
        "redactedFields",
    ),
    violates(
        "waf-logging-redacted",
        "a configured header not redacted",
        acl(),
        logging(redacting("authorization", "cookie")),
        config={"redactedHeaders": ["authorization", "cookie", "x-api-key"]},
        at="acl-logging",
        message="logs the x-api-key header(s) in clear",
    ),
    violates(
        "waf-logging-redacted",
        "the logging configuration belongs to another web ACL",
        acl(name="acl"),
        acl(name="other"),
        logging(redacting("authorization", "cookie"), of="other"),
        at="acl",
        message="WebAcl 'acl' has no logging configuration",
    ),
    passes(
        "waf-logging-redacted",
        "both credential headers redacted",
        acl(),
        logging(redacting("authorization", "cookie")),
    ),
    passes(
        "waf-logging-redacted",
        "header names in any case",
        acl(),
        logging(redacting("Authorization", "Cookie")),
    ),
    undecided("waf-logging-redacted", "redacted fields unknown", acl(), logging(UNKNOWN)),
    undecided(
        "waf-logging-redacted",
        "a redacted header name unknown",
        acl(),
        logging(redacting("authorization", UNKNOWN)),
    ),
    # waf-protects-ingress
    violates(
        "waf-protects-ingress",
        "internet-facing ALB Ingress without the wafv2-acl-arn annotation",
        acl(),
        association(),
        ingress(public()),
        at="web",
        message=f"internet-facing Ingress 'web' has no {WAF_ANNOTATION}; expected the stack's "
        "web ACL",
    ),
    violates(
        "waf-protects-ingress",
        "ALB chosen by the legacy ingress.class annotation",
        Res(
            INGRESS,
            "web",
            {
                "metadata": {
                    "name": "web",
                    "annotations": {"kubernetes.io/ingress.class": "alb", **public()},
                },
                "spec": {},
            },
        ),
        at="web",
        message=f"has no {WAF_ANNOTATION}",
    ),
    violates(
        "waf-protects-ingress",
        "a web ACL this stack does not manage",
        ingress(public(**{WAF_ANNOTATION: ACL_ARN})),
        at="web",
        message="internet-facing Ingress 'web' names a web ACL this stack does not manage",
    ),
    violates(
        "waf-protects-ingress",
        "a web ACL nothing uses",
        acl(),
        at="acl",
        message="WebAcl 'acl' protects nothing: no Ingress or WebAclAssociation uses it",
    ),
    violates(
        "waf-protects-ingress",
        "a second web ACL left unattached",
        acl(name="acl"),
        acl(name="spare"),
        ingress(public(**{WAF_ANNOTATION: UNKNOWN}), "acl"),
        at="spare",
        message="WebAcl 'spare' protects nothing",
    ),
    passes(
        "waf-protects-ingress",
        "Ingress annotated with the stack's web ACL",
        acl(),
        ingress(public(**{WAF_ANNOTATION: UNKNOWN}), "acl"),
    ),
    passes(
        "waf-protects-ingress",
        "web ACL attached through a WebAclAssociation",
        acl(),
        association(),
    ),
    passes(
        "waf-protects-ingress",
        "internal ALB without a web ACL",
        ingress({PREFIX + "scheme": "internal"}),
    ),
    passes(
        "waf-protects-ingress",
        "internal ALB behind the stack's web ACL",
        acl(),
        ingress({PREFIX + "scheme": "internal", WAF_ANNOTATION: UNKNOWN}, "acl"),
    ),
    passes(
        "waf-protects-ingress",
        "an Ingress the ALB controller does not serve",
        Res(
            INGRESS,
            "web",
            {
                "metadata": {"name": "web", "annotations": public()},
                "spec": {"ingressClassName": "nginx"},
            },
        ),
    ),
    passes(
        "waf-protects-ingress",
        "a CloudFront web ACL is attached to distributions, not here",
        acl(scope="CLOUDFRONT"),
    ),
    undecided(
        "waf-protects-ingress",
        "annotations unknown",
        acl(),
        ingress(UNKNOWN, "acl"),
    ),
    passes(
        "waf-protects-ingress",
        "scheme unknown, but behind the stack's web ACL either way",
        acl(),
        ingress({PREFIX + "scheme": UNKNOWN, WAF_ANNOTATION: UNKNOWN}, "acl"),
    ),
    undecided(
        "waf-protects-ingress",
        "scheme unknown on an Ingress without the annotation",
        acl(),
        association(),
        ingress({PREFIX + "scheme": UNKNOWN}),
    ),
    undecided(
        "waf-protects-ingress",
        "scheme unknown on an Ingress naming a foreign web ACL",
        ingress({PREFIX + "scheme": UNKNOWN, WAF_ANNOTATION: ACL_ARN}),
    ),
    undecided(
        "waf-protects-ingress",
        "scope of an unattached web ACL unknown",
        acl(scope=UNKNOWN),
    ),
]
