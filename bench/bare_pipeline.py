"""The floor the benchmark compares ankigen's CPU time with: bare mistune + genanki, one process.

    python bench/bare_pipeline.py VAULT OUT

Reads the generated vault in ankigen's syntax (`#Question …`, `Answer:`, cards separated by
`---`), renders each question and answer with mistune's default Markdown (code highlighted
with Pygments, as ankigen and `ankdown --highlight` do) and writes one genanki package per
folder. No sanitising, no identities, no cache: the least any such tool does.
"""

from __future__ import annotations

import re
import sys
import zlib
from pathlib import Path

import genanki
import mistune
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

CARD = re.compile(r"#Question (.*?)\nAnswer:\n(.*)", re.DOTALL)
FORMATTER = HtmlFormatter()


class Renderer(mistune.HTMLRenderer):
    def block_code(self, code: str, info: str | None = None) -> str:
        if info:
            try:
                return highlight(code, get_lexer_by_name(info.split()[0]), FORMATTER)
            except ClassNotFound:
                pass
        return super().block_code(code, info)


def main(vault: Path, out: Path) -> int:
    markdown = mistune.create_markdown(renderer=Renderer(escape=False))
    model = genanki.Model(
        1607392319,
        "bare",
        fields=[{"name": "Question"}, {"name": "Answer"}],
        templates=[{"name": "Card", "qfmt": "{{Question}}", "afmt": "{{Answer}}"}],
    )
    out.mkdir(parents=True, exist_ok=True)
    cards = 0
    for folder in sorted(p for p in vault.iterdir() if p.is_dir()):
        deck = genanki.Deck(zlib.crc32(folder.name.encode()), folder.name)
        for note in sorted(folder.glob("*.md")):
            for block in note.read_text(encoding="utf-8").split("\n---\n"):
                match = CARD.search(block)
                if match:
                    fields = [markdown(match.group(1)), markdown(match.group(2))]
                    deck.add_note(genanki.Note(model, fields))  # type: ignore[arg-type]
                    cards += 1
        genanki.Package(deck).write_to_file(str(out / f"{folder.name}.apkg"))
    print(f"{cards} cards")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
