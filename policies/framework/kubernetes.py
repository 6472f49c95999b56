"""Reading Kubernetes objects as the rules need them: the pod spec inside any workload kind,
its containers, the effective security context, and ALB Ingress annotations."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policies.framework.values import MISSING, get, is_unknown, unknown

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"
REPLICATION_CONTROLLER = "kubernetes:core/v1:ReplicationController"
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
HPA_V1 = "kubernetes:autoscaling/v1:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"

# Where each workload kind keeps its pod spec.
_POD_SPEC_PATH = {
    DEPLOYMENT: "spec.template.spec",
    STATEFUL_SET: "spec.template.spec",
    DAEMON_SET: "spec.template.spec",
    REPLICA_SET: "spec.template.spec",
    REPLICATION_CONTROLLER: "spec.template.spec",
    JOB: "spec.template.spec",
    CRON_JOB: "spec.jobTemplate.spec.template.spec",
    POD: "spec",
}
WORKLOADS = tuple(_POD_SPEC_PATH)
LONG_RUNNING = (DEPLOYMENT, STATEFUL_SET, DAEMON_SET, REPLICA_SET, REPLICATION_CONTROLLER, POD)
SCALABLE = (DEPLOYMENT, STATEFUL_SET)
NAMESPACED = (
    *WORKLOADS,
    SERVICE,
    SERVICE_ACCOUNT,
    CONFIG_MAP,
    SECRET,
    INGRESS,
    NETWORK_POLICY,
    HPA,
    HPA_V1,
    PDB,
)
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Container:
    path: str  # e.g. spec.template.spec.containers[0]
    name: str
    spec: Mapping[str, Any]
    pod: Mapping[str, Any]

    def setting(self, key: str) -> Any:
        """A securityContext field as it applies: the container's own, else the pod's."""
        own = get(self.spec, f"securityContext.{key}")
        return own if own is not MISSING else get(self.pod, f"securityContext.{key}")

    @property
    def init(self) -> bool:
        return ".initContainers[" in self.path


def pod_spec_path(type_token: str) -> str:
    return _POD_SPEC_PATH[type_token]


def pod_spec(type_token: str, props: Any) -> tuple[str, Any]:
    path = _POD_SPEC_PATH[type_token]
    spec = get(props, path, {})
    if is_unknown(spec):
        raise unknown(spec, path)
    return path, spec if isinstance(spec, Mapping) else {}


def containers(
    type_token: str, props: Any, *, lists: tuple[str, ...] = CONTAINER_LISTS
) -> Iterator[Container]:
    path, spec = pod_spec(type_token, props)
    for list_name in lists:
        items = spec.get(list_name) or []
        if is_unknown(items):
            raise unknown(items, f"{path}.{list_name}")
        for index, item in enumerate(items):
            if is_unknown(item):
                raise unknown(item, f"{path}.{list_name}[{index}]")
            name = item.get("name", str(index)) if isinstance(item, Mapping) else str(index)
            yield Container(f"{path}.{list_name}[{index}]", str(name), item, spec)


def pod_labels(type_token: str, props: Any) -> Mapping[str, Any]:
    path = _POD_SPEC_PATH[type_token].rsplit(".spec", 1)[0] + ".metadata.labels"
    if type_token == POD:
        path = "metadata.labels"
    labels = get(props, path, {})
    return labels if isinstance(labels, Mapping) else {}


def namespace_of(props: Any) -> Any:
    """The object's namespace (``default`` when unset, as the API server applies it)."""
    value = get(props, "metadata.namespace")
    return "default" if value is MISSING or value == "" else value


def name_of(props: Any) -> Any:
    return get(props, "metadata.name")


def annotations_of(props: Any) -> Mapping[str, Any]:
    value = get(props, "metadata.annotations", {})
    if is_unknown(value):
        raise unknown(value, "metadata.annotations")
    return value if isinstance(value, Mapping) else {}


def labels_of(props: Any) -> Mapping[str, Any]:
    value = get(props, "metadata.labels", {})
    if is_unknown(value):
        raise unknown(value, "metadata.labels")
    return value if isinstance(value, Mapping) else {}


def selects(selector: Any, pod_template_labels: Mapping[str, Any]) -> bool:
    """Whether a label selector (matchLabels only; matchExpressions are not judged) picks
    pods with these labels. An empty selector selects every pod."""
    if not isinstance(selector, Mapping):
        return False
    match = selector.get("matchLabels") or {}
    return all(pod_template_labels.get(k) == v for k, v in match.items())
