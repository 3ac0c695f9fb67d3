"""The ``guard`` console script. ``guard pip ...`` (what the shims and the ``python -m pip`` hook
run) is dispatched before click and the other commands are imported: it must cost as little as
possible before pip runs. Everything else goes to :mod:`guard.cli`."""

from __future__ import annotations

import sys


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["pip"]:
        from .guarded_pip import main as guarded_pip_main

        sys.exit(guarded_pip_main(argv[1:]))
    from .cli import main as cli_main

    cli_main(argv)
