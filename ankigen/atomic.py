"""File I/O at the edges: whole-file atomic writes, and reads of regular files only.

Every file ankigen writes (packages, state, render cache, lock, picture cache) goes through
`write_bytes`/`write_text`: a temporary file with a short name in the same folder (so a long
final name never makes the temporary one too long for the file system), flushed to disk, then
renamed over the destination. A crash leaves the old file or the new one, never half of one;
temporaries of processes that no longer run are removed by the next write in that folder.

Every file ankigen reads from the vault goes through `read_regular`: a named pipe, a device or
a socket is refused instead of blocking the build, and a symbolic-link loop is an OSError.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".ankigen-tmp-"  # + pid + "-" + 8 hex digits: 35 characters at most


class NotRegularFile(OSError):
    """The path is a named pipe, device, socket or folder, not a regular file."""


def write_bytes(path: Path, data: bytes, *, durable: bool = True, sweep: bool = True) -> None:
    """Write `data` to `path` atomically; on any error the old file stays as it was."""
    with writer(path, durable=durable, sweep=sweep) as out:
        out.write(data)


@contextlib.contextmanager
def writer(path: Path, *, durable: bool = True, sweep: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write `path` through; it replaces `path` only when the block ends
    without an exception. `durable` waits for the disk before the rename; `sweep=False` skips
    looking for stale temporaries (a caller writing many files into one folder does it once)."""
    folder = path.parent
    if sweep:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder)
    temporary = folder / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as out:
            yield out
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_text(path: Path, text: str, *, durable: bool = True) -> None:
    """`write_bytes` for UTF-8 text."""
    write_bytes(path, text.encode("utf-8"), durable=durable)


def remove_stale_temporaries(folder: Path) -> None:
    """Remove temporaries in `folder` whose writing process no longer runs."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        pid = entry.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another write of ours may be in progress in another thread
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # exists, belongs to someone else (or not a pid: leave it alone)
    return True


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def read_regular(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file (following symbolic links).

    Raises NotRegularFile for a pipe, device, socket or folder (opened without blocking, so a
    named pipe with no writer never hangs), OSError for a missing file or a link loop, and
    ValueError when the file is larger than `max_bytes`."""
    fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(f"not a regular file: {path}")
        if max_bytes is not None and info.st_size > max_bytes:
            raise ValueError(f"larger than {max_bytes} bytes")
        chunks = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise ValueError(f"larger than {max_bytes} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)
