"""``platform:delivery``: how the release driver moves traffic, measures it and promotes.

The knobs carry the names Argo Rollouts and Flagger use (``stepWeights``, ``failureLimit``,
``inconclusiveLimit``, ``consecutiveErrorLimit``, ``thresholdRange``, ``scaleDownDelaySeconds``,
``autoPromotionSeconds``); ``profile`` picks one of CodeDeploy's predefined configurations.
The program validates this block like every other; only the driver (platformctl) acts on it.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from infra.settings.base import Decimal, Model, Number, reference, within
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
QUERY_PLACEHOLDERS = ("stack", "service", "namespace", "slot", "window")
# analysis.alarms may name every alarm the stack made (stack output alarmNames) at once.
STACK_ALARMS = "stack"
_ALARM_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
# The ALB target-group statistics the CloudWatch provider knows how to ask for.
CLOUDWATCH_STATISTICS = ("success-rate", "error-rate", "latency-p95", "latency-p99", "requests")
_HOOK_NAME = _METRIC_NAME
_URL = re.compile(r"https?://[^\s]+")
# A URL that carries a credential (a chat webhook's token) is never written in a stack file:
# `${NAME}` stands for the URL in environment variable NAME, read when the hook runs.
ENV_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
_URL_ALLOWED = "an http:// or https:// URL, or ${VARIABLE} naming one in the environment"
_SECONDS_ALLOWED = "0 to 604,800 (7 days)"
# Files of the release driver that act on a block's settings (the configuration reference).
_MACHINE = "platformctl/machine.py"
_HOOKS = "platformctl/hooks.py"
_STEPS = "platformctl/driver_steps.py"
_BASE = "platformctl/driver_base.py"


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

    min: Decimal | None = Field(
        default=None,
        description="The least value that passes; unset: no lower bound.",
        json_schema_extra=reference(allowed="a number; at least one of min and max, min <= max"),
    )
    max: Decimal | None = Field(
        default=None,
        description="The greatest value that passes; unset: no upper bound.",
        json_schema_extra=reference(allowed="a number; at least one of min and max, min <= max"),
    )

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
    """One metric of the analysis. ``query`` is PromQL with ``{stack}``, ``{service}``,
    ``{namespace}``, ``{slot}`` and ``{window}`` placeholders (Prometheus), or one of the ALB
    target-group statistics (CloudWatch). ``thresholdRange`` bounds the candidate's value;
    ``ratioToLive`` bounds candidate / live, measured with the same query on the live slot."""

    READ_BY: ClassVar[tuple[str, ...]] = ("platformctl/judge.py",)

    name: str = Field(
        description="The metric's name in the release's events and verdicts.",
        json_schema_extra=reference(
            allowed="a lowercase letter, then up to 62 lowercase letters, digits and hyphens; "
            "unique among the metrics"
        ),
    )
    query: str = Field(
        description="What is measured: PromQL with {stack}, {service}, {namespace}, {slot} "
        "and {window} placeholders (Prometheus), or a target-group statistic (CloudWatch).",
        json_schema_extra=reference(
            allowed='PromQL using only those placeholders and filtering on stack="{stack}" '
            "(no stack is judged with another's series); with provider cloudwatch one of "
            + ", ".join(CLOUDWATCH_STATISTICS),
            read_by=("platformctl/prometheus.py", "platformctl/cloudwatch.py"),
        ),
    )
    threshold_range: Range | None = Field(
        default=None,
        description="Bounds on the candidate's value; a round fails outside them.",
        json_schema_extra=reference(
            allowed="the keys below; at least one of thresholdRange and ratioToLive"
        ),
    )
    ratio_to_live: Range | None = Field(
        default=None,
        description="Bounds on candidate / live, the same query measured on the live slot, "
        "so the candidate is judged against what serves now.",
        json_schema_extra=reference(
            allowed="the keys below; at least one of thresholdRange and ratioToLive"
        ),
    )

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


# Requests the app exports as http_requests_total{code} and the latency histogram
# http_request_duration_seconds; the collector labels every series with the stack, the
# service (the pods' app label), the slot and the namespace (components/collector_config.py).
_SELECTOR = 'stack="{stack}",service="{service}",slot="{slot}"'
DEFAULT_METRICS = (
    MetricCheck.model_validate({
        "name": "success-rate",
        "query": (
            f'sum(rate(http_requests_total{{{_SELECTOR},code!~"5.."}}[{{window}}])) / '
            f"sum(rate(http_requests_total{{{_SELECTOR}}}[{{window}}]))"
        ),
        "thresholdRange": {"min": 0.99},
    }),
    MetricCheck.model_validate({
        "name": "latency-p95",
        "query": (
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
            f"{{{_SELECTOR}}}[{{window}}])))"
        ),
        "thresholdRange": {"max": 0.5},
        "ratioToLive": {"max": 1.5},
    }),
)  # fmt: skip


class SyntheticTraffic(Model):
    """Requests sent through the preview route (``path`` appended to it), or to ``url``,
    during every bake before promotion."""

    requests_per_second: Decimal = Field(
        default=5,
        description="How many requests per second are sent.",
        json_schema_extra=reference(
            allowed="0.1 to 100", read_by=(_STEPS, "platformctl/synthetic.py")
        ),
    )
    path: str = Field(
        default="/",
        description="The path appended to the service's preview route.",
        json_schema_extra=reference(allowed="an absolute URL path (from /, no spaces)"),
    )
    url: str | None = Field(
        default=None,
        description="A URL the requests go to instead of the preview route.",
        json_schema_extra=reference(allowed=_URL_ALLOWED),
    )

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
    READ_BY: ClassVar[tuple[str, ...]] = (_STEPS,)

    provider: str = Field(
        default="prometheus",
        description="Where the measurements come from: Prometheus (PromQL queries) or "
        "CloudWatch (the load balancer's target-group statistics).",
        json_schema_extra=reference(
            allowed=", ".join(f"`{p}`" for p in PROVIDERS), read_by=("platformctl/wiring.py",)
        ),
    )
    prometheus_url: str | None = Field(
        default=None,
        description="A Prometheus of your own to query instead of the stack's Amazon Managed "
        "Prometheus workspace (which is asked with SigV4, from wherever platformctl runs).",
        json_schema_extra=reference(
            allowed="an http:// or https:// URL; unset: the stack's workspace "
            "(stack output prometheusQueryUrl)",
            read_by=("platformctl/wiring.py", "platformctl/prometheus.py"),
        ),
    )
    alarms: tuple[str, ...] = Field(
        default=(),
        description="CloudWatch alarms that fail an analysis round while any is in ALARM, "
        "as CodeDeploy's alarm configuration: alarm names, or `stack` for every alarm the "
        "stack made. A firing SLO alert of the service fails a round too.",
        json_schema_extra=reference(
            allowed="alarm names (1 to 255 characters, each once) or `stack`; a name no alarm "
            "has is refused before the release starts",
            read_by=("platformctl/alarms.py",),
        ),
    )
    interval_seconds: Number = Field(
        default=60,
        description="Seconds between analysis rounds.",
        json_schema_extra=reference(allowed="1 to 3600"),
    )
    # The range each query looks back over; at least the interval, so rounds do not miss
    # requests between them.
    window_seconds: Number = Field(
        default=60,
        description="The range, in seconds, each query looks back over; at least the interval, "
        "so that no requests fall between rounds.",
        json_schema_extra=reference(
            allowed="1 to 86,400, at least intervalSeconds",
            read_by=(_STEPS, "platformctl/prometheus.py", "platformctl/cloudwatch.py"),
        ),
    )
    failure_limit: Number = Field(
        default=0,
        description="Failed rounds an analysis tolerates; one more fails it.",
        json_schema_extra=reference(allowed="0 to 100", read_by=(_MACHINE,)),
    )
    inconclusive_limit: Number = Field(
        default=1,
        description="Inconclusive rounds an analysis tolerates; one more makes it inconclusive.",
        json_schema_extra=reference(allowed="0 to 100", read_by=(_MACHINE,)),
    )
    consecutive_error_limit: Number = Field(
        default=2,
        description="Rounds in a row that may fail to reach the metrics source; one more makes "
        "the analysis inconclusive.",
        json_schema_extra=reference(allowed="0 to 100", read_by=(_MACHINE,)),
    )
    # What to do when inconclusive results pass the limit: roll back, or stop for a human.
    on_inconclusive: Literal["rollback", "pause"] = Field(
        default="rollback",
        description="What an inconclusive analysis does: roll the release back, or pause it "
        "for a human.",
        json_schema_extra=reference(read_by=(_BASE, _MACHINE)),
    )
    metrics: tuple[MetricCheck, ...] = Field(
        default=DEFAULT_METRICS,
        description="The checks of every analysis round; by default a success rate of at "
        "least 0.99 and a p95 latency of at most 0.5 s and 1.5 times the live slot's.",
        json_schema_extra=reference(allowed="the keys below; at least one, names unique"),
    )
    synthetic_traffic: SyntheticTraffic | None = Field(
        default=None,
        description="Requests sent to the candidate during every bake before promotion, so "
        "the analysis has traffic to measure even when users send little.",
    )

    @field_validator("provider")
    @classmethod
    def _provider(cls, provider: str) -> str:
        if provider not in PROVIDERS:
            raise ValueError("unknown metrics provider; allowed: " + ", ".join(PROVIDERS))
        return provider

    @field_validator("prometheus_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is not None and not _URL.fullmatch(url):
            raise ValueError("allowed: an http:// or https:// URL")
        return None if url is None else url.rstrip("/")

    @field_validator("alarms")
    @classmethod
    def _alarms(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            if not _ALARM_NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not an alarm name; allowed: 1 to 255 characters without "
                    "control characters, or `stack`"
                )
        if len(set(names)) != len(names):
            raise ValueError("an alarm is named twice; allowed: each once")
        return names

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
        if self.provider == "prometheus":
            for metric in self.metrics:
                if "{stack}" not in metric.query:
                    raise ValueError(
                        f"metric {metric.name}: the query does not filter on the stack; "
                        'allowed: PromQL whose selectors hold stack="{stack}", so that no '
                        "stack is ever judged with another's series"
                    )
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

    READ_BY: ClassVar[tuple[str, ...]] = (_HOOKS,)

    name: str = Field(
        description="The check's name in the release's events.",
        json_schema_extra=reference(
            allowed="a lowercase letter, then up to 62 lowercase letters, digits and hyphens"
        ),
    )
    url: str | None = Field(
        default=None,
        description="A URL that must answer a GET with 2xx; {preview} stands for the "
        "service's preview route.",
        json_schema_extra=reference(
            allowed="an http:// or https:// URL, which may hold {preview}, or ${VARIABLE} naming "
            "one in the environment; exactly one of url and command"
        ),
    )
    command: tuple[str, ...] | None = Field(
        default=None,
        description="A command, as a program and its arguments, that must exit 0; it gets "
        "the preview route as PREVIEW_URL.",
        json_schema_extra=reference(
            allowed="a non-empty list of arguments; exactly one of url and command"
        ),
    )
    timeout_seconds: Number = Field(
        default=60,
        description="How long the check may take before it counts as failed.",
        json_schema_extra=reference(allowed="1 to 7200"),
    )

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

    READ_BY: ClassVar[tuple[str, ...]] = (_HOOKS,)

    url: str | None = Field(
        default=None,
        description="A URL whose 2xx answer confirms the promotion, as Flagger's "
        "confirm-promotion webhook; without it only `platformctl approve` does.",
        json_schema_extra=reference(allowed=_URL_ALLOWED),
    )
    timeout_seconds: Number = Field(
        default=3600,
        description="How long the release waits for the confirmation before it rolls back.",
        json_schema_extra=reference(allowed="1 to 604,800 (7 days)", read_by=(_MACHINE,)),
    )

    @field_validator("timeout_seconds")
    @classmethod
    def _timeout(cls, seconds: int) -> int:
        return within(seconds, 1, 7 * 86400, " seconds")

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return None if url is None else _url_or_reference(url)


class Hooks(Model):
    READ_BY: ClassVar[tuple[str, ...]] = (_HOOKS,)

    pre_rollout: tuple[HttpCheck, ...] = Field(
        default=(),
        description="Checks of the candidate before it takes any traffic, in order; the first "
        "that fails stops the rest and fails the step.",
        json_schema_extra=reference(read_by=(_HOOKS, _MACHINE)),
    )
    confirm_promotion: ConfirmGate | None = Field(
        default=None,
        description="A manual gate before promotion: the release waits for an approval.",
        json_schema_extra=reference(read_by=(_HOOKS, _MACHINE)),
    )
    # Every phase change is POSTed as JSON to each of these.
    notify: tuple[str, ...] = Field(
        default=(),
        description="URLs every phase change of a release is POSTed to as JSON (a chat "
        "webhook, say).",
        json_schema_extra=reference(allowed=f"{_URL_ALLOWED} (for a URL that holds a token)"),
    )

    @field_validator("notify")
    @classmethod
    def _notify(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        for url in urls:
            _url_or_reference(url)
        return urls


class PromotionSettings(Model):
    """What a promotion *into* this stack requires of the image in the source stack."""

    READ_BY: ClassVar[tuple[str, ...]] = ("platformctl/wiring.py", "platformctl/promotion.py")

    source_soak_minutes: Number = Field(
        default=0,
        description="How long the image must have been live in the source stack before it may "
        "be promoted into this one.",
        json_schema_extra=reference(allowed="0 to 43,200 minutes (30 days)"),
    )
    require_approval: bool = Field(
        default=False,
        description="Whether a promotion into this stack needs a recorded approval "
        "(`--approve`, or the approver of a CI environment).",
    )

    @field_validator("source_soak_minutes")
    @classmethod
    def _soak(cls, minutes: int) -> int:
        return within(minutes, 0, 30 * 1440, " minutes")


class DeliverySettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = (_MACHINE,)

    profile: str = Field(
        default="Progressive5-25-50-100",
        description="The canary's steps and bake time, as one of CodeDeploy's predefined "
        "configurations or Progressive5-25-50-100 (5, 25, 50, 100 %, 5 minutes each).",
        json_schema_extra=reference(allowed=", ".join(f"`{p}`" for p in PROFILES)),
    )
    step_weights: tuple[Number, ...] | None = Field(
        default=None,
        description="The candidate's share of traffic at each canary step, in place of the "
        "profile's.",
        json_schema_extra=reference(
            allowed="strictly rising percents from 1 to 100 that end at 100, such as "
            "[5, 25, 50, 100]; unset: the profile's"
        ),
    )
    step_bake_seconds: Number | None = Field(
        default=None,
        description="How long each canary step is analysed before the next, in place of the "
        "profile's time.",
        json_schema_extra=reference(allowed=f"{_SECONDS_ALLOWED}; unset: the profile's"),
    )
    analysis: AnalysisSettings = Field(
        default=AnalysisSettings(),
        description="How a release is measured: the metrics source, the checks, and how many "
        "bad rounds are tolerated.",
        json_schema_extra=reference(read_by=(_STEPS, _MACHINE)),
    )
    on_failure: Literal["rollback", "pause"] = Field(
        default="rollback",
        description="What a release does when a step fails: roll back, or pause for a human; "
        "`release --on-failure` overrides it for one release.",
        json_schema_extra=reference(read_by=(_BASE, _MACHINE)),
    )
    ready_timeout_seconds: Number = Field(
        default=600,
        description="How long the candidate may take to become healthy at the load balancer "
        "before the step fails.",
        json_schema_extra=reference(allowed=_SECONDS_ALLOWED, read_by=(_STEPS,)),
    )
    scale_down_delay_seconds: Number = Field(
        default=600,
        description="How long the old slot stays warm after promotion, for an instant "
        "rollback, before it is scaled down.",
        json_schema_extra=reference(allowed=_SECONDS_ALLOWED),
    )
    # Blue-green: analyse the preview route before the switch and the live route after it;
    # autoPromotionSeconds is the least time the candidate stays in preview first.
    pre_promotion_analysis_seconds: Number = Field(
        default=300,
        description="Blue-green: how long the candidate is analysed on the preview route "
        "before the switch; autoPromotionSeconds instead when that is longer.",
        json_schema_extra=reference(allowed=_SECONDS_ALLOWED),
    )
    post_promotion_analysis_seconds: Number = Field(
        default=300,
        description="Blue-green: how long the new live slot is analysed after the switch.",
        json_schema_extra=reference(allowed=_SECONDS_ALLOWED),
    )
    auto_promotion_seconds: Number = Field(
        default=0,
        description="Blue-green: the least time the candidate stays on the preview route "
        "before the switch.",
        json_schema_extra=reference(allowed=_SECONDS_ALLOWED),
    )
    # Argo's --aws-verify-target-group: read the ALB's listener rule and target health
    # before a bake starts, since the controller applies Ingress annotations asynchronously.
    verify_target_group: bool = Field(
        default=True,
        description="Checks the load balancer's weights and target health before each bake, "
        "since the controller applies Ingress changes asynchronously.",
        json_schema_extra=reference(read_by=("platformctl/driver_acts.py",)),
    )
    verify_timeout_seconds: Number = Field(
        default=300,
        description="How long the load balancer may take to show the expected weights and "
        "healthy targets after a change.",
        json_schema_extra=reference(
            allowed=_SECONDS_ALLOWED, read_by=(_STEPS, "platformctl/driver_rollback.py")
        ),
    )
    hooks: Hooks = Field(
        default=Hooks(),
        description="Checks before the rollout, a manual gate before promotion, and "
        "notifications of every phase change.",
        json_schema_extra=reference(read_by=(_HOOKS, _MACHINE)),
    )
    promotion: PromotionSettings = Field(
        default=PromotionSettings(),
        description="What a promotion into this stack requires of the image in the source stack.",
    )
    review: ReviewSettings = Field(
        default=ReviewSettings(),
        description="The advisory AI review: before a release, after each passing analysis "
        "step, and of a failed `up`.",
    )

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
