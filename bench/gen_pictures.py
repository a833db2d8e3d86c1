"""Generate a vault like a real one full of pasted screenshots: the picture workload.

    .venv/bin/python bench/gen_pictures.py --pictures 3000 --out /tmp/picture-vault

Notes in the seed style (`#Question`, `Answer:`), three or four cards each, most answers with a
pasted screenshot (`![[Pasted image 20260117103005.png]]`, kept in `attachments/` as Obsidian
keeps them), some with two. The pictures are what such a vault holds:
- screenshots, PNG (most) and JPEG: 300 to 2,800 px wide, flat colours, boxes, rules and
  text-like detail, 20 to 800 KB; a few hundred wider than ankigen's 1,600 px limit;
- PNGs as the tools that make them write them: most with fast compression (as a browser or
  Electron app writes a pasted picture), some with default compression and a text chunk;
- a few photos (JPEG, noisy gradients) with EXIF data, GPS position included.

Same arguments, same vault, byte for byte (the random generator is seeded).
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

FONT = ImageFont.load_default()
PALETTE = [
    (255, 255, 255),
    (246, 248, 250),
    (234, 242, 255),
    (255, 244, 229),
    (232, 245, 233),
    (30, 30, 30),
]
INKS = [(36, 41, 47), (9, 105, 218), (207, 34, 46), (26, 127, 55), (130, 80, 223)]
WORDS = [
    "instance",
    "volume",
    "snapshot",
    "bucket",
    "policy",
    "role",
    "subnet",
    "gateway",
    "route",
    "table",
    "queue",
    "topic",
    "stream",
    "shard",
    "replica",
    "cluster",
    "node",
    "pod",
    "service",
    "endpoint",
    "listener",
    "target",
    "group",
    "alarm",
    "metric",
    "dashboard",
    "pipeline",
    "stage",
    "artifact",
    "build",
    "deploy",
    "region",
    "zone",
]


def screenshot(rng: random.Random, width: int, height: int) -> Image.Image:
    """A flat-coloured window with a title bar, panels, rules and lines of small text."""
    background = rng.choice(PALETTE)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 28), fill=(60, 64, 72))
    for x in (12, 30, 48):
        draw.ellipse((x, 9, x + 10, 19), fill=rng.choice(INKS))
    y = 40
    while y < height - 20:
        if rng.random() < 0.15:  # a panel with a border
            panel_height = rng.randint(40, 160)
            left = rng.randint(8, max(9, width // 4))
            right = rng.randint(max(left + 20, width // 2), width - 8)
            draw.rectangle(
                (left, y, right, min(height - 4, y + panel_height)),
                fill=rng.choice(PALETTE[:5]),
                outline=rng.choice(INKS),
                width=rng.choice((1, 2)),
            )
            y += 12
            continue
        if rng.random() < 0.1:
            draw.line((8, y, width - 8, y), fill=(208, 215, 222), width=1)
            y += 6
            continue
        x = rng.randint(10, 40)
        ink = rng.choice(INKS) if background != PALETTE[-1] else (230, 237, 243)
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 18)))
        draw.text((x, y), line, fill=ink, font=FONT)
        y += rng.choice((14, 16, 18, 22))
    return image


def photo(rng: random.Random, width: int, height: int) -> Image.Image:
    """A smooth gradient with noise: compresses like a photo, not like a drawing."""
    base = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), rng.randint(20, 60))
    red = Image.blend(base, noise, 0.35)
    green = Image.blend(base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise, 0.3)
    blue = Image.blend(base.transpose(Image.Transpose.FLIP_TOP_BOTTOM), noise, 0.4)
    return Image.merge("RGB", (red, green, blue))


def photo_exif(rng: random.Random) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 12"  # Model
    exif[0x0132] = "2026:01:17 10:51:57"  # DateTime
    gps = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, float(rng.randint(0, 59)))}
    exif[0x8825] = gps  # GPSInfo: where the photo was taken
    return exif.tobytes()


def encode_png(image: Image.Image, rng: random.Random) -> bytes:
    out = io.BytesIO()
    if rng.random() < 0.75:  # a pasted picture: fast compression
        image.save(out, "PNG", compress_level=1)
    else:
        info = PngInfo()
        info.add_text("Software", "Screenshot tool 3.2")
        image.save(out, "PNG", compress_level=6, pnginfo=info)
    return out.getvalue()


def encode_jpeg(image: Image.Image, rng: random.Random, exif: bytes = b"") -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=rng.choice((85, 90, 95)), exif=exif)
    return out.getvalue()


def picture(rng: random.Random, index: int) -> tuple[str, bytes]:
    """(file name, bytes) of the index-th picture."""
    stamp = f"2026{(index // 2000) % 12 + 1:02d}{index % 28 + 1:02d}{index:06d}"
    if index % 500 == 7:  # a few photos, with where they were taken
        width = rng.randint(1200, 2400)
        image = photo(rng, width, width * 3 // 4)
        return f"Photo {stamp}.jpg", encode_jpeg(image, rng, photo_exif(rng))
    wide = index % 12 == 3  # about one in twelve is wider than the 1,600 px limit
    width = rng.randint(1700, 2800) if wide else rng.randint(300, 1550)
    height = max(120, int(width * rng.uniform(0.25, 0.75)))
    image = screenshot(rng, width, height)
    if index % 6 == 5:
        return f"Pasted image {stamp}.jpg", encode_jpeg(image, rng)
    return f"Pasted image {stamp}.png", encode_png(image, rng)


def generate(out: Path, pictures: int, folders: int, seed: int = 17) -> dict[str, int]:
    """Write the vault; returns its counts."""
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    (out / "attachments").mkdir(parents=True)
    (out / ".obsidian").mkdir()
    (out / ".obsidian" / "app.json").write_text('{"attachmentFolderPath": "attachments"}')
    names = []
    total_bytes = 0
    for index in range(pictures):
        name, data = picture(rng, index)
        (out / "attachments" / name).write_bytes(data)
        names.append(name)
        total_bytes += len(data)
    cards = notes = 0
    queue = list(names)
    while queue:
        folder = out / f"Topic {notes % folders:02d}"
        folder.mkdir(exist_ok=True)
        lines = [f"# Note {notes}", ""]
        for card in range(rng.randint(3, 4)):
            lines.append(f"#Question What does screen {notes}.{card} show?")
            lines.append("Answer:")
            lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))))
            for _ in range(2 if rng.random() < 0.15 else 1):
                if queue and rng.random() < 0.9:
                    lines.append(f"![[{queue.pop()}]]")
            lines.append("")
            cards += 1
        (folder / f"Note {notes:05d}.md").write_text("\n".join(lines), encoding="utf-8")
        notes += 1
    return {"pictures": pictures, "bytes": total_bytes, "notes": notes, "cards": cards}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=3000)
    parser.add_argument("--folders", type=int, default=16)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    counts = generate(args.out, args.pictures, args.folders, args.seed)
    print(
        f"{counts['pictures']} pictures ({counts['bytes'] / 1e6:.0f} MB), "
        f"{counts['notes']} notes, {counts['cards']} cards in {args.out}"
    )


if __name__ == "__main__":
    main()
