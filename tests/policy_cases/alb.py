"""Cases for policies/rules/alb.py, and the ALB Ingress builder stack.py's cases share."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SERVICE = "kubernetes:core/v1:Service"
PREFIX = "alb.ingress.kubernetes.io/"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
DROP = object()
ATTRIBUTES = {
    "deletion_protection.enabled": "true",
    "routing.http.drop_invalid_header_fields.enabled": "true",
    "access_logs.s3.enabled": "true",
    "access_logs.s3.bucket": "shop-alb-logs",
    "access_logs.s3.prefix": "shop",
}


def attributes(**changes: Any) -> str:
    """The load-balancer-attributes annotation; a change of None leaves that attribute out."""
    merged = {**ATTRIBUTES, **{k.replace("__", "."): v for k, v in changes.items()}}
    return ",".join(f"{k}={v}" for k, v in merged.items() if v is not None)


def forward(*groups: tuple[str, Any, Any]) -> str:
    """A forward action over (serviceName, servicePort, weight) groups; weight None: omitted."""
    target_groups = [
        {"serviceName": name, "servicePort": port, **({} if weight is None else {"weight": weight})}
        for name, port, weight in groups
    ]
    return json.dumps({"type": "forward", "forwardConfig": {"targetGroups": target_groups}})


LIVE = forward(("web-blue", 80, 90), ("web-green", 80, 10))
PREVIEW = forward(("web-green", 80, None))


def annotations() -> dict[str, Any]:
    """What the App component annotates an Ingress with: every ALB rule is satisfied."""
    return {
        "scheme": "internet-facing",
        "target-type": "ip",
        "group.name": "shop",
        "listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}]),
        "ssl-redirect": "443",
        "certificate-arn": CERTIFICATE,
        "ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "load-balancer-attributes": attributes(),
        "tags": "cost-center=1234,environment=prod,owner=platform",
        "actions.live": LIVE,
        "actions.preview": PREVIEW,
    }


def ingress(
    changes: Mapping[str, Any] | None = None,
    *,
    name: str = "web",
    namespace: Any = "shop",
    ingress_class: Any = "alb",
    extra: Mapping[str, Any] | None = None,
) -> Res:
    """An ALB Ingress; ``changes`` maps annotation names (without the prefix) to new values or
    DROP; ``extra`` adds annotations by their full names."""
    merged = {**annotations(), **(changes or {})}
    notes = {PREFIX + k: v for k, v in merged.items() if v is not DROP} | dict(extra or {})
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": "shop.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {"name": "live", "port": {"name": "use-annotation"}}
                            },
                        }
                    ]
                },
            }
        ]
    }
    if ingress_class is not None:
        spec["ingressClassName"] = ingress_class
    props = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "annotations": notes},
        "spec": spec,
    }
    return Res(INGRESS, f"{name}-ingress", props)


def service(name: str, *, namespace: Any = "shop", ports: Any = None) -> Res:
    props = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": "web", "slot": name.rsplit("-", 1)[-1]},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]
            if ports is None
            else ports,
        },
    }
    return Res(SERVICE, f"{name}-svc", props)


SLOTS = (service("web-blue"), service("web-green"))
NGINX = ingress({k: DROP for k in annotations()}, ingress_class="nginx")
LEGACY_CLASS = {"kubernetes.io/ingress.class": "alb"}

CASES = [
    # -- alb-https-listener
    violates(
        "alb-https-listener",
        "HTTP listener only",
        ingress({"listen-ports": json.dumps([{"HTTP": 80}])}),
        message='listen-ports opens ["HTTP"]; expected an HTTPS listener',
    ),
    violates(
        "alb-https-listener",
        "no listen-ports and no certificate is the controller's HTTP on 80",
        ingress({"listen-ports": DROP, "certificate-arn": DROP}),
        message='listen-ports opens ["HTTP"]',
    ),
    passes(
        "alb-https-listener",
        "no listen-ports with a certificate is the controller's HTTPS on 443",
        ingress({"listen-ports": DROP, "ssl-redirect": DROP}),
    ),
    passes(
        "alb-tls-policy",
        "no HTTPS listener, no TLS policy to judge",
        ingress({"listen-ports": '[{"HTTP": 80}]', "ssl-policy": "ELBSecurityPolicy-2016-08"}),
    ),
    violates(
        "alb-https-listener",
        "HTTP beside HTTPS without a redirect",
        ingress({"ssl-redirect": DROP}),
        message="an HTTP listener without ssl-redirect serves plain HTTP",
    ),
    violates(
        "alb-https-listener",
        "HTTPS without a certificate",
        ingress({"certificate-arn": DROP}),
        message="HTTPS has no certificate-arn",
    ),
    violates(
        "alb-https-listener",
        "ALB chosen by the legacy class annotation",
        ingress(
            {"listen-ports": json.dumps([{"HTTP": 80}])}, ingress_class=None, extra=LEGACY_CLASS
        ),
        message="expected an HTTPS listener",
    ),
    passes("alb-https-listener", "HTTPS with a certificate, HTTP redirected", ingress()),
    passes(
        "alb-https-listener",
        "HTTPS only needs no redirect",
        ingress({"listen-ports": json.dumps([{"HTTPS": 443}]), "ssl-redirect": DROP}),
    ),
    passes(
        "alb-https-listener",
        "certificate ARN unknown until created counts as set",
        ingress({"certificate-arn": UNKNOWN}),
    ),
    passes("alb-https-listener", "Ingress of another controller", NGINX),
    undecided("alb-https-listener", "listen-ports unknown", ingress({"listen-ports": UNKNOWN})),
    undecided("alb-https-listener", "ssl-redirect unknown", ingress({"ssl-redirect": UNKNOWN})),
    # -- alb-tls-policy
    violates(
        "alb-tls-policy",
        "no ssl-policy is the controller's 2016-08 default",
        ingress({"ssl-policy": DROP}),
        message='ssl-policy is "ELBSecurityPolicy-2016-08"; expected one of',
    ),
    violates(
        "alb-tls-policy",
        "TLS 1.0 policy",
        ingress({"ssl-policy": "ELBSecurityPolicy-TLS-1-0-2015-04"}),
        message='ssl-policy is "ELBSecurityPolicy-TLS-1-0-2015-04"',
    ),
    violates(
        "alb-tls-policy",
        "policy outside a configured list",
        ingress(),
        config={"allowedPolicies": ["ELBSecurityPolicy-TLS13-1-3-2021-06"]},
        message="expected one of ELBSecurityPolicy-TLS13-1-3-2021-06",
    ),
    passes("alb-tls-policy", "TLS 1.3 and 1.2 policy", ingress()),
    passes(
        "alb-tls-policy",
        "policy the configured list allows",
        ingress({"ssl-policy": "ELBSecurityPolicy-TLS-1-2-Ext-2018-06"}),
        config={"allowedPolicies": ["ELBSecurityPolicy-TLS-1-2-Ext-2018-06"]},
    ),
    passes("alb-tls-policy", "Ingress of another controller", NGINX),
    undecided("alb-tls-policy", "ssl-policy unknown", ingress({"ssl-policy": UNKNOWN})),
    # -- alb-access-logs
    violates(
        "alb-access-logs",
        "not enabled",
        ingress({"load-balancer-attributes": attributes(access_logs__s3__enabled=None)}),
        message="load-balancer-attributes access_logs.s3.enabled is not set; expected true",
    ),
    violates(
        "alb-access-logs",
        "turned off",
        ingress({"load-balancer-attributes": attributes(access_logs__s3__enabled="false")}),
        message='access_logs.s3.enabled is "false"; expected true',
    ),
    violates(
        "alb-access-logs",
        "no attributes annotation",
        ingress({"load-balancer-attributes": DROP}),
        message="access_logs.s3.enabled is not set",
    ),
    passes("alb-access-logs", "logs to S3", ingress()),
    passes("alb-access-logs", "Ingress of another controller", NGINX),
    undecided(
        "alb-access-logs",
        "attributes unknown until the log bucket exists",
        ingress({"load-balancer-attributes": UNKNOWN}),
    ),
    undecided(
        "alb-access-logs",
        "all annotations unknown",
        Res(
            INGRESS,
            "web-ingress",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "shop", "annotations": UNKNOWN},
                "spec": {"ingressClassName": "alb"},
            },
        ),
    ),
    # -- alb-deletion-protection
    violates(
        "alb-deletion-protection",
        "not enabled",
        ingress({"load-balancer-attributes": attributes(deletion_protection__enabled=None)}),
        message="deletion_protection.enabled is not set on any Ingress of ALB group 'shop'",
    ),
    violates(
        "alb-deletion-protection",
        "turned off",
        ingress({"load-balancer-attributes": attributes(deletion_protection__enabled="false")}),
        message='deletion_protection.enabled is "false"',
    ),
    passes("alb-deletion-protection", "on", ingress()),
    passes(
        "alb-deletion-protection",
        "set by another Ingress of the group (its anchor)",
        ingress({"load-balancer-attributes": attributes(deletion_protection__enabled=None)}),
        ingress(name="edge"),
    ),
    violates(
        "alb-deletion-protection",
        "no Ingress of the group sets it",
        ingress({"load-balancer-attributes": attributes(deletion_protection__enabled=None)}),
        ingress(
            {"load-balancer-attributes": attributes(deletion_protection__enabled=None)},
            name="edge",
        ),
        message="is not set on any Ingress of ALB group 'shop'",
        at="edge-ingress",
    ),
    violates(
        "alb-deletion-protection",
        "an Ingress of another group does not count",
        ingress({"load-balancer-attributes": attributes(deletion_protection__enabled=None)}),
        ingress({"group.name": "other"}, name="edge"),
        message="is not set on any Ingress of ALB group 'shop'",
        at="web-ingress",
    ),
    violates(
        "alb-deletion-protection",
        "an Ingress without a group builds its own ALB",
        ingress(
            {
                "group.name": DROP,
                "load-balancer-attributes": attributes(deletion_protection__enabled=None),
            }
        ),
        ingress(name="edge"),
        message="is not set on any Ingress of this Ingress's ALB",
        at="web-ingress",
    ),
    undecided(
        "alb-deletion-protection",
        "attributes unknown",
        ingress({"load-balancer-attributes": UNKNOWN}),
    ),
    undecided(
        "alb-deletion-protection",
        "group unknown",
        ingress(
            {
                "group.name": UNKNOWN,
                "load-balancer-attributes": attributes(deletion_protection__enabled=None),
            }
        ),
    ),
    # -- alb-drop-invalid-headers
    violates(
        "alb-drop-invalid-headers",
        "not enabled",
        ingress(
            {
                "load-balancer-attributes": attributes(
                    routing__http__drop_invalid_header_fields__enabled=None
                )
            }
        ),
        message="routing.http.drop_invalid_header_fields.enabled is not set; expected true",
    ),
    passes("alb-drop-invalid-headers", "on", ingress()),
    passes(
        "alb-drop-invalid-headers",
        "legacy class annotation, attributes with spaces",
        ingress(
            {"load-balancer-attributes": " routing.http.drop_invalid_header_fields.enabled = true"},
            ingress_class=None,
            extra=LEGACY_CLASS,
        ),
    ),
    undecided(
        "alb-drop-invalid-headers",
        "attributes unknown",
        ingress({"load-balancer-attributes": UNKNOWN}),
    ),
    # -- ingress-weights-valid
    violates(
        "ingress-weights-valid",
        "weights adding up to 110",
        ingress({"actions.live": forward(("web-blue", 80, 100), ("web-green", 80, 10))}),
        *SLOTS,
        at="web-ingress",
        message="action 'live' weights [100, 10] add up to 110; expected 100",
    ),
    violates(
        "ingress-weights-valid",
        "a missing weight counts as 0",
        ingress({"actions.live": forward(("web-blue", 80, 90), ("web-green", 80, None))}),
        *SLOTS,
        at="web-ingress",
        message="add up to 90; expected 100",
    ),
    violates(
        "ingress-weights-valid",
        "weights adding up to 100 where the parameter says 10",
        ingress(),
        *SLOTS,
        config={"weightTotal": 10},
        at="web-ingress",
        message="add up to 100; expected 10",
    ),
    undecided(
        "ingress-weights-valid",
        "a Service whose name is unknown may be the one forwarded to",
        ingress(),
        service("web-blue"),
        Res(SERVICE, "green-svc", {"metadata": {"name": UNKNOWN, "namespace": "shop"}}),
    ),
    violates(
        "ingress-weights-valid",
        "forward to a Service that does not exist",
        ingress(),
        service("web-blue"),
        at="web-ingress",
        message="forwards to Service shop/web-green, which this stack does not create",
    ),
    violates(
        "ingress-weights-valid",
        "forward to a Service of another namespace",
        ingress(),
        service("web-blue"),
        service("web-green", namespace="ops"),
        at="web-ingress",
        message="forwards to Service shop/web-green, which this stack does not create",
    ),
    violates(
        "ingress-weights-valid",
        "forward to a port the Service lacks",
        ingress({"actions.preview": forward(("web-green", 8080, None))}),
        *SLOTS,
        at="web-ingress",
        message="action 'preview' forwards to port 8080 of Service 'web-green-svc', which has no",
    ),
    violates(
        "ingress-weights-valid",
        "forward to no target group",
        ingress({"actions.preview": forward()}),
        *SLOTS,
        at="web-ingress",
        message="action 'preview' forwards nowhere",
    ),
    passes("ingress-weights-valid", "90/10 split between both slots", ingress(), *SLOTS),
    passes(
        "ingress-weights-valid",
        "all traffic to the live slot, by port name",
        ingress({"actions.live": forward(("web-blue", "http", 100), ("web-green", "http", 0))}),
        *SLOTS,
    ),
    passes(
        "ingress-weights-valid",
        "weights for a configured total",
        ingress({"actions.live": forward(("web-blue", 80, 9), ("web-green", 80, 1))}),
        *SLOTS,
        config={"weightTotal": 10},
    ),
    passes(
        "ingress-weights-valid",
        "target group ARN and fixed response are not Services",
        ingress(
            {
                "actions.live": json.dumps(
                    {
                        "type": "forward",
                        "forwardConfig": {
                            "targetGroups": [
                                {"targetGroupARN": "arn:aws:elasticloadbalancing:tg", "weight": 50},
                                {"serviceName": "web-blue", "servicePort": 80, "weight": 50},
                            ]
                        },
                    }
                ),
                "actions.preview": json.dumps(
                    {"type": "fixed-response", "fixedResponseConfig": {"statusCode": "404"}}
                ),
            }
        ),
        service("web-blue"),
    ),
    passes("ingress-weights-valid", "Ingress of another controller", NGINX),
    undecided(
        "ingress-weights-valid",
        "action unknown",
        ingress({"actions.live": UNKNOWN}),
        *SLOTS,
    ),
    undecided(
        "ingress-weights-valid",
        "Ingress namespace unknown, the Services' known",
        ingress(namespace=UNKNOWN),
        *SLOTS,
    ),
    undecided(
        "ingress-weights-valid",
        "Service ports unknown",
        ingress(),
        service("web-blue", ports=UNKNOWN),
        service("web-green"),
    ),
    undecided(
        "ingress-weights-valid",
        "a Service port number unknown",
        ingress(),
        service("web-blue", ports=[{"name": "http", "port": UNKNOWN}]),
        service("web-green"),
    ),
]
