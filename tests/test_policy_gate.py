"""The policy gate on the shipped stacks: no mandatory violation, every advisory finding
accepted in the manual (docs/policies/index.md), and every protection switched off one at a
time caught by the right policy (through settings where the settings allow it, by editing
what a component registers where they do not)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from offline_preview.engine import PreviewResult
from tests.conftest import REPOSITORY, STACKS, preview, stack_setting
from tests.policy_gate import Gate, findings, mutated, with_resource, without

ACCEPTED = REPOSITORY / "docs" / "policies" / "index.md"


@pytest.fixture(scope="module")
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.close()


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stack_has_no_mandatory_violation(gate: Gate, stack: str) -> None:
    report = gate.judge(preview(stack))
    assert not report.blocked, [(v.policy_name, v.urn, v.message) for v in report.violations]
    assert {p.name for p in report.packs} == {"platform-security", "platform-quality"}


def _accepted_in_the_manual() -> set[tuple[str, str, str]]:
    text = ACCEPTED.read_text()
    section = text.split("## Accepted advisory findings", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| (\w+) \| `([\w-]+)` \| `([\w.-]+)` \| .+\|$", section, re.MULTILINE)
    return set(rows)


def test_every_advisory_finding_on_the_shipped_stacks_is_accepted_in_the_manual(
    gate: Gate,
) -> None:
    found = set()
    for stack in STACKS:
        for violation in findings(gate.judge(preview(stack)), "advisory"):
            name = (violation.urn or "(stack)").rsplit("::", 1)[-1]
            found.add((stack, violation.policy_name, name))
    assert found == _accepted_in_the_manual()


def test_first_preview_with_unknown_values_reports_no_violation(gate: Gate) -> None:
    report = gate.judge(preview("prod", unknowns=True))
    assert not report.blocked
    assert not findings(report, "advisory")
    # The SDK says which policies it could not run yet, as advisory notes.
    assert any(v.not_evaluated for v in report.violations)


# -- mutations of prod -----------------------------------------------------------------

Change = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Change:
    def change(inputs: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        target = inputs
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[key] = value

    return change


def _annotation(key: str, value: Any) -> Change:
    def change(inputs: dict[str, Any]) -> None:
        annotations = inputs["metadata"]["annotations"]
        if value is None:
            del annotations[f"alb.ingress.kubernetes.io/{key}"]
        else:
            annotations[f"alb.ingress.kubernetes.io/{key}"] = value

    return change


WORLD_SSH = {
    "ipProtocol": "tcp",
    "fromPort": 22,
    "toPort": 22,
    "cidrIpv4": "0.0.0.0/0",
    "securityGroupId": "sg-0abc",
}
CONTAINER = "spec.template.spec.containers.0"

# (behaviour, the resource changed, the change, policy expected to block, protect)
MUTATIONS: list[tuple[str, str, Change, str, bool | None]] = [
    (
        "database storage unencrypted",
        "database-cluster",
        _set("storageEncrypted", False),
        "rds-storage-encrypted-cmk",
        None,
    ),
    (
        "database deletion protection off",
        "database-cluster",
        _set("deletionProtection", False),
        "rds-deletion-protection",
        None,
    ),
    (
        "database not protected in Pulumi",
        "database-cluster",
        lambda _: None,
        "protect-stateful-resources",
        False,
    ),
    (
        "database reachable from the internet",
        "database-instance-1",
        _set("publiclyAccessible", True),
        "rds-not-publicly-accessible",
        None,
    ),
    (
        "final snapshot skipped",
        "database-cluster",
        _set("skipFinalSnapshot", True),
        "rds-final-snapshot",
        None,
    ),
    (
        "cache TLS off",
        "cache-redis",
        _set("transitEncryptionEnabled", False),
        "elasticache-encrypted-in-transit",
        None,
    ),
    (
        "cache failover off",
        "cache-redis",
        _set("automaticFailoverEnabled", False),
        "elasticache-multi-az-failover",
        None,
    ),
    (
        "IMDSv1 allowed on nodes",
        "cluster-general-nodes",
        _set("metadataOptions.httpTokens", "optional"),
        "ec2-imdsv2-required",
        None,
    ),
    (
        "node volume unencrypted",
        "cluster-general-nodes",
        _set("blockDeviceMappings.0.ebs.encrypted", "false"),
        "ec2-volumes-encrypted",
        None,
    ),
    (
        "API endpoint open to the internet",
        "cluster-eks",
        _set(
            "vpcConfig",
            {
                "endpointPublicAccess": True,
                "publicAccessCidrs": ["0.0.0.0/0"],
                "endpointPrivateAccess": True,
                "subnetIds": [],
            },
        ),
        "eks-public-endpoint-restricted",
        None,
    ),
    (
        "secrets not envelope-encrypted",
        "cluster-eks",
        _set("encryptionConfig", None),
        "eks-secrets-encryption",
        None,
    ),
    (
        "privileged container",
        "chat-api-blue",
        _set(f"{CONTAINER}.securityContext.privileged", True),
        "k8s-no-privileged",
        None,
    ),
    (
        "privilege escalation allowed",
        "chat-api-blue",
        _set(f"{CONTAINER}.securityContext.allowPrivilegeEscalation", True),
        "k8s-no-privilege-escalation",
        None,
    ),
    (
        "host network",
        "chat-web-blue",
        _set("spec.template.spec.hostNetwork", True),
        "k8s-no-host-namespaces",
        None,
    ),
    (
        "image not pinned by digest",
        "chat-api-blue",
        _set(f"{CONTAINER}.image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1.4.2"),
        "k8s-image-pinned",
        None,
    ),
    (
        "namespace not restricted",
        "chat-api-ns",
        _set("metadata.labels", {"pod-security.kubernetes.io/enforce": "baseline"}),
        "k8s-namespace-pod-security",
        None,
    ),
    (
        "autoscaler floor of one",
        "chat-api-blue-hpa",
        _set("spec.minReplicas", 1),
        "k8s-workload-hpa",
        None,
    ),
    (
        "budget that blocks drains",
        "chat-web-blue-pdb",
        _set(
            "spec",
            {
                "minAvailable": "100%",
                "selector": {"matchLabels": {"app": "chat-web", "slot": "blue"}},
            },
        ),
        "k8s-pdb-allows-disruption",
        None,
    ),
    (
        "web ACL taken off the ALB",
        "chat-api-ingress",
        _annotation("wafv2-acl-arn", None),
        "waf-protects-ingress",
        None,
    ),
    (
        "weights adding up to 110",
        "chat-api-ingress",
        _annotation(
            "actions.live",
            json.dumps(
                {
                    "type": "forward",
                    "forwardConfig": {
                        "targetGroups": [
                            {"serviceName": "chat-api-blue", "servicePort": 80, "weight": 100},
                            {"serviceName": "chat-api-green", "servicePort": 80, "weight": 10},
                        ]
                    },
                }
            ),
        ),
        "ingress-weights-valid",
        None,
    ),
    (
        "old TLS policy",
        "chat-web-ingress",
        _annotation("ssl-policy", "ELBSecurityPolicy-2016-08"),
        "alb-tls-policy",
        None,
    ),
    (
        "KMS key without rotation",
        "keys-database",
        _set("enableKeyRotation", False),
        "kms-key-rotation",
        None,
    ),
    (
        "log group kept 30 days",
        "database-logs",
        _set("retentionInDays", 30),
        "logs-retention",
        None,
    ),
    (
        "mutable image tags",
        "registry-chat-api",
        _set("imageTagMutability", "MUTABLE"),
        "ecr-immutable-tags",
        None,
    ),
    (
        "default security group with a rule",
        "network-default-sg",
        _set("ingress", [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]),
        "vpc-default-security-group-closed",
        None,
    ),
    (
        "access-log bucket not public-blocked",
        "access-logs-public-access",
        _set("blockPublicPolicy", False),
        "s3-public-access-blocked",
        None,
    ),
    (
        "the ALB group's anchor without deletion protection",
        "edge-ingress",
        _annotation(
            "load-balancer-attributes",
            "routing.http.drop_invalid_header_fields.enabled=true,access_logs.s3.enabled=true",
        ),
        "alb-deletion-protection",
        None,
    ),
    (
        "IRSA trusting every service account",
        "Role:chat-api-role",
        lambda inputs: inputs.update(
            assumeRolePolicy=inputs["assumeRolePolicy"].replace(
                "system:serviceaccount:chat-api:chat-api", "system:serviceaccount:*"
            )
        ),
        "iam-oidc-trust-pinned",
        None,
    ),
    ("workspace on an AWS-owned key", "observability-workspace",
     lambda inputs: inputs.pop("kmsKeyArn"), "amp-workspace-cmk", None),
    ("workspace logging off", "observability-workspace",
     lambda inputs: inputs.pop("loggingConfiguration"), "amp-workspace-logging", None),
    ("alert topic unencrypted", "observability-alerts",
     lambda inputs: inputs.pop("kmsMasterKeyId"), "sns-topic-encrypted", None),
    ("backup vault lock in governance mode", "backup-vault-lock",
     _set("changeableForDays", None), "backup-vault-locked", None),
    ("backups no longer copied to the second region", "backup-plan",
     lambda inputs: [rule.pop("copyActions") for rule in inputs["rules"]],
     "backup-copy-other-region", None),
    ("backup vault on an AWS-managed key", "backup-vault",
     lambda inputs: inputs.pop("kmsKeyArn"), "backup-vault-cmk", None),
    ("the cache back on a shared AUTH token", "cache-redis",
     _set("userGroupIds", []), "elasticache-iam-authentication", None),
    ("a service's cache user on a password", "cache-user-chat-api",
     _set("authenticationMode", {"type": "password", "passwords": ["x" * 32]}),
     "elasticache-iam-authentication", None),
    ("the break-glass secret without its rotation procedure", "Secret:cache-break-glass",
     _set("tags", {}), "secretsmanager-rotation", None),
]  # fmt: skip


@pytest.mark.parametrize(
    "name,change,policy,protect",
    [pytest.param(*m[1:], id=m[0]) for m in MUTATIONS],
)
def test_switching_off_a_protection_in_prod_blocks_the_preview_with_its_policy(
    gate: Gate, name: str, change: Change, policy: str, protect: bool | None
) -> None:
    result = mutated(preview("prod"), name, change, protect=protect)
    blocking = {(v.policy_name, v.urn.rsplit("::", 1)[-1]) for v in findings(gate.judge(result))}
    assert blocking, "the preview is not blocked"
    assert policy in {p for p, _ in blocking}, blocking


def test_flow_log_removed_blocks_the_preview(gate: Gate) -> None:
    report = gate.judge(without(preview("prod"), "network-flow-log"))
    assert {v.policy_name for v in findings(report)} == {"vpc-flow-logs-enabled"}


def test_a_database_no_backup_plan_selects_blocks_the_preview(gate: Gate) -> None:
    report = gate.judge(without(preview("prod"), "backup-selection"))
    assert {v.policy_name for v in findings(report)} == {"stateful-resources-backed-up"}


def test_a_backup_vault_without_its_lock_blocks_the_preview(gate: Gate) -> None:
    report = gate.judge(without(preview("prod"), "backup-vault-lock"))
    assert {(v.policy_name, v.urn.rsplit("::", 1)[-1]) for v in findings(report)} == {
        ("backup-vault-locked", "backup-vault")
    }


def test_a_cluster_without_its_metrics_collector_blocks_the_preview(gate: Gate) -> None:
    report = gate.judge(without(preview("prod"), "metrics-collector-agent"))
    assert {v.policy_name for v in findings(report)} == {"metrics-collector-covers-cluster"}


def test_an_alarm_that_notifies_nobody_is_reported(gate: Gate) -> None:
    result = mutated(preview("staging"), "alarms-db-cpu", lambda i: i.update(alarmActions=[]))
    advisory = {v.policy_name for v in findings(gate.judge(result), "advisory")}
    assert "cloudwatch-alarm-actions" in advisory


def test_security_group_rule_opening_ssh_to_the_world_blocks_the_preview(gate: Gate) -> None:
    result = preview("prod")
    tags = result.named("database-sg").inputs["tags"]
    opened = with_resource(
        result,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "debug-ssh",
        {**WORLD_SSH, "tags": tags},
        {"securityGroupId": ["database-sg"]},
    )
    blocking = {v.policy_name for v in findings(gate.judge(opened)) if v.urn.endswith("debug-ssh")}
    assert blocking == {
        "ec2-no-admin-ports-open",
        "ec2-no-world-ingress",
        "data-store-ingress-from-security-groups",
    }


# Settings that prod accepts but the policies do not: the program itself builds the weakness.
SETTINGS_MUTATIONS: list[tuple[str, dict[str, Any], str]] = [
    (
        "flow logs of accepted traffic only",
        {
            "platform__network": {
                **stack_setting("prod", "platform:network"),
                "flowLogTrafficType": "ACCEPT",
            }
        },
        "vpc-flow-logs-enabled",
    ),
    (
        "one day of cache snapshots",
        {
            "platform__cache": {
                **stack_setting("prod", "platform:cache"),
                "snapshotRetentionDays": 1,
            }
        },
        "elasticache-snapshot-retention",
    ),
    (
        "no known-bad-inputs rule group",
        {
            "platform__firewall": {
                **stack_setting("prod", "platform:firewall"),
                "managedRuleGroups": ["AWSManagedRulesCommonRuleSet"],
            }
        },
        "waf-managed-rule-groups",
    ),
]


def _tag_only_image(app: dict[str, Any]) -> dict[str, Any]:
    app["services"][0]["release"]["blue"]["image"] = "1.4.2"
    return app


SETTINGS_MUTATIONS.append(
    (
        "a tag without a digest",
        {"platform__app": _tag_only_image(stack_setting("prod", "platform:app"))},
        "k8s-image-pinned",
    )
)


@pytest.mark.parametrize(
    "overrides,policy", [pytest.param(*m[1:], id=m[0]) for m in SETTINGS_MUTATIONS]
)
def test_a_weaker_prod_setting_blocks_the_preview_with_its_policy(
    gate: Gate, overrides: dict[str, Any], policy: str
) -> None:
    result: PreviewResult = preview("prod", **overrides)
    assert {v.policy_name for v in findings(gate.judge(result))} == {policy}


def _open_trust(inputs: dict[str, Any]) -> None:
    policy = json.loads(inputs["assumeRolePolicy"])
    policy["Statement"][0]["Principal"] = {"AWS": "*"}
    inputs["assumeRolePolicy"] = json.dumps(policy)


def _literal_password(inputs: dict[str, Any]) -> None:
    container = inputs["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "DATABASE_PASSWORD", "value": "correct-horse-battery"}]


def _token_in_settings(inputs: dict[str, Any]) -> None:
    inputs["data"]["SLACK_WEBHOOK"] = "https://hooks.slack.com/services/T000/B000/XXXXXXXX"


# Blocked in every stack, whatever its policy config: (behaviour, resource, change, policy)
EVERY_STACK: list[tuple[str, str, Change, str]] = [
    ("a role any principal may assume", "Role:cluster-nodes", _open_trust,
     "iam-trust-named-principals"),
    ("a password written into a Deployment", "chat-api-blue", _literal_password,
     "k8s-no-literal-credentials"),
    ("a webhook token in a ConfigMap", "chat-api-settings", _token_in_settings,
     "k8s-no-literal-credentials"),
]  # fmt: skip


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name,change,policy", [pytest.param(*m[1:], id=m[0]) for m in EVERY_STACK])
def test_an_open_trust_or_a_literal_credential_blocks_every_stack(
    gate: Gate, stack: str, name: str, change: Change, policy: str
) -> None:
    result = mutated(preview(stack), name, change)
    blocking = {(v.policy_name, v.urn.rsplit("::", 1)[-1]) for v in findings(gate.judge(result))}
    assert (policy, name.rsplit(":", 1)[-1]) in blocking, blocking
    # The message names the variable, never its value.
    assert not any("correct-horse" in v.message for v in gate.judge(result).violations)
