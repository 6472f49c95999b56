"""Cases for policies/rules/namespaces.py."""

from __future__ import annotations

from typing import Any

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ENFORCE = "pod-security.kubernetes.io/enforce"
DROP = object()


def namespace(name: Any = "shop", enforce: Any = "restricted", **labels: Any) -> Res:
    """A Namespace labelled for Pod Security admission; ``enforce=DROP`` leaves it out."""
    all_labels = {
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
        **labels,
    }
    if enforce is not DROP:
        all_labels[ENFORCE] = enforce
    props = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": all_labels},
    }
    return Res(NAMESPACE, "shop-ns" if name == UNKNOWN else f"{name}-ns", props)


def policy(
    name: str = "deny-all",
    *,
    namespace: Any = "shop",
    selector: Any = None,
    types: Any = ("Ingress", "Egress"),
    **spec: Any,
) -> Res:
    """A NetworkPolicy, by default the deny-all one (every pod, no rule); its namespace comes
    from the Namespace resource's output, as the App component wires it."""
    body: dict[str, Any] = {"podSelector": {} if selector is None else selector, **spec}
    if types is not DROP:
        body["policyTypes"] = list(types) if isinstance(types, tuple) else types
    props = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }
    owner = "shop" if namespace == UNKNOWN else namespace  # the Namespace resource it names
    return Res(NETWORK_POLICY, f"{owner}-{name}", props, {"metadata": [f"{owner}-ns"]})


ALLOW_WEB = dict(
    selector={"matchLabels": {"app": "web"}},
    ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"port": 8080}]}],
)

CASES = [
    # -- k8s-namespace-pod-security
    violates(
        "k8s-namespace-pod-security",
        "no enforce label",
        namespace(enforce=DROP),
        message='label pod-security.kubernetes.io/enforce is not set; expected "restricted"',
    ),
    violates(
        "k8s-namespace-pod-security",
        "baseline only",
        namespace(enforce="baseline"),
        message='pod-security.kubernetes.io/enforce is "baseline"; expected "restricted"',
    ),
    violates(
        "k8s-namespace-pod-security",
        "no labels at all",
        Res(
            NAMESPACE,
            "shop-ns",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        ),
        message="enforce is not set",
    ),
    violates(
        "k8s-namespace-pod-security",
        "kube-system once no namespace is exempt",
        namespace("kube-system", enforce="privileged"),
        config={"exemptNamespaces": []},
        message='is "privileged"',
    ),
    passes("k8s-namespace-pod-security", "restricted", namespace()),
    passes(
        "k8s-namespace-pod-security",
        "kube-system is exempt by default",
        namespace("kube-system", enforce=DROP),
    ),
    passes(
        "k8s-namespace-pod-security",
        "namespace exempted by the parameter",
        namespace("monitoring", enforce="privileged"),
        config={"exemptNamespaces": ["kube-system", "monitoring"]},
    ),
    undecided("k8s-namespace-pod-security", "enforce level unknown", namespace(enforce=UNKNOWN)),
    undecided(
        "k8s-namespace-pod-security",
        "labels unknown",
        Res(
            NAMESPACE,
            "shop-ns",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "shop", "labels": UNKNOWN},
            },
        ),
    ),
    undecided(
        "k8s-namespace-pod-security",
        "name unknown, so whether it is exempt",
        namespace(UNKNOWN, enforce="privileged"),
    ),
    # -- k8s-namespace-network-policy
    violates(
        "k8s-namespace-network-policy",
        "no policy",
        namespace(),
        at="shop-ns",
        message="namespace 'shop' has no NetworkPolicy",
    ),
    violates(
        "k8s-namespace-network-policy",
        "deny-all in another namespace",
        namespace(),
        namespace("ops"),
        policy(namespace="ops"),
        at="shop-ns",
        message="namespace 'shop' has no NetworkPolicy",
    ),
    violates(
        "k8s-namespace-network-policy",
        "an allow policy without a deny-all",
        namespace(),
        policy("web", **ALLOW_WEB),
        at="shop-ns",
        message="namespace 'shop' has no default-deny NetworkPolicy",
    ),
    violates(
        "k8s-namespace-network-policy",
        "policy over all pods that only restricts egress",
        namespace(),
        policy(types=["Egress"]),
        at="shop-ns",
        message="has no default-deny NetworkPolicy",
    ),
    passes("k8s-namespace-network-policy", "deny-all", namespace(), policy()),
    passes(
        "k8s-namespace-network-policy",
        "deny-all and an allow policy",
        namespace(),
        policy(),
        policy("web", **ALLOW_WEB),
    ),
    passes(
        "k8s-namespace-network-policy",
        "deny-all with an empty matchLabels",
        namespace(),
        policy(selector={"matchLabels": {}}),
    ),
    passes(
        "k8s-namespace-network-policy",
        "deny-all without policyTypes covers ingress",
        namespace(),
        policy(types=DROP),
    ),
    passes(
        "k8s-namespace-network-policy",
        "a known deny-all decides though another policy's selector is unknown",
        namespace(),
        policy(),
        policy("web", selector=UNKNOWN),
    ),
    passes(
        "k8s-namespace-network-policy",
        "a known deny-all decides though another policy's namespace is unknown",
        namespace(),
        policy(),
        policy("web", namespace=UNKNOWN, **ALLOW_WEB),
    ),
    passes(
        "k8s-namespace-network-policy",
        "allow policy where no deny-all is required",
        namespace(),
        policy("web", **ALLOW_WEB),
        config={"requireDefaultDeny": False},
    ),
    passes(
        "k8s-namespace-network-policy",
        "system namespace is exempt",
        namespace("kube-system"),
    ),
    passes(
        "k8s-namespace-network-policy",
        "namespace exempted by the parameter",
        namespace("sandbox"),
        config={"exemptNamespaces": ["sandbox"]},
    ),
    undecided(
        "k8s-namespace-network-policy",
        "policy namespace not known until the Namespace exists",
        namespace(),
        policy(namespace=UNKNOWN),
    ),
    undecided(
        "k8s-namespace-network-policy",
        "pod selector unknown",
        namespace(),
        policy(selector=UNKNOWN),
    ),
    undecided(
        "k8s-namespace-network-policy",
        "policy types unknown",
        namespace(),
        policy(types=UNKNOWN),
    ),
    undecided(
        "k8s-namespace-network-policy",
        "namespace name unknown",
        namespace(UNKNOWN),
    ),
]
