"""Rules over the stack as a whole: ownership tags on everything AWS bills, and Pulumi's
``protect`` on everything that holds data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from platform_common.aws_types import takes_tag_map
from policies.framework import kubernetes as k8s
from policies.framework import params
from policies.framework.resources import Resource, StackView, each
from policies.framework.rule import Finding, Pack, StackRule
from policies.framework.values import MISSING, is_unknown, unknown
from policies.rules.alb import PREFIX, alb_annotations

TAG_KEY = {"type": "string", "minLength": 1, "maxLength": 128}


def _missing_tags(tags: Any, required: list[str], path: str) -> list[str]:
    if is_unknown(tags):
        raise unknown(tags, path)
    present = tags if isinstance(tags, Mapping) else {}
    return [key for key in required if not present.get(key)]


def _alb_tags(annotations: Mapping[str, Any]) -> dict[str, str]:
    text = annotations.get(PREFIX + "tags") or ""
    if is_unknown(text):
        raise unknown(text, f"metadata.annotations.{PREFIX}tags")
    pairs = (item.split("=", 1) for item in str(text).split(",") if "=" in item)
    return {k.strip(): v.strip() for k, v in pairs}


def _required_tags(stack: StackView, settings: Mapping[str, Any]) -> Iterator[Finding]:
    required = list(settings["tags"])

    def judge(resource: Resource) -> Iterator[Finding]:
        if resource.type == k8s.INGRESS:
            # The ALB is an AWS resource too, tagged through its Ingress.
            annotations = alb_annotations(resource.props)
            if annotations is not None:
                missing = _missing_tags(_alb_tags(annotations), required, "tags")
                if missing:
                    yield Finding(
                        f"the load balancer of {resource.label} lacks tag(s) "
                        f"{', '.join(missing)} (annotation {PREFIX}tags)",
                        resource.urn,
                    )
        elif resource.type.startswith("aws:") and takes_tag_map(resource.type):
            missing = _missing_tags(resource.get("tags", {}), required, "tags")
            # The provider's defaultTags land in tagsAll (an output), not in tags.
            tags_all = resource.get("tagsAll")
            if missing and tags_all is not MISSING:
                missing = _missing_tags(tags_all, missing, "tagsAll")
            if missing:
                yield Finding(f"{resource.label} lacks tag(s) {', '.join(missing)}", resource.urn)

    return each(stack.resources, judge)


required_tags = StackRule(
    name="required-tags",
    description="Every taggable AWS resource (and the load balancer the controller builds) "
    "carries the ownership and cost-allocation tags.",
    remediation="Tags come from one stack transform (infra/tagging.py): make sure the "
    "resource takes a tags map and is not created outside the transform; for the ALB, set "
    "alb.ingress.kubernetes.io/tags.",
    severity=Severity.MEDIUM,
    pack=Pack.QUALITY,
    resource_types=("aws:*", k8s.INGRESS),
    params=(
        params.string_list(
            "tags",
            "tag keys every taggable AWS resource must carry with a non-empty value",
            default=["owner", "cost-center", "environment"],
            item=TAG_KEY,
            min_items=1,
        ),
    ),
    evaluate=_required_tags,
)

STATEFUL_TYPES = [
    "aws:rds/cluster:Cluster",
    "aws:rds/clusterInstance:ClusterInstance",
    "aws:rds/instance:Instance",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:eks/cluster:Cluster",
    "aws:kms/key:Key",
    "aws:secretsmanager/secret:Secret",
    "aws:ecr/repository:Repository",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:s3/bucket:Bucket",
    "aws:ec2/vpc:Vpc",
]


def _protected(stack: StackView, settings: Mapping[str, Any]) -> Iterator[Finding]:
    for resource in stack.of_type(*settings["statefulTypes"]):
        if not resource.protect:
            yield Finding(
                f"{resource.label} holds state but is not protected; a refactor or a "
                "mistaken `pulumi destroy` would delete it",
                resource.urn,
            )


protect_stateful = StackRule(
    name="protect-stateful-resources",
    description="Resources that hold data or keys carry Pulumi's protect option, so the "
    "engine refuses to delete them.",
    remediation="Set platform:protectResources: true (components pass protect to their "
    "stateful children); unprotect deliberately with `pulumi state unprotect`.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=tuple(STATEFUL_TYPES),
    params=(
        params.string_list(
            "statefulTypes",
            "resource types that must be protected",
            default=STATEFUL_TYPES,
            min_items=1,
        ),
    ),
    evaluate=_protected,
)

RULES = (required_tags, protect_stateful)
