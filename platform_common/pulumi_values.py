"""Property values in the engine's wire form (``google.protobuf.Struct`` as JSON).

Secrets stay wrapped in Pulumi's secret marker and unknowns stay the unknown sentinel, as
the engine and policy packs see them. :func:`present` is the only way values are shown.
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime.rpc import (
    UNKNOWN,
    _special_resource_sig,
    _special_secret_sig,
    _special_sig_key,
)

SECRET_MARK = "[secret]"
UNKNOWN_MARK = "[unknown]"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_special_sig_key) == _special_secret_sig


def is_unknown(value: Any) -> bool:
    return value == UNKNOWN


def as_secret(value: Any) -> Any:
    if is_secret(value) or is_unknown(value):
        return value
    return {_special_sig_key: _special_secret_sig, "value": value}


def present(value: Any) -> Any:
    """For people and JSON: secrets print as ``[secret]`` (as Pulumi does), unknowns as
    ``[unknown]``, resource references as their URN."""
    if is_secret(value):
        return SECRET_MARK
    if is_unknown(value):
        return UNKNOWN_MARK
    if isinstance(value, dict):
        if value.get(_special_sig_key) == _special_resource_sig:
            return value.get("urn")
        return {k: present(v) for k, v in value.items()}
    if isinstance(value, list):
        return [present(v) for v in value]
    return value


def reveal(value: Any) -> Any:
    """Unwrap secrets (keeping unknowns) for assertions in tests and for the mocks."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def secret_strings(value: Any, *, inside_secret: bool = False) -> set[str]:
    """Every text (of four characters or more) held inside a secret, to mask in output.
    Numbers are left out: a port inside a connection secret is not itself a secret."""
    found: set[str] = set()
    if is_secret(value):
        return secret_strings(value.get("value"), inside_secret=True)
    if isinstance(value, dict):
        for item in value.values():
            found |= secret_strings(item, inside_secret=inside_secret)
    elif isinstance(value, list):
        for item in value:
            found |= secret_strings(item, inside_secret=inside_secret)
    elif inside_secret and isinstance(value, str) and len(value) >= 4 and not is_unknown(value):
        found.add(value)
    return found


def whole_numbers(value: Any) -> Any:
    """Doubles that hold whole numbers as ints again (protobuf Structs carry only doubles)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value
