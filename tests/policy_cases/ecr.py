"""Cases for policies/rules/ecr.py."""

from __future__ import annotations

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

REPOSITORY = "aws:ecr/repository:Repository"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def repository(**props: object) -> Res:
    return Res(REPOSITORY, "repo", {"name": "platform/app", **props})


def kms(key: object = KEY, encryption_type: object = "KMS") -> list[dict[str, object]]:
    return [{"encryptionType": encryption_type, "kmsKey": key}]


CASES = [
    violates(
        "ecr-immutable-tags",
        "mutable by default",
        repository(),
        message='imageTagMutability is not set; expected one of "IMMUTABLE"',
    ),
    violates(
        "ecr-immutable-tags",
        "explicitly mutable",
        repository(imageTagMutability="MUTABLE"),
        message='imageTagMutability is "MUTABLE"',
    ),
    violates(
        "ecr-immutable-tags",
        "immutable with exclusions lets the excluded tags move",
        repository(
            imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters=[{"filter": "latest", "filterType": "WILDCARD"}],
        ),
        message='imageTagMutability is "IMMUTABLE_WITH_EXCLUSION"',
    ),
    violates(
        "ecr-immutable-tags",
        "mutable with exclusions",
        repository(
            imageTagMutability="MUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters=[{"filter": "release-*", "filterType": "WILDCARD"}],
        ),
        message='imageTagMutability is "MUTABLE_WITH_EXCLUSION"',
    ),
    passes("ecr-immutable-tags", "immutable", repository(imageTagMutability="IMMUTABLE")),
    undecided("ecr-immutable-tags", "mutability unknown", repository(imageTagMutability=UNKNOWN)),
    violates(
        "ecr-scan-on-push",
        "no scanning configuration",
        repository(),
        message="imageScanningConfiguration.scanOnPush is not set; expected true",
    ),
    violates(
        "ecr-scan-on-push",
        "scan on push off",
        repository(imageScanningConfiguration={"scanOnPush": False}),
        message="imageScanningConfiguration.scanOnPush is false; expected true",
    ),
    passes(
        "ecr-scan-on-push",
        "scan on push on",
        repository(imageScanningConfiguration={"scanOnPush": True}),
    ),
    undecided(
        "ecr-scan-on-push",
        "flag unknown",
        repository(imageScanningConfiguration={"scanOnPush": UNKNOWN}),
    ),
    undecided(
        "ecr-scan-on-push",
        "whole configuration unknown",
        repository(imageScanningConfiguration=UNKNOWN),
    ),
    violates(
        "ecr-kms-encrypted",
        "AES256 by default",
        repository(),
        message='encryptionConfigurations[0].encryptionType is not set; expected "KMS"',
    ),
    violates(
        "ecr-kms-encrypted",
        "AES256 named",
        repository(encryptionConfigurations=[{"encryptionType": "AES256"}]),
        message='encryptionConfigurations[0].encryptionType is "AES256"; expected "KMS"',
    ),
    violates(
        "ecr-kms-encrypted",
        "KMS with the AWS-managed aws/ecr key",
        repository(encryptionConfigurations=[{"encryptionType": "KMS"}]),
        message="encryptionConfigurations[0].kmsKey is not set; "
        "expected a customer-managed KMS key ARN",
    ),
    passes(
        "ecr-kms-encrypted",
        "KMS with a customer-managed key",
        repository(encryptionConfigurations=kms()),
    ),
    passes(
        "ecr-kms-encrypted",
        "key ARN unknown until the key exists",
        repository(encryptionConfigurations=kms(UNKNOWN)),
    ),
    undecided(
        "ecr-kms-encrypted",
        "encryption type unknown",
        repository(encryptionConfigurations=kms(encryption_type=UNKNOWN)),
    ),
    undecided(
        "ecr-kms-encrypted",
        "whole encryption configuration unknown",
        repository(encryptionConfigurations=UNKNOWN),
    ),
]
