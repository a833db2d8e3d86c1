"""`ankigen plan`: its totals equal what Anki's own importer reports for the same packages, at
every step of a story (first build, edits on both sides, a deletion, a re-import, a note type
changed in Anki), and it never writes to the collection (real CLI, real Anki collection)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import ankiutil
from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest
from conftest import REPO, write_vault
from test_adopt import plugin_collection  # noqa: F401  (a fixture)

NOTES = {
    "Cloud/EC2.md": (
        "#Question What is an AMI?\nAnswer: A machine image.\n\n"
        "#Question What is a spot instance?\nAnswer: Spare capacity, cheaper.\n\n"
        "#Question What does EBS store?\nAnswer: Block volumes.\n"
    ),
    "Cloud/S3.md": "#Question What is a bucket?\nAnswer: A container of objects.\n",
    "Lang/French.md": (
        "#Question What is chat?\nAnswer: cat\n\n#Question What is chien?\nAnswer: dog\n"
    ),
}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ankigen", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _plan(vault: Path, out: Path, collection: Path) -> dict:
    before = collection.read_bytes()
    result = _cli(
        "plan", str(vault), "-o", str(out), "--collection", str(collection), "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    assert collection.read_bytes() == before  # read-only, to the byte
    return json.loads(result.stdout)


def _import(collection: Path, out: Path) -> dict[str, int]:
    """Import every package with Anki's default options; the importer's own counts."""
    col = ankiutil.Collection(str(collection))
    counts = dict.fromkeys(("new", "updated", "duplicate", "conflicting"), 0)
    try:
        for apkg in sorted(out.glob("*.apkg")):
            options = ImportAnkiPackageOptions(
                update_notes=ankiutil.IF_NEWER, update_notetypes=ankiutil.IF_NEWER
            )
            request = ImportAnkiPackageRequest(package_path=str(apkg), options=options)
            log = col.import_anki_package(request).log
            for name in counts:
                counts[name] += len(getattr(log, name))
    finally:
        col.close()
    return counts


def _same(plan: dict, real: dict[str, int]) -> None:
    total = plan["total"]
    assert total["added"] == real["new"], (total, real)
    assert total["updated"] == real["updated"], (total, real)
    assert total["unchanged"] + total["skipped"] == real["duplicate"], (total, real)
    assert total["conflicts"] == real["conflicting"], (total, real)
    assert sum(p["added"] for p in plan["packages"]) == total["added"]


def _step(vault: Path, out: Path, collection: Path, tmp: Path) -> tuple[dict, dict]:
    """Plan, then import into a copy and into the collection itself: both reports."""
    plan = _plan(vault, out, collection)
    copy = tmp / f"copy-{time.monotonic_ns()}.anki2"
    shutil.copyfile(collection, copy)
    real = _import(copy, out)
    _same(plan, real)
    assert _import(collection, out) == real
    return plan, real


def _user_collection(path: Path) -> Path:
    """A collection with history of its own: an unrelated deck, and a note that has the same
    first field as one of the vault's cards, in the same deck, under another GUID."""
    path.parent.mkdir(parents=True, exist_ok=True)
    col = ankiutil.Collection(str(path))
    basic = col.models.by_name("Basic")
    for front in ("Bonjour", "Merci"):
        note = col.new_note(basic)
        note["Front"], note["Back"] = front, "hello"
        col.add_note(note, col.decks.id("Unrelated"))
    twin = col.new_note(basic)
    twin["Front"], twin["Back"] = "What is a bucket?", "mine"
    col.add_note(twin, col.decks.id("Cloud"))
    col.close()
    return path


