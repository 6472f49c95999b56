"""Cases for policies/rules/workloads.py."""

from __future__ import annotations

from typing import Any

from tests.policy_cases import passes, undecided, violates
from tests.policy_cases.pods import (
    CRON_JOB,
    DROP,
    JOB,
    POD,
    STATEFUL_SET,
    changed,
    container,
    deployment,
    init_container,
    workload,
)
from tests.policy_harness import UNKNOWN, Res

SERVICE = "kubernetes:core/v1:Service"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
HPA_V1 = "kubernetes:autoscaling/v1:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HELM = "kubernetes:helm.sh/v3:Release"


def cpu(target: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    target = target or {"type": "Utilization", "averageUtilization": 70}
    return [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]


MEMORY = [
    {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}},
    }
]


def hpa(
    target: Any = "web",
    *,
    min_replicas: Any = 2,
    kind: str = "Deployment",
    namespace: Any = "shop",
    name: str = "web-hpa",
    **spec: Any,
) -> Res:
    """An autoscaler of ``target``; its target name comes from the workload's output."""
    body: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
        "maxReplicas": 10,
        "metrics": cpu(),
    }
    if min_replicas is not DROP:
        body["minReplicas"] = min_replicas
    props = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {**body, **spec},
    }
    return Res(HPA, name, props, {"spec": ["web"]})


def hpa_v1(target: str = "web", **spec: Any) -> Res:
    props = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web-hpa", "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 2,
            "maxReplicas": 10,
            **spec,
        },
    }
    return Res(HPA_V1, "web-hpa", props, {"spec": ["web"]})


def pdb(
    *, selector: Any = None, namespace: Any = "shop", name: str = "web-pdb", **spec: Any
) -> Res:
    """A budget over the pods labelled app=web (``selector`` replaces the whole selector);
    ``spec`` holds minAvailable or maxUnavailable, else maxUnavailable: 1."""
    props = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}} if selector is None else selector,
            **(spec or {"maxUnavailable": 1}),
        },
    }
    return Res(PDB, name, props)


def service(namespace: Any = "shop", name: str = "web") -> Res:
    props = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
    }
    return Res(SERVICE, f"{name}-svc", props)


def helm(namespace: Any = DROP) -> Res:
    props: dict[str, Any] = {"chart": "aws-load-balancer-controller", "version": "1.13.0"}
    if namespace is not DROP:
        props["namespace"] = namespace
    return Res(HELM, "lb-controller", props)


DEPLOY = deployment()
SCALED_DOWN = {"replicas": 0}
NO_CPU_REQUEST = {"containers[0].resources.requests": {"memory": "256Mi"}}
NO_CPU = {"containers[0].resources": {"requests": {"memory": "256Mi"}, "limits": {"memory": "1Gi"}}}

