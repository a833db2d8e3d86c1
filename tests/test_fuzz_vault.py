"""Fuzzing the whole build with hostile vault trees (hypothesis).

Each example writes a vault of odd folder and file names, notes of odd bytes, pictures that are
broken, deep or huge, symbolic links (loops, outside, to themselves), named pipes, and junk (big
numbers, wrong types, bad bytes) in the lock file, the state and the render cache; it runs the
real command line twice (a first build, then one over damaged state) and asserts:
- no exception escapes and no guard reports an internal error;
- no hang (an alarm per example, generous);
- nothing outside the output folder (and the vault's lock file and the picture cache) changes;
- every package imports into a real Anki collection with as many notes as the summary counts.

`make test` runs a few examples (always the same); `make fuzz` runs FUZZ_EXAMPLES (default 1000).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import tempfile
from pathlib import Path

import ankiutil
from hostile import snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_build import png
from test_hostile_pictures import huge_animation, nested_svg

from ankigen import cli

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
ALARM_SECONDS = 120
HOSTILE_LOCKS = os.environ.get("FUZZ_LOCK", "1") == "1"
# A record of the wrong type, a marshal bomb (from when the cache was marshal), deep nesting.
_CACHE_JUNK = [
    b'{"x": 1}',
    b'{"x": "<script>alert(1)</script>"}',
    b"(\xff\xff\xff\x7f",
    b"[" * 50_000,
]

# ---------------------------------------------------------------- strategies

_ODD_NAMES = [
    "A",
    "Notes",
    "x" * 250,
    "café",
    "we\x1fird",
    "new\nline",
    "esc\x1b[31m",
    " space ",
    "dot.",
    "-dash",
    "日本語",
    "a:b",
    "ankigen.lock",
    "files",
    "%%",
    "#Question",
]
names = st.one_of(
    st.sampled_from(_ODD_NAMES),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
        min_size=1,
        max_size=12,
    ),
).filter(lambda name: name not in (".", "..") and len(name.encode()) <= 250)

_CARD_PIECES = [
    "#Question What is {n}?\nAnswer: {t}\n",
    "#Q Short {n}?\nAnswer:\n- {t}\n",
    "#UseCase {t}\nDo {n}.\n",
    "#Question Picture {n}?\nAnswer: ![[{p}]]\n",
    "#Question Remote {n}?\nAnswer: ![x](http://127.0.0.1:9/{p})\n",
    "#Question Sound {n}?\nAnswer: [sound:{p}]\n",
    "---\ntags: [{t}]\naliases: *a\n---\n",
    "%% {t}\n",
    "```\n{t}\n",
    "$\\href{{javascript:alert(1)}}{{{t}}}$\n",
    "<script>{t}</script><img src=x onerror=alert(1)>\n",
    "\u2028\f\x1f\x1b[2J{t}\r\n",
]
note_text = st.lists(
    st.tuples(
        st.sampled_from(_CARD_PIECES),
        st.text(max_size=30),
        st.sampled_from(["pic.png", "deep.svg", "huge.gif", "pipe.png", "../../x.png", "loop"]),
    ),
    max_size=6,
).map(
    lambda parts: "".join(
        piece.format(n=i, t=text.replace("{", "").replace("}", ""), p=pic)
        for i, (piece, text, pic) in enumerate(parts)
    )
)
note_bytes = st.one_of(
    note_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
)
pictures = st.sampled_from(
    [
        png(),
        b"\x89PNG\r\n\x1a\n broken",
        nested_svg(3000),
        nested_svg(5),
        huge_animation(3200, 3200, 5000),
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"",
    ]
)
big_numbers = st.sampled_from(
    [10**20, -(10**20), 2**63, 1e308, float("inf"), float("nan"), -1, 0, "1", None, [], {}]
)


@st.composite
def junk_json(draw) -> bytes:
    """Something the lock or state could hold after a careless edit or an attack."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(st.binary(max_size=64))
    if choice == 1:
        return b"[" * draw(st.integers(1, 100_000))
    number = draw(big_numbers)
    if choice == 2:  # a lock with hostile numbers
        data = {
            "version": 1,
            "model": {"fingerprint": "x", "mod": number},
            "notes": {
                "A/n.md": [
                    {"guid": "g", "question": "q", "content": "c", "answer": "a", "mod": number}
                ]
            },
        }
    elif choice == 3:  # a state with hostile numbers and names
        record = {
            "package": draw(st.sampled_from(["../victim.txt", "/tmp/x.apkg", "ok.apkg", ""])),
            "notes": {"A/n.md": [number, number, ""]},
            "pictures": {},
            "cards": number,
            "use_cases": 0,
            "diagnostics": [["A/n.md", 1, "warning", "\x1b[2J"]],
            "retry": False,
        }
        data = {"format": 1, "key": "k", "vault": "", "folders": {"A": record, "Gone": record}}
    else:
        data = {"format": 1, "version": 2, "notes": number, "folders": number, "key": number}
    return json.dumps(data, allow_nan=True).encode()


