"""Every field of every card carries its pictures: the third and later fields of a user's own
Obsidian_to_Anki note type, and the later fields of a note type adopted from a collection.

Built through the command line from a real vault, pictures from the vault and from a real HTTP
server on 127.0.0.1, the packages imported into a real Anki collection."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import ankiutil
from anki.collection import Collection
from conftest import REPO, ankigen_cli, write_vault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imageserver import (
    ImageServer,
    image_server_fixture,  # noqa: F401 (the fixture)
    png_bytes,
)

from ankigen.cli import main
from ankigen.media import MediaOptions, resolve_media
from ankigen.records import CardField, CardSource, ParsedNote, RenderedCard, RenderedNote, Vault
from ankigen.syntax.obsidian_to_anki import PLUGIN_ID

VOCAB = ["Word", "Meaning", "Picture", "Notes"]
SETTINGS = {"settings": {}, "fields_dict": {"Vocab": VOCAB}}
IMG_SRC = re.compile(r'<img [^>]*src="([^"]*)"')


def build(vault: Path, out: Path, capsys) -> tuple[int, list[str]]:
    code = main([str(vault), "-o", str(out), "--no-lock", "--cache-dir", str(out / "cache")])
    return code, [line for line in capsys.readouterr().err.splitlines() if ": " in line]


def pictures_shown(col: Collection, html: str) -> list[str]:
    """The media files a field shows, each checked to be in the collection's media folder."""
    names = IMG_SRC.findall(html)
    for name in names:
        assert name.startswith("ankigen-"), html
        assert (Path(col.media.dir()) / name).is_file(), name
    return names


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_pictures_in_later_fields_of_a_users_note_type_reach_anki(
    tmp_path, capsys, image_server: ImageServer
):
    remote = image_server.url("/good.png")
    note = (
        "# Trees\n\n"
        "START\nVocab\nWord: tree\nMeaning: arbre\n"
        f"Picture: ![[oak.png]] and ![a photo]({remote})\n"  # two pictures in one later field
        "Notes: the same oak again ![[oak.png]]\nEND\n\n"  # the same picture in two fields
        "START\nVocab\nWord: leaf\nMeaning: feuille\nPicture: none\n"
        "Notes: first line\nsecond line ![[gone.png]]\nEND\n"  # missing, on its own line
    )
    vault = write_vault(
        tmp_path / "vault",
        {f".obsidian/plugins/{PLUGIN_ID}/data.json": json.dumps(SETTINGS), "Words.md": note},
    )
    (vault / "oak.png").write_bytes(png_bytes(colour="green"))

    code, messages = build(vault, tmp_path / "dist", capsys)
    assert code == 0
    gone = line_of(note, "second line ![[gone.png]]")
    assert messages == [
        f"Words.md:{gone}: warning: picture gone.png not included: not found in the vault [AG401]"
    ]
    assert not any("first two" in m for m in messages)  # the old limit's warning is gone

    col = ankiutil.load(tmp_path, tmp_path / "dist" / "vault.apkg")
    try:
        assert ankiutil.media_problems(col) == ([], [])
        by_word = {
            re.sub("<[^>]*>", "", n.fields["Word"]).strip(): n.fields for n in ankiutil.notes(col)
        }
        tree, leaf = by_word["tree"], by_word["leaf"]
        oak, photo = pictures_shown(col, tree["Picture"])
        assert oak != photo and 'alt="a photo"' in tree["Picture"]
        assert pictures_shown(col, tree["Notes"]) == [oak]  # one file for both fields
        assert len(list(Path(col.media.dir()).iterdir())) == 2
        assert pictures_shown(col, leaf["Notes"]) == []
        assert "missing picture: gone.png" in leaf["Notes"]
        assert f"Words.md:{line_of(note, 'START')}</a>" in tree["Source"]
    finally:
        col.close()


