"""The application load balancer, judged through the Ingress annotations that the AWS Load
Balancer Controller builds it from: no ``aws:lb`` resource exists in the stack to inspect.

Most rules read one Ingress: the controller merges the Ingresses of a group into one ALB, so
a setting missing on any of them is a finding on that Ingress. Deletion protection is judged
per group, since one Ingress of a group may carry it for all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from policies.framework import kubernetes as k8s
from policies.framework import params
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Pack, ResourceRule, stack_rule
from policies.framework.values import get, is_unknown, show, unknown

PREFIX = "alb.ingress.kubernetes.io/"
WAF_ANNOTATION = PREFIX + "wafv2-acl-arn"
ATTRIBUTES = PREFIX + "load-balancer-attributes"
# The controller's own default when the annotation is absent (an old, TLS 1.0 policy).
CONTROLLER_DEFAULT_POLICY = "ELBSecurityPolicy-2016-08"


def alb_annotations(props: Any) -> dict[str, Any] | None:
    """The Ingress's annotations when the AWS Load Balancer Controller serves it, else None."""
    annotations = dict(k8s.annotations_of(props))
    ingress_class = get(props, "spec.ingressClassName")
    if ingress_class != "alb" and annotations.get("kubernetes.io/ingress.class") != "alb":
        return None
    return annotations


def _known(annotations: Mapping[str, Any], key: str) -> Any:
    value = annotations.get(key)
    if is_unknown(value):
        raise unknown(value, f"metadata.annotations.{key}")
    return value


def lb_attributes(annotations: Mapping[str, Any]) -> dict[str, str]:
    text = _known(annotations, ATTRIBUTES) or ""
    pairs = (item.split("=", 1) for item in str(text).split(",") if "=" in item)
    return {k.strip(): v.strip() for k, v in pairs}


def _ingress_rule(check: Any, **metadata: Any) -> ResourceRule:
    """A rule over the ALB annotations of each Ingress the controller serves."""

    def evaluate(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
        annotations = alb_annotations(resource.props)
        if annotations is not None:
            yield from check(annotations, settings)

    return ResourceRule(evaluate=evaluate, resource_types=(k8s.INGRESS,), **metadata)


def _listeners(annotations: Mapping[str, Any]) -> list[str]:
    text = _known(annotations, PREFIX + "listen-ports")
    if text is None:
        # The controller's default: HTTPS on 443 when a certificate is given, else HTTP on 80.
        return ["HTTPS"] if PREFIX + "certificate-arn" in annotations else ["HTTP"]
    try:
        entries = json.loads(text)
    except ValueError:
        return []
    return [str(p) for entry in entries if isinstance(entry, Mapping) for p in entry]


def _https(annotations: Mapping[str, Any], settings: Mapping[str, Any]) -> Iterator[str]:
    listeners = _listeners(annotations)
    if "HTTPS" not in listeners:
        yield f"listen-ports opens {show('listeners', listeners)}; expected an HTTPS listener"
    if "HTTP" in listeners and _known(annotations, PREFIX + "ssl-redirect") is None:
        yield (
            "an HTTP listener without ssl-redirect serves plain HTTP; expected ssl-redirect: '443'"
        )
    if "HTTPS" in listeners and PREFIX + "certificate-arn" not in annotations:
        yield "HTTPS has no certificate-arn; expected the ACM certificate's ARN"


https_listener = _ingress_rule(
    _https,
    name="alb-https-listener",
    description="The load balancer serves HTTPS with the stack's certificate and redirects "
    "HTTP to HTTPS.",
    remediation='Annotate listen-ports \'[{"HTTP": 80}, {"HTTPS": 443}]\', ssl-redirect '
    "'443' and certificate-arn.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    compliance=Compliance(
        fsbp=("ELB.1",),
        checkov=("CKV_AWS_2", "CKV2_AWS_20"),
        awsguard=("alb-http-to-https-redirection",),
    ),
)


def _tls_policy(annotations: Mapping[str, Any], settings: Mapping[str, Any]) -> Iterator[str]:
    if "HTTPS" not in _listeners(annotations):
        return  # no TLS listener, no TLS policy (alb-https-listener asks for one)
    policy = _known(annotations, PREFIX + "ssl-policy") or CONTROLLER_DEFAULT_POLICY
    if policy not in settings["allowedPolicies"]:
        yield (
            f"ssl-policy is {show('policy', policy)}; expected one of "
            f"{', '.join(settings['allowedPolicies'])} (TLS 1.2+ with forward secrecy)"
        )


