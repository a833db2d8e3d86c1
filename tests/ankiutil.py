"""Import packages into a real Anki collection (the `anki` backend from PyPI) and read it back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from anki.import_export_pb2 import ImportAnkiPackageUpdateCondition

IF_NEWER = ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER


@dataclass(frozen=True)
class ImportedNote:
    """What Anki holds for one note, by field name."""

    id: int
    guid: str
    fields: dict[str, str]
    tags: list[str]
    decks: list[str]
    mod: int
    question_html: str  # the rendered front of its first card
    answer_html: str  # the rendered back of its first card


def new_collection(tmp_path: Path, name: str = "collection.anki2") -> Collection:
    return Collection(str(tmp_path / name))


def import_package(col: Collection, apkg: Path, *, with_scheduling: bool = False) -> None:
    """Import with Anki's default options (update notes only when the incoming one is newer);
    `with_scheduling` is the "Import any learning progress" option."""
    options = ImportAnkiPackageOptions(
        update_notes=IF_NEWER, update_notetypes=IF_NEWER, with_scheduling=with_scheduling
    )
    col.import_anki_package(ImportAnkiPackageRequest(package_path=str(apkg), options=options))


def notes(col: Collection) -> list[ImportedNote]:
    """Every note, in the order of its first card's position among new cards."""
    result = []
    for nid in col.find_notes(""):
        note = col.get_note(nid)
        cards = sorted(note.cards(), key=lambda c: (c.due, c.ord))
        card = cards[0]
        result.append(
            ImportedNote(
                id=nid,
                guid=note.guid,
                fields=dict(note.items()),
                tags=list(note.tags),
                decks=sorted({col.decks.name(c.did) for c in cards}),
                mod=note.mod,
                question_html=card.question(),
                answer_html=card.answer(),
            )
        )
    return sorted(result, key=lambda n: (n.decks, _due(col, n.id)))


def _due(col: Collection, nid: int) -> int:
    return min(c.due for c in col.get_note(nid).cards())


def load(tmp_path: Path, *packages: Path) -> Collection:
    """A fresh collection with the packages imported in order."""
    col = new_collection(tmp_path)
    for apkg in packages:
        import_package(col, apkg)
    return col


def media_problems(col: Collection) -> tuple[list[str], list[str]]:
    """(missing, unused) media as Anki's own media check reports them."""
    out = col.media.check()
    return list(out.missing), list(out.unused)
