"""Namespaces: Pod Security admission at the restricted level, and network isolation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.framework import kubernetes as k8s
from policies.framework import params
from policies.framework.resources import Resource, StackView, each
from policies.framework.rule import Compliance, Finding, Pack, ResourceRule, StackRule
from policies.framework.values import MISSING, is_unknown, show, unknown

ENFORCE = "pod-security.kubernetes.io/enforce"
SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"]
_EXEMPT = params.string_list(
    "exemptNamespaces",
    "namespaces this rule does not apply to (cluster add-ons that need more)",
    default=SYSTEM_NAMESPACES,
)


def _name(resource: Resource) -> Any:
    name = k8s.name_of(resource.props)
    if is_unknown(name):
        raise unknown(name, "metadata.name")
    return name


def _pod_security(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    if _name(resource) in settings["exemptNamespaces"]:
        return
    level = k8s.labels_of(resource.props).get(ENFORCE, MISSING)  # absent: "not set"
    if is_unknown(level):
        raise unknown(level, f"metadata.labels.{ENFORCE}")
    if level != "restricted":
        yield f'label {ENFORCE} is {show("level", level)}; expected "restricted"'


pod_security_restricted = ResourceRule(
    name="k8s-namespace-pod-security",
    description="Namespaces enforce the Pod Security Standards' restricted profile at "
    "admission, so a pod that breaks it is refused by the cluster itself.",
    remediation="Label the namespace pod-security.kubernetes.io/enforce: restricted (audit "
    "and warn too).",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(k8s.NAMESPACE,),
    compliance=Compliance(pss=("restricted: enforced by Pod Security admission",)),
    params=(_EXEMPT,),
    evaluate=_pod_security,
)


def _default_deny(policy: Resource) -> bool | None:
    """Whether the policy denies ingress to every pod; None while that is unknown."""
    selector = policy.get("spec.podSelector", {})
    # Without policyTypes a policy always covers Ingress (and Egress if it has egress rules).
    types = policy.get("spec.policyTypes") or ["Ingress"]
    if is_unknown(selector) or is_unknown(types) or any(is_unknown(t) for t in types):
        return None
    if isinstance(selector, Mapping) and any(is_unknown(v) for v in selector.values()):
        return None
    return selector in ({}, {"matchLabels": {}}) and "Ingress" in types


def _network_policies(stack: StackView, settings: Mapping[str, Any]) -> Iterator[Finding]:
    policies: dict[Any, list[Resource]] = {}
    for policy in stack.of_type(k8s.NETWORK_POLICY):
        policies.setdefault(k8s.namespace_of(policy.props), []).append(policy)
    # Policies whose namespace comes from a Namespace's output, unknown in a first preview:
    # any of them may be in the namespace judged.
    unplaced = [p for key, found in policies.items() if is_unknown(key) for p in found]

    def judge(namespace: Resource) -> Iterator[Finding]:
        name = _name(namespace)
        if name in settings["exemptNamespaces"]:
            return
        present = policies.get(name, [])
        if not present:
            if unplaced:
                raise unknown(k8s.namespace_of(unplaced[0].props), "metadata.namespace")
            yield Finding(
                f"namespace {name!r} has no NetworkPolicy: every pod accepts traffic from "
                "every other pod in the cluster",
                namespace.urn,
            )
            return
        if not settings["requireDefaultDeny"]:
            return
        verdicts = [_default_deny(p) for p in [*present, *unplaced]]
        if True in verdicts:
            return
        if None in verdicts:
            raise unknown(None, "spec.podSelector")
        yield Finding(
            f"namespace {name!r} has no default-deny NetworkPolicy (podSelector {{}} with "
            "policyType Ingress); pods no policy selects stay open",
            namespace.urn,
        )

    return each(stack.of_type(k8s.NAMESPACE), judge)


namespace_network_policy = StackRule(
    name="k8s-namespace-network-policy",
    description="Every namespace of the stack has NetworkPolicies, starting from deny-all.",
    remediation="Add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress], "
    "then policies admitting only the traffic the service needs.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    resource_types=(k8s.NAMESPACE, k8s.NETWORK_POLICY),
    params=(
        _EXEMPT,
        params.boolean(
            "requireDefaultDeny", "each namespace needs a deny-all policy", default=True
        ),
    ),
    evaluate=_network_policies,
)

RULES = (pod_security_restricted, namespace_network_policy)