def test_plan_totals_equal_the_real_import_at_every_step(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "vault", NOTES)
    out = tmp_path / "out"
    collection = _user_collection(tmp_path / "profile" / "collection.anki2")

    plan, real = _step(vault, out, collection, tmp_path)  # first build
    assert plan["total"]["added"] == 6 and plan["total"]["duplicates"] == 1
    assert real["new"] == 6

    plan, _ = _step(vault, out, collection, tmp_path)  # nothing changed
    assert plan["total"]["unchanged"] == 6 and plan["total"]["added"] == 0

    # An edit in the vault, and a later edit in Anki of another card.
    time.sleep(1.1)
    text = NOTES["Cloud/EC2.md"].replace("A machine image.", "An Amazon Machine Image.")
    (vault / "Cloud/EC2.md").write_text(text, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "ankigen", "build", str(vault), "-o", str(out)],
                   check=True, capture_output=True, cwd=REPO)  # fmt: skip
    time.sleep(1.1)
    col = ankiutil.Collection(str(collection))
    [nid] = col.find_notes('"Question:*chien*"')
    note = col.get_note(nid)
    note["Answer"] = "dog (edited in Anki)"
    col.update_note(note)
    col.close()
    plan, _ = _step(vault, out, collection, tmp_path)
    assert plan["total"]["updated"] == 1 and plan["total"]["unchanged"] == 4
    assert plan["total"]["skipped"] == 1  # the Anki-side edit is newer: kept

    # The Anki-side edit is newer than the vault's card: rebuilt unchanged, it is skipped.
    time.sleep(1.1)
    (vault / "Lang/French.md").write_text(NOTES["Lang/French.md"] + "\n", encoding="utf-8")
    plan, _ = _step(vault, out, collection, tmp_path)
    assert plan["total"]["updated"] == 0 and plan["total"]["skipped"] == 1

    # A deletion: the card stays in Anki until the user deletes it; plan says so.
    (vault / "Cloud/S3.md").write_text("Nothing left here.\n", encoding="utf-8")
    plan, real = _step(vault, out, collection, tmp_path)
    assert plan["deletions"] == 1
    col = ankiutil.Collection(str(collection))
    todo = (out / "ankigen-todo.txt").read_text(encoding="utf-8")
    search = next(line.strip() for line in todo.splitlines() if "Source:" in line)
    assert len(col.find_notes(search)) == 1
    col.remove_notes(col.find_notes(search))
    col.close()
    plan = _plan(vault, out, collection)
    assert plan["deletions"] == 0

    # A note moved to another folder: Anki keeps its cards in the old deck until moved there.
    (vault / "Languages").mkdir()
    (vault / "Lang/French.md").rename(vault / "Languages/French.md")
    plan, _ = _step(vault, out, collection, tmp_path)
    assert plan["moves"] == 2 and plan["total"]["updated"] == 2
    col = ankiutil.Collection(str(collection))
    todo = (out / "ankigen-todo.txt").read_text(encoding="utf-8")
    search = next(line.strip() for line in todo.splitlines() if "tag:" in line)
    assert len(col.find_notes(search)) == 2
    col.set_deck(col.find_cards(search), col.decks.id("Languages"))
    col.close()
    assert _plan(vault, out, collection)["moves"] == 0

    # A note type changed in Anki (a field added): its notes are in conflict, as Anki says.
    col = ankiutil.Collection(str(collection))
    model = col.models.by_name("ankigen")
    col.models.add_field(model, col.models.new_field("Mnemonic"))
    col.models.update_dict(model)
    col.close()
    plan, real = _step(vault, out, collection, tmp_path)
    assert plan["total"]["conflicts"] == real["conflicting"] == 5
    assert plan["packages"][0]["note_types"] == ["ankigen"]


def test_plan_text_and_errors(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "vault", NOTES)
    collection = _user_collection(tmp_path / "c" / "collection.anki2")
    result = _cli("plan", str(vault), "-o", str(tmp_path / "out"), "--collection", str(collection))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        "Cloud.apkg: 4 added, 0 updated, 0 unchanged, 0 skipped as older, 1 duplicates" in lines[0]
    )
    assert lines[-2].startswith("total: 6 added")
    missing = _cli("plan", str(vault), "--collection", str(tmp_path / "none.anki2"))
    assert missing.returncode == 2 and "collection not found" in missing.stderr
    (tmp_path / "bad.anki2").write_bytes(b"not a database at all" * 100)
    bad = _cli(
        "plan", str(vault), "-o", str(tmp_path / "o"), "--collection", str(tmp_path / "bad.anki2")
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "not an Anki collection" in bad.stderr
    usage = _cli("plan", str(vault))
    assert usage.returncode == 2 and "--collection" in usage.stderr


def test_plan_equals_the_import_after_adopting_plugin_notes(
    plugin_collection,  # noqa: F811  (the fixture of test_adopt)
    tmp_path: Path,
) -> None:
    """Notes Obsidian_to_Anki put into Anki, adopted: the packages carry the user's own note
    types (Basic, reversed, Cloze); plan still says exactly what the import does."""
    vault, collection, _ = plugin_collection
    adopted = _cli("adopt", str(vault), "--collection", str(collection))
    assert adopted.returncode == 0, adopted.stderr
    out = tmp_path / "dist"
    plan, real = _step(vault, out, collection, tmp_path)
    # Adopted: matched in place, and with the collection's modification time until the
    # vault's text changes, so this first import changes nothing (README's mod-time table).
    assert plan["total"]["updated"] == real["updated"] == 0
    assert plan["total"]["unchanged"] + plan["total"]["skipped"] >= 4
    assert plan["total"]["conflicts"] == 0
    plan, _ = _step(vault, out, collection, tmp_path)  # imported: nothing left to do
    assert plan["total"]["added"] == plan["total"]["updated"] == 0
    time.sleep(1.1)
    rivers = vault / "Geography" / "Rivers.md"
    rivers.write_text(
        rivers.read_text(encoding="utf-8").replace("6,650 km", "about 6,650 km"), encoding="utf-8"
    )
    plan, _ = _step(vault, out, collection, tmp_path)
    assert plan["total"]["updated"] == 1
