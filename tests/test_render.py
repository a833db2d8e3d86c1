"""Tests of the render stage: Obsidian Markdown of one card field → sanitised HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ankigen.render import _build_markdown, _render_full, pygments_css, render_markdown

REPO = Path(__file__).resolve().parent.parent


class _Elements(HTMLParser):
    """Collects every start tag with its attributes, and the text outside tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


def tags(html: str, name: str) -> list[dict[str, str | None]]:
    """Attributes of every <name> element in html."""
    return [attrs for tag, attrs in parse(html).elements if tag == name]


def text_of(html: str) -> str:
    return "".join(parse(html).text).strip()


def spans(html: str, cls: str = "wikilink") -> list[str]:
    """Texts of <span class="cls"> elements (no nested markup expected)."""
    return re.findall(r'<span class="' + re.escape(cls) + r'">(.*?)</span>', html)


# ---------------------------------------------------------------- the seed note's fields

SEED_ANSWER_LIST = """\
Amazon Machine Images are a customization of EC2 instances.
- Add your software, config, OS, monitoring etc.
- #UseCase pre-configured, faster initialization.
- AMIs are built for specific [[Regions]]. You can copy AMI across Regions."""

# As written in the note, trailing spaces included.
SEED_USECASE = (
    "1. Start an [[EC2]] instance\n"
    "2. customize it, \n"
    "3. stop the instance, \n"
    "4. build an AMI - \n"
    "5. this will create [[EBS]] snapshots\n"
    "6. Launch instance.\n"
    "\n"
    "![AMI Lifecycle](https://docs.aws.amazon.com/images/AWSEC2/latest/UserGuide/images/"
    "ami_lifecycle.png)"
)

SEED_ANSWER_PICTURE = """\
Use the `no reboot` option to take a snapshot.
![[AMI EBS Snapshots No Reboot.png]]
Fig. No Reboot Snapshots are supported"""

SEED_QUESTION_LINKS = (
    "You can use an AMI in N.Virginia [Region](Region.md) us-east-1 to launch an [[EC2]] "
    "instance in any AWS [[Region]]. True or False? "
)


def test_plain_question_is_one_paragraph() -> None:
    assert render_markdown("What are AMIs used for?") == "<p>What are AMIs used for?</p>\n"


def test_seed_answer_with_list() -> None:
    html = render_markdown(SEED_ANSWER_LIST)
    assert html.startswith("<p>Amazon Machine Images are a customization of EC2 instances.</p>")
    assert len(tags(html, "ul")) == 1
    assert len(tags(html, "li")) == 3
    assert spans(html) == ["Regions"]
    assert spans(html, "tag") == ["#UseCase"]
    assert "[[" not in html and "<a" not in html


def test_seed_use_case_steps_and_remote_picture() -> None:
    html = render_markdown(SEED_USECASE)
    assert len(tags(html, "li")) == 6
    assert spans(html) == ["EC2", "EBS"]
    assert tags(html, "img") == [
        {
            "src": "https://docs.aws.amazon.com/images/AWSEC2/latest/UserGuide/images/ami_lifecycle.png",
            "alt": "AMI Lifecycle",
        }
    ]


def test_seed_answer_with_embedded_picture_keeps_its_lines() -> None:
    html = render_markdown(SEED_ANSWER_PICTURE)
    assert html == (
        "<p>Use the <code>no reboot</code> option to take a snapshot.<br>\n"
        '<img src="AMI%20EBS%20Snapshots%20No%20Reboot.png" alt="AMI EBS Snapshots No Reboot.png">'
        "<br>\nFig. No Reboot Snapshots are supported</p>\n"
    )


def test_seed_question_links_to_notes_become_text() -> None:
    html = render_markdown(SEED_QUESTION_LINKS)
    assert spans(html) == ["Region", "EC2", "Region"]
    assert "<a" not in html and "href" not in html and ".md" not in html
    assert text_of(html) == (
        "You can use an AMI in N.Virginia Region us-east-1 to launch an EC2 "
        "instance in any AWS Region. True or False?"
    )


