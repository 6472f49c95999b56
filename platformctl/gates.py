"""What stops an update before it starts: mandatory policy findings, and a replacement or
deletion of a stateful resource nobody named."""

from __future__ import annotations

from collections.abc import Collection

from platformctl.changes import PreviewOutcome, ResourceChange
from policies.rules.stack import STATEFUL_TYPES as protect_stateful_types

# The types the security pack requires to be protected: one list for both ideas of "holds
# state" (losing one loses data, keys or the cluster everything runs on).
STATEFUL_TYPES = frozenset(protect_stateful_types)
DESTRUCTIVE = ("replace", "delete")


def unapproved_destruction(
    outcome: PreviewOutcome, allowed_urns: Collection[str]
) -> list[ResourceChange]:
    """Replacements and deletions of protected or stateful resources not named by
    ``--allow-replace``."""
    return [
        change
        for change in outcome.changes
        if change.operation in DESTRUCTIVE
        and (change.protected or change.type in STATEFUL_TYPES)
        and change.urn not in allowed_urns
    ]


def gate_problems(outcome: PreviewOutcome, allowed_urns: Collection[str]) -> list[str]:
    problems = [
        f"mandatory policy {f.policy_pack}/{f.policy_name} on {f.urn or 'the stack'}: "
        f"{f.message}" + (f" Remediation: {f.remediation}" if f.remediation else "")
        for f in outcome.blocking
    ]
    problems += [
        f"would {c.operation} {c.urn}, a protected or stateful resource; to allow it, name "
        f"it: --allow-replace {c.urn}"
        for c in unapproved_destruction(outcome, allowed_urns)
    ]
    return problems
