"""Every package ankigen writes imports into Anki in full; a card Anki would refuse is left out
with a `file:line` warning and never takes its folder or package with it (issue 16, 1 and 2).

Anki's limits are not guessed: each rule of ankigen/ankilimits.py is held against what the
`anki` package does with a package at the limit and one past it, and generated vaults in every
syntax, extremes included, are built and imported into a real collection."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ankiutil
import pytest
from anki.collection import Collection
from conftest import REPO, write_vault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_build import run_build

from ankigen.ankilimits import (
    MAX_CLOZE_NUMBER,
    MAX_DECK_DEPTH,
    card_ords,
    cloze_numbers,
    cloze_problem,
    deck_problem,
    field_names_problem,
)
from ankigen.package import package_bytes
from ankigen.records import CLOZE, AnkiNote, DeckPackage, ForeignNoteType
from ankigen.syntax import SyntaxSettings, flashcards, read_note
from ankigen.syntax.obsidian_to_anki import PLUGIN_ID as OTA

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))


def examples(default: int, fuzz_cap: int = 1_000_000) -> settings:
    return settings(
        max_examples=min(EXAMPLES, fuzz_cap) or default,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=not EXAMPLES,
    )


def _note(fields: list[str], **kw) -> AnkiNote:
    return AnkiNote(
        guid="g1",
        fields=tuple(fields),
        tags=(),
        mod=1_700_000_000,
        source="n.md:1",
        note_rel="n.md",
        line=1,
        **kw,
    )


def _import(tmp: Path, deck: str, notes: list[AnkiNote]) -> Collection:
    apkg = tmp / "p.apkg"
    apkg.write_bytes(
        package_bytes(DeckPackage(deck, "p.apkg", tuple(notes)), created=1_700_000_000)
    )
    col = ankiutil.new_collection(tmp)
    ankiutil.import_package(col, apkg)
    return col


# ---------------------------------------------------------------- the limits are Anki's


def test_deck_depth_limit_is_ankis(tmp_path: Path):
    basic = ["q", "a", "", "", "", "s"]
    at_limit = "::".join(f"d{i}" for i in range(MAX_DECK_DEPTH))
    col = _import(tmp_path, at_limit, [_note(basic)])
    assert col.card_count() == 1
    assert col.decks.name(col.get_card(col.find_cards("")[0]).did) == at_limit
    col.close()
    with pytest.raises(Exception, match="nesting level too deep"):
        _import(Path(tempfile.mkdtemp(dir=tmp_path)), at_limit + "::one more", [_note(basic)])
    # Empty parts count for Anki's check, so the packager drops them as Anki's own names do.
    col = _import(Path(tempfile.mkdtemp(dir=tmp_path)), "a" + "::" * MAX_DECK_DEPTH, [_note(basic)])
    assert col.decks.name(col.get_card(col.find_cards("")[0]).did) == "a"
    col.close()


# Field names Anki keeps as written, and names it refuses, trims, strips or renames.
KEPT_NAMES = ["Front", "A B", "A=B", "!A", ">A", "&A", "A\u200b", "x" * 70, "Σ", "Back Extra"]
CHANGED_NAMES = [" ", "\u3000", "\xa0", " A", "A ", "A:", "{A}", "A}", '"A"', "A\n", "A{"]
BROKEN_NAMES = ["", "#A", "/A", "^A", "=A"]  # the packager's template engine fails on them
CHANGED_NAMES += ["FrontSide"]  # the field is never shown: Anki's own {{FrontSide}} is
KEPT_NAMES += ["frontside", "Tags", "Deck", "Card", "Type", "CardFlag"]


@pytest.mark.parametrize("name", KEPT_NAMES + CHANGED_NAMES + BROKEN_NAMES)
def test_field_name_rule_is_ankis(tmp_path: Path, name: str):
    """A field name is refused by the check exactly when Anki would refuse or change it."""
    names = (name, "Back")
    flagged = bool(field_names_problem(names))
    foreign = ForeignNoteType(123_456_789, "t", names)
    try:
        col = _import(tmp_path, "D", [_note(["qq", "aa"], foreign=foreign)])
    except Exception:
        kept = False
    else:
        note = col.get_note(col.find_notes("")[0])
        kept = list(note.keys()) == list(names) and "qq" in note.cards()[0].question()
    assert flagged == (not kept), (name, flagged, kept)


@pytest.mark.parametrize("names", [("A", "A"), ("A", "a"), ("Σ", "σ"), ("Text", "TEXT")])
def test_field_names_alike_but_for_case_are_flagged_as_anki_renames_them(tmp_path, names):
    assert field_names_problem(names)
    col = _import(tmp_path, "D", [_note(["qq", "aa"], foreign=ForeignNoteType(9, "t", names))])
    assert list(col.get_note(col.find_notes("")[0]).keys()) != list(names)


CLOZE_NUMBERS = ["0", "1", "2", "3", "01", "00002", "499", "500", "9999", "10000", "65535"]
CLOZE_NUMBERS += ["65536", "99999", "123456789012345678901234567890"]
cloze_text = st.lists(
    st.one_of(
        st.sampled_from(CLOZE_NUMBERS).map(lambda n: "{{c" + n + "::"),
        st.sampled_from(["}}", "x", " ", "{", "}", ":", "::", "{{c", "{{C1::", "<b>", "}}}"]),
    ),
    max_size=12,
).map("".join)


@pytest.fixture(scope="module")
def cloze_col(tmp_path_factory):
    col = Collection(str(tmp_path_factory.mktemp("cloze") / "c.anki2"))
    yield col
    col.close()


@examples(200)
@given(text=cloze_text)
def test_cloze_numbers_are_the_cards_anki_makes(cloze_col, text: str):
    """Anki's own card generation on the same text: the checked cloze numbers are its cards."""
    note = cloze_col.new_note(cloze_col.models.by_name("Cloze"))
    note["Text"] = text
    cloze_col.add_note(note, 1)
    made = sorted(card.ord for card in note.cards())
    numbers = cloze_numbers([text])
    problem = cloze_problem([text])
    if numbers - {0} and max(numbers) <= MAX_CLOZE_NUMBER:  # c0 makes no card, for Anki too
        assert card_ords([text]) == made, (text, numbers)
    if not numbers - {0}:  # no cloze Anki reads: it makes one "empty" card; ankigen none
        assert made == [0] and problem
    if max(numbers, default=0) > MAX_CLOZE_NUMBER:  # Anki's cards for c500 and up: one ord
        assert made[-1] == MAX_CLOZE_NUMBER - 1 and problem
    if any(int(n) > MAX_CLOZE_NUMBER for n in re.findall(r"\{\{c(\d+)::", text)):
        assert problem
    assert bool(problem) == (0 in numbers or not numbers or "c" in problem), (text, problem)


