"""The network edge against a real HTTP server on 127.0.0.1: outcomes, retries, cache."""

from __future__ import annotations

import hashlib
import socket
import threading
from pathlib import Path

from imageserver import (
    ETAG,
    HUGE_SIZE,
    LAST_MODIFIED,
    ImageServer,
    Route,
    image_server_fixture,  # noqa: F401 (the fixture)
)

from ankigen import __version__
from ankigen.fetch import Fetcher, MediaOptions


def options(tmp_path: Path, **changes: object) -> MediaOptions:
    """Short timeouts, no backoff wait: the suite stays fast."""
    base: dict[str, object] = dict(
        cache_dir=tmp_path / "cache", timeout=1.0, retry_backoff=0.0, jobs=4
    )
    base.update(changes)
    return MediaOptions(**base)  # type: ignore[arg-type]


def fetch_one(opts: MediaOptions, url: str):
    with Fetcher(opts) as fetcher:
        return fetcher.fetch_all([url])[url]


def test_good_png_is_downloaded_with_ankigen_user_agent(tmp_path, image_server: ImageServer):
    outcome = fetch_one(options(tmp_path), image_server.url("/good.png"))
    assert outcome.ok and outcome.source == "network"
    assert outcome.data == image_server.good_png
    (request,) = image_server.requests_for("/good.png")
    assert request.headers["User-Agent"].startswith(f"ankigen/{__version__} (+https://")


def test_http_404_is_a_failure_with_the_status(tmp_path, image_server: ImageServer):
    outcome = fetch_one(options(tmp_path), image_server.url("/missing.png"))
    assert not outcome.ok
    assert outcome.error == "HTTP 404 Not Found"


def test_server_error_is_retried_and_then_succeeds(tmp_path, image_server: ImageServer):
    outcome = fetch_one(options(tmp_path), image_server.url("/flaky.png"))
    assert outcome.ok and outcome.data == image_server.good_png
    assert [r.status for r in image_server.requests_for("/flaky.png")] == [500, 200]


def test_server_error_without_retries_fails(tmp_path, image_server: ImageServer):
    outcome = fetch_one(options(tmp_path, retries=0), image_server.url("/flaky.png"))
    assert outcome.error == "HTTP 500 Internal Server Error"


def test_slow_server_hits_the_read_timeout(tmp_path, image_server: ImageServer):
    outcome = fetch_one(options(tmp_path, timeout=0.5), image_server.url("/slow.png"))
    assert not outcome.ok
    assert outcome.error == "no answer within 0.5 s"


def test_trickling_server_hits_the_total_deadline(tmp_path, image_server: ImageServer):
    # Each byte comes well within the read timeout; only the deadline can stop it.
    opts = options(tmp_path, timeout=1.0, deadline=1.2)
    outcome = fetch_one(opts, image_server.url("/trickle.png"))
    assert not outcome.ok
    assert outcome.error == "download took longer than 1.2 s"


def test_html_served_as_png_is_not_an_image(tmp_path, image_server: ImageServer):
    outcome = fetch_one(options(tmp_path), image_server.url("/page.png"))
    assert outcome.error == "not an image or a sound (the server sent text/html)"
    # Nothing was cached: offline it is still missing.
    again = fetch_one(options(tmp_path, offline=True), image_server.url("/page.png"))
    assert again.error == "not in the cache (offline)"


def test_oversized_body_with_length_is_refused_before_reading(tmp_path, image_server):
    outcome = fetch_one(
        options(tmp_path, max_download_bytes=64 * 1024), image_server.url("/huge.png")
    )
    assert outcome.error == "larger than 0.0625 MB"


def test_oversized_body_without_length_stops_at_the_cap(tmp_path, image_server: ImageServer):
    cap = 64 * 1024
    outcome = fetch_one(
        options(tmp_path, max_download_bytes=cap), image_server.url("/huge-unsized.png")
    )
    assert outcome.error == "larger than 0.0625 MB"
    assert 4 * cap < HUGE_SIZE  # the server had much more to send


def test_redirect_is_followed(tmp_path, image_server: ImageServer):
    outcome = fetch_one(options(tmp_path), image_server.url("/redirect.png"))
    assert outcome.data == image_server.good_png
    assert len(image_server.requests_for("/good.png")) == 1


def test_redirect_to_ftp_is_refused(tmp_path, image_server: ImageServer):
    outcome = fetch_one(options(tmp_path), image_server.url("/redirect-ftp.png"))
    assert outcome.error == "redirected to a URL that is not http or https"


