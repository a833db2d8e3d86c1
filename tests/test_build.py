"""End to end: vaults in, packages out, imported into a real Anki collection."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import ankiutil
from conftest import write_vault
from imageserver import image_server_fixture  # noqa: F401  (the image_server fixture)

from ankigen.build import BuildOptions, build
from ankigen.media import MediaOptions


def png(width: int = 4, height: int = 3, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG, made with Pillow."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def run_build(vault: Path, out: Path, **options) -> object:
    media = MediaOptions(cache_dir=out.parent / "cache", offline=options.pop("offline", True))
    return build(BuildOptions(vault=vault, out_dir=out, media=media, **options))


def seed_vault(root: Path, seed_text: str, diagram_url: str | None = None) -> Path:
    text = seed_text
    if diagram_url:
        text = text.replace(
            "https://docs.aws.amazon.com/images/autoscaling/ec2/userguide/images/auto_scaling_lifecycle.png",
            diagram_url,
        )
    return write_vault(
        root,
        {
            "AWS/Compute/ASG.md": text,
            "attachments/sqs_backlog_scaling.png": png(color=(0, 0, 200)),
            "AWS/Compute/ASG Standby Lifecycle.png": png(color=(0, 200, 0)),
            ".obsidian/app.json": '{"attachmentFolderPath": "attachments"}',
        },
    )


def test_seed_note_imports_as_seven_cards(tmp_path, seed_text):
    vault = seed_vault(tmp_path / "Cloud", seed_text)
    report = run_build(vault, tmp_path / "dist")
    assert report.written == ("AWS-Compute.apkg",)
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "AWS-Compute.apkg")
    notes = ankiutil.notes(col)
    assert len(notes) == 7
    assert {d for n in notes for d in n.decks} == {"AWS::Compute"}
    fronts = [n.fields["Question"] for n in notes]
    assert "What does an Auto Scaling Group do?" in fronts[0]
    assert fronts[2].startswith("<p>Use case: for scaling on a schedule")
    assert "Use case: for scaling on queue depth" in fronts[3]
    assert "without terminating it?" in fronts[4]
    assert "True or False?" in fronts[6]
    assert "[[" not in fronts[6] and "Region.md" not in fronts[6]
    first = notes[0]
    assert "<li>steady web tier that heals itself.</li>" in first.fields["Answer"]
    assert "#UseCase" not in first.fields["Answer"]
    assert "UseCase" in first.tags
    assert first.fields["Context"] == "ASG › ASG Details"
    assert (
        'href="https://docs.aws.amazon.com/autoscaling/ec2/userguide/launch-templates'
        in notes[1].fields["See"]
    )
    assert "what-is-amazon-ec2-auto-scaling.html" in first.fields["References"]
    assert "AWS/Compute/ASG.md:5" in first.fields["Source"]
    assert "obsidian://open?vault=Cloud&amp;file=AWS%2FCompute%2FASG" in first.fields["Source"]
    assert all("UseCase" in n.tags for n in notes[2:4])
    assert "False. A group lives in one Region" in notes[6].answer_html
    assert "True or False?" in notes[6].question_html
    # Local pictures are in the media, remote one (offline) is a visible link, nothing missing.
    assert ankiutil.media_problems(col) == ([], [])
    assert sum("<img" in n.fields["Answer"] for n in notes) == 2
    assert 'href="https://docs.aws.amazon.com/images/' in notes[2].fields["Answer"]
    warnings = [str(d) for d in report.diagnostics]
    assert len(warnings) == 1 and warnings[0].startswith("AWS/Compute/ASG.md:32: warning:")


def test_example_vault_builds_and_imports_cleanly(tmp_path):
    vault = Path(__file__).resolve().parent.parent / "examples" / "vault"
    report = run_build(vault, tmp_path / "dist", lock=False)
    assert [str(d).split(": warning:")[0] for d in report.diagnostics] == [
        "AWS/Compute/Lambda.md:41",  # the remote diagram, offline here
        "AWS/Storage/EBS.md:12",  # a question without an answer
    ]
    assert sorted(report.written) == [
        "AWS-Compute.apkg",
        "AWS-Networking.apkg",
        "AWS-Storage.apkg",
        "AWS.apkg",
        "Astronomy.apkg",  # in the Flashcards plugin's syntax
        "Engineering-Thermodynamics.apkg",
        "Languages.apkg",  # in the Spaced Repetition plugin's syntax
        "Obsidian_to_Anki.apkg",  # in the Obsidian_to_Anki plugin's syntax
        "vault.apkg",
    ]
    col = ankiutil.load(tmp_path, *sorted((tmp_path / "dist").glob("*.apkg")))
    notes = ankiutil.notes(col)
    assert (report.cards, report.use_cases, len(notes)) == (54, 7, 61)
    per_deck: dict[str, int] = {}
    for note in notes:
        per_deck[note.decks[0]] = per_deck.get(note.decks[0], 0) + 1
    assert per_deck == {
        "AWS": 3,
        "AWS::Compute": 10,
        "AWS::Networking": 8,
        "AWS::Storage": 10,
        "Astronomy": 4,
        "Engineering::Thermodynamics": 8,
        "Obsidian_to_Anki::French": 5,
        "flashcards::French": 5,
        "flashcards::French::Verbs": 1,
        "flashcards::Physics": 3,
        "vault": 4,
    }
    assert ankiutil.media_problems(col) == ([], [])
    assert len(list(Path(col.media.dir()).iterdir())) == 6  # the unused whiteboard stays out
    for note in notes:
        if "Text" in note.fields:  # a cloze: its extra text may be empty
            assert "{{c1::" in note.fields["Text"] or "{{c2::" in note.fields["Text"]
            continue
        front, back = list(note.fields.values())[:2]
        assert front.strip() and back.strip()
        assert "[[" not in note.question_html + note.answer_html
        assert "#Question" not in front and "<!--SR:" not in front + back
    everything = " ".join(n.fields.get("Answer", "") for n in notes)
    assert "#Question not a card" in everything  # inside a code fence: text


def test_rebuild_after_editing_an_answer_updates_the_note_in_place(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {
            "Deck/A.md": "#Question one?\nAnswer: first\n\n#Question two?\nAnswer: second\n",
            "Other/B.md": "#Question three?\nAnswer: third\n",
        },
    )
    out = tmp_path / "dist"
    run_build(vault, out)
    first = (out / "Deck.apkg").read_bytes()
    col = ankiutil.load(tmp_path, out / "Deck.apkg", out / "Other.apkg")
    before = {n.guid: n for n in ankiutil.notes(col)}

    (vault / "Deck/A.md").write_text(
        "#Question one?\nAnswer: edited\n\n#Question two?\nAnswer: second\n"
    )
    report = run_build(vault, out)
    assert report.written == ("Deck.apkg",) and report.unchanged == ("Other.apkg",)
    assert (out / "Deck.apkg").read_bytes() != first
    ankiutil.import_package(col, out / "Deck.apkg")
    after = {n.guid: n for n in ankiutil.notes(col)}
    assert after.keys() == before.keys()
    edited = next(n for n in after.values() if "one?" in n.fields["Question"])
    untouched = next(n for n in after.values() if "two?" in n.fields["Question"])
    assert "edited" in edited.fields["Answer"]
    assert untouched.mod == before[untouched.guid].mod


def test_no_change_rebuild_skips_folders_and_keeps_bytes(tmp_path):
    vault = write_vault(
        tmp_path / "v", {"A/a.md": "#Q x\nAnswer: y\n", "B/b.md": "#Q z\nAnswer: w\n"}
    )
    out = tmp_path / "dist"
    first = run_build(vault, out)
    bytes_before = {p.name: p.read_bytes() for p in out.glob("*.apkg")}
    second = run_build(vault, out)
    assert sorted(first.written) == ["A.apkg", "B.apkg"]
    assert second.written == () and sorted(second.unchanged) == ["A.apkg", "B.apkg"]
    assert second.cards == first.cards == 2
    forced = run_build(vault, out, force=True)
    assert sorted(forced.written) == ["A.apkg", "B.apkg"]
    assert {p.name: p.read_bytes() for p in out.glob("*.apkg")} == bytes_before


def test_two_fresh_builds_are_byte_identical(tmp_path, seed_text):
    vault = seed_vault(tmp_path / "Cloud", seed_text)
    run_build(vault, tmp_path / "one", lock=False)
    run_build(vault, tmp_path / "two", lock=False)
    assert (tmp_path / "one/AWS-Compute.apkg").read_bytes() == (
        tmp_path / "two/AWS-Compute.apkg"
    ).read_bytes()


def test_folder_that_loses_its_cards_loses_its_package(tmp_path):
    vault = write_vault(
        tmp_path / "v", {"A/a.md": "#Q x\nAnswer: y\n", "B/b.md": "#Q z\nAnswer: w\n"}
    )
    out = tmp_path / "dist"
    run_build(vault, out)
    (vault / "B/b.md").write_text("no cards any more\n")
    report = run_build(vault, out)
    assert report.removed == ("B.apkg",)
    assert not (out / "B.apkg").exists() and (out / "A.apkg").exists()
    shutil.rmtree(vault / "A")
    report = run_build(vault, out)
    assert report.removed == ("A.apkg",) and list(out.glob("*.apkg")) == []


def test_one_broken_note_does_not_stop_the_others(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {
            "D/good.md": "#Question fine?\nAnswer: yes\n",
            "D/latin1.md": "#Question caf\xe9?\nAnswer: ok\n".encode("latin-1"),
            "D/empty.md": "#Question no answer here\n",
            "D/missing picture.md": "#Question pic?\nAnswer: see\n![[nowhere.png]]\n",
        },
    )
    report = run_build(vault, tmp_path / "dist")
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "D.apkg")
    assert len(ankiutil.notes(col)) == 3
    assert ankiutil.media_problems(col) == ([], [])
    text = [str(d) for d in report.diagnostics]
    assert text[0].startswith("D/empty.md:1: warning:") and "no answer" in text[0]
    assert text[1].startswith("D/latin1.md:1: warning:") and "UTF-8" in text[1]
    assert text[2].startswith("D/missing picture.md:3: warning:") and "nowhere.png" in text[2]


def test_raw_html_img_goes_through_media_and_scripts_do_not(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {
            "D/n.md": '#Question raw?\nAnswer: <img src="pic.png" onerror="alert(1)"> '
            "<script>alert(2)</script>done\n",
            "D/pic.png": png(),
        },
    )
    run_build(vault, tmp_path / "dist")
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "D.apkg")
    answer = ankiutil.notes(col)[0].fields["Answer"]
    assert "onerror" not in answer and "<script" not in answer and "alert(2)" not in answer
    assert ankiutil.media_problems(col) == ([], [])
    assert len(list(Path(col.media.dir()).iterdir())) == 1


def test_same_question_in_two_files_is_two_notes(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {"D/a.md": "#Q Same?\nAnswer: a\n", "D/b.md": "#Q Same?\nAnswer: b\n"},
    )
    run_build(vault, tmp_path / "dist")
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "D.apkg")
    notes = ankiutil.notes(col)
    assert len(notes) == 2 and notes[0].guid != notes[1].guid


def test_frontmatter_and_inline_tags_reach_anki(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {"D/n.md": "---\ntags: [aws, compute]\n---\n#Question q #exam/tip\nAnswer: a\n"},
    )
    run_build(vault, tmp_path / "dist")
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "D.apkg")
    note = ankiutil.notes(col)[0]
    assert sorted(note.tags) == ["aws", "compute", "exam::tip"]
    assert "#exam" not in note.fields["Question"]


def test_root_notes_go_to_a_deck_named_after_the_vault(tmp_path):
    vault = write_vault(tmp_path / "Study", {"top.md": "#Q root?\nAnswer: yes\n"})
    report = run_build(vault, tmp_path / "dist")
    assert report.written == ("Study.apkg",)
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "Study.apkg")
    assert ankiutil.notes(col)[0].decks == ["Study"]


def test_rewording_a_question_keeps_the_note_and_its_history(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {"D/n.md": "#Q What is EC2?\nAnswer: virtual servers\n\n#Q What is S3?\nAnswer: objects\n"},
    )
    out = tmp_path / "dist"
    run_build(vault, out)
    col = ankiutil.load(tmp_path, out / "D.apkg")
    guids = [n.guid for n in ankiutil.notes(col)]
    (vault / "D/n.md").write_text(
        "#Q Which AWS service gives you virtual servers?\nAnswer: virtual servers\n\n"
        "#Q What is S3?\nAnswer: objects\n"
    )
    report = run_build(vault, out)
    assert len(report.changes.reworded) == 1 and report.changes.added == ()
    ankiutil.import_package(col, out / "D.apkg")
    notes = ankiutil.notes(col)
    assert [n.guid for n in notes] == guids
    assert "Which AWS service" in notes[0].fields["Question"]


def test_lines_added_above_a_card_do_not_count_as_a_change(tmp_path):
    vault = write_vault(tmp_path / "v", {"D/n.md": "#Q one\nAnswer: 1\n\n#Q two\nAnswer: 2\n"})
    out = tmp_path / "dist"
    run_build(vault, out)
    (vault / "D/n.md").write_text(
        "Intro line.\n\nMore intro.\n#Q one\nAnswer: 1\n\n#Q two\nAnswer: 2\n"
    )
    report = run_build(vault, out)
    assert report.written == ("D.apkg",)
    assert report.changes.changed == () and len(report.changes.unchanged) == 2


def test_unchanged_fragments_are_not_rendered_again_unless_forced(tmp_path):
    import zlib

    vault = write_vault(
        tmp_path / "v", {"D/a.md": "#Q kept?\nAnswer: same\n", "D/b.md": "#Q b\nAnswer: 1\n"}
    )
    out = tmp_path / "dist"
    run_build(vault, out)
    [cache] = (out / ".ankigen").glob("rendered-*")
    fragments = json.loads(zlib.decompress(cache.read_bytes()))
    assert fragments["same"] == "<p>same</p>\n"
    fragments["same"] = "<p>from the cache</p>\n"  # proves the next build reads it
    cache.write_bytes(zlib.compress(json.dumps(fragments).encode()))
    (vault / "D/b.md").write_text("#Q b\nAnswer: 2\n")

    def answers() -> list[str]:
        where = tmp_path / f"c{len(list(tmp_path.glob('c*')))}"
        where.mkdir()
        return [n.fields["Answer"] for n in ankiutil.notes(ankiutil.load(where, out / "D.apkg"))]

    run_build(vault, out)
    assert answers() == ["<p>from the cache</p>\n", "<p>2</p>\n"]
    run_build(vault, out, force=True)
    assert answers() == ["<p>same</p>\n", "<p>2</p>\n"]


def test_seed_remote_diagram_is_downloaded_into_the_package(tmp_path, seed_text, image_server):
    vault = seed_vault(tmp_path / "Cloud", seed_text, diagram_url=image_server.url("/photo.jpg"))
    report = run_build(vault, tmp_path / "dist", offline=False)
    assert report.diagnostics == ()
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "AWS-Compute.apkg")
    notes = ankiutil.notes(col)
    assert ankiutil.media_problems(col) == ([], [])
    assert re.search(
        r'<img src="ankigen-[0-9a-f]{16}\.jpg" alt="ASG Lifecycle">', notes[2].fields["Answer"]
    )
    assert len(list(Path(col.media.dir()).iterdir())) == 3
    assert len(image_server.requests_for("/photo.jpg")) == 1

    # Offline, from the cache: the same package, and not one request.
    run_build(vault, tmp_path / "again", offline=True)
    assert len(image_server.requests_for("/photo.jpg")) == 1
    assert (tmp_path / "again/AWS-Compute.apkg").read_bytes() == (
        tmp_path / "dist/AWS-Compute.apkg"
    ).read_bytes()


def test_seed_remote_diagram_failing_is_a_warning_and_a_link(tmp_path, seed_text, image_server):
    url = image_server.url("/missing.png")
    vault = seed_vault(tmp_path / "Cloud", seed_text, diagram_url=url)
    report = run_build(vault, tmp_path / "dist", offline=False)
    assert [str(d) for d in report.diagnostics] == [
        f"AWS/Compute/ASG.md:32: warning: picture {url} not included: HTTP 404 Not Found"
    ]
    col = ankiutil.load(tmp_path, tmp_path / "dist" / "AWS-Compute.apkg")
    answer = ankiutil.notes(col)[2].fields["Answer"]
    assert f'href="{url}"' in answer and "<img" not in answer
    assert ankiutil.media_problems(col) == ([], [])


def test_a_package_that_cannot_be_written_costs_only_its_folder(tmp_path):
    vault = write_vault(
        tmp_path / "v", {"A/a.md": "#Q x\nAnswer: y\n", "B/b.md": "#Q z\nAnswer: w\n"}
    )
    out = tmp_path / "dist"
    (out / "A.apkg").mkdir(parents=True)  # a folder where the package should go
    report = run_build(vault, out)
    assert report.written == ("B.apkg",)
    [error] = report.diagnostics
    assert (
        error.severity == "error" and "cannot write" in error.message and "A.apkg" in error.message
    )
    assert [p.name for p in out.iterdir() if p.name.startswith(".A.apkg")] == []  # no temp left
    (out / "A.apkg").rmdir()
    assert run_build(vault, out).written == ("A.apkg",)  # tried again next time


def test_without_a_lock_new_cards_take_their_notes_last_commit_time(tmp_path):
    import os
    import subprocess

    vault = write_vault(tmp_path / "v", {"D/Café.md": "\ufeff#Q committed?\nAnswer: yes\n"})
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": "2021-03-04T05:06:07Z",
        "GIT_COMMITTER_DATE": "2021-03-04T05:06:07Z",
    }
    for command in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "notes"],
    ):
        subprocess.run(["git", "-C", str(vault), *command], check=True, env=env)
    run_build(vault, tmp_path / "dist", lock=False)
    note = ankiutil.notes(ankiutil.load(tmp_path, tmp_path / "dist" / "D.apkg"))[0]
    assert note.mod == 1614834367
    assert note.fields["Question"] == "<p>committed?</p>\n"  # the byte-order mark is gone


def test_a_renamed_and_moved_note_keeps_its_cards(tmp_path):
    cards = "#Q What is EC2?\nAnswer: servers\n\n#Q What is S3?\nAnswer: objects\n"
    vault = write_vault(
        tmp_path / "v", {"Old/Services.md": cards, "Other/x.md": "#Q x\nAnswer: y\n"}
    )
    out = tmp_path / "dist"
    run_build(vault, out)
    col = ankiutil.load(tmp_path, out / "Old.apkg")
    guids = [n.guid for n in ankiutil.notes(col)]

    (vault / "New").mkdir()
    (vault / "Old/Services.md").rename(vault / "New/AWS services.md")
    (vault / "Old").rmdir()
    report = run_build(vault, out)
    assert report.moved == ("Old/Services.md → New/AWS services.md",)
    assert report.changes.removed == () and report.changes.added == ()
    assert report.removed == ("Old.apkg",) and report.written == ("New.apkg",)
    ankiutil.import_package(col, out / "New.apkg")
    notes = ankiutil.notes(col)
    assert sorted(n.guid for n in notes) == sorted(guids)
    assert all("New/AWS services.md" in n.fields["Source"] for n in notes)


def test_a_deleted_note_is_reported_removed(tmp_path):
    vault = write_vault(
        tmp_path / "v", {"D/a.md": "#Q a\nAnswer: 1\n", "D/b.md": "#Q b\nAnswer: 2\n"}
    )
    run_build(vault, tmp_path / "dist")
    (vault / "D/b.md").unlink()
    report = run_build(vault, tmp_path / "dist")
    assert report.changes.removed == ("D/b.md:1 b",) and report.moved == ()


def test_a_changed_picture_rebuilds_its_folder_only(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {
            "A/a.md": "#Q pic?\nAnswer: ![[p.png]]\n",
            "A/p.png": png(),
            "B/b.md": "#Q z\nAnswer: w\n",
        },
    )
    out = tmp_path / "dist"
    run_build(vault, out)
    assert run_build(vault, out).written == ()
    (vault / "A/p.png").write_bytes(png(8, 6))
    assert run_build(vault, out).written == ("A.apkg",)


def test_a_missing_picture_added_later_is_picked_up(tmp_path):
    vault = write_vault(tmp_path / "v", {"A/a.md": "#Q pic?\nAnswer: ![[late.png]]\n"})
    out = tmp_path / "dist"
    assert len(run_build(vault, out).diagnostics) == 1
    (vault / "A/late.png").write_bytes(png())
    report = run_build(vault, out)
    assert report.written == ("A.apkg",) and report.diagnostics == ()
    col = ankiutil.load(tmp_path, out / "A.apkg")
    assert (
        ankiutil.media_problems(col) == ([], [])
        and "<img" in ankiutil.notes(col)[0].fields["Answer"]
    )


def test_a_damaged_render_cache_is_rendered_again(tmp_path):
    import zlib

    vault = write_vault(
        tmp_path / "v", {"D/a.md": "#Q one\nAnswer: same\n", "D/b.md": "#Q b\nAnswer: 0\n"}
    )
    out = tmp_path / "dist"
    run_build(vault, out)
    [cache] = (out / ".ankigen").glob("rendered-*")
    damages = (cache.read_bytes()[:-3], b"not zlib", zlib.compress(b"\0" * 1000))
    for round_, damaged in enumerate(damages, start=1):
        cache.write_bytes(damaged)
        (vault / "D/b.md").write_text(f"#Q b\nAnswer: {round_}\n")  # the folder is rebuilt
        run_build(vault, out)
        (tmp_path / f"c{round_}").mkdir()
        notes = ankiutil.notes(ankiutil.load(tmp_path / f"c{round_}", out / "D.apkg"))
        assert [n.fields["Answer"] for n in notes] == ["<p>same</p>\n", f"<p>{round_}</p>\n"]


def test_parallel_build_of_uneven_folders_writes_what_a_serial_build_writes(tmp_path):
    # Folders of very different sizes, one of them several batches of notes long (the workers
    # render a folder in batches of _BATCH_NOTES): the packages, the render caches and the
    # report must not depend on how the notes were handed out, cold or rebuilt.
    from ankigen.render_stage import _BATCH_NOTES

    sizes = {"A": 3, "Big": 2 * _BATCH_NOTES + 7, "C": 1, "D": 12, "E": 25, "F": 2}
    files = {
        f"{folder}/n{i:03}.md": f"#Question {folder} {i}?\nAnswer: **{i}** and `x{i}`\n"
        for folder, count in sizes.items()
        for i in range(count)
    }
    # A warning in the first batch and in the last one: each is reported once, in order.
    files["Big/n001.md"] = "#Question no answer here\n"
    files[f"Big/n{2 * _BATCH_NOTES + 1:03}.md"] = "#Question none either\n"
    vault = write_vault(tmp_path / "v", files)

    def outputs_of(out):
        return {
            p.name: p.read_bytes()
            for p in sorted([*out.glob("*.apkg"), *out.glob(".ankigen/rendered-*")])
        }

    for edit in ("", "edited"):
        if edit:  # one note of the big folder's middle batch changes: the rest is reused
            (vault / f"Big/n{_BATCH_NOTES + 3:03}.md").write_text(
                "#Question edited?\nAnswer: new\n"
            )
        reports, outputs = [], []
        for processes in (1, 2, 3):
            out = tmp_path / f"out{processes}"
            reports.append(run_build(vault, out, processes=processes, lock=False))
            outputs.append(outputs_of(out))
        assert len([name for name in outputs[0] if name.endswith(".apkg")]) == len(sizes)
        assert outputs[0] == outputs[1] == outputs[2]
        assert reports[0].written == reports[1].written == reports[2].written
        assert reports[0].diagnostics == reports[1].diagnostics == reports[2].diagnostics
        assert [d.path for d in reports[0].diagnostics] == [
            "Big/n001.md",
            f"Big/n{2 * _BATCH_NOTES + 1:03}.md",
        ]
        assert reports[0].cards == reports[2].cards == sum(sizes.values()) - 2
