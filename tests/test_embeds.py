"""Issue 19: embedded notes, sections and blocks, Mermaid diagrams and Excalidraw drawings reach
the card. Built through the real CLI, imported into a real Anki collection."""

from __future__ import annotations

import io
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import ankiutil
import lzstring
import pytest
from conftest import write_vault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ankigen import embed, excalidraw, mermaid
from ankigen.cli import main
from ankigen.embed import EmbedContext, expand
from ankigen.images import fit_image

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))


def png(color: str, size: tuple[int, int] = (4, 2)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


PNG_RED = png("red")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One picture cache for the module: each Mermaid diagram is drawn once."""
    return tmp_path_factory.mktemp("cache")


def build(vault: Path, out: Path, cache: Path, capsys, *extra: str) -> tuple[int, list[str]]:
    code = main([str(vault), "-o", str(out), "--cache-dir", str(cache), *extra])
    captured = capsys.readouterr()
    lines = (captured.err + captured.out).splitlines()
    # The messages as written, without the diagnostic code the text format appends.
    return code, [re.sub(r" \[AG\w+\]$", "", line) for line in lines if line.strip()]


def answers(tmp_path: Path, *packages: Path) -> tuple[dict[str, str], object]:
    """{question text: answer field} of the imported notes, and the collection."""
    col = ankiutil.load(tmp_path, *packages)
    problems = ankiutil.media_problems(col)
    assert problems[0] == [], f"Anki's media check finds missing files: {problems}"
    found = {}
    for note in ankiutil.notes(col):
        question = re.sub(r"<[^>]+>", "", note.fields["Question"]).strip()
        found[question] = note.fields["Answer"]
    return found, col


def media_names(html: str) -> list[str]:
    return re.findall(r'<img[^>]*src="([^"]+)"', html)


def media_file(col, name: str) -> bytes:
    return (Path(col.media.dir()) / name).read_bytes()  # type: ignore[attr-defined]


# ---------------------------------------------------------------- notes, headings, blocks

EMBEDS_VAULT: dict[str, str | bytes] = {
    "Compute/Scaling.md": (
        "# Scaling\n"
        "#Question Which policies scale a fleet?\n"  # line 2
        "Answer:\n"
        "![[Scaling Rules]]\n"
        "\n"
        "#Question What does the metrics service keep?\n"  # line 6
        "Answer: It keeps ![[Metrics#Retention]] for a while.\n"
        "\n"
        "#Question Which alarm fact matters?\n"  # line 9
        "Answer: ![[Metrics#^alarm-rule]]\n"
        "\n"
        "#Question Named embed?\n"  # line 12
        "Answer:\n"
        "- ![[Metrics#Retention|how long data stays]]\n"
        "\n"
        "#Question Nested?\n"  # line 16
        "Answer: ![[Outer]]\n"
        "\n"
        "#Question Circular?\n"  # line 19
        "Answer: ![[Ping]]\n"
        "\n"
        "#Question Missing?\n"  # line 22
        "Answer: ![[Ghost Note]], ![[Metrics#Nowhere]] and ![[Metrics#^no-such-block]]\n"
        "\n"
        "#Question Plain card?\n"  # line 25
        "Answer: no embed at all\n"
    ),
    "Reference/Scaling Rules.md": (
        "---\ntags: [reference]\n---\n"
        "Step scaling adds capacity in steps; target tracking holds $x = 50$.\n"
        "\n"
        "![[fleet.png]]\n"
        "![beside](pics/side.png)\n"
        "\n"
        "#Question A card of the embedded note itself\n"
        "Answer: it stays in its own deck\n"
        "\n"
        "Also read [[Launch Templates]].\n"
    ),
    "Reference/Metrics.md": (
        "# Metrics service\n"
        "Intro words.\n"
        "## Retention\n"
        "Fine-grained points age into coarser ones.\n"
        "### Detail\n"
        "Fifteen months at most.\n"
        "## Alarms\n"
        "An alarm compares one metric with a threshold. ^alarm-rule\n"
        "Another line that is not part of that block.\n"
    ),
    "Reference/Outer.md": "Outer words.\n![[Inner]]\n",
    "Reference/Inner.md": "Inner words with a [link](https://example.org/x).\n",
    "Reference/Ping.md": "Ping text.\n![[Pong]]\n",
    "Reference/Pong.md": "Pong text.\n![[Ping]]\n",
    "Reference/fleet.png": PNG_RED,
    "Reference/pics/side.png": png("blue"),
}


def test_embedded_notes_sections_and_blocks_reach_anki(tmp_path, cache, capsys):
    vault = write_vault(tmp_path / "v", EMBEDS_VAULT)
    code, messages = build(vault, tmp_path / "out", cache, capsys, "--no-lock")
    assert code == 0
    warnings = [m for m in messages if ": warning: " in m]
    assert warnings == [
        "Compute/Scaling.md:23: warning: block '^no-such-block' not found in Reference/Metrics.md",
        "Compute/Scaling.md:23: warning: embedded note 'Ghost Note' not found; shown as a link",
        "Compute/Scaling.md:23: warning: heading 'Nowhere' not found in Reference/Metrics.md",
        "Reference/Pong.md:2: warning: embed of 'Ping' leads back to itself; not expanded",
    ]
    cards, col = answers(tmp_path, tmp_path / "out/Compute.apkg")
    whole = cards["Which policies scale a fleet?"]
    assert '<div class="callout callout-embed">' in whole
    assert '<div class="callout-title">Scaling Rules</div>' in whole
    assert "Step scaling adds capacity" in whole and r"\(x = 50\)" in whole  # math kept
    assert "tags: [reference]" not in whole  # no frontmatter
    assert '<span class="wikilink">Launch Templates</span>' in whole  # its links
    pictures = media_names(whole)
    assert len(pictures) == 2 and all(media_file(col, name) for name in pictures)
    # The embedded note's card is shown as text, never a card of this note.
    assert len(cards) == 8 and "A card of the embedded note itself" not in cards

    section = cards["What does the metrics service keep?"]
    assert "Metrics › Retention" in section and "Fifteen months at most." in section
    assert "<h3>Detail</h3>" in section and "Alarms" not in section and "Intro" not in section
    assert section.index("It keeps") < section.index("callout") < section.index("for a while")

    block = cards["Which alarm fact matters?"]
    assert "An alarm compares one metric with a threshold." in block
    assert "^alarm-rule" not in block and "Another line" not in block

    named = cards["Named embed?"]
    assert '<div class="callout-title">how long data stays</div>' in named
    assert named.startswith("<ul>") and "Fine-grained points" in named

    nested = cards["Nested?"]
    assert nested.count("callout-embed") == 2 and "Inner words" in nested
    assert 'href="https://example.org/x"' in nested

    circular = cards["Circular?"]
    assert "Ping text." in circular and "Pong text." in circular
    assert circular.count("callout-embed") == 2  # Ping › Pong, and Pong's Ping stays a link

    missing = cards["Missing?"]
    assert '<span class="wikilink embed">Ghost Note</span>' in missing
    assert '<span class="wikilink embed">Metrics › Nowhere</span>' in missing
    assert cards["Plain card?"] == "<p>no embed at all</p>\n"


def test_depth_and_count_are_bounded(tmp_path, cache, capsys):
    chain = {f"R/N{i}.md": f"level {i}\n![[N{i + 1}]]\n" for i in range(12)}
    many = "Answer:\n" + "\n".join(f"![[Leaf#^b{i % 3}]]" for i in range(embed.MAX_EMBEDS + 5))
    vault = write_vault(
        tmp_path / "v",
        {
            "C/deep.md": "#Question deep?\nAnswer: ![[N0]]\n\n#Question many?\n" + many + "\n",
            "R/N12.md": "bottom\n",
            "R/Leaf.md": "one ^b0\n\ntwo ^b1\n\nthree ^b2\n",
            **chain,
        },
    )
    code, messages = build(vault, tmp_path / "out", cache, capsys, "--no-lock")
    assert code == 0
    depth = embed.MAX_DEPTH
    assert [m for m in messages if ": warning: " in m] == [
        f"C/deep.md:{embed.MAX_EMBEDS + 6}: warning: more than {embed.MAX_EMBEDS} embeds in one "
        "card; 'Leaf' and the embeds after it not expanded",
        f"R/N{depth - 1}.md:2: warning: embed of 'N{depth}' nested more than {depth} deep; "
        "not expanded",
    ]
    cards, _ = answers(tmp_path, tmp_path / "out/C.apkg")
    assert f"level {depth - 1}" in cards["deep?"] and f"level {depth}" not in cards["deep?"]
    assert cards["many?"].count("callout-embed") == embed.MAX_EMBEDS


def test_editing_an_embedded_note_rebuilds_exactly_the_cards_that_embed_it(tmp_path, cache, capsys):
    vault = write_vault(
        tmp_path / "v",
        {
            "A/uses.md": (
                "#Question embeds the section?\nAnswer: ![[Facts#Kept]]\n\n"
                "#Question embeds the other section?\nAnswer: ![[Facts#Other]]\n\n"
                "#Question plain?\nAnswer: nothing embedded\n"
            ),
            "B/plain.md": "#Question unrelated?\nAnswer: yes\n",
            "R/Facts.md": "## Kept\nold wording\n## Other\nstays as it was\n",
        },
    )
    out = tmp_path / "out"
    assert build(vault, out, cache, capsys)[0] == 0
    first = {p.name: p.read_bytes() for p in out.glob("*.apkg")}
    col = ankiutil.load(tmp_path, out / "A.apkg", out / "B.apkg")
    before = {n.fields["Question"]: (n.fields["Answer"], n.mod) for n in ankiutil.notes(col)}
    col.close()

    time.sleep(0.01)
    facts = vault / "R/Facts.md"
    facts.write_text("## Kept\nnew wording\n## Other\nstays as it was\n", encoding="utf-8")
    os.utime(facts, ns=(time.time_ns(), time.time_ns() + 2_000_000_000))
    code, messages = build(vault, out, cache, capsys, "--verbose")
    assert code == 0
    second = {p.name: p.read_bytes() for p in out.glob("*.apkg")}
    assert second["B.apkg"] == first["B.apkg"] and second["A.apkg"] != first["A.apkg"]
    (tmp_path / "two").mkdir()
    col = ankiutil.load(tmp_path / "two", out / "A.apkg", out / "B.apkg")
    after = {n.fields["Question"]: (n.fields["Answer"], n.mod) for n in ankiutil.notes(col)}
    changed = {q for q in before if before[q] != after[q]}
    assert changed == {"<p>embeds the section?</p>\n"}
    assert "new wording" in after["<p>embeds the section?</p>\n"][0]
    # The lock moved that card's modification time forward (Anki takes the update) and only it.
    assert after["<p>embeds the section?</p>\n"][1] > before["<p>embeds the section?</p>\n"][1]

    # Nothing changed: nothing is rebuilt; the embedded note alone changing again: A only.
    code, messages = build(vault, out, cache, capsys, "--verbose")
    assert "(0 written, 2 unchanged)" in messages[-1]
    facts.write_text("## Kept\nnewer wording\n## Other\nstays as it was\n", encoding="utf-8")
    os.utime(facts, ns=(time.time_ns(), time.time_ns() + 4_000_000_000))
    code, messages = build(vault, out, cache, capsys)
    assert "(1 written, 1 unchanged)" in messages[-1]


def test_two_builds_are_byte_identical(tmp_path, cache, capsys):
    files = {
        **EMBEDS_VAULT,
        "Compute/Diagram.md": (
            "#Question drawn?\nAnswer:\n```mermaid\nflowchart TD\n  A --> B\n```\n"
            "![[Scene.excalidraw]]\n"
        ),
        "Compute/Scene.excalidraw.md": _drawing_note(_scene(), compressed=True),
    }
    vault = write_vault(tmp_path / "v", files)
    build(vault, tmp_path / "one", tmp_path / "cache1", capsys, "--no-lock")
    build(vault, tmp_path / "two", tmp_path / "cache2", capsys, "--no-lock")
    one = (tmp_path / "one/Compute.apkg").read_bytes()
    assert one == (tmp_path / "two/Compute.apkg").read_bytes()


# ---------------------------------------------------------------- Mermaid

DIAGRAMS = {
    "flowchart": "flowchart LR\n  Client --> LB[Load balancer]\n  LB --> App1 & App2",
    "sequence": "sequenceDiagram\n  Browser->>Server: GET /\n  Server-->>Browser: 200 OK",
    "class": "classDiagram\n  class Queue {\n    +push(item)\n    +pop()\n  }\n  Queue <|-- Fifo",
    "state": "stateDiagram-v2\n  [*] --> Pending\n  Pending --> Running: start\n  Running --> [*]",
    "pie": 'pie title Storage classes\n  "Standard" : 60\n  "Glacier" : 40',
}


def test_mermaid_diagrams_become_pictures_in_anki(tmp_path, cache, capsys):
    note = ""
    for index, (kind, source) in enumerate(DIAGRAMS.items()):
        note += f"#Question {kind}?\nAnswer:\n```mermaid\n{source}\n```\n\n"
        if index == 0:  # two diagrams on one card
            note = note.rstrip("\n") + f"\n\n```mermaid\n{DIAGRAMS['pie']}\n```\n\n"
    note += "#Question broken?\nAnswer:\n```mermaid\nflowchart LR\n  A --> --> B[\n```\n"
    vault = write_vault(tmp_path / "v", {"D/Diagrams.md": note})
    code, messages = build(vault, tmp_path / "out", cache, capsys, "--no-lock")
    assert code == 0
    warnings = [m for m in messages if ": warning: " in m]
    broken_line = note.count("\n", 0, note.index("```mermaid\nflowchart LR\n  A --> -->")) + 1
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"D/Diagrams.md:{broken_line}: warning: Mermaid diagram not drawn: Parse error on line 2"
    )
    assert "shown as code" in warnings[0]
    cards, col = answers(tmp_path, tmp_path / "out/D.apkg")
    seen = set()
    for kind in DIAGRAMS:
        html = cards[f"{kind}?"]
        names = media_names(html)
        assert names and all(name.endswith(".svg") for name in names)
        svg = media_file(col, names[0])
        assert svg.startswith(b"<?xml") and b"<svg" in svg and b"<style>" in svg
        assert b"foreignObject" not in svg and b"<script" not in svg
        assert 'class="mermaid"' in html and 'alt="' in html
        seen.update(names)
    assert "Load balancer" in cards["flowchart?"]  # the source is the alt text
    assert len(media_names(cards["flowchart?"])) == 2
    assert len(seen) == 5  # five different pictures: the two on one card do not clash
    broken = cards["broken?"]
    assert '<pre><code class="language-mermaid">' in broken and "<img" not in broken


def test_mermaid_is_deterministic_and_cached(tmp_path, cache):
    source = DIAGRAMS["class"]  # drawn with random numbers by Mermaid unless seeded
    first, problem = mermaid.draw(source, None)
    second, _ = mermaid.draw(source, None)
    assert problem == "" and first == second
    start = time.perf_counter()
    assert mermaid.draw(source, cache)[0] == first
    assert mermaid.draw(source, cache)[0] == first
    assert time.perf_counter() - start < 30


def test_mermaid_limits(tmp_path):
    long_source = "flowchart LR\n" + "  A --> B\n" * (mermaid.MAX_SOURCE_CHARS // 9)
    assert mermaid.draw(long_source, None) == (
        None,
        f"longer than {mermaid.MAX_SOURCE_CHARS:,} characters",
    )
    assert mermaid.draw("   \n", None) == (None, "empty diagram")


def test_mermaid_timeout_ends_the_engine(monkeypatch):
    monkeypatch.setattr(mermaid, "TIMEOUT_SECONDS", 0.001)
    svg, problem = mermaid.draw("flowchart LR\n  Slow --> Timeout", None)
    assert svg is None and problem.startswith("took longer than")
    monkeypatch.undo()
    assert mermaid.draw("flowchart LR\n  Fast --> Again", None)[0] is not None


# ---------------------------------------------------------------- Excalidraw


def _scene(extra: list[dict] | None = None) -> dict:
    """One element of each kind the drawing code knows, with colours, widths and opacity."""
    picture = "data:image/png;base64," + __import__("base64").b64encode(PNG_RED).decode()
    elements = [
        {"type": "rectangle", "x": 0, "y": 0, "width": 120, "height": 60,
         "strokeColor": "#e03131", "backgroundColor": "#ffc9c9", "fillStyle": "solid",
         "strokeWidth": 2, "opacity": 100, "roundness": {"type": 3}},
        {"type": "ellipse", "x": 160, "y": 0, "width": 90, "height": 60,
         "strokeColor": "#1971c2", "backgroundColor": "transparent", "strokeWidth": 4,
         "strokeStyle": "dashed", "opacity": 40},
        {"type": "diamond", "x": 290, "y": 0, "width": 70, "height": 70,
         "strokeColor": "#2f9e44", "backgroundColor": "#b2f2bb", "strokeWidth": 1,
         "angle": 0.3, "fillStyle": "hachure"},
        {"type": "arrow", "x": 120, "y": 30, "width": 40, "height": 0,
         "points": [[0, 0], [40, 0]], "startArrowhead": "dot", "endArrowhead": "arrow",
         "strokeColor": "#f08c00", "strokeWidth": 2},
        {"type": "line", "x": 0, "y": 100, "width": 200, "height": 20,
         "points": [[0, 0], [100, 20], [200, 0]], "strokeStyle": "dotted"},
        {"type": "freedraw", "x": 0, "y": 140, "width": 30, "height": 10,
         "points": [[0, 0], [10, 8], [20, 2], [30, 10]], "strokeColor": "#9c36b5"},
        {"type": "text", "x": 0, "y": 170, "width": 200, "height": 50,
         "text": "Load balancer\nsecond line", "fontSize": 28, "textAlign": "center",
         "fontFamily": 2, "strokeColor": "#343a40"},
        {"type": "text", "x": 220, "y": 170, "width": 100, "height": 25, "text": "right <&>",
         "fontSize": 16, "textAlign": "right"},
        {"type": "image", "x": 300, "y": 100, "width": 40, "height": 40, "fileId": "pic1"},
        {"type": "rectangle", "x": 999, "y": 999, "width": 5, "height": 5, "isDeleted": True},
        *(extra or []),
    ]  # fmt: skip
    return {"type": "excalidraw", "elements": elements,
            "files": {"pic1": {"mimeType": "image/png", "dataURL": picture}}}  # fmt: skip


def _drawing_note(scene: dict, compressed: bool) -> str:
    raw = json.dumps(scene)
    if compressed:
        packed = lzstring.LZString().compressToBase64(raw)
        body = "\n".join(packed[i : i + 256] for i in range(0, len(packed), 256))
        block = f"```compressed-json\n{body}\n```"
    else:
        block = f"```json\n{raw}\n```"
    return (
        "---\nexcalidraw-plugin: parsed\ntags: [excalidraw]\n---\n"
        "==⚠  Switch to EXCALIDRAW VIEW in the MORE OPTIONS menu of this document. ⚠==\n\n"
        "# Text Elements\nLoad balancer ^t1\n\n%%\n# Drawing\n" + block + "\n%%\n"
    )


def test_excalidraw_drawings_reach_anki(tmp_path, cache, capsys):
    exported_svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
        b'<rect width="20" height="10" fill="#123456"/></svg>'
    )
    vault = write_vault(
        tmp_path / "v",
        {
            "Art/Cards.md": (
                "#Question compressed scene?\nAnswer: ![[Scene.excalidraw]]\n\n"
                "#Question json scene?\nAnswer: ![[Plain.excalidraw|200]]\n\n"
                "#Question exported svg?\nAnswer: ![[Exported SVG.excalidraw]]\n\n"
                "#Question exported png?\nAnswer: ![[Exported PNG.excalidraw.md]]\n\n"
                "#Question odd scene?\nAnswer: ![[Odd.excalidraw]]\n\n"
                "#Question no scene?\nAnswer: ![[Empty.excalidraw]]\n"
            ),
            "Excalidraw/Scene.excalidraw.md": _drawing_note(_scene(), compressed=True),
            "Excalidraw/Plain.excalidraw.md": _drawing_note(_scene(), compressed=False),
            "Excalidraw/Exported SVG.excalidraw.md": _drawing_note(_scene(), compressed=True),
            "Excalidraw/Exported SVG.excalidraw.svg": exported_svg,
            "Excalidraw/Exported PNG.excalidraw.md": _drawing_note(_scene(), compressed=True),
            "Excalidraw/Exported PNG.excalidraw.png": PNG_RED,
            "Excalidraw/Odd.excalidraw.md": _drawing_note(
                _scene([{"type": "embeddable", "x": 0, "y": 0, "width": 9, "height": 9}]), True
            ),
            "Excalidraw/Empty.excalidraw.md": "---\nexcalidraw-plugin: parsed\n---\nno drawing\n",
        },
    )
    code, messages = build(vault, tmp_path / "out", cache, capsys, "--no-lock")
    assert code == 0
    warnings = [m for m in messages if ": warning: " in m]
    assert warnings == [
        "Art/Cards.md:14: warning: drawing Excalidraw/Odd.excalidraw.md: cannot draw "
        "'embeddable' elements; left out",
        "Art/Cards.md:17: warning: drawing Excalidraw/Empty.excalidraw.md: no drawing (json or "
        "compressed-json block) in the file; shown as a link",
    ]
    cards, col = answers(tmp_path, tmp_path / "out/Art.apkg")
    drawn = media_file(col, media_names(cards["compressed scene?"])[0])
    for mark in (
        b"<rect", b"<ellipse", b"<polygon", b"marker-end=", b"marker-start=",
        b'stroke-dasharray="16 12"', b'stroke="#9c36b5"', b'text-anchor="middle"',
        b'font-size="28"', b"Load balancer", b"right &lt;&amp;&gt;", b'text-anchor="end"',
        b'opacity="0.4"', b"rotate(", b"<image", b"data:image/png;base64,", b'fill="#ffc9c9"',
    ):  # fmt: skip
        assert mark in drawn, mark
    assert b"999" not in drawn  # deleted elements are not drawn
    plain = cards["json scene?"]
    assert media_file(col, media_names(plain)[0]) == drawn and 'width="200"' in plain
    assert media_file(col, media_names(cards["exported svg?"])[0]).count(b"#123456") == 1
    assert media_file(col, media_names(cards["exported png?"])[0])[:4] == b"\x89PNG"
    assert media_names(cards["odd scene?"])
    assert '<span class="wikilink embed">Empty.excalidraw</span>' in cards["no scene?"]


@settings(max_examples=EXAMPLES or 200, deadline=None, derandomize=not EXAMPLES)
@given(st.text(max_size=300))
def test_lz_string_decompression_matches_the_reference(text):
    # JavaScript compresses UTF-16 code units: a character beyond U+FFFF is two of them.
    data = text.encode("utf-16-le", "surrogatepass")
    units = "".join(chr(int.from_bytes(data[i : i + 2], "little")) for i in range(0, len(data), 2))
    packed = lzstring.LZString().compressToBase64(units)
    assert excalidraw.lz_decompress_base64(packed) == text


@settings(
    max_examples=EXAMPLES or 200,
    deadline=None,
    derandomize=not EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.text(alphabet="ABCab+/=\n{}[]\"':,0123456789-eltmnsxy", max_size=400))
def test_hostile_drawings_cost_a_warning_never_a_crash(text):
    for wrapped in (text, "```compressed-json\n" + text + "\n```", "```json\n" + text + "\n```"):
        svg, problems = excalidraw.draw_file(wrapped.encode(), None)
        assert svg is not None or problems
        if svg is not None:
            fit_image(svg, 1600)  # the media stage accepts what is drawn


def _vault_context(tmp_path: Path, files: dict[str, str]) -> EmbedContext:
    write_vault(tmp_path, files)
    notes = tuple(sorted(rel for rel in files if rel.endswith(".md")))
    return EmbedContext(tmp_path, mermaid=False, listing=(notes, (), ""))


@settings(
    max_examples=EXAMPLES or 200,
    deadline=None,
    derandomize=not EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.sampled_from(
            [
                "![[A]]",
                "![[B#H]]",
                "![[A#^x]]",
                "- ",
                "> ",
                "text",
                "```",
                "`",
                "\n",
                " ",
                "![[C|alias]]",
                "#",
                "## H",
                "^x",
                "![[",
                "]]",
                "![[#H]]",
                "![[A#H#I]]",
            ]
        ),
        max_size=40,
    )
)
def test_expansion_of_any_text_never_fails(tmp_path, parts):
    context = _vault_context(
        tmp_path,
        {"A.md": "a\n## H\nh ^x\n![[B]]\n", "B.md": "## H\nb ![[A#^x]]\n![[B]]\n", "C.md": ""},
    )
    text = "".join(parts)
    result = expand(context, "A.md", text, 1)
    assert isinstance(result.markdown, str)
    assert all(d.path in ("A.md", "B.md", "C.md") and d.line >= 1 for d in result.diagnostics)
    if "![[" not in text:
        assert result.markdown == text


# ---------------------------------------------------------------- linear on hostile input


def _scales_linearly(run: Callable[[int], object], n: int) -> None:
    def best(size: int) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run(size)
            times.append(time.perf_counter() - start)
        return min(times)

    small, large = best(n), best(10 * n)
    assert large < 40 * small + 0.05, (small, large)  # quadratic would be ~100x


def test_expansion_scales_linearly(tmp_path):
    def run(n: int) -> None:
        body = "".join(f"## Heading {i}\nline ^b{i}\n" for i in range(n))
        (tmp_path / "Big.md").write_text(body, encoding="utf-8")
        context = EmbedContext(tmp_path, mermaid=False, listing=(("Big.md",), (), ""))
        expand(context, "X.md", f"![[Big#Heading {n - 1}]] ![[Big#^b{n - 1}]]", 1)
        expand(context, "X.md", "- " * n + "![[" * n + "x ![[Big#^zz]]", 1)

    _scales_linearly(run, 300)


def test_drawing_and_decompression_scale_linearly():
    def draw(n: int) -> None:
        elements = [
            {"type": "line", "x": i, "y": 0, "points": [[0, 0], [1, 1]] * 5} for i in range(n)
        ]
        excalidraw.draw_scene({"elements": elements})

    _scales_linearly(draw, 200)
    packed = {n: lzstring.LZString().compressToBase64("ab" * n * 50) for n in (200, 2000)}
    _scales_linearly(lambda n: excalidraw.lz_decompress_base64(packed[n]), 200)


def test_drawing_limits():
    many = {"elements": [{"type": "text", "x": 0, "y": 0}] * (excalidraw.MAX_ELEMENTS + 1)}
    with pytest.raises(excalidraw.DrawingError, match="more than 10,000 elements"):
        excalidraw.draw_scene(many)
    points = [[0, 0]] * (excalidraw.MAX_POINTS + 1)
    with pytest.raises(excalidraw.DrawingError, match="points"):
        excalidraw.draw_scene({"elements": [{"type": "line", "x": 0, "y": 0, "points": points}]})
    _, problems = excalidraw.draw_scene({"elements": [{"type": "rectangle", "x": 1e300}]})
    assert problems == ["rectangle element not valid; left out"]


def test_embeds_in_worker_processes_and_in_a_worker_that_must_find_the_notes(
    tmp_path, cache, capsys
):
    files: dict[str, str | bytes] = {"R/Shared.md": "## Part\nshared words\n"}
    for index in range(45):  # enough notes for worker processes
        files[f"F{index % 3}/n{index}.md"] = f"#Question q{index}?\nAnswer: ![[Shared#Part]]\n"
    vault = write_vault(tmp_path / "v", files)
    code, _ = build(vault, tmp_path / "out", cache, capsys, "--no-lock")
    assert code == 0
    for folder in ("F0", "F1", "F2"):
        (tmp_path / folder).mkdir()
        cards, _ = answers(tmp_path / folder, tmp_path / f"out/{folder}.apkg")
        assert all("shared words" in answer for answer in cards.values()) and len(cards) == 15
    # A worker started afresh (not forked from the build) lists the vault itself.
    embed._LISTINGS.clear()
    context = EmbedContext(vault, build=1, mermaid=False)
    assert "shared words" in expand(context, "F0/n0.md", "![[Shared#Part]]", 2).markdown


def test_hostile_embeds_and_drawings_cost_a_warning(tmp_path, cache, capsys):
    ghosts = " ".join(f"![[ghost {i}]]" for i in range(5000))
    long_text = {"type": "text", "x": 0, "y": 0, "text": "x\n" * 100_000}
    big = {"elements": [{"type": "text", "x": 0, "y": 0, "text": "y" * 90_000}] * 20}
    vault = write_vault(
        tmp_path / "v",
        {
            "H/n.md": (
                "#Question ghosts?\nAnswer: " + ghosts + "\n\n"
                "#Question long text?\nAnswer: ![[Long.excalidraw]]\n\n"
                "#Question big drawing?\nAnswer: ![[Big.excalidraw]]\n\n"
                "#Question itself?\nAnswer: ![[n]]\n"
            ),
            "H/Long.excalidraw.md": _drawing_note({"elements": [long_text]}, compressed=False),
            "H/Big.excalidraw.md": _drawing_note(big, compressed=True),
        },
    )
    code, messages = build(vault, tmp_path / "out", cache, capsys, "--no-lock")
    assert code == 0
    warnings = [m for m in messages if ": warning: " in m]
    assert len(warnings) == embed.MAX_EMBEDS + 4
    assert "H/n.md:2: warning: more than 100 embeds in one card; 'ghost 100' and the embeds " in (
        "\n".join(warnings)
    )
    assert "H/n.md:5: warning: drawing H/Long.excalidraw.md: text element not valid" in (
        "\n".join(warnings)
    )
    assert "H/n.md:8: warning: drawing H/Big.excalidraw.md: drawing larger than 1024 KB" in (
        "\n".join(warnings)
    )
    assert "H/n.md:11: warning: embed of 'n' leads back to itself; not expanded" in warnings
    cards, _ = answers(tmp_path, tmp_path / "out/H.apkg")
    assert cards["ghosts?"].count("wikilink embed") == 5000


def test_a_drawing_shaped_as_the_plugin_saves_it_with_a_pasted_picture(tmp_path, cache, capsys):
    """The layout the Excalidraw plugin (2.x) writes: tab-indented JSON, a lower-case
    "# Embedded files" list naming a pasted picture kept in the attachment folder."""
    scene = {
        "type": "excalidraw",
        "version": 2,
        "source": "https://github.com/zsviczian/obsidian-excalidraw-plugin/releases/tag/2.0.10",
        "elements": [
            {"type": "image", "id": "img1", "x": -300.5, "y": -120.25, "width": 200,
             "height": 100, "angle": 0, "opacity": 100, "strokeColor": "transparent",
             "backgroundColor": "transparent", "fileId": "0123abcd0123abcd", "scale": [1, 1],
             "status": "pending", "isDeleted": False, "groupIds": [], "roundness": None},
            {"type": "text", "id": "t1", "x": 10, "y": -120, "width": 300, "height": 60,
             "fontSize": 20, "fontFamily": 2, "lineHeight": 1.15, "textAlign": "left",
             "verticalAlign": "top", "containerId": None, "strokeColor": "#1e1e1e",
             "text": "1. first step\n2. second step", "isDeleted": False},
            {"type": "rectangle", "id": "r1", "x": 5, "y": -125, "width": 310, "height": 70,
             "strokeColor": "#e03131", "backgroundColor": "transparent",
             "roundness": {"type": 3}, "strokeWidth": 2, "isDeleted": False},
        ],
        "appState": {"theme": "light", "viewBackgroundColor": "#ffffff", "gridSize": None},
        "files": {},
    }  # fmt: skip
    note = (
        "---\n\nexcalidraw-plugin: parsed\ntags: [excalidraw]\n\n---\n"
        "==⚠  Switch to EXCALIDRAW VIEW in the MORE OPTIONS menu of this document. ⚠==\n\n\n"
        "# Text Elements\n1. first step\n2. second step ^t1\n\n\n"
        "# Embedded files\n0123abcd0123abcd: [[Pasted Image 20250101120000_001.png]]\n\n"
        "%%\n# Drawing\n```json\n" + json.dumps(scene, indent="\t") + "\n```\n%%"
    )
    vault = write_vault(
        tmp_path / "v",
        {
            "Notes/Steps.md": "#Question steps?\nAnswer:\n![[Steps drawing.excalidraw]]\n",
            "Excalidraw/Steps drawing.excalidraw.md": note,
            "Attachments/Pasted Image 20250101120000_001.png": png("green", (20, 10)),
        },
    )
    code, messages = build(vault, tmp_path / "out", cache, capsys)
    assert code == 0 and not [m for m in messages if ": warning: " in m]
    cards, col = answers(tmp_path, tmp_path / "out/Notes.apkg")
    svg = media_file(col, media_names(cards["steps?"])[0])
    assert b"<image" in svg and b"data:image/png;base64," in svg and b"first step" in svg
    assert b'rx="' in svg and b'stroke="#e03131"' in svg
    # The pasted picture is something the card shows: changing it rebuilds the folder.
    picture = vault / "Attachments/Pasted Image 20250101120000_001.png"
    picture.write_bytes(png("purple", (20, 10)))
    os.utime(picture, ns=(time.time_ns(), time.time_ns() + 2_000_000_000))
    code, messages = build(vault, tmp_path / "out", cache, capsys)
    assert "(1 written, 0 unchanged)" in messages[-1]