def test_inline_and_regex_notes_carry_later_fields_pictures(tmp_path, capsys):
    """One line holds the whole inline note: its picture's warning names that line."""
    settings = {
        **SETTINGS,
        "settings": {"CUSTOM_REGEXPS": {"Vocab": r"^W: (.*)\nM: (.*)\nP: (.*)"}},
    }
    note = (
        "STARTI [Vocab] Word: pine Meaning: pin Picture: ![[pine.png]] ENDI\n\n"
        "STARTI [Vocab] Word: fir Meaning: sapin Picture: ![[nowhere.png]] ENDI\n\n"
        "W: birch\nM: bouleau\nP: ![[birch.png]]\n"
    )
    vault = write_vault(
        tmp_path / "vault",
        {f".obsidian/plugins/{PLUGIN_ID}/data.json": json.dumps(settings), "Inline.md": note},
    )
    (vault / "pine.png").write_bytes(png_bytes(colour="red"))
    (vault / "birch.png").write_bytes(png_bytes(colour="blue"))
    code, messages = build(vault, tmp_path / "dist", capsys)
    assert code == 0
    assert messages == [
        "Inline.md:3: warning: picture nowhere.png not included: not found in the vault [AG401]"
    ]
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "vault.apkg")
    try:
        assert ankiutil.media_problems(col) == ([], [])
        by_word = {
            re.sub("<[^>]*>", "", n.fields["Word"]).strip(): n.fields for n in ankiutil.notes(col)
        }
        assert len(pictures_shown(col, by_word["pine"]["Picture"])) == 1
        assert len(pictures_shown(col, by_word["birch"]["Picture"])) == 1
    finally:
        col.close()


def test_a_later_field_expands_embeds_like_the_front_and_back(tmp_path, capsys):
    """An embedded note in a later field is shown there, its picture with it (the same embed
    expansion as every field), and a change to it rebuilds the folder."""
    note = "START\nVocab\nWord: oak\nMeaning: chêne\nPicture: none\nNotes: ![[Oak facts]]\nEND\n"
    vault = write_vault(
        tmp_path / "vault",
        {
            f".obsidian/plugins/{PLUGIN_ID}/data.json": json.dumps(SETTINGS),
            "Words.md": note,
            "Oak facts.md": "Oaks live long.\n\n![[acorn.png]]\n",
        },
    )
    (vault / "acorn.png").write_bytes(png_bytes(colour="red"))
    assert build(vault, tmp_path / "dist", capsys) == (0, [])
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "vault.apkg")
    try:
        [only] = ankiutil.notes(col)
        assert "Oaks live long." in only.fields["Notes"]
        assert len(pictures_shown(col, only.fields["Notes"])) == 1
        assert ankiutil.media_problems(col) == ([], [])
    finally:
        col.close()
    (vault / "Oak facts.md").write_text("Oaks live very long.\n", encoding="utf-8")
    assert build(vault, tmp_path / "dist", capsys) == (0, [])
    again = tmp_path / "again"
    again.mkdir()
    col = ankiutil.load(again, tmp_path / "dist" / "vault.apkg")
    try:
        assert "Oaks live very long." in ankiutil.notes(col)[0].fields["Notes"]
    finally:
        col.close()


cli = ankigen_cli


