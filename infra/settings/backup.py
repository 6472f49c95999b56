"""``platform:backup``: AWS Backup for every stateful resource the stack builds, a copy in a
second region, a vault lock, and restore tests.

Which resources are backed up is decided by a tag (``backup: <plan>``) the standard tags
transform adds to every type AWS Backup protects (:data:`BACKED_UP_TYPES`), so a stateful
resource added later is covered without naming it here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from infra.settings.base import Model, Number, Problem, reference, within
from platform_common.aws_regions import REGION_ZONES

if TYPE_CHECKING:
    from infra.settings.platform_config import PlatformConfig

_COMPONENT = "components/backup.py"
# AWS Backup's schedule expressions: cron(...) in UTC, six fields.
_CRON = re.compile(r"cron\(\S+ \S+ \S+ \S+ \S+ \S+\)")
_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


def _cron(schedule: str) -> str:
    if not _CRON.fullmatch(schedule):
        raise ValueError("allowed: cron(minutes hours day month weekday year), in UTC")
    return schedule


# AWS Backup's schedule expressions, as the settings accept them.
Schedule = Annotated[str, AfterValidator(_cron)]
# The longest AWS Backup keeps a continuous (point-in-time) recovery point.
CONTINUOUS_MAX_DAYS = 35


class BackupRule(Model):
    """One rule of a plan: when a recovery point is taken and how long it is kept."""

    READ_BY: ClassVar[tuple[str, ...]] = (_COMPONENT,)

    name: str = Field(
        description="The rule's name in the plan.",
        json_schema_extra=reference(allowed="a lowercase letter, then up to 31 of a-z, 0-9, -"),
    )
    schedule: Schedule = Field(
        description="When AWS Backup takes the recovery point, in UTC.",
        json_schema_extra=reference(allowed="cron(minutes hours day month weekday year)"),
    )
    retention_days: Number = Field(
        description="Days each recovery point is kept (and its copy in the copy region).",
        json_schema_extra=reference(allowed="1 to 36500; 35 at most with `continuous`"),
    )
    continuous: bool = Field(
        default=False,
        description="Continuous backup (point-in-time restore to any second of the retention) "
        "where the resource supports it, besides the scheduled snapshot.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError("allowed: a lowercase letter, then up to 31 of a-z, 0-9, -")
        return name

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, days: int) -> int:
        return within(days, 1, 36_500, " days")

    @model_validator(mode="after")
    def _continuous_retention(self) -> BackupRule:
        if self.continuous and self.retention_days > CONTINUOUS_MAX_DAYS:
            raise ValueError(
                f"retentionDays {self.retention_days} with continuous: AWS Backup keeps a "
                f"continuous recovery point {CONTINUOUS_MAX_DAYS} days at most; allowed: 1 to "
                f"{CONTINUOUS_MAX_DAYS}, or a second rule without continuous for longer"
            )
        return self


class VaultLock(Model):
    """A lock on the stack's vault: recovery points can be deleted by no one (compliance)
    or only with a special permission (governance) before their minimum retention."""

    READ_BY: ClassVar[tuple[str, ...]] = (_COMPONENT,)

    mode: Literal["compliance", "governance"] = Field(
        description="`compliance`: after a grace period the lock can never be removed, by "
        "anyone; `governance`: users with the permission can remove it.",
    )
    min_retention_days: Number = Field(
        description="The shortest retention a recovery point in the vault may have.",
        json_schema_extra=reference(allowed="1 to 36500"),
    )
    max_retention_days: Number = Field(
        description="The longest retention a recovery point in the vault may have.",
        json_schema_extra=reference(allowed="1 to 36500, at least minRetentionDays"),
    )
    changeable_for_days: Number = Field(
        default=3,
        description="Compliance mode: the days before the lock becomes permanent (the grace "
        "period in which it can still be removed).",
        json_schema_extra=reference(allowed="3 to 36500"),
    )

    @field_validator("min_retention_days", "max_retention_days")
    @classmethod
    def _days(cls, days: int) -> int:
        return within(days, 1, 36_500, " days")

    @field_validator("changeable_for_days")
    @classmethod
    def _grace(cls, days: int) -> int:
        return within(days, 3, 36_500, " days")

    @model_validator(mode="after")
    def _range(self) -> VaultLock:
        if self.max_retention_days < self.min_retention_days:
            raise ValueError(
                f"maxRetentionDays {self.max_retention_days} is below minRetentionDays "
                f"{self.min_retention_days}; allowed: at least the minimum"
            )
        return self


class RestoreTesting(Model):
    """AWS restores a recent recovery point of the database on a schedule, checks it, deletes
    it, and reports the outcome: a backup that cannot be restored is found before it is
    needed."""

    READ_BY: ClassVar[tuple[str, ...]] = (_COMPONENT,)

    schedule: Schedule = Field(
        default="cron(0 5 ? * SAT *)",
        description="When a restore test starts, in UTC.",
        json_schema_extra=reference(allowed="cron(minutes hours day month weekday year)"),
    )
    selection_window_days: Number = Field(
        default=7,
        description="Recovery points this recent are candidates for the test.",
        json_schema_extra=reference(allowed="1 to 365"),
    )
    keep_hours: Number = Field(
        default=4,
        description="Hours the restored database is kept (to inspect it) before AWS deletes it.",
        json_schema_extra=reference(allowed="1 to 168"),
    )

    @field_validator("selection_window_days")
    @classmethod
    def _window(cls, days: int) -> int:
        return within(days, 1, 365, " days")

    @field_validator("keep_hours")
    @classmethod
    def _keep(cls, hours: int) -> int:
        return within(hours, 1, 168, " hours")


class BackupSettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = (_COMPONENT, "infra/tagging.py")

    plans: dict[str, tuple[BackupRule, ...]] = Field(
        description="Backup plans by name, each a list of rules.",
        json_schema_extra=reference(allowed="names of a-z, 0-9, -; each with at least one rule"),
    )
    plan: str = Field(
        description="The plan every stateful resource is tagged with (`backup: <plan>`).",
        json_schema_extra=reference(allowed="a name under plans"),
    )
    copy_region: str | None = Field(
        default=None,
        description="A second region every recovery point is copied to (a vault there, on a "
        "key in that region); none keeps recovery points in the stack's region only.",
        json_schema_extra=reference(allowed="an AWS region other than the stack's"),
    )
    vault_lock: VaultLock | None = Field(
        default=None,
        description="A lock on the vault; none leaves recovery points deletable by whoever "
        "the vault's access policy allows (it denies deletion to everyone but the account).",
    )
    restore_testing: RestoreTesting | None = Field(
        default=None,
        description="Scheduled restore tests of the database; none runs no test.",
    )

    @field_validator("plans")
    @classmethod
    def _plans(cls, plans: dict[str, tuple[BackupRule, ...]]) -> dict[str, tuple[BackupRule, ...]]:
        for name, rules in plans.items():
            if not _NAME.fullmatch(name):
                raise ValueError(
                    f"plan name {name!r}: allowed: a lowercase letter, then up to 31 of a-z, 0-9, -"
                )
            if not rules:
                raise ValueError(f"plan {name!r} has no rules; allowed: at least one")
            names = [r.name for r in rules]
            if len(set(names)) != len(names):
                raise ValueError(f"plan {name!r} names a rule twice; allowed: each once")
        return plans

    @field_validator("copy_region")
    @classmethod
    def _copy_region(cls, region: str | None) -> str | None:
        if region is not None and region not in REGION_ZONES:
            raise ValueError("unknown region; allowed: " + ", ".join(REGION_ZONES))
        return region

    def rules(self) -> tuple[BackupRule, ...]:
        return self.plans[self.plan]


def backup_problems(platform: PlatformConfig, region: str | None) -> list[Problem]:
    """What only the whole stack can say: the plan exists, the copy goes elsewhere, and
    every retention fits the vault lock (AWS refuses a recovery point outside it)."""
    backup = platform.backup
    problems: list[Problem] = []
    if backup.plan not in backup.plans:
        problems.append(
            Problem(
                "platform:backup.plan",
                backup.plan,
                f"no such plan; allowed: {', '.join(sorted(backup.plans)) or 'a plan under plans'}",
            )
        )
        return problems
    if backup.copy_region is not None and backup.copy_region == region:
        problems.append(
            Problem(
                "platform:backup.copyRegion",
                backup.copy_region,
                "the stack's own region: a copy there survives no region loss; allowed: "
                "another region",
            )
        )
    if platform.environment == "prod":
        problems += _prod_problems(backup)
    lock = backup.vault_lock
    if lock is not None:
        for index, rule in enumerate(backup.rules()):
            if not lock.min_retention_days <= rule.retention_days <= lock.max_retention_days:
                problems.append(
                    Problem(
                        f"platform:backup.plans.{backup.plan}[{index}].retentionDays",
                        rule.retention_days,
                        f"outside the vault lock's {lock.min_retention_days} to "
                        f"{lock.max_retention_days} days, so AWS Backup would refuse its "
                        f"recovery points; allowed: {lock.min_retention_days} to "
                        f"{lock.max_retention_days}",
                    )
                )
    return problems


def _prod_problems(backup: BackupSettings) -> list[Problem]:
    """Prod survives a region loss and an attacker with the account's keys: a copy
    elsewhere, and recovery points no one can delete early."""
    problems = []
    if backup.copy_region is None:
        problems.append(
            Problem(
                "platform:backup.copyRegion",
                None,
                "prod keeps a copy of every recovery point in a second region; allowed: "
                "another AWS region",
            )
        )
    if backup.vault_lock is None or backup.vault_lock.mode != "compliance":
        problems.append(
            Problem(
                "platform:backup.vaultLock.mode",
                backup.vault_lock.mode if backup.vault_lock else None,
                "prod's vault is locked in compliance mode; allowed: compliance",
            )
        )
    return problems
