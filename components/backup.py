"""AWS Backup for the stack: a vault on its own key, locked where settings say, a plan whose
recovery points are copied to a vault in a second region, the selection of every resource
tagged with the plan, restore tests of the database, and failures to the alert topic."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.keys import account_administration
from components.parts import role_with_policies, service_trust_policy

# The tag the standard tags transform puts on every type AWS Backup protects
# (platform_common/backup.py); its value names the plan.
from platform_common.backup import BACKUP_TAG

# AWS Backup's managed policies for the role it assumes to take and restore recovery points.
_SERVICE_ROLE_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
)
# What an access policy on the vault denies to everyone: deleting a recovery point, or
# shortening its life, before the plan's lifecycle ends it.
DENIED_ON_RECOVERY_POINTS = ("backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle")
# The vault's events sent to the alert topic. BACKUP_JOB_FAILED is deprecated and sends
# nothing (PutBackupVaultNotifications); a failed backup or restore arrives as a completion
# event whose State is not COMPLETED, so successes are delivered too. A subscription filter
# on State would drop the alarms (they carry no State), so none is set.
VAULT_EVENTS = ("BACKUP_JOB_COMPLETED", "COPY_JOB_FAILED", "RESTORE_JOB_COMPLETED")


@dataclass(frozen=True)
class BackupRuleArgs:
    name: str
    schedule: str
    retention_days: int
    continuous: bool


@dataclass(frozen=True)
class VaultLockArgs:
    compliance: bool
    min_retention_days: int
    max_retention_days: int
    changeable_for_days: int


@dataclass(frozen=True)
class RestoreTestArgs:
    schedule: str
    selection_window_days: int
    keep_hours: int


@dataclass(frozen=True)
class BackupArgs:
    name_prefix: str
    partition: str
    account_id: str
    plan: str
    rules: Sequence[BackupRuleArgs]
    kms_key_arn: pulumi.Input[str]
    # Of the copy region's key (the stack's window, as for its other keys).
    key_deletion_window_days: int
    # Resources selected by ARN besides the tag: the data layer's (a scanner that reads only
    # ARNs, such as Checkov's CKV2_AWS_8, then sees them selected too).
    resource_arns: Sequence[pulumi.Input[str]]
    vault_lock: VaultLockArgs | None
    # The second region recovery points are copied to; None keeps them here only.
    copy_region: str | None
    restore_test: RestoreTestArgs | None
    # Where the vault's job events go (the stack's alert topic), when there is one.
    alert_topic_arn: pulumi.Input[str] | None
    protect: bool


class Backup(pulumi.ComponentResource):
    """``vault_arn``, ``copy_vault_arn`` and ``plan_id`` are what others (policies, docs,
    the restore runbook) read."""

    vault_arn: pulumi.Output[str]
    copy_vault_arn: pulumi.Output[str] | None
    plan_id: pulumi.Output[str]

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:components:Backup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        vault = self._vault(name, args, child)
        self.vault_arn = vault.arn
        self.copy_vault_arn = (
            self._copy_vault(name, args, args.copy_region) if args.copy_region else None
        )
        role, grants = self._service_role(name, args)
        plan = aws.backup.Plan(
            f"{name}-plan",
            name=f"{args.name_prefix}-{args.plan}",
            rules=[self._rule(rule, vault, args) for rule in args.rules],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[vault]),
        )
        self.plan_id = plan.id
        aws.backup.Selection(
            f"{name}-selection",
            name=f"{args.name_prefix}-{args.plan}",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=list(args.resource_arns),
            selection_tags=[
                aws.backup.SelectionSelectionTagArgs(
                    type="STRINGEQUALS", key=BACKUP_TAG, value=args.plan
                )
            ],
            # AWS Backup checks the role's permissions when the selection is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
        )
        if args.restore_test is not None:
            self._restore_test(name, args, args.restore_test, vault, role, grants)
        if args.alert_topic_arn is not None:
            aws.backup.VaultNotifications(
                f"{name}-notifications",
                backup_vault_name=vault.name,
                sns_topic_arn=args.alert_topic_arn,
                backup_vault_events=list(VAULT_EVENTS),
                opts=child,
            )
        self.register_outputs(
            {"vaultArn": self.vault_arn, "copyVaultArn": self.copy_vault_arn, "planId": plan.id}
        )

    def _vault(
        self, name: str, args: BackupArgs, child: pulumi.ResourceOptions
    ) -> aws.backup.Vault:
        vault = aws.backup.Vault(
            f"{name}-vault",
            name=args.name_prefix,
            kms_key_arn=args.kms_key_arn,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self._guard(f"{name}-vault", vault, args, child)
        return vault

    def _guard(
        self, name: str, vault: aws.backup.Vault, args: BackupArgs, opts: pulumi.ResourceOptions
    ) -> None:
        """No early deletion by anyone, and the lock where settings ask for one."""
        aws.backup.VaultPolicy(
            f"{name}-policy",
            backup_vault_name=vault.name,
            policy=json.dumps(NO_EARLY_DELETION),
            opts=opts,
        )
        lock = args.vault_lock
        if lock is None:
            return
        aws.backup.VaultLockConfiguration(
            f"{name}-lock",
            backup_vault_name=vault.name,
            min_retention_days=lock.min_retention_days,
            max_retention_days=lock.max_retention_days,
            # Set, the lock becomes permanent after these days (compliance mode).
            changeable_for_days=lock.changeable_for_days if lock.compliance else None,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=args.protect)),
        )

    def _copy_vault(self, name: str, args: BackupArgs, region: str) -> pulumi.Output[str]:
        """A vault in the copy region, on a key of that region, through that region's own
        provider: a copy must survive the loss of this region and its keys."""
        provider = aws.Provider(
            f"{name}-{region}", region=region, opts=pulumi.ResourceOptions(parent=self)
        )
        there = pulumi.ResourceOptions(parent=self, provider=provider, protect=args.protect)
        key = aws.kms.Key(
            f"{name}-copy-key",
            description=f"{args.name_prefix} backup copies",
            # The account administers it; AWS Backup uses it through grants IAM allows.
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [account_administration(args.partition, args.account_id)],
                }
            ),
            enable_key_rotation=True,
            deletion_window_in_days=args.key_deletion_window_days,
            tags={"Name": f"{args.name_prefix}-backup-copy", "purpose": "backup"},
            opts=there,
        )
        vault = aws.backup.Vault(
            f"{name}-copy-vault", name=f"{args.name_prefix}-copy", kms_key_arn=key.arn, opts=there
        )
        # The copies are as guarded as the originals: a region's loss is not a way around it.
        self._guard(
            f"{name}-copy-vault",
            vault,
            args,
            pulumi.ResourceOptions(parent=self, provider=provider),
        )
        return vault.arn

    def _rule(
        self, rule: BackupRuleArgs, vault: aws.backup.Vault, args: BackupArgs
    ) -> aws.backup.PlanRuleArgs:
        lifecycle = aws.backup.PlanRuleLifecycleArgs(delete_after=rule.retention_days)
        copies = (
            [
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=self.copy_vault_arn,
                    lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(
                        delete_after=rule.retention_days
                    ),
                )
            ]
            if self.copy_vault_arn is not None
            else None
        )
        return aws.backup.PlanRuleArgs(
            rule_name=rule.name,
            target_vault_name=vault.name,
            schedule=rule.schedule,
            enable_continuous_backup=rule.continuous,
            lifecycle=lifecycle,
            copy_actions=copies,
        )

    def _service_role(self, name: str, args: BackupArgs) -> tuple[aws.iam.Role, list[Any]]:
        """The role AWS Backup takes recovery points and restores them as."""
        return role_with_policies(
            f"{name}-role",
            description=f"AWS Backup of {args.name_prefix}: backups and restore tests",
            assume_role_policy=service_trust_policy("backup.amazonaws.com"),
            managed_policy_arns=[
                f"arn:{args.partition}:iam::aws:policy/{policy}"
                for policy in _SERVICE_ROLE_POLICIES
            ],
            parent=self,
        )

    def _restore_test(
        self, name: str, args: BackupArgs, test: RestoreTestArgs, vault: aws.backup.Vault,
        role: aws.iam.Role, grants: list[Any],
    ) -> None:  # fmt: skip
        """AWS restores a recent recovery point of every tagged Aurora cluster on schedule,
        keeps it ``keep_hours`` for inspection, deletes it, and reports the outcome."""
        # Restore testing plan names take letters, digits and underscores only.
        plan_name = f"{args.name_prefix}_{args.plan}".replace("-", "_")
        plan = aws.backup.RestoreTestingPlan(
            f"{name}-restore-testing",
            name=plan_name,
            schedule_expression=test.schedule,
            recovery_point_selection=aws.backup.RestoreTestingPlanRecoveryPointSelectionArgs(
                algorithm="LATEST_WITHIN_WINDOW",
                include_vaults=[vault.arn],
                recovery_point_types=["CONTINUOUS", "SNAPSHOT"],
                selection_window_days=test.selection_window_days,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.backup.RestoreTestingSelection(
            f"{name}-restore-testing-database",
            name="database",
            restore_testing_plan_name=plan.name,
            protected_resource_type="Aurora",
            iam_role_arn=role.arn,
            protected_resource_conditions=aws.backup.RestoreTestingSelectionProtectedResourceConditionsArgs(
                string_equals=[
                    aws.backup.RestoreTestingSelectionProtectedResourceConditionsStringEqualArgs(
                        key=f"aws:ResourceTag/{BACKUP_TAG}", value=args.plan
                    )
                ]
            ),
            validation_window_hours=test.keep_hours,
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
        )


# The vault's access policy: no one deletes a recovery point or shortens its life; the plan's
# lifecycle alone ends it. A vault policy applies to the vault's recovery points ("*").
NO_EARLY_DELETION: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "NoEarlyDeletion",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": list(DENIED_ON_RECOVERY_POINTS),
            "Resource": "*",
        }
    ],
}
