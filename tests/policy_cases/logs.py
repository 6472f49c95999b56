"""Cases for policies/rules/logs.py."""

from __future__ import annotations

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECRET = "aws:secretsmanager/secret:Secret"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def log_group(**props: object) -> Res:
    return Res(LOG_GROUP, "logs", {"name": "/platform/app", **props})


def secret(**props: object) -> Res:
    return Res(SECRET, "secret", {"name": "db-credentials", **props})


CASES = [
    violates(
        "logs-retention",
        "no retention keeps logs forever",
        log_group(),
        message="retentionInDays is not set; expected at least 365 (parameter minimumDays)",
    ),
    violates(
        "logs-retention",
        "0 also means never expire",
        log_group(retentionInDays=0),
        message="retentionInDays is 0; expected at least 365",
    ),
    violates(
        "logs-retention",
        "30 days is below the default minimum",
        log_group(retentionInDays=30),
        message="retentionInDays is 30; expected at least 365",
    ),
    violates(
        "logs-retention",
        "below a configured minimum",
        log_group(retentionInDays=365),
        config={"minimumDays": 400},
        message="retentionInDays is 365; expected at least 400 (parameter minimumDays)",
    ),
    passes("logs-retention", "exactly the default minimum", log_group(retentionInDays=365)),
    passes("logs-retention", "ten years", log_group(retentionInDays=3653)),
    passes(
        "logs-retention",
        "meets a lower configured minimum",
        log_group(retentionInDays=30),
        config={"minimumDays": 30},
    ),
    undecided("logs-retention", "retention unknown", log_group(retentionInDays=UNKNOWN)),
    violates(
        "logs-kms-encrypted",
        "no key",
        log_group(retentionInDays=365),
        message="kmsKeyId is not set; expected a customer-managed KMS key ARN",
    ),
    violates(
        "logs-kms-encrypted",
        "empty key id",
        log_group(kmsKeyId=""),
        message='kmsKeyId is ""; expected a customer-managed KMS key ARN',
    ),
    passes("logs-kms-encrypted", "key ARN", log_group(kmsKeyId=KEY)),
    undecided(
        "logs-kms-encrypted",
        "key ARN unknown until the key exists",
        log_group(kmsKeyId=UNKNOWN),
    ),
    violates(
        "secretsmanager-cmk",
        "default aws/secretsmanager key",
        secret(),
        message="kmsKeyId is not set; expected a customer-managed KMS key "
        "(not alias/aws/secretsmanager)",
    ),
    violates(
        "secretsmanager-cmk",
        "the AWS-managed alias named",
        secret(kmsKeyId="alias/aws/secretsmanager"),
        message='kmsKeyId is "alias/aws/secretsmanager"; expected a customer-managed KMS key',
    ),
    violates(
        "secretsmanager-cmk",
        "the AWS-managed alias by ARN",
        secret(kmsKeyId="arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager"),
        message="expected a customer-managed KMS key",
    ),
    violates(
        "secretsmanager-cmk",
        "empty key id falls back to the default key",
        secret(kmsKeyId=""),
        message="expected a customer-managed KMS key",
    ),
    passes("secretsmanager-cmk", "customer-managed key ARN", secret(kmsKeyId=KEY)),
    passes("secretsmanager-cmk", "customer-managed alias", secret(kmsKeyId="alias/platform-db")),
    undecided(
        "secretsmanager-cmk",
        "key ARN unknown until the key exists",
        secret(kmsKeyId=UNKNOWN),
    ),
]
