"""AWS Backup through the offline engine: every stateful resource each stack registers is
selected, prod copies to a vault in its second region through that region's provider, the
database is restore-tested where settings say, and every bad setting is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from platform_common.backup import BACKED_UP_TYPES, BACKUP_TAG
from tests.conftest import STACKS, key_arn, preview, stack_setting
from tests.test_config import BASE, problems_for, settings_with

VAULT = "aws:backup/vault:Vault"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
RESTORE_SELECTION = "aws:backup/restoreTestingSelection:RestoreTestingSelection"


def region_of(arn: str) -> str:
    return arn.split(":")[3]


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_aws_backup_can_protect_is_selected_by_the_stacks_plan(stack):
    result = preview(stack)
    plan = stack_setting(stack, "platform:backup")["plan"]
    [selection] = result.of_type(SELECTION)
    assert selection.inputs["selectionTags"] == [
        {"type": "STRINGEQUALS", "key": BACKUP_TAG, "value": plan}
    ]
    protected = [r for r in result.resources if r.type in BACKED_UP_TYPES]
    assert protected, "the stack registers a database"
    for resource in protected:
        assert resource.inputs["tags"][BACKUP_TAG] == plan, resource.urn
        assert resource.state is not None
        assert resource.state["arn"] in selection.inputs["resources"]
    # Nothing else carries the tag: AWS Backup would try to back it up.
    tagged = {
        r.type for r in result.resources if BACKUP_TAG in ((r.inputs or {}).get("tags") or {})
    }
    assert tagged == {r.type for r in protected}


@pytest.mark.parametrize("stack", STACKS)
def test_the_vault_is_on_the_stacks_backup_key_and_nobody_deletes_a_point_early(stack):
    result = preview(stack)
    vault = result.named("backup-vault")
    assert vault.inputs["kmsKeyArn"] == key_arn(result, "backup")
    policy = json.loads(result.named("backup-vault-policy").inputs["policy"])
    [deny] = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    assert set(deny["Action"]) == {
        "backup:DeleteRecoveryPoint",
        "backup:UpdateRecoveryPointLifecycle",
    }
    notifications = result.named("backup-notifications").inputs
    assert notifications["snsTopicArn"] == result.named("observability-alerts").state["arn"]
    assert "BACKUP_JOB_COMPLETED" in notifications["backupVaultEvents"]


def test_prod_copies_every_point_to_a_locked_vault_in_its_second_region():
    result = preview("prod")
    [provider] = [r for r in result.of_type("pulumi:providers:aws") if r.name == "backup-us-west-2"]
    assert provider.inputs["region"] == "us-west-2"
    copy_vault = result.named("backup-copy-vault")
    copy_key = result.named("backup-copy-key")
    for resource in (copy_vault, copy_key, result.named("backup-copy-vault-lock")):
        assert resource.provider == f"{provider.urn}::{provider.id}", resource.name
    assert region_of(copy_vault.state["arn"]) == "us-west-2"
    assert copy_vault.inputs["kmsKeyArn"] == copy_key.state["arn"]
    assert region_of(copy_key.state["arn"]) == "us-west-2"
    rules = result.named("backup-plan").inputs["rules"]
    assert [r["ruleName"] for r in rules] == ["continuous", "monthly"]
    for rule in rules:
        [copy] = rule["copyActions"]
        assert copy["destinationVaultArn"] == copy_vault.state["arn"]
        assert copy["lifecycle"]["deleteAfter"] == rule["lifecycle"]["deleteAfter"]
    assert rules[0]["enableContinuousBackup"] is True
    for lock in ("backup-vault-lock", "backup-copy-vault-lock"):
        inputs = result.named(lock).inputs
        assert (inputs["minRetentionDays"], inputs["maxRetentionDays"]) == (7, 400)
        assert inputs["changeableForDays"] == 3  # compliance mode


def test_dev_keeps_its_points_here_unlocked_and_untested():
    result = preview("dev")
    names = {r.name for r in result.resources}
    assert not {"backup-copy-vault", "backup-vault-lock", "backup-restore-testing"} & names
    [rule] = result.named("backup-plan").inputs["rules"]
    assert "copyActions" not in rule and rule["lifecycle"]["deleteAfter"] == 7


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_database_is_restore_tested_from_the_vault(stack):
    result = preview(stack)
    plan = result.named("backup-restore-testing").inputs
    assert plan["recoveryPointSelection"]["includeVaults"] == [
        result.named("backup-vault").state["arn"]
    ]
    [selection] = result.of_type(RESTORE_SELECTION)
    assert selection.inputs["protectedResourceType"] == "Aurora"
    assert selection.inputs["protectedResourceConditions"]["stringEquals"] == [
        {
            "key": f"aws:ResourceTag/{BACKUP_TAG}",
            "value": stack_setting(stack, "platform:backup")["plan"],
        }
    ]
    role = result.named("backup-role").state["arn"]
    assert selection.inputs["iamRoleArn"] == role
    policies = {
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name.startswith("backup-role")
    }
    assert policies == {
        "AWSBackupServiceRolePolicyForBackup",
        "AWSBackupServiceRolePolicyForRestores",
    }


def test_the_access_log_bucket_aborts_unfinished_uploads_anywhere_in_it():
    rules = preview("prod").named("access-logs-lifecycle").inputs["rules"]
    [abort] = [r for r in rules if "abortIncompleteMultipartUpload" in r]
    assert abort["filter"] == {} and abort["status"] == "Enabled"


def backup(stack: str | None = None, **changes: Any) -> dict[str, Any]:
    """The test base's backup settings (a stack's, when named), changed."""
    base = stack_setting(stack, "platform:backup") if stack else BASE["platform:backup"]
    return {**base, **changes}


def test_a_copy_to_the_stacks_own_region_is_refused():
    [problem] = problems_for(settings_with(platform__backup=backup(copyRegion="us-east-1")))
    assert problem == (
        'platform:backup.copyRegion = "us-east-1": the stack\'s own region: a copy there '
        "survives no region loss; allowed: another region"
    )


def test_a_retention_outside_the_vault_lock_is_refused():
    locked = backup(
        vaultLock={"mode": "governance", "minRetentionDays": 30, "maxRetentionDays": 90}
    )
    [problem] = problems_for(settings_with(platform__backup=locked))
    assert problem.startswith("platform:backup.plans.standard[0].retentionDays = 14: outside the")
    assert "AWS Backup would refuse its recovery points" in problem
    assert problem.endswith("allowed: 30 to 90")


def test_an_unknown_plan_is_refused_naming_the_plans():
    [problem] = problems_for(settings_with(platform__backup=backup(plan="weekly")))
    assert problem == 'platform:backup.plan = "weekly": no such plan; allowed: standard'


@pytest.mark.parametrize(
    ("changes", "key", "allowed"),
    [
        ({"copyRegion": "mars-1"}, "copyRegion", "unknown region; allowed: us-east-1"),
        ({"plans": {"standard": []}}, "plans", "at least one"),
        ({"plans": {"standard": [{"name": "x", "schedule": "daily", "retentionDays": 7}]}},
         "plans.standard[0].schedule", "cron("),
        ({"plans": {"standard": [{"name": "x", "schedule": "cron(0 5 * * ? *)",
                                  "retentionDays": 60, "continuous": True}]}},
         "plans.standard[0]", "35 days at most"),
        ({"vaultLock": {"mode": "compliance", "minRetentionDays": 9, "maxRetentionDays": 8}},
         "vaultLock", "at least the minimum"),
        ({"vaultLock": {"mode": "compliance", "minRetentionDays": 1, "maxRetentionDays": 90,
                        "changeableForDays": 1}}, "vaultLock.changeableForDays", "3 to 36500"),
        ({"restoreTesting": {"keepHours": 0}}, "restoreTesting.keepHours", "1 to 168"),
    ],
)  # fmt: skip
def test_a_bad_backup_setting_names_its_key_and_what_is_allowed(changes, key, allowed):
    found = problems_for(settings_with(platform__backup=backup(**changes)))
    assert any(p.startswith(f"platform:backup.{key}") and allowed in p for p in found), found


def test_prod_without_a_copy_or_a_compliance_lock_is_refused():
    weaker = backup("prod", copyRegion=None, vaultLock=None)
    found = problems_for(settings_with(platform__environment="prod", platform__backup=weaker))
    assert any(p.startswith("platform:backup.copyRegion = null: prod keeps a copy") for p in found)
    assert any(
        p.startswith("platform:backup.vaultLock.mode = null: prod's vault is locked") for p in found
    )
