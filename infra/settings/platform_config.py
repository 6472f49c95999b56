"""Everything under the ``platform:`` namespace of a stack file, as one model: each section's
model (infra/settings/<section>.py) and the stack-wide keys. The checks that compare several
sections take this model; :mod:`infra.config` builds it at the edge."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from infra.settings.app import AppSettings
from infra.settings.backup import BackupSettings
from infra.settings.base import Model, Number, reference, tag_text
from infra.settings.cluster import ClusterSettings
from infra.settings.data import CacheSettings, DatabaseSettings
from infra.settings.delivery import DeliverySettings
from infra.settings.edge import FirewallSettings, RegistrySettings
from infra.settings.network import NetworkSettings
from infra.settings.observability import ObservabilitySettings
from infra.settings.profile import LOG_RETENTION_DAYS, PROD_MIN_LOG_RETENTION_DAYS
from infra.settings.runner import CiRunnerSettings, DeployPhase

Environment = Literal["dev", "staging", "prod"]

# Keys the standard tags own (infra/tagging.py); platform:tags may not redefine them.
STANDARD_TAG_KEYS = ("project", "stack", "environment", "owner", "cost-center", "managed-by")
_TAG_CHARACTERS = "letters, digits, spaces and _.:/=+-@"
_TAGGING = ("infra/tagging.py",)


class PlatformConfig(Model):
    """Everything under the ``platform:`` namespace of a stack file."""

    environment: Environment = Field(
        description="Which environment the stack is; prod adds the stricter rules noted under "
        "the settings (protection, retention, redundancy).",
        json_schema_extra=reference(
            read_by=(
                *_TAGGING,
                "infra/settings/profile.py",
                "platformctl/promotion.py",
                "platformctl/review/gate.py",
            )
        ),
    )
    owner: str = Field(
        description="The team that owns the stack, put on every resource as the `owner` tag.",
        json_schema_extra=reference(
            allowed=f"1 to 256 characters of {_TAG_CHARACTERS}", read_by=_TAGGING
        ),
    )
    cost_center: str = Field(
        description="The cost centre the stack is billed to, put on every resource as the "
        "`cost-center` tag.",
        json_schema_extra=reference(
            allowed=f"1 to 256 characters of {_TAG_CHARACTERS}", read_by=_TAGGING
        ),
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Extra tags put on every resource that takes tags, beside the standard ones.",
        json_schema_extra=reference(
            allowed=f"keys of 1 to 128 and values of 1 to 256 characters of {_TAG_CHARACTERS}; "
            "no key starting with aws: and none of the standard keys ("
            + ", ".join(STANDARD_TAG_KEYS)
            + ")",
            read_by=_TAGGING,
        ),
    )
    protect_resources: bool = Field(
        default=True,
        description="Protects the stack's resources from deletion (Pulumi's protect, AWS "
        "deletion protection); off lets a dev or staging stack be torn down.",
        json_schema_extra=reference(
            allowed="`true`, `false`; prod: must be `true`", read_by=("infra/platform.py",)
        ),
    )
    log_retention_days: Number = Field(
        default=365,
        description="How many days the log groups and the load balancer's access logs are kept.",
        json_schema_extra=reference(
            allowed="a CloudWatch Logs period: "
            + ", ".join(map(str, LOG_RETENTION_DAYS))
            + f"; prod: at least {PROD_MIN_LOG_RETENTION_DAYS}",
            read_by=("components/parts.py", "components/access_logs.py"),
        ),
    )
    kms_key_deletion_window_days: Number = Field(
        default=30,
        description="How many days a KMS key scheduled for deletion can still be recovered "
        "before it is gone, with everything it encrypted.",
        json_schema_extra=reference(allowed="7 to 30", read_by=("components/keys.py",)),
    )
    network: NetworkSettings = Field(
        description="The VPC: its address plan, zones, NAT gateways, flow logs and endpoints.",
    )
    database: DatabaseSettings = Field(
        description="The Aurora PostgreSQL cluster the services use.",
    )
    cache: CacheSettings = Field(
        description="The ElastiCache Redis replication group the services use.",
    )
    firewall: FirewallSettings = Field(
        default=FirewallSettings(),
        description="The WAF web ACL in front of the app's load balancer.",
    )
    registry: RegistrySettings = Field(
        description="The ECR repositories the services' images are pushed to.",
    )
    cluster: ClusterSettings = Field(
        description="The EKS cluster: its control plane, node groups, add-ons and ingress "
        "controller.",
    )
    app: AppSettings = Field(
        description="The app on the cluster: its hosts, certificate and services.",
    )
    delivery: DeliverySettings = Field(
        default=DeliverySettings(),
        description="How the release driver (platformctl) moves traffic to a new image, "
        "measures it and promotes it.",
    )
    observability: ObservabilitySettings = Field(
        description="The metrics every stack collects, the SLOs judged on them, where alerts "
        "go, and the thresholds of the alarms on the data stores and the edge.",
    )
    backup: BackupSettings = Field(
        description="AWS Backup of every stateful resource: the plan, a copy in a second "
        "region, the vault lock and restore tests.",
    )
    ci_runner: CiRunnerSettings | None = Field(
        default=None,
        description="A CodeBuild-hosted GitHub Actions runner in the private subnets, for CI "
        "jobs that need the cluster's API; its role can deploy nothing itself.",
    )
    # Set only by `platformctl bootstrap`, for one `up` (infra/settings/runner.py).
    deploy_phase: DeployPhase = Field(
        default="complete",
        description="Set only by `platformctl bootstrap` for its one `up`: `foundation` "
        "creates every AWS resource but nothing that needs the Kubernetes API.",
        json_schema_extra=reference(
            allowed="`foundation`, `complete`; `platformctl up` refuses a stack file that sets "
            "`foundation`",
            read_by=("infra/platform.py", "components/cluster.py", "platformctl/cli.py"),
        ),
    )

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