def test_clozes_up_to_the_limit_make_one_card_each(tmp_path: Path, cloze_col):
    text = " ".join(f"{{{{c{i}::w}}}}" for i in range(1, MAX_CLOZE_NUMBER + 1))
    assert not cloze_problem([text])
    col = _import(tmp_path, "D", [_note([text, "", "", "", "", "s"], note_type=CLOZE)])
    assert col.card_count() == MAX_CLOZE_NUMBER
    assert col.fix_integrity()[1] and col.card_count() == MAX_CLOZE_NUMBER
    past = text + f" {{{{c{MAX_CLOZE_NUMBER + 1}::w}}}}"
    assert "c501" in cloze_problem([past])
    note = cloze_col.new_note(cloze_col.models.by_name("Cloze"))
    note["Text"] = past
    cloze_col.add_note(note, 1)  # Anki's own cards: c501 shares the ord of c500
    ords = [card.ord for card in note.cards()]
    assert len(ords) == MAX_CLOZE_NUMBER + 1 and len(set(ords)) == MAX_CLOZE_NUMBER


# ---------------------------------------------------------------- one bad card costs one card

BAD_AND_GOOD = {
    f".obsidian/plugins/{OTA}/data.json": json.dumps(
        {"settings": {"Defaults": {"CurlyCloze": True}}, "fields_dict": {"Blank": ["", "Back"]}}
    ),
    f".obsidian/plugins/{flashcards.PLUGIN_ID}/data.json": "{}",
    "Bio/Cell.md": (
        "#Q The {{c0::mito}} is small\n\n"
        "#Q Good seed card?\nAnswer: yes\n\n"
        "#Q {{c0::a}} {{c1::b}}\n\n"
        "#Q Literal {{c65536::x}}\n\n"
        "#Q Good cloze {{c1::one}} and {{c500::five hundred}}\n\n"
        "#Q Too many {{c1::one}} and {{c10000::ten thousand}}\n"
    ),
    "Bio/Ota.md": (
        "STARTI [Cloze] The {{c0::}} leaf ENDI\n\n"
        "STARTI [Basic] Good inline? Back: yes ENDI\n\n"
        "STARTI [Blank] blank field name Back: x ENDI\n\n"
        "STARTI [Cloze] Good ota cloze {{c2::two}} ENDI\n"
    ),
    "Bio/Deep.md": (
        "TARGET DECK: " + "::".join("t" * (i + 1) for i in range(12)) + "\n\n"
        "STARTI [Basic] Too deep by TARGET DECK? Back: x ENDI\n"
    ),
    "Bio/Tags.md": "#flashcards/" + "/".join("s" * (i + 1) for i in range(12)) + "\n\n"
    "Too deep by a flashcard tag::x\n",
    "Bio/Fc.md": "---\ncards-deck: "
    + "::".join(["f"] * 12)
    + "\n---\nToo deep by cards-deck #card\nx\n",
    "/".join(["d"] * 12) + "/Deep.md": "#Q Too deep by folders?\nAnswer: x\n",
    "/".join(["d"] * 11) + "/Deep.md": "#Q Deep enough by folders?\nAnswer: yes\n",
}
GOOD = ["Literal {{c65536::x}}", "Good seed card?", "Good cloze", "Good inline?"]
GOOD += ["Good ota cloze", "Deep enough"]
BAD = {  # file → line of each card left out
    "Bio/Cell.md": [1, 6, 12],
    "Bio/Ota.md": [1, 5],
    "Bio/Deep.md": [3],
    "Bio/Tags.md": [3],
    "Bio/Fc.md": [4],
    "/".join(["d"] * 12) + "/Deep.md": [1],
}