def test_pictures_in_a_later_field_of_an_adopted_note_type_reach_anki(
    tmp_path, image_server: ImageServer
):
    """The user's own note type, kept by `ankigen adopt`: its third field gets the pictures
    (a vault file and a download) when the card is edited after adopting."""
    (tmp_path / "profile").mkdir()
    collection = tmp_path / "profile" / "collection.anki2"
    col = Collection(str(collection))
    models = col.models
    vocab = models.new("Vocab")
    for name in VOCAB[:3]:
        models.add_field(vocab, models.new_field(name))
    template = models.new_template("Card 1")
    template["qfmt"], template["afmt"] = "{{Word}}", "{{Meaning}}<br>{{Picture}}"
    models.add_template(vocab, template)
    models.add(vocab)
    added = col.new_note(models.by_name("Vocab"))
    added["Word"], added["Meaning"], added["Picture"] = "tree", "arbre", ""
    col.add_note(added, col.decks.id("Default"))
    nid = added.id
    col.db.execute("update notes set mod = mod - 86400")  # added by the plugin a while ago
    col.close()

    settings = {"settings": {}, "fields_dict": {"Vocab": VOCAB[:3]}}
    before = f"START\nVocab\nWord: tree\nMeaning: arbre\nPicture: none yet\n<!--ID: {nid}-->\nEND\n"
    vault = write_vault(
        tmp_path / "vault",
        {f".obsidian/plugins/{PLUGIN_ID}/data.json": json.dumps(settings), "Words.md": before},
    )
    (vault / "oak.png").write_bytes(png_bytes(colour="green"))
    adopted = cli("adopt", vault, "--collection", collection)
    assert adopted.returncode == 0, adopted.stderr
    assert "1 matched" in adopted.stdout

    remote = image_server.url("/good.png")
    after = before.replace("none yet", f"![[oak.png]] ![]({remote}) ![[lost.png]]")
    (vault / "Words.md").write_text(after, encoding="utf-8")
    out = tmp_path / "dist"
    built = cli("build", vault, "-o", out, "--cache-dir", tmp_path / "cache")
    assert built.returncode == 0, built.stderr
    assert "Words.md:5: warning: picture lost.png not included: not found in the vault" in (
        built.stderr
    )
    assert "first two" not in built.stderr

    col = Collection(str(collection))
    try:
        count = col.note_count()
        for apkg in sorted(out.glob("*.apkg")):
            ankiutil.import_package(col, apkg)
        assert col.note_count() == count  # updated in place, not doubled
        note = col.get_note(nid)
        assert note.note_type()["name"] == "Vocab"
        assert len(set(pictures_shown(col, note["Picture"]))) == 2
        assert "missing picture: lost.png" in note["Picture"]
        assert ankiutil.media_problems(col) == ([], [])
    finally:
        col.close()


def test_the_old_limits_code_is_retired_not_reused():
    """AG405 (a later field's pictures dropped) has no message any more: no other kind of
    message gets it, --ignore still accepts it, and the README lists it as retired."""
    from ankigen.diagnostics import CODES, RETIRED, known_code

    retired = {rule.code for rule in RETIRED}
    assert "AG405" in retired and known_code("AG405")
    assert not retired & {rule.code for rule in CODES}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for rule in RETIRED:
        assert f"| `{rule.code}` | retired: " in readme


def test_a_picture_added_to_a_later_field_updates_the_note_in_anki(tmp_path, capsys):
    """Only the third field changes: the card's modification time should move, so Anki's
    importer (which updates a note only from a newer one) takes the picture."""
    note = "START\nVocab\nWord: tree\nMeaning: arbre\nPicture: none\nNotes: plain\nEND\n"
    vault = write_vault(
        tmp_path / "vault",
        {f".obsidian/plugins/{PLUGIN_ID}/data.json": json.dumps(SETTINGS), "Words.md": note},
    )
    (vault / "oak.png").write_bytes(png_bytes(colour="green"))
    out = tmp_path / "dist"

    def build_with_lock() -> None:
        assert main([str(vault), "-o", str(out), "--cache-dir", str(out / "cache")]) == 0
        capsys.readouterr()

    build_with_lock()
    col = ankiutil.load(tmp_path, out / "vault.apkg")
    try:
        (vault / "Words.md").write_text(note.replace("none", "![[oak.png]]"), encoding="utf-8")
        build_with_lock()
        ankiutil.import_package(col, out / "vault.apkg")
        [only] = ankiutil.notes(col)
        assert len(pictures_shown(col, only.fields["Picture"])) == 1
        assert ankiutil.media_problems(col) == ([], [])
        # Then only the fourth field's words change: that arrives too.
        edited = note.replace("none", "![[oak.png]]").replace("plain", "reworded")
        (vault / "Words.md").write_text(edited, encoding="utf-8")
        build_with_lock()
        ankiutil.import_package(col, out / "vault.apkg")
        [only] = ankiutil.notes(col)
        assert "reworded" in only.fields["Notes"]
    finally:
        col.close()


