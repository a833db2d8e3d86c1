"""Write a synthetic vault of study notes in the AMI style, for benchmarks.

    .venv/bin/python bench/make_vault.py DIR [--cards 10000] [--seed 1]

Deterministic (seeded): the same arguments always write the same bytes. About 20 folders,
about 25 cards per note; answers mix paragraphs, lists, **bold**, `code`, links, wikilinks to
other generated notes, inline tags, a few code blocks, tables, formulas and local pictures.
Every card has an answer and every link resolves, so a build should print no warnings.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

FOLDERS = {
    "AWS": ["Compute", "Storage", "Networking", "Security"],
    "Azure": ["Identity", "Databases", "Messaging", "Monitoring"],
    "Medicine": ["Cardiology", "Pharmacology", "Nephrology", "Neurology"],
    "Engineering": ["Thermodynamics", "Fluids", "Materials", "Control"],
    "Languages": ["Python", "Rust", "SQL", "Shell"],
}

WORD_TEXT = (
    "instance volume bucket policy region zone subnet route table gateway endpoint queue topic "
    "function cluster replica snapshot backup latency throughput capacity quota limit role key "
    "certificate token session cache index partition shard stream event trigger schedule "
    "pressure volume temperature entropy enthalpy flow valve pump heat work cycle efficiency "
    "dose clearance receptor agonist rhythm output pressure filtration sodium potassium "
    "iterator closure borrow lifetime trait module package query join transaction lock"
)
VERB_TEXT = (
    "stores replicates encrypts routes limits scales caches retries measures lowers raises "
    "blocks allows tracks splits merges validates"
)
WORDS, VERBS = WORD_TEXT.split(), VERB_TEXT.split()
TAGS = ["exam/tip", "exam/trap", "review", "aws/limits", "formula", "lab"]
PICTURE_COUNT = 8
CODE_SNIPPETS = [
    ("bash", "aws s3 cp ./report.csv s3://example-bucket/reports/ --sse aws:kms"),
    ("python", "def clearance(dose_mg: float, auc: float) -> float:\n    return dose_mg / auc"),
    ("json", '{\n  "Effect": "Allow",\n  "Action": "s3:GetObject",\n  "Resource": "*"\n}'),
    ("sql", "SELECT region, count(*) FROM instances GROUP BY region ORDER BY 2 DESC;"),
]


@dataclass
class SyntheticVault:
    """What was written: counts, note paths, and every card field's Markdown."""

    root: Path
    notes: list[Path] = field(default_factory=list)
    questions: int = 0
    usecases: int = 0
    folders: int = 0
    pictures: int = 0
    fields: list[str] = field(default_factory=list)  # question and answer Markdown per card

    @property
    def cards(self) -> int:
        return self.questions + self.usecases


class NoteWriter:
    """Builds the text of notes from one seeded random generator."""

    def __init__(self, rng: random.Random, titles: list[str]) -> None:
        self.rng = rng
        self.titles = titles

    def words(self, low: int, high: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=self.rng.randint(low, high)))

    def sentence(self) -> str:
        """A sentence with the occasional bold word, code span, link, wikilink or formula."""
        rng = self.rng
        parts = [self.words(2, 6), rng.choice(VERBS), self.words(2, 7)]
        roll = rng.random()
        if roll < 0.20:
            parts.insert(1, f"**{rng.choice(WORDS)}**")
        elif roll < 0.35:
            parts.append(f"`{rng.choice(WORDS)}-{rng.randint(1, 99)}`")
        elif roll < 0.45:
            topic = rng.choice(WORDS)
            parts.append(f"([docs](https://docs.example.com/{topic}/{rng.randint(1, 500)}))")
        elif roll < 0.55:
            parts.append(f"via [[{rng.choice(self.titles)}]]")
        elif roll < 0.58:
            parts.append(f"with $x_{rng.randint(1, 9)} = {rng.randint(2, 90)}\\,\\text{{kPa}}$")
        text = " ".join(parts)
        return text[0].upper() + text[1:] + "."

    def tags(self, body: str) -> str:
        """Sometimes an inline tag: at the end of a one-line answer, else on its own line."""
        if self.rng.random() >= 0.12:
            return ""
        tag = f"#{self.rng.choice(TAGS)}"
        # On its own paragraph after a block: appended to a table row it would become a cell.
        return f" {tag}" if "\n" not in body else f"\n\n{tag}"

    def answer(self) -> str:
        """Two to six lines of answer Markdown."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.40:
            body = " ".join(self.sentence() for _ in range(rng.randint(1, 3)))
        elif roll < 0.75:
            body = "\n".join(f"- {self.sentence()}" for _ in range(rng.randint(2, 5)))
        elif roll < 0.85:
            body = "\n".join(f"{i}. {self.sentence()}" for i in range(1, rng.randint(3, 5)))
        elif roll < 0.91:
            language, code = rng.choice(CODE_SNIPPETS)
            body = f"{self.sentence()}\n\n```{language}\n{code}\n```"
        elif roll < 0.95:
            rows = "\n".join(
                f"| {rng.choice(WORDS)} | {self.words(2, 5)} |" for _ in range(rng.randint(2, 4))
            )
            body = f"| Term | Meaning |\n| --- | --- |\n{rows}"
        elif roll < 0.97:
            body = f"{self.sentence()}\n$$Q = m c \\Delta T + {rng.randint(1, 9)}$$"
        else:
            picture = f"diagram-{rng.randrange(PICTURE_COUNT):02d}.png"
            body = f"{self.sentence()}\n![[{picture}]]"
        return body + self.tags(body)

    def question_card(self) -> tuple[str, str, str]:
        """(text, question, answer) of one #Question card, marker styles mixed like a person."""
        rng = self.rng
        marker = "#Q" if rng.random() < 0.1 else "#Question"
        question = self.words(5, 12).capitalize() + "?"
        if rng.random() < 0.05:
            question = f"{self.words(4, 8).capitalize()},\n{self.words(3, 6)}?"
        lines = [f"{marker} {question}"]
        if rng.random() < 0.2:
            topic = rng.choice(WORDS)
            lines.append(f"See: [{topic.title()} guide](https://docs.example.com/guide/{topic})")
        answer = self.answer()
        style = rng.random()
        if style < 0.45 and "\n" not in answer:
            lines.append(f"Answer: {answer}")
        elif style < 0.9:
            lines += ["Answer:", answer]
        else:
            lines += ["**Answer:**", answer]
        return "\n".join(lines), question, answer

    def usecase_card(self) -> tuple[str, str, str]:
        title = self.words(3, 7)
        steps = "\n".join(f"{i}. {self.sentence()}" for i in range(1, self.rng.randint(4, 7)))
        return f"#UseCase {title}\n{steps}", title, steps

    def note(self, title: str, cards: int, fields: list[str]) -> tuple[str, int, int]:
        """The whole note's text, and how many question and use-case cards it holds."""
        rng = self.rng
        blocks = []
        if rng.random() < 0.3:
            blocks.append(f"---\ntags: [{rng.choice(WORDS)}, {rng.choice(WORDS)}]\n---")
        blocks.append(f"# {title}\n\n{self.sentence()} See [[{rng.choice(self.titles)}]].")
        questions = usecases = 0
        for index in range(cards):
            if index % 5 == 0:
                blocks.append(f"## {self.words(1, 3).title()}")
            elif rng.random() < 0.08:
                blocks.append("---")
            if rng.random() < 0.15:
                text, question, answer = self.usecase_card()
                usecases += 1
            else:
                text, question, answer = self.question_card()
                questions += 1
            blocks.append(text)
            fields += (question, answer)
        references = "\n".join(
            f"{i}. https://docs.example.com/{rng.choice(WORDS)}/{rng.randint(1, 900)}"
            for i in range(1, rng.randint(2, 4))
        )
        blocks.append(f"**References**\n\n{references}")
        return "\n\n".join(blocks) + "\n", questions, usecases


