"""Draw the example vault's pictures (run once; the files are committed).

    .venv/bin/python bench/make_example_pictures.py [examples/vault]

Small labelled diagrams (boxes and arrows), one photo-like JPEG with EXIF data,
one WebP, and one picture that no note uses.
"""

from __future__ import annotations

import sys
from itertools import pairwise
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

Box = tuple[int, int, int, int]

FONT = ImageFont.load_default()
INK = (40, 40, 40)
PAPER = (255, 255, 255)


def draw_boxes(
    size: tuple[int, int],
    boxes: dict[str, Box],
    arrows: list[tuple[str, str]],
    title: str,
    fill: tuple[int, int, int],
) -> Image.Image:
    """A white canvas with labelled boxes joined by arrows (box centre to box centre)."""
    image = Image.new("RGB", size, PAPER)
    draw = ImageDraw.Draw(image)
    draw.text((10, 8), title, fill=INK, font=FONT)
    for start, end in arrows:
        draw_arrow(draw, boxes[start], boxes[end])
    for label, box in boxes.items():
        draw.rounded_rectangle(box, radius=8, fill=fill, outline=INK, width=2)
        left, top, right, bottom = box
        text_box = draw.textbbox((0, 0), label, font=FONT)
        width, height = text_box[2] - text_box[0], text_box[3] - text_box[1]
        draw.text(
            ((left + right - width) / 2, (top + bottom - height) / 2), label, fill=INK, font=FONT
        )
    return image


def draw_arrow(draw: ImageDraw.ImageDraw, start: Box, end: Box) -> None:
    """A line from the edge of one box to the edge of the other, with a head at the end."""
    x0, y0 = (start[0] + start[2]) / 2, (start[1] + start[3]) / 2
    x1, y1 = (end[0] + end[2]) / 2, (end[1] + end[3]) / 2
    if abs(x1 - x0) >= abs(y1 - y0):  # mostly horizontal
        x0 = start[2] if x1 > x0 else start[0]
        x1 = end[0] if x1 > x0 else end[2]
        head = [
            (x1, y1),
            (x1 - 8 if x1 > x0 else x1 + 8, y1 - 5),
            (x1 - 8 if x1 > x0 else x1 + 8, y1 + 5),
        ]
    else:
        y0 = start[3] if y1 > y0 else start[1]
        y1 = end[1] if y1 > y0 else end[3]
        head = [
            (x1, y1),
            (x1 - 5, y1 - 8 if y1 > y0 else y1 + 8),
            (x1 + 5, y1 - 8 if y1 > y0 else y1 + 8),
        ]
    draw.line([(x0, y0), (x1, y1)], fill=INK, width=2)
    draw.polygon(head, fill=INK)


def ec2_lifecycle() -> Image.Image:
    boxes = {
        "pending": (20, 40, 120, 80),
        "running": (170, 40, 270, 80),
        "stopping": (320, 40, 420, 80),
        "stopped": (320, 130, 420, 170),
        "shutting-down": (150, 130, 290, 170),
        "terminated": (20, 130, 120, 170),
    }
    arrows = [
        ("pending", "running"),
        ("running", "stopping"),
        ("stopping", "stopped"),
        ("running", "shutting-down"),
        ("shutting-down", "terminated"),
    ]
    return draw_boxes((440, 190), boxes, arrows, "EC2 instance lifecycle", (255, 226, 179))


def s3_storage_classes() -> Image.Image:
    names = ["Standard", "Standard-IA", "Glacier Flexible", "Deep Archive"]
    boxes = {name: (20 + 150 * i, 60, 150 + 150 * i, 110) for i, name in enumerate(names)}
    arrows = list(pairwise(names))
    image = draw_boxes(
        (620, 150), boxes, arrows, "S3 lifecycle: cheaper, slower ->", (200, 230, 201)
    )
    ImageDraw.Draw(image).text(
        (20, 125), "30 days        90 days        365 days", fill=INK, font=FONT
    )
    return image


