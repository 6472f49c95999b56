"""``platform:delivery``: how the release driver moves traffic, measures it and promotes.

The knobs carry the names Argo Rollouts and Flagger use (``stepWeights``, ``failureLimit``,
``inconclusiveLimit``, ``consecutiveErrorLimit``, ``thresholdRange``, ``scaleDownDelaySeconds``,
``autoPromotionSeconds``); ``profile`` picks one of CodeDeploy's predefined configurations.
The program validates this block like every other; only the driver (platformctl) acts on it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import field_validator, model_validator

from infra.settings.base import Decimal, Model, Number, within
from infra.settings.review import ReviewSettings

# CodeDeploy's predefined configurations (plus one four-step canary of our own): the
# candidate's weight at each step and how long each step bakes before the next.
PROFILES: dict[str, tuple[tuple[int, ...], int]] = {
    "Canary10Percent5Minutes": ((10, 100), 300),
    "Canary10Percent15Minutes": ((10, 100), 900),
    "Linear10PercentEvery1Minute": (tuple(range(10, 101, 10)), 60),
    "Linear10PercentEvery3Minutes": (tuple(range(10, 101, 10)), 180),
    "Progressive5-25-50-100": ((5, 25, 50, 100), 300),
    "AllAtOnce": ((100,), 0),
}
PROVIDERS = ("prometheus", "cloudwatch")
_METRIC_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# Placeholders a Prometheus query may use: filled in per measurement by the driver.
QUERY_PLACEHOLDERS = ("service", "namespace", "slot", "window")
# The ALB target-group statistics the CloudWatch provider knows how to ask for.
CLOUDWATCH_STATISTICS = ("success-rate", "error-rate", "latency-p95", "latency-p99", "requests")
_HOOK_NAME = _METRIC_NAME
_URL = re.compile(r"https?://[^\s]+")
# A URL that carries a credential (a chat webhook's token) is never written in a stack file:
# `${NAME}` stands for the URL in environment variable NAME, read when the hook runs.
ENV_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
_URL_ALLOWED = "an http:// or https:// URL, or ${VARIABLE} naming one in the environment"


def _url_or_reference(url: str) -> str:
    if not (_URL.fullmatch(url) or ENV_REFERENCE.fullmatch(url)):
        raise ValueError(f"allowed: {_URL_ALLOWED}")
    return url


def render_query(query: str, values: dict[str, str]) -> str:
    """Fills the ``{name}`` placeholders; PromQL's own braces (label matchers always hold
    ``=`` or ``~``) are never mistaken for one."""
    return _PLACEHOLDER.sub(lambda found: values.get(found[1], found[0]), query)


class Range(Model):
    """Flagger's ``thresholdRange``: a measurement passes when ``min <= value <= max``."""

    min: Decimal | None = None
    max: Decimal | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("allowed: at least one of min and max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}; allowed: min <= max")
        return self

    def holds(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def __str__(self) -> str:
        low = "-inf" if self.min is None else f"{self.min:g}"
        high = "+inf" if self.max is None else f"{self.max:g}"
        return f"[{low}, {high}]"


class MetricCheck(Model):
    """One metric of the analysis. ``query`` is PromQL with ``{service}``, ``{namespace}``,
    ``{slot}`` and ``{window}`` placeholders (Prometheus), or one of the ALB target-group
    statistics (CloudWatch). ``thresholdRange`` bounds the candidate's value;
    ``ratioToLive`` bounds candidate / live, measured with the same query on the live slot."""

    name: str
    query: str
    threshold_range: Range | None = None
    ratio_to_live: Range | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _METRIC_NAME.fullmatch(name):
            raise ValueError("allowed: lowercase letters, digits and hyphens, such as success-rate")
        return name

    @field_validator("query")
    @classmethod
    def _query(cls, query: str) -> str:
        unknown = sorted(set(_PLACEHOLDER.findall(query)) - set(QUERY_PLACEHOLDERS))
        if unknown:
            raise ValueError(
                "unknown placeholder {"
                + unknown[0]
                + "}; allowed: "
                + ", ".join("{" + p + "}" for p in QUERY_PLACEHOLDERS)
            )
        if not query.strip():
            raise ValueError("allowed: a PromQL query or a CloudWatch statistic")
        return query

    @model_validator(mode="after")
    def _bounded(self) -> MetricCheck:
        if self.threshold_range is None and self.ratio_to_live is None:
            raise ValueError(
                f"metric {self.name} has nothing to judge by; allowed: thresholdRange, "
                "ratioToLive or both"
            )
        return self


# Requests the app exports as http_requests_total{service, slot, code} and the latency
# histogram http_request_duration_seconds{service, slot}: the labels the pods carry.
DEFAULT_METRICS = (
    MetricCheck.model_validate({
        "name": "success-rate",
        "query": (
            'sum(rate(http_requests_total{service="{service}",slot="{slot}",code!~"5.."}'
            '[{window}])) / sum(rate(http_requests_total{service="{service}",slot="{slot}"}'
            "[{window}]))"
        ),
        "thresholdRange": {"min": 0.99},
    }),
    MetricCheck.model_validate({
        "name": "latency-p95",
        "query": (
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
            '{service="{service}",slot="{slot}"}[{window}])))'
        ),
        "thresholdRange": {"max": 0.5},
        "ratioToLive": {"max": 1.5},
    }),
)  # fmt: skip


class SyntheticTraffic(Model):
    """Requests sent through the preview route (``path`` appended to it), or to ``url``,
    during every bake before promotion."""

    requests_per_second: Decimal = 5
    path: str = "/"
    url: str | None = None

    @field_validator("requests_per_second")
    @classmethod
    def _rate(cls, rate: float) -> float:
        if not 0.1 <= rate <= 100:
            raise ValueError("allowed: 0.1 to 100 requests per second")
        return rate

    @field_validator("path")
    @classmethod
    def _path(cls, path: str) -> str:
        if not path.startswith("/") or any(c.isspace() for c in path):
            raise ValueError("allowed: an absolute URL path such as /healthz")
        return path

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return None if url is None else _url_or_reference(url)


class AnalysisSettings(Model):
    provider: str = "prometheus"
    prometheus_url: str = "http://prometheus-server.monitoring.svc:80"
    interval_seconds: Number = 60
    # The range each query looks back over; at least the interval, so rounds do not miss
    # requests between them.
    window_seconds: Number = 60
    failure_limit: Number = 0
    inconclusive_limit: Number = 1
    consecutive_error_limit: Number = 2
    # What to do when inconclusive results pass the limit: roll back, or stop for a human.
    on_inconclusive: Literal["rollback", "pause"] = "rollback"
    metrics: tuple[MetricCheck, ...] = DEFAULT_METRICS
    synthetic_traffic: SyntheticTraffic | None = None

    @field_validator("provider")
    @classmethod
    def _provider(cls, provider: str) -> str:
        if provider not in PROVIDERS:
            raise ValueError("unknown metrics provider; allowed: " + ", ".join(PROVIDERS))
        return provider

    @field_validator("prometheus_url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not _URL.fullmatch(url):
            raise ValueError("allowed: an http:// or https:// URL")
        return url.rstrip("/")

    @field_validator("interval_seconds")
    @classmethod
    def _interval(cls, seconds: int) -> int:
        return within(seconds, 1, 3600, " seconds")

    @field_validator("window_seconds")
    @classmethod
    def _window(cls, seconds: int) -> int:
        return within(seconds, 1, 86400, " seconds")

    @field_validator("failure_limit", "inconclusive_limit", "consecutive_error_limit")
    @classmethod
    def _limit(cls, limit: int) -> int:
        return within(limit, 0, 100, " results past which the analysis stops")

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, metrics: tuple[MetricCheck, ...]) -> tuple[MetricCheck, ...]:
        if not metrics:
            raise ValueError("allowed: at least one metric (a release is never judged blind)")
        names = [m.name for m in metrics]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"metric {repeated[0]} is named twice; allowed: unique names")
        return metrics

    @model_validator(mode="after")
    def _cloudwatch_queries(self) -> AnalysisSettings:
        if self.provider == "cloudwatch":
            for metric in self.metrics:
                if metric.query not in CLOUDWATCH_STATISTICS:
                    raise ValueError(
                        f"metric {metric.name}: query {metric.query!r} is not a CloudWatch ALB "
                        "statistic; allowed: " + ", ".join(CLOUDWATCH_STATISTICS)
                    )
        if self.window_seconds < self.interval_seconds:
            raise ValueError(
                f"windowSeconds {self.window_seconds} is shorter than intervalSeconds "
                f"{self.interval_seconds}; allowed: at least the interval"
            )
        return self


