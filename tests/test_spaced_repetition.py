"""The Spaced Repetition plugin's syntax, from notes to cards in a real Anki collection.

The fixtures are written in our own words. A few forms follow the plugin's documentation and
tests (st3v3nmw/obsidian-spaced-repetition, MIT licence, © Stephen Mwangi and contributors).
"""

from __future__ import annotations

import datetime
import json
import textwrap
from pathlib import Path

import ankiutil
import pytest
from conftest import write_vault
from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.build import BuildOptions, build
from ankigen.cli import run
from ankigen.media import MediaOptions
from ankigen.records import CLOZE, QUESTION, REVERSED
from ankigen.syntax import SyntaxSettings, load_syntax_settings, read_note
from ankigen.syntax.cloze import CLOSE, OPEN, mark, marks_to_anki
from ankigen.syntax.spaced_repetition import PLUGIN_ID, find_clozes, parse_cloze_pattern

SETTINGS_PATH = f".obsidian/plugins/{PLUGIN_ID}/data.json"


def cards(text: str, plugin: dict | None = None, rel: str = "Deck/Note.md", **kw):
    settings = SyntaxSettings(plugins={PLUGIN_ID: plugin} if plugin is not None else {}, **kw)
    note, diagnostics = read_note(rel, textwrap.dedent(text).lstrip("\n"), settings)
    return note.cards, [str(d) for d in [*settings.problems, *diagnostics]]  # as a build says


def shown(card) -> tuple[str, str]:
    """A card's sides with clozes in Anki's form, for reading the tests."""
    return marks_to_anki(card.question), card.answer


# ---------------------------------------------------------------- which notes


def test_only_notes_with_a_flashcard_tag_are_read():
    assert cards("cat::chat\n")[0] == ()
    found, _ = cards("#flashcards\n\ncat::chat\n")
    assert [(c.question, c.answer, c.deck) for c in found] == [("cat", "chat", "flashcards")]
    found, _ = cards("---\ntags: [flashcards/French]\n---\ncat::chat\n")
    assert found[0].deck == "flashcards::French"
    found, _ = cards("---\ntags: flashcardsX\n---\ncat::chat #flashcardsX\n")
    assert found == ()  # "#flashcardsX" is another tag


def test_settings_choose_tags_separators_and_folders():
    plugin = {
        "settings": {
            "flashcardTags": ["#learn"],
            "singleLineCardSeparator": "=>",
            "singleLineReversedCardSeparator": "<=>",
            "noteFoldersToIgnore": ["Drafts"],
        }
    }
    found, _ = cards("#learn/words\n\ncat=>chat\nhello<=>bonjour\na::b\n", plugin)
    assert [(c.question, c.answer, c.note_type) for c in found] == [
        ("cat", "chat", QUESTION),
        ("hello", "bonjour", REVERSED),
    ]
    assert found[0].deck == "learn::words"
    assert cards("#learn\n\ncat=>chat\n", plugin, rel="Drafts/x.md")[0] == ()


def test_folder_mode_reads_every_note_into_its_folder_deck():
    plugin = {"settings": {"convertFoldersToDecks": True}}
    found, _ = cards("cat::chat\n\n#flashcards/other\ndog::chien\n", plugin)
    assert [(c.question, c.deck) for c in found] == [("cat", ""), ("dog", "")]


# ---------------------------------------------------------------- single-line and multi-line


def test_single_line_cards_first_separator_counts_not_in_code():
    found, problems = cards(
        """
        #flashcards
        a::b::c
        `x::y` is code::it is
        dog:::chien
        only `a::b` here
        """
    )
    # As the plugin reads it: only the first "::" of a line counts, and one in code is none.
    assert [(c.question, c.answer, c.note_type) for c in found] == [
        ("a", "b::c", QUESTION),
        ("dog", "chien", REVERSED),
    ]
    assert [c.line for c in found] == [2, 4]
    assert problems == [
        "Deck/Note.md:3: warning: '::' after inline code holding '::': the plugin reads only "
        "the first one, which is code; no card made"
    ]


