"""``platform:observability``: the metrics every stack collects (a Prometheus workspace fed
by a collector in the cluster), the SLOs judged on them, where alerts go, and the thresholds
of the CloudWatch alarms on what Pulumi builds.

The chat webhook alerts may also go to is a credential (its URL holds a token): it is the
secret ``alerts:chatWebhookUrl``, never a ``platform:`` value (:data:`ALERT_WEBHOOK_KEY`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

from infra.settings.base import Decimal, Model, Number, Problem, reference, within
from infra.settings.versions import catalogue

if TYPE_CHECKING:
    from infra.settings.platform_config import PlatformConfig

ALERT_WEBHOOK_KEY = "alerts:chatWebhookUrl"
COLLECTOR_CHART = "prometheus"
RELAY_RUNTIME = "lambda-python"
# The latency SLI counts requests at or under the threshold from the histogram's bucket of
# that bound, so the threshold must be a bucket the services export (Prometheus's client
# libraries' default buckets; docs/observability.md, the service contract).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_EMAIL = re.compile(r"[^@\s,;]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_OBJECTIVE_ALLOWED = "0.9 to 0.9999 (90 % to 99.99 % of a 30-day window)"
_COMPONENT = "components/observability.py"
_COLLECTOR = "components/metrics_collector.py"
_ALARMS = "components/alarms.py"


class SloObjectives(Model):
    """A service's objectives over a 30-day window: the share of requests that succeed, and
    the share answered within the latency threshold. Alerts fire on the error budget's burn
    rate (the SRE workbook's multiwindow, multi-burn-rate alerts)."""

    READ_BY: ClassVar[tuple[str, ...]] = ("components/slo_rules.py", _COMPONENT)

    availability: Decimal = Field(
        default=0.995,
        description="The share of requests that must not answer 5xx.",
        json_schema_extra=reference(allowed=_OBJECTIVE_ALLOWED),
    )
    latency_threshold_seconds: Decimal = Field(
        default=0.5,
        description="The latency a request must be answered within to count as fast.",
        json_schema_extra=reference(
            allowed="a bucket bound of the latency histogram: "
            + ", ".join(f"{b:g}" for b in LATENCY_BUCKETS)
        ),
    )
    latency_objective: Decimal = Field(
        default=0.99,
        description="The share of requests that must be answered within the threshold.",
        json_schema_extra=reference(allowed=_OBJECTIVE_ALLOWED),
    )

    @field_validator("availability", "latency_objective")
    @classmethod
    def _objective(cls, objective: float) -> float:
        if not 0.9 <= objective <= 0.9999:
            raise ValueError(f"allowed: {_OBJECTIVE_ALLOWED}")
        return objective

    @field_validator("latency_threshold_seconds")
    @classmethod
    def _bucket(cls, seconds: float) -> float:
        if seconds not in LATENCY_BUCKETS:
            raise ValueError(
                "not a bucket bound of the latency histogram; allowed: "
                + ", ".join(f"{b:g}" for b in LATENCY_BUCKETS)
            )
        return seconds


class AlarmThresholds(Model):
    """Where each CloudWatch alarm on the stack's data stores and edge goes off. Every alarm
    notifies the stack's alert topic and may roll a release back (``analysis.alarms``)."""

    READ_BY: ClassVar[tuple[str, ...]] = (_ALARMS,)

    database_cpu_percent: Number = Field(
        default=80,
        description="Average CPU of the database's writer over 5 minutes.",
        json_schema_extra=reference(allowed="1 to 100"),
    )
    database_freeable_memory_mib: Number = Field(
        default=256,
        description="Freeable memory of the writer below which the alarm goes off.",
        json_schema_extra=reference(allowed="16 to 1,048,576 MiB"),
    )
    database_replica_lag_ms: Number = Field(
        default=2000,
        description="Replica lag of the readers above which the alarm goes off (stacks "
        "with readers only).",
        json_schema_extra=reference(allowed="10 to 600,000 ms"),
    )
    database_connections: Number = Field(
        default=500,
        description="Connections to the writer above which the alarm goes off.",
        json_schema_extra=reference(allowed="1 to 100,000"),
    )
    cache_engine_cpu_percent: Number = Field(
        default=80,
        description="Redis engine CPU of any cache node over 5 minutes.",
        json_schema_extra=reference(allowed="1 to 100"),
    )
    cache_memory_percent: Number = Field(
        default=85,
        description="Share of a cache node's memory in use above which the alarm goes off.",
        json_schema_extra=reference(allowed="1 to 100"),
    )
    cache_evictions: Number = Field(
        default=1000,
        description="Keys evicted from a cache node in 5 minutes above which the alarm goes off.",
        json_schema_extra=reference(allowed="1 to 100,000,000"),
    )
    cache_replication_lag_seconds: Number = Field(
        default=10,
        description="Replication lag of a cache replica above which the alarm goes off "
        "(stacks with replicas only).",
        json_schema_extra=reference(allowed="1 to 3600 seconds"),
    )
    waf_blocked_requests: Number = Field(
        default=1000,
        description="Requests the web ACL blocked in 5 minutes above which the alarm goes off "
        "(an attack, or a rule blocking real users).",
        json_schema_extra=reference(allowed="1 to 100,000,000"),
    )
    nat_packets_dropped: Number = Field(
        default=1000,
        description="Packets a NAT gateway dropped in 5 minutes above which the alarm goes off.",
        json_schema_extra=reference(allowed="1 to 100,000,000"),
    )
    evaluation_periods: Number = Field(
        default=3,
        description="How many 5-minute periods in a row a threshold must be crossed before "
        "an alarm goes off (NAT port allocation errors go off at the first).",
        json_schema_extra=reference(allowed="1 to 288 (a day)"),
    )

    @field_validator("database_cpu_percent", "cache_engine_cpu_percent", "cache_memory_percent")
    @classmethod
    def _percent(cls, value: int) -> int:
        return within(value, 1, 100, " percent")

    @field_validator("database_freeable_memory_mib")
    @classmethod
    def _memory(cls, value: int) -> int:
        return within(value, 16, 1_048_576, " MiB")

    @field_validator("database_replica_lag_ms")
    @classmethod
    def _lag(cls, value: int) -> int:
        return within(value, 10, 600_000, " ms")

    @field_validator("database_connections")
    @classmethod
    def _connections(cls, value: int) -> int:
        return within(value, 1, 100_000, " connections")

    @field_validator("cache_evictions", "waf_blocked_requests", "nat_packets_dropped")
    @classmethod
    def _count(cls, value: int) -> int:
        return within(value, 1, 100_000_000, " in 5 minutes")

    @field_validator("cache_replication_lag_seconds")
    @classmethod
    def _cache_lag(cls, value: int) -> int:
        return within(value, 1, 3600, " seconds")

    @field_validator("evaluation_periods")
    @classmethod
    def _periods(cls, value: int) -> int:
        return within(value, 1, 288, " periods of 5 minutes")


class GrafanaSettings(Model):
    """An Amazon Managed Grafana workspace reading the Prometheus workspace. People sign in
    through IAM Identity Center or a SAML provider, which must exist first."""

    READ_BY: ClassVar[tuple[str, ...]] = (_COMPONENT,)

    authentication: Literal["AWS_SSO", "SAML"] = Field(
        description="How people sign in: IAM Identity Center (AWS_SSO) or a SAML identity "
        "provider; Amazon Managed Grafana has no users of its own.",
    )


class ObservabilitySettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = (_COMPONENT,)

    collector_chart_version: str = Field(
        description="The version of the prometheus-community `prometheus` chart the collector "
        "runs (in agent mode), pinned so an upgrade is a reviewed change.",
        json_schema_extra=reference(
            allowed="a version infra/settings/versions.yaml lists under charts.prometheus",
            read_by=(_COLLECTOR,),
        ),
    )
    scrape_interval_seconds: Number = Field(
        default=15,
        description="How often the collector scrapes every service's pods; a quarter of the "
        "analysis window or less gives rate() enough samples.",
        json_schema_extra=reference(allowed="5 to 120", read_by=(_COLLECTOR,)),
    )
    slo: SloObjectives = Field(
        default=SloObjectives(),
        description="The objectives of every service (a service may set its own, "
        "platform:app.services[].slo).",
    )
    alarms: AlarmThresholds = Field(
        default=AlarmThresholds(),
        description="The thresholds of the CloudWatch alarms on the database, the cache, the "
        "web ACL and the NAT gateways.",
    )
    alert_emails: tuple[str, ...] = Field(
        default=(),
        description="Addresses subscribed to the stack's alert topic (each confirms by the "
        "link AWS mails; the chat webhook is the secret alerts:chatWebhookUrl).",
        json_schema_extra=reference(allowed="email addresses, each once"),
    )
    grafana: GrafanaSettings | None = Field(
        default=None,
        description="An optional Amazon Managed Grafana workspace on the metrics; off by "
        "default, since it needs IAM Identity Center or SAML.",
    )

    @property
    def collector_chart_repository(self) -> str:
        return catalogue().chart_repository(COLLECTOR_CHART)

    @property
    def relay_runtime(self) -> str:
        """The chat relay's Lambda runtime, pinned in versions.yaml."""
        [entry] = catalogue().listed("runtimes", RELAY_RUNTIME)
        return entry.version

    @field_validator("scrape_interval_seconds")
    @classmethod
    def _interval(cls, seconds: int) -> int:
        return within(seconds, 5, 120, " seconds")

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, emails: tuple[str, ...]) -> tuple[str, ...]:
        for email in emails:
            if not _EMAIL.fullmatch(email):
                raise ValueError(f"{email!r} is not an email address; allowed: name@domain")
        if len(set(emails)) != len(emails):
            raise ValueError("an address is listed twice; allowed: each once")
        return emails


def observability_problems(platform: PlatformConfig) -> list[Problem]:
    """rate() needs two samples in its window: a window shorter than two of the collector's
    scrapes reads nothing, and every round of every release would be inconclusive. (A
    Prometheus of your own, prometheusUrl, scrapes at its own pace.)"""
    scrape = platform.observability.scrape_interval_seconds
    analysis = platform.delivery.analysis
    own = analysis.prometheus_url is not None
    if analysis.provider != "prometheus" or own or analysis.window_seconds >= 2 * scrape:
        return []
    return [
        Problem(
            "platform:delivery.analysis.windowSeconds",
            analysis.window_seconds,
            f"shorter than two scrapes (platform:observability.scrapeIntervalSeconds is "
            f"{scrape}), so rate() would find no data; allowed: at least {2 * scrape}",
        )
    ]
