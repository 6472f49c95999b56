"""IAM: no administrator wildcards, no role any principal may assume, and web-identity (IRSA)
trust pinned to one service account of one cluster."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from policies.framework import params
from policies.framework.iam import Statement, statements
from policies.framework.resources import Resource
from policies.framework.rule import Compliance, Pack, ResourceRule
from policies.framework.values import MISSING, as_list, is_unknown, json_document, unknown

ROLE = "aws:iam/role:Role"
DOCUMENT_TYPES = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
ATTACHMENT_TYPES = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
ADMINISTRATOR_ACCESS = ":iam::aws:policy/AdministratorAccess"


def _documents(resource: Resource) -> Iterator[tuple[str, Any]]:
    if resource.type in DOCUMENT_TYPES:
        key = DOCUMENT_TYPES[resource.type]
        yield key, json_document(resource.get(key), key)
    elif resource.type == ROLE:
        inline = resource.get("inlinePolicies", [])
        if is_unknown(inline):
            raise unknown(inline, "inlinePolicies")
        for index, policy in enumerate(as_list(inline)):
            if isinstance(policy, Mapping) and policy.get("policy") is not None:
                where = f"inlinePolicies[{index}].policy"
                yield where, json_document(policy["policy"], where)


def _admin(statement: Statement) -> bool:
    return (
        statement.allow
        and any(a in ("*", "*:*") for a in statement.actions)
        and "*" in statement.resources
    )


def _no_admin(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    for where, document in _documents(resource):
        for statement in statements(document):
            if _admin(statement):
                yield f"{where} {statement.label} allows every action on every resource"
    arns = [resource.get("policyArn")] if resource.type in ATTACHMENT_TYPES else []
    if resource.type == ROLE:
        arns += as_list(resource.get("managedPolicyArns", []))
    for arn in arns:
        if is_unknown(arn):
            raise unknown(arn, "policyArn")
        if isinstance(arn, str) and arn.endswith(ADMINISTRATOR_ACCESS):
            yield "attaches AdministratorAccess (every action on every resource)"


no_admin_wildcard = ResourceRule(
    name="iam-no-admin-wildcard",
    description="No policy grants every action on every resource.",
    remediation="List the actions and resources the principal needs (least privilege); an "
    "administrator role belongs to the account's identity set-up, not to this stack.",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    resource_types=(ROLE, *DOCUMENT_TYPES, *ATTACHMENT_TYPES),
    compliance=Compliance(
        cis=("1.16",), fsbp=("IAM.1",), checkov=("CKV_AWS_1", "CKV_AWS_62", "CKV_AWS_63")
    ),
    evaluate=_no_admin,
)


def _pinned(statement: Statement, suffix: str, expected: str | None) -> str | None:
    """Why a web-identity statement does not pin ``<issuer>:<suffix>``, or None if it does."""
    conditions = statement.condition_values(f":{suffix}")
    exact = conditions.get("StringEquals", [])
    if not exact:
        like = conditions.get("StringLike", [])
        if like:
            return f"matches {suffix} with StringLike {like}; expected StringEquals"
        return f"has no StringEquals condition on <issuer>:{suffix}"
    if any(is_unknown(v) for v in exact):
        raise unknown(exact[0], f"Condition.StringEquals:{suffix}")
    if any("*" in str(v) or "?" in str(v) for v in exact):
        return f"pins {suffix} to {exact} with a wildcard"
    if suffix == "sub" and len({str(v) for v in exact}) > 1:
        # StringEquals with a list matches any of its values: each is trusted.
        return f"pins sub to {exact}; expected exactly one service account"
    if expected is not None and any(v != expected for v in exact):
        return f"pins {suffix} to {exact}; expected {expected!r}"
    return None


def _trust(resource: Resource) -> list[Statement]:
    """The statements of a role's trust policy (none when it has none)."""
    document = resource.get("assumeRolePolicy")
    if document is MISSING:
        return []
    return statements(json_document(document, "assumeRolePolicy"))


