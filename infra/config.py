"""Typed stack settings: one validated model per stack, built once at the edge.

The program builds it from ``pulumi.Config`` (:func:`load_settings`); offline tools build it
from the stack file (:func:`load_settings_from_stack_file`). Both go through
:func:`parse_settings`, which reports every problem at once, one line each, naming the stack,
the key, the bad value and what is allowed, before any resource is registered.
Components never see ``pulumi.Config``: they receive the plain values held here.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from components.subnet_plan import (
    SubnetPlan,
    SubnetPlanError,
    Tier,
    check_explicit_plan,
    plan_subnets,
)
from infra.aws_regions import REGION_ZONES

NAMESPACE = "platform"

Environment = Literal["dev", "staging", "prod"]

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
PROD_MIN_LOG_RETENTION_DAYS = 365

INTERFACE_ENDPOINT_SERVICES = (
    "ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager", "kms", "ssm", "ssmmessages",
    "ec2messages", "ec2", "elasticloadbalancing", "autoscaling", "monitoring", "sqs", "sns",
    "xray",
)  # fmt: skip
DEFAULT_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager")

RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_TAG_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.:/=+-@")


class SettingsError(pulumi.RunError):
    """Invalid stack settings. A ``RunError`` so that Pulumi prints it without a traceback."""

    def __init__(self, stack: str, source: str, problems: list[Problem]):
        self.stack = stack
        self.source = source
        self.problems = problems
        noun = "setting" if len(problems) == 1 else "settings"
        lines = [f"stack '{stack}' has {len(problems)} invalid {noun} ({source}):"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Problem:
    key: str
    value: Any
    message: str
    missing: bool = False

    def __str__(self) -> str:
        if self.missing:
            return f"{self.key}: {self.message}"
        return f"{self.key} = {_show(self.value)}: {self.message}"


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _not_a_bool(value: Any) -> Any:
    # pydantic would read `true` as 1; a count or a number of days is never a yes/no.
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a number; allowed: a whole number")
    return value


Number = Annotated[int, BeforeValidator(_not_a_bool)]

# Keys the standard tags own (infra/tagging.py); platform:tags may not redefine them.
STANDARD_TAG_KEYS = ("project", "stack", "environment", "owner", "cost-center", "managed-by")


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, validate_by_alias=True, frozen=True
    )


def _tag_text(value: str, limit: int) -> str:
    if not value or len(value) > limit or not set(value) <= _TAG_CHARS:
        raise ValueError(
            f"allowed: 1 to {limit} characters of letters, digits, spaces and _.:/=+-@"
        )
    return value


class SubnetPrefixLengths(_Model):
    """Prefix length of each tier's subnet in every zone."""

    public: Number = 24
    private: Number = 20
    isolated: Number = 24


class SubnetCidrs(_Model):
    """An explicit plan, one CIDR per zone per tier, for VPCs that must fit an IP plan."""

    public: list[ipaddress.IPv4Network]
    private: list[ipaddress.IPv4Network]
    isolated: list[ipaddress.IPv4Network]


class NetworkSettings(_Model):
    cidr: ipaddress.IPv4Network
    availability_zone_count: Number = 3
    nat_gateways: Literal["perAz", "single"] = "perAz"
    allow_single_nat_gateway: bool = False
    subnet_prefix_lengths: SubnetPrefixLengths = SubnetPrefixLengths()
    subnet_cidrs: SubnetCidrs | None = None
    flow_log_traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = "ALL"
    s3_gateway_endpoint: bool = True
    interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS

    @field_validator("cidr")
    @classmethod
    def _private_and_sized(cls, net: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not any(net.subnet_of(block) for block in RFC1918):
            raise ValueError(
                "not a private range; allowed: a block inside 10.0.0.0/8, 172.16.0.0/12 "
                "or 192.168.0.0/16"
            )
        if not 16 <= net.prefixlen <= 28:
            raise ValueError("allowed: a VPC prefix between /16 and /28")
        return net

    @field_validator("availability_zone_count")
    @classmethod
    def _at_least_two_zones(cls, count: int) -> int:
        if count < 2:
            raise ValueError("allowed: 2 or more (one zone cannot survive a zone outage)")
        return count

    @field_validator("interface_endpoints")
    @classmethod
    def _known_services(cls, services: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in services if s not in INTERFACE_ENDPOINT_SERVICES]
        if unknown:
            raise ValueError(
                f"unknown service {', '.join(unknown)}; allowed: "
                + ", ".join(INTERFACE_ENDPOINT_SERVICES)
            )
        if len(set(services)) != len(services):
            raise ValueError("each service may appear only once")
        return services


class PlatformConfig(_Model):
    """Everything under the ``platform:`` namespace of a stack file."""

    environment: Environment
    owner: str
    cost_center: str
    tags: dict[str, str] = Field(default_factory=dict)
    protect_resources: bool = True
    log_retention_days: Number = 365
    kms_key_deletion_window_days: Number = 30
    network: NetworkSettings

    @field_validator("owner", "cost_center")
    @classmethod
    def _tag_value(cls, value: str) -> str:
        return _tag_text(value, 256)

    @field_validator("tags")
    @classmethod
    def _extra_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        for key, value in tags.items():
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag key {key!r} uses the reserved aws: prefix")
            if key in STANDARD_TAG_KEYS:
                raise ValueError(
                    f"tag key {key!r} is a standard tag set from the stack's settings; "
                    f"allowed: any key but {', '.join(STANDARD_TAG_KEYS)}"
                )
            try:
                _tag_text(key, 128)
            except ValueError as exc:
                raise ValueError(f"tag key {key!r}: {exc}") from None
            try:
                _tag_text(value, 256)
            except ValueError as exc:
                raise ValueError(f"value of tag {key!r}: {exc}") from None
        return tags

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, days: int) -> int:
        if days not in LOG_RETENTION_DAYS:
            raise ValueError(
                "allowed (CloudWatch Logs): " + ", ".join(map(str, LOG_RETENTION_DAYS))
            )
        return days

    @field_validator("kms_key_deletion_window_days")
    @classmethod
    def _kms_window(cls, days: int) -> int:
        if not 7 <= days <= 30:
            raise ValueError("allowed: 7 to 30 days")
        return days


