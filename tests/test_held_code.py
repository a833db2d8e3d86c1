"""Highlighted code held out of the sanitiser (render._render_full) gives the HTML it gives
when the sanitiser sees it, for any lexer and any code; fields where holding is unsafe are not
held."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ankigen import render
from ankigen.render import _render_full

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "300"))

LEXERS = [
    *("python", "py", "js", "typescript", "c", "cpp", "java", "go", "rust", "bash", "sh"),
    *("html", "xml", "css", "sql", "json", "yaml", "toml", "ini", "diff", "latex", "ruby"),
    *("php", "haskell", "lisp", "markdown", "md", "text", "console", "make", "dockerfile"),
]
# Code: printable ASCII (held), with what HTML and the lexers make something of; now and then
# a character that is not held (non-ASCII, carriage return, form feed, NUL, no-break space).
CODE = st.lists(
    st.one_of(
        st.sampled_from(list("<>&\"'`=#$%\\/*-+ \t\n{}[]();:.,!?@^|~_aZ09")),
        st.sampled_from(["def ", "&amp;", "&quot;", "&#39;", "</pre>", "<b>", "-->", "\ue000"]),
        st.sampled_from(["é", "\r", "\x0c", "\x00", "\u00a0", "日本", "\x7f", "\ue0010\ue001"]),
    ),
    min_size=1,
).map("".join)
# Where a code block stands: alone, between paragraphs, in a list, a quote, a callout, a
# footnote; with raw HTML around it (not held).
PLACES = [
    "{code}",
    "Before **it**.\n\n{code}\n\nAfter [a link](https://e.example/x).",
    "- item\n\n  {indented}\n- next",
    "> quoted\n>\n> {quoted}",
    "> [!tip] Title\n> {quoted}",
    "Text[^1].\n\n[^1]: note\n\n    {indented}",
    "{code}\n\n{code}",
    "<div>\n\n{code}\n\n</div>",
    "<textarea>\n{code}",
    "a <b>bold</b>\n\n{code}",
]


def fence(language: str, code: str) -> str:
    ticks = "````" if "```" in code else "```"
    return f"{ticks}{language}\n{code}\n{ticks}"


def unheld(text: str) -> str:
    return _render_full(text, hold=False)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LEXERS), CODE, st.sampled_from(PLACES))
def test_held_code_renders_as_the_sanitiser_makes_it(language: str, code: str, place: str) -> None:
    block = fence(language, code)
    text = place.format(
        code=block,
        indented=block.replace("\n", "\n  "),
        quoted=block.replace("\n", "\n> "),
    )
    assert _render_full(text) == unheld(text)


@pytest.mark.parametrize("language", LEXERS)
def test_every_lexer_held_on_a_sample(language: str) -> None:
    code = "x = \"a\" + 'b' & c < d > e\n\tif (y) { z(); } # done\n<p>&amp;</p>"
    text = f"Intro.\n\n{fence(language, code)}\n\nEnd."
    assert _render_full(text) == unheld(text)


class _Recorder:
    def __init__(self, cleaner: Any) -> None:
        self.cleaner = cleaner
        self.seen: list[str] = []

    def clean(self, html: str) -> str:
        self.seen.append(html)
        return str(self.cleaner.clean(html))


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("```python\nx = 1\n```", True),
        ("Words.\n\n```python\nx = 'a'\n```\n\n- item", True),
        ("```python\nx = 'é'\n```", False),  # not printable ASCII
        ("<b>raw</b>\n\n```python\nx = 1\n```", False),  # raw HTML around it
        ("```python\nx = '\ue000'\n```", False),  # the place marker itself
        ("```nosuchlang\nx = 1\n```", False),  # not highlighted
    ],
)
def test_held_only_where_safe(monkeypatch: pytest.MonkeyPatch, text: str, held: bool) -> None:
    recorder = _Recorder(render._CLEANER)
    monkeypatch.setattr(render, "_CLEANER", recorder)
    monkeypatch.setattr(render, "clean_plain", lambda html: None)  # every field to nh3
    html = _render_full(text)
    (seen,) = recorder.seen
    assert ("\ue000" in seen and "<span class" not in seen) is held
    monkeypatch.undo()
    assert html == unheld(text)


def test_threads_hold_their_own_code() -> None:
    """Fields rendered at once in threads each get their own code blocks back."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    body = "\n".join(f"    x{i} = f({i})" for i in range(30))
    texts = [f"Field {n}.\n\n```python\ndef g{n}():\n{body}\n```\n\nEnd {n}." for n in range(40)]
    expected = [unheld(text) for text in texts]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often: a shared place would be seen
    try:
        with ThreadPoolExecutor(8) as pool:
            for _ in range(3):
                assert list(pool.map(_render_full, texts)) == expected
    finally:
        sys.setswitchinterval(interval)
