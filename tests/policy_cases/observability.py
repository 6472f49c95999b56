"""Cases for policies/rules/observability.py."""

from __future__ import annotations

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

WORKSPACE = "aws:amp/workspace:Workspace"
SCRAPER = "aws:amp/scraper:Scraper"
TOPIC = "aws:sns/topic:Topic"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
CLUSTER = "aws:eks/cluster:Cluster"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ROLE = "aws:iam/role:Role"
RELEASE = "kubernetes:helm.sh/v3:Release"
PROVIDER = "pulumi:providers:kubernetes"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LOGS = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/prometheus/x:*"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:x-alerts"

EKS = Res(CLUSTER, "eks", {"name": "x-eks"})
K8S = Res(PROVIDER, "k8s", {"kubeconfig": UNKNOWN}, {"kubeconfig": ["eks"]})
OIDC_0 = Res(OIDC, "oidc", {"url": UNKNOWN}, {"url": ["eks"]})


def workspace(**props: object) -> Res:
    return Res(WORKSPACE, "workspace", {"alias": "x", **props})


def alarm(**props: object) -> Res:
    return Res(ALARM, "db-cpu", {"metricName": "CPUUtilization", "threshold": 80, **props})


def agent(chart: object = "prometheus", trusted_by: str = "oidc") -> tuple[Res, ...]:
    """A chart running as an IRSA role that ``trusted_by`` vouches for."""
    role = Res(
        ROLE, "agent-role", {"assumeRolePolicy": UNKNOWN}, {"assumeRolePolicy": [trusted_by]}
    )
    release = Res(RELEASE, "agent", {"chart": chart, "values": UNKNOWN}, {"values": ["agent-role"]})
    return role, release


CASES = [
    violates("amp-workspace-cmk", "a workspace on the AWS-owned key", workspace(),
             message="kmsKeyArn", at="workspace"),
    passes("amp-workspace-cmk", "a workspace on a customer-managed key", workspace(kmsKeyArn=KEY)),
    undecided("amp-workspace-cmk", "a key still to be created is set",
              workspace(kmsKeyArn=UNKNOWN)),
    violates("amp-workspace-logging", "a workspace that logs nothing", workspace(kmsKeyArn=KEY),
             message="loggingConfiguration.logGroupArn"),
    passes("amp-workspace-logging", "rule and alert logs kept",
           workspace(loggingConfiguration={"logGroupArn": LOGS})),
    undecided("amp-workspace-logging", "the log group is still to be created",
              workspace(loggingConfiguration={"logGroupArn": UNKNOWN})),
    violates("sns-topic-encrypted", "an unencrypted topic", Res(TOPIC, "alerts", {"name": "x"}),
             message="kmsMasterKeyId"),
    passes("sns-topic-encrypted", "a topic under a KMS key",
           Res(TOPIC, "alerts", {"name": "x", "kmsMasterKeyId": KEY})),
    undecided("sns-topic-encrypted", "the key is still to be created",
              Res(TOPIC, "alerts", {"name": "x", "kmsMasterKeyId": UNKNOWN})),
    violates("cloudwatch-alarm-actions", "an alarm that notifies nobody", alarm(),
             message="alarmActions"),
    violates("cloudwatch-alarm-actions", "an alarm whose actions are switched off",
             alarm(alarmActions=[TOPIC_ARN], actionsEnabled=False), message="actionsEnabled"),
    passes("cloudwatch-alarm-actions", "an alarm that notifies the alert topic",
           alarm(alarmActions=[TOPIC_ARN])),
    undecided("cloudwatch-alarm-actions", "the topic is still to be created",
              alarm(alarmActions=UNKNOWN)),
    violates("metrics-collector-covers-cluster", "a cluster the stack deploys into, unwatched",
             EKS, K8S, OIDC_0, message="no metrics collector", at="eks"),
    violates("metrics-collector-covers-cluster", "an agent running as another cluster's role",
             EKS, K8S, OIDC_0, Res(CLUSTER, "other", {"name": "y-eks"}),
             Res(OIDC, "other-oidc", {"url": UNKNOWN}, {"url": ["other"]}),
             *agent(trusted_by="other-oidc"), message="no metrics collector", at="eks"),
    violates("metrics-collector-covers-cluster", "a chart that is not a collector",
             EKS, K8S, OIDC_0, *agent(chart="nginx"), message="no metrics collector"),
    passes("metrics-collector-covers-cluster", "the agent as the cluster's IRSA role",
           EKS, K8S, OIDC_0, *agent()),
    passes("metrics-collector-covers-cluster", "an AMP managed scraper of the cluster",
           EKS, K8S, Res(SCRAPER, "scraper", {"source": UNKNOWN}, {"source": ["eks"]})),
    passes("metrics-collector-covers-cluster", "a cluster nothing is deployed into yet", EKS),
    passes("metrics-collector-covers-cluster", "a collector chart named in the rule's config",
           EKS, K8S, OIDC_0, *agent(chart="opentelemetry-collector"),
           config={"charts": ["opentelemetry-collector"]}),
    undecided("metrics-collector-covers-cluster", "the release's chart is not known yet",
              EKS, K8S, OIDC_0, *agent(chart=UNKNOWN)),
]  # fmt: skip
