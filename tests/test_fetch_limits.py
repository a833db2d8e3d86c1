"""Download limits against real servers on 127.0.0.1: the total deadline, concurrency per host
and overall, and stopping at once when interrupted (issues 8 and 12).

No test here measures time: each asserts on what the servers observed or on the outcome, and
hang cases run under a generous wall-clock guard.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, write_vault
from imageserver import ImageServer, _Handler, png_bytes

from ankigen.cli import main
from ankigen.fetch import Fetcher, MediaOptions

GUARD = 60.0  # seconds: a hang guard only, far above any expected run


def options(tmp_path: Path, **changes: object) -> MediaOptions:
    base: dict[str, object] = dict(cache_dir=tmp_path / "cache", timeout=1.0, retry_backoff=0.0)
    base.update(changes)
    return MediaOptions(**base)  # type: ignore[arg-type]


def guarded(function, *args):
    """Run function(*args) on a thread; fail (instead of hanging) if it is not done in GUARD."""
    result: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(function(*args))
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD)
    assert not thread.is_alive(), f"still running after {GUARD} s"
    if errors:
        raise errors[0]
    return result[0]


# ---------------------------------------------------------------- the deadline covers headers


def test_headers_trickled_one_byte_at_a_time_meet_the_total_deadline(tmp_path):
    server = ImageServer()
    head = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 200 + b"\r\nContent-Length: 0\r\n\r\n"
    sent: list[int] = []

    def trickle_headers(handler: _Handler) -> None:
        count = 0
        try:
            for byte in head:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                count += 1
                time.sleep(0.5)  # every byte well inside the 1 s read timeout
        except OSError:
            pass
        sent.append(count)
        handler.close_connection = True

    server.routes["/slow-headers.png"] = trickle_headers
    try:
        url = server.url("/slow-headers.png")
        with Fetcher(options(tmp_path, deadline=2.0, retries=0)) as fetcher:
            outcome = guarded(fetcher.fetch_all, [url])[url]
        assert not outcome.ok
        assert outcome.error == "download took longer than 2 s"
        deadline = time.monotonic() + GUARD
        while not sent and time.monotonic() < deadline:
            time.sleep(0.05)  # the server notices the closed connection on its next write
        assert sent and sent[0] < len(head)  # the client hung up before the headers ended
    finally:
        server.stop()


def test_a_server_that_never_answers_is_cut_at_the_deadline_with_retries_pending(tmp_path):
    server = ImageServer()
    release = threading.Event()

    def silent(handler: _Handler) -> None:
        release.wait(GUARD)

    server.routes["/silent.png"] = silent
    try:
        url = server.url("/silent.png")
        opts = options(tmp_path, timeout=5.0, deadline=1.0, retries=3, retry_backoff=5.0)
        with Fetcher(opts) as fetcher:
            outcome = guarded(fetcher.fetch_all, [url])[url]
        assert outcome.error == "download took longer than 1 s"
        assert len(server.requests_for("/silent.png")) == 1
    finally:
        release.set()
        server.stop()


# ---------------------------------------------------------------- concurrency


class Concurrency:
    """Requests in flight, per server and over all servers, as the servers see them."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted  # hold each request until this many are in flight (or a while)
        self.lock = threading.Condition()
        self.now = 0
        self.most = 0
        self.per_host_now: dict[int, int] = {}
        self.per_host_most: dict[int, int] = {}

    def route(self, port: int, body: bytes):
        def handle(handler: _Handler) -> None:
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
                self.per_host_now[port] = self.per_host_now.get(port, 0) + 1
                self.per_host_most[port] = max(
                    self.per_host_most.get(port, 0), self.per_host_now[port]
                )
                self.lock.notify_all()
                # Wait until the client has as many requests out as it should (a client that
                # sends fewer only makes this wait end by its time-out: slower, never wrong).
                self.lock.wait_for(lambda: self.now >= self.wanted, timeout=2.0)
            time.sleep(0.05)
            handler.answer(200, body, {"Content-Type": "image/png"})
            with self.lock:
                self.now -= 1
                self.per_host_now[port] -= 1

        return handle


