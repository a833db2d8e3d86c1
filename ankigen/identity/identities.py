"""Identity stage: GUIDs and modification times for every card, kept in the vault's lock file.

Per build: the lock is read once, each folder's cards are identified against it (a renamed or
moved note keeps its cards), notes that are only excluded for this build keep their entries,
cards whose question is gone are remembered as deleted, and the lock is written once.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from .. import atomic
from ..diagnostics import Diagnostics
from ..discover import is_excluded
from ..gittimes import ModTimes
from ..records import AnkiNote, CardDraft, Diagnostic, Folder, Vault
from ..syntax import NoteText, SyntaxSettings
from ..todo import AnkiTodo, MovedCards, deck_moved_tag, moved_tag
from .deletions import DeletedCard, deleted_card, text_words, written_in
from .identify import Changes, FolderContext, assign_identities
from .lockfile import (
    MAX_TIME,
    Lock,
    LockEntry,
    load_lock,
    lock_location,
    save_lock,
    valid_time,
    vault_name_ok,
)
from .matching import moved_notes, orphan_index


class Identities:
    """GUIDs and modification times for every card, kept in the vault's lock file."""

    def __init__(
        self,
        enabled: bool,
        vault: Vault,
        model_fingerprint: str,
        report: Diagnostics,
        exclude: tuple[str, ...] = (),
    ) -> None:
        self.vault = vault
        self.path, problems = lock_location(vault.root) if enabled else (None, ())
        report.extend(problems)
        self.enabled = enabled
        lock, problems = load_lock(self.path) if self.path else (Lock(), ())
        report.extend(problems)
        lock = self._with_decks(lock)
        self.folder_of = {n.rel: f for f in vault.folders for n in f.notes}
        # Notes gone from the vault: their cards are deleted, unless the note was only moved
        # or renamed (adopt_moved_notes) or is excluded from this build (kept as they are).
        self.orphans = {
            rel: cards
            for rel, cards in lock.notes.items()
            if rel not in self.folder_of and not _kept_out(vault.root, rel, exclude)
        }
        self.lock, _ = lock.pruned(rel for rel in lock.notes if rel not in self.orphans)
        self.orphan_questions = orphan_index(self.orphans)
        self.owner = {e.guid: rel for rel, entries in self.lock.notes.items() for e in entries}
        self.changes: list[Changes] = []
        self.moved: list[str] = []
        self.note_ids: Mapping[str, int] = {}  # GUID → Anki note id, for adopted notes
        self.deleted: list[DeletedCard] = []
        epoch = source_date_epoch(report)
        self.now = int(time.time()) if epoch is None else epoch
        self.created = epoch or 0  # the collection's creation time: fixed, never the clock
        self.model_mod: int | None = None  # without a lock the note type carries `created`
        if self.enabled:
            self.lock, self.model_mod = self.lock.with_model(model_fingerprint, self.now)
            if vault_name_ok(vault.name):  # recorded once, for every clone of the vault
                self.lock = replace(self.lock, vault=vault.name)
        # The lock's notes, updated in place folder by folder (a new sorted copy per folder
        # would cost the whole lock each time); the lock file is written sorted.
        self.notes = dict(self.lock.notes)
        self.lock = self._lock_view(self.lock)
        self.fallback_mod = ModTimes(vault.root)
        self.syntax = SyntaxSettings()  # for the DELETE marks of Obsidian_to_Anki
        self._words: tuple[str, str | None, set[int]] = ("", None, set())

    def _still_written(self, rel: str, entry: LockEntry) -> bool:
        """Whether the note's text still holds the card: one that was not built (not read
        by --syntax, settings unreadable, a note type not resolved…) is not deleted. A note
        that cannot be read now holds every card; an adopted note marked DELETE none."""
        if self._words[0] != rel:
            try:
                text = atomic.read_regular(self.vault.root / rel).decode("utf-8-sig", "replace")
            except OSError:
                self._words = (rel, None, set())
            else:
                from ..syntax.obsidian_to_anki import deletions  # only when a card is missing

                marked = {nid for _, nid in deletions(NoteText(rel, text), self.syntax)}
                self._words = (rel, text_words(text), marked)
        _, words, marked = self._words
        if words is None:
            return True
        if self.note_ids.get(entry.guid, 0) in marked:
            return False
        return written_in(entry.question, words)

    def assign(
        self,
        folder: Folder,
        notes_read: list[str],
        drafts: list[CardDraft],
        diagnostics: list[Diagnostic],
    ) -> tuple[AnkiNote, ...]:
        """Identify the drafts of one folder. `notes_read` are its notes that could be read:
        the lock entries of the others stay as they are. (Each card's AnkiNote is made in
        identify._anki_note.)"""
        adopted, moves = moved_notes(self.notes, self.orphans, drafts, self.orphan_questions)
        self.notes.update(adopted)
        for old, new in moves:
            self.moved.append(f"{old} → {new}")
            for entry in self.lock.notes[new]:
                self.owner[entry.guid] = new
        context = FolderContext(
            deck=folder.deck,
            moved_tag=moved_tag(folder.package),
            moved_tags={d.deck: deck_moved_tag(d.deck) for d in drafts if d.deck},
            moved_from={new: old for old, new in moves},
            taken=self.owner,
            still_written=self._still_written,
        )
        identified = assign_identities(
            drafts, self.lock, self.fallback_mod, self.now, scope=notes_read, context=context
        )
        for rel, entries in identified.lock.notes.items():
            if entries:
                self.notes[rel] = entries
            else:
                self.notes.pop(rel, None)
        self.lock = self._lock_view(identified.lock)
        for rel, entries in identified.lock.notes.items():
            for entry in entries:
                self.owner[entry.guid] = rel
        self.changes.append(identified.changes)
        self.deleted.extend(identified.deleted)
        diagnostics.extend(identified.diagnostics)
        return identified.notes

    def _lock_view(self, part: Lock) -> Lock:
        """The lock as it stands: the notes updated in place, part's model if it has one."""
        model = part.model or self.lock.model
        return Lock(MappingProxyType(self.notes), model, self.lock.deleted, self.lock.vault)

    def finish(self) -> None:
        """Remember the cards deleted in this build (notes gone, questions gone)."""
        for rel, entries in sorted(self.orphans.items()):
            deck = self._deck_of_path(rel)
            self.deleted.extend(deleted_card(e, rel, deck, self.now) for e in entries)
        if self.enabled:
            self.lock = self.lock.with_deleted(self.deleted, self.now)

    def save(self, report: Diagnostics) -> None:
        if self.enabled and self.path:
            try:
                save_lock(self.path, self.lock)
            except OSError as error:
                message = (
                    f"cannot write the lock file: {error}; cards keep GUIDs, rewording is lost"
                )
                report.extend([Diagnostic(self.path.name, 0, "error", message)])

    def all_changes(self) -> Changes:
        """What changed for the cards, over the whole build."""
        removed = Changes(
            removed=tuple(
                deleted_card(e, rel, "", self.now).shown()
                for rel, cards in sorted(self.orphans.items())
                for e in cards
            )
        )
        return merge_changes([*self.changes, removed])

    def todo(self) -> AnkiTodo:
        """What the user has to do in Anki: remove deleted cards, move cards of moved notes."""
        moved: dict[tuple[str, str], int] = defaultdict(int)  # (deck, tag) → cards
        for rel, entries in self.lock.notes.items():
            folder = self.folder_of.get(rel)
            if folder is None:
                continue  # excluded from this build
            for entry in entries:
                target = entry.target or folder.deck  # the deck the card belongs in
                if entry.deck and entry.deck != target:
                    tag = (
                        moved_tag(folder.package)
                        if target == folder.deck
                        else deck_moved_tag(target)
                    )
                    moved[target, tag] += 1
        return AnkiTodo(
            note_ids=self.note_ids,
            deleted=self.lock.deleted,
            moved=tuple(
                MovedCards(deck, tag, count) for (deck, tag), count in sorted(moved.items())
            ),
        )

    def _with_decks(self, lock: Lock) -> Lock:
        """Entries from before the lock named decks are taken to be where their note is."""
        missing = {
            rel: tuple(replace(e, deck=e.deck or self._deck_of_path(rel)) for e in entries)
            for rel, entries in lock.notes.items()
            if any(not e.deck for e in entries)
        }
        return lock.updated(Lock(MappingProxyType(missing))) if missing else lock

    def _deck_of_path(self, rel: str) -> str:
        folder = rel.rpartition("/")[0]
        return folder.replace("/", "::") if folder else self.vault.name


def _kept_out(root: Path, rel: str, exclude: tuple[str, ...]) -> bool:
    """A note left out of this build by --exclude that is still there (else it is gone)."""
    return is_excluded(rel, exclude) and (root / rel).is_file()


def source_date_epoch(report: Diagnostics) -> int | None:
    """SOURCE_DATE_EPOCH (reproducible-builds.org), when set to a time ankigen can use."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    try:
        epoch = int(value)
    except ValueError:
        report.warn("", 0, f"SOURCE_DATE_EPOCH={value!r} is not a whole number; ignored")
        return None
    if not valid_time(epoch):
        report.warn("", 0, f"SOURCE_DATE_EPOCH={value!r} is not between 0 and {MAX_TIME}; ignored")
        return None
    return epoch


def merge_changes(parts: list[Changes]) -> Changes:
    """One Changes for the whole build, from each folder's."""
    return Changes(
        **{kind: tuple(x for part in parts for x in getattr(part, kind)) for kind in Changes.KINDS}
    )
