"""``guard doctor`` and ``guard status``: click commands, nothing else (the logic is in
``guard.doctor`` and ``guard.status``).

Exit status of ``guard doctor``: 0 healthy (or warnings only), 1 problems found, 2 bad input (the
prefix is missing or not a Python environment, a broken configuration file).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from guard.errors import EnvironmentReadError, GuardError


def _prefix_option(f):
    return click.option(
        "--prefix",
        type=click.Path(path_type=Path),
        default=None,
        help="The environment to examine (default: $CONDA_PREFIX, else this Python's prefix).",
    )(f)


def _environment(prefix: Path | None):
    """(prefix, environ, the cache dir, whether the prefix is the active environment)."""
    from guard.pipeline.check import default_cache_dir
    from guard.environment.snapshot import default_prefix

    environ = dict(os.environ)
    try:
        active, why_none = default_prefix(environ), None
    except GuardError as exc:
        active, why_none = None, str(exc)
    if prefix is None:
        if active is None:
            raise EnvironmentReadError(why_none)
        prefix = active
    if not prefix.is_dir():
        raise EnvironmentReadError(f"--prefix {prefix}: no such directory")
    is_active = active is not None and os.path.realpath(active) == os.path.realpath(prefix)
    return Path(os.path.abspath(prefix)), environ, default_cache_dir(environ), is_active


@click.command()
@_prefix_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema 1).")
@click.option("--deep", is_flag=True, help="Hash the files of every conda package, not only the protected ones.")
@click.option("--import", "do_import", is_flag=True,
              help="Import each protected package in the environment's own Python and compare what loads.")
def doctor(prefix, as_json, deep, do_import):
    """Find drift and broken CUDA stacks that pip already caused in an environment.

    \b
    Exit status: 0 healthy (warnings alone too), 1 problems found, 2 bad input.
    """
    from guard.act import remembered
    from guard.policy.config import load_policy
    from guard.doctor.diagnose import collect_evidence, diagnose, report_json, report_text
    from guard.environment.snapshot import snapshot

    prefix, environ, cache_dir, is_active = _environment(prefix)
    policy, _ = load_policy(prefix, environ)
    snap = snapshot(prefix, cache_dir=cache_dir)
    evidence = collect_evidence(snap, policy, deep=deep, do_import=do_import, cache_dir=cache_dir,
                                environ=environ, cwd=os.getcwd())
    report = diagnose(snap, policy, remembered.load(prefix, environ), evidence,
                      fix_python=None if is_active else snap.interpreter.executable,
                      fix_prefix=None if is_active else str(prefix))
    click.echo(report_json(report) if as_json else report_text(report))
    sys.exit(report.exit_code)


@click.command()
@_prefix_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema 1).")
def status(prefix, as_json):
    """Show the protected packages (owner, version, build, channel, CUDA/CPU), whether the shims
    and the `python -m pip` guard are installed, and the configuration files in force."""
    from guard.act import remembered
    from guard.policy.config import load_policy
    from guard.doctor.diagnose import read_version_files
    from guard.environment.snapshot import snapshot
    from guard.doctor.status import collect_status, guard_files, status_json, status_text

    prefix, environ, cache_dir, _ = _environment(prefix)
    policy, config_files = load_policy(prefix, environ)
    snap = snapshot(prefix, cache_dir=cache_dir)
    remembered_records = remembered.load(prefix, environ)
    shims, pth = guard_files(snap)
    result = collect_status(snap, policy, config_files, remembered_records,
                            remembered_file=str(remembered.path(prefix, environ)), shims=shims, pip_guard=pth,
                            version_files=read_version_files(snap))
    click.echo(status_json(result) if as_json else status_text(result))
