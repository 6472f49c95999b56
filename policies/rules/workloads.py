"""How workloads behave under load and disruption: resources, probes, namespaces, and the
autoscaler / disruption-budget pairs that keep a service up through node drains."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from policies.framework import kubernetes as k8s
from policies.framework import params
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Finding, Pack, ResourceRule, stack_rule
from policies.framework.values import MISSING, get, is_unknown, unknown
from policies.rules.pods import container_rule

Settings = Mapping[str, Any]


def _resources(container: k8s.Container, settings: Settings) -> Iterator[str]:
    if is_unknown(container.spec.get("resources")):
        raise unknown(container.spec["resources"], f"{container.path}.resources")

    def declared(kind: str, resource_name: str) -> bool:
        if get(container.spec, f"resources.{kind}.{resource_name}") is not MISSING:
            return True
        # A limit without a request becomes the request (the API server copies it).
        return kind == "requests" and declared("limits", resource_name)

    missing = [
        f"{kind}.{resource_name}"
        for kind in ("requests", "limits")
        for resource_name in settings[kind]
        if not declared(kind, resource_name)
    ]
    if missing:
        yield f"resources {', '.join(missing)} not set"


requests_and_limits = container_rule(
    _resources,
    name="k8s-requests-and-limits",
    description="Containers declare what they need (requests, for scheduling and "
    "autoscaling) and what they may use at most (limits).",
    remediation="Set resources.requests and resources.limits (platform:app…resources).",
    severity=Severity.MEDIUM,
    pack=Pack.QUALITY,
    compliance=Compliance(checkov=("CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13")),
    params=(
        params.string_list(
            "requests",
            "resources every container must request",
            default=["cpu", "memory"],
            item={"enum": ["cpu", "memory", "ephemeral-storage"]},
        ),
        params.string_list(
            "limits",
            "resources every container must limit",
            default=["cpu", "memory"],
            item={"enum": ["cpu", "memory", "ephemeral-storage"]},
        ),
    ),
)


def _probes(container: k8s.Container, settings: Settings) -> Iterator[str]:
    if container.init:
        return  # init containers run to completion; probes do not apply
    missing = []
    for probe in ("readinessProbe", "livenessProbe"):
        value = container.spec.get(probe)
        if is_unknown(value):
            raise unknown(value, f"{container.path}.{probe}")
        if not value:
            missing.append(probe)
    if missing:
        yield f"{' and '.join(missing)} not set"


health_probes = container_rule(
    _probes,
    name="k8s-health-probes",
    description="Long-running containers have readiness (no traffic until ready) and "
    "liveness (restart when stuck) probes.",
    remediation="Set readinessProbe and livenessProbe (platform:app…readinessPath / livenessPath).",
    severity=Severity.MEDIUM,
    pack=Pack.QUALITY,
    compliance=Compliance(checkov=("CKV_K8S_8", "CKV_K8S_9")),
    # Jobs run to completion: probes are for long-running workloads only.
    resource_types=k8s.LONG_RUNNING,
)


def _namespace(resource: Resource, settings: Settings) -> Iterator[str]:
    if resource.type == k8s.HELM_RELEASE:
        namespace = resource.get("namespace", "default") or "default"
    else:
        namespace = k8s.namespace_of(resource.props)
    if is_unknown(namespace):
        raise unknown(namespace, "metadata.namespace")
    if namespace == "default":
        yield "is in the default namespace; expected the service's own namespace"


not_default_namespace = ResourceRule(
    name="k8s-not-default-namespace",
    description="Objects live in their own namespace, not default (where policies, quotas "
    "and Pod Security are weakest).",
    remediation="Set metadata.namespace to the service's namespace (the App component "
    "creates one per service).",
    severity=Severity.LOW,
    pack=Pack.QUALITY,
    resource_types=(*k8s.NAMESPACED, k8s.HELM_RELEASE),
    compliance=Compliance(checkov=("CKV_K8S_21",)),
    evaluate=_namespace,
)


# -- autoscalers and disruption budgets (the whole stack) --------------------------------


def _key(resource: Resource) -> tuple[Any, Any]:
    return k8s.namespace_of(resource.props), k8s.name_of(resource.props)


def _running(workload: Resource) -> bool:
    replicas = workload.get("spec.replicas")
    if is_unknown(replicas):
        raise unknown(replicas, "spec.replicas")
    return replicas is MISSING or int(replicas) > 0  # absent: the autoscaler decides


def _autoscalers(stack: StackView) -> dict[tuple[Any, Any, Any], Resource]:
    """HPAs by the (namespace, kind, name) of the workload they scale."""
    found = {}
    for hpa in stack.of_type(k8s.HPA, k8s.HPA_V1):
        target = hpa.get("spec.scaleTargetRef", {})
        if is_unknown(target):
            target = {"kind": target, "name": target}  # scales a workload not known yet
        if isinstance(target, Mapping):
            found[(k8s.namespace_of(hpa.props), target.get("kind"), target.get("name"))] = hpa
    return found


def _floor(workload: Resource, hpa: Resource | None) -> int:
    """The fewest pods the workload runs with: the autoscaler's minimum, else its replicas."""
    value = hpa.get("spec.minReplicas", 1) if hpa else workload.get("spec.replicas", 1)
    if is_unknown(value):
        raise unknown(value, "spec.minReplicas")
    return int(value)


