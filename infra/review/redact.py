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
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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


# -- where the value after a name ends

# How a value is delimited, by what separates it from its name:
# - BARE, after `=` (`password=x dbname=y`), a quoted key (`"token": "x"`) or a flag
#   (`--db-password x`): quoted, bracketed, a YAML block, or up to the next separator;
# - LINE, after `: ` or ` = ` (YAML, headers, logs, ini files): the same, but a bare value
#   runs to the end of the line (`password: two words`), as it does there;
# - TIGHT, after a colon with no space (`pass:x`): up to the next separator.
BARE, LINE, TIGHT = "bare", "line", "tight"

_QUOTED = re.compile(r""""(?:[^"\\\n]|\\.)*"|'[^'\n]*'""")
_ESCAPED_QUOTED = re.compile(r'\\"(?:(?!\\").)*\\"')
_BLOCK = re.compile(r"[|>][-+]?[ \t]*\n(?:[ \t]+[^\n]*(?:\n|$))+")
# Up to the next separator; closing brackets there end the enclosing JSON or list, not the
# value. Never from an opening bracket: that is a list or object, matched whole.
_BARE = re.compile(r"""[^\s"'\\,;&]+?(?=[}\])]{0,8}(?:[\s"'\\,;&]|$))""")
_BARE_REST = re.compile(r"""[^\s"'\\,;&]*?(?=[}\])]{0,8}(?:[\s"'\\,;&]|$))""")
# The rest of a line, short of a quote (one the value sits in ends it) and of an escaped
# line break (the text is JSON-escaped inside a string).
_LINE = re.compile(r"""(?:[^\n\r"'\\]|\\(?![nrt"'\\]))+""")
_BRACKET_OR_QUOTE = re.compile(r'\\"|["\[\]{}]')
_STRING_REST = re.compile(r'(?:[^"\\\n]|\\.)*"')
_CLOSERS = "}])"


def _value_end(text: str, start: int, mode: str) -> int | None:
    """Where the value starting at ``start`` ends; None where there is none."""
    if start >= len(text):
        return None
    first = text[start]
    if first in "\"'" or text.startswith('\\"', start):
        quoted = (_ESCAPED_QUOTED if first == "\\" else _QUOTED).match(text, start)
        if quoted:
            return quoted.end()
        return _line_end(text, start)  # never closed: the rest of the line goes
    if first in "[{":
        end = _bracketed_end(text, start)
        if mode == LINE:
            return max(end, _line_value_end(text, end))
        rest = _BARE_REST.match(text, end)
        return rest.end() if rest else end
    if first in "|>":
        block = _BLOCK.match(text, start)
        if block:
            return block.end()
    if mode == LINE:
        end = _line_value_end(text, start)
        return end if end > start else None
    bare = _BARE.match(text, start)
    return bare.end() if bare else None


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end == -1 else end


def _line_value_end(text: str, start: int) -> int:
    """The end of the line's value from ``start``: short of trailing blanks, and of the
    closing brackets (up to eight) of what encloses it."""
    line = _LINE.match(text, start)
    if line is None:
        return start
    value = line[0].rstrip()
    trimmed = value.rstrip(_CLOSERS)
    if len(value) - len(trimmed) > 8:
        trimmed = value[:-8]
    return start + len(trimmed)


def _bracketed_end(text: str, start: int) -> int:
    """The end of the list or object opening at ``start``: brackets are counted outside
    quoted strings (JSON's, or JSON's escaped inside a string). One never closed goes to
    the end of the text: what follows may be its items."""
    depth = 0
    position = start
    while (found := _BRACKET_OR_QUOTE.search(text, position)) is not None:
        mark = found[0]
        position = found.end()
        if mark == '\\"':
            close = text.find('\\"', position)
            if close == -1:
                return len(text)
            position = close + 2
        elif mark == '"':
            string = _STRING_REST.match(text, position)
            if string is not None:  # a stray quote (not closed on its line) is a character
                position = string.end()
        elif mark in "[{":
            depth += 1
        else:
            depth -= 1
            if depth <= 0:
                return position
    return len(text)


