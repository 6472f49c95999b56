"""CloudWatch alarms on what the stack builds (the database's writer and readers, every cache
node, the web ACL, the NAT gateways), each notifying the alert topic, and the stack's
dashboard. A release may be rolled back on any of them (``platform:delivery.analysis.alarms``).

Metrics and dimensions as AWS documents them: Aurora by cluster and role, as AWS advises
alarming (AWS/RDS ``DBClusterIdentifier`` + ``Role``); ElastiCache per node (``CacheClusterId``
+ ``CacheNodeId``); NAT gateways per gateway (``NatGatewayId``); the web ACL's total under
``Rule=ALL`` (the aggregate public dashboards read; AWS reserves ``All`` as a rule name).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

FIVE_MINUTES = 300
RELEASES_NAMESPACE = "Platform/Releases"


@dataclass(frozen=True)
class AlarmThresholdArgs:
    database_cpu_percent: int
    database_freeable_memory_mib: int
    database_replica_lag_ms: int
    database_connections: int
    cache_engine_cpu_percent: int
    cache_memory_percent: int
    cache_evictions: int
    cache_replication_lag_seconds: int
    waf_blocked_requests: int
    nat_packets_dropped: int
    evaluation_periods: int


@dataclass(frozen=True)
class AlarmsArgs:
    name_prefix: str
    region: str
    topic_arn: pulumi.Input[str]
    thresholds: AlarmThresholdArgs
    database_cluster: str  # its identifier
    database_readers: int
    cache_members: pulumi.Output[Sequence[str]]  # the replication group's node clusters
    cache_nodes: int
    web_acl: str  # the web ACL's metric name (components/firewall.py web_acl_name)
    nat_gateway_ids: Sequence[pulumi.Output[str]]


@dataclass(frozen=True)
class _Alarm:
    suffix: str
    description: str
    namespace: str
    metric: str
    statistic: str
    dimensions: Mapping[str, pulumi.Input[str]]
    threshold: float
    periods: int
    comparison: str = "GreaterThanThreshold"


class StackAlarms(pulumi.ComponentResource):
    """``alarm_names``: every alarm made, what ``analysis.alarms: [stack]`` watches."""

    alarm_names: list[str]
    dashboard_name: str

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:components:StackAlarms", name, None, opts)
        self.alarm_names = []
        for alarm in [*_database(args), *_cache(args), *_edge(args), *_nat(args)]:
            alarm_name = f"{args.name_prefix}-{alarm.suffix}"
            aws.cloudwatch.MetricAlarm(
                f"{name}-{alarm.suffix}",
                name=alarm_name,
                alarm_description=alarm.description,
                namespace=alarm.namespace,
                metric_name=alarm.metric,
                dimensions=alarm.dimensions,
                statistic=alarm.statistic,
                period=FIVE_MINUTES,
                evaluation_periods=alarm.periods,
                comparison_operator=alarm.comparison,
                threshold=alarm.threshold,
                # No data is no incident: a stack without traffic or a replica without lag
                # reports nothing, and that must not page anyone.
                treat_missing_data="notBreaching",
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.alarm_names.append(alarm_name)
        self.dashboard_name = args.name_prefix
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=self.dashboard_name,
            dashboard_body=pulumi.Output.all(*args.nat_gateway_ids, args.cache_members).apply(
                lambda values: json.dumps(
                    dashboard_body(args, nat_ids=values[:-1], cache_members=values[-1])
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"alarmNames": self.alarm_names})


def _database(args: AlarmsArgs) -> list[_Alarm]:
    limits, cluster = args.thresholds, args.database_cluster
    periods = limits.evaluation_periods
    writer = {"DBClusterIdentifier": cluster, "Role": "WRITER"}
    alarms = [
        _Alarm(
            "db-cpu", f"CPU of {cluster}'s writer above {limits.database_cpu_percent} %",
            "AWS/RDS", "CPUUtilization", "Average", writer, limits.database_cpu_percent, periods,
        ),
        _Alarm(
            "db-freeable-memory",
            f"freeable memory of {cluster}'s writer below "
            f"{limits.database_freeable_memory_mib} MiB",
            "AWS/RDS", "FreeableMemory", "Minimum", writer,
            limits.database_freeable_memory_mib * 1024 * 1024, periods, "LessThanThreshold",
        ),
        _Alarm(
            "db-connections",
            f"connections to {cluster}'s writer above {limits.database_connections}",
            "AWS/RDS", "DatabaseConnections", "Maximum", writer, limits.database_connections,
            periods,
        ),
    ]  # fmt: skip
    if args.database_readers:
        readers = {"DBClusterIdentifier": cluster, "Role": "READER"}
        alarms.append(
            _Alarm(
                "db-replica-lag",
                f"replica lag of {cluster}'s readers above {limits.database_replica_lag_ms} ms",
                "AWS/RDS", "AuroraReplicaLag", "Maximum", readers,
                limits.database_replica_lag_ms, periods,
            )
        )  # fmt: skip
    return alarms


def _cache(args: AlarmsArgs) -> list[_Alarm]:
    limits, alarms = args.thresholds, []
    periods = limits.evaluation_periods
    for index in range(args.cache_nodes):
        node, number = f"cache-{index + 1}", index + 1
        member = args.cache_members.apply(functools.partial(_member, index=index))
        dimensions: dict[str, pulumi.Input[str]] = {"CacheClusterId": member, "CacheNodeId": "0001"}
        alarms += [
            _Alarm(
                f"{node}-cpu",
                f"Redis engine CPU of cache node {number} above "
                f"{limits.cache_engine_cpu_percent} %",
                "AWS/ElastiCache", "EngineCPUUtilization", "Average", dimensions,
                limits.cache_engine_cpu_percent, periods,
            ),
            _Alarm(
                f"{node}-memory",
                f"memory of cache node {number} above {limits.cache_memory_percent} %",
                "AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "Maximum", dimensions,
                limits.cache_memory_percent, periods,
            ),
            _Alarm(
                f"{node}-evictions",
                f"keys evicted from cache node {number} above {limits.cache_evictions} in 5 min",
                "AWS/ElastiCache", "Evictions", "Sum", dimensions, limits.cache_evictions, periods,
            ),
        ]  # fmt: skip
        if args.cache_nodes > 1:
            # Reported by whichever nodes are replicas now: failover changes which.
            alarms.append(
                _Alarm(
                    f"{node}-replication-lag",
                    f"replication lag of cache node {number} above "
                    f"{limits.cache_replication_lag_seconds} s",
                    "AWS/ElastiCache", "ReplicationLag", "Maximum", dimensions,
                    limits.cache_replication_lag_seconds, periods,
                )
            )  # fmt: skip
    return alarms


def _member(members: Sequence[str], index: int) -> str:
    return sorted(members)[index]


def _edge(args: AlarmsArgs) -> list[_Alarm]:
    limits = args.thresholds
    dimensions = {"WebACL": args.web_acl, "Region": args.region, "Rule": "ALL"}
    return [
        _Alarm(
            "waf-blocked",
            f"requests the web ACL blocked above {limits.waf_blocked_requests} in 5 minutes "
            "(an attack, or a rule blocking real users)",
            "AWS/WAFV2", "BlockedRequests", "Sum", dimensions, limits.waf_blocked_requests,
            limits.evaluation_periods,
        )
    ]  # fmt: skip


def _nat(args: AlarmsArgs) -> list[_Alarm]:
    limits, alarms = args.thresholds, []
    for index, gateway in enumerate(args.nat_gateway_ids):
        dimensions = {"NatGatewayId": gateway}
        number = index + 1
        alarms += [
            # A connection that found no source port failed outright: alarm at the first.
            _Alarm(
                f"nat-{number}-port-allocation",
                f"NAT gateway {number} could not allocate a source port",
                "AWS/NATGateway", "ErrorPortAllocation", "Sum", dimensions, 0, 1,
            ),
            _Alarm(
                f"nat-{number}-packets-dropped",
                f"packets NAT gateway {number} dropped above {limits.nat_packets_dropped} "
                "in 5 minutes",
                "AWS/NATGateway", "PacketsDropCount", "Sum", dimensions,
                limits.nat_packets_dropped, limits.evaluation_periods,
            ),
        ]  # fmt: skip
    return alarms


def dashboard_body(
    args: AlarmsArgs, *, nat_ids: Sequence[str], cache_members: Sequence[str]
) -> dict[str, Any]:
    """Three rows: the data stores, the edge, and the releases (platformctl's metrics)."""
    region, cluster = args.region, args.database_cluster
    writer = ["DBClusterIdentifier", cluster, "Role", "WRITER"]
    acl = ["WebACL", args.web_acl, "Region", region, "Rule", "ALL"]
    cache = [["AWS/ElastiCache", "EngineCPUUtilization", "CacheClusterId", member,
              "CacheNodeId", "0001"] for member in sorted(cache_members)]  # fmt: skip
    widgets = [
        _widget("Database writer CPU and connections", region, 0, [
            ["AWS/RDS", "CPUUtilization", *writer], ["AWS/RDS", "DatabaseConnections", *writer],
        ]),
        _widget("Cache engine CPU", region, 1, cache),
        _widget("NAT gateways: dropped packets", region, 2, [
            ["AWS/NATGateway", "PacketsDropCount", "NatGatewayId", gateway] for gateway in nat_ids
        ]),
        _widget("Releases by outcome", region, 3, [
            [RELEASES_NAMESPACE, "Releases", "Stack", args.name_prefix.rsplit("-", 1)[-1]],
        ], stat="Sum"),
        _widget("Web ACL: allowed and blocked requests", region, 4, [
            ["AWS/WAFV2", "AllowedRequests", *acl], ["AWS/WAFV2", "BlockedRequests", *acl],
        ], stat="Sum"),
    ]  # fmt: skip
    return {"widgets": widgets}


def _widget(
    title: str, region: str, index: int, metrics: list[list[str]], stat: str = "Average"
) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": (index % 2) * 12,
        "y": (index // 2) * 6,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "metrics": metrics,
            "stat": stat,
            "period": FIVE_MINUTES,
            "view": "timeSeries",
        },
    }
