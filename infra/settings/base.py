"""What every settings model shares: strictness, camelCase keys and careful numbers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, validate_by_alias=True, frozen=True
    )
    # The files that act on this model's settings (a component, or platformctl): the
    # configuration reference's "read by". A nested model without its own inherits its
    # parent's; a field may name others with ``reference(read_by=...)``.
    READ_BY: ClassVar[tuple[str, ...]] = ()


def reference(*, allowed: str | None = None, read_by: tuple[str, ...] = ()) -> dict[str, Any]:
    """A setting's entry in the configuration reference beyond its description: what it
    accepts, where its type alone does not say (a Literal or a bool does), and who reads it
    when that is not its model's READ_BY. Pass as ``Field(json_schema_extra=...)``."""
    extra: dict[str, Any] = {}
    if allowed is not None:
        extra["allowed"] = allowed
    if read_by:
        extra["readBy"] = list(read_by)
    return extra


def _not_a_bool(value: Any) -> Any:
    # pydantic would read `true` as 1; a count or a number of days is never a yes/no.
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a number; allowed: a whole number")
    return value


Number = Annotated[int, BeforeValidator(_not_a_bool)]
Decimal = Annotated[float, BeforeValidator(_not_a_bool)]

_TAG_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.:/=+-@")


def tag_text(value: str, limit: int) -> str:
    if not value or len(value) > limit or not set(value) <= _TAG_CHARS:
        raise ValueError(
            f"allowed: 1 to {limit} characters of letters, digits, spaces and _.:/=+-@"
        )
    return value


def within(value: int, low: int, high: int, unit: str = "") -> int:
    if not low <= value <= high:
        raise ValueError(f"allowed: {low} to {high}{unit}")
    return value


def matching(value: str, pattern: re.Pattern[str], allowed: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"allowed: {allowed}")
    return value


@dataclass(frozen=True)
class Problem:
    """One invalid setting: the full key, the value given and what is allowed."""

    key: str
    value: Any
    message: str
    missing: bool = False

    def __str__(self) -> str:
        if self.missing:
            return f"{self.key}: {self.message}"
        return f"{self.key} = {_show(self.value)}: {self.message}"


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