def test_multiline_cards_end_at_a_blank_line():
    found, _ = cards(
        """
        #flashcards

        As per the definition
        of "multiline"
        ?
        same goes for
        the answer

        Front
        ??
        Back
        """
    )
    assert [(c.question, c.answer, c.note_type) for c in found] == [
        ('As per the definition\nof "multiline"', "same goes for\nthe answer", QUESTION),
        ("Front", "Back", REVERSED),
    ]
    assert (found[0].line, found[0].answer_line, found[0].end_line) == (3, 6, 7)


def test_end_marker_allows_blank_lines_and_code_inside():
    plugin = {"settings": {"multilineCardEndMarker": "+++"}}
    found, diagnostics = cards(
        """
        #flashcards
        Question
        ?
        Line one

        ```python
        x = 1

        ```
        +++
        <!--SR:!2024-08-16,51,230-->
        after::card
        Second
        ?
        never ends
        """,
        plugin,
    )
    assert found[0].answer == "Line one\n\n```python\nx = 1\n\n```"
    assert [s.interval for s in found[0].schedule] == [51]
    assert (found[1].question, found[1].answer) == ("after", "card")
    # No end marker before the note ends: the card runs on to the note's end, as the plugin's.
    assert (found[2].question, found[2].answer) == ("Second", "never ends")
    assert diagnostics == []


def test_end_marker_runs_a_card_on_past_blank_lines():
    # As the plugin's own parser reads it (checked against it in test_sr_oracle.py): with an end
    # marker set, a card runs on past blank lines up to the marker, whatever cards it swallows.
    plugin = {"settings": {"multilineCardEndMarker": "---"}}
    found, diagnostics = cards(
        """
        #flashcards

        Question1
        ?
        Answer1

        Text after card

        Question2
        ??
        Answer2

        more of Answer2
        <!--SR:!2024-08-16,5,250!2024-08-17,6,250-->
        ---

        Question3 with a ==cloze==
        Answer3

        Answer3 again
        ---
        ---
        Tail ==cloze== alone
        """,
        plugin,
    )
    assert [(c.note_type, c.line, c.end_line) for c in found] == [
        (REVERSED, 3, 14),
        (CLOZE, 17, 20),
        (CLOZE, 23, 23),
    ]
    assert found[0].question == "Question1\n?\nAnswer1\n\nText after card\n\nQuestion2"
    assert found[0].answer == "Answer2\n\nmore of Answer2"
    assert [s.interval for s in found[0].schedule] == [5, 6]
    assert shown(found[1])[0] == "Question3 with a {{c1::cloze}}\nAnswer3\n\nAnswer3 again"
    assert diagnostics == [
        "Deck/Note.md:4: warning: '?' is inside the card of line 3, which runs on to the end "
        "marker '---' past blank lines (as the plugin reads it); it makes no card of its own"
    ]


# ---------------------------------------------------------------- never cards


def test_code_comments_and_frontmatter_are_never_cards():
    found, _ = cards(
        """
        ---
        tags: flashcards
        front: matter::not a card
        ---
        ```
        x::y
        ```
        ~~~
        ==not a cloze==
        ~~~
        <!-- a::b -->
        real::card
        <!-- several
        c::d
        lines -->
        %% e::f %%
        also::read
        """
    )
    assert [c.question for c in found] == ["real", "also"]


def test_a_one_line_fence_does_not_swallow_the_note():
    # The plugin reads "```" as opening a block until the next "```" line.
    found, _ = cards("#flashcards\n```js const a = 1```\nreal::card\n")
    assert [c.question for c in found] == ["real"]


# ---------------------------------------------------------------- clozes


def test_clozes_simple_numbered_hints_and_overlapping():
    found, diagnostics = cards(
        """
        #flashcards
        The first female ==prime minister== of Australia was ==Julia Gillard==.

        Asked ==1;;together== and ==2;;apart;;a hint== and ==1;;again==.

        Overlapping ==ash;;context== is not Anki's.
        """
    )
    assert [c.note_type for c in found] == [CLOZE] * 3
    assert shown(found[0])[0] == (
        "The first female {{c1::prime minister}} of Australia was {{c2::Julia Gillard}}."
    )
    assert shown(found[1])[0] == (
        "Asked {{c1::together}} and {{c2::apart::a hint}} and {{c1::again}}."
    )
    assert shown(found[2])[0] == "Overlapping {{c1::context}} is not Anki's."
    assert any(":6: warning: overlapping cloze ('ash')" in d for d in diagnostics)


