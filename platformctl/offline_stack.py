"""A :class:`~platformctl.ports.StackPort` on the offline engine: no CLI, no cloud.

Config changes are written to the stack file, ``up`` runs the real program against Pulumi's
mock runtime with the policy packs as a gate, and what it registered becomes the stack's
"deployed" state; the next ``up`` reports the difference. The release driver runs against it
in tests and benchmarks, and ``platformctl preview --offline`` uses it for previews.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from offline_preview.analyzer_process import PolicyPackError
from offline_preview.diff import diff_previews
from offline_preview.engine import PreviewResult, ProgramError, run_preview
from offline_preview.policy_config import PolicyConfigError
from offline_preview.policy_run import PolicyPacks, PolicyPackSource
from offline_preview.project import ProjectError, load_project, load_stack_config
from platformctl.changes import (
    PolicyFinding,
    PreviewOutcome,
    PropertyChange,
    ResourceChange,
    UpOutcome,
)
from platformctl.ports import DeployError, Progress


class OfflineStack:
    def __init__(
        self,
        project_dir: Path,
        stack: str,
        *,
        policy_packs: Sequence[PolicyPackSource] = (),
        fault: Callable[[str], None] | None = None,
        config_overrides: Mapping[str, Any] | None = None,
    ):
        self.project_dir = Path(project_dir)
        self.name = stack
        self._sources = list(policy_packs)
        self._packs: PolicyPacks | None = None
        # Tests inject failures here: called with "preview" or "up" before the engine runs.
        self._fault = fault
        # Config for previews and updates only, as the CLI's --config-file gives it.
        self.config_overrides = dict(config_overrides or {})
        self.deployed: PreviewResult | None = None
        self._history: list[dict[str, Any]] = []
        try:
            self._project = load_project(self.project_dir)
            self._file = self._project.stack_file(stack)
            if not self._file.is_file():
                raise ProjectError(f"{self._file}: no such stack file")
        except ProjectError as error:
            raise DeployError(str(error)) from None

    # --- config ---------------------------------------------------------------------------

    def _document(self) -> dict[str, Any]:
        document = yaml.safe_load(self._file.read_text()) or {}
        document.setdefault("config", {})
        return document

    def read_config(self) -> dict[str, Any]:
        return dict(self._document()["config"])

    def set_config(self, values: Mapping[str, Any]) -> None:
        document = self._document()
        document["config"].update(values)
        self._file.write_text(yaml.safe_dump(document, sort_keys=False))

    # --- operations -----------------------------------------------------------------------

    def _policy_packs(self) -> PolicyPacks | None:
        if not self._sources or self._packs is not None:
            return self._packs
        stack_config = load_stack_config(self._project, self.name)
        self._packs = PolicyPacks(
            self._sources,
            project=self._project.name,
            stack=self.name,
            config=stack_config.values,
            secret_keys=stack_config.secret_keys,
        )
        return self._packs

    def _run(self, operation: str, progress: Progress) -> tuple[PreviewResult, PreviewOutcome]:
        if self._fault is not None:
            self._fault(operation)
        try:
            packs = self._policy_packs()
            result = run_preview(
                self.project_dir, self.name, config_overrides=self.config_overrides
            )
            report = packs.evaluate(result) if packs is not None else None
        except (ProjectError, ProgramError, PolicyPackError, PolicyConfigError) as error:
            raise DeployError(f"{operation} of {self.name} failed: {error}") from None
        changes = self._changes(result)
        for change in changes:
            if change.operation != "same":
                progress(f"  {_SIGNS[change.operation]} {change.operation} {change.urn}")
        findings = tuple(
            PolicyFinding(
                v.policy_pack, v.policy_name, v.enforcement_level, v.urn or "", v.message,
                v.remediation,
            )
            for v in (report.violations if report is not None else ())
        )  # fmt: skip
        return result, PreviewOutcome(changes, findings)

    def _changes(self, result: PreviewResult) -> tuple[ResourceChange, ...]:
        protected = {r.urn for r in result.resources if r.options.get("protect")}
        new_inputs = {r.urn: r.inputs for r in result.resources}
        if self.deployed is None:
            return tuple(
                ResourceChange(
                    r.urn, r.type, "create", r.urn in protected,
                    properties=_properties({}, r.inputs, r.inputs.keys()),
                )
                for r in result.resources
                if r.custom
            )  # fmt: skip
        diff = diff_previews(self.deployed, result)
        old_protected = {r.urn for r in self.deployed.resources if r.options.get("protect")}
        old_inputs = {r.urn: r.inputs for r in self.deployed.resources}
        types = {r.urn: r.type for r in [*self.deployed.resources, *result.resources]}
        return (
            *(
                ResourceChange(
                    u, types[u], "create", properties=_properties({}, new_inputs[u], new_inputs[u])
                )
                for u in diff.created
            ),
            *(
                ResourceChange(
                    u,
                    types[u],
                    "delete",
                    u in old_protected,
                    properties=_properties(old_inputs[u], {}, old_inputs[u]),
                )
                for u in diff.deleted
            ),
            *(
                ResourceChange(
                    c.urn,
                    c.type,
                    "update",
                    c.urn in protected,
                    c.changed_inputs,
                    _properties(old_inputs[c.urn], new_inputs[c.urn], c.changed_inputs),
                )
                for c in diff.updated
            ),
        )

    def preview(self, progress: Progress) -> PreviewOutcome:
        return self._run("preview", progress)[1]

    def up(self, progress: Progress, message: str) -> UpOutcome:
        result, outcome = self._run("up", progress)
        if outcome.blocking:
            names = ", ".join(sorted({f.policy_name for f in outcome.blocking}))
            raise DeployError(f"up of {self.name} refused by mandatory policies: {names}")
        self.deployed = result
        self._history.append(
            {
                "version": len(self._history) + 1,
                "message": message,
                "time": time.time(),
                "resourceChanges": outcome.counts(),
            }
        )
        return UpOutcome(outcome.changes, result.outputs)

    def outputs(self) -> Mapping[str, Any]:
        return self.deployed.outputs if self.deployed is not None else {}

    def history(self, limit: int) -> Sequence[Mapping[str, Any]]:
        return list(reversed(self._history))[:limit]

    def cancel(self) -> None:
        raise DeployError("the offline stack runs each operation to completion; nothing to cancel")

    def close(self) -> None:
        if self._packs is not None:
            self._packs.close()
            self._packs = None


_SIGNS = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}


def _properties(
    old: Mapping[str, Any], new: Mapping[str, Any], names: Iterable[str]
) -> tuple[PropertyChange, ...]:
    # "[protect]" is an option, not an input: it has no value to show.
    return tuple(
        PropertyChange(name, old.get(name), new.get(name))
        for name in sorted(names)
        if not name.startswith("[")
    )
