"""``guard doctor``: the click command; the diagnosis is :mod:`guard.doctor.diagnose` over the
evidence :mod:`guard.doctor.evidence` reads, the text :mod:`guard.doctor.render`.

Exit status: 0 healthy (or warnings only), 1 problems found, 2 bad input (the prefix is missing or
not a Python environment, a broken configuration file).
"""

from __future__ import annotations

import sys

import click

from guard.cli.context import Context, prefix_option
from guard.errors import EnvironmentReadError


@click.command()
@prefix_option("The environment to examine", file_okay=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema 1).")
@click.option("--deep", is_flag=True, help="Hash the files of every conda package, not only the protected ones.")
@click.option(
    "--import",
    "do_import",
    is_flag=True,
    help="Import each protected package in the environment's own Python and compare what loads.",
)
def doctor(prefix, as_json, deep, do_import):
    """Find drift and broken CUDA stacks that pip already caused in an environment.

    \b
    Examples:
      guard doctor                      conda's records against site-packages
      guard doctor --deep               hash every conda package's files
      guard doctor --import             import torch & co. and compare what loads
      guard doctor --json | jq '.findings[].fix'

    \b
    Each problem comes with the command that repairs it. A repair that runs
    pip on a protected package needs the override it prints (GUARD_DISABLE=1).
    Exit status: 0 healthy (warnings alone too), 1 problems found, 2 bad input.
    --json: guard/data/schemas/doctor.schema.json.
    """
    from guard.act import remembered
    from guard.doctor.diagnose import diagnose
    from guard.doctor.evidence import collect_evidence
    from guard.doctor.render import report_json, report_text
    from guard.environment.snapshot import snapshot
    from guard.policy.config import load_policy

    ctx = Context.resolve(prefix, missing=EnvironmentReadError)
    policy, _ = load_policy(ctx.prefix, ctx.environ)
    snap = snapshot(ctx.prefix, cache_dir=ctx.cache_dir)
    evidence = collect_evidence(
        snap, policy, deep=deep, do_import=do_import, cache_dir=ctx.cache_dir, environ=ctx.environ, cwd=ctx.cwd
    )
    report = diagnose(
        snap,
        policy,
        remembered.load(ctx.prefix, ctx.environ),
        evidence,
        fix_python=None if ctx.is_active else snap.interpreter.executable,
        fix_prefix=None if ctx.is_active else str(ctx.prefix),
    )
    click.echo(report_json(report) if as_json else report_text(report))
    sys.exit(report.exit_code)
