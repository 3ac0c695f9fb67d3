"""``guard pip ARGS``: what the shims and the ``python -m pip`` hook run instead of pip.

The arguments are pip's, verbatim; the guard consumes only its own flags (``--guard-disable``,
``--guard-redirect``, ``--guard-yes``). Where it runs:
pip's own ``--python``, else ``$GUARD_PREFIX`` (set by the shims and the hook), else the
environment the real pip belongs to, else the active one. Which pip (``action.real_pip_command``):
``$GUARD_PIP_PYTHON`` (the ``python [options] -m pip`` the hook caught), else ``$GUARD_REAL_PIP``
(the script the shim found next on PATH), else ``<env python> -m pip``.

Subcommands other than install/uninstall, and ``install --dry-run`` (pip changes nothing then):
pip at once (``exec``), nothing else done.
Exit status: pip's own when pip runs; 1 when blocked; 2 for the guard's own usage errors.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Sequence

from . import action
from .pip_hook import GUARDED, UNSURE, pip_subcommand


def subcommand(argv: Sequence[str]) -> str | None:
    """pip's subcommand word, read past pip's general options as pip's optparse reads them
    (abbreviations included). When pip would reject those options, an ``install``/``uninstall``
    word anywhere still counts: a newer pip may know an option this table does not, and the guard
    must not wave an install through on that account (the simulation then decides, or fails over
    to the safety net)."""
    word, _ = pip_subcommand(argv)
    if word != UNSURE:
        return word
    return next((a for a in argv if a in GUARDED), None)


def _dry_run(argv: Sequence[str]) -> bool:
    """``pip install --dry-run`` changes nothing: it goes straight to pip."""
    if not any(a.startswith("--d") for a in argv):  # the common case: no parser imported
        return False
    from .pip_args import install_has_dry_run

    return install_has_dry_run(argv)


def _err(msg: str) -> None:
    sys.stderr.write(f"conda-pip-guard: {msg}\n")
    sys.stderr.flush()


def target_prefix(environ, argv: Sequence[str] = ()) -> Path:
    """The environment pip will change: pip's ``--python`` (an interpreter or an env directory),
    else ``$GUARD_PREFIX``, else the env of ``$GUARD_REAL_PIP``, else the active one."""
    _, general = pip_subcommand(argv)
    python = general.get("--python")
    if python:
        found = Path(python) if os.path.sep in python else Path(shutil.which(python) or python)
        return found if found.is_dir() else Path(os.path.abspath(found)).parent.parent
    if environ.get("GUARD_PREFIX"):
        return Path(environ["GUARD_PREFIX"])
    real_pip = environ.get("GUARD_REAL_PIP")
    if real_pip:
        candidate = Path(os.path.abspath(real_pip)).parent.parent
        if (candidate / "conda-meta").is_dir() or (candidate / "pyvenv.cfg").is_file():
            return candidate
    from .environment import default_prefix

    return default_prefix(environ)


def main(argv: Sequence[str]) -> int:
    environ = dict(os.environ)
    argv, flags = action.strip_guard_flags(argv)
    flag_disabled = action.DISABLE_FLAG in flags
    command = subcommand(argv)
    prefix = target_prefix(environ, argv)
    pip_cmd = action.real_pip_command(prefix, environ)
    pip_env = action.pip_environ(environ)
    if command not in GUARDED or (command == "install" and _dry_run(argv)):
        action.exec_pip(pip_cmd + list(argv), pip_env)
    if flag_disabled or action.is_disabled(environ):
        why = action.DISABLE_FLAG if flag_disabled else f"{action.DISABLE_VAR}=1"
        _err(f"warning: disabled by {why}: pip runs unguarded")
        _journal(prefix, environ, argv, "override", [], executed=" ".join(pip_cmd + list(argv)), note=why)
        action.exec_pip(pip_cmd + list(argv), pip_env)
    return _guarded(prefix, environ, argv, command, pip_cmd, pip_env, flags)


def _guarded(prefix: Path, environ, argv, command, pip_cmd, pip_env, flags=frozenset()) -> int:
    from .check import Context, default_cache_dir, load_snapshot, simulate
    from .config import load_policy
    from .errors import GuardError, ResolutionImpossible
    from .render import block_text

    ctx = Context(prefix=Path(os.path.abspath(prefix)), environ=environ, cwd=os.getcwd(),
                  cache_dir=default_cache_dir(environ))
    try:
        policy, _ = load_policy(ctx.prefix, environ)
    except GuardError as exc:  # the user's own config file is broken: say so, run nothing
        _err(f"error: {exc}")
        return exc.exit_code
    snap = None
    try:
        snap = load_snapshot(ctx)
        if not snap.is_conda:
            # no conda-meta: nothing here is conda's to protect; pip runs as if the guard were absent
            action.exec_pip(pip_cmd + list(argv), pip_env)
        result = simulate(argv, ctx, snap=snap, policy=policy)
    except ResolutionImpossible:
        # pip would fail as well; let pip say so in its own words (with the safety net on)
        return _run_with_safety_net(ctx, argv, command, pip_cmd, pip_env, snap, policy, note=None)
    except Exception as exc:  # noqa: BLE001 - never fail open, never block everything
        _err(f"could not simulate this command ({_one_line(exc)}); pip runs with conda's protected "
             "packages pinned at their installed versions")
        return _run_with_safety_net(ctx, argv, command, pip_cmd, pip_env, snap, policy, note=_one_line(exc))
    verdict = result.verdict
    entry_changes = [c.to_json(c.name in verdict.protected) for c in result.plan.changes]
    _remember(snap, policy, ctx)
    if verdict.blocked:
        sys.stderr.write(block_text(result) + "\n")
        instead = _instead_line(result, snap, environ) if command == "install" else None
        if instead:
            sys.stderr.write(f"  {instead}\n")
        _journal(ctx.prefix, environ, argv, "block", entry_changes,
                 reasons=[{"name": r.name, "rule": r.rule, "message": r.message, "chain": list(r.chain)}
                          for r in verdict.reasons])
        if command == "install" and instead and (action.REDIRECT_FLAG in flags or policy.on_block == "redirect"):
            from .redirect import run_redirect

            return run_redirect(result, snap, ctx, yes=action.YES_FLAG in flags, pip_argv=list(argv))
        return action.EXIT_BLOCK
    for w in verdict.warnings:
        _err(f"warning: {w}")
    if command == "uninstall" and verdict.warnings and sys.stdin.isatty() and "-y" not in argv and "--yes" not in argv:
        answer = input("conda-pip-guard: proceed with a change conda will not know about? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            _journal(ctx.prefix, environ, argv, "declined", entry_changes)
            return action.EXIT_BLOCK
    _journal(ctx.prefix, environ, argv, "allow", entry_changes, executed=" ".join(pip_cmd + list(argv)))
    return _run_with_safety_net(ctx, argv, command, pip_cmd, pip_env, snap, policy, note=None)


def _instead_line(result, snap, environ) -> str | None:
    """What to type instead (the conda redirect); never lets a mapping problem hide the block."""
    try:
        from .redirect import instead_line

        return instead_line(result, snap, environ)
    except Exception:  # noqa: BLE001
        return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _remember(snap, policy, ctx) -> None:
    """Keep a copy of the protected conda records before pip runs (``guard doctor`` reads it)."""
    try:
        from .remembered import remember

        remember(snap, policy, ctx.prefix, ctx.environ)
    except Exception:  # noqa: BLE001 - remembering must never stop an install
        pass


def _run_with_safety_net(ctx, argv, command, pip_cmd, pip_env, snap, policy, note) -> int:
    """Run pip (this process becomes pip). For ``install``: with the safety net, a constraints
    file pinning every protected conda-owned distribution; from the snapshot when there is one,
    else straight from conda-meta (the snapshot itself may be what failed)."""
    if note is not None:
        _journal(ctx.prefix, ctx.environ, argv, "unsimulated", [], note=note,
                 executed=" ".join(pip_cmd + list(argv)))
    if policy is None:
        from .policy import Policy

        policy = Policy()
    if command == "uninstall" and note is not None:
        hit = _protected_named(ctx.prefix, argv, policy)
        if hit:
            _err(f"blocked: {hit} was installed by conda and is protected; the uninstall could not be "
                 "simulated, so it does not run (override: GUARD_DISABLE=1)")
            return action.EXIT_BLOCK
    if command != "install":
        action.exec_pip(pip_cmd + list(argv), pip_env)
    try:
        pins = (action.safety_constraints(snap, policy) if snap is not None
                else action.safety_constraints_from_conda_meta(ctx.prefix, policy))
    except Exception as exc:  # noqa: BLE001 - unreadable env: pip decides, and we said so
        _err(f"warning: cannot read the environment's conda records ({_one_line(exc)}); pip runs without the safety net")
        pins = []
    if not pins:
        action.exec_pip(pip_cmd + list(argv), pip_env)
    safety = action.write_safety_constraints(ctx.prefix, ctx.environ, pins)
    from .pip_args import uses_isolated_config

    isolated = uses_isolated_config(argv)
    if isolated or action.has_cli_constraint(argv):
        # pip --isolated ignores PIP_* variables, and a -c on the command line replaces configured
        # constraints: either way the net must travel on the command line itself
        action.exec_pip(pip_cmd + action.argv_with_constraint(argv, str(safety)), pip_env)
    existing: list[str] = []
    try:
        from .pip_config import load_pip_config

        site_prefix = snap.interpreter.prefix if snap is not None else str(ctx.prefix)
        base_prefix = snap.interpreter.base_prefix if snap is not None else None
        existing = load_pip_config(site_prefix=site_prefix, base_prefix=base_prefix,
                                   environ=ctx.environ).get_list("constraint")
    except Exception:  # noqa: BLE001 - the user's constraints then come only from PIP_CONSTRAINT
        existing = (ctx.environ.get("PIP_CONSTRAINT") or "").split()
    action.exec_pip(pip_cmd + list(argv), action.pip_env_with_safety_net(pip_env, existing, str(safety)))
    return 0  # not reached


def _protected_named(prefix: Path, argv, policy) -> str | None:
    """A protected conda-owned distribution named on an uninstall command line, read plainly
    (used only when the uninstall could not be simulated)."""
    from packaging.utils import canonicalize_name

    try:
        pinned = {p.split("==")[0] for p in action.safety_constraints_from_conda_meta(prefix, policy)}
    except Exception:  # noqa: BLE001
        return None
    for a in argv:
        name = canonicalize_name(a.split("==")[0]) if not a.startswith("-") else ""
        if name in pinned:
            return name
    return None


def _journal(prefix, environ, argv, verdict, changes, **extra) -> None:
    from .journal import append

    try:
        append(prefix, environ, {"argv": ["pip", *argv], "verdict": verdict, "changes": changes, **extra})
    except OSError as exc:
        _err(f"warning: could not write the journal ({exc})")
