"""Pygments' RegexLexer loop, finding the rule that matches with one regex call per token.

RegexLexer tries a state's rules one after another at each position: a Python loop that costs
about as much as the matching for lexers with many rules (Python's "root" has 56). Here each
state's rules are joined into one alternation, which the regex engine tries in the same order,
each rule with its own flags and an empty group closing it: the match's last group names the
rule. The rule's own regex then matches again, so an action gets the match object it always
gets. The token stream is the same (tests/test_fastlex.py compares it with Pygments' loop); a
state whose rules cannot be joined (back-references, flags inside a rule) keeps the plain loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from pygments.lexer import Lexer, RegexLexer
from pygments.token import Error, Whitespace, _TokenType

__all__ = ["speed_up"]

Rule = tuple[Callable[..., Any], Any, Any]
# A state's joined rules: the alternation's match and the rule index of each closing group's
# name; None: the rules are tried one by one.
Joined = tuple[Callable[..., Any], dict[str, int]] | None

_BACKREF = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")
_LEADING_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")
_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"))
_GROUP = "_fastlex"


def speed_up(lexer: Lexer) -> Lexer:
    """The same lexer, its get_tokens_unprocessed swapped for the joined loop where it is
    Pygments' own RegexLexer loop (other lexers are returned as they are)."""
    if not isinstance(lexer, RegexLexer):
        return lexer
    if type(lexer).get_tokens_unprocessed is not RegexLexer.get_tokens_unprocessed:
        return lexer
    tokendefs = lexer._tokens  # type: ignore[attr-defined]  # compiled by its metaclass
    joined: dict[str, Joined] = {}  # joined when first used

    def get_tokens_unprocessed(text: str, stack: tuple[str, ...] = ("root",)) -> Iterator[Any]:
        return _tokens(lexer, tokendefs, joined, text, stack)

    lexer.get_tokens_unprocessed = get_tokens_unprocessed  # type: ignore[method-assign,assignment]
    return lexer


def _scoped(compiled: re.Pattern[str]) -> str | None:
    """The rule's pattern with its flags inside it: (?flags-others:pattern)."""
    if compiled.flags & (re.ASCII | re.LOCALE) or _BACKREF.search(compiled.pattern):
        return None
    source = compiled.pattern
    lead = _LEADING_FLAGS.match(source)  # in compiled.flags already
    if lead:
        source = source[lead.end() :]
    on = "".join(letter for flag, letter in _FLAGS if compiled.flags & flag)
    off = "".join(letter for flag, letter in _FLAGS if not compiled.flags & flag)
    end = "\n)" if compiled.flags & re.VERBOSE else ")"  # a comment may run to the end
    return f"(?{on}-{off}:{source}{end}" if off else f"(?{on}:{source}{end}"


def _join(rules: list[Rule]) -> Joined:
    if len(rules) < 2:
        return None
    parts = []
    for index, (rexmatch, _, _) in enumerate(rules):
        compiled = getattr(rexmatch, "__self__", None)
        if not isinstance(compiled, re.Pattern) or not isinstance(compiled.pattern, str):
            return None
        scoped = _scoped(compiled)
        if scoped is None:
            return None
        parts.append(f"{scoped}(?P<{_GROUP}{index}>)")
    try:
        combined = re.compile("|".join(parts))
    except (re.error, OverflowError, RecursionError, ValueError):
        return None  # a flag inside a rule, a group name taken, …
    return combined.match, {f"{_GROUP}{index}": index for index in range(len(rules))}


def _tokens(
    lexer: RegexLexer,
    tokendefs: dict[str, list[Rule]],
    joined: dict[str, Joined],
    text: str,
    stack: tuple[str, ...],
) -> Iterator[Any]:
    """RegexLexer.get_tokens_unprocessed (Pygments 2.x), the rule found by the joined regex."""

    def join_of(state: str) -> Joined:
        if state not in joined:
            joined[state] = _join(tokendefs[state])
        return joined[state]

    pos = 0
    statestack = list(stack)
    statetokens = tokendefs[statestack[-1]]
    join = join_of(statestack[-1])
    while 1:
        rule: Rule | None = None
        m = None
        one_by_one = join is None
        if join is not None:
            found = join[0](text, pos)
            if found is not None:
                rule = statetokens[join[1][str(found.lastgroup)]]
                m = rule[0](text, pos)
                if m is None or m.end() != found.end():  # never seen: the rules one by one
                    rule, one_by_one = None, True
        if one_by_one:
            for rule in statetokens:
                m = rule[0](text, pos)
                if m:
                    break
            else:
                rule = None
        if rule is not None and m is not None:
            _, action, new_state = rule
            if action is not None:
                if type(action) is _TokenType:
                    yield pos, action, m.group()
                else:
                    yield from action(lexer, m)
            pos = m.end()
            if new_state is not None:
                if isinstance(new_state, tuple):
                    for state in new_state:
                        if state == "#pop":
                            if len(statestack) > 1:
                                statestack.pop()
                        elif state == "#push":
                            statestack.append(statestack[-1])
                        else:
                            statestack.append(state)
                elif isinstance(new_state, int):
                    if abs(new_state) >= len(statestack):
                        del statestack[1:]
                    else:
                        del statestack[new_state:]
                elif new_state == "#push":
                    statestack.append(statestack[-1])
                else:
                    raise AssertionError(f"wrong state def: {new_state!r}")
                statetokens = tokendefs[statestack[-1]]
                join = join_of(statestack[-1])
            continue
        try:
            if text[pos] == "\n":  # at a line's end, back to "root"
                statestack = ["root"]
                statetokens = tokendefs["root"]
                join = join_of("root")
                yield pos, Whitespace, "\n"
                pos += 1
                continue
            yield pos, Error, text[pos]
            pos += 1
        except IndexError:
            break
