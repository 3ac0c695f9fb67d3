"""``conda doctor``'s health check "conda-pip-guard: pip drift": what ``guard doctor`` finds for
the environment conda doctor examines, in conda doctor's style (conda's own checks print one
``✅``/``❌`` line, then details: ``conda/plugins/subcommands/doctor/health_checks.py`` at 25.11.1).

:func:`diagnose_prefix` reads (the same steps as ``guard doctor``); :func:`render` is pure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from guard.doctor.models import PROBLEM, Report
from guard.errors import GuardError

NAME = "conda-pip-guard: pip drift"
OK_MARK = "✅"  # conda's own marks (health_checks.py OK_MARK, X_MARK)
X_MARK = "❌"
_LABEL = "conda-pip-guard"


def _is_active(prefix: Path, environ: Mapping[str, str]) -> bool:
    from guard.environment.snapshot import default_prefix

    try:
        active = default_prefix(environ)
    except GuardError:
        return False
    return os.path.realpath(active) == os.path.realpath(prefix)


def diagnose_prefix(prefix: Path, environ: Mapping[str, str]) -> Report:
    """``guard doctor --prefix PREFIX`` as a report (fix commands name the prefix and its Python
    unless it is the active environment). Raises :class:`GuardError` when it cannot be read."""
    from guard.act import remembered
    from guard.doctor.diagnose import diagnose
    from guard.doctor.evidence import collect_evidence
    from guard.environment.snapshot import snapshot
    from guard.pipeline.check import default_cache_dir
    from guard.policy.config import load_policy

    cache_dir = default_cache_dir(environ)
    policy, _ = load_policy(prefix, environ)
    snap = snapshot(prefix, cache_dir=cache_dir)
    evidence = collect_evidence(snap, policy, cache_dir=cache_dir, environ=environ, cwd=os.getcwd())
    active = _is_active(prefix, environ)
    return diagnose(
        snap,
        policy,
        remembered.load(prefix, environ),
        evidence,
        fix_python=None if active else snap.interpreter.executable,
        fix_prefix=None if active else str(prefix),
    )


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def render(report: Report, verbose: bool = False) -> str:
    """conda doctor's style: a ``✅``/``❌`` line, then one indented line per finding and its fix
    (notes only when ``verbose``), then a blank line as conda's checks end."""
    problems = [f for f in report.findings if f.severity == PROBLEM]
    warnings = [f for f in report.findings if f.severity != PROBLEM]
    if problems:
        what = _count(len(problems), "problem") + (f", {_count(len(warnings), 'warning')}" if warnings else "")
        head = f"{X_MARK} {_LABEL}: pip changed what conda installed ({what}):"
    elif warnings:
        head = f"{OK_MARK} {_LABEL}: no pip drift; {_count(len(warnings), 'warning')}:"
    else:
        intact = ", ".join(f"{o['name']} {o['version']}" for o in report.ok)
        head = f"{OK_MARK} {_LABEL}: no pip drift" + (
            f" ({_count(len(report.ok), 'protected package')} intact: {intact})." if report.ok else "."
        )
    lines = [head]
    if report.findings:
        lines.append("")
    for f in report.findings:
        label = "" if f.severity == PROBLEM else "warning: "
        lines.append(f"  {label}{f.message}")
        if f.fix:
            lines.append(f"    fix: {f.fix}")
    if verbose and report.notes:
        lines.append("")
        lines.extend(f"  note: {n}" for n in report.notes)
    if report.findings:
        lines.append("")
        lines.append(f"  Details: conda guard -p {report.prefix} doctor")
    return "\n".join(lines) + "\n"


def check(prefix: str, verbose: bool, environ: Mapping[str, str] | None = None) -> str:
    """The text conda doctor prints for ``prefix``: the report, or one ``❌`` line when the
    environment cannot be read (a prefix without Python: nothing pip could change, one ``✅``)."""
    from guard.environment.interpreter import find_interpreter

    path = Path(os.path.abspath(prefix))
    environ = dict(os.environ if environ is None else environ)
    try:
        find_interpreter(path)
    except GuardError:
        return f"{OK_MARK} {_LABEL}: no Python in this environment: nothing for pip to change.\n"
    try:
        return render(diagnose_prefix(path, environ), verbose)
    except GuardError as err:
        return f"{X_MARK} {_LABEL}: cannot read the environment: {err}\n"
