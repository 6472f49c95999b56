"""The collector: Prometheus in agent mode, in its own namespace, scraping every service's
pods and writing to the stack's workspace through its IRSA role.

Why an agent and not AMP's managed collector (``aws.amp.Scraper``): the managed collector
scrapes at most every 30 seconds, so a one-minute analysis window would hold two samples at
best; and AWS documents it as unable to write to a workspace on a customer-managed key,
except through a role configuration whose trust names the collector's own ARN, which exists
only after it is created. The agent scrapes as often as the stack says, signs with its own
role, and its configuration is ours (components/collector_config.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.collector_config import agent_config_yaml
from components.parts import OidcIssuer, irsa_role
from components.workload import POD_SECURITY, dns_egress, https_egress

NAMESPACE = "platform-observability"
RELEASE = "metrics-agent"
SERVICE_ACCOUNT = "metrics-agent"
# The chart mounts the ConfigMap "<release>-<configMapOverrideName>" instead of rendering
# its own (prometheus-community/helm-charts, charts/prometheus/templates/deploy.yaml).
CONFIG_NAME = "agent-config"
# Agent mode in the chart is these flags (it has no switch of its own, and its defaults
# pass server-only flags an agent refuses); --web.enable-lifecycle lets the chart's config
# reloader apply a new configuration.
AGENT_FLAGS = (
    "--agent",
    "--config.file=/etc/config/prometheus.yml",
    "--storage.agent.path=/data",
    "--web.enable-lifecycle",
)


@dataclass(frozen=True)
class MetricsCollectorArgs:
    name_prefix: str
    stack: str
    region: str
    chart_version: str
    chart_repository: str
    namespaces: Sequence[str]  # the services' namespaces
    service_ports: Sequence[int]  # the ports the services serve (and expose /metrics) on
    vpc_cidr: str
    scrape_interval_seconds: int
    workspace_arn: pulumi.Input[str]
    remote_write_url: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]  # the workspace's key
    issuer: OidcIssuer
    provider: k8s.Provider


class MetricsCollector(pulumi.ComponentResource):
    """``namespace`` is where the agent runs; nothing else is consumed."""

    namespace: str

    def __init__(
        self, name: str, args: MetricsCollectorArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("platform:components:MetricsCollector", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={"name": NAMESPACE, "labels": POD_SECURITY},
            opts=k8s_opts,
        )
        # Everything in the namespace names it through the Namespace, so it waits for it.
        ns = namespace.metadata.name
        self._network_policies(name, args, ns, k8s_opts)
        role, grants = irsa_role(
            f"{name}-role",
            issuer=args.issuer,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            description=f"Metrics collector of {args.name_prefix}: writes to its workspace",
            inline_policy=pulumi.Output.all(args.workspace_arn, args.kms_key_arn).apply(
                lambda v: json.dumps(remote_write_policy(args.region, v[0], v[1]))
            ),
            parent=self,
        )
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": f"{RELEASE}-{CONFIG_NAME}", "namespace": ns},
            data={
                "prometheus.yml": pulumi.Output.from_input(args.remote_write_url).apply(
                    lambda url: agent_config_yaml(
                        stack=args.stack,
                        namespaces=args.namespaces,
                        scrape_interval_seconds=args.scrape_interval_seconds,
                        remote_write_url=url,
                        region=args.region,
                    )
                )
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.provider, depends_on=[namespace]
            ),
        )
        k8s.helm.v3.Release(
            f"{name}-agent",
            name=RELEASE,
            chart="prometheus",
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=args.chart_repository),
            namespace=ns,
            atomic=True,
            values=chart_values(role.arn),
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.provider, depends_on=[config, *grants]
            ),
        )
        self.namespace = NAMESPACE
        self.register_outputs({"namespace": self.namespace})

    def _network_policies(
        self,
        name: str,
        args: MetricsCollectorArgs,
        ns: pulumi.Output[str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        k8s.networking.v1.NetworkPolicy(
            f"{name}-deny-all",
            metadata={"name": "deny-all", "namespace": ns},
            spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
            opts=opts,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow",
            metadata={"name": RELEASE, "namespace": ns},
            spec={
                "pod_selector": {},
                "policy_types": ["Ingress", "Egress"],
                # Only kubelet probes reach the agent (9090) and its config reloader (8080).
                "ingress": [
                    {
                        "from_": [{"ip_block": {"cidr": args.vpc_cidr}}],
                        "ports": [{"protocol": "TCP", "port": port} for port in (9090, 8080)],
                    }
                ],
                "egress": [
                    dns_egress(),
                    # The workspace, STS (IRSA) and the Kubernetes API (pod discovery).
                    https_egress(),
                    # The services' pods, on the ports they serve /metrics on.
                    {
                        "to": [{"ip_block": {"cidr": args.vpc_cidr}}],
                        "ports": [
                            {"protocol": "TCP", "port": port}
                            for port in sorted(set(args.service_ports))
                        ],
                    },
                ],
            },
            opts=opts,
        )


def chart_values(role_arn: pulumi.Input[str]) -> dict[str, Any]:
    """The prometheus chart (29.x) as an agent: only the server, our configuration, no
    persistent volume, and the pod and container hardened to the restricted profile."""
    return {
        "server": {
            "defaultFlagsOverride": list(AGENT_FLAGS),
            "configMapOverrideName": CONFIG_NAME,
            "persistentVolume": {"enabled": False},
            "replicaCount": 1,
            "resources": {
                "requests": {"cpu": "100m", "memory": "256Mi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            },
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "runAsGroup": 65534,
                "fsGroup": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containerSecurityContext": _container_security(),
        },
        "configmapReload": {"prometheus": {"containerSecurityContext": _container_security()}},
        "serviceAccounts": {
            "server": {
                "create": True,
                "name": SERVICE_ACCOUNT,
                "annotations": {"eks.amazonaws.com/role-arn": role_arn},
            }
        },
        "alertmanager": {"enabled": False},
        "kube-state-metrics": {"enabled": False},
        "prometheus-node-exporter": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
    }


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def remote_write_policy(region: str, workspace_arn: str, key_arn: str) -> dict[str, Any]:
    """Writing to the one workspace, and its key through the service."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "aps:RemoteWrite", "Resource": workspace_arn},
            {
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"aps.{region}.amazonaws.com"}},
            },
        ],
    }