# ---------------------------------------------------------------- GFM features


def test_table_with_alignment_and_escaped_pipe_in_wikilink() -> None:
    html = render_markdown("| a | b |\n|:-|-:|\n| [[Note\\|alias]] | **x** |")
    assert [t for t, _ in parse(html).elements if t in ("table", "th", "td")] == [
        "table",
        "th",
        "th",
        "td",
        "td",
    ]
    assert tags(html, "th")[0] == {"style": "text-align:left"}
    assert spans(html) == ["alias"]
    assert "<strong>x</strong>" in html


def test_strikethrough_highlight_and_task_list() -> None:
    html = render_markdown("~~old~~ ==key== point\n\n- [ ] open\n- [x] done")
    assert "<del>old</del> <mark>key</mark> point" in html
    boxes = tags(html, "input")
    assert [b.get("type") for b in boxes] == ["checkbox", "checkbox"]
    assert ["checked" in b for b in boxes] == [False, True]
    assert all("disabled" in b for b in boxes)


def test_bare_and_angle_autolinks() -> None:
    html = render_markdown("See https://example.com/a_b?x=1. Or <https://example.org>.")
    hrefs = [a["href"] for a in tags(html, "a")]
    assert hrefs == ["https://example.com/a_b?x=1", "https://example.org"]
    assert "<em>" not in html


def test_footnotes() -> None:
    html = render_markdown("Claim[^1].\n\n[^1]: The source.")
    assert '<sup class="footnote-ref"' in html
    assert '<section class="footnotes">' in html
    assert "The source." in text_of(html)
    assert "[^1]" not in html


def test_empty_field_renders_nothing() -> None:
    assert render_markdown("") == ""
    assert render_markdown("  \n\n") == ""


# ---------------------------------------------------------------- math


def test_inline_math_keeps_underscores_asterisks_and_backslashes() -> None:
    html = render_markdown(r"Energy $E_k = m_1 * v_2^2 \cdot \frac{1}{2}$ here")
    assert html == "<p>Energy \\(E_k = m_1 * v_2^2 \\cdot \\frac{1}{2}\\) here</p>\n"


def test_display_math_block_and_inline() -> None:
    block = render_markdown("Formula:\n$$\n\\sum_{i=1}^{n} a_i * b_i\n$$\nafter")
    assert "\\[\\sum_{i=1}^{n} a_i * b_i\\]" in block
    assert "<em>" not in block and "after" in block
    inline = render_markdown("so $$x_1 = y_1$$ holds")
    assert inline == "<p>so \\[x_1 = y_1\\] holds</p>\n"


def test_math_is_html_escaped() -> None:
    assert render_markdown("$a<b$") == "<p>\\(a&lt;b\\)</p>\n"


@pytest.mark.parametrize(
    "text",
    ["It costs $5 and $10.", "Pay $ 5 now", "from $5 to $10 off", "a $x $ b", "USD$", "$5$6"],
)
def test_dollar_signs_in_prose_are_not_math(text: str) -> None:
    html = render_markdown(text)
    assert "\\(" not in html and "\\[" not in html
    assert text_of(html) == text


# ---------------------------------------------------------------- Obsidian: callouts


def test_callout_with_title_fold_marker_and_body() -> None:
    html = render_markdown("> [!tip]- Remember *this*\n> Body line\n> - item")
    assert html.startswith('<div class="callout callout-tip">\n')
    assert '<div class="callout-title">Remember <em>this</em></div>' in html
    content = html.split('<div class="callout-content">', 1)[1]
    assert "Body line" in content and "<li>item</li>" in content
    assert "[!tip]" not in html and "<blockquote>" not in html


