"""Cases for policies/rules/iam.py."""

from __future__ import annotations

import json

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
ROLE_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
GROUP_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ACCOUNT = "123456789012"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
GITHUB_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
SERVICE_ACCOUNT = "system:serviceaccount:app:web"
EC2_TRUST: dict[str, object] = {
    "Effect": "Allow",
    "Principal": {"Service": "ec2.amazonaws.com"},
    "Action": "sts:AssumeRole",
}


def document(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: object, resource: object = "*", **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def policy(type_: str = POLICY, *statements: dict[str, object]) -> Res:
    return Res(type_, "policy", {"policy": document(*statements)})


def role(**props: object) -> Res:
    return Res(ROLE, "role", {"assumeRolePolicy": document(EC2_TRUST), **props})


def attachment(arn: object, type_: str = ROLE_ATTACHMENT) -> Res:
    return Res(type_, "attachment", {"role": "app", "policyArn": arn})


def irsa(conditions: object = None, principal: object = None, **extra: object) -> Res:
    """A role trusted through the cluster's OIDC provider, with these conditions."""
    statement = {
        "Effect": "Allow",
        "Principal": principal or {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        **extra,
    }
    if conditions is not None:
        statement["Condition"] = conditions
    return Res(ROLE, "role", {"assumeRolePolicy": document(statement)})


def pinned(sub: object = SERVICE_ACCOUNT, aud: object = "sts.amazonaws.com") -> dict:
    return {"StringEquals": {f"{ISSUER}:sub": sub, f"{ISSUER}:aud": aud}}


READ_BUCKET = allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::data", "arn:aws:s3:::data/*"])


def open_trust(
    principal: object,
    conditions: object = None,
    *,
    action: str = "sts:AssumeRole",
    effect: str = "Allow",
) -> dict[str, object]:
    statement: dict[str, object] = {"Effect": effect, "Principal": principal, "Action": action}
    if conditions is not None:
        statement["Condition"] = conditions
    return statement


def trust(principal: object, conditions: object = None, **options: str) -> Res:
    """A role whose trust policy is one statement for ``principal``."""
    statement = open_trust(principal, conditions, **options)
    return Res(ROLE, "role", {"assumeRolePolicy": document(statement)})


CASES = [
    violates(
        "iam-no-admin-wildcard",
        "managed policy with * on *",
        policy(POLICY, READ_BUCKET, allow("*", Sid="Admin")),
        message="policy statement 'Admin' allows every action on every resource",
    ),
    violates(
        "iam-no-admin-wildcard",
        "role policy with *:* among resources",
        policy(ROLE_POLICY, allow("*:*", ["arn:aws:s3:::data", "*"])),
        message="policy statement 0 allows every action on every resource",
    ),
    violates(
        "iam-no-admin-wildcard",
        "user policy with * in an action list",
        policy(USER_POLICY, allow(["s3:GetObject", "*"])),
        message="allows every action on every resource",
    ),
    violates(
        "iam-no-admin-wildcard",
        "a single statement object instead of a list",
        Res(POLICY, "policy", {"policy": json.dumps({"Statement": allow("*")})}),
        message="statement 0 allows every action on every resource",
    ),
    violates(
        "iam-no-admin-wildcard",
        "inline policy of a role",
        role(inlinePolicies=[{"name": "everything", "policy": document(allow("*"))}]),
        message="inlinePolicies[0].policy statement 0 allows every action on every resource",
    ),
    violates(
        "iam-no-admin-wildcard",
        "AdministratorAccess attached to a role",
        attachment(ADMIN_ARN),
        message="attaches AdministratorAccess",
    ),
    violates(
        "iam-no-admin-wildcard",
        "AdministratorAccess attached to a group in GovCloud",
        attachment("arn:aws-us-gov:iam::aws:policy/AdministratorAccess", GROUP_ATTACHMENT),
        message="attaches AdministratorAccess",
    ),
    violates(
        "iam-no-admin-wildcard",
        "AdministratorAccess among a role's managed policies",
        role(managedPolicyArns=[READ_ONLY_ARN, ADMIN_ARN]),
        message="attaches AdministratorAccess",
    ),
    passes("iam-no-admin-wildcard", "scoped actions and resources", policy(POLICY, READ_BUCKET)),
    passes(
        "iam-no-admin-wildcard",
        "every action, but on one bucket only",
        policy(ROLE_POLICY, allow("*", "arn:aws:s3:::data/*")),
    ),
    passes(
        "iam-no-admin-wildcard",
        "every S3 action on every resource is not every action",
        policy(POLICY, allow("s3:*")),
    ),
    passes(
        "iam-no-admin-wildcard",
        "a Deny of everything",
        policy(POLICY, {"Effect": "Deny", "Action": "*", "Resource": "*"}),
    ),
    passes("iam-no-admin-wildcard", "ReadOnlyAccess attached", attachment(READ_ONLY_ARN)),
    passes(
        "iam-no-admin-wildcard",
        "role with scoped inline and managed policies",
        role(
            inlinePolicies=[{"name": "read", "policy": document(READ_BUCKET)}],
            managedPolicyArns=[READ_ONLY_ARN],
        ),
    ),
    undecided(
        "iam-no-admin-wildcard",
        "policy document unknown",
        Res(POLICY, "policy", {"policy": UNKNOWN}),
    ),
    undecided("iam-no-admin-wildcard", "attached policy ARN unknown", attachment(UNKNOWN)),
    undecided(
        "iam-no-admin-wildcard",
        "inline policy document unknown",
        role(inlinePolicies=[{"name": "data", "policy": UNKNOWN}]),
    ),
    undecided(
        "iam-no-admin-wildcard",
        "managed policy ARNs unknown",
        role(managedPolicyArns=[READ_ONLY_ARN, UNKNOWN]),
    ),
    # iam-oidc-trust-pinned
    violates(
        "iam-oidc-trust-pinned",
        "no conditions: any service account of the cluster",
        irsa(),
        message="assumeRolePolicy statement 0 has no StringEquals condition on <issuer>:sub",
    ),
    violates(
        "iam-oidc-trust-pinned",
        "StringLike on sub",
        irsa(
            {
                "StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com"},
                "StringLike": {f"{ISSUER}:sub": "system:serviceaccount:app:*"},
            }
        ),
        message="matches sub with StringLike ['system:serviceaccount:app:*']; "
        "expected StringEquals",
    ),
    violates(
        "iam-oidc-trust-pinned",
        "a wildcard in StringEquals on sub",
        irsa(pinned(sub="system:serviceaccount:*:web")),
        message="pins sub to ['system:serviceaccount:*:web'] with a wildcard",
    ),
    violates(
        "iam-oidc-trust-pinned",
        "aud not sts.amazonaws.com",
        irsa(pinned(aud="my-app")),
        message="pins aud to ['my-app']; expected 'sts.amazonaws.com'",
    ),
    violates(
        "iam-oidc-trust-pinned",
        "aud not pinned",
        irsa({"StringEquals": {f"{ISSUER}:sub": SERVICE_ACCOUNT}}),
        message="has no StringEquals condition on <issuer>:aud",
    ),
    violates(
        "iam-oidc-trust-pinned",
        "two service accounts trusted",
        irsa(pinned(sub=[SERVICE_ACCOUNT, "system:serviceaccount:app:worker"])),
        message="expected exactly one service account",
    ),
    violates(
        "iam-oidc-trust-pinned",
        'web identity for Principal "*"',
        irsa(principal="*", Sid="Anyone"),
        message="statement 'Anyone' has no StringEquals condition on <issuer>:sub",
    ),
    violates(
        "iam-oidc-trust-pinned",
        "web identity through sts:*",
        irsa(pinned(sub="*"), Action="sts:*"),
        message="pins sub to ['*'] with a wildcard",
    ),
    passes("iam-oidc-trust-pinned", "one service account for STS", irsa(pinned())),
    passes("iam-oidc-trust-pinned", "not a web-identity role", role()),
    passes(
        "iam-oidc-trust-pinned",
        "a CI system's OIDC trust (GitHub Actions) has subjects of its own shape",
        irsa(
            {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:*"},
            },
            principal={"Federated": GITHUB_PROVIDER},
        ),
    ),
    violates(
        "iam-oidc-trust-pinned",
        "another cluster issuer given by the parameter",
        irsa(
            {"StringLike": {"oidc.example.com/k8s:sub": "system:serviceaccount:*"}},
            principal={"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.example.com/k8s"},
        ),
        config={"issuers": ["oidc.example.com/*"]},
        message="matches sub with StringLike",
    ),
    passes(
        "iam-oidc-trust-pinned",
        "web identity through a provider that is not an OIDC provider of IAM",
        irsa(principal={"Federated": "cognito-identity.amazonaws.com"}),
    ),
    passes(
        "iam-oidc-trust-pinned",
        "a Deny for web identity",
        irsa(Effect="Deny"),
    ),
    undecided(
        "iam-oidc-trust-pinned",
        "trust policy unknown until the OIDC provider exists",
        Res(ROLE, "role", {"assumeRolePolicy": UNKNOWN}),
    ),
    # -- iam-trust-named-principals
    violates(
        "iam-trust-named-principals",
        "any AWS principal, no condition",
        trust({"AWS": "*"}),
        message="lets any principal (sts:AssumeRole) assume the role with no condition",
    ),
    violates(
        "iam-trust-named-principals",
        'a bare "*" principal among the statements',
        Res(ROLE, "role", {"assumeRolePolicy": document(EC2_TRUST, open_trust("*"))}),
        message="statement 1 lets any principal",
    ),
    violates(
        "iam-trust-named-principals",
        "an external id is not a principal",
        trust({"AWS": "*"}, {"StringEquals": {"sts:ExternalId": "partner-1234"}}),
        message="expected named principals",
    ),
    violates(
        "iam-trust-named-principals",
        "a condition that passes when the key is absent",
        trust({"AWS": "*"}, {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
    ),
    violates(
        "iam-trust-named-principals",
        "a negated condition",
        trust({"AWS": "*"}, {"StringNotEquals": {"aws:PrincipalAccount": "999999999999"}}),
    ),
    violates(
        "iam-trust-named-principals",
        "a wildcard organisation",
        trust({"AWS": "*"}, {"StringLike": {"aws:PrincipalOrgID": "*"}}),
    ),
    violates(
        "iam-trust-named-principals",
        "a pattern matching any account's roles",
        trust({"AWS": "*"}, {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}),
    ),
    violates(
        "iam-trust-named-principals",
        "a pattern matching any account id",
        trust({"AWS": "*"}, {"StringLike": {"aws:PrincipalAccount": "?*"}}),
    ),
    violates(
        "iam-trust-named-principals",
        "only that the principal is in some organisation",
        trust({"AWS": "*"}, {"Null": {"aws:PrincipalOrgID": "false"}}),
    ),
    violates(
        "iam-trust-named-principals",
        "any principal through a web identity",
        trust("*", action="sts:AssumeRoleWithWebIdentity"),
    ),
    passes("iam-trust-named-principals", "a named service", role()),
    passes(
        "iam-trust-named-principals",
        "a named account",
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
    ),
    passes(
        "iam-trust-named-principals",
        "any principal of the organisation",
        trust({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
    ),
    passes(
        "iam-trust-named-principals",
        "any principal of listed accounts (condition keys are case-insensitive)",
        trust({"AWS": "*"}, {"ForAnyValue:StringEquals": {"AWS:PrincipalAccount": [ACCOUNT]}}),
    ),
    passes(
        "iam-trust-named-principals",
        "roles of one account by an exact pattern",
        trust(
            {"AWS": "*"},
            {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/deployer"}},
        ),
    ),
    passes(
        "iam-trust-named-principals",
        "a Deny for everyone",
        trust({"AWS": "*"}, effect="Deny"),
    ),
    passes(
        "iam-trust-named-principals",
        "any principal, but not to assume the role",
        trust({"AWS": "*"}, action="sts:TagSession"),
    ),
    undecided(
        "iam-trust-named-principals",
        "the organisation id is not known yet",
        trust({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": UNKNOWN}}),
    ),
    undecided(
        "iam-trust-named-principals",
        "trust policy unknown",
        Res(ROLE, "role", {"assumeRolePolicy": UNKNOWN}),
    ),
]
