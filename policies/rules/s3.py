"""S3 buckets, configured (as in pulumi-aws 7) by companion resources that name the bucket:
public access blocked, TLS only, no ACLs, a lifecycle and versioning."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.framework.iam import open_to_anyone, statements
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Pack, ResourceRule, StackRule, stack_rule
from policies.framework.values import get, is_unknown, json_document, truthy, unknown

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BLOCKS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")

# Why a bucket's companion resources fall short, or None when one of them is right.
Judge = Callable[[list[Resource]], str | None]


def _bucket_rule(
    companion: str, judge: Judge, pack: Pack = Pack.SECURITY, **metadata: Any
) -> StackRule:
    """A rule that judges, for every bucket, the companion resources of one type naming it."""

    def evaluate(bucket: Resource, stack: StackView, settings: Mapping[str, Any]) -> Iterator[str]:
        problem = judge(list(stack.referring_to(bucket, "bucket", companion)))
        if problem:
            yield f"{bucket.label} {problem}"

    return stack_rule(
        over=(BUCKET,), resource_types=(BUCKET, companion), pack=pack, judge=evaluate, **metadata
    )


def _known(resource: Resource, path: str) -> Any:
    value = resource.get(path)
    if is_unknown(value):
        raise unknown(value, path)
    return value


def _public_access(blocks: list[Resource]) -> str | None:
    if not blocks:
        # New buckets start blocked since April 2023, but nothing in the program keeps them
        # so: a console change would go unseen.
        return (
            "has no BucketPublicAccessBlock pinning public access off; expected one with all "
            "four blocks on"
        )
    off = [key for key in BLOCKS if not any(truthy(_known(b, key)) for b in blocks)]
    return f"leaves {', '.join(off)} off; expected true" if off else None


public_access_blocked = _bucket_rule(
    PUBLIC_ACCESS_BLOCK,
    _public_access,
    name="s3-public-access-blocked",
    description="Buckets block every form of public access, whatever policies or ACLs say.",
    remediation="Add an aws.s3.BucketPublicAccessBlock for the bucket with blockPublicAcls, "
    "blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets true.",
    severity=Severity.CRITICAL,
    compliance=Compliance(cis=("2.1.4",), fsbp=("S3.8",), checkov=("CKV2_AWS_6",)),
)


def _denies_plain_http(policies: list[Resource]) -> str | None:
    for policy in policies:
        for statement in statements(json_document(policy.get("policy"), "policy")):
            secure = statement.condition_values(":SecureTransport").get("Bool", [])
            # A JSON false is as good as "false"; a deny of some actions leaves the rest open.
            plain_http = "false" in (str(v).lower() for v in secure)
            # The deny must reach the objects, not only the bucket.
            objects = any(r == "*" or r.endswith("/*") for r in statement.resources)
            if (
                statement.any_principal
                and not statement.allow
                and statement.grants("s3:*")
                and plain_http
                and objects
            ):
                return None
    return (
        "has no bucket policy denying requests without TLS (aws:SecureTransport false) to "
        "the bucket and its objects"
    )


tls_only = _bucket_rule(
    BUCKET_POLICY,
    _denies_plain_http,
    name="s3-tls-only",
    description="Buckets refuse requests that do not use TLS.",
    remediation="Add a Deny statement for principal *, action s3:*, on the bucket and its "
    "objects, with Condition Bool aws:SecureTransport false.",
    severity=Severity.MEDIUM,
    compliance=Compliance(cis=("2.1.1",), fsbp=("S3.5",)),
)


def _no_acls(controls: list[Resource]) -> str | None:
    owners = [_known(c, "rule.objectOwnership") for c in controls]
    if "BucketOwnerEnforced" in owners:
        return None
    # BucketOwnerEnforced is the default for new buckets since April 2023; the program pins it.
    return (
        "does not pin ACLs off; expected BucketOwnershipControls with objectOwnership "
        "BucketOwnerEnforced"
    )


no_acls = _bucket_rule(
    OWNERSHIP,
    _no_acls,
    name="s3-no-acls",
    description="Buckets ignore ACLs: the bucket owner owns every object and only policies "
    "grant access.",
    remediation="Add aws.s3.BucketOwnershipControls with rule.objectOwnership BucketOwnerEnforced.",
    severity=Severity.MEDIUM,
    compliance=Compliance(fsbp=("S3.12",), checkov=("CKV2_AWS_65",)),
)


def _lifecycle(configurations: list[Resource]) -> str | None:
    pending = None  # a status unknown during preview: it may turn out Enabled
    for configuration in configurations:
        rules = _known(configuration, "rules") or []
        statuses = [get(r, "status") for r in rules if isinstance(r, Mapping) or is_unknown(r)]
        if "Enabled" in statuses:
            return None
        pending = next((s for s in statuses if is_unknown(s)), pending)
    if pending is not None:
        raise unknown(pending, "rules[*].status")
    return "has no enabled lifecycle rule; expected objects to expire (or move) on a schedule"


lifecycle = _bucket_rule(
    LIFECYCLE,
    _lifecycle,
    name="s3-lifecycle",
    description="Buckets expire or move their objects on a schedule instead of growing forever.",
    remediation="Add an aws.s3.BucketLifecycleConfiguration with an enabled rule (for logs: "
    "expiration after the stack's log retention).",
    severity=Severity.LOW,
    pack=Pack.QUALITY,
    compliance=Compliance(fsbp=("S3.13",), checkov=("CKV2_AWS_61",)),
)


def _versioning(configurations: list[Resource]) -> str | None:
    states = [_known(c, "versioningConfiguration.status") for c in configurations]
    return None if "Enabled" in states else "is not versioned; expected status Enabled"


versioning = _bucket_rule(
    VERSIONING,
    _versioning,
    name="s3-versioning",
    description="Buckets keep earlier versions of objects, so a deletion or an overwrite can "
    "be undone.",
    remediation="Add aws.s3.BucketVersioning with versioningConfiguration.status Enabled (and "
    "a lifecycle rule expiring noncurrent versions).",
    severity=Severity.LOW,
    pack=Pack.QUALITY,
    compliance=Compliance(fsbp=("S3.14",), checkov=("CKV_AWS_21",)),
)


def _policy_not_public(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    document = json_document(resource.get("policy"), "policy")
    for problem in open_to_anyone(statements(document), "s3:*"):
        yield f"policy {problem}"


policy_not_public = ResourceRule(
    name="s3-policy-not-public",
    description="No bucket policy grants access to any principal without conditions.",
    remediation="Name the principals (accounts, roles, service principals with "
    "aws:SourceAccount); serve public content through CloudFront with origin access control.",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    resource_types=(BUCKET_POLICY,),
    compliance=Compliance(fsbp=("S3.2", "S3.3")),
    evaluate=_policy_not_public,
)

RULES = (public_access_blocked, tls_only, no_acls, lifecycle, versioning, policy_not_public)
