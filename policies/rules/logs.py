"""CloudWatch Logs and Secrets Manager: retention, and encryption with the stack's keys."""

from __future__ import annotations

from pulumi_policy import Severity

from policies.framework import params
from policies.framework.checks import AtLeast, Check, Present, Satisfies, property_rule
from policies.framework.rule import Compliance, Pack
from policies.framework.values import MISSING

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECRET = "aws:secretsmanager/secret:Secret"

retention = property_rule(
    name="logs-retention",
    description="Every log group expires its logs after a retention period of at least the "
    "configured minimum (audit trails kept, costs bounded).",
    remediation="Set retentionInDays (platform:logRetentionDays) to a CloudWatch Logs period "
    "at or above the minimum.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(LOG_GROUP,),
    compliance=Compliance(checkov=("CKV_AWS_66", "CKV_AWS_338")),
    params=(
        params.integer(
            "minimumDays",
            "days a log group must keep its logs, 1-3653",
            default=365,
            minimum=1,
            maximum=3653,
        ),
    ),
    # Not set (or 0) means logs are never deleted: no retention policy at all.
    checks=(Check("retentionInDays", AtLeast("minimumDays", absent=0)),),
)

logs_encrypted = property_rule(
    name="logs-kms-encrypted",
    description="Log groups are encrypted with a customer-managed KMS key.",
    remediation="Set kmsKeyId to the stack's logs key (its policy lets CloudWatch Logs of "
    "this account and region use it).",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(LOG_GROUP,),
    compliance=Compliance(checkov=("CKV_AWS_158",)),
    checks=(Check("kmsKeyId", Present("a customer-managed KMS key ARN")),),
)

secret_encrypted = property_rule(
    name="secretsmanager-cmk",
    description="Secrets are encrypted with a customer-managed KMS key, not the account's "
    "default aws/secretsmanager key.",
    remediation="Set kmsKeyId to the key of the data the secret protects (database, cache).",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(SECRET,),
    compliance=Compliance(checkov=("CKV_AWS_149",)),
    checks=(
        Check(
            "kmsKeyId",
            Satisfies(
                # An empty kmsKeyId is not sent: the secret gets the default key too.
                lambda value, _: value not in (MISSING, "") and "alias/aws/" not in str(value),
                "a customer-managed KMS key (not alias/aws/secretsmanager)",
                accepts_unknown=True,  # a key ARN the update computes is not an alias
            ),
        ),
    ),
)

RULES = (retention, logs_encrypted, secret_encrypted)