class HttpCheck(Model):
    """A pre-rollout check: an HTTP GET (``url``; ``{preview}`` is the preview route) that
    must answer 2xx, or a command that must exit 0."""

    name: str
    url: str | None = None
    command: tuple[str, ...] | None = None
    timeout_seconds: Number = 60

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _HOOK_NAME.fullmatch(name):
            raise ValueError("allowed: lowercase letters, digits and hyphens")
        return name

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is not None:
            _url_or_reference(url.replace("{preview}", "http://preview"))
        return url

    @field_validator("timeout_seconds")
    @classmethod
    def _timeout(cls, seconds: int) -> int:
        return within(seconds, 1, 7200, " seconds")

    @model_validator(mode="after")
    def _one_kind(self) -> HttpCheck:
        if (self.url is None) == (self.command is None):
            raise ValueError(f"hook {self.name}: allowed: exactly one of url and command")
        if self.command is not None and not self.command:
            raise ValueError(f"hook {self.name}: allowed: a non-empty command")
        return self


class ConfirmGate(Model):
    """Manual judgement before promotion: wait for `platformctl approve` (or a 2xx from
    ``url``, as Flagger's confirm-promotion webhook) until ``timeoutSeconds``, then roll back."""

    url: str | None = None
    timeout_seconds: Number = 3600

    @field_validator("timeout_seconds")
    @classmethod
    def _timeout(cls, seconds: int) -> int:
        return within(seconds, 1, 7 * 86400, " seconds")

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return None if url is None else _url_or_reference(url)


