"""What the last build saw, kept in the output folder, so unchanged folders are skipped."""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import os
import zlib
from dataclasses import dataclass, field, fields
from pathlib import Path

from .model import Diagnostic, Folder, Vault

STATE_DIR = ".ankigen"  # inside the output folder
STATE_FILE = f"{STATE_DIR}/state.json"
_FORMAT = 1

FileStamp = tuple[int, int, str]  # size, mtime in ns, sha256 of the content ("" if not taken)


@dataclass
class FolderRecord:
    """One folder's inputs and results at its last build."""

    package: str  # "" when the folder had no cards
    notes: dict[str, FileStamp]
    pictures: dict[str, FileStamp]
    cards: int
    use_cases: int
    diagnostics: list[tuple[str, int, str, str]] = field(default_factory=list)
    retry: bool = False  # a remote picture failed: try again next time


@dataclass
class BuildState:
    key: str = ""  # options and ankigen version the folders were built with
    folders: dict[str, FolderRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, out_dir: Path) -> BuildState:
        try:
            data = json.loads((out_dir / STATE_FILE).read_text(encoding="utf-8"))
            if data.get("format") != _FORMAT:
                return cls()
            folders = {
                rel: FolderRecord(
                    package=r["package"],
                    notes={k: tuple(v) for k, v in r["notes"].items()},
                    pictures={k: tuple(v) for k, v in r["pictures"].items()},
                    cards=r["cards"],
                    use_cases=r["use_cases"],
                    diagnostics=[tuple(d) for d in r["diagnostics"]],
                    retry=r["retry"],
                )
                for rel, r in data["folders"].items()
            }
            return cls(key=data["key"], folders=folders)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()  # no state, or not ours: build everything

    def save(self, out_dir: Path) -> None:
        data = {
            "format": _FORMAT,
            "key": self.key,
            # fields() not asdict(): the same JSON without deep copies (a tenth of the time)
            "folders": {
                rel: {f.name: getattr(r, f.name) for f in fields(r)}
                for rel, r in sorted(self.folders.items())
            },
        }
        text = json.dumps(data, indent=1, sort_keys=True)
        path = out_dir / STATE_FILE
        path.parent.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            if path.read_text(encoding="utf-8") == text:
                return
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)

    def is_fresh(self, folder: Folder, vault: Vault, out_dir: Path) -> bool:
        """True when nothing the folder's package was built from has changed."""
        record = self.folders.get(folder.rel)
        if record is None or record.retry:
            return False
        if record.package != (folder.package if record.cards + record.use_cases else ""):
            return False
        if record.package and not (out_dir / record.package).is_file():
            return False
        if set(record.notes) != {note.rel for note in folder.notes}:
            return False
        return all(
            _unchanged(vault.root / rel, stamp)
            for rel, stamp in (*record.notes.items(), *record.pictures.items())
        )

    @staticmethod
    def diagnostics_of(record: FolderRecord) -> list[Diagnostic]:
        return [Diagnostic(p, line, sev, msg) for p, line, sev, msg in record.diagnostics]  # type: ignore[arg-type]


def stamp(path: Path, data: bytes | None = None) -> FileStamp:
    """A file's size, mtime and content hash (reads the file unless `data` is given)."""
    info = path.stat()
    if data is None:
        data = path.read_bytes()
    return (info.st_size, info.st_mtime_ns, hashlib.sha256(data).hexdigest())


def _unchanged(path: Path, recorded: FileStamp) -> bool:
    """Same size and mtime, or (when touched) the same content."""
    try:
        info = path.stat()
    except OSError:
        return False
    size, mtime_ns, digest = recorded
    if info.st_size != size:
        return False
    if info.st_mtime_ns == mtime_ns:
        return True
    if not digest:
        return False
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == digest
    except OSError:
        return False


def load_rendered(out_dir: Path, folder_rel: str) -> dict[str, str]:
    """The folder's Markdown fragments and their HTML from its last build ({} if none)."""
    try:
        data = marshal.loads(_unpack(_rendered_path(out_dir, folder_rel).read_bytes()))
    except (OSError, ValueError, EOFError, TypeError, zlib.error):
        return {}
    return data if isinstance(data, dict) else {}


def save_rendered(out_dir: Path, folder_rel: str, rendered: dict[str, str]) -> None:
    path = _rendered_path(out_dir, folder_rel)
    path.parent.mkdir(exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(_pack(marshal.dumps(rendered)))
    os.replace(temporary, path)


def forget_rendered(out_dir: Path, keep: set[str]) -> None:
    """Remove the rendered fragments of folders not in `keep`."""
    wanted = {_rendered_path(out_dir, rel).name for rel in keep}
    for path in (out_dir / STATE_DIR).glob("rendered-*"):
        if path.name not in wanted:
            path.unlink(missing_ok=True)


def _rendered_path(out_dir: Path, folder_rel: str) -> Path:
    # marshal: the fastest safe format for a dict of strings; its format follows Python's
    # version, and a file that does not load is simply rendered again.
    name = hashlib.sha1(folder_rel.encode()).hexdigest()[:16]
    return out_dir / STATE_DIR / f"rendered-{name}.marshal.z"


# The cache holds each fragment's Markdown and HTML: compressed, it is smaller than the packages
# it serves (about a sixth of its raw size), for a few ms per folder.
_LEVEL = 1  # 6 saves a fifth more for three times the time
_MAX_UNPACKED = 1 << 30  # a cache file that claims more is not ours


def _pack(data: bytes) -> bytes:
    return zlib.compress(data, _LEVEL)


def _unpack(data: bytes) -> bytes:
    inflate = zlib.decompressobj()
    raw = inflate.decompress(data, _MAX_UNPACKED)
    if inflate.unconsumed_tail or not inflate.eof:
        raise ValueError("render cache truncated or too big")
    return raw