def test_callout_without_title_uses_its_type() -> None:
    html = render_markdown("> [!warning]\n> Careful")
    assert '<div class="callout-title">Warning</div>' in html
    assert '<div class="callout callout-warning">' in html


def test_unknown_callout_type_gets_generic_box_and_css_has_known_types() -> None:
    html = render_markdown("> [!Mnemonic] Trick\n> text")
    assert '<div class="callout callout-mnemonic">' in html
    css = (REPO / "assets" / "markdown.css").read_text()
    assert ".callout {" in css
    for kind in ("tip", "warning", "danger", "example", "question", "quote"):
        assert ".callout-" + kind in css


def test_plain_blockquote_stays_a_blockquote() -> None:
    assert render_markdown("> just a quote") == "<blockquote>\n<p>just a quote</p>\n</blockquote>\n"


def test_callout_inside_a_list() -> None:
    html = render_markdown("1. step\n   > [!note] N\n   > inside")
    assert '<div class="callout callout-note">' in html
    assert html.index("<li>") < html.index("callout-note")


# ---------------------------------------------------------------- Obsidian: comments, block ids


def test_comments_inline_and_multiline_are_dropped() -> None:
    html = render_markdown("keep %%secret%% this\n\n%%\nhidden\n\nstill hidden\n%%\nshown")
    assert "secret" not in html and "hidden" not in html and "%%" not in html
    assert "keep" in html and "this" in html and "shown" in html


def test_comment_inside_code_stays() -> None:
    html = render_markdown("`%%not a comment%%`")
    assert html == "<p><code>%%not a comment%%</code></p>\n"


def test_unclosed_comment_hides_the_rest_as_in_obsidian() -> None:
    # Obsidian's reading view hides everything after a %% that is never closed (the splitter
    # warns about it with the line); "50%% off" in inline code is text.
    assert text_of(render_markdown("50%% off\n\nmore")) == "50"
    assert text_of(render_markdown("`50%% off`\n\nmore")) == "50%% off\nmore"


def test_block_ids_are_dropped() -> None:
    html = render_markdown("A fact. ^abc123\n\n- item ^x-1\n- other\n\n^list-id")
    assert "^" not in html and "abc123" not in html and "list-id" not in html
    assert "<p>A fact.</p>" in html
    assert "<li>item</li>" in html


def test_caret_inside_text_is_not_a_block_id() -> None:
    assert text_of(render_markdown("x^2 grows")) == "x^2 grows"


# ---------------------------------------------------------------- code


def test_code_fence_is_highlighted_and_question_marker_stays_text() -> None:
    html = render_markdown("```python\n#Question not a card\nx = 1\n```")
    assert html.startswith('<div class="highlight"><pre>')
    assert "#Question not a card" in text_of(html)
    assert '<span class="c1">' in html  # Pygments' comment token
    assert "tag" not in html


def test_unknown_language_is_plain_escaped_code() -> None:
    html = render_markdown("```nosuchlang\n<b>&</b>\n```")
    assert (
        html == '<pre><code class="language-nosuchlang">&lt;b&gt;&amp;&lt;/b&gt;\n</code></pre>\n'
    )


def test_css_carries_the_pygments_rules() -> None:
    css = (REPO / "assets" / "markdown.css").read_text()
    assert pygments_css() in css
    assert ".highlight .k " in css and ".nightMode .highlight" in css


# ---------------------------------------------------------------- links


@pytest.mark.parametrize(
    ("markdown", "shown"),
    [
        ("[[Note]]", "Note"),
        ("[[Note|alias]]", "alias"),
        ("[[Note#Heading]]", "Note › Heading"),
        ("[[Note#H1#H2]]", "Note › H1 › H2"),
        ("[[#Heading]]", "Heading"),
        ("[[Note^block]]", "Note"),
        ("[[Note#^block]]", "Note"),
        ("[[Note.md]]", "Note"),
        ("[[folder/Note|Shown]]", "Shown"),
        ("[[a<b]]", "a&lt;b"),
    ],
)
def test_wikilink_variants(markdown: str, shown: str) -> None:
    html = render_markdown("see " + markdown)
    assert html == '<p>see <span class="wikilink">' + shown + "</span></p>\n"


