"""Where the value written after a name ends, in any text: quoted, bracketed, a YAML block,
up to the next separator or to the end of the line.

The text rules (:mod:`platform_common.redaction.redact_text`) find a name that is a secret's; this
decides how much after it is the value they mask. It knows nothing of secrets, only of the
shapes values take in JSON, YAML, env files, command lines and logs, which is why it stands
on its own.
"""

from __future__ import annotations

import re

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
