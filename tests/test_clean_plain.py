"""fastmd.clean_plain gives nh3's output (the sanitiser every field goes through) wherever it
answers: on generated HTML of the quick path's tags, nested well and badly, and on fields."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ankigen.fastmd import clean_plain
from ankigen.render import _CLEANER, _render_full

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0")) or 400

# Text with what nh3 changes or keeps: entities, quotes, no-break spaces, controls, markers.
TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            ["&lt;", "&gt;", "&amp;", "&quot;", "&#39;", "&#x27;", "&nbsp;", "&", "<", ">"]
        ),
        st.sampled_from(["\xa0", "\x0b", "\r", "\x85", "\ufffe", '"', "'", "\ue0000\ue001"]),
        st.text(st.characters(codec="utf-8"), max_size=3),
        st.just("word "),
    ),
    max_size=4,
).map("".join)
HREF = st.sampled_from(
    [
        *("https://example.com/a_b#c", "http://x.org/p.html", "javascript:alert(1)", "x.md"),
        *("", "file:///etc/passwd", "ftp://x.org/a", "vbscript:x", "mailto:a"),
    ]
)


@st.composite
def inline_html(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        text = draw(TEXT)
        kind = draw(st.sampled_from(["text", "strong", "em", "code", "a", "span", "br", "img"]))
        if kind in ("strong", "em", "code"):
            parts.append(f"<{kind}>{text}</{kind}>")
        elif kind == "a":
            parts.append(f'<a href="{draw(HREF)}">{text}</a>')
        elif kind == "span":
            cls = draw(st.sampled_from(["wikilink", "k", "", "x y"]))
            parts.append(f'<span class="{cls}">{text}</span>')
        elif kind == "br":
            parts.append("<br />\n")
        elif kind == "img":
            parts.append('<img src="a.png" alt="x" />')
        else:
            parts.append(text)
    return "".join(parts)


@st.composite
def plain_html(draw: st.DrawFn) -> str:
    blocks = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["p", "ul", "div", "pre", "nl"]))
        if kind == "p":
            blocks.append(f"<p>{draw(inline_html())}</p>\n")
        elif kind == "ul":
            items = draw(st.lists(inline_html(), min_size=1, max_size=3))
            blocks.append("<ul>\n" + "".join(f"<li>{i}</li>\n" for i in items) + "</ul>\n")
        elif kind == "div":
            code = draw(TEXT) + f'<span class="{draw(st.sampled_from(["k", "nf s2"]))}">x</span>'
            blocks.append(
                f'<div class="highlight"><pre><span></span><code>{code}</code></pre></div>\n'
            )
        elif kind == "pre":
            cls = draw(st.sampled_from(["", ' class="language-c++"', ' class="x y"']))
            blocks.append(f"<pre><code{cls}>{draw(TEXT)}</code></pre>\n")
        else:
            blocks.append("\n")
    html = "".join(blocks)
    if draw(st.booleans()):  # cut, doubled or misplaced pieces: badly nested HTML
        at, to = sorted(draw(st.tuples(st.integers(0, len(html)), st.integers(0, len(html)))))
        html = draw(st.sampled_from([html[:at] + html[to:], html[:to] + html[at:], html[at:]]))
    return html


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain_html())
def test_generated_html_cleans_as_nh3_cleans_it(html: str) -> None:
    cleaned = clean_plain(html)
    if cleaned is not None:
        assert cleaned == _CLEANER.clean(html)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<ul>\n", "<li>", "</li>\n", "</ul>\n", "x"])))
def test_well_and_badly_nested_blocks(parts: list[str]) -> None:
    html = "".join(parts)
    cleaned = clean_plain(html)
    if cleaned is not None:
        assert cleaned == _CLEANER.clean(html)


def test_the_quick_paths_output_is_answered_and_changed_as_nh3_changes_it() -> None:
    html = (
        '<p>A &quot;quoted&quot; <a href="https://x.org/a#b">link</a> &amp; it&#39;s<br />\n'
        "<code>&lt;b&gt;</code></p>\n"
        "<ul>\n<li><strong>a</strong> <em>b</em></li>\n</ul>\n"
        '<div class="highlight"><pre><span></span><code><span class="k">def</span> f'
        "</code></pre></div>\n"
        '<pre><code class="language-x">a &lt; b "c"\n</code></pre>\n'
    )
    cleaned = clean_plain(html)
    assert cleaned is not None
    assert cleaned == _CLEANER.clean(html)
    assert 'rel="noopener noreferrer"' in cleaned and "<br>" in cleaned and "&quot;" not in cleaned


def test_what_nh3_would_change_otherwise_is_left_to_it() -> None:
    for html in (
        "<p>no\xa0break</p>\n",  # nh3 writes &nbsp;
        "<pre>\nx</pre>\n",  # the parser drops the newline
        "<p><ul><li>x</li></ul></p>\n",  # a list closes the paragraph
        '<p><a href="https://a.b/"><a href="https://c.d/">x</a></a></p>\n',
        "<p>x</p></p>\n",
        "<p>a\rb</p>\n",
        '<p><img src="a.png" /></p>\n',
        "<p><script>x</script></p>\n",
        '<p><a href="file:///etc/passwd">x</a></p>\n',  # the link filter drops the href
        '<p><a href="ftp://x.org/a">x</a></p>\n',  # not a scheme nh3 keeps
    ):
        assert clean_plain(html) is None, html
        assert clean_plain(html.replace("\n", "")) is None, html


FIELDS = st.lists(
    st.sampled_from(
        [
            "Plain words here.",
            'A "quoted" word',
            "It's **strong** and *em* with `a<b>&\"'` code",
            "[a link](https://example.com/x_y#z) and [note](Note.md)",
            "- one\n- two `x`",
            '```python\ndef f(x):\n    return "<%s>" % x\n```',
            "```\nraw <b> & 'q'\n```",
            "```nosuchlang\nx\n```",
            "![pic](a.png)",
            "line one\nline two",
            "no\u00a0break space",
            "a | b\n--|--\n1 | 2",
            "<b>raw</b> html",
        ]
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FIELDS, st.sampled_from(["\n\n", "\n"]))
def test_fields_render_as_with_nh3_throughout(blocks: list[str], separator: str) -> None:
    from unittest import mock

    from ankigen import render

    text = separator.join(blocks)
    with mock.patch.object(render, "clean_plain", lambda html: None):
        expected = _render_full(text)
    assert _render_full(text) == expected


def _cpu(run: Callable[[str], object], argument: str) -> float:
    """The least CPU time of three runs (CPU time: other processes on the machine do not count)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        run(argument)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "<p>" + "<strong>a</strong>" * n + "<em>",  # fails at the end
        lambda n: "<p>" + "a" * n + "</p>",  # no newline after it
        lambda n: "<ul>\n" + "<li>a</li>\n" * n + "</ul>",
        lambda n: (
            '<div class="highlight"><pre><span></span><code>' + '<span class="k">x</span>' * n
        ),
        lambda n: "<p>" + "&quot;" * n + "&",
        lambda n: "<p>x</p>\n" * n + "<p>",
    ],
)
def test_clean_plain_is_linear(make: Callable[[int], str]) -> None:
    """Linear work on 10 n is 10 times that on n, quadratic 100 times: a generous bound."""
    small, large = make(5_000), make(50_000)
    assert _cpu(clean_plain, large) < 40 * _cpu(clean_plain, small) + 0.25
