"""What the last build saw, kept in the output folder, so unchanged folders are skipped."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeGuard

from . import atomic
from .discover import PACKAGE_NAME
from .records import SEVERITIES, Diagnostic, Folder, Severity, Vault

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
    diagnostics: list[tuple[str, int, Severity, str]] = field(default_factory=list)
    retry: bool = False  # something failed that may pass next time (the network): build again
    # Pictures not included that stay so until something changes: "name:<file name>" until a
    # file of that name (case-folded) is in the vault, "url:<URL>" until the picture cache
    # holds that URL, "offline:<URL>" until a build is online or the cache holds it. A folder
    # with only these is not rebuilt: it has nothing new to try.
    missing: list[str] = field(default_factory=list)
    embeds: dict[str, FileStamp] = field(default_factory=dict)  # other notes the cards show


@dataclass
class BuildState:
    key: str = ""  # options and ankigen version the folders were built with
    folders: dict[str, FolderRecord] = field(default_factory=dict)
    vault: str = ""  # the vault these folders belong to (its resolved path)
    problems: list[str] = field(default_factory=list)  # what was wrong with the file read

    @classmethod
    def load(cls, out_dir: Path, vault: Path | None = None) -> BuildState:
        """The state of the last build into `out_dir`; what does not check out is dropped.

        The file lives in a folder anyone may write to, so every record is checked: a record
        that does not check out is dropped (its folder is built again) and said in `problems`.
        With `vault`, the state of another vault is not used at all (its packages are left
        alone, see build)."""
        path = out_dir / STATE_FILE
        if not _own_folder(out_dir):
            return cls(problems=[f"{out_dir / STATE_DIR} is not a folder (a link?); not used"])
        try:
            data = json.loads(atomic.read_regular(path, MAX_STATE_BYTES).decode("utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, RecursionError) as error:
            return cls(problems=[f"{path} cannot be read ({_reason(error)}); building everything"])
        if not isinstance(data, dict):
            return cls(problems=[f"{path} is not ankigen's state; building everything"])
        if data.get("format") != _FORMAT:
            return cls()  # another version's state: build everything
        key, built_from = data.get("key"), data.get("vault", "")
        folders = data.get("folders")
        if not isinstance(key, str) or not isinstance(built_from, str):
            return cls(problems=[f"{path} is not ankigen's state; building everything"])
        if vault is not None and built_from != str(vault):
            return cls(vault=built_from)
        state = cls(key=key, vault=built_from)
        bad = 0
        for rel, raw in folders.items() if isinstance(folders, dict) else ():
            record = _record_from_json(raw)
            if record is None or not isinstance(rel, str):
                bad += 1
            else:
                state.folders[rel] = record
        if bad or not isinstance(folders, dict):
            state.problems.append(
                f"{path}: {bad or 'all'} record{'s' * (bad != 1)} not valid, dropped; "
                "their folders are built again"
            )
        return state

    def save(self, out_dir: Path) -> None:
        data = {
            "format": _FORMAT,
            "key": self.key,
            "vault": self.vault,
            # fields() not asdict(): the same JSON without deep copies (a tenth of the time)
            "folders": {
                rel: {f.name: getattr(r, f.name) for f in fields(r)}
                for rel, r in sorted(self.folders.items())
            },
        }
        # One line: json's C encoder (an indent takes the Python one, ten times slower).
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        path = out_dir / STATE_FILE
        if not _own_folder(out_dir):
            raise NotADirectoryError(f"{out_dir / STATE_DIR} is not a folder (a link?)")
        with contextlib.suppress(OSError, ValueError):
            if atomic.read_regular(path, MAX_STATE_BYTES).decode("utf-8") == text:
                return
        atomic.write_text(path, text)

    def is_fresh(
        self,
        folder: Folder,
        vault: Vault,
        out_dir: Path,
        now_there: Callable[[str], bool] = lambda missing: True,
    ) -> bool:
        """True when nothing the folder's package was built from has changed; `now_there`
        tells whether a missing picture (see FolderRecord.missing) can be had now."""
        record = self.folders.get(folder.rel)
        if record is None or record.retry:
            return False
        if any(now_there(missing) for missing in record.missing):
            return False
        if record.package != (folder.package if record.cards + record.use_cases else ""):
            return False
        if record.package and not (out_dir / record.package).is_file():
            return False
        if set(record.notes) != {note.rel for note in folder.notes}:
            return False
        root = os.fspath(vault.root)  # plain strings: a Path per picture costs more than its stat
        return all(
            _unchanged(os.path.join(root, rel), stamp)
            for rel, stamp in (
                *record.notes.items(),
                *record.pictures.items(),
                *record.embeds.items(),
            )
        )

    @staticmethod
    def diagnostics_of(record: FolderRecord) -> list[Diagnostic]:
        return [Diagnostic(p, line, sev, msg) for p, line, sev, msg in record.diagnostics]


MAX_STATE_BYTES = 256 * 1024 * 1024
# "note" too: a stale picture's note is replayed like a warning
_SEVERITIES: dict[str, Severity] = {severity: severity for severity in SEVERITIES}


def _record_from_json(raw: object) -> FolderRecord | None:
    """A FolderRecord from its JSON form, or None when any part has the wrong type or range."""
    if not isinstance(raw, dict):
        return None
    package = raw.get("package")
    notes, pictures = _stamps(raw.get("notes")), _stamps(raw.get("pictures"))
    cards, use_cases = raw.get("cards"), raw.get("use_cases")
    diagnostics = raw.get("diagnostics")
    retry = raw.get("retry")
    missing = raw.get("missing", [])
    if not (isinstance(missing, list) and all(isinstance(m, str) for m in missing)):
        return None
    embeds = _stamps(raw.get("embeds", {}))
    if not (isinstance(package, str) and (package == "" or PACKAGE_NAME.fullmatch(package))):
        return None
    if notes is None or pictures is None or embeds is None or not isinstance(retry, bool):
        return None
    checked = _diagnostics_from_json(diagnostics)
    if not (_count(cards) and _count(use_cases) and checked is not None):
        return None
    record = FolderRecord(package, notes, pictures, cards, use_cases, checked, retry, missing)
    record.embeds = embeds
    return record


def _diagnostics_from_json(raw: object) -> list[tuple[str, int, Severity, str]] | None:
    """A record's diagnostics from their JSON form, or None when any has the wrong shape."""
    if not isinstance(raw, list):
        return None
    checked: list[tuple[str, int, Severity, str]] = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 4):
            return None
        where, line, raw_severity, message = item
        if not (isinstance(where, str) and _count(line) and isinstance(message, str)):
            return None
        severity = _SEVERITIES.get(raw_severity) if isinstance(raw_severity, str) else None
        if severity is None:
            return None
        checked.append((where, line, severity, message))
    return checked


