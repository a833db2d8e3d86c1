"""JavaScript regular expressions (as a plugin's settings hold them) in Python's `regex` module.

Obsidian_to_Anki compiles a user's regex with JavaScript's ``new RegExp(source, "gm")``. The
same source means other things to Python: ``.`` also matches ``\\r``, ``\\d`` and ``\\w``
match any script's digits and letters, ``\\a`` is a bell rather than "a", ``(?i)`` and
``a*+`` are syntax there and errors in JavaScript. `translate` rewrites a source token by token
so that it matches what JavaScript matches (without the ``u`` flag), and refuses, with a
reason, what has no faithful translation. Every match runs with a time limit (`regex`'s
``timeout``): a regex that backtracks without end costs a warning, not a hang.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import regex

FLAGS = regex.MULTILINE | regex.VERSION0

# JavaScript's \s: its white space and line terminators.
_SPACE = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_DOT = "[^\\n\\r\\u2028\\u2029]"  # "." without the s flag: anything but a line terminator
_OUTSIDE = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": "[A-Za-z0-9_]",
    "W": "[^A-Za-z0-9_]",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
    "b": "(?a:\\b)",  # a word boundary between ASCII word characters, as in JavaScript
    "B": "(?a:\\B)",
}
_INSIDE = {"d": "0-9", "w": "A-Za-z0-9_", "s": _SPACE, "b": "\\x08"}
_CONTROL = {"n": "\\n", "r": "\\r", "t": "\\t", "v": "\\x0b", "f": "\\x0c"}
_HEX = frozenset("0123456789abcdefABCDEF")
_QUANTIFIER = regex.compile(r"\{[0-9]++(?:,[0-9]*+)?+\}")
_GROUP_NAME = regex.compile(r"<([A-Za-z_$][A-Za-z0-9_$]*+)>")


class Refused(ValueError):
    """A source with no faithful translation (the message says why)."""


def translate(source: str) -> str:
    """The Python (`regex`, VERSION0, MULTILINE) source matching what `source` matches in
    JavaScript; raises `Refused`. Linear in the source's length."""
    groups, named = _count_groups(source)
    out: list[str] = []
    opened: list[bool] = []  # per open group: can a quantifier follow it (no lookbehind)?
    atom = False  # whether a quantifier may follow (JavaScript: "nothing to repeat" else)
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        found = _QUANTIFIER.match(source, i) if c == "{" else None
        if c in "*+?" or found is not None:
            if not atom:
                raise Refused(f"'{c}' at position {i + 1} has nothing to repeat")
            out.append(found.group() if found else c)
            i = _after_quantifier(source, found.end() if found else i + 1, out)
            atom = False
            continue
        if c == "\\":
            piece, i = _escape(source, i, groups, named)
            out.append(piece)
            atom = piece not in (_OUTSIDE["b"], _OUTSIDE["B"])
            continue
        if c == "[":
            piece, i = _char_class(source, i)
            out.append(piece)
            atom = True
            continue
        if c == "(":
            piece, i = _group_open(source, i)
            out.append(piece)
            opened.append(not piece.startswith("(?<") or piece.startswith("(?P"))
            atom = False
            continue
        if c == ")":
            out.append(")")
            atom = opened.pop() if opened else True  # an unmatched ")" fails to compile
        elif c == ".":
            out.append(_DOT)
            atom = True
        elif c in "{}":
            out.append("\\" + c)  # JavaScript reads a brace that is no quantifier as text
            atom = True
        elif c in "|^$":
            out.append(c)
            atom = False
        else:
            out.append(c)
            atom = True
        i += 1
    return "".join(out)


def compile_js(source: str) -> regex.Pattern[str]:
    """`translate`, then compile; raises `Refused` with the reason."""
    translated = translate(source)
    try:
        return regex.compile(translated, FLAGS)
    except (regex.error, OverflowError, RecursionError) as error:
        raise Refused(f"not a regular expression ankigen can read: {error}") from None


def finditer(pattern: regex.Pattern[str], text: str, deadline: float) -> Iterator[regex.Match[str]]:
    """Matches as JavaScript's ``matchAll`` finds them (after an empty match the search moves
    one character on); raises TimeoutError once `deadline` (time.monotonic) has passed."""
    pos = 0
    while pos <= len(text):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("regex timed out")
        match = pattern.search(text, pos, timeout=left)
        if match is None:
            return
        yield match
        pos = match.end() + (match.end() == match.start())


def _after_quantifier(source: str, i: int, out: list[str]) -> int:
    """After a quantifier: a lazy "?" is kept; a "+" (Python's possessive) is JavaScript's
    "nothing to repeat" error."""
    if i < len(source) and source[i] == "?":
        out.append("?")
        i += 1
    if i < len(source) and source[i] in "+*":
        where = f"position {i + 1}"
        raise Refused(f"'{source[i]}' right after a quantifier ({where}): nothing to repeat")
    return i


