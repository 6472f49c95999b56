"""Resource properties as rules read them: plain values, unknowns recognised, paths walked.

The policy SDK hands a rule its properties wrapped in a proxy that raises
:class:`UnknownValueError` on any unknown value it touches, which the SDK then reports as
"can't run policy during preview". Rules work on plain values instead (:func:`plain`) and
decide for themselves: a value that decides the verdict and is unknown is handed back to the
SDK with :func:`unknown` (the same report); a value that does not decide it (an unknown key
ARN still means "a key is set") is judged without the SDK's help.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import proxy
from pulumi_policy.deserialize import serialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from platform_common.pulumi_values import whole_numbers

# The SDK's sentinels for an unknown value of each kind (string, number, object, ...).
_UNKNOWNS = frozenset(
    getattr(proxy, name)
    for name in dir(proxy)
    if name.startswith("UNKNOWN_") and name.endswith("_VALUE")
)


class _Missing:
    """A property that is not set (as opposed to set to an unknown value)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def plain(props: Any) -> Any:
    """The SDK's proxied properties as plain dicts and lists; unknowns stay sentinels, and
    whole numbers are ints again (protobuf carried every number as a double)."""
    if props is None:
        return {}
    return whole_numbers(serialize_properties(props))


class Undecidable(Exception):
    """A verdict that depends on values unknown during preview; the rule wrapper hands it to
    the SDK as its own unknown-value error."""

    def __init__(self, path: str = ""):
        super().__init__(path)
        self.path = path


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in _UNKNOWNS


def unknown(value: Any, path: str) -> UnknownValueError:
    """The SDK's own error for an unknown value that decides a verdict; raise it."""
    sentinel = value if is_unknown(value) else UNKNOWN_STRING_VALUE
    return UnknownValueError(sentinel, [p for p in re.split(r"[.\[\]]+", path) if p])


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\*|\d+)\]")


def _segments(path: str) -> list[str]:
    return [m.group(1) or f"[{m.group(2)}]" for m in _SEGMENT.finditer(path)]


def lookup(props: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every value at ``path`` (``a.b``, ``a[*].b``, ``a[0]``) as (concrete path, value).

    An absent key yields :data:`MISSING`; an unknown object or list on the way yields the
    unknown itself at the point where the walk stopped; ``[*]`` over an empty list yields
    nothing.
    """
    yield from _walk(props, _segments(path), "")


def _walk(value: Any, segments: list[str], where: str) -> Iterator[tuple[str, Any]]:
    if not segments:
        yield where, value
        return
    if is_unknown(value):
        yield where, value
        return
    if value is MISSING:
        yield _join(where, segments), MISSING
        return
    head, rest = segments[0], segments[1:]
    if head.startswith("["):
        if not isinstance(value, list):
            yield _join(where, segments), MISSING
            return
        if head == "[*]":
            for index, item in enumerate(value):
                yield from _walk(item, rest, f"{where}[{index}]")
            return
        index = int(head[1:-1])
        item = value[index] if index < len(value) else MISSING
        yield from _walk(item, rest, f"{where}[{index}]")
        return
    child = value.get(head, MISSING) if isinstance(value, Mapping) else MISSING
    if child is None:
        child = MISSING
    yield from _walk(child, rest, f"{where}.{head}" if where else head)


def _join(where: str, segments: list[str]) -> str:
    text = where
    for segment in segments:
        text += segment if segment.startswith("[") or not text else f".{segment}"
    return text


def get(props: Any, path: str, default: Any = MISSING) -> Any:
    """The single value at a path without ``[*]``; ``default`` when absent."""
    for _, value in lookup(props, path):
        return default if value is MISSING else value
    return default


def require_known(value: Any, path: str) -> Any:
    if is_unknown(value):
        raise unknown(value, path)
    return value


def json_document(value: Any, path: str) -> Any:
    """A JSON document property (IAM and key policies, annotations) as data.

    Raises the SDK's unknown error when the document is not known yet; a string that is not
    JSON comes back as ``None``.
    """
    require_known(value, path)
    if isinstance(value, (dict, list)):
        return value
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def as_list(value: Any) -> list[Any]:
    """IAM-style fields hold one value or a list of them."""
    if value is MISSING or value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def truthy(value: Any) -> bool:
    """Booleans as AWS and the provider accept them (``true`` or ``"true"``)."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


# Keys whose values a message never quotes: passwords, tokens (authToken, not httpTokens,
# which holds "required"/"optional"), secrets, credentials, private keys, kubeconfigs.
_SENSITIVE_KEY = re.compile(
    r"(pass(word|wd)?|token$|secret(?!s?manager)|credential|private_?key|"
    r"auth(?!entication|orization)|kubeconfig|connection)",
    re.IGNORECASE,
)
_SHOWABLE = re.compile(r"^[\w.:/@*+=,-]{0,80}$")


def show(path: str, value: Any) -> str:
    """A value for a violation message: never a secret, never a long blob.

    The SDK gives rules secret values in plain text; a message only carries a value whose
    key does not look sensitive and which is short, simple text, a number or a boolean.
    """
    if value is MISSING:
        return "not set"
    if is_unknown(value):
        return "unknown until the update"
    if isinstance(value, bool):  # a flag says nothing secret, whatever its key
        return "true" if value else "false"
    if _SENSITIVE_KEY.search(path.rsplit(".", 1)[-1]):
        return "set (value not shown)"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and _SHOWABLE.match(value):
        return json.dumps(value)
    if isinstance(value, list) and all(
        isinstance(v, (str, int, float)) and _SHOWABLE.match(str(v)) for v in value
    ):
        return json.dumps(value) if len(value) <= 8 else f"a list of {len(value)} values"
    return "set"