def test_cloze_patterns_from_settings():
    plugin = {
        "settings": {
            "clozePatterns": [
                "**[123;;]answer[;;hint]**",
                "{{[123::]answer[::hint]}}",
                "==answer==[^\\[hint\\]][\\[^123\\]]",
            ],
            # "::" would make the line a single-line card (the plugin warns about this too).
            "singleLineCardSeparator": "=>",
            "singleLineReversedCardSeparator": "<=>",
        }
    }
    found, _ = cards("#flashcards\nBold **x** and {{2::y::why}} and ==z==^[zed][^3].\n", plugin)
    assert shown(found[0])[0] == "Bold {{c4::x}} and {{c2::y::why}} and {{c3::z::zed}}."


def test_legacy_cloze_switches():
    plugin = {"settings": {"convertHighlightsToClozes": False, "convertBoldTextToClozes": True}}
    found, _ = cards("#flashcards\nA ==b== and **c**.\n", plugin)
    assert shown(found[0])[0] == "A ==b== and {{c1::c}}."


def test_cloze_search_is_linear_on_hostile_lines():
    pattern = parse_cloze_pattern("{{[123::]answer[::hint]}}")
    assert pattern is not None
    assert find_clozes("{{" * 200_000, (pattern,)) == []
    assert len(find_clozes("{{a}} " * 50_000, (pattern,))) == 50_000


def test_anki_rules_inside_clozes():
    found, _ = cards("#flashcards\n==`a}}b` and x::y== and ==$\\frac{1}{2}}$==\n")
    # "::" in the answer is the single-line separator here, as in the plugin: no cloze.
    assert found[0].note_type == QUESTION
    html = marks_to_anki(OPEN + "1\ue001<code>a}}b::c{{</code>" + CLOSE)
    assert html == "{{c1::<code>a}&#125;b:&#58;c{&#123;</code>}}"


# ---------------------------------------------------------------- decks


def test_decks_from_tag_lines_card_tags_and_several_tags():
    found, diagnostics = cards(
        """
        #flashcards/deckA
        Question1::Answer1
        Question2::Answer2

        #flashcards/deckB Question4::Answer4

        Question6::Answer6

        #flashcards/language/words #flashcards/trivia
        A group of cats is called a::clowder
        """
    )
    assert [(c.question, c.deck) for c in found] == [
        ("Question1", "flashcards::deckA"),
        ("Question2", "flashcards::deckA"),
        ("Question4", "flashcards::deckB"),
        ("Question6", "flashcards::deckA"),
        ("A group of cats is called a", "flashcards::language::words"),
    ]
    assert any(":10: warning: card tagged for several decks" in d for d in diagnostics)


def test_context_is_the_headings_above():
    found, _ = cards("# Top\n#flashcards\n## Sub\nq::a\n")
    assert found[0].context == ("Top", "Sub")


# ---------------------------------------------------------------- scheduling comments


def test_scheduling_comments_both_forms_and_bad_ones():
    found, diagnostics = cards(
        """
        #flashcards
        q1::a1 <!--SR:!2024-08-16,51,230-->
        q2:::a2
        <!--SR:!2024-08-16,51,230!2000-01-01,1,250-->
        q3::a3 <!--SR:!fsrs,2029-07-22T00:00:00.000Z,1049,1049.13725568,1,2,9,0,0,2026-09-07-->
        q4::a4 <!--SR:!2024-13-45,x,230-->
        q5::a5 <!--SR:2021-08-11,4,270-->
        q6::a6 <!--SR:!2021-08-11,4,270!2021-08-11,4,270-->

        <!--SR:!2024-08-16,51,230-->
        """
    )
    first, second, third, fourth, fifth, sixth = (c.schedule for c in found)
    assert len(sixth) == 1
    assert any(":8: warning: scheduling comment has 2 parts for 1 card" in d for d in diagnostics)
    assert [(s.due, s.interval, s.ease) for s in fifth] == [("2021-08-11", 4, 2700)]
    assert [(s.due, s.interval, s.ease) for s in first] == [("2024-08-16", 51, 2300)]
    assert second[1] is None and second[0].interval == 51
    fsrs = third[0]
    assert (fsrs.due, fsrs.interval, fsrs.stability, fsrs.difficulty) == (
        "2029-07-22",
        1049,
        1049.13725568,
        1.0,
    )
    assert fourth == (None,)
    assert any(":6: warning: scheduling comment not understood" in d for d in diagnostics)
    assert any(":10: warning: scheduling comment, but no card here" in d for d in diagnostics)
    assert all("SR:" not in c.question + c.answer for c in found)


