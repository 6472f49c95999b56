"""Cases for policies/rules/pods.py, and the Kubernetes workload builders the other
Kubernetes case modules share."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"

DIGEST = "sha256:" + "0123456789abcdef" * 4
REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web"
IMAGE = f"{REPOSITORY}:1.4.2@{DIGEST}"
SECURE = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
SC = "containers[0].securityContext"  # the first container's security context
POD_SC = "securityContext"  # the pod's
DROP = object()  # a change that removes the key


def container(name: str = "web", **fields: Any) -> dict[str, Any]:
    """A container every rule accepts; ``fields`` replace its top-level fields."""
    return {
        "name": name,
        "image": IMAGE,
        "ports": [{"name": "http", "containerPort": 8080}],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
        "livenessProbe": {"httpGet": {"path": "/live", "port": "http"}},
        "securityContext": dict(SECURE),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        **fields,
    }


def init_container(**security: Any) -> dict[str, Any]:
    """A compliant init container (no probes, as the App's migrations run) with ``security``
    merged into its securityContext."""
    spec = container("migrate", securityContext={**SECURE, **security})
    del spec["readinessProbe"], spec["livenessProbe"], spec["ports"]
    return spec


def pod_spec() -> dict[str, Any]:
    return {
        "serviceAccountName": "web",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container()],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
    }


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def changed(value: Any, changes: Mapping[str, Any]) -> Any:
    """A deep copy of ``value`` with each path (``a.b[0].c``) set; :data:`DROP` removes it."""
    value = copy.deepcopy(value)
    for path, new in changes.items():
        keys: list[Any] = [m.group(1) or int(m.group(2)) for m in _SEGMENT.finditer(path)]
        node = value
        for key in keys[:-1]:
            node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
        if new is DROP:
            del node[keys[-1]]
        else:
            node[keys[-1]] = new
    return value


def workload(
    changes: Mapping[str, Any] | None = None,
    *,
    kind: str = DEPLOYMENT,
    name: str = "web",
    namespace: Any = "shop",
    spec: Mapping[str, Any] | None = None,
    labels: Mapping[str, Any] | None = None,
    resource: str | None = None,
) -> Res:
    """A compliant workload of ``kind`` whose pod spec has ``changes`` (paths relative to the
    pod spec) and whose own spec has ``spec`` merged in; ``namespace=None`` leaves it unset."""
    pod = changed(pod_spec(), changes or {})
    labels = dict(labels or {"app": name})
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if namespace is not None:
        metadata["namespace"] = namespace
    template = {"metadata": {"labels": labels}, "spec": pod}
    api_version, kind_name = kind.split(":")[1].removeprefix("core/"), kind.rsplit(":", 1)[-1]
    body: dict[str, Any]
    if kind == POD:
        body = pod
    elif kind == CRON_JOB:
        job_pod = {"metadata": template["metadata"], "spec": {**pod, "restartPolicy": "OnFailure"}}
        body = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": job_pod}}}
    elif kind == JOB:
        body = {"template": {**template, "spec": {**pod, "restartPolicy": "Never"}}}
    else:
        body = {"selector": {"matchLabels": labels}, "template": template}
        if kind == STATEFUL_SET:
            body["serviceName"] = name
    props = {
        "apiVersion": api_version,
        "kind": kind_name,
        "metadata": metadata,
        "spec": {**body, **(spec or {})},
    }
    return Res(kind, resource or name, props)


def deployment(changes: Mapping[str, Any] | None = None, **options: Any) -> Res:
    return workload(changes, kind=DEPLOYMENT, **options)


IN_INIT = {"initContainers": [init_container()]}


def account(name: str, automount: Any, namespace: str = "shop") -> Res:
    props = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
        "automountServiceAccountToken": automount,
    }
    return Res("kubernetes:core/v1:ServiceAccount", f"{name}-sa", props)


def auto_named(resource: Res) -> Res:
    """The same object with no metadata.name: pulumi-kubernetes names it after the logical
    name plus a random suffix."""
    props = copy.deepcopy(dict(resource.props))
    del props["metadata"]["name"]
    return Res(resource.type, resource.name, props, resource.deps)


CASES = [
    # -- k8s-run-as-non-root
    violates(
        "k8s-run-as-non-root",
        "no securityContext on the pod nor the container",
        deployment({POD_SC: DROP}),
        message="container 'web': runAsNonRoot is not true",
    ),
    violates(
        "k8s-run-as-non-root",
        "container sets runAsNonRoot false over the pod's true",
        deployment({f"{SC}.runAsNonRoot": False}),
        message="runAsNonRoot is not true",
    ),
    violates(
        "k8s-run-as-non-root",
        "container runs as UID 0 although the pod says non-root",
        deployment({f"{SC}.runAsUser": 0}),
        message="container 'web': runAsUser is 0 (root)",
    ),
    violates(
        "k8s-run-as-non-root",
        "init container runs as root",
        deployment({"initContainers": [init_container(runAsUser=0)]}),
        message="container 'migrate': runAsUser is 0",
    ),
    violates(
        "k8s-run-as-non-root",
        "bare Pod without runAsNonRoot",
        workload({f"{POD_SC}.runAsNonRoot": DROP}, kind=POD),
        message="runAsNonRoot is not true",
    ),
    passes("k8s-run-as-non-root", "pod-level non-root applies to every container", deployment()),
    passes(
        "k8s-run-as-non-root",
        "container-level non-root without a pod securityContext",
        deployment({POD_SC: DROP, f"{SC}.runAsNonRoot": True, f"{SC}.runAsUser": 10001}),
    ),
    passes("k8s-run-as-non-root", "CronJob running as non-root", workload(kind=CRON_JOB)),
    undecided(
        "k8s-run-as-non-root",
        "runAsUser unknown",
        deployment({f"{POD_SC}.runAsUser": UNKNOWN}),
    ),
    undecided(
        "k8s-run-as-non-root",
        "container runAsNonRoot unknown",
        deployment({POD_SC: DROP, f"{SC}.runAsNonRoot": UNKNOWN}),
    ),
    # -- k8s-no-privilege-escalation
    violates(
        "k8s-no-privilege-escalation",
        "not set defaults to allowed",
        deployment({f"{SC}.allowPrivilegeEscalation": DROP}),
        message="allowPrivilegeEscalation is not set; expected false",
    ),
    violates(
        "k8s-no-privilege-escalation",
        "init container allows escalation",
        deployment({"initContainers": [init_container(allowPrivilegeEscalation=True)]}),
        message="container 'migrate': allowPrivilegeEscalation is true",
    ),
    violates(
        "k8s-no-privilege-escalation",
        "CronJob container allows escalation",
        workload({f"{SC}.allowPrivilegeEscalation": True}, kind=CRON_JOB),
        message="allowPrivilegeEscalation is true",
    ),
    passes("k8s-no-privilege-escalation", "false on every container", deployment(IN_INIT)),
    undecided(
        "k8s-no-privilege-escalation",
        "flag unknown",
        deployment({f"{SC}.allowPrivilegeEscalation": UNKNOWN}),
    ),
    undecided(
        "k8s-no-privilege-escalation",
        "container securityContext unknown",
        deployment({SC: UNKNOWN}),
    ),
    # -- k8s-read-only-root-filesystem
    violates(
        "k8s-read-only-root-filesystem",
        "not set",
        deployment({f"{SC}.readOnlyRootFilesystem": DROP}),
        message="readOnlyRootFilesystem is not set; expected true",
    ),
    violates(
        "k8s-read-only-root-filesystem",
        "init container writes its filesystem",
        deployment({"initContainers": [init_container(readOnlyRootFilesystem=False)]}),
        message="container 'migrate': readOnlyRootFilesystem is false",
    ),
    passes("k8s-read-only-root-filesystem", "read-only on every container", deployment(IN_INIT)),
    passes("k8s-read-only-root-filesystem", "bare Pod read-only", workload(kind=POD)),
    undecided(
        "k8s-read-only-root-filesystem",
        "flag unknown",
        deployment({f"{SC}.readOnlyRootFilesystem": UNKNOWN}),
    ),
    # -- k8s-drop-all-capabilities
    violates(
        "k8s-drop-all-capabilities",
        "nothing dropped",
        deployment({f"{SC}.capabilities": DROP}),
        message="container 'web': capabilities.drop is not set; expected it to include ALL",
    ),
    violates(
        "k8s-drop-all-capabilities",
        "drops only NET_RAW",
        deployment({f"{SC}.capabilities.drop": ["NET_RAW"]}),
        message="expected it to include ALL",
    ),
    violates(
        "k8s-drop-all-capabilities",
        "adds SYS_ADMIN back",
        deployment({f"{SC}.capabilities.add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}),
        message='capabilities.add has ["SYS_ADMIN"]; expected at most NET_BIND_SERVICE',
    ),
    violates(
        "k8s-drop-all-capabilities",
        "init container keeps its capabilities",
        deployment({"initContainers": [init_container(capabilities={})]}),
        message="container 'migrate': capabilities.drop",
    ),
    passes(
        "k8s-drop-all-capabilities",
        "drops ALL and adds back NET_BIND_SERVICE",
        deployment({f"{SC}.capabilities.add": ["NET_BIND_SERVICE"]}),
    ),
    undecided(
        "k8s-drop-all-capabilities",
        "drop list unknown",
        deployment({f"{SC}.capabilities.drop": UNKNOWN}),
    ),
    undecided(
        "k8s-drop-all-capabilities",
        "one dropped capability unknown",
        deployment({f"{SC}.capabilities.drop": [UNKNOWN]}),
    ),
    undecided(
        "k8s-drop-all-capabilities",
        "one added capability unknown",
        deployment({f"{SC}.capabilities.add": [UNKNOWN]}),
    ),
    # -- k8s-no-privileged
    violates(
        "k8s-no-privileged",
        "privileged container",
        deployment({f"{SC}.privileged": True}),
        message="container 'web': privileged is true",
    ),
    violates(
        "k8s-no-privileged",
        "privileged init container",
        deployment({"initContainers": [init_container(privileged=True)]}),
        message="container 'migrate': privileged is true",
    ),
    violates(
        "k8s-no-privileged",
        "privileged bare Pod",
        workload({f"{SC}.privileged": True}, kind=POD),
        message="privileged is true",
    ),
    passes("k8s-no-privileged", "privileged false", deployment(IN_INIT)),
    passes("k8s-no-privileged", "privileged not set", deployment({f"{SC}.privileged": DROP})),
    undecided("k8s-no-privileged", "flag unknown", deployment({f"{SC}.privileged": UNKNOWN})),
    # -- k8s-no-host-namespaces
    violates(
        "k8s-no-host-namespaces",
        "host network",
        deployment({"hostNetwork": True}),
        message="spec.template.spec.hostNetwork is true",
    ),
    violates(
        "k8s-no-host-namespaces",
        "CronJob sharing the host PID namespace",
        workload({"hostPID": True}, kind=CRON_JOB),
        message="spec.jobTemplate.spec.template.spec.hostPID is true",
    ),
    violates(
        "k8s-no-host-namespaces",
        "bare Pod sharing host IPC",
        workload({"hostIPC": True}, kind=POD),
        message="spec.hostIPC is true",
    ),
    passes("k8s-no-host-namespaces", "none shared", deployment()),
    passes(
        "k8s-no-host-namespaces",
        "explicitly false",
        deployment({"hostNetwork": False, "hostPID": False, "hostIPC": False}),
    ),
    undecided(
        "k8s-no-host-namespaces", "hostNetwork unknown", deployment({"hostNetwork": UNKNOWN})
    ),
    undecided("k8s-no-host-namespaces", "pod spec unknown", deployment(spec={"template": UNKNOWN})),
    # -- k8s-no-host-path
    violates(
        "k8s-no-host-path",
        "mounts a node directory",
        deployment({"volumes[0]": {"name": "docker", "hostPath": {"path": "/var/run"}}}),
        message="spec.template.spec.volumes[0] ('docker') mounts a hostPath",
    ),
    violates(
        "k8s-no-host-path",
        "CronJob mounting a node directory",
        workload({"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]}, kind=CRON_JOB),
        message="('logs') mounts a hostPath",
    ),
    passes("k8s-no-host-path", "emptyDir only", deployment()),
    passes(
        "k8s-no-host-path",
        "ConfigMap and Secret volumes",
        deployment(
            {
                "volumes": [
                    {"name": "settings", "configMap": {"name": "web-settings"}},
                    {"name": "keys", "secret": {"secretName": "web-keys"}},
                ]
            }
        ),
    ),
    undecided("k8s-no-host-path", "volumes unknown", deployment({"volumes": UNKNOWN})),
    # -- k8s-no-host-ports
    violates(
        "k8s-no-host-ports",
        "binds a node port",
        deployment({"containers[0].ports[0].hostPort": 8080}),
        message="container 'web': hostPort 8080 binds the node's port",
    ),
    passes("k8s-no-host-ports", "container ports only", deployment()),
    passes(
        "k8s-no-host-ports",
        "hostPort 0 means none",
        deployment({"containers[0].ports[0].hostPort": 0}),
    ),
    undecided("k8s-no-host-ports", "ports unknown", deployment({"containers[0].ports": UNKNOWN})),
    undecided(
        "k8s-no-host-ports",
        "hostPort unknown",
        deployment({"containers[0].ports[0].hostPort": UNKNOWN}),
    ),
    # -- k8s-seccomp-runtime-default
    violates(
        "k8s-seccomp-runtime-default",
        "no profile anywhere",
        deployment({f"{POD_SC}.seccompProfile": DROP}),
        message="seccompProfile.type is not set; expected RuntimeDefault",
    ),
    violates(
        "k8s-seccomp-runtime-default",
        "container unconfined over the pod's default",
        deployment({f"{SC}.seccompProfile": {"type": "Unconfined"}}),
        message="container 'web': seccompProfile.type is \"Unconfined\"",
    ),
    violates(
        "k8s-seccomp-runtime-default",
        "init container unconfined",
        deployment({"initContainers": [init_container(seccompProfile={"type": "Unconfined"})]}),
        message="container 'migrate': seccompProfile.type is \"Unconfined\"",
    ),
    passes("k8s-seccomp-runtime-default", "pod-level RuntimeDefault", deployment(IN_INIT)),
    passes(
        "k8s-seccomp-runtime-default",
        "container-level Localhost profile",
        deployment(
            {
                f"{POD_SC}.seccompProfile": DROP,
                f"{SC}.seccompProfile": {"type": "Localhost", "localhostProfile": "web.json"},
            }
        ),
    ),
    undecided(
        "k8s-seccomp-runtime-default",
        "profile unknown",
        deployment({f"{POD_SC}.seccompProfile": UNKNOWN}),
    ),
    undecided(
        "k8s-seccomp-runtime-default",
        "profile type unknown",
        deployment({f"{POD_SC}.seccompProfile.type": UNKNOWN}),
    ),
    # -- k8s-image-pinned
    violates(
        "k8s-image-pinned",
        "latest tag",
        deployment({"containers[0].image": f"{REPOSITORY}:latest"}),
        message="is tagged latest; expected a version tag",
    ),
    violates(
        "k8s-image-pinned",
        "untagged image",
        deployment({"containers[0].image": REPOSITORY}),
        message="is untagged; expected a version tag",
    ),
    violates(
        "k8s-image-pinned",
        "untagged image from a registry with a port",
        deployment({"containers[0].image": "registry.local:5000/shop/web"}),
        message="is untagged",
    ),
    violates(
        "k8s-image-pinned",
        "latest is refused even without requireDigest",
        deployment({"containers[0].image": f"{REPOSITORY}:latest"}),
        config={"requireDigest": False},
        message="tagged latest",
    ),
    violates(
        "k8s-image-pinned",
        "version tag without a digest where digests are required",
        deployment({"containers[0].image": f"{REPOSITORY}:1.4.2"}),
        config={"requireDigest": True},
        message="is not pinned by digest",
    ),
    violates(
        "k8s-image-pinned",
        "init container on latest",
        deployment({"initContainers": [{**init_container(), "image": "busybox:latest"}]}),
        config={"requireDigest": False},
        message="container 'migrate': image 'busybox:latest' is tagged latest",
    ),
    violates(
        "k8s-image-pinned",
        "container without an image",
        deployment({"containers[0].image": DROP}),
        message="has no image",
    ),
    passes("k8s-image-pinned", "tag and digest", deployment()),
    passes(
        "k8s-image-pinned",
        "digest alone",
        deployment({"containers[0].image": f"{REPOSITORY}@{DIGEST}"}),
    ),
    passes(
        "k8s-image-pinned",
        "version tag where digests are not required",
        deployment({"containers[0].image": "registry.local:5000/shop/web:1.4.2"}),
        config={"requireDigest": False},
    ),
    undecided("k8s-image-pinned", "image unknown", deployment({"containers[0].image": UNKNOWN})),
    undecided("k8s-image-pinned", "container list unknown", deployment({"containers": UNKNOWN})),
    # -- k8s-service-account-token
    violates(
        "k8s-service-account-token",
        "token mounted by default",
        deployment({"automountServiceAccountToken": DROP}),
        message="automountServiceAccountToken is not set and its ServiceAccount does not turn it "
        "off; expected false (or list shop/web",
    ),
    violates(
        "k8s-service-account-token",
        "token mounted explicitly in a CronJob",
        workload({"automountServiceAccountToken": True}, kind=CRON_JOB, name="report"),
        message="automountServiceAccountToken is true; expected false (or list shop/report",
    ),
    violates(
        "k8s-service-account-token",
        "exemption for another workload does not apply",
        deployment({"automountServiceAccountToken": True}),
        config={"needToken": ["shop/operator", "ops/web"]},
        message="spec.template.spec.automountServiceAccountToken is true",
    ),
    violates(
        "k8s-service-account-token",
        "bare Pod in the default namespace names default/ in the hint",
        workload({"automountServiceAccountToken": DROP}, kind=POD, namespace=None),
        message="list default/web in needToken",
    ),
    passes("k8s-service-account-token", "token not mounted", deployment()),
    passes(
        "k8s-service-account-token",
        "the pod's ServiceAccount turns automounting off",
        deployment({"automountServiceAccountToken": DROP, "serviceAccountName": "web"}),
        account("web", False),
    ),
    violates(
        "k8s-service-account-token",
        "a ServiceAccount that leaves automounting on does not help",
        deployment({"automountServiceAccountToken": DROP, "serviceAccountName": "web"}),
        account("web", True),
        message="its ServiceAccount does not turn it off",
    ),
    undecided(
        "k8s-service-account-token",
        "the ServiceAccount's setting unknown",
        deployment({"automountServiceAccountToken": DROP, "serviceAccountName": "web"}),
        account("web", UNKNOWN),
    ),
    passes(
        "k8s-service-account-token",
        "auto-named workload listed by its logical name",
        auto_named(deployment({"automountServiceAccountToken": True}, resource="debug")),
        config={"needToken": ["shop/debug"]},
    ),
    violates(
        "k8s-service-account-token",
        "auto-named workload is named by its logical name in the hint",
        auto_named(deployment({"automountServiceAccountToken": True}, resource="debug")),
        message="(or list shop/debug in needToken",
    ),
    passes(
        "k8s-service-account-token",
        "workload listed in needToken",
        deployment({"automountServiceAccountToken": True}, name="operator"),
        config={"needToken": ["shop/operator"]},
    ),
    passes(
        "k8s-service-account-token",
        "listed workload in the default namespace",
        workload({"automountServiceAccountToken": DROP}, kind=POD, namespace=None),
        config={"needToken": ["default/web"]},
    ),
    undecided(
        "k8s-service-account-token",
        "automount flag unknown",
        deployment({"automountServiceAccountToken": UNKNOWN}),
    ),
    undecided(
        "k8s-service-account-token",
        "name unknown while some workloads may mount a token",
        deployment({"automountServiceAccountToken": DROP}, name=UNKNOWN, resource="web"),
        config={"needToken": ["shop/operator"]},
    ),
]