# ---------------------------------------------------------------- the media stage, by field

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))
PICTURES = ("oak.png", "elm.png", "gone.png", "")  # "" = no picture in the field


@st.composite
def rendered_notes(draw) -> list[RenderedNote]:
    """Notes of cards with two to five fields, pictures (found or not) in any of them."""
    notes = []
    for n in range(draw(st.integers(1, 3))):
        rel = f"N{n}.md"
        cards = []
        sources = []
        for c in range(draw(st.integers(0, 3))):
            fields = []
            for f in range(draw(st.integers(2, 5))):
                tag = f"n{n}c{c}f{f}"
                names = draw(st.lists(st.sampled_from(PICTURES), max_size=3))
                html = f"<p>{tag}</p>" + "".join(f'<img src="{p}">' for p in names if p)
                markdown = tag + "".join(f"\n![[{p}]]" for p in names if p)
                fields.append(CardField(f"F{f}", html, markdown, 10 * c + f + 1))
            source = CardSource("question", 10 * c + 1, fields[0].markdown, "", 10 * c + 2)
            sources.append(source)
            cards.append(RenderedCard(source, tuple(fields)))
        references = None
        if cards and draw(st.booleans()):
            references = CardField(
                "References", '<p>refs</p><img src="elm.png">', "![[elm.png]]", 99
            )
        parsed = ParsedNote(rel, rel[:-3], tuple(sources))
        notes.append(RenderedNote(parsed, tuple(cards), references, (0, 0, "")))
    return notes


@settings(
    max_examples=EXAMPLES or 60,
    deadline=None,
    derandomize=not EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rendered_notes())
def test_each_field_keeps_its_own_pictures_whatever_the_layout(tmp_path, notes):
    """Every field of every card comes back in its place (same card, name, Markdown, line),
    its own text kept, every picture it showed rewritten or marked missing at its own line:
    nothing is paired up by position, so no field can take another's pictures."""
    root = tmp_path / "v"
    root.mkdir(exist_ok=True)
    for name, colour in (("oak.png", "green"), ("elm.png", "red")):
        (root / name).write_bytes(png_bytes(colour=colour))
    vault = Vault(root, "v", (), ("elm.png", "oak.png"))
    media = MediaOptions(cache_dir=tmp_path / "cache", offline=True)
    result = resolve_media(notes, vault, media, {})
    assert len(result.notes) == len(notes)
    names = {m.name for m in result.media}
    missing_at = sorted((d.path, d.line) for d in result.diagnostics)
    expected_missing = []
    for before, after in zip(notes, result.notes, strict=True):
        assert after.note is before.note and len(after.cards) == len(before.cards)
        pairs = [(b, a) for bc, ac in zip(before.cards, after.cards, strict=True)
                 for b, a in zip(bc.fields, ac.fields, strict=True)]  # fmt: skip
        if before.references is not None:
            pairs.append((before.references, after.references))
        for old, new in pairs:
            assert (new.name, new.markdown, new.line) == (old.name, old.markdown, old.line)
            assert new.html.startswith(old.html[: old.html.index("</p>") + 4])
            shown = old.html.count("<img")
            assert new.html.count("<img") == shown - old.html.count('src="gone.png"')
            assert all(src in names for src in IMG_SRC.findall(new.html))
            if "<img" not in old.html:
                assert new is old  # untouched, not copied
            for offset, line in enumerate(old.markdown.split("\n")[1:], start=1):
                if "gone.png" in line:
                    expected_missing.append((before.note.rel, old.line + offset))
    assert missing_at == sorted(set(expected_missing))
