"""Discovery: which notes, which folders, which decks and package names."""

from __future__ import annotations

import os

from conftest import write_vault

from ankigen.discover import discover_vault, package_name

NOTE = "#Question q\nAnswer: a\n"


def test_folders_decks_and_packages(tmp_path):
    root = write_vault(
        tmp_path / "My Vault",
        {
            "Root note.md": NOTE,
            "AWS/Compute/AMI.md": NOTE,
            "AWS/Compute/EC2.md": NOTE,
            "AWS/Storage/S3.MD": NOTE,
            "AWS/Storage/diagram.png": b"png",
            "Médecine/Cœur.md": NOTE,
        },
    )
    vault, diagnostics = discover_vault(root)
    assert diagnostics == []
    assert vault.name == "My Vault"
    assert [(f.rel, f.deck, f.package) for f in vault.folders] == [
        ("", "My Vault", "My_Vault.apkg"),
        ("AWS/Compute", "AWS::Compute", "AWS-Compute.apkg"),
        ("AWS/Storage", "AWS::Storage", "AWS-Storage.apkg"),
        ("Médecine", "Médecine", "Medecine.apkg"),
    ]
    assert [n.rel for n in vault.folders[1].notes] == ["AWS/Compute/AMI.md", "AWS/Compute/EC2.md"]
    assert vault.attachments == ("AWS/Storage/diagram.png",)


def test_hidden_trash_and_templates_folders_are_skipped(tmp_path):
    root = write_vault(
        tmp_path / "v",
        {
            ".obsidian/app.json": '{"attachmentFolderPath": "Files"}',
            ".obsidian/templates.json": '{"folder": "Templates/"}',
            ".trash/old.md": NOTE,
            ".hidden/x.md": NOTE,
            "Templates/Question.md": "#Question {{title}}\nAnswer: {{answer}}\n",
            "Notes/a.md": NOTE,
            "Files/pic.png": b"png",
            "ankigen.lock": "{}",
        },
    )
    vault, _ = discover_vault(root)
    assert [f.rel for f in vault.folders] == ["Notes"]
    assert vault.attachment_folder == "Files"
    assert vault.attachments == ("Files/pic.png",)  # the lock file is not a picture


def test_exclude_globs(tmp_path):
    root = write_vault(
        tmp_path / "v", {"Drafts/a.md": NOTE, "Keep/b.md": NOTE, "Keep/wip.md": NOTE}
    )
    vault, _ = discover_vault(root, exclude=("Drafts", "*/wip.md"))
    assert [n.rel for f in vault.folders for n in f.notes] == ["Keep/b.md"]


def test_colliding_package_names_get_distinct_files(tmp_path):
    root = write_vault(tmp_path / "v", {"A-B/x.md": NOTE, "A/B/y.md": NOTE})
    vault, _ = discover_vault(root)
    packages = [f.package for f in vault.folders]
    assert len(set(packages)) == 2
    assert all(p.startswith("A-B") and p.endswith(".apkg") for p in packages)


def test_symlink_out_of_vault_is_skipped_with_warning(tmp_path):
    outside = write_vault(tmp_path / "outside", {"secret.md": NOTE})
    root = write_vault(tmp_path / "v", {"in/a.md": NOTE})
    os.symlink(outside, root / "in" / "linked")
    os.symlink(root / "in", root / "loop")  # a link inside the vault: walked once
    vault, diagnostics = discover_vault(root)
    assert [n.rel for f in vault.folders for n in f.notes] == ["in/a.md"]
    assert [(d.path, d.severity) for d in diagnostics] == [("in/linked", "warning")]


def test_package_name_is_flat_and_safe():
    assert package_name(["AWS", "Compute"]) == "AWS-Compute.apkg"
    assert package_name(["a b", "c/d:e"]) == "a_b-c_d_e.apkg"
    assert package_name(["..", "日本"]) == "deck-deck.apkg"


def test_obsidian_settings_files_share_one_reader(tmp_path):
    """`.obsidian/app.json` and a plugin's data.json are read alike: a byte-order mark is
    allowed in both, and a broken file gives both the same reason."""
    from ankigen.syntax import load_syntax_settings

    bom = b"\xef\xbb\xbf"
    plugin = ".obsidian/plugins/obsidian-spaced-repetition/data.json"
    root = write_vault(
        tmp_path / "v",
        {
            "A/n.md": NOTE,
            ".obsidian/app.json": bom + b'{"attachmentFolderPath": "Files"}',
            plugin: bom + b'{"flashcardTags": ["#cards"]}',
        },
    )
    vault, problems = discover_vault(root)
    settings, plugin_problems = load_syntax_settings(root)
    assert (vault.attachment_folder, problems, plugin_problems) == ("Files", [], [])
    assert settings.plugins["obsidian-spaced-repetition"] == {"flashcardTags": ["#cards"]}
    for broken, reason in ((b"{", "not valid JSON"), (b"\xff\xfe{}", "not UTF-8 text")):
        (root / ".obsidian" / "app.json").write_bytes(broken)
        (root / plugin).write_bytes(broken)
        _, problems = discover_vault(root)
        _, plugin_problems = load_syntax_settings(root)
        assert [p.message for p in problems] == [f"setting ignored: {reason}"]
        assert [p.message.rsplit(": ", 1)[1] for p in plugin_problems] == [reason]
