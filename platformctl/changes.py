"""What a preview or an update changes, and what the policy packs found: plain data that the
stack adapters produce, the gates and the driver read, and the AI review's documents
describe. A leaf module, so the review imports it without importing the driver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PropertyChange:
    """One top-level input that changes, in the engine's wire form (secrets still wrapped in
    Pulumi's marker, as the engine holds them): ``old`` is None for a create and ``new`` for
    a delete. Only the reviewer's document reads the values, after redaction."""

    name: str
    old: Any = None
    new: Any = None


@dataclass(frozen=True)
class ResourceChange:
    urn: str
    type: str
    operation: str  # create, update, replace, delete, same
    protected: bool = False
    changed_inputs: tuple[str, ...] = ()
    properties: tuple[PropertyChange, ...] = ()


@dataclass(frozen=True)
class PolicyFinding:
    policy_pack: str
    policy_name: str
    enforcement_level: str
    urn: str
    message: str
    remediation: str = ""


@dataclass(frozen=True)
class PreviewOutcome:
    changes: tuple[ResourceChange, ...]
    findings: tuple[PolicyFinding, ...] = ()

    @property
    def blocking(self) -> tuple[PolicyFinding, ...]:
        return tuple(f for f in self.findings if f.enforcement_level == "mandatory")

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change.operation] = counts.get(change.operation, 0) + 1
        return counts


@dataclass(frozen=True)
class UpOutcome:
    changes: tuple[ResourceChange, ...]
    outputs: Mapping[str, Any]