def test_bad_cards_are_warned_and_left_out_and_their_neighbours_imported(tmp_path: Path):
    """The issue's examples and variants, through the real command line and a real import."""
    vault = write_vault(tmp_path / "vault", BAD_AND_GOOD)
    out = tmp_path / "dist"
    result = subprocess.run(
        [sys.executable, str(REPO / "build_deck.py"), str(vault), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "error:" not in result.stderr
    for rel, lines in BAD.items():
        for line in lines:
            assert re.search(
                rf"^{re.escape(rel)}:{line}: warning: .*card left out", result.stderr, re.M
            ), (rel, line, result.stderr)
    col = ankiutil.new_collection(tmp_path)
    for apkg in sorted(out.glob("*.apkg")):
        ankiutil.import_package(col, apkg)
    fronts = [next(iter(n.fields.values())) for n in ankiutil.notes(col)]
    for good in GOOD:
        assert sum(good in front for front in fronts) == 1, (good, fronts)
    assert not any("Too " in front or "{{c0" in front for front in fronts), fronts
    [summary] = [line for line in result.stdout.splitlines() if "question cards" in line]
    assert f"{len(fronts)} question cards" in summary
    cards = col.card_count()
    col.fix_integrity()  # Anki's Check Database finds no card to add or remove
    assert col.card_count() == cards == len(fronts) + 1  # the c1/c500 note has two


# ---------------------------------------------------------------- generated vaults


def _deck(parts: int) -> str:
    return "::".join(f"L{i}" for i in range(parts))


FIELD_NAMES = ["Front", "Back", "", " ", "Back", "back", "A:", "{x}", "#s", "Ünï", "Source"]
CLOZES = ["{{c1::a}}", "{{c0::a}}", "{{c2::b}}", "{{c65536::z}}", "{{c501::t}}", "{{c::x}}"]
CLOZES += ["{{c500::a}}", "{0:x}", "{501:y}", "{}", "{c0|x}"]


@st.composite
def vaults(draw) -> dict[str, str]:
    """A vault in every syntax at once, with decks, field names and clozes at and past Anki's
    limits: deep folders, TARGET DECK, flashcard tags and cards-deck, fields_dict names."""
    depth = st.integers(1, MAX_DECK_DEPTH + 2)
    cloze = st.lists(st.sampled_from(CLOZES), min_size=0, max_size=3).map(" ".join)
    many = " ".join(f"{{{{c{n}::m}}}}" for n in range(1, draw(st.sampled_from([2, 500, 502]))))
    cloze = cloze | st.just(many)
    fields = draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=3))
    files: dict[str, str] = {
        f".obsidian/plugins/{OTA}/data.json": json.dumps(
            {
                "settings": {"Defaults": {"CurlyCloze": draw(st.booleans())}},
                "fields_dict": {"Mine": fields},
            }
        ),
        f".obsidian/plugins/{flashcards.PLUGIN_ID}/data.json": "{}",
    }
    for i in range(draw(st.integers(1, 4))):
        parts = st.sampled_from(["F", "F", "a::b", "::", "Default", "x_*", " s "])
        folder = "/".join(draw(parts) + str(j) for j in range(draw(depth) - 1)) or "Top"
        kind = draw(st.sampled_from(["seed", "sr", "ota", "fc"]))
        text = ""
        if kind == "seed":
            text = f"#Q Seed {i} {draw(cloze)}?\nAnswer: a{i}\n\n#UseCase Case {i}\nIt is.\n"
        elif kind == "sr":
            tag = "/".join(f"s{j}" for j in range(draw(depth)))
            text = f"#flashcards/{tag}\n\nSr {i} q::a\n\nSr {i} cloze ==x== {draw(cloze)}\n"
        elif kind == "ota":
            target = f"TARGET DECK: {_deck(draw(depth))}\n\n" if draw(st.booleans()) else ""
            text = (
                f"{target}STARTI [Basic] Ota {i}? Back: b ENDI\n\n"
                f"STARTI [Cloze] Ota {i} {draw(cloze)} {{n}} ENDI\n\n"
                f"STARTI [Mine] Ota mine {i} Back: m ENDI\n\n"
                f"START\nMine\nOta block {i}\n{fields[-1]}: x\nhttps://example.com\nEND\n"
            )
        else:
            deck = f"---\ncards-deck: {_deck(draw(depth))}\n---\n" if draw(st.booleans()) else ""
            text = f"{deck}Fc {i} front #card\nback\n\nFc {i} {{1:Sun}} {draw(cloze)} #card\n"
        files[f"{folder}/n{i}.md"] = text
    return files