def _has_unknown(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_unknown(v) for v in value)
    return is_unknown(value)


def _autoscaler_of(stack: StackView, workload: Resource) -> Resource | None:
    autoscalers = stack.memo("autoscalers", lambda: _autoscalers(stack))
    namespace, name = _key(workload)
    kind = workload.type.rsplit(":", 1)[-1]
    hpa = autoscalers.get((namespace, kind, name))
    # A target or namespace taken from another resource's output is unknown in a first
    # preview: no match then does not mean no autoscaler.
    if hpa is None and _has_unknown([namespace, name, list(autoscalers)]):
        raise unknown(name, "spec.scaleTargetRef.name")
    return hpa


def _budgets_for(stack: StackView, workload: Resource) -> list[Resource]:
    labels = k8s.pod_labels(workload.type, workload.props)
    namespace = k8s.namespace_of(workload.props)
    found, undecided = [], False
    for pdb in stack.of_type(k8s.PDB):
        pdb_namespace, selector = k8s.namespace_of(pdb.props), pdb.get("spec.selector")
        if pdb_namespace == namespace and k8s.selects(selector, labels):
            found.append(pdb)
        elif _has_unknown([pdb_namespace, namespace, selector]):
            undecided = True  # it may select these pods once its values are known
    # (Scalable kinds keep their pod labels in spec.template.)
    if not found and (undecided or _has_unknown(workload.get("spec.template.metadata.labels"))):
        raise unknown(None, "spec.selector")
    return found


def _has_hpa(workload: Resource, stack: StackView, settings: Settings) -> Iterator[Finding | str]:
    if not _running(workload):
        return
    minimum = int(settings["minReplicas"])
    hpa = _autoscaler_of(stack, workload)
    if hpa is None:
        yield f"{workload.label} has no HorizontalPodAutoscaler"
    elif _floor(workload, hpa) < minimum:
        yield Finding(
            f"{hpa.label} keeps {workload.label} at {_floor(workload, hpa)} replica(s) "
            f"at least; expected minReplicas >= {minimum} (one pod per zone survives "
            "the loss of another)",
            hpa.urn,
        )


workload_hpa = stack_rule(
    over=k8s.SCALABLE,
    name="k8s-workload-hpa",
    description="Every running Deployment scales with load, never below the configured "
    "number of replicas.",
    remediation="The App component gives each running slot an autoscaler; raise the slot's "
    "replicas (the autoscaler's floor) to the minimum.",
    severity=Severity.HIGH,
    pack=Pack.QUALITY,
    resource_types=(*k8s.SCALABLE, k8s.HPA),
    params=(
        params.integer(
            "minReplicas",
            "the lowest minReplicas an autoscaler may have",
            default=2,
            minimum=1,
            maximum=100,
        ),
    ),
    judge=_has_hpa,
)


def _has_pdb(workload: Resource, stack: StackView, settings: Settings) -> Iterator[str]:
    # Whichever autoscaler scales it: the budget is about its pods.
    if _running(workload) and not _budgets_for(stack, workload):
        yield (
            f"{workload.label} has no PodDisruptionBudget selecting its pods; a node drain "
            "may evict all of them at once"
        )


workload_pdb = stack_rule(
    over=k8s.SCALABLE,
    name="k8s-workload-pdb",
    description="Every running Deployment has a PodDisruptionBudget, so drains and upgrades "
    "evict its pods a few at a time.",
    remediation="Add a policy/v1 PodDisruptionBudget whose selector matches the pod "
    "template's labels (maxUnavailable: 1).",
    severity=Severity.MEDIUM,
    pack=Pack.QUALITY,
    resource_types=(*k8s.SCALABLE, k8s.PDB),
    judge=_has_pdb,
)