# ---------------------------------------------------------------- with the seed syntax


def test_seed_and_sr_in_one_note_and_syntax_choice():
    text = """
        #flashcards
        #Question What is AMI::EC2?
        Answer: an image

        ## Vocabulary
        cat::chat
        """
    found, _ = cards(text)
    assert [(c.syntax, c.question) for c in found] == [
        ("seed", "What is AMI::EC2?"),
        ("spaced-repetition", "cat"),
    ]
    found, _ = cards(text, enabled=("seed",))
    assert [c.syntax for c in found] == ["seed"]
    found, _ = cards(text, enabled=("spaced-repetition",))
    assert [c.question for c in found] == ["What is AMI", "cat"]


def test_seed_question_with_anki_clozes_becomes_a_cloze():
    found, _ = cards("#Question The {{c1::sun}} is a {{c2::star::kind}} with `}}`.\n")
    assert found[0].note_type == CLOZE
    assert shown(found[0])[0] == "The {{c1::sun}} is a {{c2::star::kind}} with `}}`."


def test_broken_settings_file_is_a_warning(tmp_path):
    write_vault(tmp_path, {SETTINGS_PATH: "{not json"})
    settings, diagnostics = load_syntax_settings(tmp_path, ())
    assert settings.plugin(PLUGIN_ID) is None
    assert [d.path for d in diagnostics] == [SETTINGS_PATH]
    _, diagnostics = cards("#x\n", {"settings": {"flashcardTags": "x"}})
    assert any("flashcardTags should be a list" in d for d in diagnostics)


_ALPHABET = st.sampled_from(
    [
        "a",
        " ",
        "\n",
        "\n\n",
        ":",
        "::",
        ":::",
        "?",
        "??",
        "==",
        "**",
        "{{",
        "}}",
        ";;",
        "1",
        "#flashcards",
        "#flashcards/x",
        "`",
        "```",
        "<!--",
        "-->",
        "<!--SR:!2024-01-02,3,250-->",
        "%%",
        "#",
        "# H",
        "---",
        "+++",
        "$",
        "\\",
        "é",
        "\u00a0",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=60))
def test_any_note_reads_without_error(pieces):
    text = "#flashcards\n" + "".join(pieces)
    for plugin in ({}, {"settings": {"multilineCardEndMarker": "+++"}}):
        found, _ = cards(text, plugin)
        count = len(text.split("\n"))
        for card in found:
            assert 1 <= card.line <= card.end_line <= count
            assert card.question.strip()
            if card.note_type == CLOZE:
                assert OPEN in card.question and "{{c" in marks_to_anki(card.question)
            else:
                assert card.answer.strip() and OPEN not in card.question + card.answer


# ---------------------------------------------------------------- into Anki


def _anki_today() -> datetime.date:
    """The date Anki calls today: its day starts at 4 am, local time."""
    return (datetime.datetime.now() - datetime.timedelta(hours=4)).date()


