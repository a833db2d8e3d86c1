"""The picture workload of `make bench`: a vault full of pasted screenshots (gen_pictures.py),
built cold, with nothing changed and with one note edited, beside its floor measured in the
same rounds: reading the same pictures and writing them into one zip file per folder without
recompression (what any tool must at least do to ship them).

    .venv/bin/python bench/pictures.py [--pictures 3000] [--repeat 3]

Also reported: the size of the packages against the same build with every picture re-encoded
(ankigen's rule before pictures within the limits kept their bytes).
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_pictures import generate
from run import (
    REPO,
    Run,
    ankigen_tool,
    check,
    load,
    machine,
    measure,
    median,
    mib,
    ratio,
    seconds,
    size_of,
    table,
)

FLOOR = r"""
import re, sys, zipfile
from pathlib import Path
vault, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
embed = re.compile(r"!\[\[([^\]|#]+)")
for folder in sorted(p for p in vault.iterdir() if p.is_dir() and not p.name.startswith(".")):
    with zipfile.ZipFile(out / (folder.name + ".zip"), "w", zipfile.ZIP_STORED) as archive:
        for note in sorted(folder.glob("*.md")):
            for name in embed.findall(note.read_text(encoding="utf-8")):
                archive.writestr(name, (vault / "attachments" / name).read_bytes())
"""

REENCODED = r"""
import sys
from pathlib import Path
from ankigen import images
from ankigen.images import fit_image
images.PILLOW_PNG_ENCODE = True  # Pillow's own encode at its level 6, as before issue 21
total = sum(
    len(fit_image(p.read_bytes(), 1600, pass_through=False).data)
    for p in sorted(Path(sys.argv[1]).glob("attachments/*"))
)
print(total)
"""


def edit_one_note(vault: Path, round_: int) -> None:
    note = sorted(vault.glob("Topic 00/*.md"))[0]
    text = note.read_text(encoding="utf-8")
    note.write_text(text.replace("Answer:", f"Answer:\nEdited, round {round_}.", 1), "utf-8")


def picture_section(work: Path, pictures: int, repeat: int) -> list[str]:
    """The report lines of the picture workload."""
    vault = work / "picture-vault"
    counts = generate(vault, pictures, folders=16)
    # An installed ankigen has its modules compiled; with PYTHONDONTWRITEBYTECODE set, every
    # run would compile them again (0.2–0.4 s, more than the no-change build's own work).
    compileall.compile_dir(REPO / "ankigen", quiet=1)
    print(
        f"\npicture workload: {counts['pictures']:,} pictures "
        f"({counts['bytes'] / 1e6:.0f} MB), {counts['notes']:,} notes, {counts['cards']:,} cards"
    )
    ours = ankigen_tool(vault, work / "picture-run")
    floor_out = work / "picture-floor"
    floor = [sys.executable, "-c", FLOOR, str(vault), str(floor_out)]
    runs: dict[str, list[Run]] = {"cold": [], "floor": [], "no change": [], "one note edited": []}
    written: list[int] = []
    for round_ in range(repeat):
        ours.clean()
        runs["cold"].append(ours.build("cold"))
        check(ours, counts["cards"])
        runs["floor"].append(measure(floor, memory=False))
        before = {p: p.stat().st_mtime_ns for p in ours.packages()}
        runs["no change"].append(ours.build("no change"))
        written.append(sum(p.stat().st_mtime_ns != before[p] for p in ours.packages()))
        edit_one_note(vault, round_)
        runs["one note edited"].append(ours.build("one note edited"))
        check(ours, counts["cards"])
        print(
            f"  round {round_ + 1}: cold {seconds(runs['cold'][-1].wall)}, floor "
            f"{seconds(runs['floor'][-1].wall)}, no change {seconds(runs['no change'][-1].wall)}, "
            f"one note edited {seconds(runs['one note edited'][-1].wall)}",
            flush=True,
        )
    # The cache warm, the output folder empty: what a CI job with a restored cache does.
    shutil.rmtree(ours.out, ignore_errors=True)
    warm = ours.build("warm cache")
    packages = size_of(ours.packages())
    reencoded = int(
        subprocess.run(
            [sys.executable, "-c", REENCODED, str(vault)],
            check=True,
            capture_output=True,
            text=True,
            cwd=REPO,
        ).stdout
    )
    media = sum(
        info.file_size
        for package in ours.packages()
        for info in zipfile.ZipFile(package).infolist()
        if re.fullmatch(r"\d+", info.filename)
    )
    floor_wall = median(runs["floor"], "wall")
    rows: list[Sequence[str]] = []
    for step in ("cold", "no change", "one note edited"):
        wall, cpu = median(runs[step], "wall"), median(runs[step], "cpu")
        peak = max(run.peak for run in runs[step])
        rows.append((step, seconds(wall), seconds(cpu), ratio(wall, floor_wall), mib(peak)))
    rows.append(
        (
            "cold, picture cache warm",
            seconds(warm.wall),
            seconds(warm.cpu),
            ratio(warm.wall, floor_wall),
            mib(warm.peak),
        )
    )
    return [
        f"## Pictures: {counts['pictures']:,} pasted screenshots and photos",
        "",
        f"Workload: `bench/gen_pictures.py --pictures {pictures}`: {counts['notes']:,} notes, "
        f"{counts['cards']:,} cards in 16 folders, {counts['pictures']:,} pictures "
        f"({counts['bytes'] / 1e6:.0f} MB: PNG and JPEG screenshots 300–2,800 px wide, one in "
        "twelve wider than the 1,600 px limit, three in four PNGs written with the fastest "
        "compression as a pasted picture is; a few photos with EXIF and GPS data). ankigen "
        f"`--offline --quiet`, medians of {repeat} rounds. The floor, in the same rounds: "
        f"reading the same pictures and writing them into one zip per folder, stored, "
        f"median {seconds(floor_wall)}.",
        "",
        *table(("step", "wall", "cpu", "wall ÷ floor", "peak memory, PSS"), rows),
        "",
        f"Packages written by a build with nothing changed: {max(written)} (of "
        f"{len(ours.packages())}).",
        "",
        f"Pictures in the packages: {media / 1e6:.1f} MB; every picture re-encoded (the rule "
        f"before this one): {reencoded / 1e6:.1f} MB ({media / reencoded:.2f}×). All packages: "
        f"{packages / 1e6:.1f} MB.",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it")
    args = parser.parse_args(argv)
    print(f"{machine()}; load {load()}; {os.cpu_count()} cores")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        lines = picture_section(args.keep.resolve(), args.pictures, args.repeat)
    else:
        with tempfile.TemporaryDirectory(prefix="ankigen-pictures-") as work:
            lines = picture_section(Path(work), args.pictures, args.repeat)
    print("\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