def _count_groups(source: str) -> tuple[int, bool]:
    """(capturing groups, whether any is named), skipping escapes and character classes."""
    count, named, i, in_class = 0, False, 0, False
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if source.startswith("]", i + 1) or source.startswith("^]", i + 1):
                in_class = False  # JavaScript's [] and [^]
                i += 2 if source[i + 1] == "]" else 3
                continue
        elif c == "(":
            if not source.startswith("?", i + 1):
                count += 1
            elif _GROUP_NAME.match(source, i + 2):
                count += 1
                named = True
        i += 1
    return count, named


def _escape(source: str, i: int, groups: int, named: bool) -> tuple[str, int]:
    """One escape outside a character class: (its translation, the index after it)."""
    if i + 1 >= len(source):
        raise Refused("the regular expression ends with a lone backslash")
    c = source[i + 1]
    if c in _OUTSIDE:
        return _OUTSIDE[c], i + 2
    if c in _CONTROL:
        return _CONTROL[c], i + 2
    if c.isdigit() and c.isascii():
        j = i + 1
        while j < len(source) and source[j].isdigit() and source[j].isascii():
            j += 1
        number = int(source[i + 1 : j])
        if number == 0 and j == i + 2:
            return "\\x00", j
        if 0 < number <= groups:
            return f"(?:\\{number})", j  # "(?:…)": a digit after it is no part of the number
        raise Refused(f"'\\{source[i + 1 : j]}' is an old octal escape; write \\x.. instead")
    simple = _hex_or_control(source, i)
    if simple is not None:
        return simple
    if c == "k" and named:
        found = _GROUP_NAME.match(source, i + 2)
        if found is None:
            raise Refused(f"'\\k' without a <group name> (position {i + 1})")
        return f"(?P={found.group(1)})", found.end()
    return regex.escape(c), i + 2  # any other escaped character is itself in JavaScript


def _hex_or_control(source: str, i: int) -> tuple[str, int] | None:
    """\\xHH, \\uHHHH and \\cX, as JavaScript reads them; None for another escape."""
    c = source[i + 1]
    if c == "x" and i + 4 <= len(source) and all(ch in _HEX for ch in source[i + 2 : i + 4]):
        return f"\\x{source[i + 2 : i + 4]}", i + 4
    if c == "u" and i + 6 <= len(source) and all(ch in _HEX for ch in source[i + 2 : i + 6]):
        return f"\\u{source[i + 2 : i + 6]}", i + 6
    if c == "c" and i + 2 < len(source) and source[i + 2].isascii() and source[i + 2].isalpha():
        return f"\\x{ord(source[i + 2]) % 32:02x}", i + 3
    if c in "xuc":
        return regex.escape(c), i + 2  # no valid escape follows: the letter itself
    return None


def _char_class(source: str, i: int) -> tuple[str, int]:
    """A character class "[…]" from index i: (its translation, the index after it)."""
    if source.startswith("[]", i):
        return "(?!)", i + 2  # matches nothing
    if source.startswith("[^]", i):
        return "[\\s\\S]", i + 3  # matches anything
    out = ["["]
    j = i + 1
    if j < len(source) and source[j] == "^":
        out.append("^")
        j += 1
    while j < len(source):
        c = source[j]
        if c == "]":
            out.append("]")
            return "".join(out), j + 1
        if c == "\\":
            if j + 1 >= len(source):
                break
            e = source[j + 1]
            if e in _INSIDE:
                out.append(_INSIDE[e])
                j += 2
            elif e in "DWS":
                raise Refused(f"'\\{e}' inside [...] (position {j + 1}) has no translation")
            elif e in _CONTROL:
                out.append(_CONTROL[e])
                j += 2
            elif e.isdigit() and e.isascii():
                if e == "0" and not source[j + 2 : j + 3].isdigit():
                    out.append("\\x00")
                    j += 2
                else:
                    raise Refused(f"'\\{e}' inside [...] is an old octal escape")
            else:
                simple = _hex_or_control(source, j)
                if simple is not None:
                    out.append(simple[0])
                    j = simple[1]
                else:
                    out.append(regex.escape(e))
                    j += 2
            continue
        # "[" and the set operators of other flavours are plain characters in JavaScript.
        out.append("\\" + c if c in "[&~|" else c)
        j += 1
    raise Refused(f"'[' at position {i + 1} is never closed")


def _group_open(source: str, i: int) -> tuple[str, int]:
    """A group's opening "(…" from index i: (its translation, the index after it)."""
    if not source.startswith("?", i + 1):
        return "(", i + 1
    for kind in ("(?:", "(?=", "(?!", "(?<=", "(?<!"):
        if source.startswith(kind, i):
            return kind, i + len(kind)
    found = _GROUP_NAME.match(source, i + 2)
    if found is not None:
        return f"(?P<{found.group(1)}>", found.end()
    shown = source[i : i + 4]
    raise Refused(f"'{shown}' (position {i + 1}) is not a JavaScript group")