tls_policy = _ingress_rule(
    _tls_policy,
    name="alb-tls-policy",
    description="HTTPS listeners use a current TLS security policy (TLS 1.2 and 1.3 only).",
    remediation="Annotate ssl-policy with an allowed policy, such as "
    "ELBSecurityPolicy-TLS13-1-2-2021-06 (the controller's default is 2016-08).",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    compliance=Compliance(fsbp=("ELB.17",), checkov=("CKV_AWS_103",)),
    params=(
        params.string_list(
            "allowedPolicies",
            "ELB security policies an HTTPS listener may use",
            default=[
                "ELBSecurityPolicy-TLS13-1-2-2021-06",
                "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
                "ELBSecurityPolicy-TLS13-1-3-2021-06",
                "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
                "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
                "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
            ],
            min_items=1,
        ),
    ),
)


def _attribute_rule(attribute: str, expected: str, why: str, **metadata: Any) -> ResourceRule:
    def check(annotations: Mapping[str, Any], settings: Mapping[str, Any]) -> Iterator[str]:
        value = lb_attributes(annotations).get(attribute)
        if value != expected:
            shown = "not set" if value is None else json.dumps(value)
            yield f"load-balancer-attributes {attribute} is {shown}; expected {expected} ({why})"

    return _ingress_rule(check, **metadata)


access_logs = _attribute_rule(
    "access_logs.s3.enabled",
    "true",
    "every request recorded to S3",
    name="alb-access-logs",
    description="The load balancer writes access logs to S3.",
    remediation="Add access_logs.s3.enabled=true, access_logs.s3.bucket and "
    "access_logs.s3.prefix to load-balancer-attributes, with a bucket policy that lets "
    "Elastic Load Balancing write.",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    compliance=Compliance(
        fsbp=("ELB.5",), checkov=("CKV_AWS_91",), awsguard=("elb-logging-enabled",)
    ),
)


def _alb_of(ingress: Resource, annotations: Mapping[str, Any]) -> tuple[str, Any]:
    """Which ALB an Ingress builds: its group's, or (without a group) its own."""
    group = _known(annotations, PREFIX + "group.name")
    return ("group", group) if group else ("ingress", ingress.urn)


def _deletion_protection(
    ingress: Resource, stack: StackView, settings: Mapping[str, Any]
) -> Iterator[str]:
    annotations = alb_annotations(ingress.props)
    if annotations is None:
        return
    alb = _alb_of(ingress, annotations)
    # The controller merges the attributes of a group's Ingresses into one ALB, so one
    # Ingress may carry the protection for all (and only that one can then wedge a delete).
    members: list[Resource] = []
    values: dict[str, str] = {}
    for member in stack.of_type(k8s.INGRESS):
        notes = alb_annotations(member.props)
        if notes is not None and _alb_of(member, notes) == alb:
            members.append(member)
            value = lb_attributes(notes).get(DELETION_PROTECTION)
            if value is not None:
                values[member.urn] = value
    where = f"ALB group {alb[1]!r}" if alb[0] == "group" else "this Ingress's ALB"
    # Each finding once: a missing setting on the group's first Ingress, a wrong one where
    # it is written.
    if not values and ingress.urn == min(m.urn for m in members):
        yield (
            f"load-balancer-attributes {DELETION_PROTECTION} is not set on any Ingress of "
            f"{where}; expected true on one of them"
        )
    if values.get(ingress.urn, "true") != "true":
        yield (
            f"load-balancer-attributes {DELETION_PROTECTION} is "
            f"{json.dumps(values[ingress.urn])}; expected true ({where} could be deleted by "
            "accident)"
        )


DELETION_PROTECTION = "deletion_protection.enabled"
deletion_protection = stack_rule(
    name="alb-deletion-protection",
    description="The load balancer cannot be deleted while deletion protection is on (set "
    "by any Ingress of its group).",
    remediation="Add deletion_protection.enabled=true to the load-balancer-attributes of one "
    "Ingress of the group that no service removal deletes (platform:protectResources or "
    "platform:app.loadBalancerDeletionProtection sets it on the group's anchor Ingress).",
    severity=Severity.MEDIUM,
    pack=Pack.QUALITY,
    over=(k8s.INGRESS,),
    compliance=Compliance(
        fsbp=("ELB.6",), checkov=("CKV_AWS_150",), awsguard=("elb-deletion-protection-enabled",)
    ),
    judge=_deletion_protection,
)