def _masked_value(value: str, quoting: str = "") -> str:
    """``[secret]`` in the value's own quotes, so the text around it still reads; in
    ``quoting`` (its name's quote) when it had none and its name had one (`"apiKey": 5`),
    so that JSON stays JSON."""
    if not value or value == UNKNOWN_MARK:  # not a secret, and what Pulumi shows
        return value
    if value[:2] == '\\"':
        closed = len(value) >= 4 and value.endswith('\\"')
        return f'\\"{REDACTED}' + ('\\"' if closed else "")
    if value[0] in "\"'":
        closed = len(value) >= 2 and value[-1] == value[0]
        return f"{value[0]}{REDACTED}" + (value[0] if closed else "")
    if value[0] in "|>":
        return REDACTED + ("\n" if value.endswith("\n") else "")
    return f"{quoting}{REDACTED}{quoting}"


# A value to mask: where it starts and ends, and the quote its name was written in.
Span = tuple[int, int, str]


def _masked(text: str, spans: Iterable[Span]) -> str:
    """``text`` with each span (overlapping ones merged) masked."""
    merged: list[Span] = []
    for start, end, quoting in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end), merged[-1][2])
        else:
            merged.append((start, end, quoting))
    if not merged:
        return text
    pieces: list[str] = []
    position = 0
    for start, end, quoting in merged:
        pieces += [text[position:start], _masked_value(text[start:end], quoting)]
        position = end
    return "".join(pieces) + text[position:]


# -- name=value pairs

# `password=…` (ODBC, JDBC, libpq, env files, query strings), `"token": "…"`, `key: …`,
# `Authorization: Bearer …`, `--api-token=…`: the name decides (``secret_key``), the value
# goes. A colon with no space after it (`pass:x`) is a pair only for a name that is a
# secret word, not in a type token or URN: `aws:secretsmanager/secret:Secret`, `v1:Secret::`,
# `secretsmanager:GetSecretValue`, `https://` and `platform:dbPassword` are not pairs.
_ASSIGNMENT = re.compile(
    r"""(?P<key>(?<![\w.-])-{0,2}[A-Za-z_][\w.-]*)
        (?:(?P<quote>\\?["'])[ \t]*[:=][ \t]*
          |(?P<line>[ \t]*:[ \t]+|[ \t]+=[ \t]+)
          |[ \t]*:(?=\\?["'])
          |[ \t]*=[ \t]*
          |(?P<tight>:)(?=[^\s:/"'\\]))
        (?:(?:bearer|basic|digest|token|negotiate)[ \t]+)?""",
    re.VERBOSE | re.IGNORECASE,
)
# A Kubernetes env var, an SSM parameter, an XML `<add key="…" value="…"/>`: a name that is
# a secret's, and the value beside it.
_NAME_KEYS = frozenset({"name", "key"})
_VALUE_KEY = "value"
_NAME = re.compile(r"""(?:\\?["'])?(?P<name>[\w.:/-]+)(?:\\?["'])?""")
# Between a name and its value, what says they belong to different items: a brace (JSON
# objects), an angle bracket (XML elements), a new YAML list item or a blank line.
_ITEM_BREAK = re.compile(r"[{}<>]|\n[ \t]*-[ \t]|\n[ \t]*\n")
_ITEM_GAP = 256


def _tight_pair(text: str, found: re.Match[str]) -> bool:
    """A `name:value` with no space is a pair only for a name whose last word is a secret
    word, at the start of a token (not after the colon or slash of a type token or URN)."""
    start = found.start()
    if start and text[start - 1] in ":/":
        return False
    words = _WORD.findall(found["key"])
    return bool(words) and words[-1].lower() in _SECRET_WORDS


@dataclass(frozen=True)
class _Field:
    """A `name` or `key` (``name_end`` where the name it holds ends; ``named``: that name
    is a secret's) or a `value` (``mode``: how that value is delimited) in a text."""

    key_start: int
    value_start: int
    name_end: int | None = None
    named: bool = False
    mode: str = BARE
    quoting: str = ""


def _assignments(text: str) -> str:
    """Masks the value of every pair whose name is a secret's, and the value beside a
    `name`/`key` that names a secret (``_paired_values``)."""
    spans: list[Span] = []
    fields: list[_Field] = []
    position = 0  # the end of the last value masked: a match inside it is part of it
    for found in _ASSIGNMENT.finditer(text):
        if found.start() < position:
            continue
        key = found["key"]
        mode = LINE if found["line"] else TIGHT if found["tight"] else BARE
        quoting = found["quote"] or ""
        if key.lower() in _NAME_KEYS:
            name = _NAME.match(text, found.end())
            if name is not None:
                named = secret_key(name["name"])
                fields.append(_Field(found.start(), found.end(), name.end(), named))
        elif key.lower() == _VALUE_KEY:
            fields.append(_Field(found.start(), found.end(), mode=mode, quoting=quoting))
        if not secret_key(key) or (found["tight"] and not _tight_pair(text, found)):
            continue
        end = _value_end(text, found.end(), mode)
        if end is not None:
            spans.append((found.end(), end, quoting))
            position = end
    return _masked(text, spans + _paired_values(text, fields))


