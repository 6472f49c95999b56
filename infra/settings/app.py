"""``platform:app``: the chat platform's services, each released through a blue and a green slot.

A service's ``release`` block is its release state. A canary step changes only
``candidateWeight``; a blue-green switch flips ``live``. The release driver edits exactly
these keys and runs ``pulumi up``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

from infra.settings.base import Model, Number, Problem, matching, reference, within
from infra.settings.network import RFC1918
from infra.settings.observability import SloObjectives
from platform_common.credentials import credential_name

if TYPE_CHECKING:
    from infra.settings.platform_config import PlatformConfig

SLOTS = ("blue", "green")
STRATEGIES = ("canary", "blue-green")
SecretSource = Literal["database", "cache"]
SECRET_SOURCES: tuple[SecretSource, ...] = ("database", "cache")
# Variables the platform sets in every service's ConfigMap (components/app.py).
PLATFORM_ENV = (
    "AWS_REGION", "DATABASE_HOST", "DATABASE_READER_HOST", "DATABASE_PORT", "DATABASE_NAME",
    "DATABASE_USER", "CACHE_HOST", "CACHE_READER_HOST", "CACHE_PORT", "CACHE_USER",
    "CACHE_REPLICATION_GROUP_ID", "SERVICE_NAME", "SERVICE_PORT",
)  # fmt: skip
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
_SERVICE_NAME = re.compile(r"[a-z]([a-z0-9-]{0,22}[a-z0-9])?")
# Tags that are also valid Kubernetes label values, since the tag becomes the `version` label.
_TAG = r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?"
# Namespaces a service may not take: every cluster's own, and the one holding the ALB
# group's anchor Ingress (components/app.py).
RESERVED_NAMESPACES = (
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "platform-edge",
)
# An ALB rule holds 5 condition values: the host and up to two path patterns leave two.
MAX_PREVIEW_CIDRS = 2
_DIGEST = r"sha256:[a-f0-9]{64}"
_IMAGE = re.compile(rf"(?P<tag>{_TAG})(@{_DIGEST})?|{_DIGEST}")
_URL_PATH = re.compile(r"/([a-z0-9._~-]+(/[a-z0-9._~-]+)*)?")
_HOST = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_CERTIFICATE_ARN = re.compile(
    r"arn:aws(-[a-z]+)*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"
)
_CPU = re.compile(r"(\d+)m|(\d+(\.\d{1,3})?)")
_MEMORY = re.compile(r"(\d+)(Mi|Gi)")
_STEPS_PATH = "platformctl/driver_steps.py"  # the release driver's preview requests
_PATH_ALLOWED = "an absolute URL path such as /healthz (lowercase, no trailing /)"
_CPU_ALLOWED = "millicores (250m) or cores (1, 1.5), at least 1m"
_MEMORY_ALLOWED = "Mi or Gi, such as 256Mi, at least 16Mi"
_HOST_ALLOWED = "a lowercase DNS name such as chat.example.com, other than "
# Files that act on a service's release block: the program, and the release driver (which
# reads it and edits it).
_RELEASE_READERS = (
    "components/app.py",
    "components/workload.py",
    "platformctl/driver_base.py",
    "platformctl/machine.py",
)


def millicores(quantity: str) -> int:
    found = _CPU.fullmatch(quantity)
    assert found, quantity
    return int(found[1]) if found[1] else round(float(found[2]) * 1000)


def mebibytes(quantity: str) -> int:
    found = _MEMORY.fullmatch(quantity)
    assert found, quantity
    return int(found[1]) * (1024 if found[2] == "Gi" else 1)


class HealthPaths(Model):
    """HTTP paths the kubelet probes: startup (slow boot), readiness (take traffic), liveness
    (restart). The ALB health check uses the readiness path."""

    READ_BY: ClassVar[tuple[str, ...]] = ("components/workload.py",)

    startup: str = Field(
        default="/healthz",
        description="The startup probe's path: a slow boot gets time before the other probes "
        "begin.",
        json_schema_extra=reference(allowed=_PATH_ALLOWED),
    )
    readiness: str = Field(
        default="/readyz",
        description="The readiness probe's path, which decides whether a pod takes traffic; "
        "also the load balancer's health check.",
        json_schema_extra=reference(allowed=_PATH_ALLOWED),
    )
    liveness: str = Field(
        default="/healthz",
        description="The liveness probe's path; a container that keeps failing it is restarted.",
        json_schema_extra=reference(allowed=_PATH_ALLOWED),
    )

    @field_validator("startup", "readiness", "liveness")
    @classmethod
    def _path(cls, path: str) -> str:
        return matching(path, _URL_PATH, "an absolute URL path such as /healthz")


class ContainerResources(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("components/workload.py",)

    cpu_request: str = Field(
        default="250m",
        description="The CPU reserved for each pod, and the base of the autoscaler's target.",
        json_schema_extra=reference(allowed=f"{_CPU_ALLOWED}, at most cpuLimit"),
    )
    cpu_limit: str = Field(
        default="1",
        description="The most CPU each pod may use; it is throttled beyond that.",
        json_schema_extra=reference(allowed=_CPU_ALLOWED),
    )
    memory_request: str = Field(
        default="256Mi",
        description="The memory reserved for each pod.",
        json_schema_extra=reference(allowed=f"{_MEMORY_ALLOWED}, at most memoryLimit"),
    )
    memory_limit: str = Field(
        default="512Mi",
        description="The most memory each pod may use; beyond it the container is killed.",
        json_schema_extra=reference(allowed=_MEMORY_ALLOWED),
    )

    @field_validator("cpu_request", "cpu_limit")
    @classmethod
    def _cpu(cls, quantity: str) -> str:
        matching(quantity, _CPU, "CPU as millicores (250m) or cores (1, 1.5)")
        if millicores(quantity) < 1:
            raise ValueError("allowed: at least 1m")
        return quantity

    @field_validator("memory_request", "memory_limit")
    @classmethod
    def _memory(cls, quantity: str) -> str:
        matching(quantity, _MEMORY, "memory in Mi or Gi, such as 256Mi")
        if mebibytes(quantity) < 16:
            raise ValueError("allowed: at least 16Mi")
        return quantity


class Scaling(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("components/app.py",)

    max_replicas: Number = Field(
        default=6,
        description="The most pods the autoscaler runs in each slot.",
        json_schema_extra=reference(allowed="1 to 500, at least each slot's replicas"),
    )
    target_cpu_percent: Number = Field(
        default=70,
        description="The average CPU use, in percent of cpuRequest, the autoscaler keeps the "
        "pods at.",
        json_schema_extra=reference(allowed="10 to 95"),
    )

    @field_validator("max_replicas")
    @classmethod
    def _max(cls, replicas: int) -> int:
        return within(replicas, 1, 500, " replicas")

    @field_validator("target_cpu_percent")
    @classmethod
    def _target(cls, percent: int) -> int:
        return within(percent, 10, 95, " percent")


class SlotSettings(Model):
    """One slot's Deployment: its image (tag, digest or both) and how many pods it keeps."""

    image: str | None = Field(
        default=None,
        description="The image the slot runs, by tag, digest or both; the repository is the "
        "service's.",
        json_schema_extra=reference(
            allowed="a tag (1.4.2: up to 63 letters, digits and _.-), sha256:<64 hex> or "
            "tag@sha256:<64 hex>; required on the live slot; `latest` only in dev"
        ),
    )
    replicas: Number = Field(
        default=2,
        description="How many pods the slot keeps while it runs: the autoscaler's floor.",
        json_schema_extra=reference(
            allowed="1 to 500, at most scaling.maxReplicas; prod: at least 2",
            read_by=("components/app.py",),
        ),
    )
    scaled_down: bool = Field(
        default=False,
        description="Scales the slot to no pods; the release driver does so to the old slot "
        "once a release is done.",
        json_schema_extra=reference(
            allowed="`true`, `false`; `true` only on the idle slot",
            read_by=("components/app.py", "components/workload.py", "platformctl/machine.py"),
        ),
    )

    @field_validator("image")
    @classmethod
    def _image(cls, image: str | None) -> str | None:
        if image is None:
            return None
        if "/" in image or (":" in image and "@" not in image and not image.startswith("sha256:")):
            raise ValueError(
                "looks like a full image reference; allowed: only the tag or digest (1.4.2, "
                "sha256:<64 hex> or 1.4.2@sha256:<64 hex>); the repository comes from "
                "the service's `repository`"
            )
        if not image:
            raise ValueError("an untagged image; allowed: a tag (1.4.2), a digest or tag@digest")
        matching(
            image,
            _IMAGE,
            "a tag (1.4.2: up to 63 letters, digits and _.-, starting and ending with a letter "
            "or digit), a digest (sha256:<64 hex>) or tag@digest",
        )
        return image

    @field_validator("replicas")
    @classmethod
    def _replicas(cls, replicas: int) -> int:
        return within(replicas, 1, 500, " pods while the slot runs")


class ReleaseSettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = _RELEASE_READERS

    live: Literal["blue", "green"] = Field(
        description="The slot that takes the live traffic.",
    )
    strategy: str = Field(
        default="canary",
        description="How a release moves traffic: `canary` in weighted steps, `blue-green` "
        "all at once by flipping `live`.",
        json_schema_extra=reference(
            allowed=", ".join(f"`{s}`" for s in STRATEGIES),
            read_by=("components/app.py", "platformctl/driver_base.py"),
        ),
    )
    candidate_weight: Number = Field(
        default=0,
        description="The percent of traffic the idle (candidate) slot takes; the release "
        "driver sets it at each canary step.",
        json_schema_extra=reference(
            allowed="0 to 100; above 0 only with an image on the candidate slot, not scaled "
            "down; blue-green: 0",
            read_by=("components/workload.py", "platformctl/machine.py"),
        ),
    )
    blue: SlotSettings = Field(
        default=SlotSettings(),
        description="The blue slot's Deployment: its image and pods.",
    )
    green: SlotSettings = Field(
        default=SlotSettings(),
        description="The green slot's Deployment: its image and pods.",
    )

    @property
    def candidate(self) -> Literal["blue", "green"]:
        return "green" if self.live == "blue" else "blue"

    def slot(self, name: str) -> SlotSettings:
        return self.blue if name == "blue" else self.green

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, strategy: str) -> str:
        if strategy not in STRATEGIES:
            raise ValueError("unknown strategy; allowed: " + ", ".join(STRATEGIES))
        return strategy

    @field_validator("candidate_weight")
    @classmethod
    def _weight(cls, weight: int) -> int:
        return within(weight, 0, 100, " percent of traffic to the candidate slot")


class ServiceSettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("components/app.py", "components/workload.py")

    name: str = Field(
        description="The service's name, which is also its Kubernetes namespace and names its "
        "slots.",
        json_schema_extra=reference(
            allowed="1 to 24 lowercase letters, digits and hyphens (a DNS label), unique "
            "among the services; not " + ", ".join(RESERVED_NAMESPACES)
        ),
    )
    repository: str = Field(
        description="The stack's ECR repository the service's images come from.",
        json_schema_extra=reference(
            allowed="one of platform:registry.repositories",
            read_by=("infra/platform.py", "components/app.py"),
        ),
    )
    port: Number = Field(
        description="The port the service's container listens on.",
        json_schema_extra=reference(allowed="1024 to 65535, unique among the services"),
    )
    path: str = Field(
        default="/",
        description="The URL path the load balancer sends to the service; longer paths are "
        "matched first, so `/` takes what no other service claims.",
        json_schema_extra=reference(
            allowed="an absolute URL path such as /api (lowercase, no trailing /), unique "
            "among the services",
            read_by=("components/app.py", "components/workload.py", _STEPS_PATH),
        ),
    )
    health: HealthPaths = Field(
        default=HealthPaths(),
        description="The HTTP paths the kubelet probes.",
    )
    resources: ContainerResources = Field(
        default=ContainerResources(),
        description="The CPU and memory each pod requests and may use.",
    )
    scaling: Scaling = Field(
        default=Scaling(),
        description="How the autoscaler sizes each running slot.",
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Plain settings for the service's environment, beside the ones the "
        "platform sets (endpoints, region, port).",
        json_schema_extra=reference(
            allowed="names of capitals, digits and _ (up to 128, not starting with a digit); "
            "not the platform's own (" + ", ".join(PLATFORM_ENV) + ") and none that "
            "looks like a credential (PASSWORD, SECRET, TOKEN, API_KEY, AUTH, ...)",
            read_by=("components/app.py",),
        ),
    )
    secrets: tuple[SecretSource, ...] = Field(
        default=SECRET_SOURCES,
        description="The data stores the service uses: its role may connect to each as its "
        "own user with IAM tokens (no secret), and it gets their endpoints and network "
        "access.",
        json_schema_extra=reference(
            allowed=", ".join(f"`{s}`" for s in SECRET_SOURCES) + ", each at most once",
            read_by=("components/app.py",),
        ),
    )
    release: ReleaseSettings = Field(
        description="The service's release state, which the release driver edits: the live "
        "slot, the candidate's share of traffic and each slot's image.",
    )
    slo: SloObjectives | None = Field(
        default=None,
        description="The service's own objectives, in place of platform:observability.slo.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        matching(name, _SERVICE_NAME, "1 to 24 lowercase letters, digits and hyphens (a DNS label)")
        if name in RESERVED_NAMESPACES:
            raise ValueError(
                "is a namespace the cluster or the platform already uses; allowed: any name but "
                + ", ".join(RESERVED_NAMESPACES)
            )
        return name

    @field_validator("port")
    @classmethod
    def _port(cls, port: int) -> int:
        return within(port, 1024, 65535, " (unprivileged, as a non-root container needs)")

    @field_validator("path")
    @classmethod
    def _url_path(cls, path: str) -> str:
        return matching(path, _URL_PATH, "an absolute URL path such as /api (no trailing /)")

    @field_validator("env")
    @classmethod
    def _env(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            matching(name, _ENV_NAME, "variable names of capitals, digits and _")
            if name in PLATFORM_ENV:
                raise ValueError(f"{name} is set by the platform; allowed: any other name")
            # A credential's value belongs in Secrets Manager.
            if credential_name(name):
                raise ValueError(
                    f"{name} looks like a credential, and env values are plain text in the "
                    "stack file; allowed: non-secret settings only (keep secrets in Secrets "
                    "Manager and read them through the service's role)"
                )
        return env

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, sources: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(sources)) != len(sources):
            raise ValueError("each secret source may appear only once")
        return sources


class AppSettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("components/app.py",)

    host: str = Field(
        description="The public host name the app is served on.",
        json_schema_extra=reference(allowed=_HOST_ALLOWED + "previewHost"),
    )
    preview_host: str = Field(
        description="The host name that reaches only the idle slots, where a candidate is "
        "checked before it takes live traffic.",
        json_schema_extra=reference(
            allowed=_HOST_ALLOWED + "host", read_by=("components/app.py", _STEPS_PATH)
        ),
    )
    certificate_arn: str = Field(
        description="The ACM certificate the load balancer serves; it must cover both hosts.",
        json_schema_extra=reference(
            allowed="an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID) in "
            "the stack's region"
        ),
    )
    # Who may open the preview host, by public address (the ALB is internet-facing): it
    # serves builds that have not passed analysis yet.
    preview_allowed_cidrs: tuple[ipaddress.IPv4Network, ...] = Field(
        description="Who may open the preview host, by public address: it serves builds that "
        "have not passed analysis yet.",
        json_schema_extra=reference(
            allowed=f"1 to {MAX_PREVIEW_CIDRS} IPv4 CIDRs outside 10.0.0.0/8, 172.16.0.0/12 "
            "and 192.168.0.0/16 (the load balancer sees public client addresses, and a rule "
            "holds five condition values)"
        ),
    )
    services: tuple[ServiceSettings, ...] = Field(
        description="The services the platform runs, each as a blue and a green slot behind "
        "the shared load balancer.",
        json_schema_extra=reference(
            allowed="the keys below; at least one; names, ports and paths unique"
        ),
    )
    # The ALB's deletion protection (default: platform:protectResources). Turned off, in
    # its own `up`, before the whole app is removed or the group renamed.
    load_balancer_deletion_protection: bool | None = Field(
        default=None,
        description="The load balancer's deletion protection; turn it off in an `up` of its "
        "own before removing the whole app or renaming the group.",
        json_schema_extra=reference(
            allowed="`true`, `false`; unset: as platform:protectResources",
            read_by=("infra/platform.py", "components/app.py"),
        ),
    )

    @field_validator("host", "preview_host")
    @classmethod
    def _host(cls, host: str) -> str:
        return matching(host, _HOST, "a lowercase DNS name such as chat.example.com")

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, arn: str) -> str:
        return matching(
            arn,
            _CERTIFICATE_ARN,
            "an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)",
        )

    @field_validator("preview_allowed_cidrs")
    @classmethod
    def _preview_cidrs(
        cls, cidrs: tuple[ipaddress.IPv4Network, ...]
    ) -> tuple[ipaddress.IPv4Network, ...]:
        if not 1 <= len(cidrs) <= MAX_PREVIEW_CIDRS:
            raise ValueError(
                f"allowed: 1 to {MAX_PREVIEW_CIDRS} CIDRs (an ALB rule holds five condition "
                "values, and the host and path take the others)"
            )
        if any(cidr.subnet_of(block) for cidr in cidrs for block in RFC1918):
            raise ValueError(
                "a private range never matches: the internet-facing ALB sees clients' public "
                "addresses; allowed: public CIDRs such as your office's"
            )
        return cidrs

    @field_validator("services")
    @classmethod
    def _services(cls, services: tuple[ServiceSettings, ...]) -> tuple[ServiceSettings, ...]:
        if not services:
            raise ValueError("allowed: at least one service")
        return services


