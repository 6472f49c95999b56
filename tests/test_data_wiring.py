"""How the data and edge components fit together: who may reach the data stores, what waits
for what, where secrets go and where every log lands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from platform_common.pulumi_values import is_secret, reveal
from tests.conftest import key_arn, preview

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
COMPONENTS = {
    "database": "platform:components:Database",
    "cache": "platform:components:Cache",
    "firewall": "platform:components:Firewall",
    "registry": "platform:components:Registry",
}


@pytest.mark.parametrize(("component", "port"), [("database", 5432), ("cache", 6379)])
def test_data_stores_admit_only_the_workload_security_group_on_their_port(
    stack_preview, component, port
):
    group = stack_preview.named(f"{component}-sg")
    workloads = stack_preview.named("network-workloads")
    rules = [r for r in stack_preview.of_type(INGRESS) if r.inputs["securityGroupId"] == group.id]
    assert rules, "a data store nobody can reach"
    for rule in rules:
        assert rule.inputs["referencedSecurityGroupId"] == workloads.id
        assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
            "tcp",
            port,
            port,
        )
        assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rule.inputs)
    # No inline rules either: all of its rules are the ones above.
    assert not group.inputs.get("ingress") and not group.inputs.get("egress")


def test_no_rule_anywhere_opens_the_database_or_cache_port_to_an_address_range(stack_preview):
    for rule in stack_preview.of_type(INGRESS):
        ports = range(rule.inputs.get("fromPort", 0), rule.inputs.get("toPort", 65535) + 1)
        if 5432 in ports or 6379 in ports:
            assert "cidrIpv4" not in rule.inputs and "cidrIpv6" not in rule.inputs


def test_the_data_stores_attach_their_own_security_group(stack_preview):
    [cluster] = stack_preview.of_type("aws:rds/cluster:Cluster")
    [redis] = stack_preview.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert cluster.inputs["vpcSecurityGroupIds"] == [stack_preview.named("database-sg").id]
    assert redis.inputs["securityGroupIds"] == [stack_preview.named("cache-sg").id]


def _plain_strings(value: Any) -> Iterator[str]:
    """Every string not inside a secret marker."""
    if is_secret(value):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _plain_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _plain_strings(item)


def test_the_cache_break_glass_password_never_appears_in_plain_text(stack_preview):
    [user] = [
        u
        for u in stack_preview.of_type("aws:elasticache/user:User")
        if u.inputs["userName"] == "breakglass"
    ]
    [token] = reveal(user.inputs["authenticationMode"])["passwords"]
    assert isinstance(token, str) and len(token) == 64
    for resource in stack_preview.resources:
        for text in _plain_strings(resource.inputs):
            assert token not in text, f"token in plain text in {resource.urn}"
        for text in _plain_strings(resource.outputs or {}):
            assert token not in text, f"token in plain text in outputs of {resource.urn}"
    assert token not in json.dumps(stack_preview.to_json())


def test_stack_outputs_carry_what_consumers_need_and_nothing_secret(stack_preview):
    outputs = stack_preview.outputs
    for name in (
        "databaseEndpoint",
        "databaseReaderEndpoint",
        "databasePort",
        "databaseSecretArn",
        "databaseSecurityGroupId",
        "cachePrimaryEndpoint",
        "cacheReaderEndpoint",
        "cachePort",
        "cacheUserIds",
        "cacheBreakGlassSecretArn",
        "cacheSecurityGroupId",
        "webAclArn",
        "repositoryUrls",
        "workloadSecurityGroupId",
        "keyArns",
    ):
        assert outputs.get(name) not in (None, "", [], {}), name
    assert outputs["keyArns"]["eks"] == key_arn(stack_preview, "eks")
    # Only the kubeconfig is secret: it leads straight to the cluster's API.
    assert [name for name, value in outputs.items() if is_secret(value)] == ["kubeconfig"]


def _closure(result, start: str) -> set[str]:
    edges = {
        r.urn: set(r.dependencies)
        | {urn for urns in r.property_dependencies.values() for urn in urns}
        | ({r.parent} if r.parent else set())
        for r in result.resources
    }
    seen: set[str] = set()
    todo = [start]
    while todo:
        for dependency in edges.get(todo.pop(), ()):
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


def test_database_cache_firewall_and_registry_wait_only_for_network_and_keys(stack_preview):
    for name, component in COMPONENTS.items():
        others = [t for n, t in COMPONENTS.items() if n != name]
        for resource in stack_preview.within(component):
            reached = _closure(stack_preview, resource.urn)
            waits_for = [u for u in reached for other in others if f"{other}$" in u]
            assert not waits_for, f"{resource.urn} waits for {waits_for}"


def test_explicit_depends_on_stays_inside_each_component(stack_preview):
    for component in COMPONENTS.values():
        for resource in stack_preview.within(component):
            for dependency in resource.options["dependsOn"]:
                assert f"{component}$" in dependency, (resource.urn, dependency)


def test_every_log_group_is_retained_and_encrypted_with_the_logs_key(stack_preview):
    retention = {"dev": 7, "staging": 90, "prod": 365}[stack_preview.stack]
    groups = stack_preview.of_type("aws:cloudwatch/logGroup:LogGroup")
    # Flow logs, PostgreSQL, Redis slow log, WAF, EKS control plane, the metrics
    # workspace's rule and alert logs, and the CI runner's builds where the stack has one.
    runner = 1 if stack_preview.stack in ("staging", "prod") else 0
    assert len(groups) == 6 + runner
    for group in groups:
        assert group.inputs["retentionInDays"] == retention
        assert group.inputs["kmsKeyId"] == key_arn(stack_preview, "logs")
        assert group.inputs["deletionProtectionEnabled"] is (stack_preview.stack == "prod")


def test_each_store_uses_its_own_key():
    result = preview("staging")
    [cluster] = result.of_type("aws:rds/cluster:Cluster")
    [redis] = result.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    keys = {
        cluster.inputs["kmsKeyId"],
        redis.inputs["kmsKeyId"],
        result.of_type("aws:ecr/repository:Repository")[0].inputs["encryptionConfigurations"][0][
            "kmsKey"
        ],
        result.of_type("aws:cloudwatch/logGroup:LogGroup")[0].inputs["kmsKeyId"],
    }
    assert len(keys) == 4