@pytest.mark.parametrize(
    "markdown", ["[Region](Region.md)", "[Region](../a/b.md#h)", "[Region](<My Notes/Region.md>)"]
)
def test_markdown_links_to_notes_become_text(markdown: str) -> None:
    assert render_markdown(markdown) == '<p><span class="wikilink">Region</span></p>\n'


def test_external_links_stay_links() -> None:
    html = render_markdown('[docs](https://example.com/x?a=1&b=2 "Title") [m](mailto:a@b.c)')
    assert tags(html, "a") == [
        {"href": "https://example.com/x?a=1&b=2", "title": "Title", "rel": "noopener noreferrer"},
        {"href": "mailto:a@b.c", "rel": "noopener noreferrer"},
    ]


# ---------------------------------------------------------------- embeds


@pytest.mark.parametrize(
    ("markdown", "img"),
    [
        ("![[x.png]]", {"src": "x.png", "alt": "x.png"}),
        ("![[x.png|300]]", {"src": "x.png", "alt": "x.png", "width": "300"}),
        (
            "![[x.PNG|300x200]]",
            {"src": "x.PNG", "alt": "x.PNG", "width": "300", "height": "200"},
        ),
        ("![[dir/x.png|A chart]]", {"src": "dir/x.png", "alt": "A chart"}),
        ("![alt](relative/x.png)", {"src": "relative/x.png", "alt": "alt"}),
        ("![alt|300](x.png)", {"src": "x.png", "alt": "alt", "width": "300"}),
        ("![alt|30x20](x.jpeg)", {"src": "x.jpeg", "alt": "alt", "width": "30", "height": "20"}),
        ("![alt](https://host/x.png)", {"src": "https://host/x.png", "alt": "alt"}),
        ("![badge](https://host/badge)", {"src": "https://host/badge", "alt": "badge"}),
        ('<img src="pics/y.webp" width="50">', {"src": "pics/y.webp", "width": "50"}),
        (
            "![d](data:image/png;base64,iVBORw0K)",
            {"src": "data:image/png;base64,iVBORw0K", "alt": "d"},
        ),
    ],
)
def test_every_embed_form_becomes_an_img(markdown: str, img: dict[str, str]) -> None:
    assert tags(render_markdown(markdown), "img") == [img]


@pytest.mark.parametrize(
    ("markdown", "src"),
    [
        ("![[AMI EBS Snapshots No Reboot.png]]", "AMI%20EBS%20Snapshots%20No%20Reboot.png"),
        ("![[100% done.png]]", "100%25%20done.png"),
        ("![[Überblick.png]]", "%C3%9Cberblick.png"),
        ("![x](<my pic.png>)", "my%20pic.png"),
        ("![x](my%20pic.png)", "my%20pic.png"),
    ],
)
def test_file_names_are_percent_encoded(markdown: str, src: str) -> None:
    assert [i["src"] for i in tags(render_markdown(markdown), "img")] == [src]


def test_every_image_extension_is_a_picture() -> None:
    for ext in ("png", "jpg", "jpeg", "gif", "bmp", "svg", "webp", "avif", "tif", "tiff", "ico"):
        for name in (f"a.{ext}", f"a.{ext.upper()}"):
            assert tags(render_markdown(f"![[{name}]]"), "img") == [{"src": name, "alt": name}]


@pytest.mark.parametrize(
    ("markdown", "shown"),
    [
        ("![[Other note]]", "Other note"),
        ("![[Note#Heading]]", "Note › Heading"),
        ("![[doc.pdf]]", "doc.pdf"),
        ("![slides](slides.pdf)", "slides"),
    ],
)
def test_embeds_that_are_not_pictures_become_text(markdown: str, shown: str) -> None:
    html = render_markdown(markdown)
    assert html == '<p><span class="wikilink embed">' + shown + "</span></p>\n"


