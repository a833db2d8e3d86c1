"""The resolve-media stage: local pictures found as Obsidian finds them, remote ones from a
real 127.0.0.1 server, every <img> rewritten or replaced, and the result checked in Anki."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path

import genanki
from ankiutil import load, media_problems
from imageserver import (
    ImageServer,
    image_server_fixture,  # noqa: F401 (the fixture)
    jpeg_with_exif,
    png_bytes,
)
from PIL import Image
from test_images import png_header_only

from ankigen.media import (
    Fetcher,
    MediaOptions,
    MediaResult,
    remote_urls,
    resolve_media,
)
from ankigen.records import (
    CardField,
    CardSource,
    Diagnostic,
    ParsedNote,
    RenderedCard,
    RenderedNote,
    Vault,
)
from ankigen.render import render_markdown

NOTE = "AWS/AMI.md"


def make_vault(root: Path, files: dict[str, bytes], attachment_folder: str = "") -> Vault:
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    attachments = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix != ".md"
    )
    return Vault(root, root.name, (), tuple(attachments), attachment_folder)


def options(tmp_path: Path, **changes: object) -> MediaOptions:
    base: dict[str, object] = dict(cache_dir=tmp_path / "cache", timeout=1.0, retry_backoff=0)
    base.update(changes)
    return MediaOptions(**base)  # type: ignore[arg-type]


def img(src: str, **attributes: str) -> str:
    extra = "".join(f' {name}="{value}"' for name, value in attributes.items())
    return f'<p><img src="{src}"{extra}></p>'


def field(html: str, markdown: str = "", line: int = 1, note: str = NOTE) -> RenderedNote:
    """A note of `note` whose one card has one field: `html`, rendered from `markdown`."""
    card = CardSource("question", line, markdown, "", line)
    rendered = RenderedCard(card, (CardField("Question", html, markdown, line),))
    return RenderedNote(ParsedNote(note, "AMI", (card,)), (rendered,), None, (0, 0, ""))


def html_of(result: MediaResult) -> tuple[str, ...]:
    """The fields' HTML as resolved, note after note."""
    return tuple(f.html for note in result.notes for f in note.all_fields())


def resolve(
    vault: Vault, tmp_path: Path, *fields: RenderedNote, fetched=None, **opts
) -> MediaResult:
    return resolve_media(fields, vault, options(tmp_path, **opts), fetched or {})


def src_of(html: str) -> str:
    (src,) = re.findall(r'<img [^>]*src="([^"]*)"', html)
    return src


def picture(result: MediaResult, html: str) -> Image.Image:
    files = {m.name: m.data for m in result.media}
    return Image.open(io.BytesIO(files[src_of(html)]))


def colour(image: Image.Image) -> tuple[int, ...]:
    return image.convert("RGB").getpixel((10, 10))


RED, BLUE, GREEN = png_bytes(colour="red"), png_bytes(colour="blue"), png_bytes(colour="green")


# ---------------------------------------------------------------- fast path, remote_urls


def test_field_without_a_picture_is_returned_untouched(tmp_path):
    text = "<p>No pictures, just <b>text</b> about an &lt;img&gt; tag.</p>"
    note = field(text)
    result = resolve(make_vault(tmp_path / "v", {}), tmp_path, note)
    assert result.notes[0] is note  # not even copied
    assert result == MediaResult((note,), (), (), ())


def test_remote_urls_are_http_only_deduplicated_and_sorted():
    fields = [
        field(img("https://b.example/x.png") + img("http://a.example/y.png")),
        field(img("https://b.example/x.png") + img("data:image/png;base64,AA==")),
        field(img("file:///etc/passwd") + img("img/local.png") + "<p>text</p>"),
    ]
    assert remote_urls(fields) == ["http://a.example/y.png", "https://b.example/x.png"]


# ---------------------------------------------------------------- local lookup


def test_relative_to_the_note_folder_first(tmp_path):
    vault = make_vault(tmp_path / "v", {"AWS/img/x.png": RED, "img/x.png": BLUE})
    result = resolve(vault, tmp_path, field(img("img/x.png")))
    assert colour(picture(result, html_of(result)[0]))[:3] == (255, 0, 0)
    assert result.local_files == ("AWS/img/x.png",)


def test_from_the_vault_root(tmp_path):
    vault = make_vault(tmp_path / "v", {"pics/y.png": BLUE})
    result = resolve(vault, tmp_path, field(img("pics/y.png")))
    assert result.diagnostics == () and result.local_files == ("pics/y.png",)


def test_parent_folder_inside_the_vault(tmp_path):
    vault = make_vault(tmp_path / "v", {"attachments/y.png": BLUE})
    result = resolve(vault, tmp_path, field(img("../attachments/y.png")))
    assert result.local_files == ("attachments/y.png",)


def test_by_file_name_anywhere_with_percent_encoded_spaces(tmp_path):
    name = "AMI EBS Snapshots No Reboot.png"
    vault = make_vault(tmp_path / "v", {f"Assets/Deep/{name}": GREEN})
    markdown = "Answer: Use the `no reboot` option.\n![[AMI EBS Snapshots No Reboot.png]]\n"
    result = resolve(
        vault, tmp_path, field(img("AMI%20EBS%20Snapshots%20No%20Reboot.png"), markdown)
    )
    assert result.local_files == (f"Assets/Deep/{name}",)
    assert re.fullmatch(r"ankigen-[0-9a-f]{16}\.png", src_of(html_of(result)[0]))


def test_by_name_prefers_the_attachment_folder_then_the_shortest_path(tmp_path):
    files = {"a/k.png": RED, "attachments/sub/k.png": BLUE, "z/y/k.png": GREEN}
    with_setting = make_vault(tmp_path / "v", files, attachment_folder="attachments")
    assert resolve(with_setting, tmp_path, field(img("k.png"))).local_files == (
        "attachments/sub/k.png",
    )
    without = make_vault(tmp_path / "v", {})
    assert resolve(without, tmp_path, field(img("k.png"))).local_files == ("a/k.png",)


def test_attachment_folder_next_to_the_note(tmp_path):
    files = {"a/k.png": RED, "AWS/files/k.png": BLUE}
    vault = make_vault(tmp_path / "v", files, attachment_folder="./files")
    assert resolve(vault, tmp_path, field(img("k.png"))).local_files == ("AWS/files/k.png",)


def test_partial_path_matches_the_end_of_a_path(tmp_path):
    vault = make_vault(tmp_path / "v", {"x/diagrams/k.png": RED, "k.png": BLUE})
    assert resolve(vault, tmp_path, field(img("diagrams/k.png"))).local_files == (
        "x/diagrams/k.png",
    )


def test_case_insensitive_only_when_no_exact_match(tmp_path):
    vault = make_vault(tmp_path / "v", {"AWS/Diagram.png": RED, "AWS/diagram.png": BLUE})
    exact = resolve(vault, tmp_path, field(img("diagram.png")))
    assert exact.local_files == ("AWS/diagram.png",)
    folded = resolve(vault, tmp_path, field(img("DIAGRAM.PNG")))
    assert folded.diagnostics == ()
    assert folded.local_files == ("AWS/Diagram.png",)  # sorted first among the case variants


def missing(result: MediaResult) -> list[str]:
    return [str(d) for d in result.diagnostics]


def test_climbing_out_of_the_vault_is_refused(tmp_path):
    (tmp_path / "secret.png").write_bytes(RED)
    vault = make_vault(tmp_path / "v", {"Note.md": b""})
    result = resolve(
        vault, tmp_path, field(img("../secret.png"), "![](../secret.png)", 4, "Note.md")
    )
    assert missing(result) == [
        "Note.md:4: warning: picture ../secret.png not included: the path leads outside the vault"
    ]
    assert html_of(result)[0] == (
        '<p><span class="missing-media">missing picture: ../secret.png</span></p>'
    )
    assert result.media == () and result.local_files == ()


def test_absolute_paths_are_not_read(tmp_path):
    (tmp_path / "secret.png").write_bytes(RED)
    vault = make_vault(tmp_path / "v", {})
    result = resolve(vault, tmp_path, field(img(str(tmp_path / "secret.png"))))
    assert result.media == ()
    assert missing(result) == [
        f"AWS/AMI.md:1: warning: picture {tmp_path}/secret.png not included: not found in the vault"
    ]


def test_symlink_pointing_out_of_the_vault_is_refused(tmp_path):
    (tmp_path / "secret.png").write_bytes(RED)
    (tmp_path / "v" / "AWS").mkdir(parents=True)
    (tmp_path / "v" / "AWS" / "leak.png").symlink_to(tmp_path / "secret.png")
    vault = make_vault(tmp_path / "v", {})
    assert vault.attachments == ("AWS/leak.png",)
    result = resolve(vault, tmp_path, field(img("leak.png")))
    assert result.media == ()
    assert missing(result) == [
        "AWS/AMI.md:1: warning: picture leak.png not included: "
        "it is a link to a file outside the vault"
    ]


def test_missing_picture_warns_with_its_own_line(tmp_path):
    vault = make_vault(tmp_path / "v", {"AWS/here.png": RED})
    markdown = "Answer: first\n![[here.png]]\nsome text\n![[not here.png]]\n"
    html = img("here.png") + img("not%20here.png")
    result = resolve(vault, tmp_path, field(html, markdown, line=30))
    assert result.diagnostics == (
        Diagnostic(
            NOTE, 33, "warning", "picture not here.png not included: not found in the vault"
        ),
    )
    assert '<span class="missing-media">missing picture: not here.png</span>' in html_of(result)[0]
    assert len(result.media) == 1 and src_of(html_of(result)[0]) == result.media[0].name


def test_not_an_image_and_bomb_guard_are_warnings(tmp_path):
    files = {
        "AWS/fake.png": b"<html>not a picture</html>",
        "AWS/bomb.png": png_header_only(10**5, 10**5),
    }
    vault = make_vault(tmp_path / "v", files)
    markdown = "![[fake.png]]\n![[bomb.png]]"
    result = resolve(vault, tmp_path, field(img("fake.png") + img("bomb.png"), markdown, 7))
    assert missing(result) == [
        "AWS/AMI.md:7: warning: picture fake.png not included: not an image",
        "AWS/AMI.md:8: warning: picture bomb.png not included: "
        "too many pixels (decompression bomb guard)",
    ]
    assert result.media == ()
    assert result.local_files == ("AWS/bomb.png", "AWS/fake.png")


def test_wide_picture_is_fitted_and_attributes_are_kept(tmp_path):
    vault = make_vault(tmp_path / "v", {"AWS/wide.png": png_bytes((3000, 1000))})
    html = img("wide.png", alt="A &quot;wide&quot; one", width="300")
    result = resolve(vault, tmp_path, field(html), max_image_width=1600)
    name = result.media[0].name
    assert (
        html_of(result)[0] == f'<p><img src="{name}" alt="A &quot;wide&quot; one" width="300"></p>'
    )
    assert picture(result, html_of(result)[0]).size == (1600, 533)


def test_same_picture_twice_is_one_file_and_same_names_do_not_collide(tmp_path):
    vault = make_vault(tmp_path / "v", {"AWS/image.png": RED, "GCP/image.png": BLUE})
    result = resolve(
        vault,
        tmp_path,
        field(img("image.png")),
        field(img("image.png") + img("/AWS/image.png")),
        field(img("image.png"), note="GCP/Compute.md"),
    )
    assert len(result.media) == 2
    assert [m.name for m in result.media] == sorted(m.name for m in result.media)
    assert src_of(html_of(result)[0]) != src_of(html_of(result)[2])


def test_data_url_is_decoded_and_big_ones_refused(tmp_path):
    small = "data:image/png;base64," + base64.b64encode(RED).decode()
    big = "data:image/png;base64," + "A" * (2 * 1024 * 1024)
    result = resolve(make_vault(tmp_path / "v", {}), tmp_path, field(img(small) + img(big)))
    assert len(result.media) == 1 and result.media[0].name in html_of(result)[0]
    assert missing(result) == [
        "AWS/AMI.md:1: warning: picture data:image/png;base64,AAAAAAAAAAAAAAAAAA… "
        "not included: data: URL larger than 1 MB"
    ]


def test_other_schemes_and_windows_paths_are_refused(tmp_path):
    # As the render stage writes them: file: kept, other schemes' colon percent-encoded.
    html = img("file:///etc/hosts.png") + img("ftp%3A//example.org/x.png") + img("C%3A%5Cx.png")
    result = resolve(make_vault(tmp_path / "v", {}), tmp_path, field(html))
    assert missing(result) == [
        "AWS/AMI.md:1: warning: picture C:\\x.png not included: absolute path outside the vault",
        "AWS/AMI.md:1: warning: picture file:///etc/hosts.png not included: "
        "only http and https pictures are fetched",
        "AWS/AMI.md:1: warning: picture ftp://example.org/x.png not included: "
        "only http and https pictures are fetched",
    ]
    assert html_of(result)[0].count("missing-media") == 3 and "<img" not in html_of(result)[0]


def test_fitted_pictures_are_remembered_and_a_damaged_record_is_refitted(tmp_path):
    vault = make_vault(tmp_path / "v", {"AWS/x.png": png_bytes((2000, 100))})
    first = resolve(vault, tmp_path, field(img("x.png")))
    (stored,) = (tmp_path / "cache").rglob(hashlib.sha256(first.media[0].data).hexdigest())
    stored.write_bytes(b"garbage")
    second = resolve(vault, tmp_path, field(img("x.png")))
    assert second.media == first.media
    assert stored.read_bytes() == first.media[0].data


# ---------------------------------------------------------------- remote


def test_remote_pictures_are_fitted_and_failures_become_links(tmp_path, image_server: ImageServer):
    good, photo = image_server.url("/good.png"), image_server.url("/photo.jpg")
    webp, gone = image_server.url("/pic.webp"), image_server.url("/missing.png")
    markdown = (
        "#UseCase for creating an AMI\n"
        f"![AMI Lifecycle]({good})\n"
        f"![Photo]({photo})\n"
        f"![]({webp})\n"
        "text\n"
        f"![AMI <Lifecycle>]({gone})\n"
    )
    html = (
        img(good, alt="AMI Lifecycle")
        + img(photo, alt="Photo")
        + img(webp)
        + img(gone, alt="AMI &lt;Lifecycle&gt;")
    )
    fields = [field(html, markdown, line=26)]
    opts = options(tmp_path)
    with Fetcher(opts) as fetcher:
        fetched = fetcher.fetch_all(remote_urls(fields))
    result = resolve_media(fields, make_vault(tmp_path / "v", {}), opts, fetched)
    assert [str(d) for d in result.diagnostics] == [
        f"AWS/AMI.md:31: warning: picture {gone} not included: HTTP 404 Not Found"
    ]
    out = html_of(result)[0]
    link = f'<a class="missing-media" href="{gone}">missing picture: AMI &lt;Lifecycle&gt;</a>'
    assert link in out
    sources = re.findall(r'<img src="([^"]*)"', out)
    assert len(sources) == 3 and all(s.startswith("ankigen-") for s in sources)
    assert sources[1].endswith(".jpg") and sources[2].endswith(".png")
    jpeg = picture(result, img(sources[1]))
    assert dict(jpeg.getexif()) == {} and jpeg.size == (200, 400)
    assert result.local_files == ()


def test_offline_build_uses_cached_pictures_without_a_request(tmp_path, image_server: ImageServer):
    fields = [field(img(image_server.url("/good.png")) + img(image_server.url("/etag.png")))]
    with Fetcher(options(tmp_path)) as fetcher:
        fetcher.fetch_all([image_server.url("/good.png")])
    before = len(image_server.log)
    opts = options(tmp_path, offline=True)
    with Fetcher(opts) as fetcher:
        fetched = fetcher.fetch_all(remote_urls(fields))
    result = resolve_media(fields, make_vault(tmp_path / "v", {}), opts, fetched)
    assert len(image_server.log) == before
    assert len(result.media) == 1
    assert [d.message for d in result.diagnostics] == [
        f"picture {image_server.url('/etag.png')} not included: not in the cache (offline)"
    ]


# ---------------------------------------------------------------- into Anki


def test_resolved_media_imports_into_anki_with_nothing_missing(tmp_path, image_server):
    vault = make_vault(
        tmp_path / "v",
        {"AWS/photo.jpg": jpeg_with_exif((800, 400)), "AWS/kms_cross_account_key.png": RED},
    )
    question = field(img("kms_cross_account_key.png") + img("nothere.png"))
    answer = field(img("photo.jpg") + img(image_server.url("/missing.png"), alt="lifecycle"))
    opts = options(tmp_path, max_image_width=300)
    with Fetcher(opts) as fetcher:
        fetched = fetcher.fetch_all(remote_urls([question, answer]))
    result = resolve_media([question, answer], vault, opts, fetched)
    assert len(result.media) == 2 and len(result.diagnostics) == 2

    media_dir = tmp_path / "media"
    media_dir.mkdir()
    for media in result.media:
        (media_dir / media.name).write_bytes(media.data)
    model = genanki.Model(
        1607392319,
        "media test",
        fields=[{"name": "Question"}, {"name": "Answer"}],
        templates=[{"name": "Card", "qfmt": "{{Question}}", "afmt": "{{Answer}}"}],
    )
    deck = genanki.Deck(2059400110, "AWS")
    deck.add_note(genanki.Note(model=model, fields=list(html_of(result)), guid="media-test"))
    apkg = tmp_path / "AWS.apkg"
    genanki.Package(
        deck, media_files=[str(media_dir / m.name) for m in result.media]
    ).write_to_file(apkg)

    col = load(tmp_path, apkg)
    try:
        assert media_problems(col) == ([], [])
        stored = Path(col.media.dir())
        jpeg_name = next(m.name for m in result.media if m.name.endswith(".jpg"))
        with Image.open(stored / jpeg_name) as image:
            assert dict(image.getexif()) == {} and image.size == (300, 150)
        assert sorted(p.name for p in stored.iterdir()) == sorted(m.name for m in result.media)
    finally:
        col.close()


def test_a_failed_remote_picture_names_itself_once(tmp_path, image_server: ImageServer):
    named = image_server.url("/diagrams/diagram.png")  # 404: no such route
    bare = image_server.url("/img/AMI%20lifecycle.png")
    markdown = f"![diagram]({named})\n![]({bare})\n"
    fields = [field(render_markdown(markdown), markdown)]
    opts = options(tmp_path)
    with Fetcher(opts) as fetcher:
        fetched = fetcher.fetch_all(remote_urls(fields))
    result = resolve_media(fields, make_vault(tmp_path / "v", {}), opts, fetched)
    out = html_of(result)[0]
    assert re.findall(r'<a class="missing-media" href="[^"]*">([^<]*)</a>', out) == [
        "missing picture: diagram",
        "missing picture: AMI lifecycle.png",
    ]
