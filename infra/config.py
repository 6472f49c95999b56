"""Typed stack settings: one validated model per stack, built once at the edge.

The program builds it from ``pulumi.Config`` (:func:`load_settings`); the tools build it from
the stack file (``platformctl.world.settings_from_stack_file``). Both go through
:func:`parse_settings`, which reports every problem at once, one line each, naming the stack,
the key, the bad value and what is allowed, before any resource is registered.
Components never see ``pulumi.Config``: they receive the plain values held here.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

from components.subnet_plan import (
    SubnetPlan,
    SubnetPlanError,
    Tier,
    check_explicit_plan,
    plan_subnets,
)
from infra.settings.app import app_problems
from infra.settings.backup import backup_problems
from infra.settings.base import Problem
from infra.settings.network import NetworkSettings
from infra.settings.observability import ALERT_WEBHOOK_KEY, observability_problems
from infra.settings.pins import pin_problems
from infra.settings.platform_config import Environment, PlatformConfig
from infra.settings.profile import environment_problems
from infra.settings.runner import runner_problems
from platform_common.aws_regions import REGION_ZONES
from platform_common.pulumi_values import SECRET_MARK

NAMESPACE = "platform"


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


# Settings that were replaced: what a stack file that still has one is told instead.
RETIRED_KEYS = {
    "platform:database.performanceInsightsRetentionDays": (
        "Performance Insights' console was retired into CloudWatch Database Insights; set "
        "platform:database.insights instead (allowed: standard, 7 days of history; advanced, "
        "465 days with execution plans)"
    ),
}


@dataclass(frozen=True)
class StackSettings:
    """The validated settings of one stack: what the program and components receive."""

    project: str
    stack: str
    region: str
    platform: PlatformConfig
    subnet_plan: SubnetPlan
    # The secret alerts:chatWebhookUrl is set (its value is read only by the program, as a
    # Pulumi secret: alert_webhook_url()).
    alert_webhook: bool = False

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

    problems: list[Problem] = _name_problems(project, stack)
    platform_raw, secret_settings, value_problems = _platform_values(config, secret_keys)
    region, region_problems = _region(config, secret_keys)
    problems += value_problems + region_problems + _alert_webhook_problems(config, secret_keys)
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
        problems += environment_problems(platform)
        problems += app_problems(platform, region)
        problems += pin_problems(
            platform.cluster, platform.database, platform.cache, platform.observability
        )
        problems += observability_problems(platform)
        problems += backup_problems(platform, region)
        problems += runner_problems(platform)
        plan, plan_problems = _network_plan(platform.network, region)
        problems += plan_problems

    if problems:
        raise SettingsError(stack, source, problems)
    assert platform is not None and plan is not None and region is not None
    return StackSettings(
        project=project, stack=stack, region=region, platform=platform, subnet_plan=plan,
        alert_webhook=ALERT_WEBHOOK_KEY in config,
    )  # fmt: skip


def _platform_values(
    config: Mapping[str, Any], secret_keys: frozenset[str]
) -> tuple[dict[str, Any], set[str], list[Problem]]:
    """The ``platform:`` keys without their namespace, and the ones wrongly set as secrets."""
    values: dict[str, Any] = {}
    secret_settings: set[str] = set()
    problems: list[Problem] = []
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
        values[key] = _decode(value)
    return values, secret_settings, problems


def _region(
    config: Mapping[str, Any], secret_keys: frozenset[str]
) -> tuple[str | None, list[Problem]]:
    """``aws:region`` when it is a known region, else None and why."""
    region = config.get("aws:region")
    if region is None:
        return None, [
            Problem(
                "aws:region",
                None,
                "required key is missing; allowed: an AWS region such as us-east-1",
                missing=True,
            )
        ]
    if not isinstance(region, str):
        return None, [Problem("aws:region", region, "allowed: a region name such as us-east-1")]
    if region not in REGION_ZONES:
        shown = "[secret]" if "aws:region" in secret_keys else region
        return None, [
            Problem("aws:region", shown, "unknown region; allowed: " + ", ".join(REGION_ZONES))
        ]
    return region, []


def _alert_webhook_problems(
    config: Mapping[str, Any], secret_keys: frozenset[str]
) -> list[Problem]:
    """The chat webhook's URL holds its token: it must be a secret, and its value is never
    shown, not even in the error that says it is not one."""
    value = config.get(ALERT_WEBHOOK_KEY)
    if value is None:
        return []
    if ALERT_WEBHOOK_KEY not in secret_keys:
        return [
            Problem(
                ALERT_WEBHOOK_KEY,
                "[not shown: a credential]",
                "the URL holds the webhook's token, so it is set as a secret; allowed: "
                f"pulumi config set --secret {ALERT_WEBHOOK_KEY} https://...",
            )
        ]
    # Offline and in platformctl the value is a placeholder; the program sees it decrypted.
    if isinstance(value, str) and value != SECRET_MARK and not value.startswith("https://"):
        return [Problem(ALERT_WEBHOOK_KEY, SECRET_MARK, "allowed: an https:// URL")]
    return []


def alert_webhook_url() -> pulumi.Output[str]:
    """The chat webhook's URL, as the Pulumi secret it is (inside a running program)."""
    namespace, _, key = ALERT_WEBHOOK_KEY.partition(":")
    return pulumi.Config(namespace).require_secret(key)


def _network_plan(
    network: NetworkSettings, region: str | None
) -> tuple[SubnetPlan | None, list[Problem]]:
    if region is not None and network.availability_zone_count > len(REGION_ZONES[region]):
        return None, [
            Problem(
                "platform:network.availabilityZoneCount",
                network.availability_zone_count,
                f"{region} offers {len(REGION_ZONES[region])} availability zones; "
                f"allowed: 2 to {len(REGION_ZONES[region])}",
            )
        ]
    plan, plan_problem = _subnet_plan(network)
    return plan, [plan_problem] if plan_problem else []


# Resource names start with "<project>-<stack>"; the tightest limit is ElastiCache's
# 40-character replication group id, which adds "-cache".
MAX_NAME_PREFIX = 34
_NAME_PREFIX = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def _name_problems(project: str, stack: str) -> list[Problem]:
    prefix = f"{project}-{stack}"
    if _NAME_PREFIX.fullmatch(prefix) and len(prefix) <= MAX_NAME_PREFIX:
        return []
    return [
        Problem(
            "project and stack name",
            prefix,
            "AWS names built from it would be refused; allowed: lowercase letters, digits "
            f"and single hyphens, starting with a letter, {MAX_NAME_PREFIX} characters in all",
        )
    ]


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
    if kind == "extra_forbidden" and key in RETIRED_KEYS:
        return Problem(key, err.get("input"), RETIRED_KEYS[key])
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
