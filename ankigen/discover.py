"""Find notes: walk the vault once, group notes by folder, list every attachment."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import unicodedata
from pathlib import Path

from .model import Diagnostic, Folder, NoteFile, Vault

LOCK_FILE = "ankigen.lock"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def discover_vault(root: Path, exclude: tuple[str, ...] = ()) -> tuple[Vault, list[Diagnostic]]:
    """Walk `root`: notes grouped by folder (sorted), attachments, Obsidian settings."""
    root = root.resolve()
    diagnostics: list[Diagnostic] = []
    settings = root / ".obsidian"
    skipped = {f for f in (_templates_folder(settings), _templater_folder(settings)) if f}
    notes_by_folder: dict[str, list[NoteFile]] = {}
    attachments: list[str] = []

    def excluded(rel: str) -> bool:
        return any(fnmatch.fnmatch(rel, pattern) for pattern in exclude)

    visited: set[Path] = set()

    def walk(directory: Path, rel_dir: str) -> None:
        real = directory.resolve()
        if real in visited:  # a symbolic link back to a folder already walked
            return
        visited.add(real)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as error:
            diagnostics.append(Diagnostic(rel_dir, 0, "warning", f"cannot read folder: {error}"))
            return
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if entry.name.startswith(".") or excluded(rel):
                continue  # .obsidian, .trash, .git and every hidden folder or file
            if entry.is_symlink() and not _inside(Path(entry.path), root):
                diagnostics.append(
                    Diagnostic(rel, 0, "warning", "skipped: symbolic link points outside the vault")
                )
                continue
            if entry.is_dir():
                if rel not in skipped:
                    walk(Path(entry.path), rel)
            elif entry.name.lower().endswith(".md"):
                notes_by_folder.setdefault(rel_dir, []).append(NoteFile(rel, Path(entry.path)))
            elif rel not in (LOCK_FILE, "ankigen.adopted"):  # ankigen's, beside the notes
                attachments.append(rel)

    walk(root, "")
    folders = _folders(root.name, notes_by_folder)
    vault = Vault(
        root=root,
        name=root.name,
        folders=folders,
        attachments=tuple(sorted(attachments)),
        attachment_folder=_attachment_folder(settings),
    )
    return vault, diagnostics


def is_excluded(rel: str, exclude: tuple[str, ...]) -> bool:
    """Whether discovery skips `rel` for `exclude`: the path or one of its folders matches."""
    parts = rel.split("/")
    return any(
        fnmatch.fnmatch("/".join(parts[:n]), pattern)
        for n in range(1, len(parts) + 1)
        for pattern in exclude
    )


def _folders(vault_name: str, notes_by_folder: dict[str, list[NoteFile]]) -> tuple[Folder, ...]:
    folders = []
    used: set[str] = set()
    for rel in sorted(notes_by_folder):
        parts = rel.split("/") if rel else [vault_name]
        package = package_name(parts)
        if package.lower() in used:  # "A-B/" and "A/B/" would both be "A-B.apkg"
            digest = hashlib.sha1(rel.encode()).hexdigest()[:6]
            package = f"{package[: -len('.apkg')]}-{digest}.apkg"
        used.add(package.lower())
        folders.append(Folder(rel, "::".join(parts), package, tuple(notes_by_folder[rel])))
    return tuple(folders)


def package_name(parts: list[str]) -> str:
    """A flat, portable file name for a folder path: ["AWS", "Compute"] → "AWS-Compute.apkg"."""
    ascii_parts = (
        unicodedata.normalize("NFKD", part).encode("ascii", "ignore").decode() for part in parts
    )
    name = "-".join(_UNSAFE.sub("_", part).strip("._-") or "deck" for part in ascii_parts)
    return f"{name}.apkg"


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # RuntimeError: a symbolic-link loop (Python < 3.13)
        return False


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _clean_folder(value: object) -> str:
    if not isinstance(value, str):
        return ""
    return value.strip().strip("/").removeprefix("./")


def _templates_folder(settings: Path) -> str:
    """Obsidian's core Templates plugin keeps its folder in .obsidian/templates.json."""
    return _clean_folder(_read_json(settings / "templates.json").get("folder"))


def _templater_folder(settings: Path) -> str:
    data = _read_json(settings / "plugins" / "templater-obsidian" / "data.json")
    return _clean_folder(data.get("templates_folder"))


def _attachment_folder(settings: Path) -> str:
    # "/" means the vault root and "./x" means relative to the note; only a fixed folder helps.
    folder = _read_json(settings / "app.json").get("attachmentFolderPath")
    if isinstance(folder, str) and folder.startswith("./"):
        return ""
    return _clean_folder(folder)
