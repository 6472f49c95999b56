"""The observability layer as the offline engine registers it: the workspace on the stack's
key with its logs, the SLO rules and the alert manager, the alert topic and who may publish
to it, the chat relay only with the secret webhook, the alarms each stack's size calls for,
and the collector in the cluster."""

from __future__ import annotations

import json

import pytest
import yaml

from components.collector_config import JOB
from components.metrics_collector import AGENT_FLAGS, CONFIG_NAME, NAMESPACE, RELEASE
from components.slo_rules import ALERT_NAMES
from offline_preview.engine import PreviewResult
from platform_common.pulumi_values import SECRET_MARK, is_secret, reveal
from tests.conftest import STACKS, key_arn, preview, stack_setting

WORKSPACE = "aws:amp/workspace:Workspace"
TOPIC = "aws:sns/topic:Topic"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
WEBHOOK = {"alerts:chatWebhookUrl": {"secure": "v1:AAAAc2VjcmV0IHdlYmhvb2s="}}


def inline_policy(result: PreviewResult, role: str) -> str:
    [policy] = [p for p in result.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == role]
    return str(policy.inputs["policy"])


def topic_arn(result: PreviewResult) -> str:
    [topic] = result.of_type(TOPIC)
    return f"arn:aws:sns:{result.region}:123456789012:{topic.inputs['name']}"


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_keeps_its_metrics_in_a_workspace_on_its_own_key(stack):
    result = preview(stack)
    [workspace] = result.of_type(WORKSPACE)
    assert workspace.inputs["kmsKeyArn"] == key_arn(result, "observability")
    log_group = result.named("observability-workspace-logs")
    assert log_group.inputs["name"] == f"/aws/vendedlogs/prometheus/platform-{stack}"
    assert workspace.inputs["loggingConfiguration"]["logGroupArn"].endswith(
        f"log-group:/aws/vendedlogs/prometheus/platform-{stack}:*"
    )
    assert workspace.options["protect"] is (stack == "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_the_slo_rules_judge_every_service_on_its_own_stacks_series(stack):
    result = preview(stack)
    rules = yaml.safe_load(result.named("observability-slo-rules").inputs["data"])
    groups = {group["name"]: group for group in rules["groups"]}
    assert set(groups) == {"slo-chat-api", "slo-chat-web"}
    for group in groups.values():
        for rule in group["rules"]:
            assert f'stack="{stack}"' in rule["expr"], rule
    alerts = {r["alert"] for g in groups.values() for r in g["rules"] if "alert" in r}
    assert alerts == set(ALERT_NAMES.values())


def test_a_services_own_objective_replaces_the_stacks():
    app = stack_setting("staging", "platform:app")
    app["services"][0]["slo"] = {"availability": 0.9999}
    result = preview("staging", platform__app=app)
    rules = yaml.safe_load(result.named("observability-slo-rules").inputs["data"])
    api = next(g for g in rules["groups"] if g["name"] == "slo-chat-api")
    fast = next(r for r in api["rules"] if r.get("alert") and r["labels"]["window"] == "1h")
    # 14.4 x (1 - 0.9999), where the stack's 0.995 would give 0.072.
    assert fast["expr"].endswith("> 0.00144")


@pytest.mark.parametrize("stack", STACKS)
def test_alerts_and_alarms_go_to_an_encrypted_topic_only_they_may_publish_to(stack):
    result = preview(stack)
    [topic] = result.of_type(TOPIC)
    assert topic.inputs["kmsMasterKeyId"] == key_arn(result, "observability")
    policy = json.loads(result.named("observability-alerts-policy").inputs["policy"])
    principals = {json.dumps(s["Principal"], sort_keys=True): s for s in policy["Statement"]}
    assert '"*"' not in "".join(principals)
    alert_manager = principals['{"Service": "aps.amazonaws.com"}']
    [workspace] = result.of_type(WORKSPACE)
    assert alert_manager["Condition"]["ArnEquals"]["aws:SourceArn"] == workspace.state["arn"]
    alarms = principals['{"Service": "cloudwatch.amazonaws.com"}']
    assert alarms["Condition"]["ArnLike"]["aws:SourceArn"].endswith(":alarm:*")
    definition = yaml.safe_load(result.named("observability-alertmanager").inputs["definition"])
    config = yaml.safe_load(definition["alertmanager_config"])
    assert config["receivers"][0]["sns_configs"][0]["topic_arn"] == topic_arn(result)


def test_the_topics_key_lets_alarms_the_alert_manager_and_backup_encrypt_messages():
    result = preview("prod")
    policy = json.loads(result.named("keys-observability").inputs["policy"])
    [statement] = [s for s in policy["Statement"] if s["Sid"] == "AlarmsAndAlertsToTheTopic"]
    assert sorted(statement["Principal"]["Service"]) == [
        "aps.amazonaws.com", "backup.amazonaws.com", "cloudwatch.amazonaws.com",
    ]  # fmt: skip
    assert set(statement["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}


def test_each_address_is_subscribed_and_no_relay_runs_without_a_webhook():
    result = preview("prod")
    subscriptions = result.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions) == [
        ("email", "platform-alerts@example.com"), ("email", "platform-oncall@example.com"),
    ]  # fmt: skip
    assert not result.of_type("aws:lambda/function:Function")


def test_the_chat_webhook_goes_through_a_relay_that_alone_reads_it_from_secrets_manager():
    result = preview("staging", **{k.replace(":", "__"): v for k, v in WEBHOOK.items()})
    [function] = result.of_type("aws:lambda/function:Function")
    [version] = [
        v for v in result.of_type("aws:secretsmanager/secretVersion:SecretVersion")
        if v.name == "observability-chat-webhook"
    ]  # fmt: skip
    assert is_secret(version.inputs["secretString"])
    [secret] = [
        s for s in result.of_type("aws:secretsmanager/secret:Secret")
        if s.name == "observability-chat-webhook"
    ]  # fmt: skip
    assert secret.inputs["kmsKeyId"] == key_arn(result, "observability")
    assert function.inputs["runtime"] == "python3.13"
    assert function.inputs["handler"] == "alert_relay.handler"
    env = function.inputs["environment"]["variables"]
    assert env == {"WEBHOOK_SECRET_ARN": secret.state["arn"]}
    relay = [
        s for s in result.of_type("aws:sns/topicSubscription:TopicSubscription")
        if s.inputs["protocol"] == "lambda"
    ]  # fmt: skip
    assert len(relay) == 1 and relay[0].inputs["endpoint"] == function.state["arn"]
    role_policy = json.loads(inline_policy(result, "observability-chat-relay"))
    reads = [s for s in role_policy["Statement"] if s["Action"] == "secretsmanager:GetSecretValue"]
    assert [s["Resource"] for s in reads] == [secret.state["arn"]]
    # The webhook's URL is nowhere but in the secret's version, as a secret.
    assert "c2VjcmV0IHdlYmhvb2s" not in json.dumps(reveal(result.to_json()))
    assert SECRET_MARK in json.dumps(result.to_json())


@pytest.mark.parametrize(
    ("stack", "readers", "cache_nodes", "nat_gateways"),
    [("dev", 0, 1, 1), ("staging", 1, 2, 3), ("prod", 2, 3, 3)],
)
def test_each_stack_alarms_on_what_it_runs(stack, readers, cache_nodes, nat_gateways):
    result = preview(stack)
    alarms = {a.inputs["name"].removeprefix(f"platform-{stack}-"): a for a in result.of_type(ALARM)}
    expected = {"db-cpu", "db-freeable-memory", "db-connections", "waf-blocked"}
    expected |= {"db-replica-lag"} if readers else set()
    for node in range(1, cache_nodes + 1):
        expected |= {f"cache-{node}-{m}" for m in ("cpu", "memory", "evictions")}
        expected |= {f"cache-{node}-replication-lag"} if cache_nodes > 1 else set()
    for gateway in range(1, nat_gateways + 1):
        expected |= {f"nat-{gateway}-port-allocation", f"nat-{gateway}-packets-dropped"}
    assert set(alarms) == expected
    for alarm in alarms.values():
        assert alarm.inputs["alarmActions"] == [topic_arn(result)]
        assert alarm.inputs["treatMissingData"] == "notBreaching"
    assert sorted(result.outputs["alarmNames"]) == sorted(a.inputs["name"] for a in alarms.values())


def test_thresholds_come_from_the_stack_file():
    dev, prod = preview("dev"), preview("prod")
    cpu = {"dev": dev.named("alarms-db-cpu"), "prod": prod.named("alarms-db-cpu")}
    assert cpu["dev"].inputs["threshold"] == 90 and cpu["prod"].inputs["threshold"] == 80
    assert cpu["dev"].inputs["evaluationPeriods"] == 6
    assert cpu["prod"].inputs["dimensions"] == {
        "DBClusterIdentifier": "platform-prod-db", "Role": "WRITER",
    }  # fmt: skip
    memory = prod.named("alarms-cache-2-memory")
    assert memory.inputs["dimensions"] == {
        "CacheClusterId": "platform-prod-cache-002", "CacheNodeId": "0001",
    }  # fmt: skip


@pytest.mark.parametrize("stack", STACKS)
def test_the_collector_scrapes_the_services_and_writes_to_its_stacks_workspace(stack):
    result = preview(stack)
    [agent] = [r for r in result.of_type(RELEASE_TYPE) if r.inputs["name"] == RELEASE]
    assert agent.inputs["chart"] == "prometheus"
    assert agent.inputs["version"] == "29.27.0"
    assert agent.inputs["namespace"] == NAMESPACE
    server = agent.inputs["values"]["server"]
    assert server["defaultFlagsOverride"] == list(AGENT_FLAGS)
    config_map = result.named("metrics-collector-config")
    assert config_map.inputs["metadata"]["name"] == f"{RELEASE}-{server['configMapOverrideName']}"
    assert server["configMapOverrideName"] == CONFIG_NAME
    config = yaml.safe_load(config_map.inputs["data"]["prometheus.yml"])
    [workspace] = result.of_type(WORKSPACE)
    endpoint = workspace.state["prometheusEndpoint"]
    assert config["remote_write"][0]["url"] == endpoint + "api/v1/remote_write"
    [job] = config["scrape_configs"]
    assert job["job_name"] == JOB
    assert {"target_label": "stack", "replacement": stack} in job["relabel_configs"]
    assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["chat-api", "chat-web"]


def test_the_collectors_role_writes_to_one_workspace_and_trusts_one_service_account():
    result = preview("prod")
    [role] = [r for r in result.of_type("aws:iam/role:Role") if r.name == "metrics-collector-role"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    [condition] = [s["Condition"]["StringEquals"] for s in trust["Statement"]]
    subject = next(v for k, v in condition.items() if k.endswith(":sub"))
    assert subject == f"system:serviceaccount:{NAMESPACE}:metrics-agent"
    policy = json.loads(inline_policy(result, "metrics-collector-role"))
    [write] = [s for s in policy["Statement"] if s["Action"] == "aps:RemoteWrite"]
    [workspace] = result.of_type(WORKSPACE)
    assert write["Resource"] == workspace.state["arn"]


def test_the_bootstrap_phase_makes_the_workspace_and_alarms_but_nothing_in_the_cluster():
    result = preview("prod", platform__deployPhase="foundation")
    assert result.of_type(WORKSPACE) and result.of_type(TOPIC)
    assert not [r for r in result.of_type(RELEASE_TYPE) if r.inputs["name"] == RELEASE]
    # The same alarms as the complete phase: the web ACL's name is known before it exists.
    names = {a.inputs["name"] for a in result.of_type(ALARM)}
    assert names == {a.inputs["name"] for a in preview("prod").of_type(ALARM)}


def test_grafana_is_off_unless_asked_for_and_then_reads_the_workspace():
    assert not preview("prod").of_type("aws:grafana/workspace:Workspace")
    observability = stack_setting("prod", "platform:observability")
    observability["grafana"] = {"authentication": "AWS_SSO"}
    result = preview("prod", platform__observability=observability)
    [grafana] = result.of_type("aws:grafana/workspace:Workspace")
    assert grafana.inputs["authenticationProviders"] == ["AWS_SSO"]
    assert grafana.inputs["dataSources"] == ["PROMETHEUS"]
    assert result.outputs["grafanaUrl"].endswith(".grafana-workspace.us-east-1.amazonaws.com")
