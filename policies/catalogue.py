"""The rule catalogue as docs/policies/coverage.md shows it: ``python -m policies.catalogue``
prints the coverage table (every rule against the public rule sets it matches), generated
from the rules' own metadata so the manual cannot drift from the code (a test compares
them)."""

from __future__ import annotations

import sys

from policies.framework.pack import DEFAULT_ENFORCEMENT
from policies.framework.rule import Rule, StackRule
from policies.rules import ALL_RULES

HEADER = (
    "| rule | pack | default | severity | checks | AWSGuard | Checkov | AWS FSBP | CIS AWS 3.0 "
    "| Pod Security |"
)


def _cell(values: tuple[str, ...]) -> str:
    return ", ".join(values) if values else "-"


def _default(rule: Rule) -> str:
    return str((rule.enforcement or DEFAULT_ENFORCEMENT[rule.pack]).value)


def _checks(rule: Rule) -> str:
    kinds = sorted({t.rsplit(":", 1)[-1] for t in rule.resource_types})
    scope = "stack: " if isinstance(rule, StackRule) else ""
    return scope + ", ".join(kinds)


def coverage_table() -> str:
    lines = [HEADER, _separator()]
    for rule in ALL_RULES:
        c = rule.compliance
        lines.append(
            f"| `{rule.name}` | {rule.pack} | {_default(rule)} | {rule.severity.value} | "
            f"{_checks(rule)} | {_cell(c.awsguard)} | {_cell(c.checkov)} | {_cell(c.fsbp)} | "
            f"{_cell(c.cis)} | {_cell(c.pss)} |"
        )
    return "\n".join(lines)


def coverage_counts() -> str:
    """The first sentence of the coverage page: how many rules, and how many of them each
    public rule set anchors."""
    stack_rules = sum(isinstance(rule, StackRule) for rule in ALL_RULES)

    def anchored(field: str) -> int:
        return sum(bool(getattr(rule.compliance, field)) for rule in ALL_RULES)

    return (
        f"{len(ALL_RULES)} rules ({stack_rules} of them over the whole stack). Against the "
        f"anchors: {anchored('checkov')} map to Checkov checks, {anchored('fsbp')} to AWS "
        f"Foundational Security Best Practices controls, {anchored('cis')} to CIS AWS "
        f"Foundations 3.0.0, {anchored('pss')} to Pod Security Standards controls, "
        f"{anchored('awsguard')} to Pulumi AWSGuard's policies."
    )


def _separator() -> str:
    return "|" + " --- |" * (HEADER.count("|") - 1)


if __name__ == "__main__":
    sys.stdout.write(coverage_counts() + "\n\n" + coverage_table() + "\n")
