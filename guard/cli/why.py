"""``guard why``: the click command; the answer is :func:`guard.explain.why.why` (a frozen
``Explanation``), its text :mod:`guard.explain.render`, the redirect's runner
:func:`guard.act.redirect.run_redirect`.

Exit status: 0 (explaining is not failing), 2 bad input, 3 the command could not be simulated;
with ``--redirect``, the redirect's own status (see :mod:`guard.act.redirect`).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from guard.cli.context import Context, allow_build_option, prefix_option


@click.command(context_settings={"ignore_unknown_options": True})
@prefix_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema 1).")
@click.option("--redirect", is_flag=True, help="Run the conda redirect for the blocked command.")
@click.option("-y", "--yes", is_flag=True, help="With --redirect: do not ask.")
@click.option("--no-alternative", is_flag=True, help="Skip the search for a compatible alternative.")
@allow_build_option
@click.option(
    "--installer",
    type=click.Choice(["pip", "uv"]),
    default="pip",
    show_default=True,
    help="Whose install PIP_ARGS are: pip, or uv (the words after `uv pip`, simulated by uv's own --dry-run). "
    "A blocked uv command in the journal is simulated with uv whatever this says.",
)
@click.argument("package", required=False)
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED)
def why(prefix, as_json, redirect, yes, no_alternative, allow_build, installer, package, pip_args):
    """Explain why PACKAGE is protected and which requirements would change it.

    \b
    Examples:
      guard why torch -- transformers[torch]   explain that hypothetical install
      guard why torch                          explain the last blocked command in this env
      guard why                                the same, for what that command was blocked for
      guard why --redirect                     run the conda redirect for it (asks first)
      guard why --json numpy -- numpy==2.0.0   one JSON object (schema 1)
      guard why --installer uv torch -- transformers[torch]   uv's choice

    \b
    Overrides: --allow-build (pip's dry run may build, running package code);
    GUARD_DEADLINE=120 (seconds a simulation may take, default 60). To run a
    blocked install anyway: GUARD_DISABLE=1 pip install ... or --guard-disable.

    \b
    Exit status: 0, 2 bad input, 3 could not simulate; with --redirect, the
    redirect's own. --json: guard/data/schemas/why.schema.json.
    """
    from packaging.utils import canonicalize_name

    from guard.act import journal
    from guard.act.progress import progress_on_stderr
    from guard.act.redirect import detect_frontend, run_redirect
    from guard.explain import render
    from guard.explain.why import why as explain_why
    from guard.pipeline.check import load_snapshot
    from guard.policy.config import load_policy
    from guard.redact import redact  # what is shown never holds a credential

    if package is not None:
        try:
            canonicalize_name(package, validate=True)
        except Exception:  # noqa: BLE001 - packaging raises InvalidName
            raise click.BadParameter(f"{package!r} is not a package name", param_hint="PACKAGE") from None
    elif pip_args:
        raise click.UsageError("give the PACKAGE to explain before -- PIP_ARGS")
    ctx = Context.resolve(prefix).for_pipeline(allow_build)
    policy, _ = load_policy(ctx.prefix, ctx.environ)
    # on a terminal, a line on stderr while the simulations run; erased before the answer
    with progress_on_stderr("guard: simulating", ctx.environ, enabled=not as_json) as progress:
        snap = load_snapshot(ctx)
        last_block = None if pip_args else journal.last_blocked(ctx.prefix, ctx.environ)
        explanation = explain_why(
            replace(ctx, progress=progress),
            snap,
            policy,
            package,
            pip_args,
            last_block=last_block,
            alternative=not no_alternative,
            frontend=detect_frontend(ctx.environ),
            installer=installer,
            simulate_uv=_uv_simulator(ctx, policy),
        )
    if explanation.package is None:  # nothing blocked here yet: nothing to explain, nothing to redirect
        click.echo(render.why_json(explanation) if as_json else render.why_text(explanation))
        sys.exit(0)
    if redirect:
        result = explanation.simulated
        if result is None or not result.verdict.blocked:
            raise click.UsageError("--redirect needs a blocked command: give it after --, or run it once first")
        click.echo(redact(render.why_text(explanation)), err=True)
        pip_argv, by = explanation.pip_argv, "pip"
        if explanation.command[:1] == ("uv",):  # a uv command: the remainder runs as guard uv pip ...
            from guard.request.uv_command import UvCommand

            uv_cmd = UvCommand.parse(explanation.command[1:])
            pip_argv, by = list(uv_cmd.argv[uv_cmd.subcommand_at :]), "uv"
        sys.exit(
            run_redirect(
                result,
                snap,
                ctx,
                yes=yes,
                pip_argv=pip_argv,
                echo=lambda line: click.echo(line, err=True),
                ask=input if sys.stdin.isatty() else None,
                yes_flag="--yes",
                installer=by,
            )
        )
    click.echo(redact(render.why_json(explanation) if as_json else render.why_text(explanation)))
    sys.exit(0)


def _uv_simulator(ctx, policy):
    """``words -> CheckResult``: uv's own dry run of ``uv WORDS`` in the env, judged."""

    def simulate(words: list[str]):
        from guard.act.guarded_uv import real_uv, simulate_uv
        from guard.errors import UsageError
        from guard.request.uv_command import GUARDED, UvCommand

        cmd = UvCommand.parse(words)
        if cmd.dry_run or cmd.subcommand not in GUARDED:
            raise UsageError("guard why --installer uv explains uv pip install, sync and uninstall (no --dry-run)")
        uv = real_uv(ctx.prefix, ctx.environ)
        return simulate_uv(ctx.prefix, ctx.environ, cmd, uv, policy, ctx.cwd, cache_dir=ctx.cache_dir)

    return simulate