@dataclass(frozen=True)
class StackSettings:
    """The validated settings of one stack: what the program and components receive."""

    project: str
    stack: str
    region: str
    platform: PlatformConfig
    subnet_plan: SubnetPlan

    @property
    def environment(self) -> Environment:
        return self.platform.environment

    @property
    def is_prod(self) -> bool:
        return self.platform.environment == "prod"

    @property
    def name_prefix(self) -> str:
        return f"{self.project}-{self.stack}"


def parse_settings(
    config: Mapping[str, Any],
    *,
    project: str,
    stack: str,
    source: str,
    secret_keys: frozenset[str] = frozenset(),
) -> StackSettings:
    """Validate a stack's full config map (``namespace:key`` -> value).

    Values may be typed (from YAML) or strings (as the Pulumi CLI hands them to programs).
    Raises :class:`SettingsError` listing every problem.
    """

    problems: list[Problem] = []
    platform_raw: dict[str, Any] = {}
    secret_settings: set[str] = set()
    for full_key, value in config.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        if full_key in secret_keys:
            # No platform setting is a secret; saying so beats validating a placeholder.
            secret_settings.add(full_key)
            problems.append(
                Problem(
                    full_key,
                    "[secret]",
                    "set as a secret, but platform settings are plain values; allowed: "
                    f"`pulumi config set {full_key} VALUE` without --secret",
                )
            )
            continue
        platform_raw[key] = _decode(value)

    region = config.get("aws:region")
    if region is not None and not isinstance(region, str):
        problems.append(Problem("aws:region", region, "allowed: a region name such as us-east-1"))
        region = None
    elif region is None:
        problems.append(
            Problem(
                "aws:region",
                None,
                "required key is missing; allowed: an AWS region such as us-east-1",
                missing=True,
            )
        )
    elif region not in REGION_ZONES:
        shown = "[secret]" if "aws:region" in secret_keys else region
        problems.append(
            Problem("aws:region", shown, "unknown region; allowed: " + ", ".join(REGION_ZONES))
        )

    platform: PlatformConfig | None = None
    try:
        platform = PlatformConfig.model_validate(platform_raw)
    except ValidationError as exc:
        problems += [
            problem
            for problem in map(_problem_from_pydantic, exc.errors())
            if not (problem.missing and problem.key in secret_settings)
        ]

    plan: SubnetPlan | None = None
    if platform is not None:
        problems += _environment_rules(platform)
        network = platform.network
        if region in REGION_ZONES and network.availability_zone_count > len(REGION_ZONES[region]):
            problems.append(
                Problem(
                    "platform:network.availabilityZoneCount",
                    network.availability_zone_count,
                    f"{region} offers {len(REGION_ZONES[region])} availability zones; "
                    f"allowed: 2 to {len(REGION_ZONES[region])}",
                )
            )
        else:
            plan, plan_problem = _subnet_plan(network)
            if plan_problem:
                problems.append(plan_problem)

    if problems:
        raise SettingsError(stack, source, problems)
    assert platform is not None and plan is not None and region is not None
    return StackSettings(
        project=project, stack=stack, region=region, platform=platform, subnet_plan=plan
    )


