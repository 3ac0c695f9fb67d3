"""Running the conda redirect of a blocked install (the plan is :mod:`guard.explain.redirect`).

* Front end: ``$CONDA_EXE``, ``$MAMBA_EXE``, then ``conda``, ``mamba``, ``micromamba`` on PATH
  (:func:`detect_frontend`).
* :func:`run_redirect` shows both commands, asks, runs the conda step and, only when it succeeded,
  the pip remainder through the guard; each step is journaled. "Succeeded" is read from the env,
  not from conda's exit status: after conda exits 0 the env's conda-meta is read afresh and every
  package the step named must be there at the version asked and with the same CUDA/CPU variant
  as before (:func:`verify_conda_step`); the runner says exactly what it found either way. It prints nothing and reads no
  terminal itself: the face that calls it hands it ``echo`` (one line out) and ``ask`` (a
  question in, the answer out; None when there is no one to ask).

Exit status of ``run_redirect``: 0 both steps succeeded; 1 nothing was done (no plan, declined,
not interactive without ``yes``) or conda exited 0 but the env does not hold what was asked; the
failing step's own status otherwise (at least 1).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Callable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from guard.environment.conda_meta import read_conda_meta
from guard.explain.redirect import Frontend, RedirectPlan, instead_text, plan_redirect, shell_join
from guard.policy.conda import variant_of

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


def instead_line(result, snapshot, environ: Mapping[str, str] | None = None, installer: str = "pip") -> str | None:
    """One line for a block message: what to type instead (the conda step, then pip's
    remainder, or uv's for ``installer="uv"``), or None when conda-forge takes nothing of the
    command."""
    plan = plan_redirect(result, snapshot, installer=installer)
    if plan is None:
        return None
    frontend = detect_frontend(environ if environ is not None else os.environ)
    return instead_text(plan, frontend, result.prefix)


def _journal(
    ctx, pip_argv, step: str, argv, rc, outcome: str, echo: Callable[[str], None], installer: str = "pip"
) -> None:
    from guard.act.journal import append

    try:
        append(
            ctx.prefix,
            ctx.environ,
            {
                "argv": ["pip", *pip_argv] if installer == "pip" else [installer, "pip", *pip_argv],
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
    installer: str = "pip",
) -> int:
    """Run the redirect of a blocked ``pip pip_argv``: show both commands, ask (unless ``yes``),
    run the conda step, and only when it succeeded the pip remainder through the guard. Each
    step is journaled; every failure says what was and was not done. ``interactive`` defaults to
    whether there is an ``ask``; without ``yes`` and not interactive nothing runs.
    ``installer="uv"``: a blocked ``uv pip pip_argv``; the remainder runs as ``guard uv pip ...``."""
    plan = plan_redirect(result, snapshot, pip_argv, installer=installer)
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
    _journal(ctx, pip_argv, "conda", conda_cmd, rc, "ok" if rc == 0 else "failed", echo, installer)
    if rc != 0:
        echo(
            f"conda-pip-guard: step 1 failed ({frontend.kind} exited {rc}). Nothing was installed by pip"
            + (f"; not run: {plan.shown_pip()}" if plan.pip_argv else "")
            + "."
        )
        return rc if rc > 0 else 1
    problems, found = verify_conda_step(plan, ctx.prefix)
    if problems:
        _journal(ctx, pip_argv, "verify", conda_cmd, 1, "; ".join(problems), echo, installer)
        echo(
            f"conda-pip-guard: step 1 not verified: {frontend.kind} exited 0, but the env's records do not "
            f"hold what was asked: {'; '.join(problems)}" + (f". Not run: {plan.shown_pip()}" if plan.pip_argv else "")
        )
        return 1
    echo(f"conda-pip-guard: step 1 done, verified in conda-meta: {', '.join(found)}")
    if not plan.pip_argv:
        return 0
    guarded = ["pip"] if installer == "pip" else [installer, "pip"]
    pip_cmd = [sys.executable, "-m", "guard", *guarded, *plan.pip_argv]
    env = {**ctx.environ, "GUARD_PREFIX": str(ctx.prefix)}
    rc = _run(pip_cmd, env, echo)
    executed = [*plan.installer_words, *plan.pip_argv]
    _journal(ctx, pip_argv, "pip", executed, rc, "ok" if rc == 0 else "failed", echo, installer)
    if rc != 0:
        echo(
            f"conda-pip-guard: step 2 failed ({installer} exited {rc}): step 1 ({frontend.kind} install "
            f"{' '.join(plan.conda_specs)}) is done and stays; not installed: {plan.shown_pip()}"
        )
        return rc if rc > 0 else 1
    echo(f"conda-pip-guard: step 2 done: {plan.shown_pip()}")
    return 0


def _shown(record, *, name: bool = True) -> str:
    variant = variant_of(record)
    text = f"{record.version} {record.build}" + (f" ({variant})" if variant else "")
    return f"{record.name} {text}" if name else text


def verify_conda_step(plan: RedirectPlan, prefix: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Read the env's conda-meta afresh and check every package the conda step named: it is there,
    at a version within the one asked, built for the same variant as before (``"CUDA 11.8"``).
    Returns (problems, found): one line each, ``found`` naming the records as they now are."""
    records, _anomalies = read_conda_meta(Path(prefix))
    by_name = {r.name: r for r in records}
    spec_of = {s.split()[0]: s for s in plan.conda_specs}
    problems: list[str] = []
    found: list[str] = []
    for want in plan.expected:
        asked = spec_of.get(want.name, want.name) + (f" ({want.variant})" if want.variant else "")
        rec = by_name.get(want.name)
        if rec is None:
            problems.append(f"{want.name} has no record in conda-meta (asked {asked})")
            continue
        found.append(_shown(rec))
        if want.specifier and not _within(rec.version, want.specifier):
            problems.append(f"{want.name} is {_shown(rec, name=False)}, asked {asked}")
            continue
        variant = variant_of(rec)
        if want.variant and not (
            variant == want.variant or (want.variant == "CUDA" and (variant or "").startswith("CUDA"))
        ):
            problems.append(f"{want.name} is {_shown(rec, name=False)}, asked {asked}")
    return problems, found


def _within(version: str, specifier: str) -> bool:
    try:
        return SpecifierSet(specifier).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False


def _run(argv: Sequence[str], env: Mapping[str, str], echo: Callable[[str], None]) -> int:
    try:
        return subprocess.run(list(argv), env=dict(env), check=False).returncode
    except OSError as exc:
        echo(f"conda-pip-guard: cannot run {argv[0]}: {exc}")
        return 127
