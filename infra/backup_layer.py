"""The backup layer: AWS Backup over the data layer, its failures to the alert topic."""

from __future__ import annotations

import pulumi

from components.backup import Backup, BackupArgs, BackupRuleArgs, RestoreTestArgs, VaultLockArgs
from components.keys import EncryptionKeys, KeyPurpose
from infra.config import StackSettings


def backup_layer(
    settings: StackSettings,
    *,
    partition: str,
    account_id: str,
    keys: EncryptionKeys,
    alert_topic_arn: pulumi.Input[str] | None,
    database_arn: pulumi.Input[str],
) -> Backup:
    backup = settings.platform.backup
    lock, test = backup.vault_lock, backup.restore_testing
    return Backup(
        "backup",
        BackupArgs(
            name_prefix=settings.name_prefix,
            partition=partition,
            account_id=account_id,
            plan=backup.plan,
            rules=[
                BackupRuleArgs(r.name, r.schedule, r.retention_days, r.continuous)
                for r in backup.rules()
            ],
            kms_key_arn=keys.arn(KeyPurpose.BACKUP),
            key_deletion_window_days=settings.platform.kms_key_deletion_window_days,
            resource_arns=[database_arn],
            vault_lock=VaultLockArgs(
                compliance=lock.mode == "compliance",
                min_retention_days=lock.min_retention_days,
                max_retention_days=lock.max_retention_days,
                changeable_for_days=lock.changeable_for_days,
            )
            if lock
            else None,
            copy_region=backup.copy_region,
            restore_test=RestoreTestArgs(test.schedule, test.selection_window_days, test.keep_hours)
            if test
            else None,
            alert_topic_arn=alert_topic_arn,
            protect=settings.platform.protect_resources,
        ),
    )