@examples(10, fuzz_cap=300)  # a build and an Anki import per example
@given(vaults())
def test_generated_vaults_import_in_full_with_the_count_the_build_reports(files):
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        vault = write_vault(root / "vault", files)
        report = run_build(vault, root / "dist")
        assert not [d for d in report.diagnostics if d.severity == "error"], report.diagnostics
        col = ankiutil.new_collection(root)
        for apkg in sorted((root / "dist").glob("*.apkg")):
            ankiutil.import_package(col, apkg)  # Anki refuses no package
        assert col.note_count() == report.cards + report.use_cases
        for nid in col.find_notes(""):
            note = col.get_note(nid)
            assert note.cards(), note.fields
        cards = col.card_count()
        col.fix_integrity()
        assert col.card_count() == cards
        col.close()


# ---------------------------------------------------------------- linear on hostile input


def _seconds(run, argument) -> float:
    """The least CPU time of three runs (CPU time: other processes on the machine do not count)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        run(argument)
        best = min(best, time.process_time() - start)
    return best


def _linear(make, run, n: int) -> None:
    """`run` on `make(10 n)` costs at most a generous multiple of `run` on `make(n)`: linear
    work is 10 times as much, quadratic 100 times."""
    small, large = make(n), make(10 * n)
    assert _seconds(run, large) < 40 * _seconds(run, small) + 0.25


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "{{c1::" * n + "}}" * n,  # nested
        lambda n: "{{c2::" * n,  # never closed
        lambda n: "{{c1::a}}" * n,
        lambda n: "{{c" + "9" * n + "::x}}",  # a huge number
        lambda n: "".join(f"{{{{c{i % 600}::x" for i in range(n)) + "}}" * n,
    ],
)
def test_cloze_check_is_linear(make):
    _linear(make, lambda text: cloze_problem([text]), 10_000)


def test_field_name_and_deck_checks_are_linear():
    _linear(lambda n: [f"F{i}" for i in range(n)], field_names_problem, 5_000)
    _linear(lambda n: ["a" * n, "a" * n], field_names_problem, 5_000)
    _linear(lambda n: "::".join(["d"] * n), deck_problem, 5_000)


def test_readers_new_checks_are_linear():
    from ankigen.syntax.obsidian_to_anki import trailing_id

    _linear(lambda n: "ID: 1 " * n, trailing_id, 20_000)
    _linear(lambda n: "<!--ID: " * n + "1-->", trailing_id, 20_000)
    settings_ = SyntaxSettings(plugins={OTA: {"settings": {}}})

    def read(text: str) -> None:
        read_note("N.md", text, settings_)

    _linear(lambda n: "#flashcards\n\nq::a " + "<!--SR:" * n + "\n", read, 2_000)
    _linear(lambda n: "#flashcards\n\nq::a <!--SR:" + "1," * n + "\n", read, 2_000)
    # Blocks that never end, running over seed cards: one warning each, linear.
    _linear(lambda n: "START\nBasic\nFront: a\n\n#Q b?\nAnswer: c\n\n" * n, read, 300)
    _linear(lambda n: "```\n" + "q::a\n" * n, read, 2_000)


def test_card_left_out_keeps_its_identity_and_is_never_listed_as_deleted(tmp_path: Path):
    good = "#Q The {{c1::nucleus}} holds DNA\n\n#Q Neighbour?\nAnswer: stays\n"
    vault = write_vault(tmp_path / "vault", {"Bio/Cell.md": good})
    out = tmp_path / "dist"
    col = ankiutil.new_collection(tmp_path)
    run_build(vault, out)
    ankiutil.import_package(col, out / "Bio.apkg")
    guids = {col.get_note(n).guid for n in col.find_notes("")}
    (vault / "Bio/Cell.md").write_text(good.replace("c1::", "c0::"), encoding="utf-8")
    report = run_build(vault, out)
    assert report.cards == 1 and not report.todo.deleted
    assert [d.line for d in report.diagnostics if "card left out" in d.message] == [1]
    (vault / "Bio/Cell.md").write_text(good, encoding="utf-8")
    report = run_build(vault, out)
    assert report.cards == 2 and not report.todo.deleted
    ankiutil.import_package(col, out / "Bio.apkg")
    assert {col.get_note(n).guid for n in col.find_notes("")} == guids
