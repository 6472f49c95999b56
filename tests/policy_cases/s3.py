"""Cases for policies/rules/s3.py."""

from __future__ import annotations

import json

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ARN = "arn:aws:s3:::platform-logs"
BLOCKS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def bucket(name: str = "logs") -> Res:
    return Res(BUCKET, name, {"bucketPrefix": f"platform-{name}-", "forceDestroy": False})


def companion(type_: str, name: str, props: dict[str, object], of: str = "logs") -> Res:
    """A resource configuring bucket ``of``: its bucket input comes from that bucket."""
    return Res(type_, name, {"bucket": UNKNOWN, **props}, {"bucket": [of]})


def access_block(of: str = "logs", **overrides: object) -> Res:
    return companion(PUBLIC_ACCESS_BLOCK, f"{of}-pab", {k: True for k in BLOCKS} | overrides, of)


def document(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def deny_plain_http(secure: object = "false", principal: object = "*", **extra: object) -> dict:
    return {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": principal,
        "Action": "s3:*",
        "Resource": [ARN, f"{ARN}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": secure}},
        **extra,
    }


ELB_WRITES: dict[str, object] = {
    "Sid": "ElbWrites",
    "Effect": "Allow",
    "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
    "Action": "s3:PutObject",
    "Resource": f"{ARN}/alb/*",
}


