"""The network edge: download remote pictures once, into an on-disk cache.

One requests.Session with urllib3 retries (connection errors, 429 and 5xx, with backoff),
connect/read timeouts plus a total deadline per download, a size cap checked while streaming,
a bounded thread pool, and a cache revalidated with ETag / Last-Modified.

The cache is a directory two processes may share: bodies are stored by their SHA-256
(`blobs/<sha256>`), one small JSON entry per URL (`urls/<sha256 of url>.json`). Every file is
written to a temporary name and renamed into place, so a reader sees a whole file or none, and
a body whose hash does not match its name is treated as missing and fetched again.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import platformdirs

if TYPE_CHECKING:  # requests is imported on first download: a build without one starts faster
    import requests

from . import __version__, atomic
from .images import sniff_format

USER_AGENT = f"ankigen/{__version__} (+https://github.com/ankigen/ankigen)"
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
# Without ETag / Last-Modified / max-age a cached picture is reused this long, then refetched.
HEURISTIC_FRESHNESS = 24 * 3600.0
CHUNK = 64 * 1024
CACHE_LAYOUT = "v1"


@dataclass(frozen=True)
class MediaOptions:
    """How pictures are fetched, cached and fitted."""

    cache_dir: Path | None = None  # None → platformdirs.user_cache_dir("ankigen")
    offline: bool = False  # no network at all; cached pictures used
    timeout: float = 10.0  # connect and read timeout, seconds
    jobs: int = 8  # concurrent downloads
    max_image_width: int = 1600
    deadline: float | None = None  # total seconds per download; None → 3 × timeout
    retries: int = 2  # extra attempts after a connection error, 429 or 5xx
    retry_backoff: float = 0.5  # urllib3 backoff factor, seconds
    max_download_bytes: int = MAX_DOWNLOAD_BYTES
    max_image_pixels: int = 89_478_485  # Pillow's decompression-bomb limit

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

    @property
    def ok(self) -> bool:
        return self.data is not None


class FetchError(Exception):
    """A download failed; str() is the reason shown to the user."""

    def __init__(self, reason: str, gone: bool = False) -> None:
        super().__init__(reason)
        self.gone = gone  # the server says the picture does not exist (404, 410)


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
        try:
            data = atomic.read_regular(self.blobs / sha256)
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == sha256 else None

    def write_blob(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.blobs / sha256
        if self.read_blob(sha256) is None:
            _atomic_write(path, data)
        return sha256

    # -- JSON records (URL entries, fit results)

    def read_json(self, folder: Path, key: str) -> dict[str, Any] | None:
        try:
            record = json.loads(atomic.read_regular(folder / f"{_key_hash(key)}.json"))
        except (OSError, ValueError, RecursionError):
            return None
        return record if isinstance(record, dict) and record.get("key") == key else None

    def write_json(self, folder: Path, key: str, record: dict[str, Any]) -> None:
        text = json.dumps({"key": key, **record}, sort_keys=True)
        _atomic_write(folder / f"{_key_hash(key)}.json", text.encode("utf-8"))

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


def _atomic_write(path: Path, data: bytes) -> None:
    """Write a whole file or nothing (a cache: no need to wait for the disk)."""
    atomic.write_bytes(path, data, durable=False)


# ---------------------------------------------------------------- fetcher


class Fetcher:
    """Downloads pictures through one Session and a bounded pool; each URL at most once."""

    def __init__(self, options: MediaOptions) -> None:
        self.options = options
        self.cache = DiskCache(options.cache_path)
        self._session: requests.Session | None = None  # made on first need: offline opens none
        self._done: dict[str, FetchOutcome] = {}

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def fetch_all(
        self, urls: Sequence[str], progress: Callable[[int, int], None] | None = None
    ) -> Mapping[str, FetchOutcome]:
        """Every URL's outcome; progress(done, total) is called as each one finishes."""
        wanted = sorted(set(urls))
        todo = [url for url in wanted if url not in self._done]
        total, done = len(wanted), len(wanted) - len(todo)
        if progress is not None and total:
            progress(done, total)
        if todo:
            if not self.options.offline:
                _ = self.session  # one Session, made before the threads share it
            workers = max(1, min(self.options.jobs, len(todo)))
            with ThreadPoolExecutor(workers, thread_name_prefix="ankigen-fetch") as pool:
                futures = [pool.submit(self.fetch, url) for url in todo]
                for future in as_completed(futures):
                    done += 1
                    future.result()
                    if progress is not None:
                        progress(done, total)
        return {url: self._done[url] for url in wanted}

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
            if cached is not None and not exc.gone:
                return FetchOutcome(url, cached, str(exc), "stale")
            return FetchOutcome(url, None, str(exc), "failed")

    def _download(self, url: str, entry: CacheEntry | None, cached: bytes | None) -> FetchOutcome:
        import requests

        headers = {}
        if entry is not None:
            if entry.etag:
                headers["If-None-Match"] = entry.etag
            if entry.last_modified:
                headers["If-Modified-Since"] = entry.last_modified
        started = time.monotonic()
        deadline = started + self.options.download_deadline
        try:
            response = self.session.get(
                url,
                headers=headers,
                stream=True,
                timeout=(self.options.timeout, self.options.timeout),
            )
        except requests.RequestException as exc:
            raise FetchError(_describe(exc, self.options.timeout)) from None
        with response:
            if response.status_code == 304 and entry is not None and cached is not None:
                with contextlib.suppress(OSError):
                    self.cache.store(_revalidated(entry, response))
                return FetchOutcome(url, cached, "", "revalidated")
            if response.status_code != 200:
                status = f"HTTP {response.status_code} {response.reason or ''}".strip()
                raise FetchError(status, gone=response.status_code in (404, 410))
            data = self._read_body(response, deadline)
        kind = sniff_format(data)
        if kind is None:
            content_type = response.headers.get("Content-Type", "unknown type").split(";")[0]
            raise FetchError(f"not an image (the server sent {content_type})")
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

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        import requests
        import urllib3

        """The body, stopping at the size cap or the deadline, whichever comes first."""
        limit = self.options.max_download_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(f"larger than {_megabytes(limit)}")
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(
                        f"download took longer than {self.options.download_deadline:g} s"
                    )
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
        return b"".join(chunks)

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = _make_session(self.options)
        return self._session


def _make_session(options: MediaOptions) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
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
    adapter = HTTPAdapter(
        max_retries=retry, pool_connections=options.jobs, pool_maxsize=options.jobs
    )
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
