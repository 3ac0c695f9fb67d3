"""A progress line on stderr while the guard simulates (``guard check``, ``guard why``, ``guard pip``).

A cold simulation can wait on the index for many seconds; this says what it waits for::

    guard: simulating: resolving, 143 index pages, 61 metadata files, 4.2 s

Shown only where it helps and cannot get in the way:

* after :data:`DELAY` seconds: a verdict from the cache, or a quick simulation, shows nothing;
* only when stderr is a terminal (never into a pipe, a file or a CI log), never on stdout, and not
  for a command that prints JSON (the faces pass ``enabled=False``);
* ``TERM=dumb`` (a terminal that cannot go back, e.g. Emacs' shell buffer): nothing is redrawn;
  one line at the end says what the wait was;
* no colour and no escape sequence at all (so ``NO_COLOR`` holds as well): the line is redrawn
  after a carriage return and erased by writing spaces over it.

The engine never prints (STYLE): the pipeline tells the reporter its stage and hands it the index
client's counters (:class:`guard.pipeline.check.Progress`, :class:`guard.index.state.IndexStats`);
a daemon thread reads them and draws. Leaving the ``with`` block (an answer, an error, or a signal
that :mod:`guard.entry` raised as an exception) erases the line before anything else is written,
and the thread never delays exit. Other output while the line shows goes through
:meth:`TerminalProgress.interrupting`.
"""

from __future__ import annotations

import _thread
import os
import sys
import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    from guard.index.state import IndexStats

DELAY = 0.5  # seconds of silence before the line appears
INTERVAL = 0.2  # seconds between redraws

F = TypeVar("F", bound=Callable[..., Any])


class QuietProgress:
    """The reporter when nothing is shown: every call does nothing, and costs nothing."""

    def stage(self, what: str, stats: IndexStats | None = None) -> None:
        """The stage the simulation is in, and the counters it feeds (see the module)."""

    def interrupting(self, fn: F) -> F:
        """``fn``, made to write its own output with the progress line out of the way."""
        return fn

    def __enter__(self) -> QuietProgress:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        return None


class TerminalProgress(QuietProgress):
    """One line on a terminal, ``label: stage, N index pages, M metadata files, S s``, redrawn in
    place from a daemon thread once ``delay`` seconds have passed since the ``with`` block began
    (``redraw=False``: one line at the end instead, for ``TERM=dumb``). The ``with`` block and
    :meth:`stage` belong to one thread, the pipeline's; the drawing thread starts at the first
    stage, so that a verdict from the cache (no stage) starts none."""

    def __init__(
        self, stream: IO[str], label: str, *, redraw: bool = True, delay: float = DELAY, interval: float = INTERVAL
    ) -> None:
        self._stream = stream
        self._label = label
        self._redraw = redraw
        self._delay = delay
        self._interval = interval
        self._stage = ""
        self._stats: list[IndexStats] = []
        # threading (1.3 ms of imports) and the thread itself only once the pipeline reports a
        # stage: a verdict from the cache reports none, and costs nothing here
        self._lock = _thread.allocate_lock()
        self._wake: Any = None  # a threading.Event, once the thread runs
        self._finished = False
        self._shown = 0  # characters of the line now on the terminal
        self._started = 0.0

    def stage(self, what: str, stats: IndexStats | None = None) -> None:
        with self._lock:
            self._stage = what
            if stats is not None and not any(s is stats for s in self._stats):
                self._stats.append(stats)
        if self._redraw and self._wake is None and not self._finished:  # the first stage
            import threading

            self._wake = threading.Event()
            threading.Thread(target=self._run, args=(self._wake,), name="guard-progress", daemon=True).start()

    def interrupting(self, fn: F) -> F:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self._lock:  # no redraw until fn has written
                self._erase()
                return fn(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    def __enter__(self) -> TerminalProgress:
        self._started = time.monotonic()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        with self._lock:
            self._finished = True
            if self._wake is not None:
                self._wake.set()
            self._erase()
            if not self._redraw and exc_type is None and time.monotonic() - self._started >= self._delay:
                self._write(self._text(final=True) + "\n")

    def _text(self, final: bool = False) -> str:
        seconds = time.monotonic() - self._started
        parts = [self._stage] if not final else []
        if self._stats:
            pages = sum(s.pages for s in self._stats)
            files = sum(s.metadata_files for s in self._stats)
            parts.append(f"{pages} index page{'s' * (pages != 1)}, {files} metadata file{'s' * (files != 1)}")
        if final:
            return f"{self._label}: done in {seconds:.1f} s" + (f" ({parts[0]})" if parts else "")
        parts.append(f"{seconds:.1f} s")
        return f"{self._label}: {', '.join(parts)}"

    def _run(self, wake: Any) -> None:
        if wake.wait(max(self._started + self._delay - time.monotonic(), 0)):
            return
        while True:
            with self._lock:
                if self._finished:
                    return
                self._draw()
            if wake.wait(self._interval):
                return

    def _draw(self) -> None:
        text = self._text()
        try:
            columns = os.get_terminal_size(self._stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 0
        text = text[: (columns or 80) - 1]  # never wrap: a carriage return goes back one row only
        self._write("\r" + text + " " * max(self._shown - len(text), 0))
        self._shown = len(text)

    def _erase(self) -> None:
        if self._shown:
            self._write("\r" + " " * self._shown + "\r")
            self._shown = 0

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken terminal: the answer still matters
            pass


def progress_on_stderr(
    label: str, environ: Mapping[str, str], *, enabled: bool = True, stream: IO[str] | None = None
) -> QuietProgress:
    """The reporter for a face: a :class:`TerminalProgress` when ``enabled`` and ``stream``
    (default: stderr) is a terminal, else a :class:`QuietProgress`. ``label`` starts the line
    (``"guard: simulating"``)."""
    stream = sys.stderr if stream is None else stream
    if not enabled or stream is None:
        return QuietProgress()
    try:
        terminal = stream.isatty()
    except (OSError, ValueError, AttributeError):
        terminal = False
    if not terminal:
        return QuietProgress()
    return TerminalProgress(stream, label, redraw=environ.get("TERM") != "dumb")
