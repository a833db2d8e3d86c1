"""Find notes: walk the vault once, group notes by folder, list every attachment."""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import obsidian
from .identity.lockfile import LOCK_FILENAME as LOCK_FILE  # build and adopt name it from here
from .identity.lockfile import recorded_vault_name, vault_name_from_entries
from .records import Diagnostic, Folder, NoteFile, Vault

_MAX_NAME = 200  # characters of a package name before ".apkg"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Every name package_name() makes; the only files ankigen ever deletes (see is_package).
PACKAGE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,250}\.apkg")


def discover_vault(
    root: Path, exclude: tuple[str, ...] = (), name: str | None = None
) -> tuple[Vault, list[Diagnostic]]:
    """Walk `root`: notes grouped by folder (sorted), attachments, Obsidian settings.

    `name` is the vault's name (its root deck, its obsidian:// links); by default the one its
    lock recorded, else the folder's name (see vault_name).

    Only regular files are listed (a named pipe or device would block or never end), and a
    symbolic link is followed only when it leads to a file, or to a folder outside the vault
    (a folder inside the vault is walked where it is, so its notes keep their own deck)."""
    root = root.resolve()
    diagnostics: list[Diagnostic] = []
    settings = _Settings(root / ".obsidian", diagnostics)
    skipped = {f for f in (settings.templates_folder(), settings.templater_folder()) if f}
    walk = _Walk(root, exclude, skipped, diagnostics)
    walk.folder(root, "")
    name = name or vault_name(root)
    folders = _folders(name, walk.notes_by_folder)
    vault = Vault(
        root=root,
        name=name,
        folders=folders,
        attachments=tuple(sorted(walk.attachments)),
        attachment_folder=settings.attachment_folder(),
    )
    return vault, diagnostics


@dataclass
class _Walk:
    """One walk of the vault: the notes by folder and the attachments it found."""

    root: Path
    exclude: tuple[str, ...]
    skipped: set[str]  # folders not walked (templates)
    diagnostics: list[Diagnostic]
    notes_by_folder: dict[str, list[NoteFile]] = field(default_factory=dict)
    attachments: list[str] = field(default_factory=list)
    visited: set[tuple[int, int]] = field(default_factory=set)

    def excluded(self, rel: str) -> bool:
        return any(fnmatch.fnmatch(rel, pattern) for pattern in self.exclude)

    def folder(self, directory: Path, rel_dir: str) -> None:
        try:
            info = directory.stat()
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as error:
            message = f"cannot read folder: {error}"
            self.diagnostics.append(Diagnostic(rel_dir, 0, "warning", message))
            return
        if (info.st_dev, info.st_ino) in self.visited:  # a link back to a folder already walked
            return
        self.visited.add((info.st_dev, info.st_ino))
        for entry in entries:
            subfolder = self.entry(entry, rel_dir)
            if subfolder:
                self.folder(Path(entry.path), subfolder)

    def entry(self, entry: os.DirEntry[str], rel_dir: str) -> str:
        """Take in one entry of a folder; the vault path of a folder to walk, else ""."""
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        if entry.name.startswith(".") or self.excluded(rel):
            return ""  # .obsidian, .trash, .git and every hidden folder or file
        if not _utf8(rel):
            message = "skipped: its name is not valid UTF-8"
            self.diagnostics.append(Diagnostic(rel, 0, "warning", message))
            return ""
        kind, problem = _kind(entry, self.root)
        if problem:
            self.diagnostics.append(Diagnostic(rel, 0, "warning", f"skipped: {problem}"))
        if kind == "folder":
            return "" if rel in self.skipped else rel
        if kind and entry.name.lower().endswith(".md"):
            self.notes_by_folder.setdefault(rel_dir, []).append(NoteFile(rel, Path(entry.path)))
        elif kind and rel not in (LOCK_FILE, "ankigen.adopted"):  # ankigen's, beside the notes
            self.attachments.append(rel)
        return ""


