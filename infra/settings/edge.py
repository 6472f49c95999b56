"""``platform:firewall`` (WAFv2 in front of the app) and ``platform:registry`` (ECR)."""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from infra.settings.base import Model, Number, matching, reference, within

# AWS managed rule groups this platform knows how to place, in evaluation order.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet",
    "AWSManagedRulesUnixRuleSet",
)
DEFAULT_MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet",
)
# Chat prompts are often longer than the 8 KB body the common rule set blocks by default.
DEFAULT_COUNT_ONLY_RULES = ("AWSManagedRulesCommonRuleSet:SizeRestrictions_BODY",)
RATE_LIMIT_MIN, RATE_LIMIT_MAX = 10, 2_000_000_000  # what WAF accepts per evaluation window
RATE_WINDOWS_SECONDS = (60, 120, 300, 600)
_COUNTRY = re.compile(r"[A-Z]{2}")
_RULE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_REPOSITORY = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*")
_COUNTRIES_ALLOWED = (
    "ISO 3166 alpha-2 country codes in capitals, such as DE; a code in at most one of "
    "blockedCountries and allowedCountries"
)
_CIDRS_ALLOWED = "IPv4 CIDRs with a prefix of /1 to /32 (not 0.0.0.0/0)"


class FirewallSettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("components/firewall.py",)

    rate_limit: Number = Field(
        default=2000,
        description="Requests one client IP address may send per window before the firewall "
        "blocks it.",
        json_schema_extra=reference(
            allowed=f"{RATE_LIMIT_MIN} to {RATE_LIMIT_MAX:,} (what WAF accepts)"
        ),
    )
    rate_limit_window_seconds: Number = Field(
        default=300,
        description="The window, in seconds, over which the per-IP rate limit counts requests.",
        json_schema_extra=reference(allowed=", ".join(map(str, RATE_WINDOWS_SECONDS))),
    )
    managed_rule_groups: tuple[str, ...] = Field(
        default=DEFAULT_MANAGED_RULE_GROUPS,
        description="The AWS managed rule groups the web ACL evaluates, in the order given, "
        "after the address, country and rate rules.",
        json_schema_extra=reference(
            allowed="each at most once, of: " + ", ".join(MANAGED_RULE_GROUPS)
        ),
    )
    count_only_rules: tuple[str, ...] = Field(
        default=DEFAULT_COUNT_ONLY_RULES,
        description="Rules of the managed groups that only count matches instead of blocking; "
        "by default the 8 KB body limit, which chat prompts exceed.",
        json_schema_extra=reference(
            allowed="`Group:Rule`, naming a group in managedRuleGroups and one of its rules"
        ),
    )
    blocked_countries: tuple[str, ...] = Field(
        default=(),
        description="Countries whose requests are blocked.",
        json_schema_extra=reference(allowed=_COUNTRIES_ALLOWED),
    )
    allowed_countries: tuple[str, ...] = Field(
        default=(),
        description="When set, only requests from these countries pass; every other country "
        "is blocked.",
        json_schema_extra=reference(allowed=_COUNTRIES_ALLOWED),
    )
    blocked_ip_cidrs: tuple[ipaddress.IPv4Network, ...] = Field(
        default=(),
        description="Client address ranges whose requests are blocked.",
        json_schema_extra=reference(allowed=_CIDRS_ALLOWED),
    )
    allowed_ip_cidrs: tuple[ipaddress.IPv4Network, ...] = Field(
        default=(),
        description="When set, only requests from these client ranges pass; every other "
        "address is blocked.",
        json_schema_extra=reference(allowed=_CIDRS_ALLOWED),
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, limit: int) -> int:
        return within(limit, RATE_LIMIT_MIN, RATE_LIMIT_MAX, " requests per client IP per window")

    @field_validator("rate_limit_window_seconds")
    @classmethod
    def _rate_window(cls, seconds: int) -> int:
        if seconds not in RATE_WINDOWS_SECONDS:
            raise ValueError("allowed: " + ", ".join(map(str, RATE_WINDOWS_SECONDS)))
        return seconds

    @field_validator("managed_rule_groups")
    @classmethod
    def _known_groups(cls, groups: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [g for g in groups if g not in MANAGED_RULE_GROUPS]
        if unknown:
            raise ValueError(
                f"unknown rule group {', '.join(unknown)}; allowed: "
                + ", ".join(MANAGED_RULE_GROUPS)
            )
        if len(set(groups)) != len(groups):
            raise ValueError("each rule group may appear only once")
        return groups

    @field_validator("count_only_rules")
    @classmethod
    def _rule_references(cls, rules: tuple[str, ...]) -> tuple[str, ...]:
        for rule in rules:
            group, _, name = rule.partition(":")
            if group not in MANAGED_RULE_GROUPS or not _RULE_NAME.fullmatch(name):
                raise ValueError(
                    f"{rule!r} is not GROUP:RULE; allowed: a managed rule group and one of its "
                    "rules, such as AWSManagedRulesCommonRuleSet:SizeRestrictions_BODY"
                )
        return rules

    @field_validator("blocked_countries", "allowed_countries")
    @classmethod
    def _countries(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        for code in codes:
            matching(code, _COUNTRY, "ISO 3166 alpha-2 country codes in capitals, such as DE")
        return codes

    @field_validator("blocked_ip_cidrs", "allowed_ip_cidrs")
    @classmethod
    def _not_everything(
        cls, cidrs: tuple[ipaddress.IPv4Network, ...]
    ) -> tuple[ipaddress.IPv4Network, ...]:
        if any(cidr.prefixlen == 0 for cidr in cidrs):
            raise ValueError("0.0.0.0/0 matches every client; allowed: prefixes /1 to /32")
        return cidrs

    @model_validator(mode="after")
    def _consistent(self) -> FirewallSettings:
        for rule in self.count_only_rules:
            group = rule.partition(":")[0]
            if group not in self.managed_rule_groups:
                raise ValueError(
                    f"countOnlyRules names {rule} but {group} is not in managedRuleGroups; "
                    "allowed: rules of the groups in use"
                )
        both = set(self.blocked_countries) & set(self.allowed_countries)
        if both:
            raise ValueError(
                f"{', '.join(sorted(both))} both blocked and allowed; allowed: each country "
                "in at most one list"
            )
        return self


class RegistrySettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("components/registry.py",)

    repositories: tuple[str, ...] = Field(
        description="The ECR repositories the stack creates, as `<project>-<stack>/<name>`; "
        "each service takes its images from one of them.",
        json_schema_extra=reference(
            allowed="at least one, each once: lowercase letters and digits with . _ - or / "
            "between them, such as chat-api"
        ),
    )
    keep_images: Number = Field(
        default=30,
        description="How many of the newest images each repository keeps; older ones expire, "
        "so keep more than a rollback could ever need.",
        json_schema_extra=reference(allowed="1 to 10,000"),
    )
    untagged_expiry_days: Number = Field(
        default=7,
        description="Days after which an untagged image expires.",
        json_schema_extra=reference(allowed="1 to 3650"),
    )

    @field_validator("repositories")
    @classmethod
    def _repository_names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if not names:
            raise ValueError("allowed: at least one repository name")
        for name in names:
            matching(
                name,
                _REPOSITORY,
                "lowercase letters, digits and . _ - / between them, such as chat-api",
            )
        if len(set(names)) != len(names):
            raise ValueError("each repository may appear only once")
        return names

    @field_validator("keep_images")
    @classmethod
    def _keep_images(cls, count: int) -> int:
        return within(count, 1, 10_000, " images")

    @field_validator("untagged_expiry_days")
    @classmethod
    def _untagged_expiry(cls, days: int) -> int:
        return within(days, 1, 3650, " days")
