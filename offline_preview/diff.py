"""What changes between two offline previews of the same stack: the resources a config change
would create, delete or update, and which of their inputs move.

The mocks derive every computed value from the resource's URN, so two previews differ only
where the program registered something different.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from offline_preview.engine import CapturedResource, PreviewResult


@dataclass(frozen=True)
class ResourceChange:
    urn: str
    type: str
    name: str
    changed_inputs: tuple[str, ...]  # top-level input names whose values differ


@dataclass(frozen=True)
class PreviewDiff:
    created: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    updated: tuple[ResourceChange, ...] = field(default=())

    @property
    def touched(self) -> set[str]:
        return {*self.created, *self.deleted, *(c.urn for c in self.updated)}

    @property
    def empty(self) -> bool:
        return not self.touched


def diff_previews(before: PreviewResult, after: PreviewResult) -> PreviewDiff:
    old = {r.urn: r for r in before.resources if r.custom}
    new = {r.urn: r for r in after.resources if r.custom}
    updated = []
    for urn in sorted(old.keys() & new.keys()):
        changed = _changed_inputs(old[urn], new[urn])
        if changed:
            resource = new[urn]
            updated.append(ResourceChange(urn, resource.type, resource.name, changed))
    return PreviewDiff(
        created=tuple(sorted(new.keys() - old.keys())),
        deleted=tuple(sorted(old.keys() - new.keys())),
        updated=tuple(updated),
    )


def _changed_inputs(old: CapturedResource, new: CapturedResource) -> tuple[str, ...]:
    keys = old.inputs.keys() | new.inputs.keys()
    changed = [k for k in keys if old.inputs.get(k) != new.inputs.get(k)]
    if old.options.get("protect") != new.options.get("protect"):
        changed.append("[protect]")
    return tuple(sorted(changed))
