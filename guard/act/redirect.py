"""Running the conda redirect of a blocked install (the plan is :mod:`guard.explain.redirect`).

* Front end: ``$CONDA_EXE``, ``$MAMBA_EXE``, then ``conda``, ``mamba``, ``micromamba`` on PATH
  (:func:`detect_frontend`).
* :func:`run_redirect` shows both commands, asks, runs the conda step and, only when it succeeded,
  the pip remainder through the guard; each step is journaled. It prints nothing and reads no
  terminal itself: the face that calls it hands it ``echo`` (one line out) and ``ask`` (a
  question in, the answer out; None when there is no one to ask).

Exit status of ``run_redirect``: 0 both steps succeeded; 1 nothing was done (no plan, declined,
not interactive without ``yes``); the failing step's own status otherwise (at least 1).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Callable

from guard.explain.redirect import Frontend, instead_text, plan_redirect, shell_join

FRONTENDS = ("conda", "mamba", "micromamba")


def detect_frontend(environ: Mapping[str, str]) -> Frontend | None:
    """``$CONDA_EXE``, ``$MAMBA_EXE``, then conda, mamba, micromamba on ``$PATH``."""
    for var in ("CONDA_EXE", "MAMBA_EXE"):
        exe = environ.get(var)
        if exe and os.path.isfile(exe) and os.access(exe, os.X_OK):
            return Frontend(_kind(exe, default="conda" if var == "CONDA_EXE" else "mamba"), exe)
    path = environ.get("PATH", os.defpath)
    for name in FRONTENDS:
        found = shutil.which(name, path=path)
        if found:
            return Frontend(name, found)
    return None


def _kind(exe: str, default: str) -> str:
    base = Path(exe).name.lower()
    for name in ("micromamba", "mamba", "conda"):
        if base.startswith(name):
            return name
    return default


def instead_line(result, snapshot, environ: Mapping[str, str] | None = None) -> str | None:
    """One line for a block message: what to type instead (the conda step, then pip's
    remainder), or None when conda-forge takes nothing of the command."""
    plan = plan_redirect(result, snapshot)
    if plan is None:
        return None
    frontend = detect_frontend(environ if environ is not None else os.environ)
    return instead_text(plan, frontend, result.prefix)


def _journal(ctx, pip_argv, step: str, argv, rc, outcome: str, echo: Callable[[str], None]) -> None:
    from guard.act.journal import append

    try:
        append(
            ctx.prefix,
            ctx.environ,
            {
                "argv": ["pip", *pip_argv],
                "verdict": "redirect",
                "step": step,
                "executed": shell_join(argv),
                "rc": rc,
                "outcome": outcome,
            },
        )
    except OSError as exc:
        echo(f"conda-pip-guard: warning: could not write the journal ({exc})")


def run_redirect(
    result,
    snapshot,
    ctx,
    *,
    yes: bool,
    pip_argv: Sequence[str],
    echo: Callable[[str], None],
    ask: Callable[[str], str] | None = None,
    interactive: bool | None = None,
    yes_flag: str = "--guard-yes",
) -> int:
    """Run the redirect of a blocked ``pip pip_argv``: show both commands, ask (unless ``yes``),
    run the conda step, and only when it succeeded the pip remainder through the guard. Each
    step is journaled; every failure says what was and was not done. ``interactive`` defaults to
    whether there is an ``ask``; without ``yes`` and not interactive nothing runs."""
    plan = plan_redirect(result, snapshot, pip_argv)
    if plan is None:
        echo("conda-pip-guard: nothing to redirect: conda-forge ships none of the requested packages")
        return 1
    frontend = detect_frontend(ctx.environ)
    if frontend is None:
        echo(
            "conda-pip-guard: cannot redirect: no conda front end found ($CONDA_EXE, $MAMBA_EXE, or conda, "
            "mamba, micromamba on PATH). Nothing was installed."
        )
        return 1
    echo("conda-pip-guard: redirecting to conda:")
    echo(f"  1. {plan.shown_conda(frontend, ctx.prefix)}")
    if plan.pip_argv:
        echo(f"  2. {plan.shown_pip()}   (guarded; only if step 1 succeeds)")
    for note in plan.notes:
        echo(f"     note: {note}")
    if not yes:
        if interactive is None:
            interactive = ask is not None
        if not interactive or ask is None:
            echo(f"conda-pip-guard: not interactive: pass {yes_flag} to run the redirect. Nothing was installed.")
            return 1
        answer = ask("conda-pip-guard: run these? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            echo("conda-pip-guard: declined. Nothing was installed.")
            return 1
    conda_cmd = plan.conda_argv(frontend, ctx.prefix, yes=True)
    rc = _run(conda_cmd, dict(ctx.environ), echo)
    _journal(ctx, pip_argv, "conda", conda_cmd, rc, "ok" if rc == 0 else "failed", echo)
    if rc != 0:
        echo(
            f"conda-pip-guard: step 1 failed ({frontend.kind} exited {rc}). Nothing was installed by pip"
            + (f"; not run: {plan.shown_pip()}" if plan.pip_argv else "")
            + "."
        )
        return rc if rc > 0 else 1
    echo(f"conda-pip-guard: step 1 done: {frontend.kind} installed {' '.join(plan.conda_specs)}")
    if not plan.pip_argv:
        return 0
    pip_cmd = [sys.executable, "-m", "guard", "pip", *plan.pip_argv]
    env = {**ctx.environ, "GUARD_PREFIX": str(ctx.prefix)}
    rc = _run(pip_cmd, env, echo)
    _journal(ctx, pip_argv, "pip", ["pip", *plan.pip_argv], rc, "ok" if rc == 0 else "failed", echo)
    if rc != 0:
        echo(
            f"conda-pip-guard: step 2 failed (pip exited {rc}): step 1 ({frontend.kind} install "
            f"{' '.join(plan.conda_specs)}) is done and stays; not installed: {plan.shown_pip()}"
        )
        return rc if rc > 0 else 1
    echo(f"conda-pip-guard: step 2 done: {plan.shown_pip()}")
    return 0


def _run(argv: Sequence[str], env: Mapping[str, str], echo: Callable[[str], None]) -> int:
    try:
        return subprocess.run(list(argv), env=dict(env), check=False).returncode
    except OSError as exc:
        echo(f"conda-pip-guard: cannot run {argv[0]}: {exc}")
        return 127
