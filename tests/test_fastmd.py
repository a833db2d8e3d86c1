"""The quick Markdown path (fastmd.py) gives exactly mistune's HTML, or leaves the field to it."""

from __future__ import annotations

import mistune
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ankigen.fastmd import quick_html
from ankigen.render import _MARKDOWN, _build_markdown, render_markdown

# mistune's own parsing throughout: no quick path, no ankigen block or link shortcuts.
MISTUNE_ONLY = _build_markdown(fast=False)


def full(text: str) -> str:
    """What the same parser makes of the field without the quick path."""
    return mistune.Markdown.__call__(_MARKDOWN, text)


def quick(text: str) -> str | None:
    return quick_html(text, _MARKDOWN.renderer)


# Fields the quick path must take (the shapes most cards are made of).
TAKEN = [
    "What does `flush()` do to the **cache** in heap stack (note 1, card 2)?",
    "How does `lease.merge(x)` interact with the *token*?",
    "The **edge** iterator closure using `compact()`; see [the docs](https://example.org/a/b#0).\n"
    "\n- **replica**: trie nonce buffer\n- closure rollback graph\n- kernel via `hash_key(57)`\n"
    "\nRemember: *socket graph generator pipeline*.",
    "Intro line.\nSecond line, with a break.\n\n```python\ndef f(items):\n    return [i for i in"
    " items if i > 3]\n```\n\n![edge diagram](assets/f00_img1.png)\n\nAfter the picture.",
    "```\nplain code <b> & stuff\n\n  indented\n```",
    "```bash\nls -la | grep x\n```\nText right after the fence.",
    "Words \"quoted\" and 'single' (paren) / slash - dash + plus; done!",
    "[a link](Other.md) and [web](https://x.example/path) and ![](pic.png)",
    "`a*b*c` and `x_y` and `<tag>` and `a & b` and `\\n`",
    "Ünïcödé wörds ok, 日本語 too.",
    "2024 was a year.\n(aside) line\n'quoted' line\n\"double\" line",
    "**Bold** start and *em* end",
    "a**b**c and x*y*z",
    "Why is a **trie** needed for index rollback replica? [0.7]",
    "a [b c] d and [ab] [cd]\n\n- item [x] y",
    # "#" before digits and dashes is no tag (Obsidian's tags hold a letter): a card's number.
    "How does `a.b(x)` interact with the *nonce*? #80-6",
    "C# and F# code, issue #1984, range #1-2 and #-, #",
    "- item #12\n- **bold** #3-4-5",
]

# Fields it must leave to mistune (each differs from plain text in a way that matters).
LEFT = [
    "1. numbered",
    "- bullet\n  continued",
    "- a\n\n- b",
    "- a\ntext",
    "Title\n===",
    "para\n---",
    "see http://example.com",
    "a & b",
    "50% off",
    "    indented code",
    "\u00a0nbsp start",
    "trailing space ",
    "tab\there",
    "***bold em***",
    "**a***b*",
    "* star bullet",
    "#tag here",
    "# heading",
    "> quote",
    "a | b\n--|--\n1 | 2",
    "[[wikilink]]",
    "![[embed.png]]",
    "[^1] footnote",
    "$x$ math",
    "==mark==",
    "~~strike~~",
    "%%comment%%",
    "snake_case",
    "`unclosed code",
    "**unclosed bold",
    "```python\nunclosed fence",
    "```\n```",
    "```\n````\n```",
    "[x](url with space)",
    "![a|300](x.png)",
    "line\r\nwindows",
    "a\\*b",
    "<b>html</b>",
    "[bracket",
    "- [x] done",
    "- [ ] open",
    "[ab]\n\n[ab]: x.md",
    "[a][b]",
    "[a [b] c]",
    "a #tag",
    "x #1a and more",
    "#1 at the start",
    "a #1/2 b",
    "a #-x",
    "a #1_2",
    "a#b",
]


@pytest.mark.parametrize("text", TAKEN)
def test_plain_fields_take_the_quick_path_and_give_mistunes_html(text: str) -> None:
    html = quick(text)
    assert html is not None
    assert html == full(text) == MISTUNE_ONLY(text)


