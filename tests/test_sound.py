"""Audio and video: embeds and hand-written [sound:…] through the real CLI into a real Anki
collection (issues 7 and 8). A [sound:…] that reaches Anki always names a file in the package."""

from __future__ import annotations

import os
import re
from pathlib import Path

import ankiutil
import pytest
from conftest import write_vault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imageserver import ImageServer, Route
from test_media import field, html_of

from ankigen.cli import main
from ankigen.media import MediaOptions, resolve_media
from ankigen.records import Vault
from ankigen.render import render_markdown

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + bytes(512)
OGG = b"OggS\x00\x02" + bytes(300)
# Anki's own pattern for a sound tag (rslib, text.rs): "[sound:" up to the first "]", any line.
# Some clients ignore case: so does this test.
ANKI_SOUND = re.compile(r"\[sound:(.+?)\]", re.DOTALL | re.IGNORECASE)


def build(vault: Path, out: Path, capsys) -> tuple[int, list[str]]:
    code = main([str(vault), "-o", str(out), "--no-lock", "--cache-dir", str(out / "cache")])
    err = capsys.readouterr().err
    # The messages without their codes (tests/test_formats.py checks those).
    return code, [re.sub(r" \[AG\w+\]$", "", line) for line in err.splitlines() if line.strip()]


def answers(tmp_path: Path, package: Path) -> tuple[list[ankiutil.ImportedNote], object]:
    col = ankiutil.load(tmp_path, package)
    return ankiutil.notes(col), col


def test_audio_and_video_embeds_play_in_anki(tmp_path, capsys):
    vault = write_vault(
        tmp_path / "v",
        {
            "Lang/Words.md": (
                "#Q How is 'Brot' pronounced?\n"
                "Answer:\n"
                "![[brot.mp3]]\n"
                "Slowly: ![](media/brot%20slow.m4a)\n"
                "![[clip.ogg|a label]]\n"
            ),
            "Lang/brot.mp3": MP3,
            "Lang/media/brot slow.m4a": M4A,
            "Attachments/clip.ogg": OGG,  # found by name, as Obsidian does
        },
    )
    code, messages = build(vault, tmp_path / "dist", capsys)
    assert (code, messages) == (0, [])
    [note], col = answers(tmp_path, tmp_path / "dist" / "Lang.apkg")
    names = re.findall(r"\[sound:([^\]]+)\]", note.fields["Answer"])
    assert len(names) == 3 and all(re.fullmatch(r"ankigen-[0-9a-f]{16}\.\w+", n) for n in names)
    assert [n.rsplit(".", 1)[1] for n in names] == ["mp3", "m4a", "ogg"]
    for name, data in zip(names, (MP3, M4A, OGG), strict=True):
        assert col.media.have(name)
        assert Path(col.media.dir(), name).read_bytes() == data
    assert ankiutil.media_problems(col) == ([], [])
    assert "Slowly:" in note.fields["Answer"]


def test_missing_or_unsafe_sounds_are_warnings_and_never_reach_anki(tmp_path, capsys):
    outside = tmp_path / "outside.mp3"
    outside.write_bytes(MP3)
    vault = write_vault(
        tmp_path / "v",
        {
            "A/a.md": (
                "#Q Sounds?\n"  # 1
                "Answer:\n"  # 2
                "![[gone.mp3]]\n"  # 3
                "[sound:../../etc/passwd]\n"  # 4
                "[sound:hello.mp3] is played\n"  # 5
                '<span title="[sound:hello.mp3]">hover</span>\n'  # 6
                "`[sound:hello.mp3]` is how Anki writes it\n"  # 7
                "[sound:fake.mp3]\n"  # 8
                "[sound:link.mp3]\n"  # 9
                "[sound:https://example.com/x.mp3]\n"  # 10
                "[sound:notes.txt]\n"  # 11
            ),
            "A/hello.mp3": MP3,
            "A/fake.mp3": "not audio at all",
            "A/notes.txt": "text",
        },
    )
    os.symlink(outside, vault / "A" / "link.mp3")
    code, messages = build(vault, tmp_path / "dist", capsys)
    assert code == 0
    assert messages == [
        "A/a.md:3: warning: sound gone.mp3 not included: not found in the vault",
        "A/a.md:4: warning: sound ../../etc/passwd not included: the path leads outside the vault",
        "A/a.md:6: warning: [sound:…] inside an HTML attribute cannot be played; kept as text",
        "A/a.md:8: warning: sound fake.mp3 not included: not an audio or video file",
        "A/a.md:9: warning: sound link.mp3 not included: not found in the vault",
        "A/a.md:10: warning: sound https://example.com/x.mp3 not included: "
        "write a remote sound as ![](URL)",
        "A/a.md:11: warning: sound notes.txt not included: not an audio or video file",
        "A/link.mp3:0: warning: skipped: symbolic link points outside the vault",
    ]
    [note], col = answers(tmp_path, tmp_path / "dist" / "A.apkg")
    answer = note.fields["Answer"]
    [played] = ANKI_SOUND.findall(answer)
    assert col.media.have(played) and played.endswith(".mp3")
    assert "missing sound: gone.mp3" in answer and "missing sound: ../../etc/passwd" in answer
    assert "<code><span>[</span>sound:hello.mp3]</code>" in answer
    assert 'title="&#91;sound:hello.mp3]"' in answer
    assert sorted(os.listdir(col.media.dir())) == [played]
    assert ankiutil.media_problems(col) == ([], [])
    # Anki shows the code as written and plays only the one real sound.
    assert note.answer_html.count("[anki:play:") <= 1


