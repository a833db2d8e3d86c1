"""Property-based tests: whatever the lock file holds, and whatever sequence of edits the notes
go through, the identity stage stays sound."""

from __future__ import annotations

import json
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ankigen.identity.identify import assign_identities
from ankigen.identity.lockfile import MAX_TIME, Lock, load_lock, lock_text, valid_time
from ankigen.records import CardDraft

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELD = st.sampled_from(["guid", "question", "content", "answer", "mod", "line", "deck"])


def entry(guid: str, mod: object = 1_700_000_000) -> dict:
    return {"guid": guid, "question": "q " + guid, "content": "c", "answer": "a", "mod": mod}


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    notes=st.dictionaries(
        st.text(string.ascii_letters + "/ .", min_size=1, max_size=10),
        st.lists(
            st.tuples(st.sampled_from("abcdef"), st.one_of(st.none(), st.tuples(FIELD, JSON))),
            max_size=5,
        ),
        max_size=4,
    ),
    model=JSON,
    deleted=JSON,
)
def test_any_lock_loads_into_a_sound_lock_that_round_trips(
    tmp_path_factory, notes, model, deleted
) -> None:
    data = {"version": 1, "model": model, "deleted": deleted, "notes": {}}
    for rel, cards in notes.items():
        rows = []
        for guid, damage in cards:
            row = entry(guid)
            if damage:
                row[damage[0]] = damage[1]
            rows.append(row)
        data["notes"][rel] = rows
    path = tmp_path_factory.mktemp("lock") / "ankigen.lock"
    path.write_text(json.dumps(data), encoding="utf-8")
    lock, problems = load_lock(path)
    assert all(p.path == "ankigen.lock" and p.line >= 0 for p in problems)
    guids = [e.guid for entries in lock.notes.values() for e in entries]
    assert len(guids) == len(set(guids))  # no GUID twice
    assert all(valid_time(e.mod) for entries in lock.notes.values() for e in entries)
    assert not {d.guid for d in lock.deleted} & set(guids)
    assert lock.model is None or 0 <= lock.model.mod <= MAX_TIME
    path.write_text(lock_text(lock), encoding="utf-8")
    assert load_lock(path) == (lock, ())  # what ankigen writes, it reads back unchanged


QUESTIONS = st.sampled_from(["What is A?", "What is B?", "what is **a**", "C?", "D?", "E?"])
ANSWERS = st.sampled_from(["one", "two", "three"])
NOTES = st.sampled_from(["X/a.md", "X/b.md", "Y/c.md"])


def drafts_of(cards: list[tuple[str, str, str]]) -> list[CardDraft]:
    return [
        CardDraft(rel, line, q, a, (q, a, "", "", "", f"{rel}:{line}"), ())
        for line, (rel, q, a) in enumerate(cards, start=1)
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(NOTES, QUESTIONS, ANSWERS), max_size=6), min_size=1, max_size=5))
def test_builds_in_sequence_keep_guids_unique_and_account_for_every_card(builds) -> None:
    lock = Lock()
    now = 1_700_000_000
    for cards in builds:
        now += 1000
        drafts = drafts_of(cards)
        scope = ["X/a.md", "X/b.md", "Y/c.md"]
        result = assign_identities(drafts, lock, lambda rel: 1_600_000_000, now, scope=scope)
        guids = [n.guid for n in result.notes]
        assert len(guids) == len(set(guids)) == len(drafts)
        before = {e.guid for entries in lock.notes.values() for e in entries}
        gone = {d.guid for d in result.deleted}
        assert before <= set(guids) | gone  # every old card is kept or reported deleted
        assert not gone & set(guids)
        assert all(n.mod <= now for n in result.notes)
        old_mods = {e.guid: e.mod for entries in lock.notes.values() for e in entries}
        for note in result.notes:  # never backwards; forward when it changed
            assert note.mod >= old_mods.get(note.guid, 0)
        lock = lock.updated(result.lock).with_deleted(result.deleted, now)
        live = {e.guid for entries in lock.notes.values() for e in entries}
        assert not live & {d.guid for d in lock.deleted}


def test_property_tests_run_here(tmp_path: Path) -> None:
    """A lock written by hand with every kind of damage at once still loads."""
    data = {
        "version": 1,
        "model": {"fingerprint": "f", "mod": float("inf")},
        "deleted": "nope",
        "notes": {"a.md": [entry("g"), entry("g"), entry("h", 10**20), 7], "b.md": "x"},
    }
    path = tmp_path / "ankigen.lock"
    path.write_text(json.dumps(data), encoding="utf-8")
    lock, problems = load_lock(path)
    assert [e.guid for e in lock.notes["a.md"]] == ["g", "h"]
    assert lock.notes["a.md"][1].mod == 0 and lock.model is None and lock.deleted == ()
    assert len(problems) == 6


PARTS = st.sampled_from(["AWS", "Storage", "a b", "x.md", "y.md", "Compute"])
PATTERNS = st.sampled_from(["AWS/Storage/*", "AWS/*", "*/x.md", "AWS", "Storage", "*Comp*", "a?b"])


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    paths=st.lists(st.lists(PARTS, min_size=1, max_size=3), min_size=1, max_size=6),
    exclude=st.lists(PATTERNS, max_size=2),
)
def test_is_excluded_agrees_with_discovery(tmp_path_factory, paths, exclude) -> None:
    """A lock entry is kept for exactly the notes that discovery leaves out for --exclude."""
    from ankigen.discover import discover_vault, is_excluded

    root = tmp_path_factory.mktemp("vault")
    notes = set()
    for parts in paths:
        rel = "/".join([*parts[:-1], parts[-1] if parts[-1].endswith(".md") else "n.md"])
        if any((root / p).is_file() for p in _prefixes(rel)[:-1]) or (root / rel).is_dir():
            continue
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("#Q q\nAnswer: a\n", encoding="utf-8")
        notes.add(rel)
    vault, _ = discover_vault(root, tuple(exclude))
    found = {n.rel for folder in vault.folders for n in folder.notes}
    assert found == {rel for rel in notes if not is_excluded(rel, tuple(exclude))}


def _prefixes(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[: n + 1]) for n in range(len(parts))]