def test_file_scheme_picture_survives_for_the_media_stage() -> None:
    html = render_markdown('![f](file:///tmp/x.png) <img src="file:///tmp/y.png">')
    assert [i["src"] for i in tags(html, "img")] == ["file:///tmp/x.png", "file:///tmp/y.png"]


def test_other_scheme_picture_keeps_its_target_percent_encoded() -> None:
    html = render_markdown("![w](ftp://host/x.png) <img src='C:/pics/a b.png'>")
    assert [i["src"] for i in tags(html, "img")] == ["ftp%3A//host/x.png", "C%3A/pics/a%20b.png"]


# ---------------------------------------------------------------- sanitising


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src="x.png" onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        '<a href="JaVaScRiPt:alert(1)">click</a>',
        '<a href="java\tscript:alert(1)">click</a>',
        '<a href="&#106;avascript:alert(1)">click</a>',
        '<a href="vbscript:msgbox(1)">click</a>',
        "![x](javascript:alert(1))",
        '<img src="javascript:alert(1)">',
        "<iframe src='https://evil.example'></iframe>",
        "<style>body{display:none}</style>",
        "<svg onload=alert(1)></svg>",
        '<div onclick="alert(1)" style="background:url(javascript:alert(1))">x</div>',
        '<a href="data:text/html,<script>alert(1)</script>">d</a>',
        "<form action='https://evil.example'><input type='submit'></form>",
    ],
)
def test_xss_attempts_are_neutralised(attack: str) -> None:
    html = render_markdown("text " + attack)
    lowered = html.lower()
    for bad in ("<script", "<iframe", "<style", "<svg", "<form", "onerror", "onclick", "onload"):
        assert bad not in lowered
    assert "javascript:" not in lowered and "vbscript:" not in lowered
    for tag, attrs in parse(html).elements:
        assert not (tag == "a" and (attrs.get("href") or "").startswith("data:"))
        # a stray <input> may stay, but only ever as a checkbox or a typeless box
        assert not (tag == "input" and attrs.get("type", "checkbox") != "checkbox")


def test_script_content_is_removed_not_shown() -> None:
    assert text_of(render_markdown("a<script>alert(1)</script>b")) == "ab"


def test_file_and_unknown_scheme_links_lose_their_href() -> None:
    html = render_markdown('[f](file:///etc/passwd) <a href="file:///etc/passwd">g</a>')
    assert "href" not in html
    assert text_of(html) == "f g"


def test_safe_inline_html_is_kept() -> None:
    html = render_markdown(
        "Press <kbd>Ctrl</kbd>, H<sub>2</sub>O, x<sup>2</sup>, <b>b</b> <i>i</i> <u>u</u>"
        '<br><span class="hint">h</span>\n\n'
        "<details><summary>More</summary>\n\nHidden\n\n</details>"
    )
    for snippet in (
        "<kbd>Ctrl</kbd>",
        "<sub>2</sub>",
        "<sup>2</sup>",
        "<b>b</b>",
        "<i>i</i>",
        "<u>u</u>",
        '<span class="hint">h</span>',
        "<details><summary>More</summary>",
        "<p>Hidden</p>",
    ):
        assert snippet in html


def test_nothing_references_a_local_file_but_img() -> None:
    html = render_markdown(
        "[a](a.md) [b](files/b.pdf) [c](#Heading) ![[d.pdf]] ![[e.png]] [[f]] [g](g%20h.md)"
    )
    for tag, attrs in parse(html).elements:
        if tag == "img":
            continue
        assert "href" not in attrs and "src" not in attrs, (tag, attrs)
    assert [i["src"] for i in tags(html, "img")] == ["e.png"]


# ---------------------------------------------------------------- fast path, determinism