def write_pictures(folder: Path) -> int:
    """A few small, distinct PNG diagrams that the notes embed by file name."""
    from PIL import Image, ImageDraw  # only needed here; keeps `--help` fast

    folder.mkdir(parents=True, exist_ok=True)
    for number in range(PICTURE_COUNT):
        image = Image.new("RGB", (160, 90), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        draw.rectangle((10, 20, 70, 70), outline=(0, 0, 0), fill=(40 * number % 255, 180, 220))
        draw.rectangle((95, 20, 150, 70), outline=(0, 0, 0), fill=(230, 200, 30 * number % 255))
        draw.line((70, 45, 95, 45), fill=(0, 0, 0), width=2)
        draw.text((12, 4), f"diagram {number}", fill=(0, 0, 0))
        image.save(folder / f"diagram-{number:02d}.png", optimize=True)
    return PICTURE_COUNT


def make_vault(
    root: Path, cards: int = 10_000, seed: int = 1, cards_per_note: int = 25
) -> SyntheticVault:
    """Write a vault of `cards` cards under `root` (created if missing) and describe it."""
    rng = random.Random(seed)
    folders = [f"{top}/{sub}" for top, subs in FOLDERS.items() for sub in subs]
    note_count = max(1, -(-cards // cards_per_note))
    titles = [
        f"{folders[n % len(folders)].split('/')[1]} {n // len(folders) + 1:02d}"
        for n in range(note_count)
    ]
    writer = NoteWriter(rng, titles)
    vault = SyntheticVault(root=root, folders=min(note_count, len(folders)))

    (root / ".obsidian").mkdir(parents=True, exist_ok=True)
    app = {"attachmentFolderPath": "attachments"}
    (root / ".obsidian" / "app.json").write_text(json.dumps(app, indent=2) + "\n")
    vault.pictures = write_pictures(root / "attachments")

    remaining = cards
    for number, title in enumerate(titles):
        folder = root / folders[number % len(folders)]
        folder.mkdir(parents=True, exist_ok=True)
        count = min(cards_per_note, remaining)
        text, questions, usecases = writer.note(title, count, vault.fields)
        remaining -= count
        path = folder / f"{title}.md"
        path.write_text(text, encoding="utf-8")
        vault.notes.append(path)
        vault.questions += questions
        vault.usecases += usecases
    return vault


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where to write the vault")
    parser.add_argument("--cards", type=int, default=10_000, help="number of cards (10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument("--cards-per-note", type=int, default=25, help="cards per note (25)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    vault = make_vault(args.directory, args.cards, args.seed, args.cards_per_note)
    elapsed = time.perf_counter() - started
    print(
        f"{vault.cards} cards ({vault.questions} questions, {vault.usecases} use cases) "
        f"in {len(vault.notes)} notes, {vault.folders} folders, {vault.pictures} pictures: "
        f"{args.directory} ({elapsed:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
