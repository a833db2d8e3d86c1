"""A process pool that stops at once on Ctrl-C and whose workers never outlive ankigen."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from .interrupts import pid_alive

_T = TypeVar("_T")

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


_INTERRUPTS = (signal.SIGINT, signal.SIGTERM)
_pool_made = False  # the fork hook below acts only once a pool of ours was made


class _Pool(ProcessPoolExecutor):
    """Workers are forked inside submit(): a KeyboardInterrupt raised in the middle of a fork
    (in another library's fork hook) would be printed and ignored, so Ctrl-C and SIGTERM are
    held during submit() and handled right after it."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        with _held_interrupts():
            return super().submit(fn, *args, **kwargs)


def new_pool(workers: int) -> ProcessPoolExecutor:
    """A pool whose workers ignore Ctrl-C (ankigen handles it and ends them, see terminate)
    and die with ankigen; shut it down with shutdown() or terminate()."""
    global _pool_made
    _install_fork_hook()
    _pool_made = True  # from now on every fork in this process sets a worker's signals early
    return _Pool(max_workers=workers, initializer=_worker_started, initargs=(os.getpid(),))


def terminate(pool: ProcessPoolExecutor) -> None:
    """End the workers now; the queued work is dropped with them."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()
    # Not cancel_futures: Python 3.11's pool thread then fails on the cancelled work and
    # prints a traceback; the dead workers make it fail the queued work quietly instead.
    pool.shutdown(wait=False)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.join(timeout=1)


@contextlib.contextmanager
def _held_interrupts() -> Iterator[None]:
    """Remember Ctrl-C and SIGTERM during the block; then act on them as usual."""
    caught: list[signal.Signals] = []

    def remember(signum: int, frame: object) -> None:
        caught.append(signal.Signals(signum))

    try:
        previous = {signum: signal.signal(signum, remember) for signum in _INTERRUPTS}
    except ValueError:  # not the main thread: signals are the main thread's business
        yield
        return
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)  # raises KeyboardInterrupt here, in plain code
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), caught[0])


_hook_installed = False


def _install_fork_hook() -> None:
    """A new worker sets its signal handlers as soon as it exists, not when it has started."""
    global _hook_installed
    if not _hook_installed and hasattr(os, "register_at_fork"):
        _hook_installed = True
        os.register_at_fork(after_in_child=_in_child)


def _in_child() -> None:
    if _pool_made:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _worker_started(main: int) -> None:
    """In each worker: Ctrl-C is the parent's to handle, and the worker dies with its parent
    (ankigen itself, or with the forkserver start method the server, which ends with it)."""
    # The terminal sends Ctrl-C to the whole process group; the parent then ends the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    parent = os.getppid()
    if parent == 1 or not pid_alive(main):  # the parent died before the line above took effect
        os._exit(1)
    # Elsewhere (and should prctl be unavailable): a thread that watches the parent.
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def trim_memory() -> None:
    """Give the memory Python freed back to the system (glibc keeps it otherwise): a worker
    that rendered a big folder would go on holding it. About a millisecond."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None  # glibc's malloc_trim, False where there is none
