"""The ``guard`` console script. ``guard pip ...`` (what the shims and the ``python -m pip`` hook
run) is dispatched before click and the other commands are imported: it must cost as little as
possible before pip runs. ``guard check`` in its plain forms is answered without click too
(:mod:`guard.cli.check_run`: click and the other commands are ~25 ms of every check). Everything
else goes to :mod:`guard.cli`, and so does ``guard pip --help`` (or ``-h``) alone: the guard's own
help (``guard pip install --help`` is pip's).

Signals: SIGINT and SIGTERM, wherever they arrive, end the guard with one line on stderr and exit
status 130 / 143 (128 + the signal), never a traceback. The signal is raised as
:class:`Interrupted` in the main thread, so that what is being written is cleaned up on the way
out (every state file is written to a temporary file and renamed; a journal entry is one
``write``): nothing is left half-written. Worker threads still waiting on a silent index are not
waited for. A second signal while the first unwinds ends the process at once. The pip that
``guard pip`` finally executes (``exec``) gets the default handlers back, as if started directly.
"""

from __future__ import annotations

import os
import signal
import sys


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (a BaseException: no ``except Exception`` may swallow it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_SIGNALS = ("SIGINT", "SIGTERM")


def _exit_now(signum, _frame) -> None:  # a second signal while the first one unwinds
    os._exit(128 + signum)


def _quiet_thread(_args) -> None:
    """After a signal, a worker thread that re-raises the interrupt it was handed (a shared
    single-flight result) says nothing: the main thread reports the signal once."""


def _raise_interrupted(signum, _frame) -> None:
    import threading

    threading.excepthook = _quiet_thread
    for name in _SIGNALS:
        signal.signal(getattr(signal, name), _exit_now)
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    """Turn SIGINT/SIGTERM into :class:`Interrupted` (only where they are not ignored: a guard
    started in the background by a shell that ignores SIGINT keeps ignoring it)."""
    for name in _SIGNALS:
        signum = getattr(signal, name)
        try:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, _raise_interrupted)
        except (ValueError, OSError):  # not the main thread: nothing to install
            pass


def _interrupted(signum: int) -> None:
    """One line and 128 + signal, without waiting for threads or running exit handlers."""
    for name in _SIGNALS:
        try:
            signal.signal(getattr(signal, name), _exit_now)
        except (ValueError, OSError):
            pass
    what = "interrupted" if signum == signal.SIGINT else "terminated"
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a closed pipe must not turn into a traceback
        pass
    try:
        sys.stderr.write(f"guard: {what} (signal {signum}): stopped, nothing more was done\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        pass
    os._exit(128 + signum)


def main(argv=None) -> None:
    install_signal_handlers()
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if argv[:1] == ["pip"] and argv[1:] not in (["--help"], ["-h"]):  # the guard's own help: click
            from guard.act.guarded_pip import main as guarded_pip_main

            sys.exit(guarded_pip_main(argv[1:]))
        if argv[:1] == ["uv"]:  # what the uv shim runs: the words after `uv`, verbatim
            from guard.act.guarded_uv import main as guarded_uv_main

            sys.exit(guarded_uv_main(argv[1:]))
        if argv[:1] == ["check"]:  # its plain forms without click (guard.cli.check_run); None: click's
            from guard.cli.check_run import main as check_main

            code = check_main(argv[1:])
            if code is not None:
                sys.exit(code)
        from guard.cli.main import main as cli_main

        cli_main(argv)
    except Interrupted as sig:
        _interrupted(sig.signum)
    except KeyboardInterrupt:  # raised before the handlers were in place, or by input()
        _interrupted(signal.SIGINT)
