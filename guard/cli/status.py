"""``guard status``: the click command; the work is in :mod:`guard.doctor.status`.

Exit status: 0, 2 bad input (the prefix is missing or not a Python environment, a broken
configuration file).
"""

from __future__ import annotations

import click

from guard.cli.context import Context, prefix_option
from guard.errors import EnvironmentReadError


@click.command()
@prefix_option("The environment to examine", file_okay=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema 1).")
def status(prefix, as_json):
    """Show the protected packages (owner, version, build, channel, CUDA/CPU), whether the shims
    and the `python -m pip` guard are installed, and the configuration files in force.

    \b
    Examples:
      guard status                             the active environment
      guard status --prefix ~/miniforge3/envs/dl
      guard status --json | jq '.protected[] | select(.owner != "conda")'

    \b
    Protection is switched off per command, not here: GUARD_DISABLE=1 pip
    install ... or pip install --guard-disable ...; `guard shims uninstall`
    removes the hooks. Exit status: 0, 2 bad input.
    --json: guard/data/schemas/status.schema.json.
    """
    from guard.act import remembered
    from guard.doctor.evidence import read_version_files
    from guard.doctor.status import collect_status, guard_files, status_json, status_text, uv_shim_file
    from guard.environment.snapshot import snapshot
    from guard.policy.config import load_policy

    ctx = Context.resolve(prefix, missing=EnvironmentReadError)
    policy, config_files = load_policy(ctx.prefix, ctx.environ)
    snap = snapshot(ctx.prefix, cache_dir=ctx.cache_dir)
    remembered_records = remembered.load(ctx.prefix, ctx.environ)
    shims, pth = guard_files(snap)
    result = collect_status(
        snap,
        policy,
        config_files,
        remembered_records,
        remembered_file=str(remembered.path(ctx.prefix, ctx.environ)),
        shims=shims,
        pip_guard=pth,
        version_files=read_version_files(snap),
        uv_shim=uv_shim_file(snap.prefix),
    )
    click.echo(status_json(result) if as_json else status_text(result))