def test_downloads_respect_the_per_host_limit_and_run_more_than_8_at_once_overall(tmp_path):
    hosts, per_host, per_server = 4, 3, 12
    concurrency = Concurrency(wanted=hosts * per_host)
    servers = [ImageServer() for _ in range(hosts)]
    urls = []
    try:
        for n, server in enumerate(servers):
            body = png_bytes((20 + n, 20))
            for i in range(per_server):
                path = f"/p{i}.png"
                server.routes[path] = concurrency.route(server.port, body)
                urls.append(server.url(path))
        opts = options(tmp_path, jobs=32, jobs_per_host=per_host, timeout=10.0)
        with Fetcher(opts) as fetcher:
            outcomes = guarded(fetcher.fetch_all, urls)
        assert all(outcome.ok for outcome in outcomes.values())
        assert max(concurrency.per_host_most.values()) <= per_host
        assert concurrency.most > 8
        assert concurrency.most <= hosts * per_host
    finally:
        for server in servers:
            server.stop()


def test_the_overall_limit_holds_across_hosts(tmp_path):
    concurrency = Concurrency(wanted=5)
    servers = [ImageServer() for _ in range(3)]
    urls = []
    try:
        for server in servers:
            for i in range(6):
                server.routes[f"/p{i}.png"] = concurrency.route(server.port, png_bytes())
                urls.append(server.url(f"/p{i}.png"))
        with Fetcher(options(tmp_path, jobs=5, jobs_per_host=4, timeout=10.0)) as fetcher:
            outcomes = guarded(fetcher.fetch_all, urls)
        assert all(outcome.ok for outcome in outcomes.values())
        assert concurrency.most == 5
        assert max(concurrency.per_host_most.values()) <= 4
    finally:
        for server in servers:
            server.stop()


def test_the_cli_defaults_download_16_per_host_and_32_overall(tmp_path, capsys):
    concurrency = Concurrency(wanted=32)
    servers = [ImageServer() for _ in range(2)]
    lines = []
    try:
        for n, server in enumerate(servers):
            for i in range(20):
                body = png_bytes((20 + i, 20 + n))
                server.routes[f"/p{i}.png"] = concurrency.route(server.port, body)
                lines.append(f"![p]({server.url(f'/p{i}.png')})")
        answer = "\n".join(lines)
        vault = write_vault(tmp_path / "v", {"A/a.md": f"#Q Pictures?\nAnswer:\n{answer}\n"})
        argv = [str(vault), "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c")]
        code = guarded(main, [*argv, "--no-lock"])
        assert code == 0, capsys.readouterr().err
        assert max(concurrency.per_host_most.values()) == 16
        assert concurrency.most == 32
    finally:
        for server in servers:
            server.stop()


# ---------------------------------------------------------------- Ctrl-C


def test_ctrl_c_during_downloads_stops_at_once_with_one_line_and_exit_130(tmp_path):
    server = ImageServer()
    release = threading.Event()

    def hold(handler: _Handler) -> None:
        release.wait(GUARD)  # never answers while the build runs
        handler.answer(200, server.good_png)

    pictures = 40
    for i in range(pictures):
        server.routes[f"/hold{i}.png"] = hold
    answer = "".join(f"![p{i}]({server.url(f'/hold{i}.png')})\n" for i in range(pictures))
    vault = write_vault(tmp_path / "v", {"A/a.md": f"#Q Pictures?\nAnswer:\n{answer}"})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "ankigen", "build", str(vault), "-o", str(tmp_path / "out")]
    command += ["--cache-dir", str(tmp_path / "cache"), "--timeout", "30", "--no-lock"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + GUARD
        while len(server.log) < 4 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert len(server.log) >= 4, "the downloads never started"
        process.send_signal(signal.SIGINT)
        # Without stopping at once, 40 downloads of 30 s each, 8 per host, take minutes.
        _, stderr = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("ankigen did not stop after Ctrl-C")
    finally:
        release.set()
        server.stop()
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if line.strip()] == ["ankigen: interrupted"]
    assert len(server.log) < pictures  # the queued downloads never started