def _vault(root: Path) -> Path:
    today = _anki_today()
    due = (today + datetime.timedelta(days=5)).isoformat()
    past = (today - datetime.timedelta(days=2)).isoformat()
    return write_vault(
        root,
        {
            SETTINGS_PATH: json.dumps(
                {"settings": {"flashcardTags": ["#flashcards"], "multilineCardEndMarker": ""}}
            ),
            "Languages/French.md": textwrap.dedent(
                f"""\
                ---
                tags: [flashcards/French]
                ---
                # Animals

                cat::chat
                dog:::chien <!--SR:!{due},12,230!{past},3,250-->

                What is a group
                of cats called?
                ?
                A **clowder**
                <!--SR:!fsrs,{due}T08:00:00.000Z,9,9.5,3.25,2,4,0,0,{past}T08:00:00.000Z-->

                #flashcards/Geography The ==Nile== flows through ==Egypt;;a country==.
                <!--SR:!{due},20,270!2000-01-01,1,250-->
                """
            ),
        },
    )


def _build(vault: Path, out: Path, **options):
    media = MediaOptions(cache_dir=out.parent / "cache", offline=True)
    return build(BuildOptions(vault=vault, out_dir=out, media=media, **options))


def _cards(col) -> dict[tuple[str, int], object]:
    result = {}
    for cid in col.find_cards(""):
        card = col.get_card(cid)
        note = card.note()
        first = note.fields[0]
        result[(first, card.ord)] = card
    return result


def _age_collection(col, days: int) -> None:
    """Move the collection's creation back, so its day number is not the package's."""
    col.db.execute("update col set crt = ?", col.crt - days * 86400)
    col.save() if hasattr(col, "save") else None


def test_cards_note_types_decks_and_progress_in_anki(tmp_path):
    vault = _vault(tmp_path / "Vault")
    report = _build(vault, tmp_path / "dist")
    assert report.written == ("Languages.apkg",)
    assert report.diagnostics == ()
    apkg = tmp_path / "dist" / "Languages.apkg"

    col = ankiutil.new_collection(tmp_path, "with.anki2")
    _age_collection(col, 30)
    today = col.sched.today
    assert today >= 29  # the collection's day is not the package's
    ankiutil.import_package(col, apkg, with_scheduling=True)
    by_type = sorted(col.get_note(nid).note_type()["name"] for nid in col.find_notes(""))
    assert by_type == ["ankigen", "ankigen", "ankigen cloze", "ankigen reversed"]
    assert len(col.find_cards("")) == 6  # 1 + 2 reversed + 1 + 2 clozes

    found = _cards(col)
    dog_forward = next(c for (f, o), c in found.items() if "dog" in f and o == 0)
    dog_back = next(c for (f, o), c in found.items() if "dog" in f and o == 1)
    assert (dog_forward.type, dog_forward.ivl, dog_forward.factor) == (2, 12, 2300)
    assert dog_forward.due - today == 5
    assert (dog_back.ivl, dog_back.factor, dog_back.due - today) == (3, 2500, -2)
    assert "chien" in dog_back.question() and "dog" in dog_back.answer()

    clowder = next(c for (f, o), c in found.items() if "clowder" not in f and "group" in f)
    assert (clowder.type, clowder.ivl, clowder.due - today) == (2, 9, 5)
    assert clowder.memory_state is not None
    assert round(clowder.memory_state.stability, 2) == 9.5
    assert round(clowder.memory_state.difficulty, 2) == 3.25
    assert "<strong>clowder</strong>" in clowder.answer()

    nile = sorted((c for (f, o), c in found.items() if "Nile" in f), key=lambda c: c.ord)
    assert [(c.type, c.ivl) for c in nile] == [(2, 20), (0, 0)]
    assert "[a country]" in nile[1].question() and "Nile" in nile[1].question()
    assert "Egypt" in nile[1].answer()
    assert col.decks.name(nile[0].did) == "flashcards::Geography"
    assert col.decks.name(dog_forward.did) == "flashcards::French"
    cat = col.get_note(col.find_notes("chat")[0])
    assert "flashcards::French" in cat.tags

    fresh = ankiutil.new_collection(tmp_path, "without.anki2")
    _age_collection(fresh, 3)
    ankiutil.import_package(fresh, apkg)
    assert {c.type for c in _cards(fresh).values()} == {0}  # all new without the option


