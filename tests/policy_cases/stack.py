"""Cases for policies/rules/stack.py."""

from __future__ import annotations

from typing import Any

from tests.policy_cases import passes, undecided, violates
from tests.policy_cases.alb import DROP, ingress
from tests.policy_harness import UNKNOWN, Res

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
BUCKET = "aws:s3/bucket:Bucket"
TOPIC = "aws:sns/topic:Topic"
CLUSTER = "aws:rds/cluster:Cluster"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
TAGS = {"owner": "platform", "cost-center": "1234", "environment": "prod"}


def vpc(tags: Any = None, **props: Any) -> Res:
    return Res(
        VPC, "vpc", {"cidrBlock": "10.0.0.0/16", "tags": TAGS if tags is None else tags, **props}
    )


def cluster(protect: bool, **props: Any) -> Res:
    props = {
        "engine": "aurora-postgresql",
        "storageEncrypted": True,
        "tags": TAGS,
        **props,
    }
    return Res(CLUSTER, "db", props, protect=protect)


CASES = [
    # -- required-tags
    violates(
        "required-tags",
        "VPC without cost-center",
        vpc({"owner": "platform", "environment": "prod"}),
        at="vpc",
        message="Vpc 'vpc' lacks tag(s) cost-center",
    ),
    passes(
        "required-tags",
        "tags from the provider's defaultTags, in tagsAll",
        vpc({}, tagsAll=TAGS),
    ),
    violates(
        "required-tags",
        "tagsAll lacking a tag too",
        vpc({}, tagsAll={"owner": "platform", "environment": "prod"}),
        message="lacks tag(s) cost-center",
    ),
    undecided(
        "required-tags",
        "a tag missing from tags while tagsAll is unknown",
        vpc({"owner": "platform"}, tagsAll=UNKNOWN),
    ),
    violates(
        "required-tags",
        "VPC without tags",
        vpc({}),
        at="vpc",
        message="lacks tag(s) owner, cost-center, environment",
    ),
    violates(
        "required-tags",
        "an empty value is no tag",
        vpc({**TAGS, "owner": ""}),
        at="vpc",
        message="lacks tag(s) owner",
    ),
    violates(
        "required-tags",
        "only the untagged resource is named",
        vpc(),
        Res(
            SUBNET, "private-a", {"cidrBlock": "10.0.0.0/20", "vpcId": "vpc-1"}, {"vpcId": ["vpc"]}
        ),
        at="private-a",
        message="Subnet 'private-a' lacks tag(s) owner, cost-center, environment",
    ),
    violates(
        "required-tags",
        "load balancer tags without owner",
        ingress({"tags": "cost-center=1234,environment=prod"}),
        at="web-ingress",
        message="the load balancer of Ingress 'web-ingress' lacks tag(s) owner "
        "(annotation alb.ingress.kubernetes.io/tags)",
    ),
    violates(
        "required-tags",
        "load balancer without a tags annotation",
        ingress({"tags": DROP}),
        at="web-ingress",
        message="lacks tag(s) owner, cost-center, environment (annotation",
    ),
    violates(
        "required-tags",
        "a configured tag key",
        vpc(),
        config={"tags": ["owner", "team"]},
        at="vpc",
        message="lacks tag(s) team",
    ),
    passes("required-tags", "VPC and load balancer fully tagged", vpc(), ingress()),
    passes(
        "required-tags",
        "tags with spaces around the annotation's pairs",
        ingress({"tags": " owner = platform , cost-center=1234, environment=prod"}),
    ),
    passes(
        "required-tags",
        "a type without a tags map",
        Res(ASSOCIATION, "private-a-rt", {"subnetId": "subnet-1", "routeTableId": "rtb-1"}),
    ),
    passes(
        "required-tags",
        "Kubernetes objects are not AWS resources",
        Res(CONFIG_MAP, "settings", {"apiVersion": "v1", "kind": "ConfigMap", "data": {}}),
    ),
    passes(
        "required-tags",
        "Ingress of another controller",
        ingress({"tags": DROP}, ingress_class="nginx"),
    ),
    passes(
        "required-tags",
        "a tag value unknown until the update is set",
        vpc({**TAGS, "owner": UNKNOWN}),
    ),
    undecided("required-tags", "VPC tags unknown", vpc(UNKNOWN)),
    undecided(
        "required-tags",
        "load balancer tags annotation unknown",
        ingress({"tags": UNKNOWN}),
    ),
    # -- protect-stateful-resources
    violates(
        "protect-stateful-resources",
        "database cluster not protected",
        cluster(protect=False),
        at="db",
        message="Cluster 'db' holds state but is not protected",
    ),
    violates(
        "protect-stateful-resources",
        "VPC not protected",
        vpc(),
        Res(VPC, "vpc-protected", {"cidrBlock": "10.1.0.0/16", "tags": TAGS}, protect=True),
        at="vpc",
        message="Vpc 'vpc' holds state but is not protected",
    ),
    violates(
        "protect-stateful-resources",
        "a type added through statefulTypes",
        Res(TOPIC, "alerts", {"tags": TAGS}),
        config={"statefulTypes": [TOPIC, CLUSTER]},
        at="alerts",
        message="Topic 'alerts' holds state but is not protected",
    ),
    passes("protect-stateful-resources", "database cluster protected", cluster(protect=True)),
    passes(
        "protect-stateful-resources",
        "a stateless resource needs no protection",
        Res(SUBNET, "private-a", {"cidrBlock": "10.0.0.0/20", "tags": TAGS}),
    ),
    passes(
        "protect-stateful-resources",
        "a type left out of statefulTypes",
        vpc(),
        Res(BUCKET, "logs", {"tags": TAGS}),
        config={"statefulTypes": [CLUSTER]},
    ),
    undecided(
        "protect-stateful-resources",
        "protected bucket whose properties are all unknown",
        Res(BUCKET, "logs", {"bucket": UNKNOWN, "tags": UNKNOWN}, protect=True),
    ),
    undecided(
        "protect-stateful-resources",
        "protected cluster whose engine and key are unknown",
        cluster(protect=True, engine=UNKNOWN, kmsKeyId=UNKNOWN),
    ),
]