def _web_identity_trust(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    for statement in _trust(resource):
        if not statement.allow or not statement.grants("sts:AssumeRoleWithWebIdentity"):
            continue
        federated = statement.principals.get("Federated", ())
        issuers = [p.split("oidc-provider/", 1)[1] for p in federated if "oidc-provider/" in p]
        cluster_issuer = any(
            fnmatch.fnmatchcase(issuer, pattern)
            for issuer in issuers
            for pattern in settings["issuers"]
        )
        # Other OIDC providers (a CI system, say) have subjects of their own shape.
        if not cluster_issuer and not statement.any_principal:
            continue
        for suffix, expected in (("sub", None), ("aud", "sts.amazonaws.com")):
            problem = _pinned(statement, suffix, expected)
            if problem:
                yield f"assumeRolePolicy {statement.label} {problem}"


oidc_trust_pinned = ResourceRule(
    name="iam-oidc-trust-pinned",
    description="Roles assumed through the cluster's OIDC provider (IRSA) trust exactly one "
    "service account (sub) for STS (aud), with no wildcards.",
    remediation="Use StringEquals on <issuer>:sub = system:serviceaccount:<namespace>:<name> "
    "and <issuer>:aud = sts.amazonaws.com (components.parts.irsa_role builds this).",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    resource_types=(ROLE,),
    params=(
        params.string_list(
            "issuers",
            "OIDC issuers (host/path patterns) whose trust must pin one service account: the "
            "clusters' issuers",
            default=["oidc.eks.*.amazonaws.com/id/*", "oidc.eks.*.amazonaws.com.cn/id/*"],
            min_items=1,
        ),
    ),
    evaluate=_web_identity_trust,
)

# Condition keys that pin who may use an "anyone" principal: an organisation, an account,
# a principal ARN, or (for AWS services acting for someone) the source account or resource.
# sts:ExternalId is not one: AWS does not treat an external ID as a secret.
PRINCIPAL_CONDITION_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
    )
)
ASSUME_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity")


# Operators that hold only when the key is present and matches one of the values; a Like
# operator pins only with values that have no wildcard (arn:aws:iam::*:role/* pins nothing).
_EXACT_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "ArnEquals"})
_PATTERN_OPERATORS = frozenset({"StringLike", "ArnLike"})


def _pins_principal(statement: Statement) -> bool:
    """Whether a condition limits the statement to named organisations, accounts or ARNs.
    Negated, IfExists, ForAllValues, Null and Bool operators hold for keys that are absent or
    merely present, and wildcard patterns match everyone: none of them limits anything."""
    for operator, block in statement.conditions.items():
        op = str(operator).removeprefix("ForAnyValue:")
        if op not in _EXACT_OPERATORS | _PATTERN_OPERATORS or not isinstance(block, Mapping):
            continue
        for key, raw in block.items():
            if str(key).lower() not in PRINCIPAL_CONDITION_KEYS:
                continue
            values = as_list(raw)
            if any(is_unknown(v) for v in values):
                raise unknown(values[0], f"Condition.{operator}.{key}")
            named = [v for v in values if isinstance(v, str) and v.strip()]
            if op in _PATTERN_OPERATORS:
                named = [v for v in named if "*" not in v and "?" not in v]
            if values and len(named) == len(values):
                return True
    return False


def _trust_open(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    for statement in _trust(resource):
        if not statement.allow or not statement.any_principal:
            continue
        if not any(statement.grants(action) for action in ASSUME_ACTIONS):
            continue
        if not _pins_principal(statement):
            yield (
                f"assumeRolePolicy {statement.label} lets any principal "
                f"({statement.describe_actions}) assume the role with no condition on "
                "aws:PrincipalOrgID, aws:PrincipalAccount, aws:PrincipalArn or "
                "aws:SourceAccount/SourceArn; expected named principals"
            )


trust_named_principals = ResourceRule(
    name="iam-trust-named-principals",
    description="No role may be assumed by any principal: a trust policy names its principals, "
    'or pins "*" to an organisation, account or ARN with a condition.',
    remediation="Name the role, account or service that assumes the role in Principal; if "
    '"*" is needed, add a condition on aws:PrincipalOrgID (or aws:PrincipalAccount / '
    "aws:PrincipalArn). An sts:ExternalId alone is not enough: it is not a secret.",
    severity=Severity.CRITICAL,
    pack=Pack.SECURITY,
    # Anyone may then act as the role: blocked in every stack, whatever the pack's config.
    enforcement=EnforcementLevel.MANDATORY,
    resource_types=(ROLE,),
    compliance=Compliance(checkov=("CKV_AWS_60",)),
    evaluate=_trust_open,
)

RULES = (no_admin_wildcard, oidc_trust_pinned, trust_named_principals)
