"""The picture cache: stale copies are announced, the size is bounded (least recently used
first), and `ankigen cache info|clear` show and empty it; through the real CLI and a real
HTTP server on 127.0.0.1 (issue 7)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from conftest import write_vault
from imageserver import ImageServer, _Handler, image_server_fixture, png_bytes  # noqa: F401

from ankigen.cli import main
from ankigen.fetch import CACHE_LAYOUT, DiskCache, cache_info, prune_cache


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_stale_cached_picture_is_used_with_a_note_naming_its_date(
    tmp_path, capsys, image_server: ImageServer
):
    asked = []

    def once_then_down(handler: _Handler) -> None:
        asked.append(1)
        if len(asked) == 1:  # no-cache: the next build asks again
            headers = {"Content-Type": "image/png", "Cache-Control": "no-cache"}
            handler.answer(200, image_server.good_png, headers)
        else:
            handler.answer(503, b"down for maintenance")

    image_server.routes["/diagram.png"] = once_then_down
    url = image_server.url("/diagram.png")
    vault = write_vault(tmp_path / "v", {"A/a.md": f"#Q Shape?\nAnswer:\n\n![diagram]({url})\n"})
    common = [str(vault), "-o", str(tmp_path / "dist"), "--cache-dir", str(tmp_path / "c")]
    assert run(capsys, *common, "--no-lock")[0] == 0
    code, out, err = run(capsys, *common, "--no-lock", "--force", "--strict")
    assert code == 0  # a note is not a warning, even with --strict
    [line] = err.splitlines()
    match = re.fullmatch(
        rf"A/a\.md:4: note: picture {re.escape(url)}: HTTP 503 Service Unavailable; "
        r"using the copy cached on (\d{4}-\d\d-\d\d \d\d:\d\d) \[AG402\]",
        line,
    )
    assert match, line
    assert match.group(1)[:10] in {
        time.strftime("%Y-%m-%d", time.localtime(t)) for t in (time.time() - 120, time.time())
    }
    assert "0 warnings" in out
    assert len(asked) > 1  # the server was really asked again


def blob(cache: DiskCache, size: int, fill: int, mtime: float) -> Path:
    sha256 = cache.write_blob(bytes([fill]) * size)
    path = cache.blobs / sha256
    os.utime(path, (mtime, mtime))
    return path


def test_pruning_removes_the_least_recently_used_files_first(tmp_path):
    cache = DiskCache(tmp_path)
    now = time.time()
    paths = [blob(cache, 1000, n, now - 1000 + n) for n in range(5)]  # paths[0] the oldest
    assert cache.read_blob(paths[0].name) is not None  # used now: the most recent
    freed = prune_cache(tmp_path, 3000)
    assert freed == 2000
    assert [p.exists() for p in paths] == [True, False, False, True, True]
    assert cache_info(tmp_path).size == 3000


def test_pruning_never_touches_files_outside_the_cache_layout(tmp_path):
    (tmp_path / "mine.txt").write_text("not the cache's")
    (tmp_path / CACHE_LAYOUT / "blobs").mkdir(parents=True)
    (tmp_path / CACHE_LAYOUT / "blobs" / "sub").mkdir()
    (tmp_path / CACHE_LAYOUT / "blobs" / "sub" / "deep").write_text("x" * 100)
    os.symlink(tmp_path / "mine.txt", tmp_path / CACHE_LAYOUT / "blobs" / "link")
    assert prune_cache(tmp_path, 0) == 0
    assert (tmp_path / "mine.txt").read_text() == "not the cache's"
    assert (tmp_path / CACHE_LAYOUT / "blobs" / "sub" / "deep").exists()


def test_a_build_keeps_the_cache_under_its_limit_and_the_cache_command_shows_and_empties_it(
    tmp_path, capsys, image_server: ImageServer
):
    for n in range(6):
        image_server.routes[f"/p{n}.png"] = _picture(png_bytes((60 + 40 * n, 50)))
    answer = "\n".join(f"![p{n}]({image_server.url(f'/p{n}.png')})" for n in range(6))
    vault = write_vault(tmp_path / "v", {"A/a.md": f"#Q Pictures?\nAnswer:\n{answer}\n"})
    cache = tmp_path / "c"
    (cache).mkdir()
    (cache / "notes.txt").write_text("the user's own file")
    common = [str(vault), "-o", str(tmp_path / "dist"), "--cache-dir", str(cache), "--no-lock"]

    assert run(capsys, *common)[0] == 0
    full = cache_info(cache)
    assert full.urls == 6 and full.size > 2048

    assert run(capsys, *common, "--force", "--cache-max-size", "2k")[0] == 0
    assert cache_info(cache).size <= 2048

    code, out, _ = run(capsys, "cache", "info", "--cache-dir", str(cache))
    assert code == 0
    assert out.splitlines()[0] == f"cache: {cache / CACHE_LAYOUT}"
    assert re.match(
        r"size: \d+\.\d MB in \d+ files \(\d+ downloaded pictures?\)", out.splitlines()[1]
    )

    code, out, _ = run(capsys, "cache", "clear", "--cache-dir", str(cache))
    assert code == 0 and "emptied" in out
    assert cache_info(cache).files == 0
    assert not (cache / CACHE_LAYOUT).exists()
    assert (cache / "notes.txt").read_text() == "the user's own file"


def test_cache_options_are_checked(tmp_path, capsys):
    vault = write_vault(tmp_path / "v", {"A/a.md": "#Q x\nAnswer: y\n"})
    for size in ("lots", "-5M", "nan", "1e400G"):
        code, _, err = run(
            capsys, str(vault), "-o", str(tmp_path / "d"), f"--cache-max-size={size}"
        )
        assert code == 2 and "not a size" in err
    assert run(capsys, "cache", "wipe")[0] == 2


def _picture(body: bytes):
    def handle(handler: _Handler) -> None:
        handler.answer(200, body, {"Content-Type": "image/png"})

    return handle


def test_a_build_that_only_reads_the_cache_does_not_scan_it(tmp_path, capsys, monkeypatch):
    import ankigen.fetch

    scans: list[int] = []
    real_prune = ankigen.fetch.prune_cache

    def counted(root: Path, max_bytes: int) -> int:
        scans.append(max_bytes)
        return real_prune(root, max_bytes)

    monkeypatch.setattr(ankigen.fetch, "prune_cache", counted)
    pictures = {f"attachments/p{n}.png": png_bytes((40 + 10 * n, 30)) for n in range(4)}
    note = "".join(f"#Q Picture {n}?\nAnswer:\n![[p{n}.png]]\n\n" for n in range(4))
    vault = write_vault(tmp_path / "v", {"A/a.md": note, **pictures})
    common = [str(vault), "-o", str(tmp_path / "dist"), "--cache-dir", str(tmp_path / "c")]
    common.append("--no-lock")

    assert run(capsys, *common)[0] == 0  # fitted and written: pruned
    assert len(scans) == 1
    (vault / "A" / "a.md").write_text(note + "#Q One more?\nAnswer: yes\n")
    assert run(capsys, *common)[0] == 0  # the folder again, every picture from the cache
    assert run(capsys, *common, "--force")[0] == 0
    assert len(scans) == 1
    assert run(capsys, *common, "--force", "--cache-max-size", "1M")[0] == 0  # a lower limit
    assert scans[1:] == [1024 * 1024]
    assert run(capsys, *common, "--force", "--cache-max-size", "1M")[0] == 0
    assert len(scans) == 2
    (tmp_path / "v" / "attachments" / "new.png").write_bytes(png_bytes((90, 20)))
    (vault / "A" / "a.md").write_text(note + "#Q New?\nAnswer:\n![[new.png]]\n")
    assert run(capsys, *common, "--cache-max-size", "1M")[0] == 0  # a new fit: pruned again
    assert len(scans) == 3
