"""Commands behind the pre-commit hooks (``.pre-commit-hooks.yaml``): each hands its arguments
to the hook module's ``main(argv) -> int`` and exits with its status."""

from __future__ import annotations

import sys

import click


@click.command(
    "check-requirements",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def check_requirements(args):
    """Check requirements files and environment.yml pip: sections against the conda environment
    (pre-commit hook guard-requirements; see `guard check-requirements --help`).

    Exit status: 0 nothing to fix, 1 findings."""
    from guard.hooks.requirements import main

    sys.exit(main(list(args)))