CASES = [
    # -- k8s-requests-and-limits
    violates(
        "k8s-requests-and-limits",
        "no memory limit",
        deployment({"containers[0].resources.limits.memory": DROP}),
        message="container 'web': resources limits.memory not set",
    ),
    violates(
        "k8s-requests-and-limits",
        "init container requests no CPU",
        deployment({"initContainers": [{**init_container(), "resources": {}}]}),
        message="container 'migrate': resources requests.cpu, requests.memory",
    ),
    violates(
        "k8s-requests-and-limits",
        "CronJob without resources",
        workload({"containers[0].resources": DROP}, kind=CRON_JOB),
        message="resources requests.cpu, requests.memory, limits.cpu, limits.memory not set",
    ),
    violates(
        "k8s-requests-and-limits",
        "ephemeral storage required by the parameter",
        deployment(),
        config={"requests": ["cpu", "memory", "ephemeral-storage"], "limits": ["memory"]},
        message="resources requests.ephemeral-storage not set",
    ),
    passes("k8s-requests-and-limits", "requests and limits for cpu and memory", deployment()),
    passes(
        "k8s-requests-and-limits",
        "limits alone become the requests",
        deployment({"containers[0].resources.requests": DROP}),
    ),
    passes(
        "k8s-requests-and-limits",
        "no CPU limit where only memory limits are required",
        deployment({"containers[0].resources.limits.cpu": DROP}),
        config={"limits": ["memory"]},
    ),
    passes(
        "k8s-requests-and-limits",
        "a request computed at deploy time counts as set",
        deployment({"containers[0].resources.requests.cpu": UNKNOWN}),
    ),
    undecided(
        "k8s-requests-and-limits",
        "resources unknown",
        deployment({"containers[0].resources": UNKNOWN}),
    ),
    # -- k8s-health-probes
    violates(
        "k8s-health-probes",
        "no readiness probe",
        deployment({"containers[0].readinessProbe": DROP}),
        message="container 'web': readinessProbe not set",
    ),
    violates(
        "k8s-health-probes",
        "bare Pod without a liveness probe",
        workload({"containers[0].livenessProbe": DROP}, kind=POD),
        message="livenessProbe not set",
    ),
    violates(
        "k8s-health-probes",
        "StatefulSet sidecar without probes",
        workload(
            {"containers": [container(), container("proxy", readinessProbe={}, livenessProbe={})]},
            kind=STATEFUL_SET,
        ),
        message="container 'proxy': readinessProbe and livenessProbe not set",
    ),
    passes(
        "k8s-health-probes",
        "both probes; init container needs none",
        deployment({"initContainers": [init_container()]}),
    ),
    passes(
        "k8s-health-probes",
        "a Job runs to completion",
        workload(
            {"containers[0].readinessProbe": DROP, "containers[0].livenessProbe": DROP}, kind=JOB
        ),
    ),
    passes(
        "k8s-health-probes",
        "a CronJob runs to completion",
        workload(
            {"containers[0].readinessProbe": DROP, "containers[0].livenessProbe": DROP},
            kind=CRON_JOB,
        ),
    ),
    undecided(
        "k8s-health-probes",
        "readiness probe unknown",
        deployment({"containers[0].readinessProbe": UNKNOWN}),
    ),
    # -- k8s-not-default-namespace
    violates(
        "k8s-not-default-namespace",
        "no namespace means default",
        deployment(namespace=None),
        message="is in the default namespace",
    ),
    violates(
        "k8s-not-default-namespace",
        "Service explicitly in default",
        service(namespace="default"),
        message="is in the default namespace",
    ),
    violates(
        "k8s-not-default-namespace",
        "autoscaler in an empty namespace",
        hpa(namespace=""),
        message="is in the default namespace",
    ),
    violates(
        "k8s-not-default-namespace",
        "Helm release without a namespace",
        helm(),
        message="is in the default namespace",
    ),
    passes("k8s-not-default-namespace", "Deployment in its namespace", deployment()),
    passes("k8s-not-default-namespace", "Helm release in kube-system", helm("kube-system")),
    undecided(
        "k8s-not-default-namespace",
        "namespace from another resource's output",
        deployment(namespace=UNKNOWN),
    ),
    undecided("k8s-not-default-namespace", "Helm release namespace unknown", helm(UNKNOWN)),
    # -- k8s-workload-hpa
    violates(
        "k8s-workload-hpa",
        "running Deployment without an autoscaler",
        deployment(),
        at="web",
        message="Deployment 'web' has no HorizontalPodAutoscaler",
    ),
    violates(
        "k8s-workload-hpa",
        "minReplicas below the default minimum of 2",
        deployment(),
        hpa(min_replicas=1),
        at="web-hpa",
        message="keeps Deployment 'web' at 1 replica(s) at least; expected minReplicas >= 2",
    ),
    violates(
        "k8s-workload-hpa",
        "minReplicas not set defaults to 1",
        deployment(),
        hpa(min_replicas=DROP),
        at="web-hpa",
        message="at 1 replica(s) at least",
    ),
    violates(
        "k8s-workload-hpa",
        "minReplicas below a configured minimum",
        deployment(),
        hpa(min_replicas=2),
        config={"minReplicas": 3},
        at="web-hpa",
        message="expected minReplicas >= 3",
    ),
    violates(
        "k8s-workload-hpa",
        "autoscaler in another namespace",
        deployment(),
        hpa(namespace="ops"),
        at="web",
        message="has no HorizontalPodAutoscaler",
    ),
    violates(
        "k8s-workload-hpa",
        "autoscaler of a StatefulSet of the same name",
        deployment(),
        hpa(kind="StatefulSet"),
        at="web",
        message="Deployment 'web' has no HorizontalPodAutoscaler",
    ),
    violates(
        "k8s-workload-hpa",
        "StatefulSet without an autoscaler",
        workload(kind=STATEFUL_SET, spec={"replicas": 3}),
        message="StatefulSet 'web' has no HorizontalPodAutoscaler",
    ),
    passes("k8s-workload-hpa", "autoscaler with a floor of 2", deployment(), hpa()),
    passes("k8s-workload-hpa", "autoscaling/v1 autoscaler", deployment(), hpa_v1()),
    passes(
        "k8s-workload-hpa",
        "floor of 1 where the parameter allows it",
        deployment(),
        hpa(min_replicas=1),
        config={"minReplicas": 1},
    ),
    passes(
        "k8s-workload-hpa",
        "scaled-down Deployment needs no autoscaler",
        deployment(spec=SCALED_DOWN),
    ),
    passes("k8s-workload-hpa", "Jobs are not scaled", workload(kind=JOB)),
    undecided("k8s-workload-hpa", "minReplicas unknown", deployment(), hpa(min_replicas=UNKNOWN)),
    undecided(
        "k8s-workload-hpa",
        "target name not known until the Deployment exists",
        deployment(),
        hpa(target=UNKNOWN),
    ),
    undecided(
        "k8s-workload-hpa",
        "replicas unknown and no autoscaler",
        deployment(spec={"replicas": UNKNOWN}),
    ),
    # -- k8s-workload-pdb
    violates(
        "k8s-workload-pdb",
        "no budget",
        deployment(),
        hpa(),
        at="web",
        message="Deployment 'web' has no PodDisruptionBudget selecting its pods",
    ),
    violates(
        "k8s-workload-pdb",
        "budget selecting other pods",
        deployment(),
        pdb(selector={"matchLabels": {"app": "worker"}}),
        at="web",
        message="has no PodDisruptionBudget selecting its pods",
    ),
    violates(
        "k8s-workload-pdb",
        "budget in another namespace",
        deployment(),
        pdb(namespace="ops"),
        at="web",
        message="has no PodDisruptionBudget",
    ),
    passes("k8s-workload-pdb", "budget selecting the pods", deployment(), hpa(), pdb()),
    passes(
        "k8s-workload-pdb",
        "empty selector selects every pod of the namespace",
        deployment(),
        pdb(selector={}),
    ),
    passes(
        "k8s-workload-pdb",
        "scaled-down Deployment needs no budget",
        deployment(spec=SCALED_DOWN),
    ),
    undecided("k8s-workload-pdb", "replicas unknown", deployment(spec={"replicas": UNKNOWN})),
    undecided(
        "k8s-workload-pdb",
        "budget selector unknown",
        deployment(),
        pdb(selector=UNKNOWN),
    ),
    undecided(
        "k8s-workload-pdb",
        "budget namespace from another resource's output",
        deployment(),
        pdb(namespace=UNKNOWN),
    ),
    undecided(
        "k8s-workload-pdb",
        "pod template labels unknown",
        Res(
            DEPLOY.type,
            DEPLOY.name,
            changed(DEPLOY.props, {"spec.template.metadata.labels": UNKNOWN}),
        ),
        pdb(),
    ),
    # -- k8s-hpa-target-cpu-requests
    violates(
        "k8s-hpa-target-cpu-requests",
        "scaled on CPU utilization without a CPU request or limit",
        deployment(NO_CPU),
        hpa(),
        at="web",
        message="scales Deployment 'web' on CPU utilization, but container 'web' requests no CPU",
    ),
    violates(
        "k8s-hpa-target-cpu-requests",
        "autoscaling/v1 target utilization and a sidecar without a CPU request",
        deployment({"containers": [container(), container("proxy", resources={})]}),
        hpa_v1(targetCPUUtilizationPercentage=70),
        at="web",
        message="container 'proxy' requests no CPU",
    ),
    violates(
        "k8s-hpa-target-cpu-requests",
        "no metrics scales on 80 % CPU by default",
        deployment(NO_CPU),
        hpa(metrics=[]),
        at="web",
        message="requests no CPU",
    ),
    passes("k8s-hpa-target-cpu-requests", "every container requests CPU", deployment(), hpa()),
    passes(
        "k8s-hpa-target-cpu-requests",
        "scaled on memory only",
        deployment(NO_CPU),
        hpa(metrics=MEMORY),
    ),
    passes(
        "k8s-hpa-target-cpu-requests",
        "a CPU limit alone becomes the request",
        deployment(NO_CPU_REQUEST),
        hpa(),
    ),
    passes(
        "k8s-hpa-target-cpu-requests",
        "an absolute CPU target needs no request",
        deployment(NO_CPU),
        hpa(metrics=cpu({"type": "AverageValue", "averageValue": "500m"})),
    ),
    passes(
        "k8s-hpa-target-cpu-requests",
        "init container needs no CPU request",
        deployment({"initContainers": [{**init_container(), "resources": {}}]}),
        hpa(),
    ),
    passes(
        "k8s-hpa-target-cpu-requests",
        "scaled-down Deployment",
        deployment(NO_CPU, spec=SCALED_DOWN),
        hpa(),
    ),
    undecided(
        "k8s-hpa-target-cpu-requests",
        "containers unknown",
        deployment({"containers": UNKNOWN}),
        hpa(),
    ),
    undecided(
        "k8s-hpa-target-cpu-requests",
        "replicas unknown",
        deployment(NO_CPU, spec={"replicas": UNKNOWN}),
        hpa(),
    ),
    undecided(
        "k8s-hpa-target-cpu-requests",
        "autoscaler target not known yet",
        deployment(NO_CPU),
        hpa(target=UNKNOWN),
    ),
    # -- k8s-pdb-allows-disruption
    violates(
        "k8s-pdb-allows-disruption",
        "minAvailable equal to the autoscaler's floor",
        deployment(),
        hpa(min_replicas=2),
        pdb(minAvailable=2),
        at="web-pdb",
        message="allows 0 voluntary disruption(s) when Deployment 'web' runs its minimum of 2",
    ),
    violates(
        "k8s-pdb-allows-disruption",
        "minAvailable 100%",
        deployment(),
        hpa(min_replicas=3),
        pdb(minAvailable="100%"),
        at="web-pdb",
        message="allows 0 voluntary disruption(s)",
    ),
    violates(
        "k8s-pdb-allows-disruption",
        "percentages round up: 75% of 2 pods is 2",
        deployment(),
        hpa(min_replicas=2),
        pdb(minAvailable="75%"),
        at="web-pdb",
        message="allows 0 voluntary disruption(s)",
    ),
    violates(
        "k8s-pdb-allows-disruption",
        "maxUnavailable 0",
        deployment(),
        hpa(),
        pdb(maxUnavailable=0),
        at="web-pdb",
        message="allows 0 voluntary disruption(s)",
    ),
    violates(
        "k8s-pdb-allows-disruption",
        "minAvailable 1 on a single replica without an autoscaler",
        deployment(spec={"replicas": 1}),
        pdb(minAvailable=1),
        at="web-pdb",
        message="runs its minimum of 1 pod(s)",
    ),
    passes("k8s-pdb-allows-disruption", "maxUnavailable 1", deployment(), hpa(), pdb()),
    passes(
        "k8s-pdb-allows-disruption",
        "minAvailable below the floor",
        deployment(),
        hpa(min_replicas=3),
        pdb(minAvailable=2),
    ),
    passes(
        "k8s-pdb-allows-disruption",
        "maxUnavailable 10% rounds up to one pod",
        deployment(),
        hpa(),
        pdb(maxUnavailable="10%"),
    ),
    passes(
        "k8s-pdb-allows-disruption",
        "blocking budget of a scaled-down Deployment",
        deployment(spec=SCALED_DOWN),
        pdb(minAvailable="100%"),
    ),
    passes(
        "k8s-pdb-allows-disruption",
        "blocking budget over other pods",
        deployment(),
        hpa(),
        pdb(),
        pdb(selector={"matchLabels": {"app": "worker"}}, name="worker-pdb", maxUnavailable=0),
    ),
    undecided(
        "k8s-pdb-allows-disruption",
        "minAvailable unknown",
        deployment(),
        hpa(),
        pdb(minAvailable=UNKNOWN),
    ),
    undecided(
        "k8s-pdb-allows-disruption",
        "autoscaler floor unknown",
        deployment(),
        hpa(min_replicas=UNKNOWN),
        pdb(minAvailable=2),
    ),
    undecided(
        "k8s-pdb-allows-disruption",
        "autoscaler target not known yet, so neither is the floor",
        deployment(),
        hpa(target=UNKNOWN, min_replicas=3),
        pdb(minAvailable=2),
    ),
]
