"""Policy pack configuration as the Pulumi CLI handles ``--policy-pack-config FILE``.

The file maps policy names (or ``all``) to an enforcement level, or to an object with an
optional ``enforcementLevel`` and the policy's parameters. Before ``Configure``, the CLI fills
in each policy's schema defaults, applies the pack's initial config, then the file (``all``
first), and validates each policy's parameters against the schema the pack declared. This
module does the same, so a file that the offline preview accepts is one the CLI accepts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from jsonschema import Draft7Validator
from pulumi.runtime.proto import analyzer_pb2

from platform_common.pulumi_values import whole_numbers

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_LEVEL_BY_ENUM = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
ENUM_BY_LEVEL = {level: enum for enum, level in _LEVEL_BY_ENUM.items()}


class PolicyConfigError(Exception):
    """A policy config file or value the CLI would refuse; the message says what to fix."""


@dataclass(frozen=True)
class PolicySetting:
    enforcement: str | None = None
    properties: Mapping[str, Any] | None = None


def level_name(enum_value: int) -> str:
    return _LEVEL_BY_ENUM.get(enum_value, "advisory")  # type: ignore[call-overload]


def load_policy_config(path: Path) -> dict[str, PolicySetting]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyConfigError(f"{path}: cannot read the policy config ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise PolicyConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PolicyConfigError(f"{path}: not valid JSON: {exc}") from None
    return parse_policy_config(document, str(path))


def parse_policy_config(document: Any, source: str) -> dict[str, PolicySetting]:
    if not isinstance(document, dict):
        raise PolicyConfigError(
            f"{source}: expected a JSON object of policy names; allowed: "
            '{"<policy>": "<level>" | {"enforcementLevel": "<level>", "<parameter>": ...}}'
        )
    result: dict[str, PolicySetting] = {}
    for name, value in document.items():
        if isinstance(value, str):
            result[name] = PolicySetting(_level(value, f"{source}: {name}"))
        elif isinstance(value, dict):
            properties = dict(value)
            level = properties.pop("enforcementLevel", None)
            result[name] = PolicySetting(
                _level(level, f"{source}: {name}.enforcementLevel") if level is not None else None,
                properties or None,
            )
        else:
            raise PolicyConfigError(
                f"{source}: {name} = {json.dumps(value)}: not a valid value; allowed: an "
                f"enforcement level ({', '.join(LEVELS)}) or an object of parameters"
            )
    return {k: v for k, v in result.items() if v.enforcement or v.properties}


def _level(value: Any, where: str) -> str:
    if value not in LEVELS:
        raise PolicyConfigError(
            f"{where} = {json.dumps(value)}: not an enforcement level; allowed: "
            + ", ".join(LEVELS)
        )
    return str(value)


def policy_schema(policy: analyzer_pb2.PolicyInfo) -> dict[str, Any] | None:
    if not policy.HasField("configSchema"):
        return None
    # A protobuf Struct carries every number as a double: show "35", not "35.0".
    properties = whole_numbers(json_format.MessageToDict(policy.configSchema.properties))
    required = list(policy.configSchema.required)
    if not properties and not required:
        return None
    return {"properties": properties, "required": required}


def reconcile(
    info: analyzer_pb2.AnalyzerInfo, given: Mapping[str, PolicySetting], source: str = ""
) -> dict[str, PolicySetting]:
    """Defaults from the schemas, then the pack's initial config, then the file; checked."""
    result: dict[str, PolicySetting] = {}
    for policy in info.policies:
        schema = policy_schema(policy) or {}
        defaults = {
            key: spec["default"]
            for key, spec in schema.get("properties", {}).items()
            if isinstance(spec, dict) and "default" in spec
        }
        result[policy.name] = PolicySetting(level_name(policy.enforcementLevel), defaults or None)
    # As the engine converts them: an entry without a level carries the enum's zero value,
    # ADVISORY, which then overrides the policy's own level.
    initial = {
        name: PolicySetting(
            level_name(config.enforcementLevel),
            json_format.MessageToDict(config.properties) or None,
        )
        for name, config in info.initialConfig.items()
    }
    for layer in (initial, given):
        result = _apply(result, layer)
    problems = schema_problems(info, result)
    if problems:
        where = f" ({source})" if source else ""
        raise PolicyConfigError(
            "\n".join([f"policy pack {info.name}: invalid policy config{where}:", *problems])
        )
    return result


def _apply(
    result: dict[str, PolicySetting], layer: Mapping[str, PolicySetting]
) -> dict[str, PolicySetting]:
    everything = layer.get("all")
    if everything is not None and everything.enforcement:
        result = {k: PolicySetting(everything.enforcement, v.properties) for k, v in result.items()}
    for name, setting in layer.items():
        current = result.get(name, PolicySetting())
        properties = dict(current.properties or {})
        properties.update(setting.properties or {})
        result[name] = PolicySetting(setting.enforcement or current.enforcement, properties or None)
    return result


def schema_problems(
    info: analyzer_pb2.AnalyzerInfo, config: Mapping[str, PolicySetting]
) -> list[str]:
    problems = []
    for policy in info.policies:
        schema = policy_schema(policy)
        if schema is None:
            continue
        properties = dict((config.get(policy.name) or PolicySetting()).properties or {})
        validator = Draft7Validator({"type": "object", **schema})
        for error in sorted(validator.iter_errors(properties), key=lambda e: list(e.path)):
            where = ".".join([policy.name, *(str(p) for p in error.path)])
            problems.append(f"  - {where}: {error.message}")
    return problems


def to_request(config: Mapping[str, PolicySetting]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, setting in config.items():
        entry = request.policyConfig[name]
        entry.enforcementLevel = ENUM_BY_LEVEL[setting.enforcement or "advisory"]
        if setting.properties:
            entry.properties.update(dict(setting.properties))
    return request
