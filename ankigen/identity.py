"""Identity stage: GUIDs and modification times for every card, kept in the vault's lock file."""

from __future__ import annotations

import os
import time

from .diagnostics import Diagnostics
from .discover import LOCK_FILE
from .gittimes import ModTimes
from .lock import (
    CardDraft,
    Changes,
    Lock,
    adopt_moved_notes,
    assign_identities,
    load_lock,
    save_lock,
)
from .model import AnkiNote, Diagnostic, Vault


class Identities:
    """GUIDs and modification times for every card, kept in the vault's lock file."""

    def __init__(
        self, enabled: bool, vault: Vault, model_fingerprint: str, report: Diagnostics
    ) -> None:
        self.enabled = enabled
        self.path = vault.root / LOCK_FILE
        lock, problems = load_lock(self.path) if self.enabled else (Lock(), ())
        report.extend(problems)
        existing = {n.rel for f in vault.folders for n in f.notes}
        # Notes gone from the vault: their cards are removed, unless the note was only moved.
        self.orphans = {rel: cards for rel, cards in lock.notes.items() if rel not in existing}
        self.lock, _ = lock.pruned(existing)
        self.changes: list[Changes] = []
        self.moved: list[str] = []
        epoch = source_date_epoch(report)
        self.now = int(time.time()) if epoch is None else epoch
        self.created = epoch or 0  # the collection's creation time: fixed, never the clock
        self.model_mod: int | None = None  # without a lock the note type carries `created`
        if self.enabled:
            self.lock, self.model_mod = self.lock.with_model(model_fingerprint, self.now)
        self.fallback_mod = ModTimes(vault.root)

    def assign(
        self, notes_in_folder: list[str], drafts: list[CardDraft], diagnostics: list[Diagnostic]
    ) -> tuple[AnkiNote, ...]:
        """Identify the drafts of one folder, whose notes are `notes_in_folder`."""
        self.lock, moved = adopt_moved_notes(self.lock, self.orphans, drafts)
        self.moved.extend(moved)
        identified = assign_identities(
            drafts, self.lock, self.fallback_mod, self.now, scope=notes_in_folder
        )
        self.lock = self.lock.updated(identified.lock)
        self.changes.append(identified.changes)
        diagnostics.extend(identified.diagnostics)
        return identified.notes

    def save(self) -> None:
        if self.enabled:
            save_lock(self.path, self.lock)

    def all_changes(self) -> Changes:
        """What changed for the cards, over the whole build."""
        removed = Changes(
            removed=tuple(
                f"{rel}: {card.question}"
                for rel, cards in sorted(self.orphans.items())
                for card in cards
            )
        )
        return merge_changes([*self.changes, removed])


def source_date_epoch(report: Diagnostics) -> int | None:
    """SOURCE_DATE_EPOCH (reproducible-builds.org), when set."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        report.warn("", 0, f"SOURCE_DATE_EPOCH={value!r} is not a whole number; ignored")
        return None


def merge_changes(parts: list[Changes]) -> Changes:
    """One Changes for the whole build, from each folder's."""
    kinds = ("added", "changed", "reworded", "removed", "unchanged")
    return Changes(
        **{kind: tuple(x for part in parts for x in getattr(part, kind)) for kind in kinds}
    )