def _environment_rules(platform: PlatformConfig) -> list[Problem]:
    """What an environment profile demands beyond well-formed values."""
    if platform.environment != "prod":
        return []
    problems = []
    network = platform.network
    if network.nat_gateways == "single" and not network.allow_single_nat_gateway:
        problems.append(
            Problem(
                "platform:network.natGateways",
                "single",
                "prod needs a NAT gateway per zone so one zone's outage does not cut the "
                "others' egress; allowed: perAz, or single with "
                "platform:network.allowSingleNatGateway: true",
            )
        )
    if not platform.protect_resources:
        problems.append(
            Problem(
                "platform:protectResources",
                False,
                "prod resources must be protected from deletion; allowed: true",
            )
        )
    if platform.log_retention_days < PROD_MIN_LOG_RETENTION_DAYS:
        problems.append(
            Problem(
                "platform:logRetentionDays",
                platform.log_retention_days,
                f"prod keeps logs for at least {PROD_MIN_LOG_RETENTION_DAYS} days; allowed: "
                + ", ".join(str(d) for d in LOG_RETENTION_DAYS if d >= PROD_MIN_LOG_RETENTION_DAYS),
            )
        )
    return problems


def _subnet_plan(network: NetworkSettings) -> tuple[SubnetPlan | None, Problem | None]:
    zones = network.availability_zone_count
    try:
        if network.subnet_cidrs is not None:
            explicit = network.subnet_cidrs
            cidrs = {Tier(t): getattr(explicit, t) for t in Tier}
            return check_explicit_plan(network.cidr, zones, cidrs), None
        lengths = network.subnet_prefix_lengths
        prefixes = {Tier(t): getattr(lengths, t) for t in Tier}
        return plan_subnets(network.cidr, zones, prefixes), None
    except SubnetPlanError as exc:
        if network.subnet_cidrs is not None:
            key = "platform:network.subnetCidrs"
            value: Any = network.subnet_cidrs.model_dump(mode="json")
        else:
            key = "platform:network.subnetPrefixLengths"
            value = network.subnet_prefix_lengths.model_dump(mode="json")
        return None, Problem(key, value, f"{exc} (VPC {network.cidr}, {zones} zones)")


def _decode(value: Any) -> Any:
    """The CLI hands structured config to programs as JSON text; YAML gives it typed."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _problem_from_pydantic(err: Any) -> Problem:
    # Secret platform: keys were refused before validation, so values here are plain.
    loc = tuple(err["loc"])
    key = _render_key(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return Problem(
            key,
            err.get("input"),
            f"unknown key ({hint}typos are not ignored); allowed: " + ", ".join(allowed),
        )
    if kind == "missing":
        return Problem(key, None, "required key is missing", missing=True)
    message = str(err["msg"]).removeprefix("Value error, ")
    return Problem(key, err.get("input"), message)


def _render_key(loc: tuple[Any, ...]) -> str:
    text = NAMESPACE
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += (":" if i == 0 else ".") + str(part)
    return text


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = PlatformConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = next(
            (f for name, f in model.model_fields.items() if (f.alias or name) == part), None
        )
        if field is None:
            return []
        inner = _model_in(field.annotation)
        if inner is None:
            return []
        model = inner
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def load_settings() -> StackSettings:
    """Build the settings inside a running Pulumi program."""
    config, secret_keys = _pulumi_config_snapshot()
    stack = pulumi.get_stack()
    return parse_settings(
        config,
        project=pulumi.get_project(),
        stack=stack,
        source=f"Pulumi.{stack}.yaml",
        secret_keys=secret_keys,
    )


def load_settings_from_stack_file(project_dir: Path, stack: str) -> StackSettings:
    """Build the settings offline, from ``Pulumi.<stack>.yaml``, without a Pulumi engine."""
    from infra.preview.project import load_project, load_stack_config

    project = load_project(project_dir)
    stack_config = load_stack_config(project, stack)
    return parse_settings(
        stack_config.values,
        project=project.name,
        stack=stack,
        source=stack_config.path.name,
        secret_keys=stack_config.secret_keys,
    )


def _pulumi_config_snapshot() -> tuple[dict[str, Any], frozenset[str]]:
    # pulumi.Config reads one key at a time and cannot list keys, but rejecting unknown
    # (misspelt) keys needs the whole map, so read the runtime's config store directly.
    from pulumi.runtime import config as runtime_config

    merged: dict[str, Any] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    normalised = {}
    for key, value in merged.items():
        namespace, _, rest = key.partition(":")
        normalised[f"{namespace}:{rest.removeprefix('config:')}"] = value
    env_secret_keys = set(runtime_config.get_config_secret_keys_env())
    secret_keys = frozenset(
        k for k in normalised if runtime_config.is_config_secret(k) or k in env_secret_keys
    )
    return normalised, secret_keys
