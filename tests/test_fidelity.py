"""Cards as Obsidian shows them, through the real pipeline: discovery → packages → Anki.

Each fixture is a pattern seen in a real vault, written here in our own words.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import ankiutil
from conftest import REPO, write_vault
from test_build import png, run_build


def build_and_import(tmp_path: Path, files: dict[str, str | bytes], package: str = "D.apkg"):
    vault = write_vault(tmp_path / "v", files)
    report = run_build(vault, tmp_path / "dist")
    col = ankiutil.load(tmp_path, tmp_path / "dist" / package)
    return ankiutil.notes(col), [str(d) for d in report.diagnostics], col


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).strip()


def test_indented_cards_under_list_items_are_text_and_lists_not_code(tmp_path):
    notes, messages, _ = build_and_import(
        tmp_path,
        {
            "D/Indented.md": (
                "- Networking\n"
                "\t#Q What does a [[VPC]] give you?\n"
                "\tAnswer:\n"
                "\t- isolation from [[Other Accounts|other accounts]]\n"
                "\t- your own address range\n"
                "\t\t- chosen at creation\n"
                "- Another topic, on no card\n"
                "\n"
                "#Q Which two kinds of subnet are there?\n"
                "**Answer:**\n"
                "\t- public, with a route to the internet gateway\n"
                "\t- private\n"
            )
        },
    )
    assert messages == []
    assert len(notes) == 2
    for note in notes:
        answer = note.fields["Answer"]
        assert "<pre" not in answer and "<code" not in answer
        assert "[[" not in answer and "- " not in text_of(answer)
        assert "<li>" in answer
    assert text_of(notes[0].fields["Question"]) == "What does a VPC give you?"
    assert "<li>chosen at creation</li>" in notes[0].fields["Answer"]
    assert "Another topic" not in notes[0].fields["Answer"]  # the card ends with its list item
    assert "other accounts" in notes[0].fields["Answer"]


def test_marker_after_unicode_spaces_and_punctuation_after_markers(tmp_path):
    notes, messages, _ = build_and_import(
        tmp_path,
        {
            "D/Spaces.md": (
                "\u00a0#Q After a no-break space?\nAnswer: found\n\n"
                "\u2003\u2003#Q After em spaces?\nAnswer: found too\n\n"
                "#Question: With a colon?\nAnswer: no colon\n\n"
                "#Q: Short with a colon?\nAnswer: still none\n\n"
                "\u200b#Q After a zero-width space?\nAnswer: pasted from the web\n"
            )
        },
    )
    assert messages == []
    assert [text_of(n.fields["Question"]) for n in notes] == [
        "After a no-break space?",
        "After em spaces?",
        "With a colon?",
        "Short with a colon?",
        "After a zero-width space?",
    ]


def test_use_case_without_title_takes_its_first_line(tmp_path):
    notes, messages, _ = build_and_import(
        tmp_path,
        {"D/Use.md": "#UseCase\nMoving a database between regions\n\nCopy the snapshot.\n"},
    )
    assert messages == []
    (note,) = notes
    assert text_of(note.fields["Question"]) == "Use case: Moving a database between regions"
    assert text_of(note.fields["Answer"]) == "Copy the snapshot."
    assert "UseCase" in note.tags


def test_percent_signs_in_code_do_not_swallow_later_cards(tmp_path):
    notes, messages, _ = build_and_import(
        tmp_path,
        {
            "D/Code.md": "#Q Modulo in SQL?\nAnswer: `a %% b` in some dialects\n"
            "#Q Next?\nAnswer: n\n"
        },
    )
    assert messages == []
    assert [text_of(n.fields["Question"]) for n in notes] == ["Modulo in SQL?", "Next?"]
    assert "<code>a %% b</code>" in notes[0].fields["Answer"]


def test_stray_percent_signs_are_a_comment_as_in_obsidian_and_warned(tmp_path):
    notes, messages, _ = build_and_import(
        tmp_path,
        {"D/Sale.md": "#Q Discount?\nAnswer: 50%% off\n\n#Q Next?\nAnswer: n\n"},
    )
    # Obsidian hides everything after an unclosed %%: one card, and a message for each loss.
    assert [text_of(n.fields["Question"]) for n in notes] == ["Discount?"]
    assert text_of(notes[0].fields["Answer"]) == "50"
    assert messages[0].startswith("D/Sale.md:2: warning: %% opens a comment that is never closed")
    assert messages[1].startswith("D/Sale.md:4: warning: marker inside the %% comment")
    assert len(messages) == 2


def test_comment_across_a_blank_line_is_hidden(tmp_path):
    notes, messages, _ = build_and_import(
        tmp_path,
        {
            "D/Comment.md": (
                "#Q Visible?\nAnswer: shown %%hidden\n\nstill hidden%% shown again\n\n"
                "%%\n#Q Commented out?\nAnswer: no\n%%\n#Q Last?\nAnswer: yes\n"
            )
        },
    )
    assert [text_of(n.fields["Question"]) for n in notes] == ["Visible?", "Last?"]
    answer = text_of(notes[0].fields["Answer"])
    assert "hidden" not in answer and "shown" in answer and "shown again" in answer
    assert messages == [
        "D/Comment.md:7: warning: marker inside the %% comment opened at line 6; no card made"
    ]


def test_context_does_not_repeat_the_title(tmp_path):
    notes, _, _ = build_and_import(
        tmp_path,
        {
            "D/Route 53.md": (
                "# Route 53\n#Q What is it?\nAnswer: DNS\n## Routing policies\n"
                "#Q Which one fails over?\nAnswer: failover\n"
            )
        },
    )
    assert [n.fields["Context"] for n in notes] == ["Route 53", "Route 53 › Routing policies"]


def test_footnotes_of_question_and_answer_do_not_clash(tmp_path):
    notes, _, _ = build_and_import(
        tmp_path,
        {"D/Fn.md": "#Q Why?[^1]\n\n[^1]: asked twice\nAnswer: Because[^1]\n\n[^1]: a reason\n"},
    )
    (note,) = notes
    ids = re.findall(r'id="([^"]+)"', note.answer_html)  # the back shows the front too
    assert len(ids) == 4 and len(set(ids)) == 4
    for href in re.findall(r'href="#([^"]+)"', note.answer_html):
        assert href in ids


def test_control_characters_do_not_break_the_package(tmp_path):
    notes, _, _ = build_and_import(
        tmp_path,
        {"D/Ctl.md": "#Q Unit\x1fseparator\x0c and form feed?\nAnswer: gone\x07\n"},
    )
    (note,) = notes
    assert len(note.fields) == 6
    assert text_of(note.fields["Question"]) == "Unitseparator and form feed?"
    assert not re.search("[\x00-\x08\x0b-\x1f]", "".join(note.fields.values()))


def test_math_cannot_make_a_javascript_link(tmp_path):
    notes, _, _ = build_and_import(
        tmp_path,
        {"D/Math.md": "#Q Link?\nAnswer: $\\href{javascript:alert(1)}{click}$ and $x^2$\n"},
    )
    answer = notes[0].fields["Answer"]
    assert "\\href" not in answer and "\\(x^2\\)" in answer


def test_reported_lines_are_the_pictures_own_lines(tmp_path):
    _, messages, _ = build_and_import(
        tmp_path,
        {
            "D/Lines.md": (
                "#Q Separators?\u2028still line one\nAnswer: a\u2029b\x0cc\n"  # lines 1-2
                "#exam\n"  # 3: a line of tags only
                "![[after-tags.png]]\n"  # 4
                "\n## References\n\n"  # 5-7
                "- a source\n"  # 8
                "![[in-references.png]]\n"  # 9
            ),
            "D/Question.md": "#Q\nWhich is ![[in-question.png]]?\nAnswer: that one\n",
            "D/ok.png": png(),
        },
    )
    assert messages == [
        "D/Lines.md:4: warning: picture after-tags.png not included: not found in the vault",
        "D/Lines.md:9: warning: picture in-references.png not included: not found in the vault",
        "D/Question.md:2: warning: picture in-question.png not included: not found in the vault",
    ]


def test_alias_bomb_in_frontmatter_costs_only_the_frontmatter(tmp_path):
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    notes, messages, _ = build_and_import(
        tmp_path, {"D/Bomb.md": "---\n" + bomb + "tags: [x]\n---\n#Q Still here?\nAnswer: yes\n"}
    )
    assert len(notes) == 1 and notes[0].tags == []
    assert messages == ["D/Bomb.md:1: warning: frontmatter ignored: its aliases expand too far"]


HOSTILE = {
    "heading": "#Q h?\nAnswer: x\n\n# a" + " " * 5000 + "b\n",
    "spaces": "#Q s?\nAnswer: x\n" + " " * 50_000 + "\n" + "\t" * 50_000 + "y\n",
    "lists": "#Q l?\nAnswer:\n" + "".join("  " * i + "- a\n" for i in range(400)),
    "img": "#Q i?\nAnswer: x " + "<img " * 80_000 + "\n",
    "div": "#Q d?\nAnswer: x\n" + "<div>" * 100_000 + "\n",
    "percent": "#Q p?\nAnswer: " + "%%a `" * 20_000 + "\n",
    # The question's identity key (lock.normalise_question) reads these too.
    "brackets": "#Q b?" + "[[" * 50_000 + "\nAnswer: x\n",
    "punctuation": "#Q q" + "?" * 200_000 + "x\nAnswer: x\n",
}


def test_hostile_notes_cost_only_their_own_cards_and_finish(tmp_path):
    files = {f"D/{name}.md": text for name, text in HOSTILE.items()}
    files["D/good.md"] = "#Q Good?\nAnswer: yes\n"
    vault = write_vault(tmp_path / "v", files)
    out = tmp_path / "dist"
    # The CLI in a subprocess: a generous wall-clock guard turns a hang into a failure.
    cli = [sys.executable, str(REPO / "build_deck.py"), str(vault), "-o", str(out), "--offline"]
    result = subprocess.run(
        [*cli, "--cache-dir", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    notes = ankiutil.notes(ankiutil.load(tmp_path, out / "D.apkg"))
    questions = {text_of(n.fields["Question"]) for n in notes}
    assert {"Good?", "h?", "s?", "l?", "i?", "d?", "p?"} <= questions
    assert len(notes) == len(HOSTILE) + 1
    output = result.stdout + result.stderr
    assert "D/div.md:3: warning: HTML nested more than" in output
    assert "D/lists.md:" in output and "indentation reduced" in output
