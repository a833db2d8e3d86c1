"""Field assembly: a card's six fields from its rendered Markdown, Context, See and Source."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from html import escape
from urllib.parse import quote

from .obsidian import is_link_url
from .records import CardDraft, CardSource, Diagnostic, ParsedNote, RenderedNote, SeeLink, Vault


def context_html(title: str, headings: tuple[str, ...]) -> str:
    """ "AMI › AMI Image Builder › Use Cases": where the card stands in its note.

    A heading that repeats the note's title (a note often starts with `# Its title`) is left
    out, whichever reader found the card: the title is already the Context's first part."""
    own = " ".join(title.split()).casefold()
    kept = [h for h in headings if " ".join(h.split()).casefold() != own]
    return escape(" › ".join((title, *kept)), quote=False)


def see_html(links: tuple[SeeLink, ...]) -> str:
    """The card's See: links; anything that is not a web link is shown as text."""
    items = []
    for link in links:
        title = escape(link.title, quote=False)
        if is_link_url(link.url):
            items.append(f'<a href="{escape(link.url)}">{title}</a>')
        else:
            items.append(f'<span class="wikilink">{title}</span>')
    return " · ".join(items)


def source_html(vault_name: str, rel: str, line: int) -> str:
    """Where the card was written, with a link that opens the note in Obsidian."""
    return _source_head(vault_name, rel) + f"{line}</a>"


def _source_head(vault_name: str, rel: str) -> str:
    """source_html up to the line number: the same for every card of a note."""
    file = rel[:-3] if rel.lower().endswith(".md") else rel
    url = f"obsidian://open?vault={quote(vault_name, safe='')}&file={quote(file, safe='')}"
    return f'<a href="{escape(url)}">{escape(rel, quote=False)}:'


def source_hash(card: CardSource, note_tags: tuple[str, ...] = ()) -> str:
    """What the notes hold for one card (its Markdown, tags, headings, deck), not where it
    stands: an adopted card's text changed since `ankigen adopt` exactly when this did."""
    parts = (
        card.kind,
        card.note_type,
        card.deck,
        card.question,
        card.answer,
        repr(card.see),
        repr(card.fields),
        repr(card.context),
        repr(tuple(dict.fromkeys((*card.tags, *note_tags)))),
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def card_drafts(
    notes: Iterable[RenderedNote],
    vault: Vault,
    diagnostics: list[Diagnostic] | None = None,
) -> list[CardDraft]:
    """Cards with their final fields (pictures resolved), before identity.

    A tag of the notes under ankigen::moved (the tag of moved cards, todo.py) is left out with
    a warning: the search for moved cards would find its card too."""
    # Imported here: the identity stage imports this module, and a rebuild with nothing to do
    # needs neither the renderer nor Pillow.
    from .media import neutralise_sounds
    from .render_stage import question_key
    from .todo import MOVED_TAG

    reserved = MOVED_TAG.casefold()

    drafts = []
    for note in notes:
        # Anki plays a [sound:…] in any field: the fields made here show one as text.
        references = neutralise_sounds("" if note.references is None else note.references.html)
        source_head = neutralise_sounds(_source_head(vault.name, note.note.rel))
        contexts: dict[tuple[str, ...], str] = {}  # the note's cards share their headings
        for card in note.cards:
            source = card.source
            context = contexts.get(source.context)
            if context is None:
                context = contexts[source.context] = neutralise_sounds(
                    context_html(note.note.title, source.context)
                )
            fields = (
                card.fields[0].html,
                card.fields[1].html,
                context,
                neutralise_sounds(see_html(source.see)) if source.see else "",
                references,
                source_head + f"{source.line}</a>",
            )
            drafts.append(
                CardDraft(
                    note_rel=note.note.rel,
                    line=source.line,
                    question_key=question_key(source),
                    answer_key=source.answer,
                    fields=fields,
                    tags=_own_tags(source, note.note, reserved, diagnostics),
                    deck=source.deck,
                    source=source_hash(source, note.note.tags),
                    card=source,
                    named=card.own_fields,
                )
            )
    return drafts


def _own_tags(
    card: CardSource, note: ParsedNote, reserved: str, found: list[Diagnostic] | None
) -> tuple[str, ...]:
    """The card's tags once each, without those under ankigen's reserved tag (Anki compares
    tags without case, and `tag:a` also finds `a::b`)."""
    kept = []
    rel, line = note.rel, card.line
    for tag in dict.fromkeys((*card.tags, *note.tags)):
        folded = tag.casefold()
        if folded == reserved or folded.startswith(reserved + "::"):
            if found is not None:
                message = f"tag '{tag}' left out: ankigen tags moved cards with it (see {reserved})"
                found.append(Diagnostic(rel, line, "warning", message))
            continue
        kept.append(tag)
    return tuple(kept)
