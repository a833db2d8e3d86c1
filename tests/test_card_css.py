"""The card's layout on a 400 px phone, measured in real headless chromium.

The card is built through the real pipeline and imported into Anki; Anki's rendered back side
(its <style> included) is shown in a 400 px wide frame, and the page measures its own layout.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import ankiutil
import pytest
from conftest import write_vault
from test_build import run_build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

NOTE = (
    "#Q How does a card show quotes and code on a phone?\n"
    "Answer:\n"
    "> A quoted sentence long enough to wrap on a phone screen, with a few more words in it.\n"
    "\n"
    "```python\n"
    "def f():\n"
    '\treturn "' + "a very long line of code " * 12 + '"\n'
    "```\n"
    "\n"
    "`" + "x" * 120 + "`\n"
)

# Runs inside the page once the frame has loaded; writes its measurements into the DOM.
MEASURE = """
const frame = document.getElementById("card");
frame.onload = () => {
  const d = frame.contentDocument, w = frame.contentWindow;
  const pre = d.querySelector("pre"), quote = d.querySelector("blockquote");
  const walker = d.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
  let tab = 0, letter = 0;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf("\\t");
    if (at >= 0 && !tab) {
      const r = d.createRange(); r.setStart(node, at); r.setEnd(node, at + 1);
      tab = r.getBoundingClientRect().width;
    }
    const x = node.data.indexOf("return");
    if (x >= 0 && !letter) {
      const r = d.createRange(); r.setStart(node, x); r.setEnd(node, x + 6);
      letter = r.getBoundingClientRect().width / 6;
    }
  }
  const qs = w.getComputedStyle(quote), qp = quote.querySelector("p");
  const result = {
    viewport: w.innerWidth,
    page: d.documentElement.scrollWidth,
    preRight: pre.getBoundingClientRect().right,
    preScrolls: pre.scrollWidth > pre.clientWidth,
    preOverflow: w.getComputedStyle(pre).overflowX,
    tabColumns: tab / letter,
    quoteBar: parseFloat(qs.borderLeftWidth),
    quoteBarStyle: qs.borderLeftStyle,
    quoteTextLeft: qp.getBoundingClientRect().left - d.body.getBoundingClientRect().left,
    quoteTextWidth: qp.getBoundingClientRect().width,
    bodyWidth: d.body.getBoundingClientRect().width,
  };
  document.body.setAttribute("data-result", JSON.stringify(result));
};
"""


def measure(card_html: str, page: Path) -> dict[str, object]:
    inner = (
        '<!doctype html><html><head><meta charset="utf-8"></head>'
        f'<body class="card mobile">{card_html}</body></html>'
    )
    page.write_text(
        '<!doctype html><html><body style="margin:0">'
        '<iframe id="card" width="400" height="900" style="border:0" '
        f'srcdoc="{html.escape(inner, quote=True)}"></iframe>'
        f"<script>{MEASURE}</script></body></html>",
        encoding="utf-8",
    )
    assert CHROMIUM
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=600,1000"]
    result = subprocess.run(
        [CHROMIUM, *flags, "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'data-result="([^"]*)"', result.stdout)
    assert found, result.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_quotes_and_code_fit_a_400px_phone(tmp_path):
    vault = write_vault(tmp_path / "v", {"D/Phone.md": NOTE})
    run_build(vault, tmp_path / "dist")
    (note,) = ankiutil.notes(ankiutil.load(tmp_path, tmp_path / "dist" / "D.apkg"))
    assert "<style>" in note.answer_html  # Anki's back side carries the note type's CSS
    got = measure(note.answer_html, tmp_path / "page.html")
    assert got["viewport"] == 400
    # Nothing widens the card: long code lines scroll inside their block.
    assert got["page"] <= 400
    assert got["preRight"] <= 400
    assert got["preScrolls"] and got["preOverflow"] in ("auto", "scroll")
    # A tab in code is 4 columns wide, as in Obsidian (a browser's default is 8).
    assert 3.5 <= got["tabColumns"] <= 5
    # A quote has a visible bar and takes little room.
    assert got["quoteBar"] >= 2 and got["quoteBarStyle"] == "solid"
    assert got["quoteTextLeft"] <= 30
    assert got["bodyWidth"] - got["quoteTextWidth"] <= 50
