"""Credentials written into Kubernetes objects as plain text: a container's literal ``env``
value (init and ephemeral containers too) or a ConfigMap's data. Anyone who can read the
object, its history in Pulumi's state or a ``kubectl describe`` sees them; they belong in a
Secret (or Secrets Manager) and reach the pod by reference.

A value is a credential when its name says so (the settings' own list of credential names)
and it is a literal rather than a reference, or when its content has a credential's shape
whatever its name (the AI review's content rules: private keys, access keys, tokens, URLs and
``password=`` pairs carrying a password). Messages never quote the value."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from platform_common.credentials import credential_name
from platform_common.redaction.redact_text import contains_credential
from policies.framework import kubernetes as k8s
from policies.framework.resources import Resource
from policies.framework.rule import Compliance, Pack, ResourceRule
from policies.framework.values import MISSING, as_list, get, is_unknown, unknown

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
# What a credential-named variable may hold without being the credential itself: a short
# number (a length, a TTL in seconds, minutes or hours) or true/false, an ARN or a file path
# (where the secret is), a URL without a password (the content rules catch one with), or a
# reference to another variable. A long run of digits is a PIN or a token, not a setting.
_NOT_A_CREDENTIAL = re.compile(
    r"\d{1,6}[smhd]?|true|false"
    r"|arn:[\w-]+:.*|/[^/\s]+/\S*|[a-z][a-z0-9+.-]*://\S*|\$\(\w+\)|\$\{\w+\}",
    re.IGNORECASE,
)


def _why(name: str, value: Any, where: str) -> str | None:
    """Why the literal ``value`` under ``name`` is a credential in plain text, or None."""
    if is_unknown(value):
        # Known only after another resource exists: under a credential's name it may be one
        # (a generated password), otherwise its content cannot be a literal of the program.
        if credential_name(name):
            raise unknown(value, where)
        return None
    if not isinstance(value, str) or not value.strip():
        return None
    if contains_credential(value):
        return "holds what has a credential's shape (a key, a token or a password)"
    if credential_name(name) and not _NOT_A_CREDENTIAL.fullmatch(value.strip()):
        return "is named like a credential and holds a literal value"
    return None


def _env(resource: Resource) -> Iterator[str]:
    for container in k8s.containers(resource.type, resource.props):
        env = container.spec.get("env") or []
        if is_unknown(env):
            raise unknown(env, f"{container.path}.env")
        for index, item in enumerate(as_list(env)):
            if is_unknown(item):
                raise unknown(item, f"{container.path}.env[{index}]")
            if not isinstance(item, Mapping) or "value" not in item:
                continue  # valueFrom: a reference, which is what is wanted
            name = item.get("name")
            if is_unknown(name):
                raise unknown(name, f"{container.path}.env[{index}].name")
            why = _why(str(name), item["value"], f"{container.path}.env[{index}].value")
            if why:
                kind = "init container" if container.init else "container"
                yield (
                    f"{kind} {container.name!r} env {name} {why}; expected valueFrom."
                    "secretKeyRef (or a file mounted from a Secret)"
                )


def _config_map(resource: Resource) -> Iterator[str]:
    data = get(resource.props, "data", {})
    if is_unknown(data):
        raise unknown(data, "data")
    if data is MISSING or not isinstance(data, Mapping):
        return
    for key, value in data.items():
        why = _why(str(key), value, f"data.{key}")
        if why:
            yield f"data key {key} {why}; expected a Secret, referenced from the pod"


def _literal_credentials(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    yield from _config_map(resource) if resource.type == CONFIG_MAP else _env(resource)


no_literal_credentials = ResourceRule(
    name="k8s-no-literal-credentials",
    description="No credential is written into a Kubernetes object as plain text: not as a "
    "container's (or init container's) env value, not in a ConfigMap.",
    remediation="Keep the credential in a Kubernetes Secret (or Secrets Manager, read through "
    "the service's IRSA role) and reference it: env valueFrom.secretKeyRef, or a volume; a "
    "ConfigMap holds only non-secret settings such as the secret's ARN.",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    # Readable by anyone who can read the object: blocked in every stack.
    enforcement=EnforcementLevel.MANDATORY,
    resource_types=(*k8s.WORKLOADS, CONFIG_MAP),
    compliance=Compliance(
        checkov=(
            "CKV_SECRET_2",
            "CKV_SECRET_4",
            "CKV_SECRET_9",
            "CKV_SECRET_10",
            "CKV_SECRET_13",
            "CKV_SECRET_14",
        )
    ),
    evaluate=_literal_credentials,
)

RULES = (no_literal_credentials,)
