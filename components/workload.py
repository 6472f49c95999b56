"""Pure builders of one service's Kubernetes objects: no resources are created here.

Kept apart from the component so the release rules (which slot runs, which takes what
share of traffic, what the preview route reaches) read as plain functions of the settings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

SLOTS = ("blue", "green")
SERVICE_PORT = 80
RUN_AS = 10001  # any non-root id; images must not rely on a particular one
LIVE_ACTION = "live"
PREVIEW_ACTION = "preview"
NOT_FOUND_ACTION = "not-found"


@dataclass(frozen=True)
class Probes:
    startup: str
    readiness: str
    liveness: str


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


@dataclass(frozen=True)
class Slot:
    image: str | None  # tag, digest or tag@digest; None: nothing deployed yet
    replicas: int  # pods while it runs (the autoscaler's floor)
    scaled_down: bool

    @property
    def running(self) -> bool:
        return self.image is not None and not self.scaled_down


@dataclass(frozen=True)
class AccessLogTarget:
    """Where the ALB writes its access logs (the AccessLogs component's bucket)."""

    bucket: pulumi.Input[str]
    prefix: str


@dataclass(frozen=True)
class ServiceArgs:
    name: str
    port: int
    path: str
    image_repository: pulumi.Input[str]  # registry URL, without tag
    probes: Probes
    resources: Resources
    max_replicas: int
    target_cpu_percent: int
    env: Mapping[str, str]
    secret_sources: Sequence[str]  # database, cache
    live: str  # blue | green
    candidate_weight: int
    strategy: str
    slots: Mapping[str, Slot]

    @property
    def candidate(self) -> str:
        return "green" if self.live == "blue" else "blue"


def slot_service_name(service: str, slot: str) -> str:
    return f"{service}-{slot}"


def image_reference(repository: str, image: str) -> str:
    return f"{repository}@{image}" if image.startswith("sha256:") else f"{repository}:{image}"


def version_label(image: str) -> str:
    """The ``version`` label: the tag, or for a digest alone its first 12 hex digits."""
    tag, _, digest = image.partition("@")
    if tag.startswith("sha256:"):
        tag, digest = "", tag
    return tag if tag else "sha256-" + digest.removeprefix("sha256:")[:12]


def weights(service: ServiceArgs) -> dict[str, int]:
    """Percent of the service's traffic each slot receives."""
    return {
        service.live: 100 - service.candidate_weight,
        service.candidate: service.candidate_weight,
    }


# Pod Security Standards: `restricted` is enforced, and warned/audited at the same level so
# a violation shows up in kubectl and the audit log before it is refused.
POD_SECURITY = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
}


def dns_egress() -> k8s.networking.v1.NetworkPolicyEgressRuleArgsDict:
    """The cluster's DNS, which every pod behind a deny-all policy still needs."""
    return {
        "to": [
            {
                "namespace_selector": {
                    "match_labels": {"kubernetes.io/metadata.name": "kube-system"}
                },
                "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": p, "port": 53} for p in ("UDP", "TCP")],
    }