def test_refused_connection_is_a_failure(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = fetch_one(options(tmp_path, retries=0), f"http://127.0.0.1:{port}/x.png")
    assert outcome.error == "connection refused"


def test_only_http_and_https_are_fetched(tmp_path):
    with Fetcher(options(tmp_path)) as fetcher:
        outcomes = fetcher.fetch_all(["file:///etc/passwd", "ftp://example.org/x.png"])
    assert {o.error for o in outcomes.values()} == {"only http and https pictures are fetched"}


def test_etag_revalidation_by_a_new_fetcher_costs_no_body(tmp_path, image_server: ImageServer):
    url = image_server.url("/etag.png")
    first = fetch_one(options(tmp_path), url)
    second = fetch_one(options(tmp_path), url)  # a new Fetcher: a second build
    assert first.source == "network" and second.source == "revalidated"
    assert second.data == image_server.good_png
    log = image_server.requests_for("/etag.png")
    assert [(r.status, r.body_bytes) for r in log] == [(200, len(image_server.good_png)), (304, 0)]
    assert log[1].headers["If-None-Match"] == ETAG


def test_last_modified_revalidation(tmp_path, image_server: ImageServer):
    url = image_server.url("/last-modified.png")
    fetch_one(options(tmp_path), url)
    second = fetch_one(options(tmp_path), url)
    assert second.source == "revalidated"
    log = image_server.requests_for("/last-modified.png")
    assert [r.status for r in log] == [200, 304]
    assert log[1].headers["If-Modified-Since"] == LAST_MODIFIED


def test_fresh_max_age_entry_makes_no_request(tmp_path, image_server: ImageServer):
    url = image_server.url("/max-age.png")
    fetch_one(options(tmp_path), url)
    second = fetch_one(options(tmp_path), url)
    assert second.source == "cache" and second.data == image_server.good_png
    assert len(image_server.requests_for("/max-age.png")) == 1


def test_offline_makes_no_request_and_uses_the_cache(tmp_path, image_server: ImageServer):
    cached, uncached = image_server.url("/etag.png"), image_server.url("/good.png")
    fetch_one(options(tmp_path), cached)
    before = len(image_server.log)
    with Fetcher(options(tmp_path, offline=True)) as fetcher:
        outcomes = fetcher.fetch_all([cached, uncached])
    assert len(image_server.log) == before == 1
    assert outcomes[cached].data == image_server.good_png
    assert outcomes[cached].source == "cache"
    assert outcomes[uncached].error == "not in the cache (offline)"


def test_corrupt_cache_entry_is_fetched_again(tmp_path, image_server: ImageServer):
    url = image_server.url("/etag.png")
    fetch_one(options(tmp_path), url)
    digest = hashlib.sha256(image_server.good_png).hexdigest()
    (blob,) = (tmp_path / "cache").rglob(digest)
    blob.write_bytes(image_server.good_png[:50])  # truncated, as after a crash
    again = fetch_one(options(tmp_path), url)
    assert again.source == "network" and again.data == image_server.good_png
    log = image_server.requests_for("/etag.png")
    assert [r.status for r in log] == [200, 200]
    assert "If-None-Match" not in log[1].headers  # no revalidation against a bad body
    assert blob.read_bytes() == image_server.good_png


def test_each_url_is_fetched_at_most_once_per_fetcher(tmp_path, image_server: ImageServer):
    url = image_server.url("/good.png")
    seen: list[tuple[int, int]] = []
    with Fetcher(options(tmp_path)) as fetcher:
        first = fetcher.fetch_all(
            [url, url, image_server.url("/pic.webp")], lambda d, t: seen.append((d, t))
        )
        second = fetcher.fetch_all([url], lambda d, t: seen.append((d, t)))
    assert list(first) == sorted({url, image_server.url("/pic.webp")})
    assert second[url] is first[url]
    assert len(image_server.requests_for("/good.png")) == 1
    assert seen[:3] == [(0, 2), (1, 2), (2, 2)]
    assert seen[3:] == [(1, 1)]


def test_two_fetchers_sharing_a_cache_at_once(tmp_path, image_server: ImageServer):
    urls = [image_server.url(p) for p in ("/good.png", "/pic.webp", "/photo.jpg", "/etag.png")]
    results: list[dict] = []

    def build() -> None:
        with Fetcher(options(tmp_path)) as fetcher:
            results.append(dict(fetcher.fetch_all(urls)))

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and all(o.ok for r in results for o in r.values())
    assert not [p for p in (tmp_path / "cache").rglob(".tmp-*")]
    offline = Fetcher(options(tmp_path, offline=True)).fetch_all(urls)
    assert all(o.source == "cache" for o in offline.values())


def test_cached_copy_is_used_when_the_server_fails_but_not_when_it_is_gone(
    tmp_path, image_server: ImageServer
):
    url = image_server.url("/etag.png")
    fetch_one(options(tmp_path), url)
    image_server.routes["/etag.png"] = Route(status=503, body=b"down")
    stale = fetch_one(options(tmp_path, retries=0), url)
    assert stale.source == "stale" and stale.data == image_server.good_png
    assert stale.error == "HTTP 503 Service Unavailable"
    image_server.routes["/etag.png"] = Route(status=404, body=b"gone")
    gone = fetch_one(options(tmp_path, retries=0), url)
    assert gone.data is None and gone.error == "HTTP 404 Not Found"