def _count(value: object) -> TypeGuard[int]:
    return type(value) is int and 0 <= value < 2**53


def _stamps(raw: object) -> dict[str, FileStamp] | None:
    if not isinstance(raw, dict):
        return None
    stamps: dict[str, FileStamp] = {}
    for rel, value in raw.items():
        if not (isinstance(value, list) and len(value) == 3):
            return None
        size, mtime_ns, digest = value
        if not (_count(size) and type(mtime_ns) is int and abs(mtime_ns) < 2**63):
            return None
        if not (isinstance(digest, str) and len(digest) in (0, 64)):
            return None
        if not isinstance(rel, str) or rel.startswith("/") or ".." in rel.split("/"):
            return None
        stamps[rel] = (size, mtime_ns, digest)
    return stamps


def _reason(error: BaseException) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return "not valid JSON" if isinstance(error, ValueError) else type(error).__name__


def other_vault_message(out_dir: Path, other: str) -> str:
    """What happens when an output folder last served another vault."""
    return (
        f"{out_dir} was last built from another vault ({other}): its packages there are left "
        "as they are (one with the same name as a package of this vault is replaced), and "
        f"{out_dir} now follows this vault"
    )


def stamp(path: Path, data: bytes | None = None) -> FileStamp:
    """A file's size, mtime and content hash (reads the file unless `data` is given)."""
    info = path.stat()
    if data is None:
        data = atomic.read_regular(path)
    return (info.st_size, info.st_mtime_ns, hashlib.sha256(data).hexdigest())


