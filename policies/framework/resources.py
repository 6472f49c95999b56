"""The resources a rule sees, and the whole stack as stack rules walk it.

Stack rules link resources through the engine's property dependencies (which resource a
property's value came from), not through ids or ARNs: that works in a first preview, when
ids and ARNs are still unknown, and it cannot be fooled by a hand-written ARN that only
looks like one of this stack's resources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

from policies.framework.values import MISSING, Undecidable, get, plain

T = TypeVar("T")
F = TypeVar("F")


@dataclass(eq=False)
class Resource:
    type: str
    urn: str
    name: str
    raw: Any  # the SDK's proxied properties, or plain values
    protect: bool = False
    parent: str | None = None
    # Filled in for stack rules only.
    property_dependencies: dict[str, list[Resource]] = field(default_factory=dict)
    dependencies: list[Resource] = field(default_factory=list)
    _plain: Any = field(default=None, repr=False)

    @property
    def props(self) -> Any:
        """Plain property values, converted on first use: a stack rule reads few of the
        stack's resources, and converting all of them for every rule would dominate."""
        if self._plain is None:
            self._plain = plain(self.raw)
        return self._plain

    def get(self, path: str, default: Any = MISSING) -> Any:
        return get(self.props, path, default)

    def sources(self, key: str, *types: str) -> list[Resource]:
        """The resources the value of top-level input ``key`` came from (of ``types``)."""
        found = self.property_dependencies.get(key, [])
        return [r for r in found if not types or r.type in types]

    @property
    def label(self) -> str:
        """How messages name a resource: its type's short name and its logical name."""
        return f"{self.type.rsplit(':', 1)[-1]} {self.name!r}"


class StackView:
    """All resources of a stack, indexed for the questions stack rules ask."""

    def __init__(self, resources: Sequence[Resource]):
        self.resources = list(resources)
        self._referrers: dict[tuple[str, tuple[str, ...]], dict[int, list[Resource]]] = {}
        self._memo: dict[str, Any] = {}
        self._by_type: dict[str, list[Resource]] = {}
        for resource in self.resources:
            self._by_type.setdefault(resource.type, []).append(resource)

    @classmethod
    def from_policy_resources(cls, resources: Iterable[PolicyResource]) -> StackView:
        source = list(resources)
        converted = {
            r.urn: Resource(
                type=r.resource_type,
                urn=r.urn,
                name=r.name,
                raw=r.props,
                protect=bool(r.opts.protect),
                parent=r.parent.urn if r.parent is not None else None,
            )
            for r in source
        }
        for r in source:
            resource = converted[r.urn]
            resource.dependencies = [converted[d.urn] for d in r.dependencies]
            resource.property_dependencies = {
                key: [converted[d.urn] for d in deps]
                for key, deps in r.property_dependencies.items()
            }
        return cls(list(converted.values()))

    def of_type(self, *types: str) -> list[Resource]:
        return [r for t in types for r in self._by_type.get(t, [])]

    def referring_to(self, target: Resource, key: str, *types: str) -> Iterator[Resource]:
        """Resources of ``types`` whose input ``key`` came from ``target``."""
        index = self._referrers.get((key, types))
        if index is None:
            # Built once per question: rules ask it for every resource of a kind.
            index = {}
            for resource in self.of_type(*types):
                for source in resource.property_dependencies.get(key, []):
                    index.setdefault(id(source), []).append(resource)
            self._referrers[(key, types)] = index
        return iter(index.get(id(target), []))

    def memo(self, name: str, compute: Callable[[], T]) -> T:
        """A value computed once per stack evaluation (``compute`` reads only the stack)."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]


def each(items: Iterable[T], judge: Callable[[T], Iterable[F]]) -> Iterator[F]:
    """Judge items one at a time. An item whose verdict needs a value that is unknown during
    preview is passed over, not the whole rule: the others are still judged, and the rule
    reports at the end (to the SDK) that it could not judge every item."""
    pending: Exception | None = None
    for item in items:
        try:
            yield from judge(item)
        except (Undecidable, UnknownValueError) as exc:
            pending = pending or exc
    if pending is not None:
        raise pending