def _scales_on_cpu(hpa: Resource) -> bool:
    if hpa.type == k8s.HPA_V1:
        return True  # v1 scales on CPU only (80 % when no target is given)
    metrics = hpa.get("spec.metrics", [])
    if is_unknown(metrics):
        raise unknown(metrics, "spec.metrics")
    if not metrics:
        return True  # no metrics: Kubernetes scales on 80 % average CPU utilization
    # Only a Utilization target is measured against the request; an AverageValue target
    # is an absolute quantity and needs none.
    return any(
        get(m, "resource.name") == "cpu" and get(m, "resource.target.type") == "Utilization"
        for m in metrics
        if isinstance(m, Mapping)
    )


def _cpu_requests(workload: Resource, stack: StackView, settings: Settings) -> Iterator[str]:
    if not _running(workload):
        return
    hpa = _autoscaler_of(stack, workload)
    if hpa is None or not _scales_on_cpu(hpa):
        return
    for container in k8s.containers(workload.type, workload.props, lists=("containers",)):
        # A CPU limit without a request becomes the request (the API server copies it).
        if (
            get(container.spec, "resources.requests.cpu") is MISSING
            and get(container.spec, "resources.limits.cpu") is MISSING
        ):
            yield (
                f"{hpa.label} scales {workload.label} on CPU utilization, but container "
                f"{container.name!r} requests no CPU: the autoscaler cannot compute it"
            )


hpa_cpu_requests = stack_rule(
    over=k8s.SCALABLE,
    name="k8s-hpa-target-cpu-requests",
    description="A workload scaled on CPU utilization requests CPU in every container "
    "(utilization is measured against the request).",
    remediation="Set resources.requests.cpu on each container of the scaled workload.",
    severity=Severity.HIGH,
    pack=Pack.QUALITY,
    enforcement=EnforcementLevel.MANDATORY,  # otherwise the autoscaler silently never acts
    resource_types=(*k8s.SCALABLE, k8s.HPA),
    judge=_cpu_requests,
)


def _allowed_disruptions(pdb: Resource, pods: int) -> int | None:
    """Pods the budget lets go at the floor; None when the budget sets neither field."""
    for key in ("minAvailable", "maxUnavailable"):
        value = pdb.get(f"spec.{key}")
        if is_unknown(value):
            raise unknown(value, f"spec.{key}")
        if value is MISSING:
            continue
        text = str(value)
        try:
            # Percentages round up, for both fields.
            scaled = math.ceil(pods * float(text[:-1]) / 100) if text.endswith("%") else int(text)
        except ValueError:
            return None  # not a count or a percentage: the API server refuses the budget
        return pods - scaled if key == "minAvailable" else scaled
    return None


def _allows_disruption(
    workload: Resource, stack: StackView, settings: Settings
) -> Iterator[Finding]:
    if not _running(workload):
        return
    pods = _floor(workload, _autoscaler_of(stack, workload))
    for pdb in _budgets_for(stack, workload):
        allowed = _allowed_disruptions(pdb, pods)
        if allowed is not None and allowed < 1:
            yield Finding(
                f"{pdb.label} allows {max(allowed, 0)} voluntary disruption(s) when "
                f"{workload.label} runs its minimum of {pods} pod(s): node drains and "
                "cluster upgrades would block",
                pdb.urn,
            )


pdb_allows_disruption = stack_rule(
    over=k8s.SCALABLE,
    name="k8s-pdb-allows-disruption",
    description="Disruption budgets still let one pod go at the workload's minimum size, so "
    "node drains and upgrades can proceed.",
    remediation="Use maxUnavailable: 1 (or a minAvailable below the autoscaler's minReplicas).",
    severity=Severity.HIGH,
    pack=Pack.QUALITY,
    enforcement=EnforcementLevel.MANDATORY,  # a blocking budget stalls every node upgrade
    resource_types=(*k8s.SCALABLE, k8s.HPA, k8s.PDB),
    judge=_allows_disruption,
)

RULES = (
    requests_and_limits,
    health_probes,
    not_default_namespace,
    workload_hpa,
    workload_pdb,
    hpa_cpu_requests,
    pdb_allows_disruption,
)
