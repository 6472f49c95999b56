"""Where the stack's metrics and alerts live: an Amazon Managed Service for Prometheus
workspace (the stack's key, its rule and alert manager logs kept), the SLO rules of every
service, an alert manager that sends to the stack's alert topic, and the topic with its
subscribers: email addresses, and the chat webhook through a relay (components/alert_relay.py).
Optionally an Amazon Managed Grafana workspace reading the metrics.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import alert_relay
from components.parts import (
    VENDED_LOGS_PREFIX,
    LogArchive,
    log_group,
    role_with_policies,
    service_trust_policy,
)
from components.slo_rules import ServiceObjectives, alertmanager_yaml, rules_yaml

QUERY_ACTIONS = ("aps:QueryMetrics", "aps:GetLabels", "aps:GetSeries", "aps:GetMetricMetadata")
MANAGE_TOPIC = [
    "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe",
    "sns:ListSubscriptionsByTopic", "sns:Publish",
]  # fmt: skip


@dataclass(frozen=True)
class ObservabilityArgs:
    name_prefix: str
    stack: str
    region: str
    partition: str
    account_id: str
    kms_key_arn: pulumi.Input[str]  # the stack's observability key: workspace, topic, secret
    logs: LogArchive
    services: Sequence[ServiceObjectives]
    alert_emails: Sequence[str]
    chat_webhook_url: pulumi.Input[str] | None  # a Pulumi secret
    relay_runtime: str  # the Lambda runtime, pinned in versions.yaml
    grafana_authentication: str | None  # AWS_SSO or SAML; None: no Grafana
    protect: bool


class Observability(pulumi.ComponentResource):
    """The workspace (``workspace_arn``, ``query_url``, ``remote_write_url``), and the
    ``alert_topic_arn`` every alarm and alert notifies."""

    workspace_arn: pulumi.Output[str]
    query_url: pulumi.Output[str]
    remote_write_url: pulumi.Output[str]
    alert_topic_arn: pulumi.Output[str]
    grafana_url: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("platform:components:Observability", name, None, opts)
        workspace = self._workspace(name, args)
        topic = self._topic(name, args, workspace)
        aws.amp.RuleGroupNamespace(
            f"{name}-slo-rules",
            name="slo",
            workspace_id=workspace.id,
            data=rules_yaml(args.stack, args.services),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.amp.AlertManagerDefinition(
            f"{name}-alertmanager",
            workspace_id=workspace.id,
            definition=topic.arn.apply(lambda arn: alertmanager_yaml(arn, args.region)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[topic]),
        )
        for index, email in enumerate(args.alert_emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{index + 1}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=pulumi.ResourceOptions(parent=self),
            )
        if args.chat_webhook_url is not None:
            self._chat_relay(name, args, topic, args.chat_webhook_url)
        self.grafana_url = (
            self._grafana(name, args, workspace, args.grafana_authentication)
            if args.grafana_authentication
            else None
        )
        self.workspace_arn = workspace.arn
        # The endpoint ends in "/": the API's paths follow it.
        self.query_url = workspace.prometheus_endpoint
        self.remote_write_url = workspace.prometheus_endpoint.apply(
            lambda endpoint: endpoint.rstrip("/") + "/api/v1/remote_write"
        )
        self.alert_topic_arn = topic.arn
        self.register_outputs(
            {
                "workspaceArn": self.workspace_arn,
                "queryUrl": self.query_url,
                "alertTopicArn": self.alert_topic_arn,
            }
        )

    def _workspace(self, name: str, args: ObservabilityArgs) -> aws.amp.Workspace:
        # Rule and alert manager logs: vended logs, covered by the account's one wildcard
        # entry under /aws/vendedlogs/ (as the cache's slow log is).
        logs = log_group(
            f"{name}-workspace-logs",
            name=f"{VENDED_LOGS_PREFIX}/prometheus/{args.name_prefix}",
            archive=args.logs,
            protect=args.protect,
            parent=self,
        )
        return aws.amp.Workspace(
            f"{name}-workspace",
            alias=args.name_prefix,
            # A workspace cannot change keys: the key is the workspace's for life.
            kms_key_arn=args.kms_key_arn,
            logging_configuration=aws.amp.WorkspaceLoggingConfigurationArgs(
                log_group_arn=logs.arn.apply(lambda arn: f"{arn}:*")
            ),
            tags={"Name": args.name_prefix},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

    def _topic(
        self, name: str, args: ObservabilityArgs, workspace: aws.amp.Workspace
    ) -> aws.sns.Topic:
        topic = aws.sns.Topic(
            f"{name}-alerts",
            name=f"{args.name_prefix}-alerts",
            kms_master_key_id=args.kms_key_arn,
            tags={"Name": f"{args.name_prefix}-alerts"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, workspace.arn).apply(
                lambda v: json.dumps(topic_policy(args, topic_arn=v[0], workspace_arn=v[1]))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return topic

    def _webhook_secret(
        self, name: str, args: ObservabilityArgs, url: pulumi.Input[str]
    ) -> aws.secretsmanager.Secret:
        secret = aws.secretsmanager.Secret(
            f"{name}-chat-webhook",
            name=f"{args.name_prefix}/alerts/chat-webhook",
            description=f"Chat webhook URL (holds its token) the {args.name_prefix} alerts go to",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=30 if args.protect else 7,
            # The chat service issues the URL: a person rotates it (a new webhook, then
            # pulumi config set --secret alerts:chatWebhookUrl and an up).
            tags={"rotation": "pulumi-config-set"},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-chat-webhook",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(url),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return secret

    def _chat_relay(
        self,
        name: str,
        args: ObservabilityArgs,
        topic: aws.sns.Topic,
        url: pulumi.Input[str],
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"{args.name_prefix}-chat-relay"
        secret = self._webhook_secret(name, args, url)
        logs = log_group(
            f"{name}-chat-relay-logs",
            name=f"/aws/lambda/{function_name}",
            archive=args.logs,
            protect=args.protect,
            parent=self,
        )
        role, grants = role_with_policies(
            f"{name}-chat-relay",
            description=f"The chat relay of {args.name_prefix}: reads the webhook, writes its log",
            assume_role_policy=service_trust_policy(
                "lambda.amazonaws.com", {"StringEquals": {"aws:SourceAccount": args.account_id}}
            ),
            inline_policy=pulumi.Output.all(secret.arn, logs.arn, args.kms_key_arn).apply(
                lambda v: json.dumps(relay_policy(args, secret_arn=v[0], log_arn=v[1], key=v[2]))
            ),
            parent=self,
        )
        function = aws.lambda_.Function(
            f"{name}-chat-relay",
            name=function_name,
            description=f"Posts the {args.name_prefix} alerts to the chat webhook",
            runtime=args.relay_runtime,
            handler=alert_relay.HANDLER,
            code=pulumi.AssetArchive(
                {"alert_relay.py": pulumi.StringAsset(Path(alert_relay.__file__).read_text())}
            ),
            role=role.arn,
            timeout=alert_relay.TIMEOUT_SECONDS * 3,
            memory_size=128,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={"WEBHOOK_SECRET_ARN": secret.arn}
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=logs.name
            ),
            tags={"Name": function_name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs, *grants]),
        )
        aws.lambda_.Permission(
            f"{name}-chat-relay-from-topic",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="sns.amazonaws.com",
            source_arn=topic.arn,
            source_account=args.account_id,
            opts=child,
        )
        aws.sns.TopicSubscription(
            f"{name}-chat-relay",
            topic=topic.arn,
            protocol="lambda",
            endpoint=function.arn,
            opts=child,
        )

    def _grafana(
        self,
        name: str,
        args: ObservabilityArgs,
        workspace: aws.amp.Workspace,
        authentication: str,
    ) -> pulumi.Output[str]:
        role, grants = role_with_policies(
            f"{name}-grafana",
            description=f"Amazon Managed Grafana of {args.name_prefix}: reads the metrics",
            assume_role_policy=service_trust_policy(
                "grafana.amazonaws.com", {"StringEquals": {"aws:SourceAccount": args.account_id}}
            ),
            inline_policy=pulumi.Output.all(workspace.arn, args.kms_key_arn).apply(
                lambda v: json.dumps(query_policy(args, workspace_arn=v[0], key=v[1]))
            ),
            parent=self,
        )
        grafana = aws.grafana.Workspace(
            f"{name}-grafana",
            name=args.name_prefix,
            description=f"Dashboards of {args.name_prefix} (docs/observability.md)",
            account_access_type="CURRENT_ACCOUNT",
            authentication_providers=[authentication],
            permission_type="CUSTOMER_MANAGED",
            role_arn=role.arn,
            data_sources=["PROMETHEUS"],
            tags={"Name": args.name_prefix},
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
        )
        return grafana.endpoint


def topic_policy(args: ObservabilityArgs, *, topic_arn: str, workspace_arn: str) -> dict[str, Any]:
    """The account manages the topic; the workspace's alert manager, this account's
    CloudWatch alarms and its backup vaults may publish to it, nothing else."""
    alarms = f"arn:{args.partition}:cloudwatch:{args.region}:{args.account_id}:alarm:*"
    vaults = f"arn:{args.partition}:backup:{args.region}:{args.account_id}:backup-vault:*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountManages",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{args.partition}:iam::{args.account_id}:root"},
                "Action": MANAGE_TOPIC,
                "Resource": topic_arn,
            },
            {
                "Sid": "PrometheusAlertManager",
                "Effect": "Allow",
                "Principal": {"Service": "aps.amazonaws.com"},
                "Action": ["sns:Publish", "sns:GetTopicAttributes"],
                "Resource": topic_arn,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": workspace_arn},
                    "StringEquals": {"aws:SourceAccount": args.account_id},
                },
            },
            _publishes("CloudWatchAlarms", "cloudwatch", alarms, topic_arn, args.account_id),
            _publishes("BackupVaultEvents", "backup", vaults, topic_arn, args.account_id),
        ],
    }


def _publishes(
    sid: str, service: str, sources: str, topic_arn: str, account: str
) -> dict[str, Any]:
    """A service of this account may publish to the topic on behalf of ``sources`` only."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": f"{service}.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {
            "ArnLike": {"aws:SourceArn": sources},
            "StringEquals": {"aws:SourceAccount": account},
        },
    }


def relay_policy(
    args: ObservabilityArgs, *, secret_arn: str, log_arn: str, key: str
) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn},
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key,
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{args.region}.amazonaws.com"
                    }
                },
            },
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_arn}:*",
            },
        ],
    }


def query_policy(args: ObservabilityArgs, *, workspace_arn: str, key: str) -> dict[str, Any]:
    """Reading the workspace: its query API, and its key through the service."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [*QUERY_ACTIONS, "aps:DescribeWorkspace"],
                "Resource": workspace_arn,
            },
            {"Effect": "Allow", "Action": "aps:ListWorkspaces", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": key,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"aps.{args.region}.amazonaws.com"}
                },
            },
        ],
    }
