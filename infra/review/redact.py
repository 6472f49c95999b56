"""Redaction of everything the AI reviewer is sent: no secret may leave the process.

Three nets, each catching what the others miss:

- by marker: Pulumi's secret marker (and an output value flagged secret) in the engine's
  wire form, or the ``[secret]`` the Automation API's events already show;
- by key: any value under a key (or a Kubernetes Secret's ``data``) that names a secret,
  whatever it looks like;
- by content: credentials recognisable in any text (kubeconfigs, PEM blocks, URLs with a
  user, ``password=…`` pairs, bearer tokens, well-known token formats) and every known
  secret text (given, or learned from the markers), wherever it appears.

The result is deterministic and idempotent, and redaction never raises: an odd value is
shown as text (redacted) rather than crash a release over its advisory review.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

from pulumi.runtime.rpc import (
    _special_output_value_sig,
    _special_resource_sig,
    _special_sig_key,
)

from infra.preview.values import UNKNOWN, UNKNOWN_MARK, is_secret, is_unknown, secret_strings

REDACTED = "[secret]"
# Texts the redactor itself writes: a known secret found inside one is not masked again,
# so a second pass changes nothing.
_MARKS = (REDACTED, UNKNOWN_MARK)
# Shorter known secrets are ignored: masking them would garble every text with those letters.
MIN_SECRET_CHARS = 4
# Deeper nesting (or a cycle) is not followed: shown as this, never as the raw value.
MAX_DEPTH = 64
TOO_DEEP = "<too deeply nested>"

# --- secret-looking names ----------------------------------------------------------------

# Whole words of a key (after splitting camelCase, snake_case, kebab-case, dots, digits).
_SECRET_WORDS = frozenset(
    {
        "password", "passwords", "passwd", "pwd", "pass", "passphrase",
        "token", "tokens", "secret", "secrets", "key", "keys", "apikey", "apikeys",
        "privatekey", "authorization", "credential", "credentials", "creds",
        "kubeconfig", "cookie", "cookies", "session", "sessions", "signature", "sig",
        "connectionstring", "dsn", "jwt", "hmac", "salt", "otp", "pem", "keystore",
        "webhook", "webhooks",
    }
)  # fmt: skip
# Unambiguous even inside a run of lowercase letters (``masterpassword``, ``oauthtoken``).
_SECRET_PARTS = (
    "password", "passwd", "passphrase", "secret", "token", "credential", "kubeconfig",
    "apikey", "privatekey", "auth", "cookie", "signature",
)  # fmt: skip
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


@functools.lru_cache(maxsize=4096)
def secret_key(name: str) -> bool:
    """Whether a key's name says its value is a secret: ``dbPassword``, ``api_key``,
    ``client-key-data``, ``tls.key``, ``AUTH_TOKEN``, ``kubeConfig``."""
    words = [word.lower() for word in _WORD.findall(name)]
    pairs = [a + b for a, b in itertools.pairwise(words)]
    if any(w in _SECRET_WORDS or w.startswith("auth") for w in [*words, *pairs]):
        return True
    squashed = "".join(words)
    return any(part in squashed for part in _SECRET_PARTS)


# --- secret-looking content --------------------------------------------------------------

# A kubeconfig is all credentials (a token, a client key) around a little structure: the
# whole value goes, in YAML or JSON (or JSON escaped inside a string).
_KUBECONFIG_KEYS = re.compile(
    r"client-key-data|client-certificate-data|certificate-authority-data|current-context"
)
_CLUSTERS = re.compile(r"\bclusters\b[\"'\\]*\s*:")
_USERS = re.compile(r"\busers\b[\"'\\]*\s*:")


def _kubeconfig(text: str) -> bool:
    if _KUBECONFIG_KEYS.search(text):
        return True
    return bool(_CLUSTERS.search(text) and _USERS.search(text))


Rule = Callable[[str], str]


def _sub(pattern: str, replacement: str | Callable[[re.Match[str]], str], flags: int = 0) -> Rule:
    compiled = re.compile(pattern, flags)
    return lambda text: compiled.sub(replacement, text)


_RUN = re.compile(r"[^\s\"'<>]+")


def _userinfo(found: re.Match[str]) -> str:
    """``scheme://user:password@host`` → ``scheme://[secret]@host``. The last @ of the run
    ends the user part, so a password holding an @ goes whole. (A scan of each run rather
    than a regex: a regex backtracks from every ``://`` to the run's end.)"""
    run = found[0]
    scheme_end, at = run.find("://"), run.rfind("@")
    if scheme_end == -1 or at < scheme_end:
        return run
    return f"{run[:scheme_end]}://{REDACTED}@{run[at + 1 :]}"


# The value of a `name=value` pair: quoted, JSON-escaped, braced (ODBC), a YAML block,
# already masked, or up to the next separator (closing brackets there end the enclosing
# JSON or list, not the value). Matched only after a secret name: the value of a harmless
# one is scanned on, as it may hold pairs of its own (`url=https://h/?token=…`).
_VALUE = re.compile(
    r""""[^"\n]*"|'[^'\n]*'|\\"(?:(?!\\").)*\\"|\{[^}\n]*\}
    |[|>][-+]?[ \t]*\n(?:[ \t]+[^\n]*(?:\n|$))+
    |\[secret\](?![^\s"'\\,;&}\])])
    |[^\s"'\\,;&]+?(?=[}\])]{0,8}(?:[\s"'\\,;&]|$))""",
    re.VERBOSE,
)
# `password=…` (ODBC, JDBC, libpq, env files, query strings), `"token": "…"`, `key: …`,
# `Authorization: Bearer …`: the name decides (``secret_key``), the value goes. A bare
# colon is a pair only before a space or a quote: `aws:rds/cluster:Cluster`, `::` in a URN
# and `https://` are not.
_ASSIGNMENT = re.compile(
    r"""(?P<key>(?<![\w.-])[A-Za-z_][\w.-]*)
        (?:(?:\\?["'])[ \t]*[:=]|[ \t]*=|[ \t]*:(?=[ \t]|\\?["']))[ \t]*
        (?:(?:bearer|basic|digest|token|negotiate)[ \t]+)?""",
    re.VERBOSE | re.IGNORECASE,
)
# `--db-password hunter2` on a command line.
_FLAG = re.compile(r"(?P<key>(?<![\w-])--[A-Za-z][\w.-]*)[ \t]+")


def _pairs(pattern: re.Pattern[str]) -> Rule:
    def redact(text: str) -> str:
        pieces: list[str] = []
        position = 0
        for found in pattern.finditer(text):
            if found.start() < position or not secret_key(found["key"]):
                continue
            value = _VALUE.match(text, found.end())
            if value is None:
                continue
            pieces += [text[position : found.end()], _masked_value(value[0])]
            position = value.end()
        return "".join(pieces) + text[position:]

    return redact


def _masked_value(value: str) -> str:
    """``[secret]`` in the value's own quotes, so the text around it still reads."""
    if value[:2] == '\\"':
        return f'\\"{REDACTED}\\"'
    if value[0] in "\"'":
        return f"{value[0]}{REDACTED}{value[0]}"
    if value[0] in "|>":
        return REDACTED + ("\n" if value.endswith("\n") else "")
    return REDACTED


# Each rule with the texts (lowercase) one of which a match must contain: most strings hold
# none, and a substring test is far cheaper than a regex scan.
_CONTENT_RULES: tuple[tuple[tuple[str, ...], Rule], ...] = (
    # PEM blocks (keys and certificates alike), also one cut off before its END line.
    (
        ("-----begin",),
        _sub(r"-----BEGIN[^-\n]*-----.*?(?:-----END[^-\n]*-----|\Z)", REDACTED, re.DOTALL),
    ),
    # The same, base64-encoded (kubeconfig's client-key-data, Kubernetes Secret data).
    (("ls0tls1crudjti",), _sub(r"LS0tLS1CRUdJTi[A-Za-z0-9+/=]*", REDACTED)),
    # URLs with a user (and password).
    (("://",), lambda text: _RUN.sub(_userinfo, text) if "@" in text else text),
    # Incoming-webhook URLs carry their token in the path.
    (
        ("hook",),
        _sub(
            r"(?i)(https?://(?:hooks\.slack\.com|[\w.-]*webhook[\w.-]*"
            r"|discord(?:app)?\.com/api/webhooks))/[^\s\"'<>]+",
            rf"\1/{REDACTED}",
        ),
    ),
    # Well-known token formats: JWT, AWS access key id, GitHub, Anthropic, OpenAI-style and
    # Slack tokens, EKS tokens.
    (
        ("eyj",),
        _sub(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", REDACTED),
    ),
    (("akia", "asia"), _sub(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])", REDACTED)),
    (
        ("gh", "github_pat_"),
        _sub(
            r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
            REDACTED,
        ),
    ),
    (
        ("sk-", "xox"),
        _sub(
            r"(?<![A-Za-z0-9])(?:sk-ant-[A-Za-z0-9_-]{8,}|sk-[A-Za-z0-9_-]{16,}"
            r"|xox[abprs]-[A-Za-z0-9-]{8,})",
            REDACTED,
        ),
    ),
    (("k8s-aws-v1.",), _sub(r"(?<![A-Za-z0-9])k8s-aws-v1\.[A-Za-z0-9_-]+", REDACTED)),
    (
        ("bearer", "basic"),
        _sub(r"(?i)\b(bearer|basic)[ \t]+[A-Za-z0-9._~+/=-]{8,}", rf"\1 {REDACTED}"),
    ),
    ((":", "="), _pairs(_ASSIGNMENT)),
    (("--",), _pairs(_FLAG)),
)


@functools.lru_cache(maxsize=8192)
def _redact_content(text: str) -> str:
    """The content rules; a pure function of the text, so repeated values are cached."""
    if _kubeconfig(text):
        return REDACTED
    lowered = text.lower()
    for triggers, rule in _CONTENT_RULES:
        if any(trigger in lowered for trigger in triggers):
            text = rule(text)
            lowered = text.lower()
    return text


# --- the redactor ------------------------------------------------------------------------


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
        return _redact_content(self._mask_known(text.replace(UNKNOWN, UNKNOWN_MARK)))

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
            return [self._value(item, False, depth + 1) for item in value]
        if isinstance(value, set | frozenset):
            items = [self._value(item, False, depth + 1) for item in value]
            return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))
        return self.text(_as_text(value))

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
            shown_name = self._mask_known(name)
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
            result[self._unique(result, self._mask_known(_as_text(key)))] = shown
        return result

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