def test_cli_syntax_option_and_example(tmp_path, capsys):
    vault = _vault(tmp_path / "Vault")
    (vault / "Languages" / "Seed.md").write_text("#Question Seed?\nAnswer: yes\n")
    out = tmp_path / "dist"
    assert run([str(vault), "-o", str(out), "--syntax", "seed", "-q"], prog="ankigen") == 0
    col = ankiutil.load(tmp_path, out / "Languages.apkg")
    assert len(col.find_notes("")) == 1
    assert run([str(vault), "-o", str(out), "--syntax", "nope"], prog="ankigen") == 2
    assert "unknown syntax nope" in capsys.readouterr().err


@pytest.mark.parametrize("hour", [0, 13, 23])
def test_due_days_do_not_depend_on_the_build_clock(tmp_path, monkeypatch, hour):
    # SOURCE_DATE_EPOCH at different hours of one day gives the same due days.
    vault = _vault(tmp_path / "Vault")
    stamp = int(datetime.datetime(2026, 1, 1, hour, tzinfo=datetime.UTC).timestamp())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(stamp))
    _build(vault, tmp_path / "dist", lock=False)
    col = ankiutil.new_collection(tmp_path)
    ankiutil.import_package(col, tmp_path / "dist" / "Languages.apkg", with_scheduling=True)
    dog = next(c for (f, o), c in _cards(col).items() if "dog" in f and o == 0)
    assert dog.due - col.sched.today == 5


def test_cloze_with_braces_in_code_and_math_in_anki(tmp_path):
    vault = write_vault(
        tmp_path / "Vault",
        {
            "Notes/Clozes.md": "#Question Jinja prints {{c1::`{{ name }}`}} and "
            "{{c2::$\\frac{a}{b}$::a fraction}}; a::b stays.\n\n---\n"
            "#flashcards\n\nIn Python ==`{'a': {'b': 1}}`== is a nested dict.\n",
        },
    )
    report = _build(vault, tmp_path / "dist")
    assert report.diagnostics == ()
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "Notes.apkg")
    found = _cards(col)
    assert len(found) == 3
    jinja = sorted((c for (f, _), c in found.items() if "Jinja" in f), key=lambda c: c.ord)
    first_back = jinja[0].answer()
    assert "<code>{{ name }}</code>" in first_back.replace("&#123;", "{").replace("&#125;", "}")
    assert (
        "[...]" in jinja[0].question() and "name" not in jinja[0].question().split("[...]")[0][-30:]
    )
    assert "[a fraction]" in jinja[1].question()
    assert "\\frac{a}{b}" in jinja[1].answer().replace("&#125;", "}")
    assert "a::b stays" in jinja[0].question()
    nested = next(c for (f, _), c in found.items() if "nested" in f)
    assert "[...]" in nested.question()
    assert "{'a': {'b': 1}}" in nested.answer().replace("&#125;", "}").replace("&#x27;", "'")
    models = {m["name"]: m["id"] for m in col.models.all()}
    from ankigen.package import CLOZE_ID, MODEL_ID, stable_id

    assert stable_id("model", "ankigen") == MODEL_ID  # the question type keeps its id
    assert models["ankigen cloze"] == CLOZE_ID


def test_plugin_bookkeeping_does_not_rebuild(tmp_path):
    vault = _vault(tmp_path / "Vault")
    settings_file = vault / SETTINGS_PATH
    data = json.loads(settings_file.read_text())
    out = tmp_path / "dist"
    assert _build(vault, out).written == ("Languages.apkg",)
    data["buryList"] = ["abc"]  # the plugin notes a buried card: no setting changed
    settings_file.write_text(json.dumps(data))
    assert _build(vault, out).written == ()
    data["settings"]["singleLineCardSeparator"] = "=>"  # a setting changed: read again
    settings_file.write_text(json.dumps(data))
    assert _build(vault, out).written == ("Languages.apkg",)


def test_tags_in_a_card_become_anki_tags():
    found, _ = cards("#flashcards\nWhat is `#x` in C#? #lang/c::a preprocessor line #exam\n")
    card = found[0]
    assert (card.question, card.answer) == ("What is `#x` in C#?", "a preprocessor line")
    assert card.tags == ("lang::c", "exam")


