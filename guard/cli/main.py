"""The ``guard`` command's entry: ``guard --version`` answered at once, everything else by the
click application in :mod:`guard.cli.app` (the group, one line per error, the commands). Exit
codes: :mod:`guard.cli.exit_codes`.
"""

from __future__ import annotations

import sys
from typing import Any

from guard import __version__


def main(argv=None) -> None:
    """The click commands, with usage errors as one line (``guard.entry`` dispatches
    ``guard pip`` before this module is imported). ``guard --version`` alone is answered here,
    as click's version option would, without importing click and the commands (a bare start
    instead of 2x one)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:
        print(f"guard, version {__version__}")
        sys.exit(0)
    from guard.cli.app import run

    run(argv)


def __getattr__(name: str) -> Any:
    # ``cli`` and the rest of the click application, for callers that import them from here
    # (not the import system's own questions, such as ``__path__``: those would load click)
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from guard.cli import app

    try:
        return getattr(app, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
