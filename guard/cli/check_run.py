"""``guard check`` without click: the command's work (:func:`judge`, which the click command
:mod:`guard.cli.check` runs too) and a front that answers the plain forms of the command line
before click and the other commands are imported (:func:`main`, dispatched by
:mod:`guard.entry`): importing click and the click application costs ~25 ms of CPU on every
check, as much as a verdict-cache hit's own work.

The front takes only what it can parse exactly as click would: ``--prefix DIR`` (or
``--prefix=DIR``), ``--json``, ``-v``/``--verbose``, ``--allow-build``, ``--installer pip``, then
pip's arguments (after ``--``, or from the first word that is no option on, verbatim). Anything
else (``--help``, ``--installer uv``, an option it does not know, a ``--prefix`` that is a file,
nothing to check) returns None, and click answers as before. Its errors are click's: a
``GuardError`` is ``guard: error: MESSAGE`` with its exit code, a usage error
``guard: error: MESSAGE (see guard check --help)`` with 2, a bug one line with 3.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, NamedTuple

from guard.cli.exit_codes import EXIT_ALLOW, EXIT_BLOCK, EXIT_UNSIMULATED, EXIT_USAGE
from guard.errors import GuardError


class CheckOptions(NamedTuple):
    prefix: Path | None
    as_json: bool
    verbose: bool
    allow_build: bool
    pip_args: tuple[str, ...]


_FLAGS = {"--json": "as_json", "-v": "verbose", "--verbose": "verbose", "--allow-build": "allow_build"}


def parse(argv: Sequence[str]) -> CheckOptions | None:
    """``check``'s options as click reads them, or None for anything the front leaves to click."""
    prefix: str | None = None
    flags = {"as_json": False, "verbose": False, "allow_build": False}
    args = list(argv)
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            i += 1
            break
        if not word.startswith("-") or word == "-":
            break  # click: the first argument and everything after it (no interspersed options)
        if word in _FLAGS:
            flags[_FLAGS[word]] = True
        elif word in ("--prefix", "--installer") and i + 1 < len(args):
            value = args[i + 1]
            i += 1
            if word == "--installer":
                if value != "pip":
                    return None
            else:
                prefix = value
        elif word.startswith("--prefix="):
            prefix = word.partition("=")[2]
        elif word == "--installer=pip":
            pass
        else:
            return None  # --help, -vv, an unknown option (click passes those on), a missing value...
        i += 1
    pip_args = tuple(args[i:])
    if not pip_args or (prefix is not None and (not prefix or _click_refuses(prefix))):
        return None  # click's own messages
    return CheckOptions(None if prefix is None else Path(prefix), pip_args=pip_args, **flags)


def _click_refuses(path: str) -> bool:
    """What ``click.Path(file_okay=False)`` refuses: a file, something it may not read."""
    try:
        st = os.stat(path)
    except OSError:
        return False  # need not exist
    return stat.S_ISREG(st.st_mode) or not os.access(path, os.R_OK)


class _Usage(Exception):
    """A usage error found by the work itself (the front's stand-in for ``click.UsageError``)."""


def judge(options: CheckOptions, usage: Callable[[str], Exception]) -> tuple[str, int]:
    """Simulate and judge ``options.pip_args``: the text to print (redacted) and the exit status.
    ``usage``: the exception a usage error is raised as."""
    from dataclasses import replace

    from guard.act.progress import progress_on_stderr
    from guard.cli.context import Context
    from guard.explain import render
    from guard.pipeline.check import pip_argv_for_check, simulate
    from guard.redact import redact  # what is shown never holds a credential, cached or not

    if not options.pip_args:
        raise usage("nothing to check: give pip install arguments, e.g. guard check -- numpy==2.0.0")
    ctx = Context.resolve(options.prefix, options.pip_args, missing=usage).for_pipeline(options.allow_build)
    # on a terminal, a line on stderr while a long simulation runs; erased before the answer
    with progress_on_stderr("guard: simulating", ctx.environ, enabled=not options.as_json) as progress:
        result = simulate(pip_argv_for_check(options.pip_args), replace(ctx, progress=progress))
    text = render.check_json(result) if options.as_json else render.check_text(result, verbose=options.verbose)
    return redact(text), EXIT_BLOCK if result.verdict.blocked else EXIT_ALLOW


def main(argv: Sequence[str]) -> int | None:
    """``guard check ARGV``'s exit status, its answer printed; None when click is to answer."""
    options = parse(argv)
    if options is None:
        return None
    try:
        text, code = judge(options, _Usage)
    except _Usage as err:
        return _error(f"guard: error: {err} (see guard check --help)", EXIT_USAGE)
    except GuardError as err:
        from guard.redact import redact  # messages never show credentials

        return _error(f"guard: error: {redact(str(err))}", err.exit_code)
    except KeyboardInterrupt:
        return _error("guard: interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - a bug of ours is still one line, never a traceback
        if os.environ.get("GUARD_DEBUG"):
            raise
        from guard.redact import redact

        first = redact(str(exc).strip().splitlines()[0]) if str(exc).strip() else ""
        return _error(
            f"guard: internal error: {type(exc).__name__}: {first} (set GUARD_DEBUG=1 for details)", EXIT_UNSIMULATED
        )
    echo(text)
    return code


# click.echo removes ANSI styles from what does not go to a terminal: so does this
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def echo(text: str, stream=None) -> None:
    """``text`` and a newline, flushed, as ``click.echo`` writes a str."""
    stream = sys.stdout if stream is None else stream
    if stream is None:  # no stdout (pythonw): click prints nothing either
        return
    out = text + "\n"
    if not _isatty(stream):
        out = _ANSI.sub("", out)
    try:
        stream.write(out)
    except UnicodeEncodeError:
        stream.write(out.encode(stream.encoding or "utf-8", "replace").decode(stream.encoding or "utf-8"))
    stream.flush()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except Exception:  # noqa: BLE001 - a closed or odd stream: not a terminal
        return False


def _error(line: str, code: int) -> int:
    echo(line, sys.stderr)
    return code
