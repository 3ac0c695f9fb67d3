"""``guard why`` and ``guard log``: click commands, nothing else (the work is in :mod:`guard.why`,
:mod:`guard.alternative`, :mod:`guard.redirect`; the text in :mod:`guard.render`).

Exit status of ``guard why``: 0 (explaining is not failing), 2 bad input, 3 the command could not
be simulated; with ``--redirect``, the redirect's own status (see :mod:`guard.redirect`).
``guard log``: 0, 2 bad input.
"""

from __future__ import annotations

import json
import sys

import click

from guard.cli.main import _allow_build_option, _context, _prefix_option, _with_build_choice


@click.command(context_settings={"ignore_unknown_options": True})
@_prefix_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema 1).")
@click.option("--redirect", is_flag=True, help="Run the conda redirect for the blocked command.")
@click.option("-y", "--yes", is_flag=True, help="With --redirect: do not ask.")
@click.option("--no-alternative", is_flag=True, help="Skip the search for a compatible alternative.")
@_allow_build_option
@click.argument("package", required=False)
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED)
def why(prefix, as_json, redirect, yes, no_alternative, allow_build, package, pip_args):
    """Explain why PACKAGE is protected and which requirements would change it.

    \b
    guard why torch -- transformers[torch]   explain that hypothetical install
    guard why torch                          explain the last blocked command in this env
    guard why                                the same, for what that command was blocked for
    """
    from packaging.utils import canonicalize_name

    from guard.act import journal
    from guard.explain import render
    from guard.explain import why as why_mod
    from guard.pipeline.check import load_snapshot, pip_argv_for_check, simulate
    from guard.policy.config import load_policy
    from guard.errors import GuardError
    from guard.redact import redact  # what is shown never holds a credential
    from guard.act.redirect import detect_frontend, plan_redirect, run_redirect

    if package is not None:
        try:
            canonicalize_name(package, validate=True)
        except Exception:  # noqa: BLE001 - packaging raises InvalidName
            raise click.BadParameter(f"{package!r} is not a package name", param_hint="PACKAGE") from None
    elif pip_args:
        raise click.UsageError("give the PACKAGE to explain before -- PIP_ARGS")
    ctx = _with_build_choice(_context(prefix), allow_build)
    policy, _ = load_policy(ctx.prefix, ctx.environ)
    snap = load_snapshot(ctx)
    result = None
    entry = None
    if pip_args:
        argv = pip_argv_for_check(pip_args)
        result = simulate(argv, ctx, snap=snap, policy=policy)
    else:
        entry = journal.last_blocked(ctx.prefix, ctx.environ)
        argv = list((entry or {}).get("argv") or [])[1:]
        if package is None:
            package = _blocked_name(entry)
            if not package:
                click.echo(json.dumps({"schema": 1, "package": None, "command": [], "verdict": None}, indent=2)
                           if as_json else "No blocked command in this environment's journal.")
                sys.exit(0)
        if entry is not None and argv:
            try:
                result = simulate(argv, ctx, snap=snap, policy=policy)
            except GuardError:
                result = None
            if result is not None and not result.verdict.blocked:
                result = None  # the env changed since: what was blocked is told from the journal
    if result is not None:
        expl = why_mod.explain(result.plan, result.verdict, snap, policy, package, argv)
        if entry is not None:
            expl["time"] = entry.get("time")
    elif entry is not None:
        expl = why_mod.explain_entry(entry, snap, policy, package)
    else:
        expl = why_mod.explain_entry({"argv": [], "verdict": None}, snap, policy, package)
    if result is not None and result.verdict.blocked:
        if not no_alternative:
            from guard.explain.alternative import find_alternative

            blocked = [r.name for r in result.verdict.reasons if r.rule == "protected-conda-package"]
            expl["alternative"] = find_alternative(argv, ctx, snap, policy, blocked).to_json()
        rplan = plan_redirect(result, snap, argv)
        expl["redirect"] = rplan.to_json(detect_frontend(ctx.environ), ctx.prefix) if rplan else None
    if redirect:
        if result is None or not result.verdict.blocked:
            raise click.UsageError("--redirect needs a blocked command: give it after --, or run it once first")
        click.echo(redact(render.why_text(expl)), err=True)
        sys.exit(run_redirect(result, snap, ctx, yes=yes, pip_argv=argv, echo=lambda s: click.echo(s, err=True),
                              yes_flag="--yes"))
    click.echo(redact(json.dumps(expl, indent=2) if as_json else render.why_text(expl)))
    sys.exit(0)


def _blocked_name(entry) -> str:
    """What ``guard why`` without a package explains: the first name the last block was for
    (``""`` when the journal holds no block: the text then says so)."""
    for item in (entry or {}).get("reasons") or ():
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
            return item["name"]
    for item in (entry or {}).get("changes") or ():
        if isinstance(item, dict) and item.get("protected") and isinstance(item.get("name"), str):
            return item["name"]
    return ""


@click.command()
@_prefix_option
@click.option("--json", "as_json", is_flag=True, help="Print the entries as a JSON array.")
@click.option("-n", "count", type=click.IntRange(min=1), default=None, help="Only the last N entries.")
def log(prefix, as_json, count):
    """Show this environment's journal: every guarded decision, oldest first."""
    from guard.act import journal
    from guard.explain import render

    ctx = _context(prefix)
    found = journal.read_all(ctx.prefix, ctx.environ, limit=count)
    for problem in found.problems:
        click.echo(f"guard: warning: {problem}", err=True)
    if found.skipped:
        click.echo(f"guard: warning: skipped {found.skipped} unreadable journal line"
                   f"{'s' if found.skipped != 1 else ''}", err=True)
    click.echo(json.dumps(found.entries, indent=2) if as_json else render.log_text(found.entries))
