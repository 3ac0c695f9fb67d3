"""``guard pip ARGS``: what the shims and the ``python -m pip`` hook run instead of pip.

The arguments are pip's, verbatim; the guard consumes only ``--guard-disable``. Where it runs:
``$GUARD_PREFIX`` (set by the hooks), else the environment the real pip belongs to, else
``$CONDA_PREFIX``/this Python's prefix. Which pip: ``$GUARD_REAL_PIP`` (the script the shim found
next on PATH), else ``<env python> -m pip``.

Exit status: pip's own when pip runs; 1 when blocked; 2 for the guard's own usage errors.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

from . import action

# pip's general options that take a value (pip/_internal/cli/cmdoptions.py general_group)
_VALUE_OPTIONS = {"--python", "--log", "--log-file", "--local-log", "--proxy", "--retries", "--timeout",
                  "--exists-action", "--trusted-host", "--cert", "--client-cert", "--cache-dir", "--src",
                  "--keyring-provider", "--use-feature", "--use-deprecated", "--resume-retries"}


def subcommand(argv: Sequence[str]) -> str | None:
    """pip's subcommand word, skipping general options (and their values) before it."""
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--":
            return None
        if a.startswith("--"):
            if "=" not in a and a in _VALUE_OPTIONS:
                skip = True
            continue
        if a.startswith("-"):
            continue
        return a
    return None


def _err(msg: str) -> None:
    sys.stderr.write(f"conda-pip-guard: {msg}\n")
    sys.stderr.flush()


def target_prefix(environ) -> Path:
    if environ.get("GUARD_PREFIX"):
        return Path(environ["GUARD_PREFIX"])
    real_pip = environ.get("GUARD_REAL_PIP")
    if real_pip:
        candidate = Path(real_pip).resolve().parent.parent
        if (candidate / "conda-meta").is_dir() or (candidate / "pyvenv.cfg").is_file():
            return candidate
    from .environment import default_prefix

    return default_prefix(environ)


def main(argv: Sequence[str]) -> int:
    environ = dict(os.environ)
    argv, flag_disabled = action.strip_disable_flag(argv)
    prefix = target_prefix(environ)
    python = _env_python(prefix)
    pip_cmd = action.real_pip_command(python, environ.get("GUARD_REAL_PIP"))
    pip_env = {**environ, action.ACTIVE_VAR: "1"}
    command = subcommand(argv)
    if command not in ("install", "uninstall"):
        action.exec_pip(pip_cmd + list(argv), pip_env)
    if flag_disabled or action.is_disabled(environ):
        why = action.DISABLE_FLAG if flag_disabled else f"{action.DISABLE_VAR}=1"
        _err(f"disabled by {why}: pip runs unguarded")
        _journal(prefix, environ, argv, "override", [], executed=" ".join(pip_cmd + list(argv)), note=why)
        action.exec_pip(pip_cmd + list(argv), pip_env)
    return _guarded(prefix, environ, argv, command, pip_cmd, pip_env)


def _env_python(prefix: Path) -> str:
    from .interpreter import find_interpreter

    try:
        return str(find_interpreter(prefix))
    except Exception:  # noqa: BLE001 - no interpreter: fall back to ours, pip will say more
        return sys.executable


def _guarded(prefix: Path, environ, argv, command, pip_cmd, pip_env) -> int:
    from .check import Context, default_cache_dir, simulate
    from .config import load_policy
    from .errors import GuardError, ResolutionImpossible
    from .render import block_text

    ctx = Context(prefix=prefix.resolve(), environ=environ, cwd=os.getcwd(), cache_dir=default_cache_dir(environ))
    try:
        policy, _ = load_policy(ctx.prefix, environ)
    except GuardError as exc:
        _err(f"error: {exc}")
        return exc.exit_code
    snap = None
    try:
        from .check import load_snapshot

        snap = load_snapshot(ctx)
        result = simulate(argv, ctx, snap=snap, policy=policy)
    except ResolutionImpossible:
        # pip would fail as well; let pip say so in its own words (with the safety net on)
        return _run_with_safety_net(ctx, argv, command, pip_cmd, pip_env, snap, policy, note=None)
    except (GuardError, Exception) as exc:  # noqa: BLE001 - never fail open, never block everything
        if isinstance(exc, KeyboardInterrupt):
            raise
        _err(f"could not simulate this command ({exc}); pip runs with conda's protected packages pinned")
        return _run_with_safety_net(ctx, argv, command, pip_cmd, pip_env, snap, policy, note=str(exc))
    verdict = result.verdict
    entry_changes = [c.to_json(c.name in verdict.protected) for c in result.plan.changes]
    if verdict.blocked:
        sys.stderr.write(block_text(result) + "\n")
        _journal(ctx.prefix, environ, argv, "block", entry_changes,
                 reasons=[{"name": r.name, "rule": r.rule, "message": r.message, "chain": list(r.chain)}
                          for r in verdict.reasons])
        return action.EXIT_BLOCK
    for w in verdict.warnings:
        _err(f"warning: {w}")
    if command == "uninstall" and verdict.warnings and sys.stdin.isatty() and "-y" not in argv and "--yes" not in argv:
        if input("conda-pip-guard: proceed with a change conda will not know about? [y/N] ").strip().lower() not in ("y", "yes"):
            return action.EXIT_BLOCK
    _journal(ctx.prefix, environ, argv, "allow", entry_changes, executed=" ".join(pip_cmd + list(argv)))
    return _run_with_safety_net(ctx, argv, command, pip_cmd, pip_env, snap, policy, note=None)


def _run_with_safety_net(ctx, argv, command, pip_cmd, pip_env, snap, policy, note) -> int:
    if command != "install" or snap is None:
        action.exec_pip(pip_cmd + list(argv), pip_env)
    pins = action.safety_constraints(snap, policy)
    if not pins:
        action.exec_pip(pip_cmd + list(argv), pip_env)
    from .journal import state_dir

    safety = state_dir(ctx.prefix, ctx.environ) / "safety-constraints.txt"
    safety.parent.mkdir(parents=True, exist_ok=True)
    tmp = safety.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text("# conda-pip-guard safety net: protected conda-owned distributions stay as they are\n"
                   + "".join(p + "\n" for p in pins), encoding="utf-8")
    os.replace(tmp, safety)
    if note is not None:
        _journal(ctx.prefix, ctx.environ, argv, "unsimulated", [], note=note,
                 executed=" ".join(pip_cmd + list(argv)))
    if action.has_cli_constraint(argv):
        action.exec_pip(pip_cmd + action.argv_with_constraint(argv, str(safety)), pip_env)
    from .pip_config import load_pip_config

    config = load_pip_config(site_prefix=snap.interpreter.prefix, environ=ctx.environ)
    existing = config.get_list("constraint")
    action.exec_pip(pip_cmd + list(argv), action.pip_env_with_safety_net(pip_env, existing, str(safety)))
    return 0  # not reached


def _journal(prefix, environ, argv, verdict, changes, **extra) -> None:
    from .journal import append

    try:
        append(prefix, environ, {"argv": ["pip", *argv], "verdict": verdict, "changes": changes, **extra})
    except OSError as exc:
        _err(f"warning: could not write the journal ({exc})")
