"""`python -m ankigen build …`, and the `ankigen` command."""

import contextlib
import os
import signal
import sys


def _stop(signum: int, frame: object) -> None:
    """Until the command line sets its own handlers: one line and exit 130, not a traceback
    from the middle of an import. Nothing is on disk yet to remove."""
    prog = "ankigen adopt" if sys.argv[1:2] == ["adopt"] else "ankigen"
    os.write(2, f"{prog}: interrupted\n".encode())
    os._exit(130)


# First of all, before the imports below (a signal can come while Python imports them).
for _signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_signum) != signal.SIG_IGN:
        signal.signal(_signum, _stop)


def entry() -> None:
    from .cli import main

    exit_with(main())


def exit_with(status: int) -> None:
    """Exit with the status. Interrupted (130), what had to be removed is removed by then:
    exit at once, for Python's own exit would wait for the worker pool's threads, which may
    wait for ever on a worker ended in the middle of handing back its result."""
    # Written out now, while our handlers hold: Python's exit puts the default ones back before
    # it flushes, and a signal then would end the process with the summary still unwritten.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if status == 130:
        os._exit(130)
    sys.exit(status)


if __name__ == "__main__":
    entry()