def study_map() -> Image.Image:
    boxes = {
        "Exam Strategy": (170, 30, 300, 70),
        "AWS": (40, 120, 150, 160),
        "Engineering": (320, 120, 440, 160),
        "Compute": (10, 210, 90, 250),
        "Storage": (100, 210, 180, 250),
        "Networking": (190, 210, 280, 250),
        "Thermodynamics": (320, 210, 440, 250),
    }
    arrows = [
        ("Exam Strategy", "AWS"),
        ("Exam Strategy", "Engineering"),
        ("AWS", "Compute"),
        ("AWS", "Storage"),
        ("AWS", "Networking"),
        ("Engineering", "Thermodynamics"),
    ]
    return draw_boxes((460, 270), boxes, arrows, "Study map", (187, 222, 251))


def carnot_cycle() -> Image.Image:
    """A p–V sketch: four corners joined in cycle order."""
    boxes = {
        "1 (T_H)": (30, 40, 130, 80),
        "2": (280, 40, 380, 80),
        "3 (T_C)": (280, 170, 380, 210),
        "4": (30, 170, 130, 210),
    }
    arrows = [("1 (T_H)", "2"), ("2", "3 (T_C)"), ("3 (T_C)", "4"), ("4", "1 (T_H)")]
    image = draw_boxes((410, 240), boxes, arrows, "Carnot cycle (p-V)", (248, 187, 208))
    draw = ImageDraw.Draw(image)
    draw.text((150, 28), "isothermal, Q_H in", fill=INK, font=FONT)
    draw.text((150, 215), "isothermal, Q_C out", fill=INK, font=FONT)
    return image


def vpc_peering() -> Image.Image:
    boxes = {
        "VPC A": (20, 60, 120, 110),
        "VPC B": (190, 60, 290, 110),
        "VPC C": (360, 60, 460, 110),
    }
    arrows = [("VPC A", "VPC B"), ("VPC B", "VPC C")]
    image = draw_boxes((480, 150), boxes, arrows, "Peering is not transitive", (209, 196, 233))
    ImageDraw.Draw(image).text(
        (150, 125), "A cannot reach C through B", fill=(180, 0, 0), font=FONT
    )
    return image


def calorimeter_photo() -> tuple[Image.Image, Image.Exif]:
    """A smooth colour gradient with a bright spot, like an out-of-focus bench photo."""
    width, height = 320, 240
    image = Image.new("RGB", (width, height))
    pixels = image.load()
    for y in range(height):
        for x in range(width):
            spot = max(0, 90 - int(((x - 200) ** 2 + (y - 110) ** 2) ** 0.5)) * 2
            pixels[x, y] = (
                min(255, 60 + x // 2 + spot),
                min(255, 50 + y // 3 + spot // 2),
                min(255, 120 - y // 4 + spot // 3),
            )
    exif = Image.Exif()
    exif[0x010F] = "ExampleCam"  # Make
    exif[0x0110] = "Bench 1"  # Model
    exif[0x0132] = "2024:03:14 10:15:00"  # DateTime
    exif[0x010E] = "Calorimeter on the lab bench"  # ImageDescription
    exif[0x0131] = "ankigen example"  # Software
    return image, exif


def whiteboard() -> Image.Image:
    boxes = {"idea": (20, 40, 120, 80), "draft": (160, 40, 260, 80)}
    return draw_boxes(
        (280, 100), boxes, [("idea", "draft")], "Not used by any note", (238, 238, 238)
    )


def main(vault: Path) -> None:
    attachments = vault / "attachments"
    attachments.mkdir(parents=True, exist_ok=True)
    (vault / "AWS" / "Networking").mkdir(parents=True, exist_ok=True)
    ec2_lifecycle().save(attachments / "EC2 Instance Lifecycle.png", optimize=True)
    s3_storage_classes().save(attachments / "s3-storage-classes.png", optimize=True)
    study_map().save(attachments / "study-map.png", optimize=True)
    carnot_cycle().save(attachments / "carnot-cycle.png", optimize=True)
    whiteboard().save(attachments / "unused-whiteboard.png", optimize=True)
    photo, exif = calorimeter_photo()
    photo.save(attachments / "Calorimeter Bench.jpg", quality=80, exif=exif)
    vpc_peering().save(vault / "AWS" / "Networking" / "VPC Peering.webp", quality=80)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "examples/vault"))
