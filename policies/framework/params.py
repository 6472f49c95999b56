"""Rule parameters: a JSON Schema per parameter, with a default and a description.

The schema is what the pack declares to the engine (``configSchema``), what the Pulumi CLI
validates ``--policy-pack-config`` against, and what the pack checks again in ``Configure``
(:mod:`policies.framework.config`), so a value is described once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Param:
    name: str
    schema: Mapping[str, Any]

    @property
    def default(self) -> Any:
        return self.schema.get("default")

    @property
    def description(self) -> str:
        return str(self.schema.get("description", ""))


def _param(name: str, description: str, default: Any, **schema: Any) -> Param:
    return Param(name, MappingProxyType({**schema, "description": description, "default": default}))


def integer(
    name: str, description: str, *, default: int, minimum: int, maximum: int | None = None
) -> Param:
    bounds = {"minimum": minimum} | ({"maximum": maximum} if maximum is not None else {})
    return _param(name, description, default, type="integer", **bounds)


def boolean(name: str, description: str, *, default: bool) -> Param:
    return _param(name, description, default, type="boolean")


def choice(name: str, description: str, options: tuple[str, ...], *, default: str) -> Param:
    return _param(name, description, default, type="string", enum=list(options))


def string_list(
    name: str,
    description: str,
    *,
    default: list[Any],
    item: Mapping[str, Any] | None = None,
    min_items: int = 0,
) -> Param:
    items = dict(item or {"type": "string", "minLength": 1})
    return _param(
        name,
        description,
        list(default),
        type="array",
        items=items,
        minItems=min_items,
        uniqueItems=True,
    )


def integer_list(
    name: str, description: str, *, default: list[int], minimum: int, maximum: int
) -> Param:
    return string_list(
        name,
        description,
        default=default,
        item={"type": "integer", "minimum": minimum, "maximum": maximum},
    )


CIDR = MappingProxyType({"type": "string", "format": "cidr"})
