"""`python -m ankigen build …`, and the `ankigen` command."""

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

    sys.exit(main())


if __name__ == "__main__":
    entry()