def app_problems(platform: PlatformConfig, region: str | None) -> list[Problem]:
    """What single values cannot show: repeats across services, slots that cannot serve the
    traffic they are given, and images that are not fit for the environment."""
    app = platform.app
    problems: list[Problem] = []
    certificate_region = app.certificate_arn.split(":")[3]
    if region is not None and certificate_region != region:
        problems.append(
            Problem(
                "platform:app.certificateArn",
                app.certificate_arn,
                f"is in {certificate_region}, but an ALB in {region} can only use a "
                f"certificate from its own region; allowed: an ACM certificate in {region}",
            )
        )
    for attribute, key in (("name", "name"), ("port", "port"), ("path", "path")):
        values = [getattr(service, attribute) for service in app.services]
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            problems.append(
                Problem(
                    "platform:app.services",
                    [str(v) for v in values],
                    f"services repeat {key} {', '.join(repeated)}; allowed: a different "
                    f"{key} for each service",
                )
            )
    if app.host == app.preview_host:
        problems.append(
            Problem(
                "platform:app.previewHost",
                app.preview_host,
                "is the live host; allowed: a separate host that reaches only idle slots",
            )
        )
    for index, service in enumerate(app.services):
        problems += _service_problems(
            f"platform:app.services[{index}]", service, platform.environment,
            platform.registry.repositories,
        )  # fmt: skip
    return problems


