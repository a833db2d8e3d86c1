"""fastmd.clean_plain gives nh3's output (the sanitiser every field goes through) wherever it
answers: on generated HTML of the quick path's tags, nested well and badly, and on fields."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ankigen.fastmd import clean_plain
from ankigen.render import _CLEANER, _render_full

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0")) or 400

TOKENS = st.sampled_from(
    [
        *("<p>", "</p>", "<ul>", "</ul>", "<li>", "</li>", "<strong>", "</strong>"),
        *("<em>", "</em>", "<code>", "</code>", "<pre>", "</pre>", "<span>", "</span>"),
        *("<br />", "<br>", "</a>", "</div>", "<div>", '<img src="a.png" />', "<p"),
        '<a href="https://example.com/a_b#c">',
        '<a href="http://x.org/p.html">',
        '<a href="javascript:alert(1)">',
        '<a href="x.md">',
        '<a href="https://x.org/" title="t">',
        '<span class="wikilink">',
        '<span class="k">',
        '<span class="nf s2">',
        '<span class="">',
        '<span onclick="x">',
        '<div class="highlight">',
        '<code class="language-python">',
        '<code class="language-c++">',
        "<script>",
        "</script>",
        "\n",
        " ",
        "&lt;",
        "&gt;",
        "&amp;",
        "&quot;",
        "&#39;",
        "&#x27;",
        "&nbsp;",
        "&",
        "<",
        ">",
        "\ue0000\ue001",
    ]
)
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="<&"), max_size=6)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.one_of(TOKENS, TEXT), max_size=16))
def test_generated_html_cleans_as_nh3_cleans_it(parts: list[str]) -> None:
    html = "".join(parts)
    cleaned = clean_plain(html)
    if cleaned is not None:
        assert cleaned == _CLEANER.clean(html)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.lists(
        st.sampled_from(["<p>", "</p>", "<ul>\n", "<li>", "</li>\n", "</ul>\n", "x"]), max_size=12
    )
)
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
        "<p>no\xa0break</p>",  # nh3 writes &nbsp;
        "<pre>\nx</pre>",  # the parser drops the newline
        "<p><ul><li>x</li></ul></p>",  # a list closes the paragraph
        '<p><a href="https://a.b/"><a href="https://c.d/">x</a></a></p>',
        "<p>x</p></p>",
        "<p>a\rb</p>",
        '<p><img src="a.png" /></p>',
        "<p><script>x</script></p>",
    ):
        assert clean_plain(html) is None, html


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
