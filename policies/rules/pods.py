"""Pod security for every workload kind: the Pod Security Standards' restricted profile, a
read-only root filesystem, pinned images and no needless API tokens."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.framework import kubernetes as k8s
from policies.framework import params
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Pack, ResourceRule, stack_rule
from policies.framework.values import MISSING, as_list, get, is_unknown, show, truthy, unknown

Settings = Mapping[str, Any]
ContainerCheck = Callable[[k8s.Container, Settings], Iterator[str]]
PodCheck = Callable[[str, Mapping[str, Any], Resource, Settings], Iterator[str]]


def _known(value: Any, path: str) -> Any:
    if is_unknown(value):
        raise unknown(value, path)
    return value


def container_rule(
    check: ContainerCheck, resource_types: tuple[str, ...] = k8s.WORKLOADS, **metadata: Any
) -> ResourceRule:
    """A rule judging each container (init containers too) of workloads."""

    def evaluate(resource: Resource, settings: Settings) -> Iterator[str]:
        for container in k8s.containers(resource.type, resource.props):
            for problem in check(container, settings):
                yield f"container {container.name!r}: {problem}"

    return ResourceRule(evaluate=evaluate, resource_types=resource_types, **metadata)


def pod_rule(check: PodCheck, **metadata: Any) -> ResourceRule:
    """A rule judging the pod spec of any workload kind."""

    def evaluate(resource: Resource, settings: Settings) -> Iterator[str]:
        path, spec = k8s.pod_spec(resource.type, resource.props)
        yield from check(path, spec, resource, settings)

    return ResourceRule(evaluate=evaluate, resource_types=k8s.WORKLOADS, **metadata)


def _non_root(container: k8s.Container, settings: Settings) -> Iterator[str]:
    non_root = _known(container.setting("runAsNonRoot"), f"{container.path}.runAsNonRoot")
    user = _known(container.setting("runAsUser"), f"{container.path}.runAsUser")
    if not truthy(non_root):
        yield "runAsNonRoot is not true (container or pod securityContext); expected true"
    if user is not MISSING and str(user) == "0":
        yield "runAsUser is 0 (root); expected a non-zero UID"


run_as_non_root = container_rule(
    _non_root,
    name="k8s-run-as-non-root",
    description="Containers run as a non-root user.",
    remediation="Set securityContext.runAsNonRoot: true and a non-zero runAsUser (pod or "
    "container), and build the image with a numeric USER.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    compliance=Compliance(
        pss=("restricted: Running as Non-root", "restricted: Running as Non-root user"),
        checkov=("CKV_K8S_23", "CKV_K8S_40"),
    ),
)


def _no_escalation(container: k8s.Container, settings: Settings) -> Iterator[str]:
    value = _known(
        get(container.spec, "securityContext.allowPrivilegeEscalation"),
        f"{container.path}.securityContext.allowPrivilegeEscalation",
    )
    if value is MISSING or truthy(value):
        yield f"allowPrivilegeEscalation is {show('v', value)}; expected false"


no_privilege_escalation = container_rule(
    _no_escalation,
    name="k8s-no-privilege-escalation",
    description="Containers cannot gain more privileges than they start with (setuid, "
    "file capabilities).",
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    compliance=Compliance(pss=("restricted: Privilege Escalation",), checkov=("CKV_K8S_20",)),
)


def _read_only_root(container: k8s.Container, settings: Settings) -> Iterator[str]:
    value = _known(
        get(container.spec, "securityContext.readOnlyRootFilesystem"),
        f"{container.path}.securityContext.readOnlyRootFilesystem",
    )
    if not truthy(value):
        yield f"readOnlyRootFilesystem is {show('v', value)}; expected true"


read_only_root_filesystem = container_rule(
    _read_only_root,
    name="k8s-read-only-root-filesystem",
    description="Containers cannot write to their image's filesystem.",
    remediation="Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where "
    "the app writes (for example /tmp).",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    compliance=Compliance(checkov=("CKV_K8S_22",)),
)


def _capabilities(container: k8s.Container, settings: Settings) -> Iterator[str]:
    path = f"{container.path}.securityContext.capabilities"
    dropped = _known(get(container.spec, "securityContext.capabilities.drop"), path)
    added = _known(get(container.spec, "securityContext.capabilities.add", []), path)
    if "ALL" not in as_list(dropped):
        if any(is_unknown(c) for c in as_list(dropped)):
            raise unknown(dropped, path)  # the unknown one may be ALL
        yield f"capabilities.drop is {show('v', dropped)}; expected it to include ALL"
    extra = [c for c in as_list(added) if c != "NET_BIND_SERVICE"]
    if any(is_unknown(c) for c in extra):
        raise unknown(added, path)  # it may be NET_BIND_SERVICE, or may not
    if extra:
        yield f"capabilities.add has {show('v', extra)}; expected at most NET_BIND_SERVICE"


drop_all_capabilities = container_rule(
    _capabilities,
    name="k8s-drop-all-capabilities",
    description="Containers drop every Linux capability (adding back only NET_BIND_SERVICE).",
    remediation="Set securityContext.capabilities.drop: [ALL]; listen on a port above 1024 "
    "instead of adding capabilities.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    compliance=Compliance(
        pss=("restricted: Capabilities", "baseline: Capabilities"),
        checkov=("CKV_K8S_37", "CKV_K8S_28", "CKV_K8S_25", "CKV_K8S_39"),
    ),
)


def _privileged(container: k8s.Container, settings: Settings) -> Iterator[str]:
    value = _known(
        get(container.spec, "securityContext.privileged"),
        f"{container.path}.securityContext.privileged",
    )
    if truthy(value):
        yield "privileged is true (full access to the node); expected false"


no_privileged = container_rule(
    _privileged,
    name="k8s-no-privileged",
    description="No container runs privileged.",
    remediation="Remove securityContext.privileged (or set it false).",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    compliance=Compliance(pss=("baseline: Privileged Containers",), checkov=("CKV_K8S_16",)),
)


def _host_namespaces(
    path: str, spec: Mapping[str, Any], resource: Resource, settings: Settings
) -> Iterator[str]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if truthy(_known(spec.get(key), f"{path}.{key}")):
            yield f"{path}.{key} is true; expected false (the pod would share the node's)"


no_host_namespaces = pod_rule(
    _host_namespaces,
    name="k8s-no-host-namespaces",
    description="Pods do not share the node's network, process or IPC namespaces.",
    remediation="Remove hostNetwork, hostPID and hostIPC from the pod spec.",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    compliance=Compliance(
        pss=("baseline: Host Namespaces",), checkov=("CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19")
    ),
)


def _host_path(
    path: str, spec: Mapping[str, Any], resource: Resource, settings: Settings
) -> Iterator[str]:
    volumes = _known(spec.get("volumes", []), f"{path}.volumes")
    for index, volume in enumerate(as_list(volumes)):
        if isinstance(volume, Mapping) and volume.get("hostPath") is not None:
            yield f"{path}.volumes[{index}] ({volume.get('name')!r}) mounts a hostPath"


no_host_path = pod_rule(
    _host_path,
    name="k8s-no-host-path",
    description="Pods do not mount directories of the node.",
    remediation="Use emptyDir, a ConfigMap, a Secret or a persistent volume claim instead of "
    "hostPath.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    compliance=Compliance(
        pss=("baseline: HostPath Volumes", "restricted: Volume Types"), checkov=("CKV_K8S_27",)
    ),
)


def _host_ports(container: k8s.Container, settings: Settings) -> Iterator[str]:
    ports = _known(container.spec.get("ports", []), f"{container.path}.ports")
    for port in as_list(ports):
        if not isinstance(port, Mapping):
            continue
        # An unknown port number may be 0 (none): undecided, and no sentinel in the message.
        host_port = _known(port.get("hostPort"), f"{container.path}.ports")
        if host_port not in (None, 0):
            yield f"hostPort {host_port} binds the node's port; expected none"


no_host_ports = container_rule(
    _host_ports,
    name="k8s-no-host-ports",
    description="Containers do not bind ports on the node.",
    remediation="Remove hostPort; expose the pod through a Service.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    compliance=Compliance(pss=("baseline: Host Ports",), checkov=("CKV_K8S_26",)),
)


def _seccomp(container: k8s.Container, settings: Settings) -> Iterator[str]:
    profile = _known(container.setting("seccompProfile"), f"{container.path}.seccompProfile")
    kind = profile.get("type", MISSING) if isinstance(profile, Mapping) else MISSING
    _known(kind, f"{container.path}.seccompProfile.type")
    if kind not in ("RuntimeDefault", "Localhost"):
        yield f"seccompProfile.type is {show('v', kind)}; expected RuntimeDefault (or Localhost)"


seccomp_runtime_default = container_rule(
    _seccomp,
    name="k8s-seccomp-runtime-default",
    description="Containers run with the runtime's default seccomp profile (or a local one).",
    remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    compliance=Compliance(
        pss=("restricted: Seccomp", "baseline: Seccomp"), checkov=("CKV_K8S_31",)
    ),
)

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _image(container: k8s.Container, settings: Settings) -> Iterator[str]:
    image = container.spec.get("image")
    if is_unknown(image):
        raise unknown(image, f"{container.path}.image")
    if not isinstance(image, str) or not image:
        yield "has no image"
        return
    digest = bool(_DIGEST.search(image))
    name = image.split("@", 1)[0]
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else None
    if not digest and tag in (None, "latest"):
        yield f"image {image!r} is {'tagged latest' if tag else 'untagged'}; expected a version tag"
    elif settings["requireDigest"] and not digest:
        yield f"image {image!r} is not pinned by digest; expected <image>:<tag>@sha256:<digest>"


image_pinned = container_rule(
    _image,
    name="k8s-image-pinned",
    description="Images are pinned: a version tag, never latest, and (where configured) a "
    "digest, so what runs is exactly what was tested.",
    remediation="Set the slot's image to a version tag, or tag@sha256:<digest> where "
    "requireDigest is on (prod).",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    compliance=Compliance(checkov=("CKV_K8S_14", "CKV_K8S_43")),
    params=(params.boolean("requireDigest", "images must carry an @sha256 digest", default=True),),
)


def _account_opts_out(stack: StackView, namespace: Any, spec: Mapping[str, Any]) -> bool:
    """Whether the pod's ServiceAccount, created in this stack, turns automounting off
    (which applies when the pod spec does not say)."""
    account = spec.get("serviceAccountName") or "default"
    for candidate in stack.of_type(k8s.SERVICE_ACCOUNT):
        if (k8s.namespace_of(candidate.props), k8s.name_of(candidate.props)) == (
            namespace,
            account,
        ):
            setting = candidate.get("automountServiceAccountToken")
            return _known(setting, "automountServiceAccountToken") is False
    return False


def _token(resource: Resource, stack: StackView, settings: Settings) -> Iterator[str]:
    path, spec = k8s.pod_spec(resource.type, resource.props)
    namespace, name = k8s.namespace_of(resource.props), k8s.name_of(resource.props)
    # Listed by its object name, or by its logical name: stable even for an auto-named
    # object, whose name gets a random suffix.
    if {f"{namespace}/{name}", f"{namespace}/{resource.name}"} & set(settings["needToken"]):
        return
    # Absent, the ServiceAccount decides, and by default Kubernetes mounts the token.
    value = _known(
        spec.get("automountServiceAccountToken", MISSING), f"{path}.automountServiceAccountToken"
    )
    if value is MISSING and _account_opts_out(stack, namespace, spec):
        return
    if value is MISSING or truthy(value):
        # A name or namespace not known yet may be one that needToken lists.
        if settings["needToken"]:
            _known(namespace, "metadata.namespace")
            _known(name, "metadata.name")
        why = " and its ServiceAccount does not turn it off" if value is MISSING else ""
        yield (
            f"{path}.automountServiceAccountToken is {show('v', value)}{why}; expected false "
            f"(or list {namespace}/{resource.name} in needToken if it calls the Kubernetes API)"
        )


service_account_token = stack_rule(
    over=k8s.WORKLOADS,
    resource_types=(*k8s.WORKLOADS, k8s.SERVICE_ACCOUNT),
    judge=_token,
    name="k8s-service-account-token",
    description="Pods get a Kubernetes API token only when they call the API.",
    remediation="Set automountServiceAccountToken: false in the pod spec or on its "
    "ServiceAccount (IRSA still injects its own web-identity token).",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    compliance=Compliance(checkov=("CKV_K8S_38",)),
    params=(
        params.string_list(
            "needToken",
            "workloads (namespace/name) that call the Kubernetes API and may mount a token",
            default=[],
            item={"type": "string", "pattern": "^[a-z0-9-]+/[a-z0-9.-]+$"},
        ),
    ),
)

RULES = (
    run_as_non_root,
    no_privilege_escalation,
    read_only_root_filesystem,
    drop_all_capabilities,
    no_privileged,
    no_host_namespaces,
    no_host_path,
    no_host_ports,
    seccomp_runtime_default,
    image_pinned,
    service_account_token,
)