def _paired_values(text: str, fields: list[_Field]) -> list[Span]:
    """The values beside a name that names a secret, before or after it, in one item (no
    other name or value between them, nor a break between items)."""
    spans = []
    position = 0  # the end of the last value masked: a field inside it is part of it
    for first, second in itertools.pairwise(fields):
        if first.key_start < position:
            continue
        if first.name_end is not None and second.name_end is None:  # the name, its value
            name, value, gap_start = first, second, first.name_end
        elif first.name_end is None and second.name_end is not None:  # the value, its name
            name, value, gap_start = second, first, None
        else:
            continue
        if not name.named or (gap_start is not None and not _one_item(text, gap_start, second)):
            continue
        value_end = _value_end(text, value.value_start, value.mode)
        if value_end is None or (gap_start is None and not _one_item(text, value_end, second)):
            continue
        spans.append((value.value_start, value_end, value.quoting))
        position = max(position, value_end)
    return spans


def _one_item(text: str, end: int, second: _Field) -> bool:
    gap = text[end : second.key_start]
    return len(gap) <= _ITEM_GAP and not _ITEM_BREAK.search(gap)


# `--db-password hunter2` on a command line, `"--db-password", "hunter2"` in a JSON list,
# `- --db-password` then `- hunter2` in a YAML one (`-api-token x`, Go's style, too). A
# flag followed by another long flag takes no value (`--password-stdin --username x`).
_FLAG = re.compile(
    r"""(?P<key>(?<![\w-])-{1,2}[A-Za-z][\w.-]*)
        (?:[ \t]+|(?:\\?["'])?[ \t]*,[ \t]*|(?:\\?["'])?[ \t]*\n[ \t]*-[ \t]+)""",
    re.VERBOSE,
)
_LONG_FLAG = re.compile(r"""(?:\\?["'])?--[A-Za-z]""")


def _flags(text: str) -> str:
    spans: list[Span] = []
    position = 0
    for found in _FLAG.finditer(text):
        if found.start() < position or not secret_key(found["key"]):
            continue
        if _LONG_FLAG.match(text, found.end()):
            continue
        end = _value_end(text, found.end(), BARE)
        if end is not None:
            spans.append((found.end(), end, ""))
            position = end
    return _masked(text, spans)


# `<password>…</password>` (a CDATA section too), when the element is closed: `<token>` in
# a usage line is a placeholder.
_ELEMENT = re.compile(
    r"<(?P<key>[A-Za-z_][\w.:-]*)(?:\s[^<>]*)?>"
    r"(?P<value>(?:<!\[CDATA\[.*?(?:\]\]>|\Z)|[^<])++)(?=</(?P=key)\s*>)",
    re.DOTALL,
)


def _element(found: re.Match[str]) -> str:
    if not secret_key(found["key"]) or not found["value"].strip():
        return found[0]
    return found[0][: found.start("value") - found.start()] + REDACTED


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
    ((":", "="), _assignments),
    (("-",), _flags),
    (("</",), lambda text: _ELEMENT.sub(_element, text)),
)


# A mask can join what a break kept apart (a name and a value across an XML tag, say): the
# rules run again on what they changed, until nothing changes (odd texts only, in practice).
_MAX_PASSES = 4


@functools.lru_cache(maxsize=8192)
def _redact_content(text: str) -> str:
    """The content rules; a pure function of the text, so repeated values are cached."""
    for _ in range(_MAX_PASSES):
        redacted = _content_pass(text)
        if redacted == text:
            break
        text = redacted
    return text


def _content_pass(text: str) -> str:
    if _kubeconfig(text):
        return REDACTED
    lowered = text.lower()
    for triggers, rule in _CONTENT_RULES:
        for trigger in triggers:  # (a loop, not any(): this runs for every text shown)
            if trigger in lowered:
                changed = rule(text)
                if changed != text:
                    text, lowered = changed, changed.lower()
                break
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