class Hooks(Model):
    pre_rollout: tuple[HttpCheck, ...] = ()
    confirm_promotion: ConfirmGate | None = None
    # Every phase change is POSTed as JSON to each of these.
    notify: tuple[str, ...] = ()

    @field_validator("notify")
    @classmethod
    def _notify(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        for url in urls:
            _url_or_reference(url)
        return urls


class PromotionSettings(Model):
    """What a promotion *into* this stack requires of the image in the source stack."""

    source_soak_minutes: Number = 0
    require_approval: bool = False

    @field_validator("source_soak_minutes")
    @classmethod
    def _soak(cls, minutes: int) -> int:
        return within(minutes, 0, 30 * 1440, " minutes")


class DeliverySettings(Model):
    profile: str = "Progressive5-25-50-100"
    step_weights: tuple[Number, ...] | None = None
    step_bake_seconds: Number | None = None
    analysis: AnalysisSettings = AnalysisSettings()
    on_failure: Literal["rollback", "pause"] = "rollback"
    ready_timeout_seconds: Number = 600
    scale_down_delay_seconds: Number = 600
    # Blue-green: analyse the preview route before the switch and the live route after it;
    # autoPromotionSeconds is the least time the candidate stays in preview first.
    pre_promotion_analysis_seconds: Number = 300
    post_promotion_analysis_seconds: Number = 300
    auto_promotion_seconds: Number = 0
    # Argo's --aws-verify-target-group: read the ALB's listener rule and target health
    # before a bake starts, since the controller applies Ingress annotations asynchronously.
    verify_target_group: bool = True
    verify_timeout_seconds: Number = 300
    hooks: Hooks = Hooks()
    promotion: PromotionSettings = PromotionSettings()
    review: ReviewSettings = ReviewSettings()

    @field_validator("profile")
    @classmethod
    def _profile(cls, profile: str) -> str:
        if profile not in PROFILES:
            raise ValueError("unknown release profile; allowed: " + ", ".join(PROFILES))
        return profile

    @field_validator("step_weights")
    @classmethod
    def _steps(cls, weights: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if weights is None:
            return None
        if not weights or weights[-1] != 100:
            raise ValueError("allowed: rising weights that end at 100, such as [5, 25, 50, 100]")
        if any(w < 1 or w > 100 for w in weights) or list(weights) != sorted(set(weights)):
            raise ValueError("allowed: strictly rising weights from 1 to 100")
        return weights

    @field_validator(
        "step_bake_seconds", "ready_timeout_seconds", "scale_down_delay_seconds",
        "pre_promotion_analysis_seconds", "post_promotion_analysis_seconds",
        "auto_promotion_seconds", "verify_timeout_seconds",
    )  # fmt: skip
    @classmethod
    def _seconds(cls, seconds: int | None) -> int | None:
        return None if seconds is None else within(seconds, 0, 7 * 86400, " seconds")

    @property
    def weights(self) -> tuple[int, ...]:
        return self.step_weights or PROFILES[self.profile][0]

    @property
    def bake_seconds(self) -> int:
        if self.step_bake_seconds is not None:
            return self.step_bake_seconds
        return PROFILES[self.profile][1]
