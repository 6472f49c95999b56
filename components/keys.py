"""Customer-managed KMS keys, one per purpose, each with rotation, an alias and a scoped policy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pulumi
import pulumi_aws as aws


class KeyPurpose(StrEnum):
    """What a key encrypts. A separate key per purpose keeps each grant narrow and lets a
    key be disabled or audited without touching the others.

    Only CloudWatch Logs uses its key as itself (a service principal), and CloudWatch alarms
    and the Prometheus alert manager publishing to the encrypted alert topic. RDS, ElastiCache,
    Secrets Manager, ECR and EKS use a key on behalf of the caller, through grants that
    the caller's IAM permissions allow, so their keys need no statement beyond the
    account's; who may use them is decided in IAM.
    """

    LOGS = "logs"  # CloudWatch log groups: flow logs, database, cache, WAF and EKS logs
    DATABASE = "database"  # Aurora storage, its master secret and Performance Insights
    CACHE = "cache"  # ElastiCache at rest and the cache's AUTH token secret
    REGISTRY = "registry"  # ECR images
    EKS = "eks"  # envelope encryption of Kubernetes secrets
    # The Prometheus workspace, the alert topic and the chat webhook's secret.
    OBSERVABILITY = "observability"
    BACKUP = "backup"  # the AWS Backup vault's recovery points


@dataclass(frozen=True)
class EncryptionKeysArgs:
    name_prefix: str
    account_id: str
    region: str
    partition: str
    purposes: Sequence[KeyPurpose]
    deletion_window_days: int
    protect: bool


class EncryptionKeys(pulumi.ComponentResource):
    """The stack's customer-managed keys. ``arn(purpose)`` is what other components consume."""

    key_arns: dict[KeyPurpose, pulumi.Output[str]]
    alias_names: dict[KeyPurpose, str]

    def __init__(
        self, name: str, args: EncryptionKeysArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("platform:components:EncryptionKeys", name, None, opts)
        self.key_arns = {}
        self.alias_names = {}
        for purpose in args.purposes:
            key = aws.kms.Key(
                f"{name}-{purpose}",
                description=f"{args.name_prefix} {purpose} encryption",
                enable_key_rotation=True,
                deletion_window_in_days=args.deletion_window_days,
                policy=json.dumps(key_policy(args, purpose)),
                tags={"Name": f"{args.name_prefix}-{purpose}", "purpose": str(purpose)},
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            alias_name = f"alias/{args.name_prefix}/{purpose}"
            aws.kms.Alias(
                f"{name}-{purpose}-alias",
                name=alias_name,
                target_key_id=key.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.key_arns[purpose] = key.arn
            self.alias_names[purpose] = alias_name
        self.register_outputs({f"{purpose}KeyArn": arn for purpose, arn in self.key_arns.items()})

    def arn(self, purpose: KeyPurpose) -> pulumi.Output[str]:
        return self.key_arns[purpose]


def account_administration(partition: str, account_id: str) -> dict[str, Any]:
    """Without this statement a key becomes unmanageable; IAM policies in the account still
    decide who may use it."""
    return {
        "Sid": "AccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def key_policy(args: EncryptionKeysArgs, purpose: KeyPurpose) -> dict[str, Any]:
    """Account administration plus the one service that uses the key, and nothing for ``*``."""
    statements = [account_administration(args.partition, args.account_id)]
    if purpose is KeyPurpose.LOGS:
        statements.append(
            {
                "Sid": "CloudWatchLogsOfThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{args.region}.amazonaws.com"},
                "Action": [
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{args.partition}:logs:{args.region}:{args.account_id}:log-group:*"
                        )
                    }
                },
            }
        )
    if purpose is KeyPurpose.OBSERVABILITY:
        # An encrypted topic takes messages only from services the key lets encrypt them
        # (the SNS developer guide's statement for AWS event sources, as it is written).
        statements.append(
            {
                "Sid": "AlarmsAndAlertsToTheTopic",
                "Effect": "Allow",
                "Principal": {
                    "Service": [
                        "cloudwatch.amazonaws.com",
                        "aps.amazonaws.com",
                        "backup.amazonaws.com",
                    ]
                },
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
