"""The ALB's access-log bucket: where ELB may write, what nobody may do, how long logs stay."""

from __future__ import annotations

import json

import pytest

from components.access_logs import AccessLogsArgs, delivery_policy
from offline_preview.engine import PreviewResult
from platform_common.pulumi_values import reveal
from tests.conftest import STACKS, preview, stack_setting

ATTRIBUTES = "alb.ingress.kubernetes.io/load-balancer-attributes"


def companion(result: PreviewResult, suffix: str) -> dict:
    [resource] = [
        r for r in result.within("platform:components:AccessLogs") if r.name.endswith(suffix)
    ]
    return reveal(resource.inputs)


@pytest.mark.parametrize("stack", STACKS)
def test_bucket_is_named_for_the_stack_and_account_and_protected_only_where_the_stack_is(stack):
    result = preview(stack)
    bucket = result.named("access-logs-bucket")
    protected = stack_setting(stack, "platform:protectResources")
    assert bucket.inputs["bucket"] == f"platform-{stack}-alb-logs-123456789012"
    assert bucket.options["protect"] is protected
    assert bucket.inputs["forceDestroy"] is (not protected)


def test_bucket_blocks_public_access_ignores_acls_and_uses_s3_managed_encryption():
    result = preview("prod")
    block = companion(result, "-public-access")
    assert all(
        block[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    assert companion(result, "-ownership")["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    [rule] = companion(result, "-encryption")["rules"]
    # ALB access logs accept only SSE-S3.
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert companion(result, "-versioning")["versioningConfiguration"] == {"status": "Enabled"}


@pytest.mark.parametrize("stack,days", [("dev", 7), ("staging", 90), ("prod", 365)])
def test_logs_expire_with_the_stack_log_retention(stack, days):
    [rule] = [r for r in companion(preview(stack), "-lifecycle")["rules"] if "expiration" in r]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": "alb/"}
    assert rule["expiration"] == {"days": days}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    lifecycle = preview(stack).named("access-logs-lifecycle")
    assert preview(stack).named("access-logs-versioning").urn in lifecycle.options["dependsOn"]


def test_only_elb_of_the_region_may_write_and_only_under_the_prefix_and_only_over_tls():
    policy = json.loads(companion(preview("prod"), "-policy")["policy"])
    write, deny = policy["Statement"]
    bucket = "arn:aws:s3:::platform-prod-alb-logs-123456789012"
    assert write["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}  # us-east-1's ELB
    assert write["Action"] == "s3:PutObject"
    assert write["Resource"] == f"{bucket}/alb/AWSLogs/123456789012/*"
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [bucket, f"{bucket}/*"]


def test_regions_newer_than_august_2022_write_through_the_log_delivery_service():
    args = AccessLogsArgs("p-s", "me-central-1", "aws", "123456789012", 30, False)
    write = json.loads(delivery_policy("arn:aws:s3:::b", args))["Statement"][0]
    assert write["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_ingress_of_the_alb_group_writes_access_logs_to_the_bucket(stack):
    result = preview(stack)
    ingresses = result.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    # One ALB serves the group: every Ingress describes it the same way, but for the deletion
    # protection only the group's anchor carries.
    attributes = {
        ",".join(
            item
            for item in i.inputs["metadata"]["annotations"][ATTRIBUTES].split(",")
            if not item.startswith("deletion_protection.")
        )
        for i in ingresses
    }
    [value] = attributes
    pairs = dict(item.split("=", 1) for item in value.split(","))
    assert pairs["access_logs.s3.enabled"] == "true"
    assert pairs["access_logs.s3.bucket"] == f"platform-{stack}-alb-logs-123456789012"
    assert pairs["access_logs.s3.prefix"] == "alb"
    assert result.outputs["accessLogBucket"] == pairs["access_logs.s3.bucket"]


def test_ingresses_wait_for_the_bucket_policy_that_lets_elb_write():
    result = preview("prod")
    policy = result.named("access-logs-policy")
    for ingress in result.of_type("kubernetes:networking.k8s.io/v1:Ingress"):
        assert policy.urn in ingress.property_dependencies["metadata"], ingress.name
