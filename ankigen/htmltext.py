"""HTML to plain text: the one helper for sort fields, adoption matching, labels and the
readers' "shows nothing" rule (each caller says which entities it decodes)."""

from __future__ import annotations

import html
import re

# A tag holds no "<": an unclosed "<a " then costs only itself, not a scan to the text's end.
_TAG = re.compile(r"<[^<>]*+>")
# What Anki decodes when it computes a sort field from a field's HTML (the rest stays as is).
ANKI_SORT_ENTITIES = (("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def html_to_text(
    fragment: str,
    *,
    gap: str = " ",
    entities: bool | tuple[tuple[str, str], ...] = True,
    collapse: bool = True,
) -> str:
    """The fragment's text: each tag replaced by `gap`; entities decoded (all of them, none,
    or the (entity, character) pairs given); runs of whitespace made one space and the ends
    trimmed when `collapse`."""
    text = _TAG.sub(gap, fragment) if "<" in fragment else fragment
    if entities is True:
        text = html.unescape(text)
    elif entities:
        for entity, char in entities:
            text = text.replace(entity, char)
    return " ".join(text.split()) if collapse else text
