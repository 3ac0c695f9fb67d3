"""``guard check``: simulate a pip install/uninstall and judge it; installs nothing.

Exit status: 0 allowed, 1 blocked, 2 bad input, 3 could not simulate.
"""

from __future__ import annotations

import sys

import click

from guard.cli.context import Context, allow_build_option, prefix_option
from guard.cli.exit_codes import EXIT_ALLOW, EXIT_BLOCK


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    short_help="Simulate a pip install/uninstall and judge it; installs nothing.",
)
@prefix_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema 1).")
@click.option("-v", "--verbose", is_flag=True, help="List every change, also for a block.")
@allow_build_option
@click.option(
    "--installer",
    type=click.Choice(["pip", "uv"]),
    default="pip",
    show_default=True,
    help="Whose install to judge: pip (the guard's own simulation) or uv (uv's own --dry-run; "
    "ARGS are what follows `uv pip`).",
)
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED)
def check(prefix, as_json, verbose, allow_build, installer, pip_args):
    """Simulate `pip install PIP_ARGS` (or `-- uninstall ...`) and judge it; installs nothing.

    PIP_ARGS are pip's own arguments, after `--` (requirements, -r FILE, -c FILE, --index-url,
    --upgrade, pip's --prefix/--target/--user, ...).

    \b
    Examples:
      guard check -- numpy==2.0.0
      guard check -v -- 'transformers[torch]'      every change, also for a block
      guard check --json -- -r requirements.txt    one JSON object (schema 1)
      guard check -- uninstall -y numpy
      guard check --prefix ~/miniforge3/envs/dl -- torch==2.6.0
      guard check --installer uv -- install numpy==2.0.0   uv's choice (uv pip ...)
      guard check --installer uv -- sync requirements.txt

    \b
    Overrides:
      --allow-build         an sdist or local project without static metadata
                            is built by pip's dry run (runs its code)
      GUARD_DEADLINE=120    seconds the simulation may take (default 60)
    When `guard pip` (the shims) blocks: GUARD_DISABLE=1 or --guard-disable
    runs pip anyway; --guard-redirect [--guard-yes] runs the conda redirect.

    \b
    Exit status: 0 allowed, 1 blocked, 2 bad input, 3 could not simulate.
    --json: guard/data/schemas/check.schema.json.
    """
    from guard.cli.check_run import CheckOptions, judge

    if installer == "uv":
        if not pip_args:
            raise click.UsageError("nothing to check: give pip install arguments, e.g. guard check -- numpy==2.0.0")
        _check_uv(prefix, as_json, verbose, pip_args)
    text, code = judge(CheckOptions(prefix, as_json, verbose, allow_build, tuple(pip_args)), click.UsageError)
    click.echo(text)
    sys.exit(code)


def _check_uv(prefix, as_json: bool, verbose: bool, uv_args) -> None:
    """``guard check --installer uv -- ARGS``: ARGS are what follows ``uv pip`` (``install ...``,
    ``sync FILE``, ``uninstall ...``; a first word that is none of these means ``install``),
    judged from uv's own ``--dry-run`` in the environment (uv's configuration applies)."""
    from guard.act.guarded_uv import real_uv, simulate_uv
    from guard.explain import render
    from guard.policy.config import load_policy
    from guard.redact import redact
    from guard.request.uv_command import GUARDED, UvCommand

    args = list(uv_args)
    if not args or args[0] not in GUARDED:
        args = ["install", *args]
    cmd = UvCommand.parse(["pip", *args])
    if cmd.dry_run or cmd.subcommand not in GUARDED:
        raise click.UsageError("guard check --installer uv judges uv pip install, sync and uninstall (no --dry-run)")
    ctx = Context.resolve(prefix).for_pipeline(None)
    policy, _ = load_policy(ctx.prefix, ctx.environ)
    uv = real_uv(ctx.prefix, ctx.environ)
    result = simulate_uv(ctx.prefix, ctx.environ, cmd, uv, policy, ctx.cwd, cache_dir=ctx.cache_dir)
    click.echo(
        redact(
            render.check_json(result, installer="uv")
            if as_json
            else render.check_text(result, verbose=verbose, installer="uv")
        )
    )
    sys.exit(EXIT_BLOCK if result.verdict.blocked else EXIT_ALLOW)
