"""Identity stage: which Anki note each card is, and when it last changed.

Modules, top to bottom (each imports only those below it; `lint-imports` checks it):
identities (the per-build Identities: the lock read once, each folder identified, the lock
written once) → identify (a folder's cards against the lock, note by note) → matching (small
pure steps: match cards to old entries, moved notes, choose a GUID, classify the change, the
modification time) → lockfile (the lock file's format, its validating reader, its place and
the recorded vault name) → deletions (deleted cards remembered, cards not built this time) →
keys (normalised questions, GUIDs, hashes).

Nothing is imported here: discovery reads the lock file's name and the vault's recorded name
from `lockfile` without loading the rest.
"""
