"""A real HTTP server on 127.0.0.1 serving pictures and misbehaviours, for tests.

Use the `image_server` fixture (import it into a test module with
`from imageserver import image_server_fixture`) and `image_server.url("/good.png")`. Every
request is logged with its headers, status and body bytes sent, so tests can count what really
went over the wire.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image, ImageDraw

TRICKLE_INTERVAL = 0.3  # seconds between bytes of /trickle.png
SLOW_DELAY = 2.0  # seconds /slow.png waits before answering
HUGE_SIZE = 512 * 1024  # bytes of /huge.png and /huge-unsized.png
ETAG = '"v1-etag"'
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


def png_bytes(size: tuple[int, int] = (120, 80), colour: str = "navy") -> bytes:
    """A small diagram-like PNG: a plain field with a drawn shape."""
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).rectangle((5, 5, size[0] // 2, size[1] // 2), fill=colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg_with_exif(size: tuple[int, int] = (200, 100), orientation: int = 1) -> bytes:
    """A JPEG carrying camera make, GPS position and an orientation in its EXIF."""
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).ellipse((10, 10, size[0] - 10, size[1] - 10), fill="darkred")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0112] = orientation
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 30.0)  # GPSLatitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def webp_bytes(size: tuple[int, int] = (90, 60)) -> bytes:
    image = Image.new("RGBA", size, (0, 128, 0, 200))
    out = io.BytesIO()
    image.save(out, "WEBP", lossless=True)
    return out.getvalue()


@dataclass
class LoggedRequest:
    """Logged when the request arrives (so a client never sees an answer before its log entry);
    status and body_bytes are filled in once the answer is sent."""

    path: str
    headers: dict[str, str]
    status: int = 0
    body_bytes: int = 0


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class ImageServer:
    """The running server: its URLs, its routes and the log of what it answered."""

    def __init__(self) -> None:
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self.routes: dict[str, Route | Callable[[_Handler], None]] = {}
        self._hits: dict[str, int] = {}
        self.good_png = png_bytes()
        self.photo = jpeg_with_exif((400, 200), orientation=6)
        self._install_routes()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.image_server = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests_for(self, path: str) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log if r.path == path]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def hit(self, path: str) -> int:
        """How many times path was asked for, counting this request."""
        with self._lock:
            self._hits[path] = self._hits.get(path, 0) + 1
            return self._hits[path]

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def _install_routes(self) -> None:
        png = self.good_png
        self.routes.update(
            {
                "/good.png": Route(body=png, headers={"Content-Type": "image/png"}),
                "/photo.jpg": Route(body=self.photo, headers={"Content-Type": "image/jpeg"}),
                "/pic.webp": Route(body=webp_bytes(), headers={"Content-Type": "image/webp"}),
                "/missing.png": Route(status=404, body=b"not here"),
                "/page.png": Route(
                    body=b"<!doctype html><html><body>Login</body></html>",
                    headers={"Content-Type": "text/html; charset=utf-8"},
                ),
                "/huge.png": Route(body=b"\x89PNG" + bytes(HUGE_SIZE)),
                "/redirect.png": Route(status=302, headers={"Location": "/good.png"}),
                "/redirect-ftp.png": Route(
                    status=302, headers={"Location": "ftp://127.0.0.1/good.png"}
                ),
                "/max-age.png": Route(body=png, headers={"Cache-Control": "max-age=3600"}),
                "/flaky.png": _flaky,
                "/slow.png": _slow,
                "/trickle.png": _trickle,
                "/huge-unsized.png": _huge_without_length,
                "/etag.png": _etag,
                "/last-modified.png": _last_modified,
            }
        )


class _Handler(BaseHTTPRequestHandler):
    server_version = "imageserver/1"

    @property
    def images(self) -> ImageServer:
        return self.server.image_server  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self.entry = LoggedRequest(self.path, dict(self.headers.items()))
        self.images.record(self.entry)
        path = self.path.split("?", 1)[0]
        route = self.images.routes.get(path, Route(status=404, body=b"no such route"))
        if callable(route):
            route(self)
        else:
            self.answer(route.status, route.body, route.headers)

    def answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        # Logged before the headers leave: a client that needs no body may check the log at once.
        self.logged(status, len(body))
        self.end_headers()
        try:
            if body:
                self.wfile.write(body)
        except OSError:
            self.logged(status, 0)

    def logged(self, status: int, body_bytes: int) -> None:
        self.entry.status = status
        self.entry.body_bytes = body_bytes

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


def _flaky(handler: _Handler) -> None:
    """500 on the first request, the picture from then on."""
    if handler.images.hit("/flaky.png") == 1:
        handler.answer(500, b"try again")
    else:
        handler.answer(200, handler.images.good_png, {"Content-Type": "image/png"})


def _slow(handler: _Handler) -> None:
    time.sleep(SLOW_DELAY)
    handler.answer(200, handler.images.good_png)


def _trickle(handler: _Handler) -> None:
    """Headers at once, then one byte every TRICKLE_INTERVAL: never slow enough to time out."""
    body = handler.images.good_png
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    sent = 0
    try:
        for byte in body:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            sent += 1
            time.sleep(TRICKLE_INTERVAL)
    except OSError:
        pass
    handler.logged(200, sent)


def _huge_without_length(handler: _Handler) -> None:
    """A body with no Content-Length (ends when the connection closes)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.end_headers()
    sent = 0
    try:
        for _ in range(HUGE_SIZE // 4096):
            handler.wfile.write(bytes(4096))
            sent += 4096
    except OSError:
        pass
    handler.logged(200, sent)
    handler.close_connection = True


def _etag(handler: _Handler) -> None:
    if handler.headers.get("If-None-Match") == ETAG:
        handler.answer(304, b"", {"ETag": ETAG})
    else:
        handler.answer(200, handler.images.good_png, {"ETag": ETAG, "Content-Type": "image/png"})


def _last_modified(handler: _Handler) -> None:
    if handler.headers.get("If-Modified-Since") == LAST_MODIFIED:
        handler.answer(304, b"")
    else:
        handler.answer(200, handler.images.good_png, {"Last-Modified": LAST_MODIFIED})


@pytest.fixture(name="image_server")
def image_server_fixture() -> Iterator[ImageServer]:
    """A fresh server per test, so request counts start at zero."""
    server = ImageServer()
    try:
        yield server
    finally:
        server.stop()
