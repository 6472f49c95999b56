"""The S3 bucket the app's load balancer writes its access logs to.

Elastic Load Balancing writes ALB access logs only to a bucket in the load balancer's region,
encrypted with S3-managed keys (SSE-S3; KMS keys are not supported for ALB logs), with a
bucket policy that lets the region's ELB log delivery write under the prefix. Logs expire
with the stack's log retention; versioning keeps a deleted or overwritten log recoverable
for a while, since access logs are audit evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

LOG_PREFIX = "alb"
# Days a deleted or replaced log version stays recoverable.
NONCURRENT_DAYS = 30

# Regions where ELB writes access logs as one of its own accounts; every other region uses
# the log delivery service principal. From the ELB user guide, "Enable access logs for your
# Application Load Balancer".
ELB_ACCOUNT_BY_REGION = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-south-1": "718504428378",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
    "ap-southeast-3": "589379963580",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
}
LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


@dataclass(frozen=True)
class AccessLogsArgs:
    name_prefix: str
    region: str
    partition: str
    account_id: str
    retention_days: int
    protect: bool


class AccessLogs(pulumi.ComponentResource):
    """``bucket_name`` and ``prefix`` go into the Ingress's load-balancer-attributes."""

    bucket_name: pulumi.Output[str]
    prefix: str

    def __init__(self, name: str, args: AccessLogsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:components:AccessLogs", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=f"{args.name_prefix}-alb-logs-{args.account_id}",
            # Unprotected stacks may be torn down with their logs.
            force_destroy=not args.protect,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},  # no ACLs at all
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-access-logs",
                    "status": "Enabled",
                    "filter": {"prefix": f"{LOG_PREFIX}/"},
                    "expiration": {"days": args.retention_days},
                    "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_DAYS},
                },
                {
                    # The whole bucket, not only the log prefix: an upload left unfinished
                    # anywhere is billed until aborted (Checkov CKV_AWS_300 asks the same).
                    "id": "abort-incomplete-uploads",
                    "status": "Enabled",
                    "filter": {},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                },
            ],
            # S3 refuses lifecycle rules on versions before versioning is set up.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: delivery_policy(arn, args)),
            opts=child,
        )
        # Consumers wait for the policy too: the controller turns logging on as soon as it
        # sees the bucket, and ELB refuses a bucket it may not write to yet.
        self.bucket_name = pulumi.Output.all(bucket.bucket, policy.id).apply(lambda v: v[0])
        self.prefix = LOG_PREFIX
        self.register_outputs({"bucketName": self.bucket_name, "prefix": self.prefix})


def delivery_policy(bucket_arn: str, args: AccessLogsArgs) -> str:
    """ELB of this region may write under the prefix for this account; nobody may use the
    bucket without TLS."""
    elb_account = ELB_ACCOUNT_BY_REGION.get(args.region)
    principal = (
        {"AWS": f"arn:{args.partition}:iam::{elb_account}:root"}
        if elb_account
        else {"Service": LOG_DELIVERY_SERVICE}
    )
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ElbAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "s3:PutObject",
                    "Resource": f"{bucket_arn}/{LOG_PREFIX}/AWSLogs/{args.account_id}/*",
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )
