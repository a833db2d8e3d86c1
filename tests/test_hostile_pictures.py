"""Pictures built to exhaust ankigen cost only themselves: a file:line warning, every other card
and picture kept."""

from __future__ import annotations

import struct

from conftest import write_vault
from hostile import cli, import_all, questions
from imageserver import Route, image_server_fixture  # noqa: F401  (the image_server fixture)
from test_build import png, run_build

from ankigen.images import ImageError, fit_image


def nested_svg(depth: int) -> bytes:
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        + b"<g>" * depth
        + b'<rect width="1" height="1"/>'
        + b"</g>" * depth
        + b"</svg>"
    )


def huge_animation(width: int, height: int, frames: int) -> bytes:
    """A small file that decodes to `frames` full-size frames (each draws one pixel)."""
    out = bytearray(b"GIF89a" + struct.pack("<HH", width, height) + bytes([0x80, 0, 0]))
    out += b"\x00\x00\x00\xff\xff\xff"  # two-colour global palette
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for index in range(frames):
        out += b"\x21\xf9\x04\x00\x01\x00\x00\x00"  # 10 ms per frame
        out += b"\x2c" + struct.pack("<HHHH", index % width, 0, 1, 1) + b"\x00"
        out += b"\x02\x02\x44\x01\x00"  # one pixel of LZW data
    return bytes(out + b"\x3b")


VAULT = {
    "A/good.md": "#Question Fine picture?\nAnswer: ![[fine.png]]\n",
    "A/bad.md": (
        "#Question Deep drawing?\nAnswer: see\n\n![[deep.svg]]\n\n"
        "#Question Endless animation?\nAnswer: ![[huge.gif]]\n"
    ),
    "A/fine.png": png(),
    "A/deep.svg": nested_svg(3000),
    "A/huge.gif": huge_animation(3200, 3200, 5000),
}


def test_hostile_pictures_cost_only_their_picture(tmp_path):
    vault = write_vault(tmp_path / "v", VAULT)
    out = tmp_path / "out"
    result = cli(vault, out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("A/bad.md:4: warning:") and "nested" in line for line in lines)
    assert any(line.startswith("A/bad.md:7: warning:") and "animation" in line for line in lines)
    notes = import_all(tmp_path, out)
    assert questions(notes) == ["Deep drawing?", "Endless animation?", "Fine picture?"]
    fine = next(n for n in notes if "Fine" in n.fields["Question"])
    assert '<img src="ankigen-' in fine.fields["Answer"]


def test_nesting_within_the_limit_still_makes_a_picture():
    assert fit_image(nested_svg(150), 1600).ext == "svg"


def test_animation_bound_counts_frames_times_pixels():
    assert fit_image(huge_animation(400, 300, 20), 1600).ext == "gif"
    try:
        fit_image(huge_animation(2000, 2000, 200), 1600)
    except ImageError as error:
        assert "animation too large" in str(error)
    else:
        raise AssertionError("800 million pixels of animation accepted")


def test_hostile_downloaded_pictures_cost_only_their_picture(tmp_path, image_server):
    image_server.routes["/deep.svg"] = Route(
        body=nested_svg(3000), headers={"Content-Type": "image/svg+xml"}
    )
    image_server.routes["/huge.gif"] = Route(
        body=huge_animation(3200, 3200, 5000), headers={"Content-Type": "image/gif"}
    )
    deep, huge, good = (image_server.url(p) for p in ("/deep.svg", "/huge.gif", "/good.png"))
    vault = write_vault(
        tmp_path / "v",
        {
            "A/a.md": (
                f"#Question Deep?\nAnswer: ![d]({deep})\n\n"
                f"#Question Huge?\nAnswer: ![h]({huge})\n\n"
                f"#Question Good?\nAnswer: ![g]({good})\n"
            )
        },
    )
    report = run_build(vault, tmp_path / "out", offline=False)
    messages = [(d.path, d.line, d.message) for d in report.diagnostics]
    assert len(messages) == 2, messages
    assert messages[0][:2] == ("A/a.md", 2) and "nested" in messages[0][2]
    assert messages[1][:2] == ("A/a.md", 5) and "animation too large" in messages[1][2]
    notes = import_all(tmp_path, tmp_path / "out")
    assert questions(notes) == ["Deep?", "Good?", "Huge?"]
    good_note = next(n for n in notes if "Good" in n.fields["Question"])
    assert '<img src="ankigen-' in good_note.fields["Answer"]
