"""`ankigen preview`: every card as Anki renders it, checked against the `anki` package's own
renderer, and the page tested in real headless Chromium (tests/browser.py)."""

from __future__ import annotations

import functools
import http.server
import io
import os
import shutil
import threading
from pathlib import Path

import ankiutil
import pytest
from browser import CHROMIUM, Browser
from conftest import REPO, ankigen_cli, write_vault
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ankigen.preview import anki_play_tags, read_package, render_cloze

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "60"))
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
SCREENS = os.environ.get("ANKIGEN_SCREENSHOTS")  # a folder: screenshots are kept there


def png(width: int, height: int, colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


VAULT = {
    "Biology/Cells.md": (
        "---\ntags: [biology]\n---\n"
        "#Question What does the mitochondrion make?\n"
        "Answer: ATP, the cell's energy currency.\n\n![[cell.png]]\n\n---\n\n"
        "#Question The {{c1::nucleus}} keeps the {{c2::DNA::genetic material}}.\n\n---\n\n"
        "#Question Which organelle builds proteins?\n"
        "Answer: The ribosome.\n\n```python\nprint('a very long line of code that goes on "
        "and on and on past the width of any phone screen for sure')\n```\n"
    ),
    "Biology/Plants.md": (
        "#flashcards/botany\n\n"
        "Photosynthesis needs::sunlight\n\n"
        "Chlorophyll:::the green pigment\n\n"
        "Leaves take in ==carbon dioxide== through their stomata.\n"
    ),
    "History/Rome.md": (
        "#Question Who crossed the Rubicon?\nAnswer: Julius Caesar ![[coin.png]]\n\n---\n\n"
        "#Question When did the western empire fall?\n\n---\n\n"
        "#Question What was the Senate?\nAnswer: Rome's council of elders.\n"
    ),
    "History/Empty.md": "#Question A question nobody answered\n",
    "attachments/cell.png": png(120, 80, "green"),
}


run_cli = ankigen_cli


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture vault built with `ankigen preview`; returns the output folder."""
    root = tmp_path_factory.mktemp("preview")
    vault = write_vault(root / "Vault", VAULT)
    out = root / "out"
    result = run_cli("preview", vault, "-o", out, "--offline", "--cache-dir", root / "cache")
    assert result.returncode == 0, result.stderr
    assert (out / "preview" / "index.html").is_file()
    return out


def package_cards(out: Path) -> int:
    return sum(len(read_package(apkg).cards) for apkg in sorted(out.glob("*.apkg")))


# ---------------------------------------------------------------- equal to Anki's renderer


def assert_renders_like_anki(out: Path, tmp_path: Path) -> int:
    packages = sorted(out.glob("*.apkg"))
    assert packages
    ours = {}
    for apkg in packages:
        for card in read_package(apkg).cards:
            ours[(card.guid, card.ord)] = card
    col = ankiutil.load(tmp_path, *packages)
    try:
        checked = 0
        for cid in col.find_cards(""):
            card = col.get_card(cid)
            key = (col.get_note(card.nid).guid, card.ord)
            rendered = card.render_output(reload=True)
            mine = ours.pop(key)
            assert anki_play_tags(mine.front, "q") == rendered.question_text, key
            assert anki_play_tags(mine.back, "a") == rendered.answer_text, key
            assert mine.css == rendered.css
            checked += 1
        assert not ours  # every card of the packages is a card in Anki
        return checked
    finally:
        col.close()


def test_every_card_renders_as_anki_renders_it(site, tmp_path):
    assert assert_renders_like_anki(site, tmp_path) == package_cards(site) >= 9


def test_the_example_vault_renders_as_anki_renders_it(tmp_path):
    out = tmp_path / "out"
    vault = REPO / "examples" / "vault"
    shutil.copytree(vault, tmp_path / "vault")
    result = run_cli("build", tmp_path / "vault", "-o", out, "--offline", "--cache-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert assert_renders_like_anki(out, tmp_path) > 50


_WORDS = st.text(alphabet="ab <>&\"':{}c1", max_size=12)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(_WORDS, st.integers(1, 3), _WORDS, st.booleans()), max_size=4), _WORDS)
def test_clozes_render_as_anki_renders_them(parts, tail):
    """Any text with clozes (hints, nested markup, stray braces) against Anki's own cloze
    rendering, for every card number."""
    from anki.collection import Collection
    from anki.errors import InvalidInput

    text = "".join(
        f"{before}{{{{c{number}::{answer}{'::hint' if hint else ''}}}}}"
        for before, number, answer, hint in parts
    )
    text += tail
    col = _scratch()
    model = col.models.by_name("Cloze")
    note = col.new_note(model)
    note["Text"] = text
    for number in range(1, 5):
        front = render_cloze(text, number, question=True)
        back = render_cloze(text, number, question=False)
        try:
            rendered = note.ephemeral_card(ord=number - 1).render_output(reload=True)
        except InvalidInput:  # no card for this number (none, or only empty clozes)
            continue
        assert _field_part(rendered.question_text) == front, (text, number)
        assert _field_part(rendered.answer_text, back=True) == back, (text, number)
    assert isinstance(col, Collection)


@functools.cache
def _scratch():
    import tempfile

    from anki.collection import Collection

    return Collection(str(Path(tempfile.mkdtemp()) / "scratch.anki2"))


def _field_part(text: str, back: bool = False) -> str:
    """The stock Cloze note type shows {{cloze:Text}} then, on the back, <br>{{Extra}}."""
    return text.split("<br>\n", 1)[0] if back else text


# ---------------------------------------------------------------- the page in Chromium


COUNT = "document.querySelectorAll('article.card-item:not([hidden])').length"
SHADOW = "[...document.querySelectorAll('.card-host')].map(h => h.shadowRoot)"


def set_value(browser: Browser, element: str, value: str) -> int:
    browser.evaluate(
        f"(() => {{ const e = document.getElementById({element!r}); "
        f"if (e.type === 'checkbox') e.checked = {value!r} === 'on'; else e.value = {value!r}; "
        "e.dispatchEvent(new Event('change')); })()"
    )
    return browser.evaluate(COUNT)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    with Browser(tmp_path_factory.mktemp("profile")) as opened:
        yield opened


def screenshot(browser: Browser, name: str, tmp_path: Path) -> None:
    path = browser.screenshot(tmp_path / name)
    assert path.stat().st_size > 1000
    if SCREENS:
        Path(SCREENS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SCREENS) / name)


@needs_chromium
def test_the_page_loads_from_a_file_with_every_card_and_no_console_error(site, browser, tmp_path):
    browser.resize(1200, 900)
    browser.open((site / "preview" / "index.html").as_uri())
    assert browser.console == []
    assert browser.evaluate(COUNT) == package_cards(site)
    # Grouped by deck, with counts.
    headings = browser.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
    assert headings == [
        "Biology (4 cards)",
        "History (2 cards)",
        "flashcards::botany (4 cards)",  # the Spaced Repetition plugin's deck tag
        "Warnings without a card (2 notes)",  # Empty.md, and Rome.md's card with no answer
    ]
    # The cards near the screen are rendered as they come into view, without being asked.
    browser.evaluate("new Promise(r => setTimeout(r, 300))")
    assert browser.evaluate("document.querySelector('.card-host').shadowRoot !== null")
    # Every picture loads (the cards near the screen are rendered first; here all of them).
    browser.evaluate("ankigenPreview.renderAll()")
    browser.evaluate("new Promise(r => setTimeout(r, 300))")
    sizes = browser.evaluate(
        f"{SHADOW}.flatMap(r => [...r.querySelectorAll('img')]).map(i => i.naturalWidth)"
    )
    assert sizes and all(size > 0 for size in sizes), sizes
    # Each card names its source line.
    sources = browser.evaluate("[...document.querySelectorAll('.source')].map(s => s.textContent)")
    assert "Source: Biology/Cells.md:4" in sources
    screenshot(browser, "preview-desktop.png", tmp_path)


@needs_chromium
def test_search_and_each_filter(site, browser, tmp_path):
    browser.resize(1200, 900)
    browser.open((site / "preview" / "index.html").as_uri())
    total = browser.evaluate(COUNT)
    assert set_value(browser, "search", "rubicon") == 1
    assert set_value(browser, "search", "ribosome proteins") == 1
    assert set_value(browser, "search", "no such words anywhere") == 0
    assert browser.evaluate("document.querySelector('.empty').hidden") is False
    assert set_value(browser, "search", "") == total
    assert set_value(browser, "deck", "History") == 2
    assert set_value(browser, "deck", "") == total
    assert set_value(browser, "tag", "biology") == 4  # Cells.md: 3 notes, the cloze has 2 cards
    assert set_value(browser, "tag", "") == total
    assert set_value(browser, "type", "ankigen cloze") == 3  # c1, c2 and the ==highlight==
    assert set_value(browser, "type", "ankigen reversed") == 2
    assert set_value(browser, "type", "") == total
    # With warnings: the card with the missing picture; the note without cards shows its own.
    assert set_value(browser, "warned", "on") == 1
    warned = browser.evaluate(
        "[...document.querySelectorAll('.warned:not([hidden]) .warnings li')]"
        ".map(li => li.textContent)"
    )
    assert any("History/Rome.md:2" in text and "coin.png" in text for text in warned)
    assert any("History/Rome.md:6" in text and "no answer" in text for text in warned)
    assert any("History/Empty.md:1" in text for text in warned)
    screenshot(browser, "preview-warnings.png", tmp_path)
    assert set_value(browser, "warned", "off") == total


@needs_chromium
def test_a_cloze_front_hides_its_deletion_and_its_back_shows_it(site, browser, tmp_path):
    browser.resize(1200, 900)
    browser.open((site / "preview" / "index.html").as_uri())
    set_value(browser, "search", "nucleus keeps")
    browser.evaluate("ankigenPreview.renderAll()")
    sides = browser.evaluate(
        "[...document.querySelectorAll('article.card-item:not([hidden]) .card-host')]"
        ".map(h => h.shadowRoot.querySelector('.card').innerText)"
    )
    assert len(sides) == 4  # two cards, front and back
    front, back = sides[0], sides[1]
    assert "[...]" in front and "nucleus" not in front
    assert "nucleus" in back and "[...]" not in back
    assert "[genetic material]" in sides[2] and "DNA" not in sides[2]
    assert "DNA" in sides[3]
    screenshot(browser, "preview-cloze.png", tmp_path)


@needs_chromium
def test_night_mode_applies_to_the_cards(site, browser, tmp_path):
    browser.resize(1200, 900)
    browser.open((site / "preview" / "index.html").as_uri())
    background = f"{SHADOW}.map(r => getComputedStyle(r.querySelector('.card')).backgroundColor)[0]"
    assert set_value(browser, "night", "off") > 0
    browser.evaluate("ankigenPreview.renderAll()")
    assert browser.evaluate(background) == "rgb(255, 255, 255)"
    set_value(browser, "night", "on")
    assert browser.evaluate(background) == "rgb(30, 30, 30)"  # card.css's night colour
    assert browser.evaluate(f"{SHADOW}.every(r => r.querySelector('.card.nightMode'))")
    screenshot(browser, "preview-night.png", tmp_path)


@needs_chromium
def test_no_horizontal_scroll_at_phone_width(site, browser, tmp_path):
    browser.resize(390, 844, mobile=True)
    browser.open((site / "preview" / "index.html").as_uri())
    browser.evaluate("ankigenPreview.renderAll()")
    width = browser.evaluate("document.documentElement.clientWidth")
    assert width == 390
    assert browser.evaluate("document.documentElement.scrollWidth") <= width
    assert browser.evaluate("document.body.scrollWidth") <= width
    screenshot(browser, "preview-phone.png", tmp_path)
    browser.resize(1200, 900)


@needs_chromium
def test_the_page_works_from_a_web_server(site, browser):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        browser.open(f"http://127.0.0.1:{server.server_address[1]}/preview/index.html")
        assert browser.console == []
        assert browser.evaluate(COUNT) == package_cards(site)
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- incremental


def test_the_preview_is_rebuilt_incrementally(tmp_path):
    vault = write_vault(tmp_path / "Vault", VAULT)
    out = tmp_path / "out"
    args = ("-o", out, "--offline", "--cache-dir", tmp_path / "cache")
    assert run_cli("build", vault, "--preview", *args).returncode == 0
    cards = out / "preview" / "cards"
    before = {path.name: path.stat().st_mtime_ns for path in cards.iterdir()}
    assert set(before) == {"Biology.js", "History.js"}
    (vault / "History" / "Rome.md").write_text("#Question Who built the roads?\nAnswer: Rome\n")
    result = run_cli("preview", vault, *args)
    assert result.returncode == 0, result.stderr
    after = {path.name: path.stat().st_mtime_ns for path in cards.iterdir()}
    assert after["Biology.js"] == before["Biology.js"]  # its package did not change
    assert after["History.js"] != before["History.js"]
    assert "roads" in (cards / "History.js").read_text()
    # A folder that loses its cards loses its script.
    shutil.rmtree(vault / "History")
    assert run_cli("preview", vault, *args).returncode == 0
    assert sorted(path.name for path in cards.iterdir()) == ["Biology.js"]


# ---------------------------------------------------------------- hostile fields


HOSTILE = {
    "clozes": lambda n: "{{c1::" * n + "x" + "}}" * n,
    "open clozes": lambda n: "{{c1::a::" * n,
    "tags": lambda n: "<" * n + "<style" * n + "<a src='" * n,
    "sounds": lambda n: "[sound:" * n + "]" * n,
    "braces": lambda n: "{{" * n + "}}" * n + "{{#" * n,
}


def _work(make, n: int) -> float:
    import time

    from ankigen.preview import CardContext, for_page, plain_text, render_card

    text = make(n)
    ctx = CardContext({"Text": text, "Extra": text}, 0, True)
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        _front, back = render_card(
            "{{cloze:Text}}" + text, "{{FrontSide}}{{#Extra}}{{Extra}}{{/Extra}}", ctx
        )
        plain_text(back)
        for_page(back, {"x": "media/x"})
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_rendering_hostile_fields_scales_linearly(name):
    """No regular expression backtracks and no parser recurses without bound: 10x the input
    costs about 10x (a generous bound, never a fixed time)."""
    small = _work(HOSTILE[name], 2_000)
    large = _work(HOSTILE[name], 20_000)
    assert large < max(small, 0.005) * 40, (small, large)


def test_a_package_the_preview_cannot_read_is_one_error_line(tmp_path):
    vault = write_vault(tmp_path / "Vault", {"A/a.md": "#Question q\nAnswer: a\n"})
    out = tmp_path / "out"
    args = ("-o", out, "--offline", "--cache-dir", tmp_path / "cache")
    assert run_cli("build", vault, *args).returncode == 0
    (out / "A.apkg").write_bytes(b"not a zip")  # kept by the build: its note did not change
    result = run_cli("preview", vault, *args)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"ankigen: error: cannot read {out / 'A.apkg'} for the preview: File is not a zip file"
    ]
