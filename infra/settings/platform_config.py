"""Everything under the ``platform:`` namespace of a stack file, as one model: each section's
model (infra/settings/<section>.py) and the stack-wide keys. The checks that compare several
sections take this model; :mod:`infra.config` builds it at the edge."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from infra.settings.app import AppSettings
from infra.settings.base import Model, Number, tag_text
from infra.settings.cluster import ClusterSettings
from infra.settings.data import CacheSettings, DatabaseSettings
from infra.settings.delivery import DeliverySettings
from infra.settings.edge import FirewallSettings, RegistrySettings
from infra.settings.network import NetworkSettings
from infra.settings.profile import LOG_RETENTION_DAYS
from infra.settings.runner import CiRunnerSettings, DeployPhase

Environment = Literal["dev", "staging", "prod"]

# Keys the standard tags own (infra/tagging.py); platform:tags may not redefine them.
STANDARD_TAG_KEYS = ("project", "stack", "environment", "owner", "cost-center", "managed-by")


class PlatformConfig(Model):
    """Everything under the ``platform:`` namespace of a stack file."""

    environment: Environment
    owner: str
    cost_center: str
    tags: dict[str, str] = Field(default_factory=dict)
    protect_resources: bool = True
    log_retention_days: Number = 365
    kms_key_deletion_window_days: Number = 30
    network: NetworkSettings
    database: DatabaseSettings
    cache: CacheSettings
    firewall: FirewallSettings = FirewallSettings()
    registry: RegistrySettings
    cluster: ClusterSettings
    app: AppSettings
    delivery: DeliverySettings = DeliverySettings()
    ci_runner: CiRunnerSettings | None = None
    # Set only by `platformctl bootstrap`, for one `up` (infra/settings/runner.py).
    deploy_phase: DeployPhase = "complete"

    @field_validator("owner", "cost_center")
    @classmethod
    def _tag_value(cls, value: str) -> str:
        return tag_text(value, 256)

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
                tag_text(key, 128)
            except ValueError as exc:
                raise ValueError(f"tag key {key!r}: {exc}") from None
            try:
                tag_text(value, 256)
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
