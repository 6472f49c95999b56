"""Cases for policies/rules/secrets.py."""

from __future__ import annotations

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"

KEPT = Res(SECRET, "token", {"name": "x"})

CASES = [
    violates("secretsmanager-rotation", "a secret nothing rotates", KEPT,
             message="never rotated", at="token"),
    passes("secretsmanager-rotation", "a secret with a rotation", KEPT,
           Res(ROTATION, "rotation", {"rotationRules": {"automaticallyAfterDays": 7}},
               {"secretId": ["token"]})),
    violates("secretsmanager-rotation", "a rotation of another secret",
             KEPT, Res(SECRET, "other", {"name": "y"}),
             Res(ROTATION, "rotation", {"rotationRules": {"automaticallyAfterDays": 7}},
                 {"secretId": ["other"]}), message="never rotated", at="token"),
    passes("secretsmanager-rotation", "a secret a person rotates, by a named procedure",
           Res(SECRET, "token", {"name": "x", "tags": {"rotation": "replace-after-use"}})),
    undecided("secretsmanager-rotation", "a rotation whose secret is not known yet", KEPT,
              Res(ROTATION, "rotation", {"secretId": UNKNOWN})),
]  # fmt: skip
