"""Note types that are not ours: a user's own (Obsidian_to_Anki) and adopted ones (`adopt`).

Runs after the identity stage, when every card has its GUID: an adopted card is written with
the note type its note has in the user's collection (same id, fields and template names), its
fields filled in by name, so Anki's importer updates that note in place; a card of a user's own
note type (``custom:<Name>``) gets a note type of ours with the user's field names.
"""

from __future__ import annotations

from dataclasses import replace

from .adoption_file import Adopted
from .anki_collection import AnkiNotetype
from .package import FIELDS, stable_id
from .records import CLOZE, QUESTION, AnkiNote, Diagnostic, ForeignNoteType

CUSTOM = "custom:"
OUR_FIELDS = FIELDS[2:]  # Context, See, References, Source


def with_foreign_note_types(
    notes: tuple[AnkiNote, ...],
    adopted: Adopted,
    diagnostics: list[Diagnostic] | None = None,
) -> tuple[AnkiNote, ...]:
    """The notes (in card order), adopted and custom ones with their note type, their fields
    filled from the card's own fields (rendered and with their pictures, like the rest)."""
    found = diagnostics if diagnostics is not None else []
    out = []
    for note in notes:
        notetype = adopted.notetype_of(note.guid)
        if notetype is not None and notetype.cloze != (note.note_type == CLOZE):
            kind = "a cloze note type" if notetype.cloze else "a note type without clozes"
            message = (
                f"the card's note in Anki has {kind} ('{notetype.name}'), unlike the card: "
                "built with a note type of ours, so Anki will not update its note"
            )
            found.append(Diagnostic(note.note_rel, note.line, "warning", message))
            notetype = None
        if notetype is not None:
            note = _adopted(note, notetype)
        elif note.note_type.startswith(CUSTOM):
            note = _custom(note)
        out.append(note)
    return tuple(out)


def _named_html(note: AnkiNote) -> list[str]:
    """The HTML of the card's own fields in order; a card of our note type: front and back."""
    return [field.html for field in note.named] or [note.fields[0], note.fields[1]]


def _adopted(note: AnkiNote, notetype: AnkiNotetype) -> AnkiNote:
    values = _named_html(note)
    names = [field.name for field in note.named]
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


def _custom(note: AnkiNote) -> AnkiNote:
    name = note.note_type[len(CUSTOM) :]
    names = tuple(field.name for field in note.named) or ("Front", "Back")
    # Anki compares field names without case: the user's "source" is our Source.
    taken = {field.casefold() for field in names}
    ours = tuple(n for n in OUR_FIELDS if n.casefold() not in taken)
    all_names = (*names, *ours)
    key = "\x1f".join(("custom", name, *all_names))
    foreign = ForeignNoteType(stable_id("model", key), f"ankigen {name}", all_names)
    extra = note.fields[2:]  # Context, See, References, Source as built
    by_name = dict(zip(OUR_FIELDS, extra, strict=True))
    fields = (*_named_html(note), *(by_name[n] for n in ours))
    return replace(note, fields=fields[: len(all_names)], foreign=foreign, note_type=QUESTION)
