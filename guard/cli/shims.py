"""``guard shims install|uninstall|status``: the click commands; the work is in
:mod:`guard.integrate.shims`."""

from __future__ import annotations

import os
import sys

import click

from guard.cli.context import Context, prefix_option

_prefix_option = prefix_option("The environment")


@click.group()
def shims():
    """Guard a plain `pip install` in an environment: pip shims, conda activation hooks and a
    `python -m pip` hook, all inside the environment (your shell rc files are never touched).
    A `uv` shim too: `uv pip install|sync|uninstall` go through `guard uv`; every other uv
    command runs the real uv untouched.

    \b
    Examples:
      guard shims install                        the active environment
      guard shims install --prefix ~/miniforge3/envs/dl
      guard shims status
      guard shims uninstall                      remove exactly what install wrote

    \b
    With the shims in place, for one command:
      GUARD_DISABLE=1 pip install ...            skip the guard (journaled)
      pip install --guard-disable ...            the same, as a flag
      pip install --guard-redirect [--guard-yes] ...   a block runs the conda
                                                 redirect instead
    """


@shims.command("install")
@_prefix_option
@click.option(
    "--guard-exe",
    type=click.Path(dir_okay=False),
    default=None,
    help="The guard executable the shims run (default: this one).",
)
def install_cmd(prefix, guard_exe):
    """Install (or refresh) the shims and hooks in the environment. Idempotent.

    Conda environments only: for a prefix without conda-meta/ (a plain venv) it refuses with exit
    status 2 and writes nothing, since nothing there is conda's to protect (`guard pip` runs plain
    pip in such an env) and a venv's activate script never runs conda's activation hooks."""
    from guard.integrate.shims import SHIMS_DIR, install

    ctx = Context.resolve(prefix)
    prefix = ctx.prefix
    result = install(prefix, guard_exe=guard_exe, cache_dir=ctx.cache_dir)
    what = f"{len(result.written)} file(s) written" if result.written else "already up to date"  # manifest included
    click.echo(f"guard shims: installed in {prefix} ({what}); guard: {result.guard_exe}")
    for rel in result.removed:
        click.echo(f"  removed stale {rel}")
    active = ctx.environ.get("CONDA_PREFIX") and os.path.abspath(ctx.environ["CONDA_PREFIX"]) == str(prefix)
    on_path = str(prefix / SHIMS_DIR) in ctx.environ.get("PATH", "").split(os.pathsep)
    if active and not on_path:
        click.echo("  the env is active in this shell: `conda activate` it again to put the shims on PATH")
    click.echo("  `python -m pip` and %pip are guarded from now on; `pip` and `uv pip` after the next activation")


@shims.command("uninstall")
@_prefix_option
def uninstall_cmd(prefix):
    """Remove everything `guard shims install` wrote; the environment is left as it was."""
    from guard.integrate.shims import uninstall

    prefix = Context.resolve(prefix).prefix
    removed = uninstall(prefix)
    if not removed:
        click.echo(f"guard shims: nothing installed in {prefix}")
        return
    click.echo(f"guard shims: removed {len(removed)} file(s) from {prefix}")


@shims.command("status")
@_prefix_option
def status_cmd(prefix):
    """Say what is installed and whether it is current.

    Exit status: 0 installed and current; 1 not installed, or files missing or out of date."""
    from guard.integrate.shims import status

    ctx = Context.resolve(prefix)
    prefix = ctx.prefix
    st = status(prefix, dict(ctx.environ), cache_dir=ctx.cache_dir)
    if not st.installed:
        click.echo(f"guard shims: not installed in {prefix}")
    else:
        click.echo(f"guard shims: installed in {prefix}; guard: {st.guard_exe}")
        click.echo(f"  shims on PATH here: {'yes' if st.on_path else 'no (activate the env)'}")
        click.echo(f"  uv: {'guarded (uv pip install/sync/uninstall)' if st.uv_shim else 'not guarded (no uv shim)'}")
        for rel in st.missing:
            click.echo(f"  missing: {rel}  (run `guard shims install`)")
        for rel in st.outdated:
            click.echo(f"  out of date: {rel}  (run `guard shims install`)")
    for marker in st.externally_managed:
        click.echo(f"  note: {marker} is present (PEP 668); pip obeys it, the guard leaves it alone")
    sys.exit(0 if st.installed and not st.missing and not st.outdated else 1)
