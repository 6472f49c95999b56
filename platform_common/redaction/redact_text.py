"""The content net: credentials recognisable in any text, whatever key (if any) holds it.

Kubeconfigs, PEM blocks, URLs with a user, ``password=…`` pairs, a secret's name beside its
value, secret-named flags and elements, bearer tokens and well-known token formats. A pure
function of the text (``_redact_content``), so the redactor (:mod:`platformctl.review.redact`)
caches it and applies it to every text and key it shows; known secrets and the other nets
are the redactor's.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from platform_common.pulumi_values import UNKNOWN_MARK
from platform_common.redaction.secret_names import _SECRET_WORDS, _WORD, secret_key
from platform_common.redaction.value_end import BARE, LINE, TIGHT, _value_end

# What a mask reads. Defined here, with the rules that write it, so that this module needs
# nothing from the redactor (platformctl.review.redact), which shows it to callers.
REDACTED = "[secret]"

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


def contains_credential(text: str) -> bool:
    """Whether the content rules find a credential in ``text``: what the AI review would mask,
    the policy packs refuse to see written into a Kubernetes object."""
    return _redact_content(text) != text
