"""The Firewall component (WAFv2), inspected through the offline engine."""

from __future__ import annotations

import pytest

from tests.conftest import key_arn, preview

ACL = "aws:wafv2/webAcl:WebAcl"
MANAGED = [
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet",
]


def rules_by_name(result):
    [acl] = result.of_type(ACL)
    return {rule["name"]: rule for rule in acl.inputs["rules"]}


@pytest.mark.parametrize(("stack", "limit"), [("dev", 500), ("staging", 1000), ("prod", 2000)])
def test_a_rate_limit_per_client_ip_follows_the_stack(stack, limit):
    rule = rules_by_name(preview(stack))["rate-limit-per-ip"]
    statement = rule["statement"]["rateBasedStatement"]
    assert statement == {"aggregateKeyType": "IP", "evaluationWindowSec": 300, "limit": limit}
    assert rule["action"] == {"block": {}}


def test_the_acl_is_regional_allows_by_default_and_runs_the_managed_groups_in_order(
    stack_preview,
):
    [acl] = stack_preview.of_type(ACL)
    assert acl.inputs["scope"] == "REGIONAL"
    assert acl.inputs["defaultAction"] == {"allow": {}}
    managed = [
        r["statement"]["managedRuleGroupStatement"]
        for r in sorted(acl.inputs["rules"], key=lambda r: r["priority"])
        if "managedRuleGroupStatement" in r["statement"]
    ]
    assert [m["name"] for m in managed] == MANAGED
    assert {m["vendorName"] for m in managed} == {"AWS"}


def test_rule_names_and_priorities_are_unique_and_every_rule_is_observable(stack_preview):
    [acl] = stack_preview.of_type(ACL)
    rules = acl.inputs["rules"]
    assert len({r["priority"] for r in rules}) == len(rules)
    assert len({r["name"] for r in rules}) == len(rules)
    for rule in [*rules, acl.inputs]:
        visibility = rule["visibilityConfig"]
        assert visibility["cloudwatchMetricsEnabled"] is True
        assert visibility["sampledRequestsEnabled"] is True
        assert visibility["metricName"]


def test_managed_groups_keep_their_own_actions_except_the_body_size_rule_which_counts(
    stack_preview,
):
    rules = rules_by_name(stack_preview)
    for name in MANAGED:
        assert rules[name]["overrideAction"] == {"none": {}}
        assert "action" not in rules[name]
    common = rules["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]
    assert common["ruleActionOverrides"] == [
        {"actionToUse": {"count": {}}, "name": "SizeRestrictions_BODY"}
    ]
    sqli = rules["AWSManagedRulesSQLiRuleSet"]["statement"]["managedRuleGroupStatement"]
    assert "ruleActionOverrides" not in sqli


def test_requests_are_logged_to_an_encrypted_waf_log_group_with_credentials_redacted(
    stack_preview,
):
    [acl] = stack_preview.of_type(ACL)
    [logging] = stack_preview.of_type(
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
    )
    [log_group] = stack_preview.of_type(
        "aws:cloudwatch/logGroup:LogGroup", within="platform:components:Firewall"
    )
    assert log_group.inputs["name"].startswith("aws-waf-logs-")
    assert log_group.inputs["kmsKeyId"] == key_arn(stack_preview, "logs")
    [component] = stack_preview.of_type("platform:components:Firewall")
    assert logging.inputs["resourceArn"] == component.outputs["webAclArn"]
    assert acl.urn in logging.property_dependencies["resourceArn"]
    assert logging.inputs["logDestinationConfigs"] == [
        f"arn:aws:logs:us-east-1:123456789012:log-group:{log_group.inputs['name']}"
    ]
    redacted = [f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]]
    assert redacted == ["authorization", "cookie"]


def test_address_and_country_lists_from_settings_become_block_rules_before_the_rest():
    result = preview(
        "dev",
        platform__firewall={
            "blockedIpCidrs": ["198.51.100.0/24"],
            "allowedIpCidrs": ["203.0.113.0/24", "192.0.2.0/25"],
            "allowedCountries": ["DE", "FR"],
            "blockedCountries": ["KP"],
        },
    )
    ip_sets = {s.name: s for s in result.of_type("aws:wafv2/ipSet:IpSet")}
    assert ip_sets["firewall-blocked-ips"].inputs["addresses"] == ["198.51.100.0/24"]
    assert ip_sets["firewall-allowed-ips"].inputs["addresses"] == [
        "203.0.113.0/24",
        "192.0.2.0/25",
    ]
    assert {s.inputs["scope"] for s in ip_sets.values()} == {"REGIONAL"}
    rules = sorted(result.of_type(ACL)[0].inputs["rules"], key=lambda r: r["priority"])
    assert [r["name"] for r in rules[:5]] == [
        "blocked-ips",
        "not-allowed-ips",
        "blocked-countries",
        "not-allowed-countries",
        "rate-limit-per-ip",
    ]
    blocked_arn = rules[0]["statement"]["ipSetReferenceStatement"]["arn"]
    assert blocked_arn.startswith("arn:aws:wafv2:us-east-1:123456789012:regional/ipset/")
    assert ip_sets["firewall-blocked-ips"].urn in result.of_type(ACL)[0].dependencies
    allowed = rules[1]["statement"]["notStatement"]["statement"]["ipSetReferenceStatement"]
    assert allowed["arn"] != blocked_arn
    assert rules[2]["statement"] == {"geoMatchStatement": {"countryCodes": ["KP"]}}
    assert rules[3]["statement"] == {
        "notStatement": {"statement": {"geoMatchStatement": {"countryCodes": ["DE", "FR"]}}}
    }
    assert all(r["action"] == {"block": {}} for r in rules[:5])


def test_without_lists_no_ip_sets_are_made():
    assert not preview("prod").of_type("aws:wafv2/ipSet:IpSet")


def test_the_component_exposes_the_web_acl_arn_for_the_ingress():
    result = preview("staging")
    [component] = result.of_type("platform:components:Firewall")
    arn = component.outputs["webAclArn"]
    assert arn.startswith(
        "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/platform-staging-app/"
    )
    assert result.outputs["webAclArn"] == arn