_CLOZE_TEXT = st.text(alphabet="a:}{<>&c1 \\$`", min_size=1, max_size=12).filter(str.strip)


@settings(max_examples=300, deadline=None)
@given(_CLOZE_TEXT, st.one_of(st.just(""), _CLOZE_TEXT))
def test_anki_reads_back_every_cloze_answer(answer, hint):
    """Whatever a cloze holds, Anki's own cloze parser finds exactly that answer."""
    import html as html_module

    col = _ANKI["col"]
    if col is None:
        import tempfile

        col = _ANKI["col"] = ankiutil.new_collection(Path(tempfile.mkdtemp()))
    text = marks_to_anki(
        "x " + mark(1, html_module.escape(answer), html_module.escape(hint)) + " :} y"
    )
    assert html_module.unescape(col.extract_cloze_for_typing(text, 1)) == answer


_ANKI: dict = {"col": None}


def test_folder_mode_vault_in_anki(tmp_path):
    vault = write_vault(
        tmp_path / "Vault",
        {
            SETTINGS_PATH: json.dumps(
                {
                    "settings": {
                        "convertFoldersToDecks": True,
                        "noteFoldersToIgnore": ["Drafts"],
                        "multilineCardEndMarker": "---",
                    }
                }
            ),
            "Science/Chemistry/Acids.md": "Acid\n??\nA proton donor.\n\nIt tastes sour.\n---\n",
            "Drafts/Later.md": "not yet::read\n",
        },
    )
    report = _build(vault, tmp_path / "dist")
    assert report.written == ("Science-Chemistry.apkg",)
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "Science-Chemistry.apkg")
    found = sorted(_cards(col).values(), key=lambda c: c.ord)
    assert [col.decks.name(c.did) for c in found] == ["Science::Chemistry"] * 2
    assert "Acid" in found[0].question() and "It tastes sour." in found[0].answer()
    assert "proton donor" in found[1].question() and "<hr" in found[1].answer()


_IN_ZONE = """
import datetime, sys
sys.path.insert(0, sys.argv[3])
import ankiutil
from pathlib import Path
col = ankiutil.new_collection(Path(sys.argv[1]))
ankiutil.import_package(col, Path(sys.argv[2]), with_scheduling=True)
anki_today = (datetime.datetime.now() - datetime.timedelta(hours=4)).date()
for cid in col.find_cards("prop:ivl>0"):
    card = col.get_card(cid)
    due = anki_today + datetime.timedelta(days=card.due - col.sched.today)
    print(card.ivl, due.isoformat())
"""


@pytest.mark.parametrize("zone", ["Pacific/Pago_Pago", "America/New_York", "Pacific/Kiritimati"])
def test_due_dates_in_any_time_zone(tmp_path, zone):
    """The due date of the comment is the due date in Anki, from UTC-11 to UTC+14."""
    import os
    import subprocess
    import sys

    vault = write_vault(
        tmp_path / "Vault",
        {"Deck/Note.md": "#flashcards\nq::a <!--SR:!2031-03-04,40,250-->\n"},
    )
    _build(vault, tmp_path / "dist")
    work = tmp_path / zone.replace("/", "-")
    work.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _IN_ZONE,
            str(work),
            str(tmp_path / "dist" / "Deck.apkg"),
            str(Path(__file__).parent),
        ],
        env={**os.environ, "TZ": zone},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.split() == ["40", "2031-03-04"]


# ---------------------------------------------------------------- as the plugin reads (issue 18)


def test_a_heading_right_above_the_separator_is_the_front():
    found, problems = cards(
        """
        #flashcards
        # Optics

        ### Why is the sky blue?
        ?
        Blue light scatters most.
        <!--SR:!2024-08-16,5,250-->

        ## Waves
        A wave that needs a medium
        ??
        a mechanical wave
        ### Loose heading
        Some ==cloze== below it
        """
    )
    assert problems == []
    assert [(c.question, c.line, c.end_line, c.context) for c in found] == [
        ("### Why is the sky blue?", 4, 7, ("Optics",)),
        ("## Waves\nA wave that needs a medium", 9, 14, ("Optics",)),
    ]
    assert found[0].answer == "Blue light scatters most." and found[0].schedule[0].interval == 5
    assert found[1].note_type == REVERSED
    assert found[1].answer == "a mechanical wave\n### Loose heading\nSome ==cloze== below it"


