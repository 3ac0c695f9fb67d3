"""The exact path when the fast one cannot be exact: ask pip itself.

Runs ``<env python> -m pip install --dry-run --report FILE ...`` (the guard's own pip with
``--python <env python>`` when the env has none) with the user's arguments and the user's pip
configuration (not ``--isolated``: pip would read it too), with no prompts and no version check,
and turns the report into a :class:`guard.models.Plan`.

pip's dry run builds every local project, VCS checkout and sdist it needs metadata from, which
runs their code: only when allowed (``guard check --allow-build``, ``allow_build: true``, ``guard
pip``; see :func:`guard.check._pip_report_plan`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from guard.errors import SimulationError
from guard.models import Change, Edge, Plan


def pip_dry_run_argv(argv: Sequence[str], report: str) -> list[str]:
    """``argv`` with ``--dry-run --report FILE`` inserted right after the ``install`` word."""
    from guard.request.command import PipCommand

    if "install" not in argv:
        raise SimulationError("pip fallback needs an install command")
    return PipCommand.parse(argv).with_options_after_subcommand(["--dry-run", "--report", report, "--no-input"])


def run_pip_report(
    python: str,
    argv: Sequence[str],
    environ: Mapping[str, str],
    cwd: str | None = None,
    *,
    env_has_pip: bool = True,
    limit: float | None = None,
) -> dict:
    """Run pip's dry run for the target interpreter and return its installation report: the
    environment's own pip, else the guard's own pip with ``--python <env python>`` (pip then runs
    itself in that interpreter). This builds what only a build can describe: callers ask first.
    ``limit``: the seconds left of the run's deadline (default: the whole ``GUARD_DEADLINE``)."""
    with tempfile.TemporaryDirectory(prefix="guard-report-") as tmp:
        report = os.path.join(tmp, "report.json")
        env = dict(environ)
        # GUARD_ACTIVE: the guard's own `python -m pip` hook must let this dry run through
        env.update(
            {
                "PIP_NO_INPUT": "1",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PYTHONIOENCODING": "utf-8",
                "GUARD_ACTIVE": "1",
            }
        )
        env.pop("PYTHONSTARTUP", None)
        if env_has_pip:
            pip = [python, "-m", "pip"]
        else:
            import importlib.util

            if importlib.util.find_spec("pip") is None:
                raise SimulationError(
                    "only pip's own dry run can tell, and neither the environment nor the guard has pip"
                )
            env.pop("PIP_PYTHON", None)
            pip = [sys.executable, "-m", "pip", "--python", python]
        cmd = [*pip, *pip_dry_run_argv(argv, report)]
        # the run's one deadline (GUARD_DEADLINE) bounds pip's dry run too: the guard never hangs
        from guard.index.settings import deadline_from_environ

        deadline = deadline_from_environ(environ)
        try:
            proc = _run_bounded(cmd, env, cwd, deadline if limit is None else limit)
        except subprocess.TimeoutExpired:
            raise SimulationError(
                f"pip --dry-run did not finish within the {deadline:g}s deadline (GUARD_DEADLINE)"
            ) from None
        except OSError as exc:
            raise SimulationError(f"cannot run pip in the environment: {exc}") from None
        if proc.returncode != 0:
            raise SimulationError(
                f"pip --dry-run failed: {pip_error_summary(proc.stderr, proc.stdout, proc.returncode)}"
            )
        try:
            return json.loads(Path(report).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SimulationError(f"pip --dry-run wrote no readable report ({exc})") from None


def _run_bounded(cmd: list[str], env: Mapping[str, str], cwd: str | None, limit: float):
    """Run ``cmd`` in its own process group; past ``limit`` seconds the whole group (pip and any
    build it started, which would otherwise keep the output pipes open) is killed."""
    import signal

    proc = subprocess.Popen(
        cmd, env=dict(env), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=limit)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


#: pip's closing advice after a failure ("note: This error originates from a subprocess ...",
#: "hint: See above ..."): true, but it says nothing about what went wrong.
_ADVICE = ("note:", "hint:")
_MAX_SUMMARY = 800


def pip_error_summary(stderr: str, stdout: str = "", returncode: int = 1) -> str:
    """pip's real error, on one line: its ``ERROR:``/``error:`` lines, the ``×`` headline of a
    failed subprocess, and the last line of that subprocess's output (the exception it raised),
    joined by `` | ``; never only the closing ``note:`` line."""
    lines = [ln.strip() for ln in ((stderr or "") + "\n" + (stdout or "")).splitlines()]
    picked: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith(("ERROR:", "error:", "\u00d7")):
            picked.append(line)
        elif line == "[end of output]":
            inside = [ln for ln in lines[max(0, i - 50) : i] if ln]
            if inside and not inside[-1].startswith("\u2570"):  # "╰─> [N lines of output]" with no output
                picked.append(inside[-1])
    if "ERROR: Exception:" in picked:
        # pip crashed: the cause is the last line of its traceback ("ModuleNotFoundError: ...")
        after = lines[lines.index("ERROR: Exception:") + 1 :]
        cause = [
            ln
            for ln in after
            if ln
            and not ln.startswith(("Traceback", "File ", "^", "~"))
            and not ln.startswith(_ADVICE)
            and ":" in ln
            and not ln.startswith(("ERROR:", "error:"))
        ]
        if cause:
            picked.append(cause[-1])
    picked = list(dict.fromkeys(picked))
    if not picked:
        rest = [ln for ln in lines if ln and not ln.startswith(_ADVICE)]
        picked = rest[-3:] or [f"exit status {returncode}"]
    text = " | ".join(picked)
    return text if len(text) <= _MAX_SUMMARY else text[: _MAX_SUMMARY - 3] + "..."


def plan_from_report(report: dict, snapshot, *, force_reinstall: bool, reason: str) -> Plan:
    """Diff pip's report against the snapshot (pip lists only what it would install)."""
    markers = dict(snapshot.interpreter.markers)
    changes, edges, requested = [], [], []
    items = report.get("install") or []
    names = {canonicalize_name(i["metadata"]["name"]) for i in items}
    for item in items:
        meta = item["metadata"]
        name = canonicalize_name(meta["name"])
        proposed = meta["version"]
        if item.get("requested"):
            requested.append(name)
            edges.append(Edge(None, name, meta["name"]))
        dist = snapshot.dists.get(name)
        if dist is None:
            action = "install"
        else:
            action = _action(dist.version, proposed, force_reinstall)
        record = dist.conda_record.summary() if dist is not None and dist.conda_record is not None else None
        changes.append(
            Change(
                name,
                dist.version if dist else None,
                proposed,
                action,
                dist.owner if dist else None,
                record,
                (item.get("download_info") or {}).get("url"),
            )
        )
        extras = item.get("requested_extras") or []
        for text in meta.get("requires_dist") or []:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            ctx = [{**markers, "extra": e} for e in (extras or [""])]
            if req.marker is not None and not any(req.marker.evaluate(c) for c in ctx):
                continue
            child = canonicalize_name(req.name)
            if child in names or child in snapshot.dists:
                edges.append(Edge(f"{meta['name']}=={proposed}", child, f"{req.name}{req.specifier}"))
    return Plan(
        "install",
        tuple(sorted(changes, key=lambda c: c.name)),
        edges=tuple(edges),
        requested=tuple(requested),
        path="pip-report",
        fallback_reason=reason,
    )


def _action(installed: str, proposed: str, force: bool) -> str:
    try:
        old, new = Version(installed), Version(proposed)
    except InvalidVersion:
        return "reinstall"
    if new > old:
        return "upgrade"
    if new < old:
        return "downgrade"
    return "reinstall"
