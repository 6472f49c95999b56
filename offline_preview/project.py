"""Reading a Pulumi project and its stack config the way the Pulumi CLI does, without it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ProjectError(Exception):
    """The project directory or a stack file cannot be used; the message says why."""


@dataclass(frozen=True)
class Project:
    name: str
    directory: Path
    main: Path  # the program: a directory holding __main__.py, or a .py file
    runtime: str
    defaults: Mapping[str, Any] = field(default_factory=dict)  # project-level config

    def stack_file(self, stack: str) -> Path:
        return self.directory / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        return sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in self.directory.glob("Pulumi.*.yaml")
        )


@dataclass(frozen=True)
class StackConfig:
    """Config as the CLI hands it to a program: ``namespace:key`` -> string value."""

    path: Path
    values: dict[str, str]
    secret_keys: frozenset[str]


# Stands in for an encrypted value: the engine never decrypts, so the program sees a
# secret that is unknown during the preview.
SECRET_PLACEHOLDER = "[secret]"


def load_project(directory: Path) -> Project:
    directory = Path(directory).resolve()
    project_file = next(
        (directory / n for n in ("Pulumi.yaml", "Pulumi.yml") if (directory / n).is_file()), None
    )
    if project_file is None:
        raise ProjectError(f"{directory}: no Pulumi.yaml; allowed: a Pulumi project directory")
    doc = _read_yaml(project_file)
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise ProjectError(f"{project_file}: 'name' is required and must be a string")
    runtime = doc.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ProjectError(
            f"{project_file}: runtime = {json.dumps(runtime_name)}; allowed: python "
            f"(the offline engine runs Python programs)"
        )
    main = directory / str(doc.get("main") or ".")
    entry = main / "__main__.py" if main.is_dir() else main
    if not entry.is_file():
        raise ProjectError(
            f"{project_file}: main = {json.dumps(doc.get('main'))} has no program "
            f"({entry} does not exist)"
        )
    return Project(
        name=doc["name"],
        directory=directory,
        main=main,
        runtime=runtime_name,
        defaults=_project_defaults(doc.get("config") or {}, doc["name"], project_file),
    )


def load_stack_config(project: Project, stack: str) -> StackConfig:
    path = project.stack_file(stack)
    if not path.is_file():
        known = ", ".join(project.stacks()) or "none"
        raise ProjectError(f"stack '{stack}': {path.name} not found; stacks here: {known}")
    doc = _read_yaml(path) or {}
    if not isinstance(doc, dict):
        raise ProjectError(f"{path}: expected a mapping with a 'config' key")
    raw = doc.get("config") or {}
    if not isinstance(raw, dict):
        raise ProjectError(f"{path}: 'config' must be a mapping of keys to values")

    values = {key: to_cli_string(value) for key, value in project.defaults.items()}
    secret_keys: set[str] = set()
    for key, value in raw.items():
        full_key = _full_key(str(key), project.name)
        if value is None:
            # `key:` with nothing after it sets nothing; the program sees the key as unset.
            values.pop(full_key, None)
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full_key] = SECRET_PLACEHOLDER
            secret_keys.add(full_key)
        else:
            if _holds_secure(value):
                secret_keys.add(full_key)
            values[full_key] = to_cli_string(value)
    return StackConfig(path=path, values=values, secret_keys=frozenset(secret_keys))


def _project_defaults(config: Any, project: str, project_file: Path) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise ProjectError(f"{project_file}: 'config' must be a mapping")
    defaults = {}
    for key, spec in config.items():
        if isinstance(spec, dict) and ("default" in spec or "value" in spec):
            defaults[_full_key(str(key), project)] = spec.get("value", spec.get("default"))
        elif not isinstance(spec, dict):
            defaults[_full_key(str(key), project)] = spec
    return defaults


def _full_key(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _holds_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return "secure" in value or any(_holds_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secure(v) for v in value)
    return False


def _strip_secure(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER
        return {k: _strip_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secure(v) for v in value]
    return value


def to_cli_string(value: Any) -> str:
    """Render a YAML value the way the CLI passes it: scalars as text, objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(_strip_secure(value), default=str)
    return str(value)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path}: not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