def allow_anyone(action: object = "s3:GetObject", principal: object = "*", **extra: object):
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": f"{ARN}/*",
        **extra,
    }


def bucket_policy(*statements: dict[str, object], of: str = "logs") -> Res:
    return companion(BUCKET_POLICY, f"{of}-policy", {"policy": document(*statements)}, of)


def ownership(value: object, of: str = "logs") -> Res:
    return companion(OWNERSHIP, f"{of}-ownership", {"rule": {"objectOwnership": value}}, of)


def lifecycle(*statuses: object, of: str = "logs") -> Res:
    rules = [
        {"id": f"expire-{i}", "status": status, "expiration": {"days": 365}, "filter": {}}
        for i, status in enumerate(statuses)
    ]
    return companion(LIFECYCLE, f"{of}-lifecycle", {"rules": rules}, of)


def versioning(status: object, of: str = "logs") -> Res:
    return companion(
        VERSIONING, f"{of}-versioning", {"versioningConfiguration": {"status": status}}, of
    )


CASES = [
    violates(
        "s3-public-access-blocked",
        "bucket without a public access block",
        bucket(),
        at="logs",
        message="Bucket 'logs' has no BucketPublicAccessBlock",
    ),
    violates(
        "s3-public-access-blocked",
        "one block left off",
        bucket(),
        access_block(restrictPublicBuckets=False),
        at="logs",
        message="leaves restrictPublicBuckets off; expected true",
    ),
    violates(
        "s3-public-access-blocked",
        "blocks not set are off",
        bucket(),
        companion(PUBLIC_ACCESS_BLOCK, "logs-pab", {"blockPublicAcls": True}),
        at="logs",
        message="leaves blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets off",
    ),
    violates(
        "s3-public-access-blocked",
        "the block belongs to another bucket",
        bucket("logs"),
        bucket("assets"),
        access_block("assets"),
        at="logs",
        message="Bucket 'logs' has no BucketPublicAccessBlock",
    ),
    violates(
        "s3-public-access-blocked",
        "a block naming the bucket by hand is not linked to it",
        bucket(),
        Res(
            PUBLIC_ACCESS_BLOCK,
            "logs-pab",
            {"bucket": "platform-logs"} | dict.fromkeys(BLOCKS, True),
        ),
        at="logs",
        message="has no BucketPublicAccessBlock",
    ),
    passes("s3-public-access-blocked", "all four blocks on", bucket(), access_block()),
    passes(
        "s3-public-access-blocked",
        "two buckets, each with its own block",
        bucket("logs"),
        bucket("assets"),
        access_block("logs"),
        access_block("assets"),
    ),
    undecided(
        "s3-public-access-blocked",
        "a block unknown",
        bucket(),
        access_block(blockPublicPolicy=UNKNOWN),
    ),
    # s3-tls-only
    violates(
        "s3-tls-only",
        "no bucket policy",
        bucket(),
        at="logs",
        message="Bucket 'logs' has no bucket policy denying requests without TLS",
    ),
    violates(
        "s3-tls-only",
        "a policy that only grants",
        bucket(),
        bucket_policy(ELB_WRITES),
        at="logs",
        message="has no bucket policy denying requests without TLS (aws:SecureTransport false)",
    ),
    violates(
        "s3-tls-only",
        "denies only requests that do use TLS",
        bucket(),
        bucket_policy(deny_plain_http(secure="true")),
        at="logs",
        message="has no bucket policy denying requests without TLS",
    ),
    violates(
        "s3-tls-only",
        "denies plain HTTP to one role only",
        bucket(),
        bucket_policy(deny_plain_http(principal={"AWS": "arn:aws:iam::123456789012:role/app"})),
        at="logs",
        message="has no bucket policy denying requests without TLS",
    ),
    violates(
        "s3-tls-only",
        "denies plain HTTP for one action only",
        bucket(),
        bucket_policy(deny_plain_http(Action="s3:GetObject")),
        at="logs",
        message="has no bucket policy denying requests without TLS",
    ),
    passes(
        "s3-tls-only", "denies plain HTTP to anyone", bucket(), bucket_policy(deny_plain_http())
    ),
    passes(
        "s3-tls-only",
        'denies plain HTTP to {"AWS": "*"}, alongside grants',
        bucket(),
        bucket_policy(ELB_WRITES, deny_plain_http(principal={"AWS": "*"})),
    ),
    violates(
        "s3-tls-only",
        "a deny on the bucket alone leaves its objects reachable over HTTP",
        bucket(),
        bucket_policy(deny_plain_http(Resource=ARN)),
        at="logs",
        message="denying requests without TLS (aws:SecureTransport false) to the bucket and its",
    ),
    passes(
        "s3-tls-only",
        "SecureTransport as a JSON boolean",
        bucket(),
        bucket_policy(deny_plain_http(secure=False)),
    ),
    passes(
        "s3-tls-only",
        'every action denied with "*"',
        bucket(),
        bucket_policy(deny_plain_http(Action="*")),
    ),
    undecided(
        "s3-tls-only",
        "policy unknown until the bucket's ARN is",
        bucket(),
        companion(BUCKET_POLICY, "logs-policy", {"policy": UNKNOWN}),
    ),
    # s3-no-acls
    violates(
        "s3-no-acls",
        "no ownership controls",
        bucket(),
        at="logs",
        message="Bucket 'logs' does not pin ACLs off; expected BucketOwnershipControls with "
        "objectOwnership BucketOwnerEnforced",
    ),
    violates(
        "s3-no-acls",
        "bucket owner preferred still honours ACLs",
        bucket(),
        ownership("BucketOwnerPreferred"),
        at="logs",
        message="does not pin ACLs off",
    ),
    passes("s3-no-acls", "bucket owner enforced", bucket(), ownership("BucketOwnerEnforced")),
    undecided("s3-no-acls", "ownership unknown", bucket(), ownership(UNKNOWN)),
    undecided(
        "s3-no-acls",
        "whole rule unknown",
        bucket(),
        companion(OWNERSHIP, "logs-ownership", {"rule": UNKNOWN}),
    ),
    # s3-lifecycle
    violates(
        "s3-lifecycle",
        "no lifecycle configuration",
        bucket(),
        at="logs",
        message="Bucket 'logs' has no enabled lifecycle rule",
    ),
    violates(
        "s3-lifecycle",
        "only disabled rules",
        bucket(),
        lifecycle("Disabled"),
        at="logs",
        message="has no enabled lifecycle rule; expected objects to expire",
    ),
    passes("s3-lifecycle", "an enabled rule", bucket(), lifecycle("Disabled", "Enabled")),
    undecided(
        "s3-lifecycle",
        "rules unknown",
        bucket(),
        companion(LIFECYCLE, "logs-lifecycle", {"rules": UNKNOWN}),
    ),
    undecided(
        "s3-lifecycle",
        "the status of the only rule unknown",
        bucket(),
        lifecycle(UNKNOWN),
    ),
    passes(
        "s3-lifecycle",
        "an enabled rule decides whatever the unknown one is",
        bucket(),
        lifecycle(UNKNOWN, "Enabled"),
    ),
    # s3-versioning
    violates(
        "s3-versioning",
        "no versioning resource",
        bucket(),
        at="logs",
        message="Bucket 'logs' is not versioned; expected status Enabled",
    ),
    violates(
        "s3-versioning",
        "versioning suspended",
        bucket(),
        versioning("Suspended"),
        at="logs",
        message="is not versioned",
    ),
    passes("s3-versioning", "versioning enabled", bucket(), versioning("Enabled")),
    undecided("s3-versioning", "status unknown", bucket(), versioning(UNKNOWN)),
    # s3-policy-not-public
    violates(
        "s3-policy-not-public",
        'GetObject to Principal "*"',
        bucket_policy(allow_anyone(Sid="Public")),
        message="policy statement 'Public' allows any principal (s3:GetObject) without "
        "conditions; expected named principals",
    ),
    violates(
        "s3-policy-not-public",
        'GetObject to {"AWS": "*"}',
        bucket_policy(ELB_WRITES, allow_anyone(principal={"AWS": "*"})),
        message="policy statement 1 allows any principal (s3:GetObject) without conditions",
    ),
    violates(
        "s3-policy-not-public",
        "s3:* to anyone even with conditions",
        bucket_policy(
            allow_anyone("s3:*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})
        ),
        message="allows any principal (s3:*) with conditions",
    ),
    passes("s3-policy-not-public", "service principal", bucket_policy(ELB_WRITES)),
    passes(
        "s3-policy-not-public",
        "anyone in the organisation, reading only",
        bucket_policy(allow_anyone(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})),
    ),
    passes(
        "s3-policy-not-public",
        "a Deny to anyone",
        bucket_policy(deny_plain_http()),
    ),
    undecided(
        "s3-policy-not-public",
        "policy unknown",
        companion(BUCKET_POLICY, "logs-policy", {"policy": UNKNOWN}),
    ),
]
