"""``guard pip``: pip guarded (what the shims call). The console entry point (:mod:`guard.entry`)
and ``python -m guard`` run the same without click, to start pip as fast as possible; this
command lists it in ``guard --help`` and serves callers of :func:`guard.cli.main.main`."""

from __future__ import annotations

import sys

import click


@click.command(
    "pip",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False, "help_option_names": []},
    short_help="Run pip guarded: simulate, then run pip, block or redirect (what the shims call).",
)
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED)
def pip_command(pip_args):
    """guard pip PIP_ARGS...: pip's own arguments, verbatim. install/uninstall are simulated first;
    everything else goes straight to pip (so `guard pip --help` is pip's help). The guard's own
    flags: --guard-disable, --guard-redirect, --guard-yes. (The console entry point runs this
    without click, to start pip as fast as possible.)"""
    from guard.act.guarded_pip import main as guarded_pip_main

    sys.exit(guarded_pip_main(list(pip_args)))
