"""IAM policy documents (identity, trust and key policies) as statements rules can judge."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.framework.values import as_list


@dataclass(frozen=True)
class Statement:
    index: int
    sid: str
    allow: bool
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    principals: Mapping[str, tuple[str, ...]]  # "AWS"/"Service"/"Federated"/"*" -> values
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"statement {self.sid!r}" if self.sid else f"statement {self.index}"

    @property
    def any_principal(self) -> bool:
        """``"Principal": "*"`` or ``{"AWS": "*"}``: anyone, in any account."""
        return "*" in self.principals.get("*", ()) or "*" in self.principals.get("AWS", ())

    def grants(self, action: str) -> bool:
        """Whether the statement's actions cover ``action`` (itself a name or a pattern such
        as ``kms:*``). ``NotAction`` covers everything it does not exclude."""
        if self.not_actions:
            return not any(_matches(action, excluded) for excluded in self.not_actions)
        return any(a in ("*", "*:*") or _matches(action, a) for a in self.actions)

    @property
    def describe_actions(self) -> str:
        if self.not_actions:
            return "every action but " + ", ".join(self.not_actions)
        return ", ".join(self.actions) or "*"

    def condition_values(self, key_suffix: str) -> dict[str, list[Any]]:
        """Condition operator -> values for every condition key ending in ``key_suffix``."""
        found: dict[str, list[Any]] = {}
        for operator, block in self.conditions.items():
            if not isinstance(block, Mapping):
                continue
            for key, values in block.items():
                if str(key).endswith(key_suffix):
                    found.setdefault(operator, []).extend(as_list(values))
        return found


def statements(document: Any) -> list[Statement]:
    """The statements of a policy document; an unreadable document has none."""
    if not isinstance(document, Mapping):
        return []
    result = []
    for index, raw in enumerate(as_list(document.get("Statement"))):
        if not isinstance(raw, Mapping):
            continue
        principal = raw.get("Principal")
        if principal == "*":
            principals: dict[str, tuple[str, ...]] = {"*": ("*",)}
        elif isinstance(principal, Mapping):
            principals = {str(k): tuple(str(v) for v in as_list(v)) for k, v in principal.items()}
        else:
            principals = {}
        conditions = raw.get("Condition")
        result.append(
            Statement(
                index=index,
                sid=str(raw.get("Sid") or ""),
                allow=raw.get("Effect") == "Allow",
                actions=tuple(str(a) for a in as_list(raw.get("Action"))),
                not_actions=tuple(str(a) for a in as_list(raw.get("NotAction"))),
                resources=tuple(str(r) for r in as_list(raw.get("Resource"))),
                principals=principals,
                conditions=conditions if isinstance(conditions, Mapping) else {},
            )
        )
    return result


def open_to_anyone(found: list[Statement], service_wildcard: str) -> list[str]:
    """Allow statements any principal may use: without conditions, or granting every action
    of the service (``kms:*``, ``s3:*``) whatever the conditions."""
    problems = []
    for statement in found:
        if not statement.allow or not statement.any_principal:
            continue
        if statement.grants(service_wildcard) or not statement.conditions:
            condition = "with" if statement.conditions else "without"
            problems.append(
                f"{statement.label} allows any principal ({statement.describe_actions}) "
                f"{condition} conditions; expected named principals"
            )
    return problems


def _matches(action: str, pattern: str) -> bool:
    """IAM action matching: case-insensitive, ``*`` and ``?`` wildcards."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())
