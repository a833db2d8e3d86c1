"""Mermaid diagrams drawn offline into SVG by the real Mermaid engine.

The engine is mermaid.js (bundled by the ``mermaidx`` package) running in QuickJS, an embedded
JavaScript engine, with a small DOM of its own: no browser, no Node.js, no network. It runs in
a child process (``python -m ankigen.mermaid``), one per process that draws, so a diagram that
takes too long is stopped by ending that process. Every source of randomness is fixed
(Math.random is a seeded generator, ids are deterministic), so the same source gives the same
bytes on every build; drawings are cached by the hash of their source and the engine version.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fetch import DiskCache

MAX_SOURCE_CHARS = 20_000  # a longer diagram is kept as code
MAX_SVG_BYTES = 1024 * 1024  # what the media stage accepts as a data: URL
TIMEOUT_SECONDS = 60.0  # one diagram; the engine is ended past it
# The cache key holds this file's own hash: a change to the config or the post-processing
# draws anew.
_FORMAT = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]

# Labels as SVG text, not HTML in <foreignObject> (which the picture sanitiser drops and some
# Anki clients do not draw inside an <img>); ids that do not depend on the time.
CONFIG = {
    "deterministicIds": True,
    "deterministicIDSeed": "ankigen",
    "htmlLabels": False,
    "flowchart": {"htmlLabels": False},
    "class": {"htmlLabels": False},
    "state": {"htmlLabels": False},
    "securityLevel": "strict",
}
# A fixed-seed generator (mulberry32) in place of Math.random: rough.js strokes and a few
# layouts draw random numbers.
_SEEDED_RANDOM = (
    "(function(){var s=0x2545F491;Math.random=function(){s=s+0x6D2B79F5|0;"
    "var t=Math.imul(s^s>>>15,1|s);t=t+Math.imul(t^t>>>7,61|t)^t;"
    "return((t^t>>>14)>>>0)/4294967296;};})();"
)


def engine_version() -> str | None:
    """The mermaidx package's version, None when it is not installed."""
    try:
        return importlib.metadata.version("mermaidx")
    except importlib.metadata.PackageNotFoundError:
        return None


def draw(source: str, cache_dir: Path | None) -> tuple[bytes | None, str]:
    """(SVG, "") or (None, why it was not drawn)."""
    if len(source) > MAX_SOURCE_CHARS:
        return None, f"longer than {MAX_SOURCE_CHARS:,} characters"
    if not source.strip():
        return None, "empty diagram"
    version = engine_version()
    if version is None:
        return None, "the Mermaid engine is not installed (pip install 'ankigen[mermaid]')"
    key = f"mermaid|{_FORMAT}|{version}|{hashlib.sha256(source.encode()).hexdigest()}"
    cache = _cache(cache_dir)
    if cache is not None:
        record = cache.read_json(cache.fits, key)
        if record is not None:
            if isinstance(record.get("error"), str):
                return None, record["error"]
            data = cache.read_blob(str(record.get("sha256")))
            if data is not None:
                return data, ""
    svg, error, lasting = _engine().render(source)
    if cache is not None and lasting:
        with contextlib.suppress(OSError):
            if svg is not None:
                cache.write_json(cache.fits, key, {"sha256": cache.write_blob(svg)})
            else:
                cache.write_json(cache.fits, key, {"error": error})
    return svg, error


def _cache(cache_dir: Path | None) -> DiskCache | None:
    if cache_dir is None:
        return None
    from .fetch import DiskCache

    return DiskCache(cache_dir)


_VIEWBOX = re.compile(rb'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"')
_ROOT_SIZE = re.compile(rb'(<svg\b[^>]*?) width="100%"')
_MAX_WIDTH_STYLE = re.compile(rb' style="max-width: [\d.]+px;([^"]*)"')


def finish_svg(svg: str) -> bytes:
    """Mermaid's SVG sized by its viewBox (it says width="100%"), with an XML declaration."""
    data = svg.encode("utf-8")
    m = _VIEWBOX.search(data)
    if m:
        width, height = (str(round(float(v))).encode() for v in m.groups())
        data = _ROOT_SIZE.sub(rb'\1 width="' + width + b'" height="' + height + b'"', data, 1)
        data = _MAX_WIDTH_STYLE.sub(rb' style="\1"', data, 1)
    return data


class _Engine:
    """The child process that draws; started on first use, ended on a timeout or exit."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def render(self, source: str) -> tuple[bytes | None, str, bool]:
        """(SVG, error, whether the outcome may be cached)."""
        try:
            process = self._start()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps({"source": source}).encode() + b"\n")
            process.stdin.flush()
            line = _read_line(process.stdout, TIMEOUT_SECONDS)
        except (OSError, TimeoutError) as error:
            self.stop()
            if isinstance(error, TimeoutError):
                return None, f"took longer than {TIMEOUT_SECONDS:g} s", False
            return None, f"the Mermaid engine failed ({error})", False
        try:
            reply = json.loads(line)
        except ValueError:
            self.stop()
            return None, "the Mermaid engine stopped", False
        if "svg" in reply:
            svg = finish_svg(reply["svg"])
            if len(svg) > MAX_SVG_BYTES:
                return None, f"the drawing is larger than {MAX_SVG_BYTES // 1024} KB", True
            return svg, "", True
        return None, _short(str(reply.get("error", "unknown error"))), True

    def _start(self) -> subprocess.Popen[bytes]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ankigen.mermaid"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
        return self.process

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            with contextlib.suppress(OSError):
                process.kill()
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                process.wait(5)


def _short(message: str) -> str:
    """The engine's message on one line ("Parse error on line 2: … Expecting …")."""
    message = message.removeprefix("Error: ")
    return " ".join(message.split())[:300]


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    """One line from the child, or TimeoutError."""
    deadline = time.monotonic() + timeout
    fd = stream.fileno()
    chunks: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise TimeoutError
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                return b"".join(chunks)


_ENGINE: _Engine | None = None
_ENGINE_PID = 0


def _engine() -> _Engine:
    global _ENGINE, _ENGINE_PID
    if _ENGINE is None or os.getpid() != _ENGINE_PID:  # a forked worker starts its own
        _ENGINE, _ENGINE_PID = _Engine(), os.getpid()
        import atexit

        atexit.register(_ENGINE.stop)
    return _ENGINE


def stop() -> None:
    """End this process's engine (a worker does before it finishes)."""
    if _ENGINE is not None and os.getpid() == _ENGINE_PID:
        _ENGINE.stop()


# ---------------------------------------------------------------- the child process


def _serve() -> None:  # pragma: no cover (runs in the child; tests drive it through draw)
    """Read {"source": …} lines, answer {"svg": …} or {"error": …} lines."""
    import warnings

    warnings.simplefilter("ignore")
    from mermaidx.engines.quickjs_engine import Engine

    class SeededEngine(Engine):
        def _build_context(self) -> Any:
            context = super()._build_context()
            context.eval(_SEEDED_RANDOM)
            return context

    engine = SeededEngine()
    engine.start()
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        try:
            source = json.loads(line)["source"]
            reply = {"svg": engine.render_svg(source, "default", CONFIG, None)}
        except Exception as error:  # the engine's message is the user's warning
            reply = {"error": str(error)}
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()
    engine.close()


if __name__ == "__main__":  # pragma: no cover
    _serve()
