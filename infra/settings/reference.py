"""The configuration reference, ``docs/configuration.md``, generated from the settings
models (each field's description, type, default and what it accepts), the stack files (the
value each stack sets) and the models' READ_BY (which file acts on a setting).

``python -m infra.settings.reference`` rewrites the page; a test keeps it equal to this.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from infra.settings.base import Model
from infra.settings.platform_config import PlatformConfig

STACKS = ("dev", "staging", "prod")
NAMESPACE = "platform"
PAGE = Path("docs/configuration.md")
_ABSENT = object()  # a stack that leaves the key out: the default applies
_SHOWN_CHARS = 48
_UNSET = "-"
_DEFAULT_CHARS = 200
# The keys every release rewrites (platformctl/machine.py's *_config): their values in the
# stack files are the release state of the moment, so the page shows none, or it would be
# stale after every release.
RELEASE_BLOCK = f"{NAMESPACE}:app.services[].release."
RELEASE_STATE = frozenset(
    RELEASE_BLOCK + key
    for key in (
        "live", "strategy", "candidateWeight",
        "blue.image", "blue.scaledDown", "green.image", "green.scaledDown",
    )
)  # fmt: skip
_RELEASE_STATE_SHOWN = "release state"

INTRODUCTION = """\
# Stack configuration reference

Every per-environment difference lives in the stack files (`Pulumi.<stack>.yaml`); the
settings are one typed model per stack, validated once before anything is registered
(`infra/config.py`). Unknown keys under `platform:` are errors (a typo never falls back to a
default), and so is a `platform:` key stored as a secret: none of these settings is secret.
Defaults are the safe, prod-like choice, so a stack that leaves a key out is never silently
cheaper or weaker.

This page is generated from the models in `infra/settings/` and the stack files by
`python -m infra.settings.reference`; a test fails when they differ. In the stack columns,
`-` means the stack leaves the key out and the default applies, and *release state* marks
the keys every release rewrites (`platformctl` edits them; see
[how a release runs](releases/how-a-release-runs.md)). *Read by* names the files that act on
the setting.
"""

NOTES = """\
## Notes

- Windows are UTC; a window may not start where it ends.
- The database's `engineVersion` is the version a new cluster gets: RDS then applies minor
  versions itself in the maintenance window, and the program ignores later differences in
  `engineVersion`, because setting the old pin again would be a downgrade that RDS refuses. A
  planned upgrade is done with `aws rds modify-db-cluster` (or by removing `ignore_changes`
  for one `up`), and the pin updated to match. Which versions may be pinned at all is
  `infra/settings/versions.yaml`'s to say (`platformctl versions STACK` checks them against
  AWS).
- The project and stack names form every resource name (`<project>-<stack>-…`), so together
  they must be lowercase letters, digits and single hyphens, at most 34 characters
  (ElastiCache ids stop at 40).
- Subnets are computed from the VPC CIDR, largest blocks first, so a plan is gap-free and
  fits exactly when the sizes add up: a /16 with three zones holds 3 x /20 private, 3 x /24
  public and 3 x /24 isolated with room to spare.
