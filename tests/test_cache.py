"""The Cache component (ElastiCache Redis), inspected through the offline engine."""

from __future__ import annotations

import pytest

from platform_common.pulumi_values import is_secret, reveal
from tests.conftest import key_arn, preview, subnet_ids

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE = "platform:components:Cache"


@pytest.mark.parametrize(
    ("stack", "nodes", "node_type", "highly_available", "snapshots"),
    [
        ("dev", 1, "cache.t4g.micro", False, 0),
        ("staging", 2, "cache.t4g.small", True, 1),
        ("prod", 3, "cache.r7g.large", True, 7),
    ],
)
def test_each_stack_gets_the_nodes_and_failover_its_profile_asks_for(
    stack, nodes, node_type, highly_available, snapshots
):
    result = preview(stack)
    [group] = result.of_type(GROUP)
    assert group.inputs["numCacheClusters"] == nodes
    assert group.inputs["nodeType"] == node_type
    assert group.inputs["automaticFailoverEnabled"] is highly_available
    assert group.inputs["multiAzEnabled"] is highly_available
    assert group.inputs["snapshotRetentionLimit"] == snapshots
    zones = group.inputs["preferredCacheClusterAzs"]
    assert len(zones) == nodes
    assert len(set(zones)) == min(nodes, 3 if stack != "dev" else 2)
    assert group.inputs["engine"] == "redis"
    assert group.inputs["engineVersion"] == "7.1"
    assert group.inputs["snapshotWindow"] == "05:00-06:00"
    assert group.inputs["maintenanceWindow"] == "sun:06:30-sun:07:30"


def test_data_is_encrypted_at_rest_with_the_cache_key_and_tls_is_required(stack_preview):
    [group] = stack_preview.of_type(GROUP)
    assert group.inputs["atRestEncryptionEnabled"] is True
    assert group.inputs["kmsKeyId"] == key_arn(stack_preview, "cache")
    assert group.inputs["transitEncryptionEnabled"] is True
    assert group.inputs["transitEncryptionMode"] == "required"


def test_the_auth_token_is_random_secret_and_stored_in_secrets_manager_under_the_cache_key(
    stack_preview,
):
    [password] = stack_preview.of_type("random:index/randomPassword:RandomPassword")
    assert password.inputs["length"] >= 32
    [group] = stack_preview.of_type(GROUP)
    [secret] = stack_preview.of_type("aws:secretsmanager/secret:Secret", within=CACHE)
    [version] = stack_preview.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert is_secret(group.inputs["authToken"])
    assert is_secret(version.inputs["secretString"])
    token = reveal(group.inputs["authToken"])
    assert len(token) == 64 and token.isalnum()
    assert reveal(version.inputs["secretString"]) == token
    assert version.inputs["secretId"] == secret.id
    assert secret.inputs["kmsKeyId"] == key_arn(stack_preview, "cache")
    assert password.urn in group.property_dependencies["authToken"]


def test_parameters_and_slow_log_delivery_to_a_vended_logs_group(stack_preview):
    [group] = stack_preview.of_type(GROUP)
    [parameters] = stack_preview.of_type("aws:elasticache/parameterGroup:ParameterGroup")
    assert parameters.inputs["family"] == "redis7"
    assert group.inputs["parameterGroupName"] == parameters.id
    values = {p["name"]: p["value"] for p in parameters.inputs["parameters"]}
    assert values["maxmemory-policy"] == "volatile-lru"
    [log_group] = stack_preview.of_type("aws:cloudwatch/logGroup:LogGroup", within=CACHE)
    # Under the vended-logs prefix, so delivery does not add this group to the account's
    # 5,120-character log resource policy.
    assert log_group.inputs["name"] == (
        f"/aws/vendedlogs/elasticache/platform-{stack_preview.stack}-cache/slow-log"
    )
    [delivery] = group.inputs["logDeliveryConfigurations"]
    assert delivery == {
        "destination": log_group.inputs["name"],
        "destinationType": "cloudwatch-logs",
        "logFormat": "json",
        "logType": "slow-log",
    }


def test_the_cache_lives_in_the_isolated_subnets(stack_preview):
    [subnet_group] = stack_preview.of_type("aws:elasticache/subnetGroup:SubnetGroup")
    assert sorted(subnet_group.inputs["subnetIds"]) == subnet_ids(stack_preview, "isolated")
    [group] = stack_preview.of_type(GROUP)
    assert group.inputs["subnetGroupName"] == subnet_group.id


def test_only_prod_protects_the_cache_and_its_secret_and_keeps_a_final_snapshot():
    for stack, protected in (("dev", False), ("staging", False), ("prod", True)):
        result = preview(stack)
        [group] = result.of_type(GROUP)
        [secret] = result.of_type("aws:secretsmanager/secret:Secret", within=CACHE)
        assert group.options["protect"] is protected
        assert secret.options["protect"] is protected
        assert secret.inputs["recoveryWindowInDays"] == (30 if protected else 7)
        assert ("finalSnapshotIdentifier" in group.inputs) is (stack != "dev")


def test_the_component_exposes_endpoints_port_secret_and_security_group():
    result = preview("prod")
    [component] = result.of_type(CACHE)
    outputs = component.outputs
    assert outputs["primaryEndpoint"].startswith("master.platform-prod-cache.")
    assert outputs["readerEndpoint"].startswith("replica.platform-prod-cache.")
    assert outputs["port"] == 6379
    [secret] = result.of_type("aws:secretsmanager/secret:Secret", within=CACHE)
    assert outputs["authSecretArn"] == secret.id
    assert outputs["securityGroupId"] == result.named("cache-sg").id
