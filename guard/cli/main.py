"""The ``guard`` command: orchestrates the pipeline and prints. Thin by design.

Exit codes (the contract with shims and hooks; the README documents them once):

* 0 allowed (or nothing to judge)
* 1 blocked
* 2 usage error or bad input (a malformed requirement, an unknown option, corrupt files)
* 3 could not simulate (index unreachable, no resolution, pip's dry run failed)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from guard.errors import GuardError

EXIT_ALLOW, EXIT_BLOCK, EXIT_USAGE, EXIT_UNSIMULATED = 0, 1, 2, 3


def _prefix_option(f):
    return click.option(
        "--prefix",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="The environment to judge (default: $CONDA_PREFIX, else this Python's prefix).",
    )(f)


def _context(prefix: Path | None, pip_args=()):
    """The environment to judge: ``--prefix``, else that of pip's own ``--python`` in ``pip_args``
    (pip runs there), else the active conda env (``environment.default_prefix``: one line when
    there is none; a pyenv, system or venv ``python`` first on PATH is never taken for one)."""
    from guard.pipeline.check import Context, default_cache_dir

    environ = dict(os.environ)
    if prefix is None and pip_args:
        from guard.act.guarded_pip import python_option_prefix

        prefix = python_option_prefix(list(pip_args))
    if prefix is None:
        from guard.environment.snapshot import default_prefix

        prefix = default_prefix(environ)
    if not prefix.is_dir():
        raise click.UsageError(f"--prefix {prefix}: no such directory")
    return Context(prefix=prefix.resolve(), environ=environ, cwd=os.getcwd(), cache_dir=default_cache_dir(environ))


def _allow_build_option(f):
    return click.option(
        "--allow-build", is_flag=True,
        help="Let pip's own dry run build what only a build can describe (runs its setup.py or build "
             "backend); also allow_build: true in the configuration. Off by default.",
    )(f)


def _with_build_choice(ctx, allow_build: bool):
    """``ctx`` with builds allowed by ``--allow-build`` or ``allow_build: true`` in the config."""
    from dataclasses import replace

    from guard.policy.config import build_allowed

    return replace(ctx, allow_build=allow_build or build_allowed(ctx.prefix, ctx.environ))


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
            click.echo(f"guard: internal error: {type(exc).__name__}: {first} (set GUARD_DEBUG=1 for details)",
                       err=True)
            sys.exit(EXIT_UNSIMULATED)


def main(argv=None) -> None:
    """The click commands, with usage errors as one line (``guard.entry`` dispatches
    ``guard pip`` before this module is imported)."""
    argv = list(sys.argv[1:] if argv is None else argv)
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


@click.group(cls=_GuardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="conda-pip-guard", prog_name="guard")
def cli():
    """conda-pip-guard: simulate pip in a conda environment and stop it from replacing what conda
    installed.

    \b
    Exit status: 0 allowed, 1 blocked, 2 bad input, 3 could not simulate.
    """


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
             short_help="Simulate a pip install/uninstall and judge it; installs nothing.")
@_prefix_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema 1).")
@click.option("-v", "--verbose", is_flag=True, help="List every change, also for a block.")
@_allow_build_option
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED)
def check(prefix, as_json, verbose, allow_build, pip_args):
    """Simulate `pip install PIP_ARGS` (or `-- uninstall ...`) and judge it; installs nothing.

    Exit status: 0 allowed, 1 blocked, 2 bad input, 3 could not simulate.
    """
    from guard.explain import render
    from guard.pipeline.check import pip_argv_for_check, simulate

    if not pip_args:
        raise click.UsageError("nothing to check: give pip install arguments, e.g. guard check -- numpy==2.0.0")
    ctx = _with_build_choice(_context(prefix, pip_args), allow_build)
    result = simulate(pip_argv_for_check(pip_args), ctx)
    from guard.redact import redact  # what is shown never holds a credential, cached or not

    click.echo(redact(render.check_json(result) if as_json else render.check_text(result, verbose=verbose)))
    sys.exit(EXIT_BLOCK if result.verdict.blocked else EXIT_ALLOW)


@cli.command("pip", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False,
                                      "help_option_names": []},
             short_help="Run pip guarded: simulate, then run pip, block or redirect (what the shims call).")
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED)
def pip_command(pip_args):
    """guard pip PIP_ARGS...: pip's own arguments, verbatim. install/uninstall are simulated first;
    everything else goes straight to pip (so `guard pip --help` is pip's help). The guard's own
    flags: --guard-disable, --guard-redirect, --guard-yes. (The console entry point runs this
    without click, to start pip as fast as possible.)"""
    from guard.act.guarded_pip import main as guarded_pip_main

    sys.exit(guarded_pip_main(list(pip_args)))


# ---- commands that live in their own modules (each module: click commands + nothing else) ----
from guard.cli.doctor import doctor, status  # noqa: E402

cli.add_command(doctor)
cli.add_command(status)

from guard.cli.shims import shims  # noqa: E402
cli.add_command(shims)
from guard.cli.hooks import check_requirements  # noqa: E402
cli.add_command(check_requirements)

from guard.cli.why import why, log  # noqa: E402

cli.add_command(why)
cli.add_command(log)