@st.composite
def vaults(draw) -> dict:
    """A plan of a vault: entries to create, then junk for the lock, state and cache."""
    folders = draw(st.lists(st.lists(names, min_size=1, max_size=3), max_size=4))
    folders = [[], *folders]
    entries = []
    for _ in range(draw(st.integers(1, 10))):
        folder = draw(st.sampled_from(folders))
        kind = draw(
            st.sampled_from(["note", "note", "note", "picture", "link", "fifo", "bytes-note"])
        )
        name = draw(names)
        if kind in ("note", "bytes-note"):
            name += ".md"
        elif kind == "picture":
            name = draw(st.sampled_from(["pic.png", "deep.svg", "huge.gif", name + ".png"]))
        payload: object = None
        if kind == "note":
            payload = draw(note_text).encode("utf-8", "surrogatepass")
        elif kind == "bytes-note":
            payload = draw(note_bytes)
        elif kind == "picture":
            payload = draw(pictures)
        elif kind == "link":
            payload = draw(
                st.sampled_from([".", "..", "../..", name, "missing", "OUTSIDE", "OUTSIDE/s.md"])
            )
        elif kind == "fifo":
            name = draw(st.sampled_from([name + ".md", "pipe.png", name]))
        entries.append((folder, kind, name, payload))
    return {
        "entries": entries,
        "lock": draw(st.none() | junk_json()) if os.environ.get("FUZZ_LOCK", "1") == "1" else None,
        "state": draw(st.none() | junk_json()),
        "cache": draw(
            st.none()
            | st.binary(max_size=64)
            | st.just(b'{"x": 1}')
            | st.just(b"(\xff\xff\xff\x7f")
        ),
        # Something else where the state or cache should be: a folder, a pipe, a link out.
        "squatter": draw(st.none() | st.sampled_from(["folder", "fifo", "link", "linked-state"])),
    }


# ---------------------------------------------------------------- the property


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no result after {ALARM_SECONDS} s")


def _write(root: Path, plan: dict) -> Path:
    vault = root / "vault"
    vault.mkdir()
    outside = root / "OUTSIDE"
    outside.mkdir()
    (outside / "s.md").write_text("#Question Secret?\nAnswer: never in a deck\n")
    # The note the junk lock and state name: their numbers reach the build through it.
    (vault / "A").mkdir()
    (vault / "A" / "n.md").write_text("#Question Anchor?\nAnswer: always here\n")
    for folder, kind, name, payload in plan["entries"]:
        directory = vault.joinpath(*folder)
        with contextlib.suppress(OSError):  # a name may clash with an earlier entry
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / name
            if path.exists() or path.is_symlink():
                continue
            if kind == "link":
                target = (
                    str(outside) + payload[len("OUTSIDE") :] if "OUTSIDE" in payload else payload
                )
                os.symlink(target, path)
            elif kind == "fifo":
                os.mkfifo(path)
            else:
                path.write_bytes(payload)
    lock = vault / "ankigen.lock"
    if plan["lock"] is not None and not (lock.exists() or lock.is_symlink()):
        (vault / "ankigen.lock").write_bytes(plan["lock"])
    return vault