def _unchanged(path: str, recorded: FileStamp) -> bool:
    """Same size and mtime, or (when touched) the same content."""
    try:
        info = os.stat(path)
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
        return hashlib.sha256(atomic.read_regular(Path(path))).hexdigest() == digest
    except OSError:
        return False


def load_rendered(out_dir: Path, folder_rel: str) -> tuple[dict[str, str], int]:
    """The folder's Markdown fragments and their HTML from its last build ({} if none), and
    how many records were dropped because they did not check out.

    Only string pairs whose HTML the sanitiser leaves unchanged are kept: the output folder is
    not trusted, and a crafted record must not put markup into a card."""
    if not _own_folder(out_dir):
        return {}, 0
    try:
        raw = atomic.read_regular(_rendered_path(out_dir, folder_rel), MAX_STATE_BYTES)
        data = json.loads(_unpack(raw).decode("utf-8"))
    except FileNotFoundError:
        return {}, 0
    except (OSError, ValueError, RecursionError, zlib.error):
        return {}, 1
    if not isinstance(data, dict):
        return {}, 1
    from .render import sanitise_html  # only when there is a cache to check

    kept = {
        markdown: html
        for markdown, html in data.items()
        if type(markdown) is str and type(html) is str and sanitise_html(html) == html
    }
    return kept, len(data) - len(kept)


def save_rendered(out_dir: Path, folder_rel: str, rendered: dict[str, str]) -> None:
    # A cache: losing it (a crash, a full disk, a folder in its place) costs time only.
    if not _own_folder(out_dir):
        return
    with contextlib.suppress(OSError):
        path = _rendered_path(out_dir, folder_rel)
        text = json.dumps(rendered, ensure_ascii=False, separators=(",", ":"))
        atomic.write_bytes(path, _pack(text.encode("utf-8")), durable=False)


def forget_rendered(out_dir: Path, keep: set[str]) -> None:
    """Remove the rendered fragments of folders not in `keep`."""
    if not _own_folder(out_dir):
        return
    wanted = {_rendered_path(out_dir, rel).name for rel in keep}
    for path in (out_dir / STATE_DIR).glob("rendered-*"):
        if path.name not in wanted:
            with contextlib.suppress(OSError):  # a folder of that name: not ours to remove
                path.unlink(missing_ok=True)


def _own_folder(out_dir: Path) -> bool:
    """True when OUT/.ankigen is absent or a real folder: a link there (to anywhere) is not
    followed, so state is never read from, written to or deleted in another folder."""
    try:
        return stat.S_ISDIR((out_dir / STATE_DIR).lstat().st_mode)
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _rendered_path(out_dir: Path, folder_rel: str) -> Path:
    # JSON, not marshal: marshal is faster but not safe on crafted bytes (5 bytes claiming a
    # tuple of 2**31 items take most of a minute), and this folder is not trusted.
    name = hashlib.sha1(folder_rel.encode()).hexdigest()[:16]
    return out_dir / STATE_DIR / f"rendered-{name}.json.z"


# The cache holds each fragment's Markdown and HTML: compressed, it is smaller than the packages
# it serves (about a sixth of its raw size), for a few ms per folder.
_LEVEL = 1  # 6 saves a fifth more for three times the time


def _pack(data: bytes) -> bytes:
    return zlib.compress(data, _LEVEL)


def _unpack(data: bytes) -> bytes:
    """The cache file's JSON; a file that claims more than MAX_STATE_BYTES is not ours."""
    inflate = zlib.decompressobj()
    raw = inflate.decompress(data, MAX_STATE_BYTES)
    if inflate.unconsumed_tail or not inflate.eof:
        raise ValueError("render cache truncated or too big")
    return raw