def _service_problems(
    key: str, service: ServiceSettings, environment: str, repositories: tuple[str, ...]
) -> list[Problem]:
    problems: list[Problem] = []
    if service.repository not in repositories:
        problems.append(
            Problem(
                f"{key}.repository",
                service.repository,
                "not a repository of this stack; allowed (platform:registry.repositories): "
                + ", ".join(repositories),
            )
        )
    resources = service.resources
    if millicores(resources.cpu_request) > millicores(resources.cpu_limit):
        problems.append(
            Problem(
                f"{key}.resources.cpuRequest",
                resources.cpu_request,
                f"exceeds cpuLimit {resources.cpu_limit}; allowed: at most the limit",
            )
        )
    if mebibytes(resources.memory_request) > mebibytes(resources.memory_limit):
        problems.append(
            Problem(
                f"{key}.resources.memoryRequest",
                resources.memory_request,
                f"exceeds memoryLimit {resources.memory_limit}; allowed: at most the limit",
            )
        )
    return problems + _release_problems(key, service, environment)


def _release_problems(key: str, service: ServiceSettings, environment: str) -> list[Problem]:
    """The slots and weights of a service's release: what the release driver relies on."""
    release = service.release
    live, candidate = release.slot(release.live), release.slot(release.candidate)
    checks: list[tuple[bool, str, object, str]] = [
        (
            live.image is None,
            f"{key}.release.{release.live}.image",
            None,
            f"the live slot ({release.live}) has no image; allowed: a tag or digest",
        ),
        (
            live.scaled_down,
            f"{key}.release.{release.live}.scaledDown",
            True,
            f"{release.live} is the live slot and takes traffic; allowed: false (only the "
            "idle slot may be scaled down)",
        ),
        (
            release.candidate_weight > 0 and candidate.image is None,
            f"{key}.release.candidateWeight",
            release.candidate_weight,
            f"the candidate slot ({release.candidate}) has no image to send traffic to; "
            f"allowed: 0, or set {key}.release.{release.candidate}.image first",
        ),
        (
            release.candidate_weight > 0 and candidate.scaled_down,
            f"{key}.release.candidateWeight",
            release.candidate_weight,
            f"the candidate slot ({release.candidate}) is scaled down; allowed: 0, or scale "
            "it up first",
        ),
        (
            release.strategy == "blue-green" and release.candidate_weight > 0,
            f"{key}.release.candidateWeight",
            release.candidate_weight,
            "blue-green moves all traffic at once by flipping `live`; allowed: 0 (use "
            "strategy canary for weighted steps)",
        ),
    ]
    for slot_name in SLOTS:
        slot = release.slot(slot_name)
        checks.append(
            (
                slot.replicas > service.scaling.max_replicas,
                f"{key}.release.{slot_name}.replicas",
                slot.replicas,
                f"exceeds scaling.maxReplicas ({service.scaling.max_replicas}); allowed: "
                f"1 to {service.scaling.max_replicas}",
            )
        )
        checks.append(
            (
                environment != "dev" and slot.image is not None and _tag(slot.image) == "latest",
                f"{key}.release.{slot_name}.image",
                slot.image,
                f"`latest` moves under a running release, so {environment} could run an "
                "image nobody reviewed; allowed: a version tag or a digest",
            )
        )
    return [Problem(k, v, message, missing=v is None) for failed, k, v, message in checks if failed]


def _tag(image: str) -> str | None:
    found = _IMAGE.fullmatch(image)
    return found["tag"] if found else None