@pytest.mark.parametrize("text", LEFT)
def test_other_fields_are_left_to_mistune(text: str) -> None:
    assert quick(text) is None
    assert _MARKDOWN(text) == full(text)


def test_render_markdown_uses_the_quick_path_with_the_same_result() -> None:
    text = TAKEN[2]
    assert render_markdown(text) == render_markdown(text + "\n")
    assert _MARKDOWN(text) == full(text)


# ---------------------------------------------------------------- generated fields

WORD = st.sampled_from(["cache", "Heap", "x1", "2024", "é", "日本", "a", "Z9", "#0-1", "C#", "#"])
PUNCT = st.sampled_from([" ", ", ", ". ", ": ", "; ", "? ", "! ", "'", '"', "(", ")", "/", "-"])
URL = st.sampled_from(["https://e.example/a#b", "Note.md", "x.png", "a/b_c.png", "#h", "ftp:x"])
# Pieces that start other syntax, or break the quick path's rules, mixed in on purpose.
NOISE = st.sampled_from(
    ["*", "**", "`", "[", "]", "_", "#", "~", "=", "|", "<", "&", "\\", "$", "%", ">", "^", "!",
     "\t", " \n", "://", "1. ", "- ", "* ", "\n", "\n\n", "```", "\u00a0", "***"]
)  # fmt: skip


@st.composite
def inline(draw: st.DrawFn, noise: bool) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        kinds = ["w", "w", "p", "code", "strong", "em", "link", "img", "bracket", "n"]
        kind = draw(st.sampled_from(kinds))
        word = draw(WORD)
        if kind == "w":
            parts.append(word)
        elif kind == "p":
            parts.append(draw(PUNCT))
        elif kind == "code":
            parts.append(
                "`" + draw(st.sampled_from(["f()", "a*b", "x_y", "<t>", "a & b", " s"])) + "`"
            )
        elif kind == "strong":
            parts.append(f"**{word}{draw(PUNCT)}{draw(WORD)}**")
        elif kind == "em":
            parts.append(f"*{word}*")
        elif kind == "link":
            parts.append(f"[{word}]({draw(URL)})")
        elif kind == "bracket":
            parts.append(f"[{draw(st.sampled_from(['x', ' ', '0.7', word, 'a b']))}]")
        elif kind == "img":
            parts.append(f"![{draw(st.sampled_from(['', word]))}]({draw(URL)})")
        elif noise:
            parts.append(draw(NOISE))
    return "".join(parts)


@st.composite
def fields(draw: st.DrawFn) -> str:
    noise = draw(st.booleans())
    blocks = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["para", "para", "list", "code"]))
        if kind == "para":
            lines = draw(st.lists(inline(noise), min_size=1, max_size=3))
            blocks.append("\n".join(lines))
        elif kind == "list":
            items = draw(st.lists(inline(noise), min_size=1, max_size=4))
            blocks.append("\n".join("- " + item for item in items))
        else:
            info = draw(st.sampled_from(["", "python", "js", "nosuchlang"]))
            body = draw(
                st.lists(st.sampled_from(["x = 1", "  y <b>", "", "\tz", "`q`"]), min_size=1)
            )
            blocks.append(f"```{info}\n" + "\n".join(body) + "\n```")
    separator = draw(st.sampled_from(["\n\n", "\n\n", "\n", "\n\n\n"]))
    return separator.join(blocks) + draw(st.sampled_from(["", "\n", "\n\n"]))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields())
def test_generated_fields_quick_or_not_render_as_mistune_does(text: str) -> None:
    html = quick(text)
    if html is not None:
        assert html == full(text) == MISTUNE_ONLY(text)


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from("ab *`[]()!-_#\n:/.é\t1٣")))
def test_any_text_quick_or_not_renders_as_mistune_does(text: str) -> None:
    html = quick(text)
    if html is not None:
        assert html == full(text) == MISTUNE_ONLY(text)
