"""What the policy packs concluded about a preview: violations by pack, policy and resource,
with every secret value of the preview masked before anything is shown."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from offline_preview.engine import PreviewResult
from platform_common.pulumi_values import secret_strings


@dataclass(frozen=True)
class Violation:
    policy_pack: str
    policy_pack_version: str
    policy_name: str
    enforcement_level: str
    severity: str
    urn: str | None
    message: str
    remediation: str

    @property
    def not_evaluated(self) -> bool:
        """The SDK's report that a policy could not run because a value it needs is unknown
        during preview: advisory by protocol, and not a finding about the resource."""
        return self.message.startswith("can't run policy ")

    def to_json(self) -> dict[str, Any]:
        return {
            "source": "policy",
            "policyPack": self.policy_pack,
            "policyPackVersion": self.policy_pack_version,
            "policyName": self.policy_name,
            "enforcementLevel": self.enforcement_level,
            "severity": self.severity,
            "urn": self.urn,
            "message": self.message,
            "remediation": self.remediation,
            "notEvaluated": self.not_evaluated,
        }


@dataclass(frozen=True)
class PackRun:
    name: str
    version: str
    directory: Path
    config: Path | None
    policies: int
    remediations: tuple[str, ...] = ()  # "<policy> on <urn>"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "directory": str(self.directory),
            "config": str(self.config) if self.config else None,
            "policies": self.policies,
            "remediations": list(self.remediations),
        }


@dataclass
class PolicyReport:
    packs: list[PackRun] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    def at_level(self, level: str) -> list[Violation]:
        """Findings at an enforcement level (the SDK's can't-run notes are not findings)."""
        return [v for v in self.violations if v.enforcement_level == level and not v.not_evaluated]

    @property
    def not_evaluated(self) -> list[Violation]:
        return [v for v in self.violations if v.not_evaluated]

    @property
    def blocked(self) -> bool:
        return any(v.enforcement_level == "mandatory" for v in self.violations)

    def sort(self) -> None:
        self.violations.sort(
            key=lambda v: (
                v.enforcement_level != "mandatory",
                v.policy_pack,
                v.policy_name,
                v.urn or "",
            )
        )


class Scrubber:
    """Replaces every secret value of a preview with ``[secret]`` in what packs report: the
    SDK gives policies secrets in plain text, and a policy might quote one, plainly or as
    ``repr`` or JSON would escape it. Secrets shorter than four characters are left alone
    (masking them would garble every message that contains those letters)."""

    def __init__(self, result: PreviewResult):
        found = {
            text
            for r in result.resources
            for text in secret_strings([r.inputs, r.state, r.outputs])
        }
        forms = set()
        for text in found:
            forms |= {text, json.dumps(text)[1:-1], repr(text)[1:-1]}
        self._forms = sorted(forms, key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self._forms:
            text = text.replace(secret, "[secret]")
        return text

    def violation(self, violation: Violation) -> Violation:
        return replace(violation, message=self.text(violation.message))