"""


@dataclass(frozen=True)
class Setting:
    key: str
    description: str
    type: str
    default: str
    allowed: str
    values: tuple[str, ...]  # per stack, in STACKS order
    read_by: tuple[str, ...]


def settings(repository: Path) -> list[Setting]:
    """Every setting, in the order the models declare them."""
    configs = [_stack_config(repository, stack) for stack in STACKS]
    region = Setting(
        key="aws:region",
        description="The AWS region the stack is deployed to.",
        type="string",
        default="required",
        allowed="a region whose zones the engine knows (`platform_common/aws_regions.py`)",
        values=tuple(_shown(c.get("aws:region", _ABSENT)) for c in configs),
        read_by=("infra/platform.py",),
    )
    platform = [
        {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith(f"{NAMESPACE}:")}
        for c in configs
    ]
    return [region, *_walk(PlatformConfig, f"{NAMESPACE}:", platform, ())]


def _stack_config(repository: Path, stack: str) -> dict[str, Any]:
    document = yaml.safe_load((repository / f"Pulumi.{stack}.yaml").read_text()) or {}
    config = document.get("config") or {}
    assert isinstance(config, dict)
    return config


def _walk(
    model: type[Model], prefix: str, values: Sequence[Any], read_by: tuple[str, ...]
) -> Iterator[Setting]:
    read_by = model.READ_BY or read_by
    for name, field in model.model_fields.items():
        key = prefix + _alias(model, name)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        named = extra.get("readBy")
        nested, many = _nested_model(field.annotation)
        if isinstance(named, list):
            readers = tuple(str(r) for r in named)
        else:
            readers = (nested.READ_BY if nested is not None else ()) or read_by
        stack_values = [_child(v, _alias(model, name)) for v in values]
        shown = _shown_map if nested is not None else _shown
        yield Setting(
            key=key,
            description=field.description or "",
            type=_type_name(field.annotation),
            default=_default(field),
            allowed=str(extra.get("allowed") or _allowed_from_type(field.annotation)),
            values=(
                (_RELEASE_STATE_SHOWN,) * len(stack_values)
                if key in RELEASE_STATE
                else tuple(shown(v) for v in stack_values)
            ),
            read_by=readers,
        )
        if nested is not None:
            items = [_items(v) if many else v for v in stack_values]
            yield from _walk(nested, key + ("[]." if many else "."), items, readers)


def _alias(model: type[Model], name: str) -> str:
    generator = model.model_config.get("alias_generator")
    assert callable(generator)
    return str(generator(name))


def _child(value: Any, key: str) -> Any:
    """The value under ``key`` of a stack's value, or of each item when it is a list of
    items (a service's name in every service)."""
    if isinstance(value, _Items):
        return _Items([_child(item, key) for item in value])
    if isinstance(value, Mapping):
        return value.get(key, _ABSENT)
    return _ABSENT


class _Items(list[Any]):
    """The values of one key in every item of a list (services, node groups...)."""


def _items(value: Any) -> Any:
    if isinstance(value, _Items):  # a list in every item of a list: all their items
        return _Items(item for v in value if isinstance(v, list) for item in v)
    return _Items(value) if isinstance(value, list) else _ABSENT


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``| None`` and validators, and whether None was allowed."""
    if get_origin(annotation) is Annotated:
        return _unwrap(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])[0], True
    return annotation, False


def _nested_model(annotation: Any) -> tuple[type[Model] | None, bool]:
    inner, _ = _unwrap(annotation)
    if isinstance(inner, type) and issubclass(inner, Model):
        return inner, False
    if get_origin(inner) in (tuple, list):
        item = get_args(inner)[0]
        if isinstance(item, type) and issubclass(item, Model):
            return item, True
    return None, False


def _type_name(annotation: Any) -> str:
    inner, optional = _unwrap(annotation)
    origin = get_origin(inner)
    if origin is Literal:
        name = "int" if all(isinstance(v, int) for v in get_args(inner)) else "string"
    elif origin in (tuple, list):
        name = f"list of {_type_name(get_args(inner)[0])}s"
    elif origin is dict:
        name = f"map of {_type_name(get_args(inner)[1])}s"
    elif isinstance(inner, type) and issubclass(inner, Model):
        name = "map"
    else:
        name = {
            str: "string",
            int: "int",
            float: "number",
            bool: "bool",
            ipaddress.IPv4Network: "CIDR",
        }.get(inner, getattr(inner, "__name__", str(inner)))
    return f"{name} (optional)" if optional else name


def _allowed_from_type(annotation: Any) -> str:
    inner, _ = _unwrap(annotation)
    if get_origin(inner) is Literal:
        return ", ".join(f"`{v}`" for v in get_args(inner))
    if inner is bool:
        return "`true`, `false`"
    if _nested_model(annotation)[0] is not None:
        return "the keys below"
    return ""


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, Model):
        return "the defaults below"
    if value is None:
        return "none"
    if value == "":
        return '`""`'
    text = _text(value)
    return f"`{text}`" if len(text) <= _DEFAULT_CHARS else "as the description says"


def _shown_map(value: Any) -> str:
    """A map's keys have rows of their own: say only whether the stack sets it."""
    if isinstance(value, _Items):
        return _joined([_shown_map(v) for v in value])
    if value is _ABSENT:
        return _UNSET
    if isinstance(value, list):
        return f"{len(value)} item" + ("" if len(value) == 1 else "s")
    return "set"


def _joined(shown: list[str]) -> str:
    """One value per item, or one mark when no item sets it."""
    return _UNSET if all(s == _UNSET for s in shown) else ", ".join(shown)


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return _UNSET
    if isinstance(value, _Items):
        return _joined([_shown(v) for v in value])
    text = _text(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Model):
        value = value.model_dump(mode="json", by_alias=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, ipaddress.IPv4Network):
        return str(value)
    return json.dumps(value, separators=(", ", ": "), default=str)


def page(repository: Path) -> str:
    rows = settings(repository)
    sections: dict[str, list[Setting]] = {}
    for row in rows:
        sections.setdefault(_section(row.key, rows), []).append(row)
    parts = [INTRODUCTION]
    for title, members in sections.items():
        parts.append(f"## {title}\n\n" + _table(members))
    parts.append(NOTES)
    return "\n".join(parts)


def _section(key: str, rows: list[Setting]) -> str:
    """A top-level map (``platform:database``) is its own section; plain keys are stack-wide."""
    if key.startswith(f"{NAMESPACE}:"):
        top = key.split(":", 1)[1].split(".")[0].removesuffix("[]")
        if any(r.key.startswith(f"{NAMESPACE}:{top}.") for r in rows):
            return f"`{NAMESPACE}:{top}`"
    return "Stack-wide"


def _table(rows: list[Setting]) -> str:
    lines = [
        "| key | description | type | default | allowed | dev / staging / prod | read by |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        same = len(set(row.values)) == 1
        values = row.values[0] if same else " / ".join(row.values)
        cells = [
            f"`{row.key}`",
            row.description,
            row.type,
            row.default,
            row.allowed,
            _escaped(values),
            ", ".join(f"`{path}`" for path in row.read_by),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _escaped(text: str) -> str:
    return text.replace("`", "'")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: Sequence[str] | None = None) -> int:
    repository = Path(__file__).resolve().parents[2]
    (repository / PAGE).write_text(page(repository))
    sys.stdout.write(f"wrote {PAGE}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
