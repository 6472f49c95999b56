"""KMS: rotation, key policies that name their principals, and data encrypted with keys this
stack owns (not AWS-managed keys, not keys from elsewhere)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.framework.checks import Check, Equals
from policies.framework.iam import open_to_anyone, statements
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Pack, ResourceRule, stack_rule
from policies.framework.values import MISSING, is_unknown, json_document, show, truthy, unknown

KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
ALIAS = "aws:kms/alias:Alias"

_ROTATION = Check("enableKeyRotation", Equals(True, absent=False))


def _key_rotation(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    # Asymmetric and HMAC keys cannot rotate: the rule is for symmetric keys.
    spec = resource.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT")
    if spec != "SYMMETRIC_DEFAULT" and not is_unknown(spec):
        return
    findings = list(_ROTATION.findings(resource, settings))
    if findings and is_unknown(spec):
        # A key that does not rotate is fine if it turns out asymmetric: the spec decides.
        raise unknown(spec, "customerMasterKeySpec")
    yield from findings


key_rotation = ResourceRule(
    name="kms-key-rotation",
    description="Customer-managed symmetric keys rotate their key material every year.",
    remediation="Set enableKeyRotation: true.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(KEY,),
    compliance=Compliance(
        cis=("3.6",), checkov=("CKV_AWS_7",), awsguard=("cmk-backing-key-rotation-enabled",)
    ),
    evaluate=_key_rotation,
)


def _wildcard_principal(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    document = resource.get("policy")
    if document is MISSING:
        return  # the default key policy trusts only this account
    for problem in open_to_anyone(statements(json_document(document, "policy")), "kms:*"):
        yield f"{problem} (the account, roles or services)"


no_wildcard_principal = ResourceRule(
    name="kms-no-wildcard-principal",
    description='No key policy lets any principal use the key: no "*" principal without '
    'conditions, and never kms:* to "*".',
    remediation="Name the account root, roles or service principals; scope service access "
    "with conditions such as kms:EncryptionContext or aws:SourceAccount.",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    resource_types=(KEY, KEY_POLICY),
    compliance=Compliance(fsbp=("KMS.5",), checkov=("CKV_AWS_33",)),
    evaluate=_wildcard_principal,
)

# Where each service keeps the key that encrypts its data: type -> input keys.
ENCRYPTED_BY = {
    "aws:eks/cluster:Cluster": ("encryptionConfig",),
    "aws:rds/cluster:Cluster": ("kmsKeyId", "masterUserSecretKmsKeyId"),
    "aws:rds/instance:Instance": ("kmsKeyId", "performanceInsightsKmsKeyId"),
    "aws:rds/clusterInstance:ClusterInstance": ("performanceInsightsKmsKeyId",),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("kmsKeyId",),
    "aws:cloudwatch/logGroup:LogGroup": ("kmsKeyId",),
    "aws:secretsmanager/secret:Secret": ("kmsKeyId",),
    "aws:ecr/repository:Repository": ("encryptionConfigurations",),
    "aws:amp/workspace:Workspace": ("kmsKeyArn",),
    "aws:sns/topic:Topic": ("kmsMasterKeyId",),
}
# Inputs that are blocks: where the key ARN sits in them. A block without one names no key
# (ECR's AES256, or KMS with the AWS-managed aws/ecr key), as an absent kmsKeyId does.
KEY_IN_BLOCK = {
    "encryptionConfig": "encryptionConfig.provider.keyArn",
    "encryptionConfigurations": "encryptionConfigurations[0].kmsKey",
}


def _keys_behind(resource: Resource, key: str) -> list[Resource]:
    keys = resource.sources(key, KEY)
    for alias in resource.sources(key, ALIAS):
        keys += alias.sources("targetKeyId", KEY)
    return keys


def _customer_managed(
    resource: Resource, stack: StackView, settings: Mapping[str, Any]
) -> Iterator[str]:
    for key in ENCRYPTED_BY[resource.type]:
        value = resource.get(KEY_IN_BLOCK.get(key, key))
        if value is MISSING or value in ("", [], {}):
            continue  # whether a key is required is the service rule's question
        keys = _keys_behind(resource, key)
        if not keys:
            aws_managed = "alias/aws/" in str(value)
            yield (
                f"{resource.label} {key} is "
                + (
                    "an AWS-managed key"
                    if aws_managed
                    else f"a key this stack does not create ({show(key, value)})"
                )
                + "; expected a customer-managed key of this stack"
            )
        for kms_key in keys:
            rotation = kms_key.get("enableKeyRotation", False)
            if is_unknown(rotation):
                raise unknown(rotation, "enableKeyRotation")
            if not truthy(rotation):
                yield (
                    f"{resource.label} {key} uses {kms_key.label}, which does not rotate; "
                    "expected enableKeyRotation"
                )


customer_managed_keys = stack_rule(
    over=tuple(ENCRYPTED_BY),
    name="kms-customer-managed-keys",
    description="EKS secrets, databases, caches, logs, secrets, images, metrics and alerts are "
    "encrypted with rotating customer-managed keys of this stack.",
    remediation="Pass the ARN of the stack's EncryptionKeys output for the purpose (database, "
    "cache, logs, registry, eks, observability) instead of an AWS-managed or foreign key.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(KEY, ALIAS, *ENCRYPTED_BY),
    compliance=Compliance(
        checkov=("CKV_AWS_327", "CKV_AWS_191", "CKV_AWS_354", "CKV_AWS_149", "CKV_AWS_158")
    ),
    judge=_customer_managed,
)

RULES = (key_rotation, no_wildcard_principal, customer_managed_keys)