def _squat(folder: Path, kind: str, outside: Path) -> None:
    """Put something that is not a file of ours at the state's and the caches' places."""
    if kind == "linked-state":  # the whole state folder a link out of the output folder
        shutil.rmtree(folder, ignore_errors=True)
        folder.symlink_to(outside.parent)
        return
    for path in [folder / "state.json", *folder.glob("rendered-*")]:
        if path.is_file():
            path.unlink()
        if kind == "folder":
            path.mkdir()
            (path / "inner").write_text("keep")
        elif kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to(outside)


def _lock_files(vault: Path) -> list[Path]:
    """What ankigen may write in the vault: the lock, and the file a lock link inside the
    vault leads to (the identity stage writes through such a link)."""
    lock = vault / "ankigen.lock"
    target = Path(os.path.realpath(lock))
    inside = target.is_relative_to(vault) and target != lock
    return [lock, target] if lock.is_symlink() and inside else [lock]


def _build(vault: Path, out: Path) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    args = [str(vault), "-o", str(out), "--offline", "--cache-dir", str(out.parent / "cache")]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.run(args, prog="ankigen")
    return code, stdout.getvalue(), stderr.getvalue()


def _check(root: Path, vault: Path, out: Path, code: int, stdout: str, stderr: str) -> None:
    assert code in (0, 1), stderr
    assert "Traceback" not in stderr
    assert "internal error" not in stderr and "failed on it" not in stderr, stderr
    for line in (stdout + stderr).splitlines():
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", line), repr(line)
    counted = re.search(r"(\d+) question cards?, (\d+) use cases?", stdout)
    expected = int(counted[1]) + int(counted[2]) if counted else 0
    imported = 0
    anki = root / f"anki-{len(list(root.glob('anki-*')))}"
    anki.mkdir()
    col = ankiutil.new_collection(anki)
    try:
        for package in sorted(out.glob("*.apkg")):
            ankiutil.import_package(col, package)
        imported = len(col.find_notes(""))
        for nid in col.find_notes(""):
            assert "Secret?" not in col.get_note(nid)["Question"]
    finally:
        col.close()
    assert imported == expected, (imported, stdout, stderr)


@settings(
    max_examples=EXAMPLES,
    derandomize=os.environ.get("FUZZ_EXAMPLES") is None,  # make test: the same few every time
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plan=vaults())
def test_hostile_vault_trees_never_break_the_build(plan):
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(ALARM_SECONDS)
    root = Path(tempfile.mkdtemp(prefix="ankigen-fuzz-"))
    try:
        vault = _write(root, plan)
        out = root / "out"
        allowed = (out, root / "cache", *_lock_files(vault))
        before = snapshot(root, *allowed)
        code, stdout, stderr = _build(vault, out)
        _check(root, vault, out, code, stdout, stderr)
        # Damage what the first build left, then build again over it.
        if plan["state"] is not None:
            (out / ".ankigen" / "state.json").write_bytes(plan["state"])
        if plan["cache"] is not None:
            for cache in (out / ".ankigen").glob("rendered-*"):
                cache.write_bytes(plan["cache"])
        if plan["squatter"] is not None:
            _squat(out / ".ankigen", plan["squatter"], root / "OUTSIDE" / "s.md")
        code, stdout, stderr = _build(vault, out)
        _check(root, vault, out, code, stdout, stderr)
        assert snapshot(root, *allowed, *root.glob("anki-*")) == before
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        shutil.rmtree(root, ignore_errors=True)
