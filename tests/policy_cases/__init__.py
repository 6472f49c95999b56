"""Every rule's cases: at least one violating, one compliant and one with an unknown value.

Each module lists ``CASES`` for the rules of one service module of ``policies/rules``. A case
says what a rule must conclude about some resources; ``tests/test_policy_rules.py`` runs each
through the packs over gRPC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.policy_harness import Res

Expect = Literal["violation", "pass", "undecided"]


@dataclass(frozen=True)
class Case:
    rule: str
    behaviour: str  # what the case shows, in words (the test id)
    expect: Expect
    resources: tuple[Res, ...]
    config: Mapping[str, Any] = field(default_factory=dict)  # the rule's policy config
    message: str = ""  # a violation must contain this text
    at: str | None = None  # the name of the resource a violation must point at

    @property
    def id(self) -> str:
        return f"{self.rule}: {self.behaviour}"


def violates(
    rule: str,
    behaviour: str,
    *resources: Res,
    message: str = "",
    config: Mapping[str, Any] | None = None,
    at: str | None = None,
) -> Case:
    return Case(rule, behaviour, "violation", resources, config or {}, message, at)


def passes(
    rule: str, behaviour: str, *resources: Res, config: Mapping[str, Any] | None = None
) -> Case:
    return Case(rule, behaviour, "pass", resources, config or {})


def undecided(
    rule: str, behaviour: str, *resources: Res, config: Mapping[str, Any] | None = None
) -> Case:
    """A value the verdict depends on is unknown during preview: no violation may be
    reported (the SDK may say the policy could not run), and nothing may crash."""
    return Case(rule, behaviour, "undecided", resources, config or {})
