"""Property tests: random notes made of real-world pieces, random Markdown for the renderer.

The invariant: every #Question / #Q / #UseCase marker outside fenced code becomes exactly one
card or at least one file:line message naming its line; no field holds "[[", "%%" (outside
code), a marker or an empty back; nothing raises. `make test` runs a few hundred examples,
`make fuzz` (ANKIGEN_FUZZ_EXAMPLES) thousands.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ankiutil
from conftest import write_vault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_build import run_build

from ankigen import obsidian
from ankigen.render import _CLEANER, render_markdown
from ankigen.shown import shows_nothing
from ankigen.syntax import SyntaxSettings, read_note

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))


def examples(default: int, fuzz_cap: int = 1_000_000) -> settings:
    return settings(
        max_examples=min(EXAMPLES, fuzz_cap) or default,
        deadline=None,  # no timed tests: the hostile-input tests guard against hangs
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=not EXAMPLES,  # make test: the same examples on every run
    )


# ---------------------------------------------------------------- note pieces

MARKER_LINE = re.compile(
    r"^[\s\u200b\u2060\ufeff]*#(?:question|q|usecase)(?![\w/-])", re.IGNORECASE | re.MULTILINE
)

INDENTS = [
    "",
    "",
    " ",
    "  ",
    "\t",
    "\t\t",
    "\u00a0",
    "\u00a0\u00a0",
    "\u2003",
    "    ",
    " \t",
    "\u200b",
]
MARKERS = ["#Q", "#Question", "#q", "#QUESTION", "#Q:", "#Question:", "#Q.", "#UseCase"]
WORDS = ["What", "is", "an", "[[AMI]]", "**bold**", "`code`", "$x^2$", "#tag", "[[EC2|instance]]"]
TEXT_LINES = [
    "plain words",
    "- a list item with [[Link]]",
    "\t- a tab-indented item",
    "    - a deeper item",
    "1. numbered",
    "> a quote",
    "> > a nested quote",
    "| a | b |",
    "|---|---|",
    "| 1 | 2 |",
    "$$x = y$$",
    "$a + b$ inline math",
    "50% of the time",
    "`%%` in code",
    "a line with #inline/tag",
    "![[picture.png]]",
    "[site](https://example.com)",
    "<b>html</b>",
    "text with trailing spaces   ",
    "",
    "",
]
ANSWER_FORMS = [
    "Answer:",
    "Answer: {text}",
    "**Answer:**",
    "**Answer:** {text}",
    "**Answer**: {text}",
    "> Answer: {text}",
    "answer : {text}",
    "__Answer:__",
    "",  # no Answer: marker at all
]


MUST, NEVER, MAYBE = "must", "never", "maybe"  # a line must, must not, or may be a card
CODE = "code"  # a marker in fenced code: NEVER, unless a stray %% before made it prose
STRAY = "stray"  # a %% that opens a comment whose end is some later %% (in code or not)


@dataclass
class Note:
    """A generated note: its text, the 1-based lines of markers outside fenced code, and the
    lines that may make a card or not (marker-like lines in code that is ambiguously fenced)."""

    text: str
    markers: list[int]
    maybe: list[int]
    # Markers after a stray %%: its comment may end inside a later fence and shift which
    # fences pair up; such a marker may be in fenced code (as the scanner finds it).
    unsure: list[int]


line_text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
# Random lines of Markdown punctuation: anything but a marker.
noise = st.text(alphabet=st.sampled_from("`~%$#>*-_[]()!|\\ \taQ:^<=\u00a0"), max_size=30).filter(
    # (and none that a comment's end could turn into one: "%%#Q")
    lambda text: not MARKER_LINE.match(text) and not ("%%" in text and "#" in text)
)
Piece = tuple[list[tuple[str, str]], bool]  # (line, MUST/NEVER/MAYBE), and "the note may go on"


@st.composite
def card_piece(draw) -> Piece:
    """One card as people write it."""
    indent = draw(st.sampled_from(INDENTS))
    marker = draw(st.sampled_from(MARKERS))
    question = draw(st.one_of(st.just(""), line_text))
    lines = [(f"{indent}{marker} {question}".rstrip(" ") if question else indent + marker, MUST)]
    if marker == "#UseCase" and not question and draw(st.booleans()):
        lines.append((draw(line_text), NEVER))
    form = draw(st.sampled_from(ANSWER_FORMS))
    if form:
        answer_indent = draw(st.sampled_from([indent, indent, ""]))
        lines.append((answer_indent + form.format(text=draw(line_text)), NEVER))
    body_indent = draw(st.sampled_from([indent, indent + "\t", "", "\t"]))
    quote = "> " if form.startswith(">") else ""
    for text in draw(st.lists(st.one_of(st.sampled_from(TEXT_LINES), noise), max_size=6)):
        # Noise may open a comment or a fence: what follows is then uncertain.
        status = STRAY if "%%" in text or "``" in text or "~~" in text else NEVER
        lines.append((body_indent + quote + text if text else "", status))
    return lines, True


@st.composite
def fence_piece(draw) -> Piece:
    """A fenced block with marker-like lines in it, closed or not, indented or not."""
    indent = draw(st.sampled_from(["", "", "  ", "   ", "> ", "\t", "    "]))
    # Four columns of indentation make a fence only inside a list item: either may happen.
    inside = MAYBE if indent in ("\t", "    ") else ""
    fence = draw(st.sampled_from(["```", "~~~", "````", "```python"]))
    lines = [(indent + fence, NEVER)]
    for text in draw(st.lists(st.sampled_from(["#Q not a card", "code()", "%%", "Answer: x"]))):
        if text == "%%":  # a comment when the fence is none
            lines.append((indent + text, STRAY if inside else NEVER))
        else:
            lines.append((indent + text, inside if text.startswith("#Q") and inside else CODE))
    closed = draw(st.booleans())
    if closed:
        lines.append((indent + fence.removesuffix("python"), NEVER))
    return lines, closed  # after an unclosed fence the rest of the note is code


@st.composite
def comment_piece(draw) -> Piece:
    """%% comments: inline, across lines (with blank lines), unclosed, stray."""
    kind = draw(st.sampled_from(["inline", "block", "stray", "marker-inline", "unclosed"]))
    if kind == "inline":
        return [("text %%hidden%% shown", NEVER)], True
    if kind == "marker-inline":
        return [("%% #Q commented out %%", MUST)], True
    if kind == "stray":
        return [("Sale: 50%% off", STRAY)], True
    opening = NEVER if kind == "block" else STRAY
    lines = [("%%", opening), ("#Q hidden question", MUST), ("", NEVER), ("Answer: no", NEVER)]
    if kind == "block":
        lines.append(("%%", NEVER))
    return lines, True


prose_piece = st.sampled_from(
    [
        [("# Heading", NEVER)],
        [("## Sub heading", NEVER)],
        [("---", NEVER)],
        [("Some prose between cards.", NEVER)],
        [("## References", NEVER), ("- https://example.com", NEVER)],
        [("#tag-only #line", NEVER)],
        [("", NEVER)],
    ]
).map(lambda lines: (lines, True))


@st.composite
def notes(draw) -> Note:
    pieces = draw(
        st.lists(
            st.one_of(card_piece(), card_piece(), fence_piece(), comment_piece(), prose_piece),
            max_size=8,
        )
    )
    lines: list[str] = []
    markers: list[int] = []
    maybe: list[int] = []
    if draw(st.booleans()):
        lines += ["---", "tags: [gen]", "---"]
    unsure: list[int] = []
    stray = False
    for piece, goes_on in pieces:
        for text, status in piece:
            lines.append(text)
            stray = stray or status == STRAY
            if status == MUST:
                (unsure if stray else markers).append(len(lines))
            elif status == MAYBE or (status == CODE and stray):
                maybe.append(len(lines))
        if not goes_on:
            break
    trailing = draw(st.sampled_from(["", " ", "\t", "\u00a0"]))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    text = newline.join(line + trailing if line else line for line in lines)
    if draw(st.booleans()):
        text = "\ufeff" + text
    return Note(text, markers, maybe, unsure)


# A wikilink left as written; a lone "[[" typed as text may stay text, as in Obsidian.
WIKILINK_TEXT = re.compile(r"\[\[[^\[\]\n]*\]\]")


def text_outside_code(rendered: str, tag: str = "") -> str:
    """The text a field shows outside code and math; each tag becomes `tag`."""
    without_code = re.sub(r"<(pre|code)\b.*?</\1>", " ", rendered, flags=re.S)
    # Math is TeX for MathJax, kept as written: "[[" there is no wikilink.
    without_math = re.sub(r"\\\(.*?\\\)|\\\[.*?\\\]", " ", without_code, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", tag, without_math))


def markers_outside_code(markdown: str) -> list[str]:
    scan = obsidian.scan(obsidian.lines(markdown))
    return [
        line.visible for line in scan.lines if not line.code and MARKER_LINE.match(line.visible)
    ]


@examples(300)
@given(notes())
def test_every_marker_is_a_card_or_a_message(note: Note) -> None:
    seed_only = SyntaxSettings(enabled=("seed",))
    parsed, diagnostics = read_note("Gen/Note.md", note.text, seed_only, shows_nothing)
    card_lines = [card.line for card in parsed.cards]
    message_lines = {d.line for d in diagnostics}
    assert len(card_lines) == len(set(card_lines)), "a marker made two cards"
    assert set(card_lines) <= {*note.markers, *note.maybe, *note.unsure}, "a card from no marker"
    for line in note.markers:
        assert line in card_lines or line in message_lines, (line, note.text, diagnostics)
    if note.unsure:
        scan = obsidian.scan(obsidian.lines(obsidian.clean_text(note.text)))
        for line in note.unsure:
            in_code = scan.at(line).code
            assert line in card_lines or line in message_lines or in_code, (line, note.text)
    for card in parsed.cards:
        for markdown in (card.question, card.answer):
            assert not markers_outside_code(markdown), markdown
        question = render_markdown(card.question)
        answer = render_markdown(card.answer)
        for markdown, rendered in ((card.question, question), (card.answer, answer)):
            outside = text_outside_code(rendered, tag="\x00")  # "<em>%</em>%" is no "%%"
            assert not WIKILINK_TEXT.search(outside), rendered
            # "%\%" is how a literal "%%" is written; any other "%%" would be a comment shown.
            assert "%%" not in outside or "\\%" in markdown, rendered
        assert re.sub(r"<[^>]+>", "", answer).strip() or "<img" in answer, card


# ---------------------------------------------------------------- the renderer

HOSTILE_MARKDOWN = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "![x](javascript:alert(1))",
    "<javascript:alert(1)>",
    "$\\href{javascript:alert(1)}{x}$",
    "$$\\href{javascript:alert(1)}{x}$$",
    "\\\\(\\href{javascript:alert(1)}{x}\\\\)",
    '<svg onload="alert(1)">',
    "<iframe src=x></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<style>body{}</style>",
    "[[Note|alias]]",
    "![[pic.png|300]]",
    "> [!tip] Title\n> body",
    "text[^1]\n\n[^1]: note",
    "```\ncode\n```",
    "- a\n  - b",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "%%comment%%",
    "#tag",
    "<b onclick=alert(1)>x</b>",
    '<form action="javascript:alert(1)"><input type=submit></form>',
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    '<object data="javascript:alert(1)"></object>',
]

markdown_text = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE_MARKDOWN),
        st.sampled_from(TEXT_LINES),
        st.text(alphabet=st.sampled_from("<>[]()!*_`$%#|\\&;:\"'=/-\n\t ajv"), max_size=40),
        st.text(max_size=20),
    ),
    max_size=8,
).map("\n".join)

EVENT_HANDLER = re.compile(r"<[^>]*\son\w+\s*=", re.IGNORECASE)


@examples(300)
@given(markdown_text)
def test_rendered_markdown_is_sanitised_and_stable(text: str) -> None:
    rendered = render_markdown(text)
    assert _CLEANER.clean(rendered) == rendered
    lowered = rendered.lower()
    assert "<script" not in lowered and "<iframe" not in lowered and "<svg" not in lowered
    assert not EVENT_HANDLER.search(rendered)
    attributes = " ".join(re.findall(r"<[a-zA-Z][^>]*>", rendered))  # in tags, not in text
    for url in re.findall(r'(?:href|src)="([^"]*)"', attributes):
        plain = re.sub(r"[\x00-\x20]", "", html.unescape(url)).lower()
        assert not plain.startswith(("javascript:", "vbscript:")), rendered
    assert "\\href" not in re.sub(r"<(pre|code)\b.*?</\1>", " ", rendered, flags=re.S)


# ---------------------------------------------------------------- through the whole pipeline


@examples(10, fuzz_cap=300)  # a build and an Anki import per example
@given(st.lists(notes(), min_size=1, max_size=3))
def test_generated_vaults_build_and_import_with_the_invariant(generated: list[Note]) -> None:
    """The same invariant through discovery, packages and a real Anki collection."""
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        files = {f"Gen/n{i}.md": note.text.encode() for i, note in enumerate(generated)}
        vault = write_vault(root / "vault", files)
        report = run_build(vault, root / "dist")
        lines = {(d.path, d.line) for d in report.diagnostics}
        package = root / "dist" / "Gen.apkg"
        imported = ankiutil.notes(ankiutil.load(root, package)) if package.exists() else []
        sources = set()
        for note in imported:
            source = text_outside_code(note.fields["Source"]).strip()
            path, _, line = source.rpartition(":")
            sources.add((path, int(line)))
            for name in ("Question", "Answer"):
                outside = text_outside_code(note.fields[name], tag="\x00")
                assert not WIKILINK_TEXT.search(outside), note.fields[name]
                escaped = any("\\%" in g.text for g in generated)
                assert "%%" not in outside or escaped, note.fields[name]
            answer = note.fields["Answer"]
            assert re.sub(r"<[^>]+>", "", answer).strip() or "<img" in answer
        assert len(sources) == len(imported)  # one card per marker
        for i, note in enumerate(generated):
            for line in note.markers:
                where = (f"Gen/n{i}.md", line)
                assert where in sources or where in lines, (where, note.text)
