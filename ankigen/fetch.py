"""The network edge: download remote pictures and sounds once, into an on-disk cache.

One requests.Session with urllib3 retries (connection errors, 429 and 5xx, with backoff),
connect/read timeouts plus a total deadline per download, a size cap checked while streaming,
at most `jobs` downloads at once and `jobs_per_host` per host, and a cache revalidated with
ETag / Last-Modified.

The total deadline covers connecting, the headers and the body: each download has a watch that
shuts its socket down when the deadline passes (a server trickling one byte at a time never
trips a read timeout). Workers are daemon threads and every wait can be cut short, so an
interrupt (Ctrl-C) stops the downloads at once instead of waiting for the queue.

The cache is a directory two processes may share: bodies are stored by their SHA-256
(`blobs/<sha256>`), one small JSON entry per URL (`urls/<sha256 of url>.json`). Every file is
written to a temporary name and renamed into place, so a reader sees a whole file or none, and
a body whose hash does not match its name is treated as missing and fetched again. A file's
modification time is its last use; prune_cache() deletes the least recently used files beyond
the size limit.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import platformdirs

if TYPE_CHECKING:  # requests is imported on first download: a build without one starts faster
    import socket  # so are socket and email.utils (a third of this module's import time)

    import requests

from . import __version__, atomic

USER_AGENT = f"ankigen/{__version__} (+https://github.com/ankigen/ankigen)"
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
# Without ETag / Last-Modified / max-age a cached picture is reused this long, then refetched.
HEURISTIC_FRESHNESS = 24 * 3600.0
CHUNK = 64 * 1024
CACHE_LAYOUT = "v1"
CACHE_MAX_BYTES = 500 * 1024 * 1024


@dataclass(frozen=True)
class MediaOptions:
    """How pictures are fetched, cached and fitted."""

    cache_dir: Path | None = None  # None → platformdirs.user_cache_dir("ankigen")
    offline: bool = False  # no network at all; cached pictures used
    timeout: float = 10.0  # connect and read timeout, seconds
    jobs: int = 32  # concurrent downloads, all hosts together
    jobs_per_host: int = 16  # concurrent downloads from one host (scheme, name, port)
    max_image_width: int = 1600
    deadline: float | None = None  # total seconds per download; None → 3 × timeout
    retries: int = 2  # extra attempts after a connection error, 429 or 5xx
    retry_backoff: float = 0.5  # urllib3 backoff factor, seconds
    max_download_bytes: int = MAX_DOWNLOAD_BYTES
    max_image_pixels: int = 89_478_485  # Pillow's decompression-bomb limit
    cache_max_bytes: int = CACHE_MAX_BYTES  # least recently used cache files beyond are pruned

    @property
    def cache_path(self) -> Path:
        return self.cache_dir or Path(platformdirs.user_cache_dir("ankigen"))

    @property
    def download_deadline(self) -> float:
        return self.deadline if self.deadline is not None else 3 * self.timeout


# network: full body; revalidated: 304; cache: fresh, or offline, no request;
# stale: the server failed (connection, timeout, 5xx) and the cached body was used.
Source = Literal["network", "revalidated", "cache", "stale", "failed"]


@dataclass(frozen=True)
class FetchOutcome:
    """What one URL gave: its bytes, or why not."""

    url: str
    data: bytes | None  # None when it failed
    error: str = ""  # why it failed (or, when stale, why the cached copy was used)
    source: Source = "network"
    cached_on: float | None = None  # stale: when the cached copy was downloaded (epoch seconds)
    # Failed for good: the server said the picture is gone (404, 410) or sent something that is
    # not one. A build tries it again only when the cache holds it, or with --force (see
    # state.FolderRecord.missing).
    lasting: bool = False

    @property
    def ok(self) -> bool:
        return self.data is not None


class FetchError(Exception):
    """A download failed; str() is the reason shown to the user."""

    def __init__(self, reason: str, gone: bool = False, lasting: bool = False) -> None:
        super().__init__(reason)
        self.gone = gone  # the server says the picture does not exist (404, 410)
        self.lasting = gone or lasting  # asking again gives the same answer


# ---------------------------------------------------------------- disk cache


@dataclass(frozen=True)
class CacheEntry:
    url: str
    sha256: str
    etag: str | None
    last_modified: str | None
    stored: float  # epoch seconds of the last full download or revalidation
    expires: float | None  # epoch seconds from Cache-Control max-age / Expires


class DiskCache:
    """Content-addressed bodies plus a JSON entry per key; safe for concurrent processes."""

    def __init__(self, root: Path) -> None:
        self.root = root / CACHE_LAYOUT
        self.blobs = self.root / "blobs"
        self.urls = self.root / "urls"
        self.fits = self.root / "fits"

    # -- bodies

    def read_blob(self, sha256: str) -> bytes | None:
        """The body stored under its hash, None if absent or damaged."""
        path = self.blobs / sha256
        try:
            data = atomic.read_regular(path)
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != sha256:
            return None
        _touch(path)
        return data

    def write_blob(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.blobs / sha256
        if self.read_blob(sha256) is None:
            _atomic_write(path, data)
            _USED.set()
            _GREW.set()
        return sha256

    # -- JSON records (URL entries, fit results)

    def read_json(self, folder: Path, key: str) -> dict[str, Any] | None:
        path = folder / f"{_key_hash(key)}.json"
        try:
            record = json.loads(atomic.read_regular(path))
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        _touch(path)
        return record

    def write_json(self, folder: Path, key: str, record: dict[str, Any]) -> None:
        text = json.dumps({"key": key, **record}, sort_keys=True)
        _atomic_write(folder / f"{_key_hash(key)}.json", text.encode("utf-8"))
        _USED.set()
        _GREW.set()

    def entry(self, url: str) -> CacheEntry | None:
        record = self.read_json(self.urls, url)
        if record is None:
            return None
        try:
            return CacheEntry(
                url=url,
                sha256=str(record["sha256"]),
                etag=record.get("etag"),
                last_modified=record.get("last_modified"),
                stored=float(record["stored"]),
                expires=None if record.get("expires") is None else float(record["expires"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def store(self, entry: CacheEntry) -> None:
        record = {
            "sha256": entry.sha256,
            "etag": entry.etag,
            "last_modified": entry.last_modified,
            "stored": entry.stored,
            "expires": entry.expires,
        }
        self.write_json(self.urls, entry.url, record)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _touch(path: Path) -> None:
    """Mark a cache file as used now: pruning removes the least recently used first."""
    with contextlib.suppress(OSError):
        os.utime(path)
    _USED.set()


# ---------------------------------------------------------------- cache size


@dataclass(frozen=True)
class CacheInfo:
    path: Path  # the cache folder (its layout version inside)
    files: int
    size: int  # bytes
    urls: int  # downloaded pictures remembered


def _cache_files(root: Path) -> Iterator[os.DirEntry[str]]:
    """Every regular file of the cache layout (blobs, urls, fits): nothing else is touched."""
    for folder in ("blobs", "urls", "fits"):
        try:
            entries = list(os.scandir(root / CACHE_LAYOUT / folder))
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False):
                    yield entry


def cache_info(root: Path) -> CacheInfo:
    """How much the cache under `root` holds."""
    files = size = urls = 0
    for entry in _cache_files(root):
        with contextlib.suppress(OSError):
            size += entry.stat(follow_symlinks=False).st_size
            files += 1
            urls += (
                entry.path.endswith(".json")
                and os.path.basename(os.path.dirname(entry.path)) == "urls"
            )
    return CacheInfo(root / CACHE_LAYOUT, files, size, urls)


_USED = threading.Event()  # this process read or wrote a cache file
# This process wrote one: only writing grows the cache, so a build that only read it (a rebuild
# with its pictures cached) does not scan the cache's thousands of files, unless the size limit
# is lower than at the last pruning (PRUNED_AT records it).
_GREW = threading.Event()
PRUNED_AT = "pruned-at"


def trim_cache(options: MediaOptions) -> None:
    """After a build: prune the cache to its size limit, if this build wrote to it or the
    limit went down (a build that rendered nothing does not even look)."""
    if not _USED.is_set():
        return
    _USED.clear()
    record = options.cache_path / CACHE_LAYOUT / PRUNED_AT
    if not _GREW.is_set():
        try:
            if options.cache_max_bytes >= int(record.read_text(encoding="ascii")):
                return
        except (OSError, ValueError):
            pass
    _GREW.clear()
    prune_cache(options.cache_path, options.cache_max_bytes)
    with contextlib.suppress(OSError):
        _atomic_write(record, str(options.cache_max_bytes).encode("ascii"))


def prune_cache(root: Path, max_bytes: int) -> int:
    """Delete the least recently used cache files until the cache holds at most max_bytes.

    Leftover temporary files of an interrupted write go first. Returns the bytes freed."""
    entries = []
    for entry in _cache_files(root):
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            # Cache files have hex names; a dot-file is a temporary one, and an old one is a
            # leftover of an interrupted write.
            stale_temp = entry.name.startswith(".") and info.st_mtime < time.time() - 3600
            entries.append((not stale_temp, info.st_mtime, entry.path, info.st_size))
    total = sum(size for *_, size in entries)
    freed = 0
    for _, _, path, size in sorted(entries):
        if total - freed <= max_bytes:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
            freed += size
    return freed


def clear_cache(root: Path) -> int:
    """Delete every file of the cache layout under `root` (never anything else). Bytes freed."""
    freed = prune_cache(root, 0)
    with contextlib.suppress(OSError):
        (root / CACHE_LAYOUT / PRUNED_AT).unlink()
    for folder in ("blobs", "urls", "fits", ""):
        with contextlib.suppress(OSError):
            (root / CACHE_LAYOUT / folder).rmdir()  # only when empty
    return freed


# Cache folders whose stale temporaries this process has swept: a folder holds thousands of
# files, and scanning it before each write made filling it quadratic.
_SWEPT: set[Path] = set()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write a whole file or nothing (a cache: no need to wait for the disk)."""
    folder = path.parent
    swept = folder in _SWEPT
    try:
        atomic.write_bytes(path, data, durable=False, sweep=not swept)
    except FileNotFoundError:
        if not swept:
            raise
        _SWEPT.discard(folder)  # the folder went (the cache was cleared): make it again
        atomic.write_bytes(path, data, durable=False)
    _SWEPT.add(folder)


