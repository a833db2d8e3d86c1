"""A picture ankigen encodes or recompresses is named by its input and how it was fitted, not by
its bytes: zlib-ng, zlib and Pillow write other (equally valid) bytes on other CPUs and versions,
and a name from those bytes would change the card's fields, so its mod, on every machine that
builds the vault (a CI runner of another kind, a laptop)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import types
import zipfile
import zlib
from pathlib import Path

import pytest
from test_picture_packages import pictures

from ankigen import images
from ankigen.cli import main


def other_machine_deflate() -> types.ModuleType:
    """zlib as another machine's deflate: the same format, other bytes (another level)."""
    shim = types.ModuleType("other_deflate")
    for name in ("decompressobj", "crc32", "error", "decompress"):
        setattr(shim, name, getattr(zlib, name))
    shim.compress = lambda data, level=-1: zlib.compress(data, 9 if level != 9 else 1)  # type: ignore[attr-defined]
    return shim


def package_view(out: Path) -> tuple[dict[str, str], dict[str, bytes], list[str]]:
    """(media number → name, name → bytes, every note's fields) of the one package in `out`."""
    (package,) = out.glob("*.apkg")
    with zipfile.ZipFile(package) as archive:
        names = json.loads(archive.read("media"))
        data = {name: archive.read(number) for number, name in names.items()}
        (out / "col.anki2").write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(out / "col.anki2") as db:
        fields = sorted(row[0] for row in db.execute("select flds from notes"))
    return names, data, fields


def test_a_build_on_another_machine_names_every_picture_alike_and_changes_no_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vault = tmp_path / "vault"
    (vault / "Screens").mkdir(parents=True)
    cards = []
    for index, (name, data) in enumerate(pictures().items()):
        (vault / name).write_bytes(data)
        cards.append(f"#Question What is picture {index}?\nAnswer:\n![[{name}]]\n")
    (vault / "Screens" / "Pictures.md").write_text("# Pictures\n\n" + "\n".join(cards))

    def build(out: str) -> str:
        cache = str(tmp_path / f"{out}-cache")
        assert main([str(vault), "-o", str(tmp_path / out), "--cache-dir", cache, "--offline"]) == 0
        return capsys.readouterr().out

    build("here")
    lock = (vault / "ankigen.lock").read_bytes()
    monkeypatch.setattr(images, "_deflate", other_machine_deflate())
    summary = build("there")  # a cold cache, as on a fresh CI runner of another kind

    here, there = package_view(tmp_path / "here"), package_view(tmp_path / "there")
    assert sorted(here[1]) == sorted(there[1])  # the same names
    assert here[2] == there[2]  # the same fields: no card changed
    assert (vault / "ankigen.lock").read_bytes() == lock, summary
    assert "no card changed" in summary
    recompressed = [name for name in here[1] if here[1][name] != there[1][name]]
    assert len(recompressed) >= 3, "the test must see other bytes for encoded pictures"
    for name, data in here[1].items():  # a picture kept as it was is named by its bytes
        if name not in recompressed:
            assert name == f"ankigen-{hashlib.sha256(data).hexdigest()[:16]}.{name[-3:]}"
