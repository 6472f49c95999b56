"""Redaction of everything the AI reviewer is sent: no secret may leave the process.

Three nets, each catching what the others miss:

- by marker: Pulumi's secret marker (and an output value flagged secret) in the engine's
  wire form, or the ``[secret]`` the Automation API's events already show;
- by key: any value under a key (or a Kubernetes Secret's ``data``) that names a secret,
  whatever it looks like;
- by content: credentials recognisable in any text (kubeconfigs, PEM blocks, URLs with a
  user, ``password=…`` pairs, bearer tokens, well-known token formats) and every known
  secret text (given, or learned from the markers), wherever it appears.

Structure in text counts as structure: a text that is a JSON object or list is redacted as
the value it holds, and the text rules see the same shapes in other text (a secret's
name beside its value in a YAML env list, a secret-named flag and its value in a list,
``<password>…</password>``), as the value rules do in a list (``["--db-password", …]``).

The result is deterministic and idempotent, and redaction never raises: an odd value is
shown as text (redacted) rather than crash a release over its advisory review.

This module holds the redactor: the marker and key nets, known secrets and JSON in text.
The content rules are in :mod:`platform_common.redaction.redact_text` (where a value after
its name ends: :mod:`platform_common.redaction.value_end`), the names that say a secret in
:mod:`platform_common.redaction.secret_names` (shared with the policy packs, which refuse
what they find in Kubernetes objects); ``Redactor``, ``REDACTED`` and ``secret_key`` are used
from here.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from pulumi.runtime.rpc import (
    _special_output_value_sig,
    _special_resource_sig,
    _special_sig_key,
)

from platform_common.pulumi_values import (
    UNKNOWN,
    UNKNOWN_MARK,
    is_secret,
    is_unknown,
    secret_strings,
)
from platform_common.redaction.redact_text import _LONG_FLAG, REDACTED, _redact_content
from platform_common.redaction.secret_names import secret_key

# Texts the redactor itself writes: a known secret found inside one is not masked again,
# so a second pass changes nothing.
_MARKS = (REDACTED, UNKNOWN_MARK)
# Shorter known secrets are ignored: masking them would garble every text with those letters.
MIN_SECRET_CHARS = 4
# Deeper nesting (or a cycle) is not followed: shown as this, never as the raw value.
MAX_DEPTH = 64
TOO_DEEP = "<too deeply nested>"


class Redactor:
    """Redacts values (recursively) and free text. ``known_secrets`` are texts to mask
    wherever they appear; :meth:`learn` adds those held in a value's secret markers."""

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        self._known: set[str] = set()
        self._forms: tuple[str, ...] = ()
        self._add(known_secrets)

    def learn(self, value: Any) -> None:
        """Remembers every text held inside a Pulumi secret marker in ``value``, so that the
        same text is masked where it also appears in plain form (an output, a message)."""
        try:
            found = secret_strings(value)
        except RecursionError:  # a cycle or absurd nesting: nothing learnable
            return
        self._add(found)

    def value(self, value: Any, key: str = "") -> Any:
        """A JSON-able, redacted copy of ``value``; ``key`` is the name it is held under."""
        return self._value(value, bool(key) and secret_key(str(key)), 0)

    def text(self, text: str) -> str:
        """Free text (an error message, a reason) with every secret in it masked."""
        if isinstance(text, bytes | bytearray):
            text = bytes(text).decode("utf-8", errors="replace")
        elif not isinstance(text, str):
            text = _as_text(text)
        redacted = _redact_content(self._mask_known(text.replace(UNKNOWN, UNKNOWN_MARK)))
        if _JSON_START.match(redacted):
            return self._json_text(redacted)
        return redacted

    def _json_text(self, text: str) -> str:
        """A text (already through the text rules) that is a JSON object or list, such as
        an ECS task's ``containerDefinitions``, redacted as the value it holds too: a
        name/value pair, a list under a secret key, a flag and its value in a list, a
        Secret's data are seen for what they are. The text itself when that masks nothing
        more, or when it is no JSON (or holds duplicate keys, whose values the parser
        would drop unseen); re-serialised in its layout when it does."""
        try:
            parsed = json.loads(text, object_pairs_hook=_without_duplicates)
            shown = self._value(parsed, False, 0)
            if shown == parsed:
                return text
        except (ValueError, RecursionError):
            return text
        indent = 2 if "\n" in text.strip() else None
        spaced = indent is not None or '": ' in text or '", "' in text
        separators = None if spaced else (",", ":")
        dumped = json.dumps(shown, ensure_ascii=False, indent=indent, separators=separators)
        try:
            dumped.encode()
        except UnicodeEncodeError:  # a lone surrogate from a `\ud800` escape stays escaped
            dumped = json.dumps(shown, indent=indent, separators=separators)
        return _redact_content(dumped)

    # -- values

    def _value(self, value: Any, hidden: bool, depth: int) -> Any:
        if is_secret(value):
            return REDACTED
        if is_unknown(value):
            return UNKNOWN_MARK
        # A boolean or null carries no secret, and shows what changed (manage → unmanaged).
        if value is None or isinstance(value, bool):
            return value
        if hidden:
            return REDACTED
        if depth > MAX_DEPTH:
            return TOO_DEEP
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)  # JSON has no NaN
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray):
            return self.text(bytes(value).decode("utf-8", errors="replace"))
        if isinstance(value, Mapping):
            return self._mapping(value, depth)
        if isinstance(value, list | tuple):
            return self._sequence(value, depth)
        if isinstance(value, set | frozenset):
            items = [self._value(item, False, depth + 1) for item in value]
            return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))
        return self.text(_as_text(value))

    def _sequence(self, items: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
        """A list, where the item after a secret-named flag (`["--db-password", "…"]`, a
        container's ``args``) is that flag's value, unless it is a long flag itself."""
        shown = []
        after_flag = False
        for item in items:
            hidden = after_flag and not (isinstance(item, str) and _LONG_FLAG.match(item))
            shown.append(self._value(item, hidden, depth + 1))
            after_flag = isinstance(item, str) and _secret_flag(item)
        return shown

    def _mapping(self, mapping: Mapping[Any, Any], depth: int) -> Any:
        signature = mapping.get(_special_sig_key)
        if signature == _special_resource_sig:
            return self.text(_as_text(mapping.get("urn", "")))
        if signature == _special_output_value_sig:
            if mapping.get("secret"):
                return REDACTED
            if "value" not in mapping:
                return UNKNOWN_MARK
            return self._value(mapping["value"], False, depth + 1)
        secret_object = mapping.get("kind") == "Secret"
        # A Kubernetes env var or an SSM-style pair: `{"name": "DB_PASSWORD", "value": …}`.
        named = mapping.get("name", mapping.get("Name", mapping.get("key", mapping.get("Key"))))
        secret_pair = isinstance(named, str) and secret_key(named)
        result: dict[str, Any] = {}
        for key, item in mapping.items():
            name = _as_text(key)
            shown_name = self._key(name)
            # A key that is itself a secret says its value is one too.
            hidden = (
                secret_key(name) or shown_name != name or (secret_pair and name.lower() == "value")
            )
            if secret_object and name in ("data", "stringData"):
                shown = self.secret_data(item)
            else:
                shown = self._value(item, hidden, depth + 1)
            result[self._unique(result, shown_name)] = shown
        return result

    def secret_data(self, data: Any) -> Any:
        """A Kubernetes Secret's ``data`` or ``stringData``: which keys it holds is useful,
        their values never."""
        if not isinstance(data, Mapping):
            return self._value(data, True, 0)
        result: dict[str, Any] = {}
        for key, item in data.items():
            shown = self._value(item, True, 0)
            result[self._unique(result, self._key(_as_text(key)))] = shown
        return result

    def _key(self, name: str) -> str:
        """A key as shown: a known secret or a credential in it masked (a JSON key is not
        parsed as JSON)."""
        return _redact_content(self._mask_known(name))

    @staticmethod
    def _unique(taken: Mapping[str, Any], key: str) -> str:
        """Two keys masked to the same text both stay (``[secret]``, ``[secret] (2)``)."""
        candidate, number = key, 1
        while candidate in taken:
            number += 1
            candidate = f"{key} ({number})"
        return candidate

    # -- known secrets

    def _add(self, secrets: Iterable[str]) -> None:
        added = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_CHARS}
        added -= self._known
        if not added:
            return
        self._known |= added
        forms: set[str] = set()
        for secret in self._known:
            # As written, and as JSON, repr or a URL would escape it inside a longer text.
            forms |= {
                secret,
                json.dumps(secret)[1:-1],
                json.dumps(secret, ensure_ascii=False)[1:-1],
                repr(secret)[1:-1],
                quote(secret, safe=""),
            }
        usable = {f for f in forms if len(f) >= MIN_SECRET_CHARS}
        self._forms = tuple(sorted(usable, key=lambda f: (-len(f), f)))

    def _mask_known(self, text: str) -> str:
        """Every occurrence of every known secret (overlapping ones merged) becomes
        ``[secret]``; occurrences inside a mark the redactor wrote are left alone."""
        present = [form for form in self._forms if form in text]
        if not present:
            return text
        # The marks cannot overlap one another: the one a span could lie in is the last
        # that starts at or before it.
        marks = sorted(
            (start, start + len(mark)) for mark in _MARKS for start in _occurrences(text, mark)
        )
        starts = [start for start, _ in marks]

        def in_mark(start: int, end: int) -> bool:
            index = bisect.bisect_right(starts, start) - 1
            return index >= 0 and end <= marks[index][1]

        spans = sorted(
            (start, start + len(form))
            for form in present
            for start in _occurrences(text, form)
            if not in_mark(start, start + len(form))
        )
        pieces: list[str] = []
        position = 0
        for start, end in spans:
            if end <= position:
                continue
            if start >= position:
                pieces.append(text[position:start])
                pieces.append(REDACTED)
            position = max(position, end)
        pieces.append(text[position:])
        return "".join(pieces)


_JSON_START = re.compile(r"\s*[\[{]")
_FLAG_ITEM = re.compile(r"-{1,2}[A-Za-z][\w.-]*")


def _secret_flag(item: str) -> bool:
    """Whether a list item is a flag naming a secret, its value the next item."""
    return _FLAG_ITEM.fullmatch(item) is not None and secret_key(item)


def _without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose duplicate keys would hide all but one value: not parsed."""
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("duplicate keys")
    return found


def _occurrences(text: str, part: str) -> list[int]:
    found: list[int] = []
    start = text.find(part)
    while start != -1:
        found.append(start)
        start = text.find(part, start + 1)
    return found


def _as_text(value: Any) -> str:
    """``str()`` of anything, without letting a broken ``__str__`` raise."""
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"
