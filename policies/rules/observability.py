"""Metrics, alerts and alarms: the Prometheus workspace and the alert topic on a key of the
stack, the workspace's rule and alert manager logs kept, every alarm notifying someone, and
a collector for every cluster (without one every release is judged on no data)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from policies.framework import params
from policies.framework.checks import Check, Equals, Present, property_rule
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Pack, stack_rule
from policies.framework.values import is_unknown, unknown

WORKSPACE = "aws:amp/workspace:Workspace"
SCRAPER = "aws:amp/scraper:Scraper"
TOPIC = "aws:sns/topic:Topic"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
CLUSTER = "aws:eks/cluster:Cluster"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ROLE = "aws:iam/role:Role"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
K8S_PROVIDER = "pulumi:providers:kubernetes"

workspace_cmk = property_rule(
    name="amp-workspace-cmk",
    description="Prometheus workspaces are encrypted with a customer-managed KMS key.",
    remediation="Set kmsKeyArn to the stack's observability key (a workspace cannot change "
    "keys later: set it when the workspace is created).",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(WORKSPACE,),
    checks=(Check("kmsKeyArn", Present("a customer-managed KMS key ARN")),),
)

workspace_logging = property_rule(
    name="amp-workspace-logging",
    description="Prometheus workspaces log their rule evaluations and alert manager to "
    "CloudWatch Logs.",
    remediation="Set loggingConfiguration.logGroupArn to a retained, encrypted log group of "
    "the stack (its ARN ending in :*).",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(WORKSPACE,),
    checks=(Check("loggingConfiguration.logGroupArn", Present("a log group ARN")),),
)

topic_encrypted = property_rule(
    name="sns-topic-encrypted",
    description="SNS topics are encrypted at rest with a KMS key.",
    remediation="Set kmsMasterKeyId to a customer-managed key whose policy lets the "
    "publishing services (CloudWatch, the alert manager) use it.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(TOPIC,),
    compliance=Compliance(checkov=("CKV_AWS_26",)),
    checks=(Check("kmsMasterKeyId", Present("a KMS key")),),
)

alarm_actions = property_rule(
    name="cloudwatch-alarm-actions",
    description="Every CloudWatch alarm notifies someone when it goes off.",
    remediation="Set alarmActions to the stack's alert topic, and leave actionsEnabled on.",
    severity=Severity.MEDIUM,
    pack=Pack.QUALITY,
    resource_types=(ALARM,),
    compliance=Compliance(fsbp=("CloudWatch.15", "CloudWatch.17"), checkov=("CKV_AWS_319",)),
    checks=(
        Check("alarmActions", Present("at least one action")),
        Check("actionsEnabled", Equals(True, absent=True)),
    ),
)


def _collected(cluster: Resource, stack: StackView, settings: Mapping[str, Any]) -> Iterator[str]:
    charts = set(settings.get("charts", DEFAULT_COLLECTOR_CHARTS))
    if list(stack.referring_to(cluster, "source", SCRAPER)):
        return
    if not list(stack.referring_to(cluster, "kubeconfig", K8S_PROVIDER)):
        # The stack deploys nothing into this cluster (the bootstrap's foundation phase has
        # no Kubernetes provider yet): its workloads, and their collector, come later.
        return
    for release in stack.of_type(HELM_RELEASE):
        chart = release.get("chart", "")
        if is_unknown(chart):
            raise unknown(chart, "chart")
        if chart not in charts:
            continue
        # The agent writes as an IRSA role: a role the cluster's OIDC provider vouches for.
        for role in release.sources("values", ROLE):
            for provider in role.sources("assumeRolePolicy", OIDC_PROVIDER):
                if cluster in provider.sources("url", CLUSTER):
                    return
    yield (
        f"{cluster.label} has no metrics collector (an AMP scraper of it, or a "
        f"{'/'.join(sorted(charts))} chart running as one of its IRSA roles): every release "
        "analysis would read no data"
    )


DEFAULT_COLLECTOR_CHARTS = ("prometheus",)

collector_covers_cluster = stack_rule(
    over=(CLUSTER,),
    name="metrics-collector-covers-cluster",
    description="Every EKS cluster the stack deploys into has a metrics collector writing to a "
    "Prometheus workspace.",
    remediation="Keep platform:observability (components/metrics_collector.py) for the "
    "stack, or an aws.amp.Scraper whose source is the cluster.",
    severity=Severity.HIGH,
    pack=Pack.QUALITY,
    # Without metrics every canary is inconclusive and rolled back: production releases
    # stop, so this is mandatory in every stack.
    enforcement=EnforcementLevel.MANDATORY,
    resource_types=(CLUSTER, SCRAPER, HELM_RELEASE, ROLE, OIDC_PROVIDER, K8S_PROVIDER),
    params=(
        params.string_list(
            "charts",
            "Helm charts that count as a collector when they run as an IRSA role of the cluster.",
            default=list(DEFAULT_COLLECTOR_CHARTS),
            min_items=1,
        ),
    ),
    judge=_collected,
)

RULES = (
    workspace_cmk,
    workspace_logging,
    topic_encrypted,
    alarm_actions,
    collector_covers_cluster,
)
