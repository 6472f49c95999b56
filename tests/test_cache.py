"""The Cache component (ElastiCache Redis), inspected through the offline engine."""

from __future__ import annotations

import pytest

from platform_common.pulumi_values import is_secret, reveal
from tests.conftest import key_arn, preview, stack_setting, subnet_ids

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


def test_services_authenticate_as_their_own_iam_users_and_only_break_glass_has_a_password(
    stack_preview,
):
    [group] = stack_preview.of_type(GROUP)
    assert "authToken" not in group.inputs and "authTokenWo" not in group.inputs
    [users] = stack_preview.of_type("aws:elasticache/userGroup:UserGroup")
    assert group.inputs["userGroupIds"] == [users.inputs["userGroupId"]]
    members = {
        u.inputs["userId"]: u.inputs for u in stack_preview.of_type("aws:elasticache/user:User")
    }
    assert sorted(users.inputs["userIds"]) == sorted(members)
    prefix = f"platform-{stack_preview.stack}"
    [default] = [m for m in members.values() if m["userName"] == "default"]
    assert default["accessString"].startswith("off")
    services = {
        s["name"]
        for s in stack_setting(stack_preview.stack, "platform:app")["services"]
        if "cache" in s.get("secrets", ["database", "cache"])
    }
    assert services, "some service uses the cache"
    for service in services:
        user = members[f"{prefix}-{service}"]
        # IAM authentication: the user's name is its ID, and it has no password.
        assert user["userName"] == f"{prefix}-{service}"
        assert user["authenticationMode"] == {"type": "iam"}
        assert "-@dangerous" in user["accessString"]
    # The one password: break-glass, switched off, generated and kept in Secrets Manager.
    break_glass = members[f"{prefix}-cache-breakglass"]
    assert break_glass["accessString"].startswith("off")
    assert is_secret(break_glass["authenticationMode"])
    [password] = reveal(break_glass["authenticationMode"])["passwords"]
    assert len(password) == 64 and password.isalnum()
    [secret] = stack_preview.of_type("aws:secretsmanager/secret:Secret", within=CACHE)
    assert secret.inputs["kmsKeyId"] == key_arn(stack_preview, "cache")
    [version] = [
        v
        for v in stack_preview.of_type("aws:secretsmanager/secretVersion:SecretVersion")
        if v.inputs["secretId"] == secret.id
    ]
    assert reveal(version.inputs["secretString"]) == password
    assert len(members) == len(services) + 2


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


def test_only_prod_protects_the_cache_and_keeps_a_final_snapshot():
    for stack, protected in (("dev", False), ("staging", False), ("prod", True)):
        result = preview(stack)
        [group] = result.of_type(GROUP)
        assert group.options["protect"] is protected
        assert ("finalSnapshotIdentifier" in group.inputs) is (stack != "dev")


def test_the_component_exposes_endpoints_port_users_and_security_group():
    result = preview("prod")
    [component] = result.of_type(CACHE)
    outputs = component.outputs
    assert outputs["primaryEndpoint"].startswith("master.platform-prod-cache.")
    assert outputs["readerEndpoint"].startswith("replica.platform-prod-cache.")
    assert outputs["port"] == 6379
    assert outputs["arn"] == result.of_type(GROUP)[0].state["arn"]
    # chat-web uses no data store (secrets: []): only chat-api has a cache user.
    assert outputs["userIds"] == {"chat-api": "platform-prod-chat-api"}
    assert outputs["securityGroupId"] == result.named("cache-sg").id
