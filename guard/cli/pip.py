"""``guard pip``: pip guarded (what the shims call). The console entry point (:mod:`guard.entry`)
and ``python -m guard`` run the same without click, to start pip as fast as possible, except for
``guard pip --help``/``-h`` alone, which they hand here: the guard's own help. Everything after
a pip command (``guard pip install --help``) is pip's, verbatim. This command also lists ``pip``
in ``guard --help`` and serves callers of :func:`guard.cli.main.main`."""

from __future__ import annotations

import sys

import click

EPILOG = """\b
Examples:
  guard pip install rich                   allowed: pip runs with these arguments
  guard pip install numpy==2.0.0           blocked: nothing installed, exit 1
  guard pip install --guard-redirect torch==2.6.0   conda installs it instead
  guard pip uninstall -y numpy

\b
The guard's own flags (removed before pip runs):
  --guard-disable       skip the guard for this command (one warning line;
                        journaled); the same: GUARD_DISABLE=1 guard pip ...
  --guard-redirect      a blocked install runs the conda redirect instead
                        (asks first); also on_block: redirect in the config
  --guard-yes           with --guard-redirect: do not ask
Environment: GUARD_DISABLE=1 (as --guard-disable), GUARD_DEADLINE=SECONDS
(how long a simulation may take, default 60). The environment: pip's
--python, else GUARD_PREFIX (the shims set it), else the active one.

\b
Exit status: pip's own when pip ran (128+N when signal N ended it);
1 blocked, 2 bad input or no conda environment, 3 could not simulate,
4 pip ran but changed a protected conda package (the repair is printed),
127 the environment has no pip of its own.

\b
pip's own help: guard pip install --help (any pip command with --help,
e.g. guard pip uninstall --help, guard pip list --help).
"""


@click.command(
    "pip",
    context_settings={
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
        "help_option_names": ["-h", "--help"],
    },
    short_help="Run pip guarded: simulate, then run pip, block or redirect (what the shims call).",
    epilog=EPILOG,
)
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED)
def pip_command(pip_args):
    """Run pip in a conda environment, guarded: `install` and `uninstall` are simulated first and
    run only when they leave every protected conda package as it is (with a safety net that pins
    them); a blocked command installs nothing and says why and what to run instead. Every other
    pip command (list, show, download, ...) and --dry-run go straight to the environment's pip.

    PIP_ARGS are pip's own arguments, verbatim, plus the guard's flags below.
    """
    from guard.act.guarded_pip import main as guarded_pip_main

    sys.exit(guarded_pip_main(list(pip_args)))
