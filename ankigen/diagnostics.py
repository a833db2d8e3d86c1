"""Diagnostics: collected from every stage, printed once, sorted, at the end of a build."""

from __future__ import annotations

import traceback
from collections.abc import Iterable

from .model import Diagnostic


def printable(text: str) -> str:
    """`text` with control and other invisible characters shown as escapes (\\x1b, \\u200b),
    so a file name or a lock entry cannot move the cursor or hide text in a terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def internal_error(path: str, line: int, what: str, error: Exception) -> Diagnostic:
    """The message for a bug caught by a guard; its traceback goes with it for --verbose."""
    message = (
        f"{what}, ankigen failed on it: {error!r} (rerun with --verbose to see where, "
        "and please report it)"
    )
    return Diagnostic(path, line, "error", message, detail=traceback.format_exc())


class Diagnostics:
    """The build's messages; stages return theirs and the build gathers them here."""

    def __init__(self) -> None:
        self._items: set[Diagnostic] = set()

    def warn(self, path: str, line: int, message: str) -> None:
        self._items.add(Diagnostic(path, line, "warning", message))

    def extend(self, items: Iterable[Diagnostic]) -> None:
        self._items.update(items)

    def sorted(self) -> list[Diagnostic]:
        """By file, then line, then text: the order a user reads them in."""
        return sorted(self._items, key=lambda d: (d.path, d.line, d.message))