def test_a_changed_sound_file_rebuilds_its_folder(tmp_path, capsys):
    files = {"A/a.md": "#Q Hear?\nAnswer: ![[a.mp3]]\n", "A/a.mp3": MP3}
    vault = write_vault(tmp_path / "v", files)
    assert build(vault, tmp_path / "dist", capsys) == (0, [])
    first = (tmp_path / "dist" / "A.apkg").read_bytes()
    (vault / "A" / "a.mp3").write_bytes(MP3 + b"more")
    assert build(vault, tmp_path / "dist", capsys) == (0, [])
    assert (tmp_path / "dist" / "A.apkg").read_bytes() != first


# ---------------------------------------------------------------- generated notes

PIECES = st.sampled_from(
    [
        "[sound:",
        "[SoUnD:",
        "]",
        "[",
        "hello.mp3",
        "https://h/x.mp3",
        "../",
        "gone.ogg",
        "`",
        "```\n",
        '<span title="',
        '">',
        "</span>",
        "<code>",
        "</code>",
        "![[",
        "]]",
        "\n",
        " ",
        "&#91;",
        "%%",
        "x",
        "\\",
    ]
)


@pytest.fixture(scope="module")
def sound_vault(tmp_path_factory) -> Vault:
    root = tmp_path_factory.mktemp("vault")
    write_vault(root, {"A/hello.mp3": MP3, "A/a.md": "x"})
    return Vault(root=root, name="v", folders=(), attachments=("A/hello.mp3",))


@settings(
    max_examples=int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(question=st.lists(PIECES, max_size=30), answer=st.lists(PIECES, max_size=30))
def test_every_sound_tag_anki_sees_is_a_file_in_the_package(
    sound_vault, tmp_path, question, answer
):
    markdown = ["".join(question), "".join(answer)]
    fields = [field(render_markdown(text), text, 1, "A/a.md") for text in markdown]
    result = resolve_media(
        fields, sound_vault, MediaOptions(cache_dir=tmp_path / "cache", offline=True), {}
    )
    media = {file.name for file in result.media}
    card = "<hr>".join(html_of(result))  # Anki looks for tags across the whole card
    for name in ANKI_SOUND.findall(card):
        assert name in media
    assert all(d.line >= 1 and d.path == "A/a.md" for d in result.diagnostics)


def test_sound_tags_in_file_names_and_headings_are_shown_not_played(tmp_path, capsys):
    vault = write_vault(
        tmp_path / "v",
        {"A/[sound:n.mp3].md": "## [sound:x.mp3] heading\n#Q What?\nAnswer: z\n", "A/x.mp3": MP3},
    )
    assert build(vault, tmp_path / "dist", capsys) == (0, [])
    [note], col = answers(tmp_path, tmp_path / "dist" / "A.apkg")
    assert ANKI_SOUND.findall("".join(note.fields.values())) == []
    assert note.fields["Context"] == (
        "<span>[</span>sound:n.mp3] › <span>[</span>sound:x.mp3] heading"
    )
    assert ankiutil.media_problems(col) == ([], [])


def test_a_field_flooded_with_sound_tags_plays_none_and_says_so(sound_vault, tmp_path):
    markdown = "[sound:hello.mp3] " * 1001 + "[sound:" * 20000
    fields = [field(render_markdown(markdown), markdown, 3, "A/a.md")]
    options = MediaOptions(cache_dir=tmp_path / "cache", offline=True)
    result = resolve_media(fields, sound_vault, options, {})
    assert [str(d) for d in result.diagnostics] == [
        "A/a.md:3: warning: more than 1000 [sound:…] in one field: none is played"
    ]
    assert ANKI_SOUND.findall(html_of(result)[0]) == [] and result.media == ()


def test_remote_sounds_are_downloaded_into_the_package(tmp_path, capsys):
    server = ImageServer()
    server.routes["/audio/clip.mp3"] = Route(body=MP3, headers={"Content-Type": "audio/mpeg"})
    server.routes["/audio/page.mp3"] = Route(
        body=b"<html>login</html>", headers={"Content-Type": "text/html"}
    )
    try:
        good, page = server.url("/audio/clip.mp3"), server.url("/audio/page.mp3")
        gone = server.url("/audio/gone.ogg")
        vault = write_vault(
            tmp_path / "v",
            {"A/a.md": f"#Q Hear?\nAnswer:\n![]({good})\n![]({page})\n![]({gone})\n"},
        )
        code, messages = build(vault, tmp_path / "dist", capsys)
        assert code == 0
        assert messages == [
            f"A/a.md:4: warning: sound {page} not included: "
            "not an image or a sound (the server sent text/html)",
            f"A/a.md:5: warning: sound {gone} not included: HTTP 404 Not Found",
        ]
        [note], col = answers(tmp_path, tmp_path / "dist" / "A.apkg")
        [name] = ANKI_SOUND.findall(note.fields["Answer"])
        assert Path(col.media.dir(), name).read_bytes() == MP3 and name.endswith(".mp3")
        assert (
            f'<a class="missing-media" href="{gone}">missing sound: gone.ogg</a>'
            in (note.fields["Answer"])
        )
        assert ankiutil.media_problems(col) == ([], [])
        assert len(server.requests_for("/audio/clip.mp3")) == 1
    finally:
        server.stop()
