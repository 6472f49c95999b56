"""Cases for policies/rules/kms.py."""

from __future__ import annotations

import json

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
ALIAS = "aws:kms/alias:Alias"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECRET = "aws:secretsmanager/secret:Secret"
EKS = "aws:eks/cluster:Cluster"
RDS = "aws:rds/cluster:Cluster"
ECR = "aws:ecr/repository:Repository"
ACCOUNT = "123456789012"
FOREIGN_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}


def key(name: str = "key", **props: object) -> Res:
    return Res(KEY, name, {"description": "data key", **props})


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: object, action: object, **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **extra}


ADMIN = allow(ROOT, "kms:*", Sid="Root")
USE = ["kms:Decrypt", "kms:GenerateDataKey*"]
IN_ACCOUNT = {"StringEquals": {"kms:CallerAccount": ACCOUNT}}


def key_with_policy(*statements: dict[str, object]) -> Res:
    return key(enableKeyRotation=True, policy=policy(*statements))


def encrypted(type_: str, name: str, input_key: str, value: object, *sources: str) -> Res:
    """A resource whose ``input_key`` holds ``value``, taken from the named resources."""
    return Res(type_, name, {input_key: value}, {input_key: list(sources)} if sources else {})


CASES = [
    violates(
        "kms-key-rotation",
        "rotation off by default",
        key(),
        message="enableKeyRotation is not set; expected true",
    ),
    violates(
        "kms-key-rotation",
        "rotation turned off",
        key(enableKeyRotation=False),
        message="enableKeyRotation is false",
    ),
    passes("kms-key-rotation", "rotating symmetric key", key(enableKeyRotation=True)),
    passes(
        "kms-key-rotation",
        "explicit SYMMETRIC_DEFAULT that rotates",
        key(customerMasterKeySpec="SYMMETRIC_DEFAULT", enableKeyRotation=True),
    ),
    passes(
        "kms-key-rotation",
        "asymmetric key cannot rotate",
        key(customerMasterKeySpec="RSA_2048", keyUsage="SIGN_VERIFY"),
    ),
    passes(
        "kms-key-rotation",
        "HMAC key cannot rotate",
        key(customerMasterKeySpec="HMAC_256", keyUsage="GENERATE_VERIFY_MAC"),
    ),
    undecided("kms-key-rotation", "rotation flag unknown", key(enableKeyRotation=UNKNOWN)),
    undecided(
        "kms-key-rotation",
        "key spec unknown on a key without rotation",
        key(customerMasterKeySpec=UNKNOWN),
    ),
    passes(
        "kms-key-rotation",
        "key spec unknown on a rotating key",
        key(customerMasterKeySpec=UNKNOWN, enableKeyRotation=True),
    ),
    # kms-no-wildcard-principal
    violates(
        "kms-no-wildcard-principal",
        'Principal "*" without conditions',
        key_with_policy(ADMIN, allow("*", USE, Sid="Anyone")),
        message="statement 'Anyone' allows any principal (kms:Decrypt, kms:GenerateDataKey*) "
        "without conditions",
    ),
    violates(
        "kms-no-wildcard-principal",
        'Principal {"AWS": "*"} without conditions',
        key_with_policy(ADMIN, allow({"AWS": "*"}, "kms:Decrypt")),
        message="statement 1 allows any principal (kms:Decrypt) without conditions",
    ),
    violates(
        "kms-no-wildcard-principal",
        'Principal {"AWS": ["*"]} as a list',
        key_with_policy(allow({"AWS": ["*"]}, "kms:Encrypt")),
        message="statement 0 allows any principal",
    ),
    violates(
        "kms-no-wildcard-principal",
        "kms:* to anyone even with conditions",
        key_with_policy(allow("*", "kms:*", Condition=IN_ACCOUNT)),
        message="allows any principal (kms:*) with conditions; expected named principals",
    ),
    violates(
        "kms-no-wildcard-principal",
        "NotAction to anyone grants everything else, whatever the conditions",
        key_with_policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "NotAction": "kms:ScheduleKeyDeletion",
                "Resource": "*",
                "Condition": IN_ACCOUNT,
            }
        ),
        message="allows any principal (every action but kms:ScheduleKeyDeletion) with conditions",
    ),
    violates(
        "kms-no-wildcard-principal",
        'Action "*" to anyone even with conditions',
        key_with_policy(allow({"AWS": "*"}, "*", Condition=IN_ACCOUNT)),
        message="allows any principal (*) with conditions",
    ),
    violates(
        "kms-no-wildcard-principal",
        "a KeyPolicy resource open to anyone",
        Res(KEY_POLICY, "key-policy", {"keyId": "key-id", "policy": policy(allow("*", USE))}),
        message="allows any principal",
    ),
    passes("kms-no-wildcard-principal", "default key policy", key(enableKeyRotation=True)),
    passes(
        "kms-no-wildcard-principal",
        "account root and a service principal",
        key_with_policy(
            ADMIN,
            allow(
                {"Service": "logs.us-east-1.amazonaws.com"},
                USE,
                Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            ),
        ),
    ),
    passes(
        "kms-no-wildcard-principal",
        "anyone, but only specific actions under conditions",
        key_with_policy(ADMIN, allow("*", USE, Condition=IN_ACCOUNT)),
    ),
    passes(
        "kms-no-wildcard-principal",
        "a Deny to anyone",
        key_with_policy(
            ADMIN,
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ),
    ),
    passes(
        "kms-no-wildcard-principal",
        "a KeyPolicy naming the account",
        Res(KEY_POLICY, "key-policy", {"keyId": "key-id", "policy": policy(ADMIN)}),
    ),
    undecided(
        "kms-no-wildcard-principal",
        "key policy unknown",
        key(enableKeyRotation=True, policy=UNKNOWN),
    ),
    undecided(
        "kms-no-wildcard-principal",
        "KeyPolicy document unknown",
        Res(KEY_POLICY, "key-policy", {"keyId": UNKNOWN, "policy": UNKNOWN}),
    ),
    # kms-customer-managed-keys
    violates(
        "kms-customer-managed-keys",
        "secret on the AWS-managed alias/aws/secretsmanager",
        encrypted(SECRET, "secret", "kmsKeyId", "alias/aws/secretsmanager"),
        at="secret",
        message="Secret 'secret' kmsKeyId is an AWS-managed key",
    ),
    violates(
        "kms-customer-managed-keys",
        "AWS-managed key by alias ARN",
        encrypted(LOG_GROUP, "logs", "kmsKeyId", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/logs"),
        at="logs",
        message="is an AWS-managed key",
    ),
    violates(
        "kms-customer-managed-keys",
        "a key ARN written by hand, not of this stack",
        encrypted(RDS, "db", "kmsKeyId", FOREIGN_KEY),
        at="db",
        message=f'a key this stack does not create ("{FOREIGN_KEY}")',
    ),
    violates(
        "kms-customer-managed-keys",
        "key of this stack without rotation",
        key(),
        encrypted(LOG_GROUP, "logs", "kmsKeyId", UNKNOWN, "key"),
        at="logs",
        message="LogGroup 'logs' kmsKeyId uses Key 'key', which does not rotate",
    ),
    violates(
        "kms-customer-managed-keys",
        "alias of a key of this stack without rotation",
        key(enableKeyRotation=False),
        Res(
            ALIAS, "alias", {"name": "alias/data", "targetKeyId": UNKNOWN}, {"targetKeyId": ["key"]}
        ),
        encrypted(SECRET, "secret", "kmsKeyId", UNKNOWN, "alias"),
        at="secret",
        message="uses Key 'key', which does not rotate",
    ),
    violates(
        "kms-customer-managed-keys",
        "EKS secrets encrypted with a foreign key",
        encrypted(
            EKS,
            "eks",
            "encryptionConfig",
            {"provider": {"keyArn": FOREIGN_KEY}, "resources": ["secrets"]},
        ),
        at="eks",
        message="Cluster 'eks' encryptionConfig is a key this stack does not create",
    ),
    violates(
        "kms-customer-managed-keys",
        "ECR repository with a foreign key",
        encrypted(
            ECR,
            "repo",
            "encryptionConfigurations",
            [{"encryptionType": "KMS", "kmsKey": FOREIGN_KEY}],
        ),
        at="repo",
        message="a key this stack does not create",
    ),
    passes(
        "kms-customer-managed-keys",
        "rotating key of this stack, ARN unknown until created",
        key(enableKeyRotation=True),
        encrypted(LOG_GROUP, "logs", "kmsKeyId", UNKNOWN, "key"),
    ),
    passes(
        "kms-customer-managed-keys",
        "rotating key of this stack through an alias",
        key(enableKeyRotation=True),
        Res(
            ALIAS, "alias", {"name": "alias/data", "targetKeyId": UNKNOWN}, {"targetKeyId": ["key"]}
        ),
        encrypted(SECRET, "secret", "kmsKeyId", UNKNOWN, "alias"),
    ),
    passes(
        "kms-customer-managed-keys",
        "EKS and ECR on a rotating key of this stack",
        key(enableKeyRotation=True),
        encrypted(
            EKS,
            "eks",
            "encryptionConfig",
            {"provider": {"keyArn": UNKNOWN}, "resources": ["secrets"]},
            "key",
        ),
        encrypted(
            ECR,
            "repo",
            "encryptionConfigurations",
            [{"encryptionType": "KMS", "kmsKey": UNKNOWN}],
            "key",
        ),
    ),
    passes(
        "kms-customer-managed-keys",
        "no key set is the service rule's question",
        Res(RDS, "db", {"engine": "aurora-postgresql", "storageEncrypted": True}),
        Res(LOG_GROUP, "logs", {"retentionInDays": 365}),
        Res(SECRET, "secret", {"kmsKeyId": ""}),
    ),
    passes(
        "kms-customer-managed-keys",
        "ECR with AES256 and no key is the service rule's question",
        Res(ECR, "repo", {"encryptionConfigurations": [{"encryptionType": "AES256"}]}),
    ),
    passes(
        "kms-customer-managed-keys",
        "ECR on the default aws/ecr key is the service rule's question",
        Res(ECR, "repo", {"encryptionConfigurations": [{"encryptionType": "KMS"}]}),
    ),
    undecided(
        "kms-customer-managed-keys",
        "rotation of the key of this stack unknown",
        key(enableKeyRotation=UNKNOWN),
        encrypted(LOG_GROUP, "logs", "kmsKeyId", UNKNOWN, "key"),
    ),
]
