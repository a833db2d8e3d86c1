"""Note types that are not ours: a user's own (Obsidian_to_Anki) and adopted ones (`adopt`).

Runs after the identity stage, when every card has its GUID: an adopted card is written with
the note type its note has in the user's collection (same id, fields and template names), its
fields filled in by name, so Anki's importer updates that note in place; a card of a user's own
note type (``custom:<Name>``) gets a note type of ours with the user's field names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from .adoption_file import Adopted
from .anki_collection import AnkiNotetype
from .package import FIELDS, stable_id
from .records import CLOZE, QUESTION, AnkiNote, CardSource, Diagnostic, ForeignNoteType
from .render import render_markdown
from .render_stage import RenderedFolder

CUSTOM = "custom:"
_EMBED = re.compile(r"!\[")  # ![[picture.png]] or ![alt](picture.png)
OUR_FIELDS = FIELDS[2:]  # Context, See, References, Source


def with_foreign_note_types(
    folder: RenderedFolder,
    notes: tuple[AnkiNote, ...],
    adopted: Adopted,
    render: Callable[[str], str] = render_markdown,
    diagnostics: list[Diagnostic] | None = None,
) -> tuple[AnkiNote, ...]:
    """The folder's notes (in card order), adopted and custom ones with their note type."""
    found = diagnostics if diagnostics is not None else []
    sources = {
        f"{note.note.rel}:{card.source.line}": card.source
        for note in folder.notes
        for card in note.cards
    }
    out = []
    for note in notes:
        source = sources.get(note.source)
        if source is None:  # pragma: no cover - every note comes from a card of the folder
            out.append(note)
            continue
        rel = note.source.rsplit(":", 1)[0]
        for name, markdown in source.fields[2:]:
            if _EMBED.search(markdown):
                message = (
                    f"field '{name}': pictures and sounds are carried in a card's first two "
                    "fields only; this field shows none"
                )
                found.append(Diagnostic(rel, source.line, "warning", message))
        notetype = adopted.notetype_of(note.guid)
        if notetype is not None and notetype.cloze != (note.note_type == CLOZE):
            kind = "a cloze note type" if notetype.cloze else "a note type without clozes"
            message = (
                f"the card's note in Anki has {kind} ('{notetype.name}'), unlike the card: "
                "built with a note type of ours, so Anki will not update its note"
            )
            found.append(Diagnostic(rel, source.line, "warning", message))
            notetype = None
        if notetype is not None:
            note = _adopted(note, source, notetype, render)
        elif source.note_type.startswith(CUSTOM):
            note = _custom(note, source, render)
        out.append(note)
    return tuple(out)


def _named_html(note: AnkiNote, source: CardSource, render: Callable[[str], str]) -> list[str]:
    """The HTML of the card's own fields in order: its front and back as built, then the rest."""
    count = len(source.fields) or 2
    values = [note.fields[0], note.fields[1]]
    values.extend(render(markdown) for _, markdown in source.fields[2:])
    return values[:count]


def _adopted(
    note: AnkiNote, source: CardSource, notetype: AnkiNotetype, render: Callable[[str], str]
) -> AnkiNote:
    values = _named_html(note, source, render)
    names = [name for name, _ in source.fields]
    if set(names) & set(notetype.fields):  # by name, as the plugin filled them
        # A field of the user's note type named like one of ours (the Flashcards plugin's
        # Source, say) gets ours, unless the card has its own.
        ours = dict(zip(OUR_FIELDS, note.fields[2:], strict=False))
        by_name = {**ours, **dict(zip(names, values, strict=False))}
        fields = tuple(by_name.get(name, "") for name in notetype.fields)
    else:  # by position: the front first, the back second
        fields = tuple(values[i] if i < len(values) else "" for i in range(len(notetype.fields)))
    foreign = ForeignNoteType(
        notetype.id,
        notetype.name,
        notetype.fields,
        notetype.templates,
        notetype.cloze,
        notetype.mod,
    )
    note_type = note.note_type if not note.note_type.startswith(CUSTOM) else QUESTION
    return replace(note, fields=fields, foreign=foreign, note_type=note_type)


def _custom(note: AnkiNote, source: CardSource, render: Callable[[str], str]) -> AnkiNote:
    name = source.note_type[len(CUSTOM) :]
    names = tuple(field for field, _ in source.fields) or ("Front", "Back")
    # Anki compares field names without case: the user's "source" is our Source.
    taken = {field.casefold() for field in names}
    ours = tuple(n for n in OUR_FIELDS if n.casefold() not in taken)
    all_names = (*names, *ours)
    key = "\x1f".join(("custom", name, *all_names))
    foreign = ForeignNoteType(stable_id("model", key), f"ankigen {name}", all_names)
    extra = note.fields[2:]  # Context, See, References, Source as built
    by_name = dict(zip(OUR_FIELDS, extra, strict=True))
    fields = (*_named_html(note, source, render), *(by_name[n] for n in ours))
    return replace(note, fields=fields[: len(all_names)], foreign=foreign, note_type=QUESTION)