def vault_name(root: Path, chosen: str = "", *, lock: bool = True) -> str:
    """The vault's name: `chosen` (--vault-name), else the one its lock recorded at the first
    build, else its folder's name. Never taken again from the folder once recorded, so a clone
    under another folder name (a CI checkout) gives the same decks and links."""
    if chosen or not lock:
        return chosen or root.resolve().name
    return recorded_vault_name(root) or vault_name_from_entries(root) or root.resolve().name


def is_excluded(rel: str, exclude: tuple[str, ...]) -> bool:
    """Whether discovery skips `rel` for `exclude`: the path or one of its folders matches."""
    parts = rel.split("/")
    return any(
        fnmatch.fnmatch("/".join(parts[:n]), pattern)
        for n in range(1, len(parts) + 1)
        for pattern in exclude
    )


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.scandir keeps undecodable bytes as lone surrogates
        return False
    return True


def _kind(entry: os.DirEntry[str], root: Path) -> tuple[str, str]:
    """("folder" | "file", "") for what discovery reads, else ("", why it is skipped or "")."""
    try:
        info = os.stat(entry.path)  # follows links; a link loop raises ELOOP
    except OSError as error:
        if entry.is_symlink():
            if error.errno == errno.ELOOP:
                return "", "symbolic link loop"
            return "", "broken symbolic link"
        return "", f"cannot read it ({error.strerror or type(error).__name__})"
    if entry.is_symlink():
        if not _inside(Path(entry.path), root):
            return "", "symbolic link points outside the vault"
        if stat.S_ISDIR(info.st_mode):
            return "", ""  # a folder inside the vault: its notes are read where they are
    if stat.S_ISDIR(info.st_mode):
        return "folder", ""
    if stat.S_ISREG(info.st_mode):
        return "file", ""
    return "", "not a regular file (a named pipe, device or socket)"


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
    if len(name) > _MAX_NAME:  # file systems allow 255 bytes per name
        digest = hashlib.sha1("/".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:8]
        name = f"{name[: _MAX_NAME - 9]}-{digest}"
    return f"{name}.apkg"


def is_package(out_dir: Path, name: str) -> bool:
    """True when out_dir/name may be deleted as a package ankigen wrote: a package name, and a
    regular file (not a link) that is a zip holding an Anki collection."""
    if not PACKAGE_NAME.fullmatch(name):
        return False
    path = out_dir / name
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return False
        with zipfile.ZipFile(path) as archive:
            return "collection.anki2" in archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # RuntimeError: a symbolic-link loop (Python < 3.13)
        return False


class _Settings:
    """The few Obsidian settings ankigen follows; a file that does not parse is a warning."""

    def __init__(self, folder: Path, diagnostics: list[Diagnostic]) -> None:
        self.folder = folder
        self.diagnostics = diagnostics

    def read(self, *parts: str) -> dict:
        path = self.folder.joinpath(*parts)
        rel = "/".join((".obsidian", *parts))
        try:
            return obsidian.read_settings(path)
        except FileNotFoundError:
            return {}
        except obsidian.SettingsError as error:
            self.diagnostics.append(Diagnostic(rel, 0, "warning", f"setting ignored: {error}"))
            return {}

    def templates_folder(self) -> str:
        """Obsidian's core Templates plugin keeps its folder in .obsidian/templates.json."""
        return _clean_folder(self.read("templates.json").get("folder"))

    def templater_folder(self) -> str:
        data = self.read("plugins", "templater-obsidian", "data.json")
        return _clean_folder(data.get("templates_folder"))

    def attachment_folder(self) -> str:
        """ "" (vault root), a folder ("Files"), or "./x" (the folder x next to each note)."""
        folder = self.read("app.json").get("attachmentFolderPath")
        if isinstance(folder, str) and folder.strip().startswith("./"):
            relative = _clean_folder(folder)
            return f"./{relative}" if relative else "./"
        return _clean_folder(folder)


def _clean_folder(value: object) -> str:
    if not isinstance(value, str):
        return ""
    return value.strip().strip("/").removeprefix("./")
