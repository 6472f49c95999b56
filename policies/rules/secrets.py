"""Secrets Manager: a secret the stack keeps is rotated automatically."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Pack, stack_rule
from policies.framework.values import is_unknown, unknown

SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"


# A secret only a person can rotate (a break-glass password, a third party's webhook URL)
# says so with this tag, whose value is the documented procedure's name; it is then not a
# finding, and the tag is what a reviewer greps for.
MANUAL_ROTATION_TAG = "rotation"


def _rotated(secret: Resource, stack: StackView, _: Mapping[str, Any]) -> Iterator[str]:
    if list(stack.referring_to(secret, "secretId", ROTATION)):
        return
    tags = secret.get("tags", None)
    if is_unknown(tags):
        raise unknown(tags, "tags")
    if isinstance(tags, Mapping) and tags.get(MANUAL_ROTATION_TAG):
        return
    # A rotation whose secret is not known yet may be this secret's.
    for rotation in stack.of_type(ROTATION):
        secret_id = rotation.get("secretId", None)
        if is_unknown(secret_id) and not rotation.sources("secretId"):
            raise unknown(secret_id, "secretId")
    yield (
        f"{secret.label} is never rotated: a copy that leaks stays valid until someone "
        "changes it by hand"
    )


secret_rotated = stack_rule(
    over=(SECRET,),
    name="secretsmanager-rotation",
    description="Secrets the stack keeps in Secrets Manager rotate automatically.",
    remediation="Add an aws.secretsmanager.SecretRotation for the secret, or avoid the secret "
    "(IAM authentication for the cache and the database); a secret only a person can rotate "
    "carries the tag rotation: <how> (documented in docs/components.md).",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    # Advisory: whether a secret can be rotated by AWS depends on who issues it.
    enforcement=EnforcementLevel.ADVISORY,
    compliance=Compliance(checkov=("CKV2_AWS_57",), fsbp=("SecretsManager.1",)),
    resource_types=(SECRET, ROTATION),
    judge=_rotated,
)

RULES = (secret_rotated,)
