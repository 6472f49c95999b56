"""Namespaces: Pod Security admission at the restricted level, and network isolation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.framework import kubernetes as k8s
from policies.framework import params
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Finding, Pack, ResourceRule, StackRule
from policies.framework.values import is_unknown, show, unknown

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
    level = k8s.labels_of(resource.props).get(ENFORCE)
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


def _default_deny(policy: Resource) -> bool:
    selector = policy.get("spec.podSelector", {})
    types = policy.get("spec.policyTypes", [])
    return selector in ({}, {"matchLabels": {}}) and "Ingress" in (types or [])


def _network_policies(stack: StackView, settings: Mapping[str, Any]) -> Iterator[Finding]:
    policies: dict[Any, list[Resource]] = {}
    for policy in stack.of_type(k8s.NETWORK_POLICY):
        policies.setdefault(k8s.namespace_of(policy.props), []).append(policy)
    for namespace in stack.of_type(k8s.NAMESPACE):
        name = _name(namespace)
        if name in settings["exemptNamespaces"]:
            continue
        present = policies.get(name, [])
        if not present:
            yield Finding(
                f"namespace {name!r} has no NetworkPolicy: every pod accepts traffic from "
                "every other pod in the cluster",
                namespace.urn,
            )
        elif settings["requireDefaultDeny"] and not any(_default_deny(p) for p in present):
            yield Finding(
                f"namespace {name!r} has no default-deny NetworkPolicy (podSelector {{}} with "
                "policyType Ingress); pods no policy selects stay open",
                namespace.urn,
            )


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
