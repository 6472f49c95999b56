"""``platform:database`` (Aurora PostgreSQL) and ``platform:cache`` (ElastiCache Redis)."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from infra.settings.base import Decimal, Model, Number, matching, reference, within
from infra.settings.windows import daily_window, weekly_window, windows_apart

SERVERLESS_CLASS = "db.serverless"
_DB_INSTANCE_CLASS = re.compile(r"db\.([a-z]+\d+[a-z]*)\.(medium|large|xlarge|\d{1,2}xlarge)")
# Instance families Aurora PostgreSQL offers; burstable ones only as medium and large.
AURORA_FAMILIES = ("r5", "r6g", "r6gd", "r6i", "r6id", "r7g", "r7i", "r8g", "x2g", "t3", "t4g")
_CACHE_NODE_TYPE = re.compile(
    r"cache\.([a-z]+\d+[a-z]*)\.(micro|small|medium|large|xlarge|\d{1,2}xlarge)"
)
# Node families that support encryption at rest and in transit.
CACHE_FAMILIES = (
    "r7g",
    "r6gd",
    "r6g",
    "r5",
    "r4",
    "m7g",
    "m6g",
    "m5",
    "m4",
    "t4g",
    "t3",
    "t2",
    "c7gn",
)
_AURORA_VERSION = re.compile(r"(1[1-9]|[2-9]\d)\.\d{1,2}")
# Redis OSS on ElastiCache: 7.x has the redis7 parameter family and TLS "required" mode
# (which versions may be pinned is versions.yaml's to say).
_REDIS_VERSION = re.compile(r"7\.\d")
# Serverless v2 may scale to 0 ACUs (pause) from these minor versions of each major.
PAUSE_FROM_MINOR = {13: 15, 14: 12, 15: 7, 16: 3}
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,62}")
MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)
MAXMEMORY_POLICIES = (
    "volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu", "volatile-random",
    "allkeys-random", "volatile-ttl", "noeviction",
)  # fmt: skip
_IDENTIFIER_ALLOWED = "a lowercase letter, then up to 62 of a-z, 0-9 and _"
_PAUSE_VERSIONS = ", ".join(f"{major}.{minor}" for major, minor in PAUSE_FROM_MINOR.items())


class ServerlessCapacity(Model):
    """Aurora Serverless v2 capacity range in ACUs (0 lets the instance pause when idle)."""

    min_capacity: Decimal = Field(
        description="The least capacity, in ACUs, the instances scale down to; 0 lets them "
        "pause when idle.",
        json_schema_extra=reference(
            allowed=f"0 to 256 in steps of 0.5, at most maxCapacity; 0 needs engineVersion "
            f"{_PAUSE_VERSIONS} or later in its major, or a major above {max(PAUSE_FROM_MINOR)}"
        ),
    )
    max_capacity: Decimal = Field(
        description="The most capacity, in ACUs, the instances scale up to.",
        json_schema_extra=reference(allowed="1 to 256 in steps of 0.5, at least minCapacity"),
    )

    @field_validator("min_capacity", "max_capacity")
    @classmethod
    def _half_steps(cls, acus: float) -> float:
        if not 0 <= acus <= 256 or (acus * 2) != int(acus * 2):
            raise ValueError("allowed: 0 to 256 ACUs in steps of 0.5")
        return acus

    @model_validator(mode="after")
    def _ordered(self) -> ServerlessCapacity:
        if self.max_capacity < 1:
            raise ValueError(f"maxCapacity {self.max_capacity:g} is below 1 ACU; allowed: 1 to 256")
        if self.min_capacity > self.max_capacity:
            raise ValueError(
                f"the range is inverted (minCapacity {self.min_capacity:g} > maxCapacity "
                f"{self.max_capacity:g}); allowed: minCapacity <= maxCapacity"
            )
        return self


class DatabaseSettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("components/database.py",)

    engine_version: str = Field(
        description="The Aurora PostgreSQL version a new cluster is created with; RDS then "
        "applies minor versions itself, and the program ignores the difference.",
        json_schema_extra=reference(
            allowed="a `major.minor` version that infra/settings/versions.yaml lists under "
            "engines.aurora-postgresql"
        ),
    )
    instance_class: str = Field(
        default=SERVERLESS_CLASS,
        description="The class of every instance: `db.serverless` scales with the load "
        "(within `serverless`), a provisioned class has a fixed size.",
        json_schema_extra=reference(
            allowed=f"`{SERVERLESS_CLASS}`, or `db.<family>.<size>` such as db.r7g.large, "
            "family one of " + ", ".join(AURORA_FAMILIES) + " (t3 and t4g: medium or large)"
        ),
    )
    instance_count: Number = Field(
        default=1,
        description="How many instances the cluster runs: one writer, the others readers "
        "spread over the zones for failover and reads.",
        json_schema_extra=reference(allowed="1 to 16; prod: at least 2"),
    )
    serverless: ServerlessCapacity | None = Field(
        default=None,
        description="The Aurora Serverless v2 capacity range of the instances.",
        json_schema_extra=reference(
            allowed=f"the keys below; required with instanceClass `{SERVERLESS_CLASS}`, "
            "refused with any other class"
        ),
    )
    database_name: str = Field(
        default="app",
        description="The database created in the cluster, given to the services as DATABASE_NAME.",
        json_schema_extra=reference(
            allowed=_IDENTIFIER_ALLOWED,
            read_by=("components/database.py", "components/app.py"),
        ),
    )
    master_username: str = Field(
        default="platform_admin",
        description="The master user's name; RDS generates its password and keeps it in "
        "Secrets Manager.",
        json_schema_extra=reference(allowed=_IDENTIFIER_ALLOWED),
    )
    backup_retention_days: Number = Field(
        default=7,
        description="Days the automated backups (point-in-time recovery) are kept.",
        json_schema_extra=reference(allowed="1 to 35; prod: at least 14"),
    )
    backup_window: str = Field(
        default="03:00-04:00",
        description="The daily window in which the automated backup is taken.",
        json_schema_extra=reference(
            allowed="`hh:mm-hh:mm` in UTC, at least 30 minutes, not overlapping maintenanceWindow"
        ),
    )
    maintenance_window: str = Field(
        default="sun:04:30-sun:05:30",
        description="The weekly window in which RDS applies maintenance and minor version "
        "upgrades.",
        json_schema_extra=reference(
            allowed="`ddd:hh:mm-ddd:hh:mm` in UTC (mon to sun), at least 30 minutes"
        ),
    )
    skip_final_snapshot: bool = Field(
        default=False,
        description="Deletes the cluster without a final snapshot, for stacks whose data is "
        "disposable.",
        json_schema_extra=reference(allowed="`true`, `false`; prod: must be `false`"),
    )
    apply_immediately: bool = Field(
        default=False,
        description="Applies changes at once instead of in the next maintenance window, which "
        "may restart instances during the day.",
    )
    # CloudWatch Database Insights, which replaced the Performance Insights console in July
    # 2026: advanced keeps 15 months of history with execution plans and on-demand analysis,
    # standard the free 7 days.
    insights: Literal["standard", "advanced"] = Field(
        default="advanced",
        description="CloudWatch Database Insights: `standard` keeps 7 days of history for free, "
        "`advanced` 465 days with execution plans and on-demand analysis.",
        json_schema_extra=reference(
            allowed="`standard`, `advanced`; an existing cluster moves to advanced in two steps "
            "(first its Performance Insights retention to 465 days with the AWS CLI, then this "
            "setting), since RDS refuses both changes in one call"
        ),
    )
    master_password_rotation_days: Number = Field(
        default=7,
        description="Days between rotations of the master password RDS keeps in Secrets "
        "Manager (services connect with IAM tokens; the master user is for migrations and "
        "break-glass).",
        json_schema_extra=reference(allowed="1 to 365"),
    )
    monitoring_interval_seconds: Number = Field(
        default=60,
        description="Seconds between Enhanced Monitoring samples of each instance's operating "
        "system.",
        json_schema_extra=reference(allowed=", ".join(map(str, MONITORING_INTERVALS))),
    )
    log_min_duration_statement_ms: Number = Field(
        default=1000,
        description="Statements that run longer than this many milliseconds are logged "
        "(PostgreSQL's log_min_duration_statement).",
        json_schema_extra=reference(allowed="-1 (off) to 2147483647"),
    )
    log_statement: Literal["none", "ddl", "mod", "all"] = Field(
        default="ddl",
        description="Which statements PostgreSQL logs whatever their duration: none, schema "
        "changes, also data changes, or all.",
    )

    @property
    def engine_major(self) -> int:
        return int(self.engine_version.split(".")[0])

    @property
    def is_serverless(self) -> bool:
        return self.instance_class == SERVERLESS_CLASS

    @field_validator("engine_version")
    @classmethod
    def _aurora_version(cls, version: str) -> str:
        return matching(version, _AURORA_VERSION, "an Aurora PostgreSQL version such as 16.8")

    @field_validator("instance_class")
    @classmethod
    def _instance_class(cls, value: str) -> str:
        allowed = (
            f"{SERVERLESS_CLASS} or db.<family>.<size> such as db.r7g.large, family one of "
            + ", ".join(AURORA_FAMILIES)
            + " (t3 and t4g: medium or large)"
        )
        if value == SERVERLESS_CLASS:
            return value
        match = _DB_INSTANCE_CLASS.fullmatch(value)
        if (
            not match
            or match[1] not in AURORA_FAMILIES
            or (match[1].startswith("t") and match[2] not in ("medium", "large"))
        ):
            raise ValueError(f"allowed: {allowed}")
        return value

    @field_validator("instance_count")
    @classmethod
    def _instance_count(cls, count: int) -> int:
        return within(count, 1, 16, " instances (one writer, up to 15 readers)")

    @field_validator("database_name", "master_username")
    @classmethod
    def _identifier(cls, value: str) -> str:
        return matching(value, _IDENTIFIER, "a lowercase letter, then up to 62 of a-z, 0-9, _")

    @field_validator("backup_retention_days")
    @classmethod
    def _backup_retention(cls, days: int) -> int:
        return within(days, 1, 35, " days")

    @field_validator("master_password_rotation_days")
    @classmethod
    def _rotation(cls, days: int) -> int:
        return within(days, 1, 365, " days")

    @field_validator("backup_window")
    @classmethod
    def _backup_window(cls, window: str) -> str:
        return daily_window(window, min_minutes=30)

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, window: str) -> str:
        return weekly_window(window, min_minutes=30)

    @field_validator("monitoring_interval_seconds")
    @classmethod
    def _monitoring_interval(cls, seconds: int) -> int:
        if seconds not in MONITORING_INTERVALS:
            raise ValueError("allowed: " + ", ".join(map(str, MONITORING_INTERVALS)))
        return seconds

    @field_validator("log_min_duration_statement_ms")
    @classmethod
    def _slow_statement(cls, ms: int) -> int:
        return within(ms, -1, 2_147_483_647, " milliseconds (-1 turns it off)")

    @model_validator(mode="after")
    def _consistent(self) -> DatabaseSettings:
        if self.is_serverless and self.serverless is None:
            raise ValueError(
                f"instanceClass {SERVERLESS_CLASS} needs a capacity range; allowed: add "
                "serverless: {minCapacity: 0.5, maxCapacity: 4} or pick a provisioned class"
            )
        if not self.is_serverless and self.serverless is not None:
            raise ValueError(
                f"serverless capacity is set but instanceClass is {self.instance_class}; "
                f"allowed: instanceClass {SERVERLESS_CLASS}, or remove serverless"
            )
        if self.serverless is not None and self.serverless.min_capacity == 0:
            major, minor = (int(part) for part in self.engine_version.split("."))
            if major < 13 or (major in PAUSE_FROM_MINOR and minor < PAUSE_FROM_MINOR[major]):
                raise ValueError(
                    f"serverless minCapacity 0 (pause when idle) needs a newer engineVersion "
                    f"than {self.engine_version}; allowed: minCapacity 0.5 or more, or "
                    "engineVersion 13.15, 14.12, 15.7, 16.3 or later in its major"
                )
        windows_apart("backupWindow", self.backup_window, self.maintenance_window)
        return self


class CacheSettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("components/cache.py",)

    engine_version: str = Field(
        default="7.1",
        description="The Redis OSS version of the replication group (7.x has the redis7 "
        "parameter family and TLS `required` mode).",
        json_schema_extra=reference(
            allowed="a Redis OSS 7 version (`7.x`) that infra/settings/versions.yaml lists "
            "under engines.redis"
        ),
    )
    node_type: str = Field(
        default="cache.t4g.micro",
        description="The node type of every cache node.",
        json_schema_extra=reference(
            allowed="`cache.<family>.<size>` such as cache.t4g.micro, family one of "
            + ", ".join(CACHE_FAMILIES)
            + " (those with encryption at rest and in transit)"
        ),
    )
    node_count: Number = Field(
        default=1,
        description="How many nodes: a primary and replicas; two or more turn on Multi-AZ and "
        "automatic failover.",
        json_schema_extra=reference(allowed="1 to 6; prod: at least 2"),
    )
    snapshot_retention_days: Number = Field(
        default=1,
        description="Days the daily snapshots are kept; 0 takes none.",
        json_schema_extra=reference(allowed="0 to 35; prod: at least 1"),
    )
    snapshot_window: str = Field(
        default="05:00-06:00",
        description="The daily window in which the snapshot is taken.",
        json_schema_extra=reference(
            allowed="`hh:mm-hh:mm` in UTC, at least 60 minutes, not overlapping maintenanceWindow"
        ),
    )
    maintenance_window: str = Field(
        default="sun:06:30-sun:07:30",
        description="The weekly window in which ElastiCache applies maintenance.",
        json_schema_extra=reference(
            allowed="`ddd:hh:mm-ddd:hh:mm` in UTC (mon to sun), at least 60 minutes"
        ),
    )
    maxmemory_policy: str = Field(
        default="volatile-lru",
        description="Which keys Redis evicts when its memory is full (maxmemory-policy).",
        json_schema_extra=reference(allowed=", ".join(MAXMEMORY_POLICIES)),
    )
    skip_final_snapshot: bool = Field(
        default=False,
        description="Deletes the cache without a final snapshot, for stacks whose data is "
        "disposable.",
        json_schema_extra=reference(allowed="`true`, `false`; prod: must be `false`"),
    )
    apply_immediately: bool = Field(
        default=False,
        description="Applies changes at once instead of in the next maintenance window, which "
        "may interrupt the cache during the day.",
    )

    @property
    def engine_major(self) -> int:
        return int(self.engine_version.split(".")[0])

    @field_validator("engine_version")
    @classmethod
    def _redis_version(cls, version: str) -> str:
        return matching(version, _REDIS_VERSION, "a Redis OSS 7 version such as 7.1")

    @field_validator("node_type")
    @classmethod
    def _node_type(cls, value: str) -> str:
        match = _CACHE_NODE_TYPE.fullmatch(value)
        if not match or match[1] not in CACHE_FAMILIES:
            raise ValueError(
                "allowed: cache.<family>.<size> such as cache.t4g.micro, family one of "
                + ", ".join(CACHE_FAMILIES)
            )
        return value

    @field_validator("node_count")
    @classmethod
    def _node_count(cls, count: int) -> int:
        return within(count, 1, 6, " nodes (one primary, up to 5 replicas)")

    @field_validator("snapshot_retention_days")
    @classmethod
    def _snapshot_retention(cls, days: int) -> int:
        return within(days, 0, 35, " days (0 turns snapshots off)")

    @field_validator("snapshot_window")
    @classmethod
    def _snapshot_window(cls, window: str) -> str:
        return daily_window(window, min_minutes=60)

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, window: str) -> str:
        return weekly_window(window, min_minutes=60)

    @field_validator("maxmemory_policy")
    @classmethod
    def _eviction(cls, policy: str) -> str:
        if policy not in MAXMEMORY_POLICIES:
            raise ValueError("allowed: " + ", ".join(MAXMEMORY_POLICIES))
        return policy

    @model_validator(mode="after")
    def _windows_apart(self) -> CacheSettings:
        windows_apart("snapshotWindow", self.snapshot_window, self.maintenance_window)
        return self