PLAIN_FIELDS = [
    "What are AMIs used for?",
    "True or False?",
    "What is EC2 used for, and why?",
    'He said "hi" and it\'s fine; ok/not: yes!',
    "A (parenthesised) aside - with dashes - and commas, periods.",
    "Überprüfung der Größe: ja oder nein?",
    "Что такое AMI?",
    "Trailing spaces   ",
    "Trailing newline\n",
    "Trailing blank lines\n\n\n",
    "Internal  double  spaces",
    "x",
    "Q: Which region is us-east-1?",
    "Numbers 1, 2 and 3.5 inside",
    "Ends with a colon:",
    "Is it EC2/EBS?",
]


# Texts that look plain but are not (lists, setext headings, URLs, entities, code, nbsp)
# must fall through to mistune; either way the bytes must be mistune's.
LOOK_ALIKES = [
    "1. numbered",
    "- bullet",
    "Title\n===",
    "see http://example.com",
    "a & b",
    "50% off",
    "    indented code",
    "\u00a0nbsp start",
    "Hello world\u00a0",
]


@pytest.mark.parametrize("text", PLAIN_FIELDS + LOOK_ALIKES)
def test_fast_path_gives_exactly_the_full_paths_bytes(text: str) -> None:
    assert render_markdown(text) == _render_full(text)


def test_output_is_deterministic() -> None:
    text = SEED_ANSWER_LIST + "\n\n```python\nx = 1\n```\n\n> [!tip] T\n> b\n\n$a_1$ ![[p q.png|3]]"
    first = render_markdown(text)
    assert all(render_markdown(text) == first for _ in range(3))


# ---------------------------------------------------------------- speed-ups change nothing

# mistune's own parsing, without ankigen's link and paragraph fast paths.
_MISTUNE_ONLY = _build_markdown(fast=False)

SPEEDUP_CORPUS = [
    SEED_ANSWER_LIST,
    SEED_USECASE,
    SEED_ANSWER_PICTURE,
    SEED_QUESTION_LINKS,
    "[a](https://x.example/a_b) and ![p](y.png) and [c](d.md)",
    "[a [b](c) d](https://e)",
    "[outer ![img](x.png)](https://e.example)",
    "[a ![b](c.png) d](e.md) [x](y) [c [d](https://e.example)](f)",
    "![a](b.png)](c) [[x]](y) ![[z.png]](w) [a]](b)",
    "*[a](https://b.example)* and **[c](d)**",
    '[t](https://u.example "Title") [e]() [](https://v.example) [a](<b c.md>) [p](b(c).md)',
    "\\[a](b) `[c](d)` [e](f)] [g](h))",
    "[x][ref]\n\n[ref]: https://ref.example",
    "![a|300](x.png)![b](y.png)[c](z.md)",
    "[a](https://x.example/?q=1&r=2) [b](https://y.example/a\\_b)",
    "**Bold** start\n*emphasis* line\n![[x.png]]\n[[Note]] line\n`code` line\n(paren) line",
    "![x](y.png)\n---\n**setext?**\n===",
    "*a\n- b\n> c\n1. d\n# e\n| f | g |\n|---|---|\n| h | i |",
    "$x$ starts\n%%c%% starts\n^id\n!bang\n[bracket",
    "para\n\u00a0\nafter nbsp line",
    "> [!tip] T\n> [a](b.md) **x**\n> ![i](i.png)",
    "- [a](https://a.example)\n- ![b](b.png)\n  [c](c.md) more",
    "| [a](https://a.example) | ![b](b.png) |\n|---|---|\n| **c** | [d](d.md) |",
    "Text[^1] [a](https://a.example)\n\n[^1]: [fn](https://f.example)",
]


@pytest.mark.parametrize("text", SPEEDUP_CORPUS)
def test_fast_paths_give_the_same_html_as_mistune_alone(text: str) -> None:
    assert _render_full(text) == _render_full(text, _MISTUNE_ONLY)