def https_egress() -> k8s.networking.v1.NetworkPolicyEgressRuleArgsDict:
    """HTTPS anywhere: AWS APIs (STS for IRSA among them) and the Kubernetes API."""
    return {
        "to": [{"ip_block": {"cidr": "0.0.0.0/0"}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    }


def labels(service: str, slot: str) -> dict[str, str]:
    return {"app": service, "slot": slot}


def pod_template(
    service: ServiceArgs,
    slot: str,
    image: pulumi.Input[str],
    version: str,
    settings_hash: pulumi.Input[str],
) -> k8s.core.v1.PodTemplateSpecArgsDict:
    selector = labels(service.name, slot)
    return {
        "metadata": {
            "labels": {**selector, "version": version},
            # envFrom is read at container start: a new hash rolls the pods onto new settings.
            "annotations": {"platform/settings-hash": settings_hash},
        },
        "spec": {
            "service_account_name": service.name,
            # IRSA's webhook mounts its own STS token; the Kubernetes API token is not needed.
            "automount_service_account_token": False,
            "security_context": {
                "run_as_non_root": True,
                "run_as_user": RUN_AS,
                "run_as_group": RUN_AS,
                "fs_group": RUN_AS,
                "seccomp_profile": {"type": "RuntimeDefault"},
            },
            # Longer than the ALB's deregistration delay plus the pre-stop pause.
            "termination_grace_period_seconds": 45,
            "topology_spread_constraints": [
                {
                    "max_skew": 1,
                    "topology_key": key,
                    "when_unsatisfiable": "ScheduleAnyway",
                    "label_selector": {"match_labels": selector},
                    "match_label_keys": ["pod-template-hash"],
                }
                for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
            ],
            "containers": [_container(service, image)],
            "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "256Mi"}}],
        },
    }


_HTTP = "http"
_CONTAINER_SECURITY: k8s.core.v1.SecurityContextArgsDict = {
    "run_as_non_root": True,
    "run_as_user": RUN_AS,
    "run_as_group": RUN_AS,
    "allow_privilege_escalation": False,
    "privileged": False,
    "read_only_root_filesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccomp_profile": {"type": "RuntimeDefault"},
}


def _container(service: ServiceArgs, image: pulumi.Input[str]) -> k8s.core.v1.ContainerArgsDict:
    return {
        "name": service.name,
        "image": image,
        "ports": [{"name": _HTTP, "container_port": service.port}],
        "env_from": [{"config_map_ref": {"name": config_map_name(service.name)}}],
        "resources": {
            "requests": {
                "cpu": service.resources.cpu_request,
                "memory": service.resources.memory_request,
            },
            "limits": {
                "cpu": service.resources.cpu_limit,
                "memory": service.resources.memory_limit,
            },
        },
        # A slow first start is not a failure; after it, liveness takes over.
        "startup_probe": _probe(service.probes.startup, 5, 30),
        "readiness_probe": _probe(service.probes.readiness, 5, 3),
        "liveness_probe": _probe(service.probes.liveness, 15, 3),
        # The ALB keeps sending requests until the target is deregistered.
        "lifecycle": {"pre_stop": {"sleep": {"seconds": 15}}},
        "security_context": _CONTAINER_SECURITY,
        "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
    }


def _probe(path: str, period: int, failures: int) -> k8s.core.v1.ProbeArgsDict:
    return {
        "http_get": {"path": path, "port": _HTTP},
        "period_seconds": period,
        "timeout_seconds": 2,
        "failure_threshold": failures,
    }


def config_map_name(service: str) -> str:
    return f"{service}-settings"


@dataclass(frozen=True)
class LoadBalancerArgs:
    """The one ALB every service's Ingress joins (an Ingress group)."""

    group: str
    certificate_arn: str
    web_acl_arn: pulumi.Input[str]
    tags: Mapping[str, str]
    access_logs: AccessLogTarget
    deletion_protection: bool


def load_balancer_annotations(
    alb: LoadBalancerArgs, *, deletion_protection: bool | None = None
) -> dict[str, pulumi.Input[str]]:
    """What an Ingress of the group says about the ALB they share. The controller merges the
    group's attributes and refuses only conflicting values, so deletion protection is set by
    the group's anchor alone (``deletion_protection``; None leaves it out): the controller
    refuses to delete an Ingress whose own annotation turns it on, so a service's Ingress
    that carried it could never be removed."""
    prefix = "alb.ingress.kubernetes.io"
    attributes = [
        "routing.http.drop_invalid_header_fields.enabled=true",
        "access_logs.s3.enabled=true",
    ]
    if deletion_protection is not None:
        attributes.insert(0, f"deletion_protection.enabled={str(deletion_protection).lower()}")
    log_attributes = pulumi.Output.from_input(alb.access_logs.bucket).apply(
        lambda bucket: ",".join(
            [
                *attributes,
                f"access_logs.s3.bucket={bucket}",
                f"access_logs.s3.prefix={alb.access_logs.prefix}",
            ]
        )
    )
    return {
        f"{prefix}/scheme": "internet-facing",
        f"{prefix}/group.name": alb.group,
        f"{prefix}/listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}]),
        f"{prefix}/ssl-redirect": "443",
        f"{prefix}/certificate-arn": alb.certificate_arn,
        f"{prefix}/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        f"{prefix}/wafv2-acl-arn": alb.web_acl_arn,
        f"{prefix}/load-balancer-attributes": log_attributes,
        f"{prefix}/tags": ",".join(f"{k}={v}" for k, v in sorted(alb.tags.items())),
    }


def anchor_annotations(alb: LoadBalancerArgs) -> dict[str, pulumi.Input[str]]:
    """The group's anchor: the listeners' default answer (404 for a host or path no service
    claims) and the ALB's deletion protection, on an Ingress no release or service removal
    ever deletes."""
    prefix = "alb.ingress.kubernetes.io"
    not_found = {
        "type": "fixed-response",
        "fixedResponseConfig": {
            "contentType": "text/plain",
            "statusCode": "404",
            "messageBody": "not found",
        },
    }
    return {
        **load_balancer_annotations(alb, deletion_protection=alb.deletion_protection),
        f"{prefix}/actions.{NOT_FOUND_ACTION}": json.dumps(not_found, sort_keys=True),
    }


def ingress_annotations(
    service: ServiceArgs,
    *,
    alb: LoadBalancerArgs,
    order: int,
    preview_allowed_cidrs: Sequence[str],
) -> dict[str, pulumi.Input[str]]:
    prefix = "alb.ingress.kubernetes.io"
    share = weights(service)
    live_action = {
        "type": "forward",
        "forwardConfig": {
            "targetGroups": [
                {
                    "serviceName": slot_service_name(service.name, slot),
                    "servicePort": SERVICE_PORT,
                    "weight": share[slot],
                }
                for slot in SLOTS
            ],
            # A canary's share is per request: pinning clients to a slot would skew it.
            "targetGroupStickinessConfig": {"enabled": False},
        },
    }
    preview_action = {
        "type": "forward",
        "forwardConfig": {
            "targetGroups": [
                {
                    "serviceName": slot_service_name(service.name, service.candidate),
                    "servicePort": SERVICE_PORT,
                }
            ]
        },
    }
    preview_conditions = [
        {"field": "source-ip", "sourceIpConfig": {"values": list(preview_allowed_cidrs)}}
    ]
    return {
        **load_balancer_annotations(alb),
        f"{prefix}/target-type": "ip",
        # Every service shares one ALB; more specific paths are matched first.
        f"{prefix}/group.order": str(order),
        f"{prefix}/healthcheck-path": service.probes.readiness,
        f"{prefix}/healthcheck-port": "traffic-port",
        f"{prefix}/healthcheck-interval-seconds": "10",
        f"{prefix}/healthy-threshold-count": "2",
        f"{prefix}/unhealthy-threshold-count": "3",
        f"{prefix}/success-codes": "200-399",
        f"{prefix}/target-group-attributes": "deregistration_delay.timeout_seconds=30",
        f"{prefix}/actions.{LIVE_ACTION}": json.dumps(live_action, sort_keys=True),
        f"{prefix}/actions.{PREVIEW_ACTION}": json.dumps(preview_action, sort_keys=True),
        f"{prefix}/conditions.{PREVIEW_ACTION}": json.dumps(preview_conditions),
    }


def ingress_rules(
    service: ServiceArgs, *, host: str, preview_host: str
) -> list[k8s.networking.v1.IngressRuleArgsDict]:
    def rule(rule_host: str, action: str) -> k8s.networking.v1.IngressRuleArgsDict:
        return {
            "host": rule_host,
            "http": {
                "paths": [
                    {
                        "path": service.path,
                        "path_type": "Prefix",
                        "backend": {
                            "service": {"name": action, "port": {"name": "use-annotation"}}
                        },
                    }
                ]
            },
        }

    return [rule(host, LIVE_ACTION), rule(preview_host, PREVIEW_ACTION)]


def group_orders(paths: Sequence[str]) -> list[int]:
    """ALB rule order for services sharing the load balancer: longest path first, so `/`
    catches only what no other service claims."""
    ranked = sorted(range(len(paths)), key=lambda i: (-len(paths[i].rstrip("/")), paths[i]))
    orders = [0] * len(paths)
    for position, index in enumerate(ranked, start=1):
        orders[index] = position
    return orders
