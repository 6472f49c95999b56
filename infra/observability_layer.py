"""The observability layer, over every other: the metrics workspace with the SLO rules and
the alert topic, the alarms on the data stores and the edge, and the collector in the
cluster (which needs the Kubernetes API, so not in the bootstrap's foundation phase)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.alarms import AlarmsArgs, AlarmThresholdArgs, StackAlarms
from components.cache import Cache
from components.cluster import Cluster
from components.database import Database
from components.firewall import web_acl_name
from components.keys import EncryptionKeys, KeyPurpose
from components.metrics_collector import MetricsCollector, MetricsCollectorArgs
from components.network import Network
from components.observability import Observability, ObservabilityArgs
from components.parts import LogArchive
from components.slo_rules import ServiceObjectives
from infra.config import StackSettings, alert_webhook_url


@dataclass(frozen=True)
class ObservabilityLayer:
    observability: Observability
    alarms: StackAlarms
    collector: MetricsCollector | None


def observability_layer(
    settings: StackSettings,
    *,
    account_id: str,
    partition: str,
    keys: EncryptionKeys,
    logs: LogArchive,
    network: Network,
    database: Database,
    cache: Cache,
    cluster: Cluster,
) -> ObservabilityLayer:
    platform = settings.platform
    observability = Observability(
        "observability",
        ObservabilityArgs(
            name_prefix=settings.name_prefix,
            stack=settings.stack,
            region=settings.region,
            partition=partition,
            account_id=account_id,
            kms_key_arn=keys.arn(KeyPurpose.OBSERVABILITY),
            logs=logs,
            services=service_objectives(settings),
            alert_emails=platform.observability.alert_emails,
            chat_webhook_url=alert_webhook_url() if settings.alert_webhook else None,
            relay_runtime=platform.observability.relay_runtime,
            grafana_authentication=(
                platform.observability.grafana.authentication
                if platform.observability.grafana
                else None
            ),
            protect=platform.protect_resources,
        ),
    )
    alarms = StackAlarms(
        "alarms",
        AlarmsArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            topic_arn=observability.alert_topic_arn,
            thresholds=AlarmThresholdArgs(**platform.observability.alarms.model_dump()),
            database_cluster=database.cluster_identifier,
            database_readers=platform.database.instance_count - 1,
            cache_members=cache.member_clusters,
            cache_nodes=platform.cache.node_count,
            # Named before the ACL exists: the bootstrap's foundation phase alarms on it too,
            # so the complete phase changes nothing the foundation made.
            web_acl=web_acl_name(settings.name_prefix),
            nat_gateway_ids=network.nat_gateway_ids,
        ),
    )
    return ObservabilityLayer(
        observability, alarms, _collector(settings, keys, network, observability, cluster)
    )


def service_objectives(settings: StackSettings) -> list[ServiceObjectives]:
    """Each service's objectives: its own, or the stack's."""
    stack_slo = settings.platform.observability.slo
    objectives = []
    for service in settings.platform.app.services:
        slo = service.slo or stack_slo
        objectives.append(
            ServiceObjectives(
                service=service.name,
                availability=slo.availability,
                latency_threshold_seconds=slo.latency_threshold_seconds,
                latency_objective=slo.latency_objective,
            )
        )
    return objectives


def _collector(
    settings: StackSettings,
    keys: EncryptionKeys,
    network: Network,
    observability: Observability,
    cluster: Cluster,
) -> MetricsCollector | None:
    if cluster.provider is None:
        return None
    platform = settings.platform
    services = platform.app.services
    return MetricsCollector(
        "metrics-collector",
        MetricsCollectorArgs(
            name_prefix=settings.name_prefix,
            stack=settings.stack,
            region=settings.region,
            chart_version=platform.observability.collector_chart_version,
            chart_repository=platform.observability.collector_chart_repository,
            # Each service runs in the namespace of its name (components/app.py).
            namespaces=[service.name for service in services],
            service_ports=[service.port for service in services],
            vpc_cidr=network.vpc_cidr,
            scrape_interval_seconds=platform.observability.scrape_interval_seconds,
            workspace_arn=observability.workspace_arn,
            remote_write_url=observability.remote_write_url,
            kms_key_arn=keys.arn(KeyPurpose.OBSERVABILITY),
            issuer=cluster.issuer,
            provider=cluster.provider,
        ),
        # The agent's pod needs nodes, and its chart waits for it to be ready.
        opts=pulumi.ResourceOptions(depends_on=[cluster]),
    )
