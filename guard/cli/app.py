"""The ``guard`` click application: the group, one line per error, and the commands of each group
(one module each: ``check``, ``pip``, ``why``, ``log``, ``doctor``, ``status``, ``shims``, ``hooks``).
Thin by design: the commands orchestrate the pipeline and print. Exit codes:
:mod:`guard.cli.exit_codes`. Entered through :func:`guard.cli.main.main`.
"""

from __future__ import annotations

import os
import sys

import click

from guard import __version__
from guard.cli.check import check
from guard.cli.doctor import doctor
from guard.cli.exit_codes import EXIT_UNSIMULATED, EXIT_USAGE
from guard.cli.hooks import check_requirements
from guard.cli.log import log
from guard.cli.pip import pip_command
from guard.cli.shims import shims
from guard.cli.status import status
from guard.cli.why import why
from guard.errors import GuardError


class _GuardGroup(click.Group):
    """Turns every GuardError into one line on stderr and its exit code: never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GuardError as err:
            from guard.redact import redact  # messages never show credentials

            click.echo(f"guard: error: {redact(str(err))}", err=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("guard: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - a bug of ours is still one line, never a traceback
            if os.environ.get("GUARD_DEBUG"):
                raise
            from guard.redact import redact

            first = redact(str(exc).strip().splitlines()[0]) if str(exc).strip() else ""
            click.echo(
                f"guard: internal error: {type(exc).__name__}: {first} (set GUARD_DEBUG=1 for details)", err=True
            )
            sys.exit(EXIT_UNSIMULATED)


def run(argv: list[str]) -> None:
    """The click commands, with usage errors as one line."""
    try:
        cli.main(args=argv, prog_name="guard", standalone_mode=False)
    except click.UsageError as err:
        # one line, like every other error (click's own form is three)
        where = f"guard {err.ctx.info_name}" if err.ctx is not None and err.ctx.parent is not None else "guard"
        click.echo(f"guard: error: {err.format_message()} (see {where} --help)", err=True)
        sys.exit(EXIT_USAGE)
    except click.Abort:
        click.echo("guard: aborted", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)


EPILOG = """\b
Examples:
  guard status                         what is protected here, and who owns it
  guard check -- numpy==2.0.0          judge a command without running it
  guard why                            why the last blocked command was blocked
  guard shims install                  guard plain `pip install` in this env

\b
Overrides (for one guarded pip command):
  GUARD_DISABLE=1 pip install ...      skip the guard (one warning; journaled)
  pip install --guard-disable ...      the same, as a flag the guard removes
  pip install --guard-redirect ...     a blocked install runs the conda
                                       redirect instead (asks first)
  pip install --guard-redirect --guard-yes ...   without asking
  GUARD_DEADLINE=120                   seconds a simulation may take
                                       (default 60; then exit 3)
  guard check --allow-build ...        let pip's dry run build an sdist or a
                                       local project (runs its code)

\b
Shell completion (add the line to your shell's rc file):
  bash: eval "$(_GUARD_COMPLETE=bash_source guard)"
  zsh:  eval "$(_GUARD_COMPLETE=zsh_source guard)"
  fish: _GUARD_COMPLETE=fish_source guard | source

\b
Exit status: 0 allowed, 1 blocked (doctor, check-requirements: problems
found), 2 bad input, 3 could not simulate, 4 pip ran but changed a protected
conda package (guard pip). --json outputs: versioned JSON Schemas in
guard/data/schemas/ (installed with the package).
"""


@click.group(cls=_GuardGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(__version__, prog_name="guard")  # not importlib.metadata: a 4x slower start
def cli():
    """conda-pip-guard: simulate pip in a conda environment and stop it from replacing what conda
    installed. `guard COMMAND --help` shows each command's options and examples.
    """


for _command in (check, pip_command, doctor, status, shims, check_requirements, why, log):
    cli.add_command(_command)
