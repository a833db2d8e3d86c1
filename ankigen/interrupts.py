"""Ctrl-C, SIGTERM and SIGHUP: one line, exit 130, temporaries removed, never a traceback.

Shared by every command (build, check, preview, plan, adopt); it sits at the bottom of the
layers, so that any of them may use it."""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import sys
import threading
import time
from typing import Any

from .diagnostics import say

EXIT_INTERRUPTED = 130


def stop_quietly_on_interrupt(prog: str = "ankigen") -> None:
    """Until a command sets its own handlers (and again once they are restored, while Python
    shuts down): a signal ends the process with one line and exit 130, never a traceback from
    an import or from the interpreter's exit. Nothing is on disk to remove at those times."""

    def stop(signum: int, frame: object) -> None:
        if not Interrupts.said:  # the line is printed once, whoever prints it
            with contextlib.suppress(OSError, ValueError):
                os.write(2, f"{prog}: interrupted\n".encode())
        os._exit(EXIT_INTERRUPTED)

    for signum in Interrupts.SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signum) != signal.SIG_IGN:
                signal.signal(signum, stop)


class Interrupts:
    """Ctrl-C and SIGTERM (kill, a CI timeout) stop a build: KeyboardInterrupt, temporaries
    removed, one line, exit 130.

    Python may swallow a KeyboardInterrupt raised at a bad moment (inside a finaliser or
    another library's hook: "Exception ignored in …"); should the build still run a few seconds
    after the signal, a watchdog thread ends it the hard way, with the same line and exit
    status (its worker processes die with it, its temporaries are removed by the next build).
    The handler itself only sets a flag and raises: starting a thread there can deadlock."""

    GRACE_SECONDS = 3.0
    SIGNALS = tuple(
        getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
    )

    def __init__(self, message: str = "ankigen: interrupted") -> None:
        self.message = message
        self.fired = False
        self.done = False
        self.reported = False
        self.lock = threading.Lock()
        self.previous: dict[int, Any] = {}
        self.lost = False  # a KeyboardInterrupt swallowed where Python cannot raise it
        # The watchdog first: once the handlers are set, a signal may arrive at any moment.
        threading.Thread(target=self._watch, name="ankigen-interrupt", daemon=True).start()
        self.previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        for signum in self.SIGNALS:
            if signum == getattr(signal, "SIGHUP", None) and (
                signal.getsignal(signum) == signal.SIG_IGN
            ):
                continue  # started with nohup: a closed terminal does not stop it
            try:
                self.previous[signum] = signal.signal(signum, self._interrupt)
            except ValueError:  # not the main thread (ankigen called from a thread): leave it
                return

    def _interrupt(self, signum: int, frame: object) -> None:
        if self.fired and not self.lost:  # a second Ctrl-C while stopping: ignored
            return
        self.fired = True
        self.lost = False
        raise KeyboardInterrupt

    def _unraisable(self, unraisable: Any) -> None:
        """Python cannot raise an exception out of a callback from native code (nh3 calls
        render._filter_attribute for every attribute it cleans), a finaliser or a weak
        reference's callback, and prints "Exception ignored in …" instead. Our
        KeyboardInterrupt landing there is not printed; the watchdog raises it again in the
        main thread, where it stops the build as usual."""
        if self.fired and isinstance(unraisable.exc_value, KeyboardInterrupt):
            self.lost = True  # the watchdog raises it again, from outside this hook
            return
        self.previous_hook(unraisable)

    def _watch(self) -> None:
        while not self.fired:
            if self.done:
                return
            time.sleep(0.1)
        deadline = time.monotonic() + self.GRACE_SECONDS
        while time.monotonic() < deadline:
            if self.done:
                return
            if self.lost:  # swallowed in a finaliser: raised again in the main thread
                _thread.interrupt_main()  # runs the SIGINT handler (ours) there
            time.sleep(0.02 if self.lost else 0.1)
        self.report()
        os._exit(EXIT_INTERRUPTED)

    said = False  # "interrupted" printed, by any instance

    def report(self) -> None:
        with self.lock:
            if not self.reported:
                self.reported = True
                Interrupts.said = True
                say(self.message, sys.stderr)
                sys.stderr.flush()

    def restore(self) -> None:
        self.done = True
        if sys.unraisablehook == self._unraisable:
            sys.unraisablehook = self.previous_hook
        for signum, handler in self.previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def pid_alive(pid: int) -> bool:
    """Whether a process of that id exists (someone else's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
