"""ECR: immutable tags (a tag always means the same image), scans, encryption."""

from __future__ import annotations

from pulumi_policy import Severity

from policies.framework.checks import Check, Equals, OneOf, Present, property_rule
from policies.framework.rule import Compliance, Pack

REPOSITORY = "aws:ecr/repository:Repository"

immutable_tags = property_rule(
    name="ecr-immutable-tags",
    description="Image tags cannot be overwritten, so a release always deploys the image "
    "that was tested.",
    remediation="Set imageTagMutability: IMMUTABLE.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(REPOSITORY,),
    compliance=Compliance(fsbp=("ECR.2",), checkov=("CKV_AWS_51",)),
    # IMMUTABLE_WITH_EXCLUSION lets the excluded tags move, which is what this rule forbids.
    checks=(Check("imageTagMutability", OneOf(("IMMUTABLE",), absent="MUTABLE")),),
)

scan_on_push = property_rule(
    name="ecr-scan-on-push",
    description="Images are scanned for known vulnerabilities when pushed.",
    remediation="Set imageScanningConfiguration.scanOnPush: true.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(REPOSITORY,),
    compliance=Compliance(fsbp=("ECR.1",), checkov=("CKV_AWS_163",)),
    checks=(Check("imageScanningConfiguration.scanOnPush", Equals(True, absent=False)),),
)

repository_encrypted = property_rule(
    name="ecr-kms-encrypted",
    description="Images are encrypted with a customer-managed KMS key.",
    remediation="Set encryptionConfigurations to [{encryptionType: KMS, kmsKey: <registry key "
    "ARN>}] (a new repository: encryption cannot change later).",
    severity=Severity.LOW,
    pack=Pack.SECURITY,
    resource_types=(REPOSITORY,),
    compliance=Compliance(checkov=("CKV_AWS_136",)),
    checks=(
        Check("encryptionConfigurations[0].encryptionType", Equals("KMS", absent="AES256")),
        Check("encryptionConfigurations[0].kmsKey", Present("a customer-managed KMS key ARN")),
    ),
)

RULES = (immutable_tags, scan_on_push, repository_encrypted)
