"""A process pool that stops at once on Ctrl-C and whose workers never outlive ankigen."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@contextlib.contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A ProcessPoolExecutor; on any exception (Ctrl-C included) its workers are terminated
    instead of finishing the queued work."""
    pool = ProcessPoolExecutor(
        max_workers=workers, initializer=_worker_started, initargs=(os.getpid(),)
    )
    try:
        yield pool
    except BaseException:
        terminate(pool)
        raise
    pool.shutdown()


def terminate(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued work and end the workers now."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.join(timeout=1)


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
    if parent == 1 or not _alive(main):  # the parent died before the line above took effect
        os._exit(1)
    # Elsewhere (and should prctl be unavailable): a thread that watches the parent.
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