# ---------------------------------------------------------------- fetcher


class Fetcher:
    """Downloads pictures through one Session, each URL at most once.

    At most `jobs` downloads run at once, and at most `jobs_per_host` of them on one host,
    hosts taking turns, so one slow host neither hogs every slot nor gets hammered."""

    def __init__(self, options: MediaOptions) -> None:
        self.options = options
        self.cache = DiskCache(options.cache_path)
        self._session: requests.Session | None = None  # made on first need: offline opens none
        self._done: dict[str, FetchOutcome] = {}
        self._lock = threading.Lock()
        self._watches: set[_Watch] = set()
        self._cancelled = False

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def cancel(self) -> None:
        """Stop now: running downloads fail at once (their sockets are shut), queued ones never
        start."""
        with self._lock:
            self._cancelled = True
            watches = list(self._watches)
        for watch in watches:
            watch.fire("cancelled")
        self.close()

    def fetch_all(
        self, urls: Sequence[str], progress: Callable[[int, int], None] | None = None
    ) -> Mapping[str, FetchOutcome]:
        """Every URL's outcome; progress(done, total) is called as each one finishes.

        An exception here (KeyboardInterrupt) cancels the downloads still running before it
        propagates: nothing waits for them."""
        wanted = sorted(set(urls))
        todo = [url for url in wanted if url not in self._done]
        total, done = len(wanted), len(wanted) - len(todo)
        if progress is not None and total:
            progress(done, total)
        if todo:
            if not self.options.offline:
                _ = self.session  # one Session, made before the threads share it
            try:
                for _ in self._run(todo):
                    done += 1
                    if progress is not None:
                        progress(done, total)
            except BaseException:
                self.cancel()
                raise
        return {url: self._done[url] for url in wanted}

    def _run(self, todo: list[str]) -> Iterator[str]:
        """Start downloads as slots free up, hosts in turn; yield each URL as it finishes."""
        pending: dict[tuple[str, str, int], deque[str]] = {}
        for url in todo:
            pending.setdefault(_host_key(url), deque()).append(url)
        active = dict.fromkeys(pending, 0)
        limit = max(1, self.options.jobs)
        per_host = max(1, min(self.options.jobs_per_host, limit))
        finished: queue.SimpleQueue[tuple[str, tuple[str, str, int]]] = queue.SimpleQueue()
        running = 0
        left = len(todo)
        while left:
            started = True
            while started and running < limit:
                started = False
                for host in list(pending):
                    if running >= limit:
                        break
                    if active[host] >= per_host:
                        continue
                    url = pending[host].popleft()
                    if not pending[host]:
                        del pending[host]
                    active[host] += 1
                    running += 1
                    started = True
                    # Daemon threads: an interrupted build exits without joining them.
                    threading.Thread(
                        target=self._work,
                        args=(url, host, finished),
                        name="ankigen-fetch",
                        daemon=True,
                    ).start()
            while True:
                try:
                    url, host = finished.get(timeout=0.5)
                    break
                except queue.Empty:  # wake up now and then, so an interrupt is seen at once
                    continue
            active[host] -= 1
            running -= 1
            left -= 1
            yield url

    def _work(
        self,
        url: str,
        host: tuple[str, str, int],
        finished: queue.SimpleQueue[tuple[str, tuple[str, str, int]]],
    ) -> None:
        try:
            self.fetch(url)
        finally:
            finished.put((url, host))

    def fetch(self, url: str) -> FetchOutcome:
        """One URL's outcome, from the cache when it is fresh or still valid."""
        if url in self._done:
            return self._done[url]
        try:
            outcome = self._fetch(url)
        except Exception as exc:  # a worker must not take the build down
            outcome = FetchOutcome(url, None, f"download failed ({type(exc).__name__})", "failed")
        self._done[url] = outcome
        return outcome

    def _fetch(self, url: str) -> FetchOutcome:
        if not url.lower().startswith(("http://", "https://")):
            return FetchOutcome(url, None, "only http and https pictures are fetched", "failed")
        entry = self.cache.entry(url)
        cached = self.cache.read_blob(entry.sha256) if entry else None
        if entry is not None and cached is None:
            entry = None  # damaged or missing body: forget the validators, download again
        if self.options.offline:
            if cached is None:
                return FetchOutcome(url, None, "not in the cache (offline)", "failed")
            return FetchOutcome(url, cached, "", "cache")
        now = time.time()
        if entry is not None and cached is not None and _fresh(entry, now):
            return FetchOutcome(url, cached, "", "cache")
        try:
            return self._download(url, entry, cached)
        except FetchError as exc:
            if cached is not None and entry is not None and not exc.gone:
                return FetchOutcome(url, cached, str(exc), "stale", entry.stored)
            return FetchOutcome(url, None, str(exc), "failed", lasting=exc.lasting)

    def _download(self, url: str, entry: CacheEntry | None, cached: bytes | None) -> FetchOutcome:
        """One download under a watch: its deadline covers connecting, headers and body."""
        watch = _Watch(self.options.download_deadline)
        with self._lock:
            if self._cancelled:
                raise FetchError("download cancelled")
            self._watches.add(watch)
        timer = threading.Timer(self.options.download_deadline, watch.fire)
        timer.daemon = True
        timer.start()
        _LOCAL.watch = watch
        try:
            return self._get(url, entry, cached, watch)
        except _Stopped:
            raise self._stopped(watch) from None
        except FetchError:
            if watch.stop.is_set():
                raise self._stopped(watch) from None
            raise
        except Exception:
            if watch.stop.is_set():  # the socket was shut under the request
                raise self._stopped(watch) from None
            raise
        finally:
            timer.cancel()
            watch.finish()
            _LOCAL.watch = None
            with self._lock:
                self._watches.discard(watch)

    def _stopped(self, watch: _Watch) -> FetchError:
        if watch.reason == "cancelled":
            return FetchError("download cancelled")
        return FetchError(f"download took longer than {self.options.download_deadline:g} s")

    def _get(
        self, url: str, entry: CacheEntry | None, cached: bytes | None, watch: _Watch
    ) -> FetchOutcome:
        import requests

        headers = {}
        if entry is not None:
            if entry.etag:
                headers["If-None-Match"] = entry.etag
            if entry.last_modified:
                headers["If-Modified-Since"] = entry.last_modified
        try:
            response = self.session.get(
                url,
                headers=headers,
                stream=True,
                timeout=(self.options.timeout, self.options.timeout),
            )
        except requests.RequestException as exc:
            if watch.stop.is_set():
                raise _Stopped from None
            raise FetchError(_describe(exc, self.options.timeout)) from None
        with response:
            if response.status_code == 304 and entry is not None and cached is not None:
                with contextlib.suppress(OSError):
                    self.cache.store(_revalidated(entry, response))
                return FetchOutcome(url, cached, "", "revalidated")
            if response.status_code != 200:
                status = f"HTTP {response.status_code} {response.reason or ''}".strip()
                raise FetchError(status, gone=response.status_code in (404, 410))
            data = self._read_body(response, watch)
        from .images import looks_like_sound, sniff_format  # Pillow: only once a body came

        if sniff_format(data) is None and not looks_like_sound(data):
            content_type = response.headers.get("Content-Type", "unknown type").split(";")[0]
            raise FetchError(
                f"not an image or a sound (the server sent {content_type})", lasting=True
            )
        with contextlib.suppress(OSError):  # a read-only or full cache only costs time
            self.cache.store(
                CacheEntry(
                    url=url,
                    sha256=self.cache.write_blob(data),
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                    stored=time.time(),
                    expires=_expires(response.headers),
                )
            )
        return FetchOutcome(url, data, "", "network")

    def _read_body(self, response: requests.Response, watch: _Watch) -> bytes:
        """The body, stopping at the size cap or the deadline, whichever comes first."""
        import requests
        import urllib3

        limit = self.options.max_download_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(f"larger than {_megabytes(limit)}")
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                if watch.stop.is_set() or time.monotonic() > watch.deadline:
                    raise _Stopped
                # read1 returns what one socket read gave, so a trickle still meets the check.
                chunk = response.raw.read1(CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise FetchError(f"larger than {_megabytes(limit)}")
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise FetchError(_describe(exc, self.options.timeout)) from None
        except (OSError, urllib3.exceptions.HTTPError) as exc:  # timeouts, broken connections
            raise FetchError(_describe(exc, self.options.timeout)) from None
        if watch.stop.is_set():  # the socket was shut: what came is not the whole body
            raise _Stopped
        return b"".join(chunks)

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = _make_session(self.options)
        return self._session


def _host_key(url: str) -> tuple[str, str, int]:
    """(scheme, host, port): the unit of the per-host limit, as urllib3 pools connections."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or ""), parts.port or (443 if scheme == "https" else 80)
    except ValueError:  # a malformed port: its download fails on its own
        return "", url, 0


# ---------------------------------------------------------------- deadlines and interrupts


class _Stopped(Exception):
    """Raised inside a download whose watch fired (deadline passed or build interrupted)."""


_LOCAL = threading.local()  # .watch: the _Watch of the download running on this thread


class _Watch:
    """One download's deadline: firing it shuts down the download's sockets, which ends any
    blocking connect, TLS handshake or read at once, and cuts every retry pause short."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.stop = threading.Event()
        self.reason = ""
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._finished = False

    def fire(self, reason: str = "deadline") -> None:
        with self._lock:
            if self._finished or self.stop.is_set():
                return
            self.reason = reason
            self.stop.set()
            sockets = list(self._sockets)
        if sockets:
            import socket
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def add(self, sock: socket.socket) -> None:
        """Watch a socket of this download; _Stopped when the watch has fired already."""
        with self._lock:
            if self.stop.is_set():
                raise _Stopped
            self._sockets.append(sock)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def finish(self) -> None:
        with self._lock:
            self._finished = True
            self._sockets.clear()


def _current_watch() -> _Watch | None:
    return getattr(_LOCAL, "watch", None)


def _pause(seconds: float) -> None:
    """A retry's wait, ended early when the download's watch fires."""
    watch = _current_watch()
    if watch is None:
        time.sleep(seconds)
    elif watch.stop.wait(min(seconds, max(0.0, watch.remaining()))) or watch.remaining() <= 0:
        raise _Stopped


@functools.cache
def _watched_pools() -> dict[str, type]:
    """urllib3 connection pools whose connections report their sockets to the thread's watch."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class WatchedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            watch = _current_watch()
            if watch is not None:
                if watch.stop.is_set():
                    raise _Stopped
                # The connect timeout never reaches past the deadline.
                remaining = max(0.001, watch.remaining())
                if not isinstance(self.timeout, int | float) or self.timeout > remaining:
                    self.timeout = remaining
            sock = super()._new_conn()
            if watch is not None:
                try:
                    watch.add(sock)
                except _Stopped:
                    sock.close()
                    raise
            return sock

        def request(self, *args: Any, **kwargs: Any) -> None:
            watch = _current_watch()
            if watch is not None and self.sock is not None:  # a kept-alive connection
                watch.add(self.sock)
            super().request(*args, **kwargs)

    class WatchedHTTPSConnection(WatchedHTTPConnection, HTTPSConnection):
        pass

    class WatchedHTTPPool(HTTPConnectionPool):
        ConnectionCls = WatchedHTTPConnection

    class WatchedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = WatchedHTTPSConnection

    return {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}


def _make_session(options: MediaOptions) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    class PausingRetry(Retry):
        def sleep(self, response: Any = None) -> None:
            seconds = 0.0
            if self.respect_retry_after_header and response:
                seconds = self.get_retry_after(response) or 0.0
            if not seconds:
                seconds = self.get_backoff_time()
            if seconds > 0:
                _pause(seconds)

    retry = PausingRetry(
        total=options.retries,
        connect=options.retries,
        read=0,  # a server too slow to answer stays too slow: no second wait
        redirect=5,
        status=options.retries,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        backoff_factor=options.retry_backoff,
        backoff_max=options.timeout,
        raise_on_status=False,
        retry_after_max=max(1, int(options.timeout)),
    )
    per_host = max(1, min(options.jobs_per_host, options.jobs))
    adapter = HTTPAdapter(
        max_retries=retry, pool_connections=max(10, options.jobs), pool_maxsize=per_host
    )
    adapter.poolmanager.pool_classes_by_scheme = _watched_pools()
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.max_redirects = 5
    # Only these two adapters exist, so a redirect to file:, ftp:, … cannot be followed.
    session.adapters.clear()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _fresh(entry: CacheEntry, now: float) -> bool:
    if entry.expires is not None:
        return now < entry.expires
    if entry.etag or entry.last_modified:
        return False  # revalidate: a conditional request costs no body
    return now < entry.stored + HEURISTIC_FRESHNESS


def _expires(headers: Mapping[str, str]) -> float | None:
    """When the server says the body goes stale (None: it did not say)."""
    now = time.time()
    directives = [d.strip().lower() for d in headers.get("Cache-Control", "").split(",")]
    if "no-cache" in directives or "no-store" in directives:
        return now  # stale at once; no-store is still kept so offline builds work
    for directive in directives:
        if directive.startswith("max-age="):
            try:
                return now + max(0, int(directive[8:]))
            except ValueError:
                return now
    expires = headers.get("Expires")
    if expires:
        import email.utils

        try:
            return email.utils.parsedate_to_datetime(expires).timestamp()
        except (TypeError, ValueError):
            return now
    return None


def _revalidated(entry: CacheEntry, response: requests.Response) -> CacheEntry:
    return CacheEntry(
        url=entry.url,
        sha256=entry.sha256,
        etag=response.headers.get("ETag", entry.etag),
        last_modified=response.headers.get("Last-Modified", entry.last_modified),
        stored=time.time(),
        expires=_expires(response.headers),
    )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def _describe(exc: BaseException, timeout: float) -> str:
    """A short reason for a failed request, without a traceback."""
    import requests

    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"could not connect within {timeout:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout) or "Read timed out" in text:
        return f"no answer within {timeout:g} s"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, requests.exceptions.InvalidSchema | requests.exceptions.InvalidURL):
        return "redirected to a URL that is not http or https"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error"
    if "NameResolutionError" in text or "Name or service not known" in text:
        return "host not found"
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "connection refused"
    if isinstance(exc, requests.exceptions.RetryError):
        return "too many failed attempts"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection failed"
    return f"download failed ({type(exc).__name__})"