drop_invalid_headers = _attribute_rule(
    "routing.http.drop_invalid_header_fields.enabled",
    "true",
    "malformed headers never reach the app (request smuggling)",
    name="alb-drop-invalid-headers",
    description="The load balancer drops HTTP headers that are not valid.",
    remediation="Add routing.http.drop_invalid_header_fields.enabled=true to "
    "load-balancer-attributes.",
    severity=Severity.LOW,
    pack=Pack.SECURITY,
    compliance=Compliance(fsbp=("ELB.4",), checkov=("CKV_AWS_131",)),
)


def _forward_actions(annotations: Mapping[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    for key, value in annotations.items():
        if not key.startswith(PREFIX + "actions."):
            continue
        name = key[len(PREFIX + "actions.") :]
        if is_unknown(value):
            raise unknown(value, f"metadata.annotations.{key}")
        try:
            action = json.loads(value)
        except (TypeError, ValueError):
            yield name, []
            continue
        if isinstance(action, Mapping) and action.get("type") == "forward":
            groups = (action.get("forwardConfig") or {}).get("targetGroups") or action.get(
                "targetGroups", []
            )
            yield name, list(groups) if isinstance(groups, list) else []


def _service_ports(service: Resource) -> set[Any]:
    """The Service's port numbers and names; unknown ones stay as the unknown sentinel."""
    ports = service.get("spec.ports", [])
    if is_unknown(ports):
        return {ports}
    found: set[Any] = set()
    for port in ports if isinstance(ports, list) else []:
        if is_unknown(port):
            found.add(port)
        elif isinstance(port, Mapping):
            found |= {port.get("port"), port.get("name")}
    return found - {None}


def _weights(ingress: Resource, stack: StackView, settings: Mapping[str, Any]) -> Iterator[str]:
    annotations = alb_annotations(ingress.props)
    if annotations is None:
        return
    total = int(settings["weightTotal"])
    services = {
        (k8s.namespace_of(s.props), k8s.name_of(s.props)): s for s in stack.of_type(k8s.SERVICE)
    }
    namespace = k8s.namespace_of(ingress.props)
    for action, groups in _forward_actions(annotations):
        if not groups:
            yield f"{ingress.label} action {action!r} forwards nowhere"
            continue
        weights = [g.get("weight") for g in groups if isinstance(g, Mapping)]
        if any(is_unknown(w) for w in weights):
            raise unknown(None, f"metadata.annotations.{PREFIX}actions.{action}")
        if not all(w is None or isinstance(w, int) for w in weights):
            yield f"{ingress.label} action {action!r} weights {weights} are not all integers"
        elif len(groups) > 1 and sum(w or 0 for w in weights) != total:
            yield (
                f"{ingress.label} action {action!r} weights {weights} add up to "
                f"{sum(w or 0 for w in weights)}; expected {total}"
            )
        for group in groups:
            if not isinstance(group, Mapping) or "serviceName" not in group:
                continue  # a target group ARN: not a Service of the stack
            service = services.get((namespace, group["serviceName"]))
            if service is None and (
                is_unknown(namespace) or any(is_unknown(ns) or is_unknown(n) for ns, n in services)
            ):
                # A namespace or name not known during preview may be the Service's.
                raise unknown(namespace, "metadata")
            if service is None:
                yield (
                    f"{ingress.label} action {action!r} forwards to Service "
                    f"{namespace}/{group['serviceName']}, which this stack does not create"
                )
            elif group.get("servicePort") not in (ports := _service_ports(service)):
                if any(is_unknown(p) for p in ports):
                    # A port not known during preview may be the one forwarded to.
                    raise unknown(None, "spec.ports")
                yield (
                    f"{ingress.label} action {action!r} forwards to port "
                    f"{group.get('servicePort')!r} of {service.label}, which has no such port"
                )


ingress_weights = stack_rule(
    name="ingress-weights-valid",
    description="Each weighted ALB action splits all of its traffic (weights add up to 100) "
    "between Services that exist, on ports they serve.",
    remediation="Set the candidate's weight through platform:app…release.candidateWeight "
    "(the live slot takes the rest), and keep both slot Services.",
    severity=Severity.CRITICAL,
    pack=Pack.QUALITY,
    # A broken split takes traffic down: mandatory even in the advisory pack.
    enforcement=EnforcementLevel.MANDATORY,
    over=(k8s.INGRESS,),
    resource_types=(k8s.INGRESS, k8s.SERVICE),
    params=(
        params.integer(
            "weightTotal",
            "what the weights of a forward action must add up to",
            default=100,
            minimum=1,
            maximum=999,
        ),
    ),
    judge=_weights,
)

RULES = (
    https_listener,
    tls_policy,
    access_logs,
    deletion_protection,
    drop_invalid_headers,
    ingress_weights,
)