def test_lost_cards_are_warned_about_with_their_scheduling_comments():
    found, problems = cards(
        """
        #flashcards

        Front of a card
        ?
        its back
        <!--SR:!2024-08-16,5,250-->
        then::a single-line card

        A ==cloze== paragraph
        cat::chat

        ?
        nothing above

        Text with no card
        <!--SR:!2024-08-16,5,250-->

        Empty back
        ?
        <!--SR:!2024-08-16,5,250-->
        """
    )
    assert [(c.question, c.line) for c in found] == [("then", 7), ("cat", 10)]
    assert problems == [
        "Deck/Note.md:3: warning: multi-line card not made: the single-line card on line 7 "
        "ends it (the plugin reads a line with a card separator as a card of its own; put a "
        "blank line above it); the review progress in its scheduling comment (line 6) is not "
        "used",
        "Deck/Note.md:9: warning: cloze card not made: the single-line card on line 10 ends it "
        "(the plugin reads a line with a card separator as a card of its own; put a blank line "
        "above it)",
        "Deck/Note.md:12: warning: '?' has no text above it; no card made",
        "Deck/Note.md:16: warning: scheduling comment, but no card here (no card separator or "
        "cloze in its paragraph); its review progress is not used",
        "Deck/Note.md:19: warning: card has an empty back; no card made; the review progress "
        "in its scheduling comment (line 20) is not used",
    ]


def test_reading_is_linear_in_the_note():
    """n and 10n lines of the shapes that make a reader go back over a paragraph: the time
    grows about tenfold (a generous bound, not a timing)."""
    import time

    shapes = ["a\n?\n", "==a==\n", "`a::` b::c\n", "<!--SR:!2024-01-01,1,250-->\n"]
    for plugin in ({}, {"settings": {"multilineCardEndMarker": "---"}}):
        settings = SyntaxSettings(enabled=("spaced-repetition",), plugins={PLUGIN_ID: plugin})
        for shape in shapes:
            spent = []
            for n in (500, 5_000):
                text = "#flashcards\n" + shape * n
                best = float("inf")
                for _ in range(3):  # CPU time, the best of three: the machine is shared
                    start = time.process_time()
                    read_note("Deck/Note.md", text, settings)
                    best = min(best, time.process_time() - start)
                spent.append(best)
            assert spent[1] < 40 * max(spent[0], 0.02), (shape, plugin, spent)


def test_heading_cards_with_their_progress_in_anki(tmp_path, capsys):
    """The vault style of issue 18: `### Heading` right above `?`, a scheduling comment below
    each card; every card reaches Anki with its review progress, and no warning is printed."""
    today = _anki_today()
    due = (today + datetime.timedelta(days=4)).isoformat()
    lines = ["#flashcards/Biology", "# Cells", ""]
    for n in range(1, 6):
        lines += [f"### Organelle {n}", "?", f"Answer {n}", f"<!--SR:!{due},{n + 2},250-->", ""]
    vault = write_vault(tmp_path / "Vault", {"Bio/Cells.md": "\n".join(lines)})
    out = tmp_path / "dist"
    assert run([str(vault), "-o", str(out)], prog="ankigen") == 0
    assert "warning" not in capsys.readouterr().err
    col = ankiutil.new_collection(tmp_path)
    _age_collection(col, 10)
    ankiutil.import_package(col, out / "Bio.apkg", with_scheduling=True)
    found = sorted(_cards(col).items())
    assert [first for (first, _), _ in found] == [f"<h3>Organelle {n}</h3>\n" for n in range(1, 6)]
    assert [(card.ivl, card.due - col.sched.today) for _, card in found] == [
        (n + 2, 4) for n in range(1, 6)
    ]
    notes = ankiutil.notes(col)
    # "# Cells" repeats the note's title: the Context is the title alone, not "Cells › Cells".
    assert {n.fields["Context"] for n in notes} == {"Cells"}
