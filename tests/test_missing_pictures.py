"""A folder with a picture that could not be included is built again only when there is
something new to try: the file appears or changes, the cache holds the picture, the build is
online again. Through the real build, a real HTTP server on 127.0.0.1 and Anki."""

from __future__ import annotations

from pathlib import Path

import ankiutil
from conftest import write_vault
from imageserver import (
    image_server_fixture,  # noqa: F401  (the image_server fixture)
    png_bytes,
)

from ankigen.build import BuildOptions, build
from ankigen.fetch import MediaOptions


def run(vault: Path, out: Path, *, offline: bool = True, force: bool = False):
    media = MediaOptions(cache_dir=out.parent / "cache", offline=offline)
    return build(BuildOptions(vault=vault, out_dir=out, media=media, force=force))


def package_stamp(out: Path) -> list[tuple[str, int]]:
    return sorted((p.name, p.stat().st_mtime_ns) for p in out.glob("*.apkg"))


def test_a_missing_local_picture_waits_for_a_file_of_its_name(tmp_path: Path) -> None:
    vault = write_vault(
        tmp_path / "v",
        {
            "Net/a.md": "#Question What does it show?\nAnswer: this\n![[Routing Diagram.png]]\n",
            "Other/b.md": "#Question Another?\nAnswer: yes\n",
        },
    )
    out = tmp_path / "out"
    first = run(vault, out)
    assert first.written == ("Net.apkg", "Other.apkg")
    assert any("Routing Diagram.png not included" in d.message for d in first.diagnostics)
    before = package_stamp(out)

    again = run(vault, out)
    assert again.written == ()  # nothing new to try: nothing rebuilt, nothing written
    assert package_stamp(out) == before
    assert any("Routing Diagram.png not included" in d.message for d in again.diagnostics)

    # An unrelated file changes nothing either.
    (vault / "attachments").mkdir()
    (vault / "attachments" / "unrelated.png").write_bytes(png_bytes())
    assert run(vault, out).written == ()

    # The file appears, in another folder and another case, as Obsidian would find it.
    (vault / "attachments" / "routing diagram.PNG").write_bytes(png_bytes(colour="red"))
    fixed = run(vault, out)
    assert fixed.written == ("Net.apkg",)
    assert not any("not included" in d.message for d in fixed.diagnostics)
    col = ankiutil.load(tmp_path, out / "Net.apkg")
    assert ankiutil.media_problems(col) == ([], [])
    assert "<img" in ankiutil.notes(col)[0].fields["Answer"]


def test_a_broken_local_picture_waits_for_its_file_to_change(tmp_path: Path) -> None:
    vault = write_vault(
        tmp_path / "v",
        {"a.md": "#Question Q?\nAnswer: A\n![[shot.png]]\n", "shot.png": b"\x89PNG broken"},
    )
    out = tmp_path / "out"
    assert run(vault, out).written
    assert run(vault, out).written == ()
    (vault / "shot.png").write_bytes(png_bytes())
    assert run(vault, out).written


def test_a_remote_picture_that_is_gone_is_not_asked_for_at_every_build(
    tmp_path: Path, image_server
) -> None:
    gone, page = image_server.url("/missing.png"), image_server.url("/page.png")
    vault = write_vault(
        tmp_path / "v", {"a.md": f"#Question Q?\nAnswer: ![x]({gone}) ![y]({page})\n"}
    )
    out = tmp_path / "out"
    assert run(vault, out, offline=False).written
    asked = len(image_server.log)
    again = run(vault, out, offline=False)
    assert again.written == ()
    assert len(image_server.log) == asked  # not asked again
    assert sum("not included" in d.message for d in again.diagnostics) == 2
    # --force tries everything again.
    assert run(vault, out, offline=False, force=True).written
    assert len(image_server.log) > asked


def test_a_picture_missed_offline_is_fetched_by_the_next_online_build(
    tmp_path: Path, image_server
) -> None:
    url = image_server.url("/good.png")
    vault = write_vault(tmp_path / "v", {"a.md": f"#Question Q?\nAnswer: ![d]({url})\n"})
    out = tmp_path / "out"
    assert run(vault, out, offline=True).written
    assert run(vault, out, offline=True).written == ()  # offline again: nothing new to try
    online = run(vault, out, offline=False)
    assert online.written
    assert not any("not included" in d.message for d in online.diagnostics)
    assert len(image_server.requests_for("/good.png")) == 1


def test_a_flaky_server_is_tried_again(tmp_path: Path, image_server) -> None:
    image_server.routes["/down.png"] = lambda handler: handler.answer(503, b"busy")
    url = image_server.url("/down.png")
    vault = write_vault(tmp_path / "v", {"a.md": f"#Question Q?\nAnswer: ![d]({url})\n"})
    out = tmp_path / "out"
    media = MediaOptions(cache_dir=tmp_path / "cache", retries=0)
    options = BuildOptions(vault=vault, out_dir=out, media=media)
    assert build(options).written
    assert build(options).written  # a server error may pass: the folder is built again
    assert len(image_server.requests_for("/down.png")) == 2
