"""Run the installer as a child, then check conda's protected distributions: one mechanism for
``guard pip`` and ``guard uv``.

Before the run, :func:`watch` records the baseline (:func:`guard.act.verify.baseline`) from the
snapshot's conda records, else straight from conda-meta. After it, :func:`run_and_check` compares
(:func:`guard.act.verify.check`); when the installer changed a protected conda-owned distribution
it says so loudly with the exact repair, journals ``damaged`` and returns
:data:`guard.act.verify.EXIT_DAMAGED` (4). A check that cannot be made is said, never hidden, and
never stops the installer."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

# guard.act.verify (and the conda-meta reader behind it) is imported only where a run is checked:
# guarded_pip imports this module for one_line on the hot path of every pip command


def one_line(exc: BaseException) -> str:
    """An exception's first line (its type name when it says nothing): messages stay one line."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def watch(prefix, snap, policy, installer: str, warn: Callable[[str], None]) -> tuple:
    """The baseline to compare with after ``installer`` ran (empty when it cannot be taken, said by
    one ``warn`` line)."""
    from guard.act import verify

    try:
        if snap is not None:
            records = list(snap.conda_records.values())
        else:
            from guard.environment.conda_meta import read_conda_meta

            records, _ = read_conda_meta(Path(prefix))
        return verify.baseline(prefix, records, policy)
    except Exception as exc:  # noqa: BLE001 - never stops the installer
        warn(
            f"warning: cannot record conda's protected files before {installer} runs ({one_line(exc)}); "
            "they are not checked afterwards"
        )
        return ()


def repair_command(prefix, damage, python: str) -> str:
    """``[GUARD_DISABLE=1] <python> -m pip uninstall -y NAMES && conda install -p PREFIX
    --force-reinstall -c CHANNEL "name=version=build" ...``: the installer's copy out first (the
    override when it reinstalled into conda's own metadata directory, which the guard would block),
    then conda's exact builds back (doctor's fix commands)."""
    from guard.act import verify
    from guard.explain.repair import conda_reinstall_command, pip_uninstall_command

    steps = []
    for d in damage:
        present = verify.pip_installed(d)
        if present is not None:
            name, in_conda_dir = present
            steps.append(pip_uninstall_command(name, python, override=in_conda_dir))
    steps += [conda_reinstall_command(d.record, str(prefix)) for d in damage]
    return " && ".join(steps)


def run_and_check(
    prefix,
    cmd: list[str],
    env: dict,
    watched: tuple,
    python: str,
    *,
    installer: str,
    warn: Callable[[str], None],
    journal: Callable[..., None],
) -> int:
    """Run ``cmd`` (a child: its exit status is passed through), then check ``watched``; with
    nothing to watch, this process becomes ``cmd``. ``journal(verdict, changes, **extra)`` records
    damage."""
    from guard.act import action, verify

    if not watched:
        action.exec_pip(cmd, env)
    status = action.run_pip(cmd, env)
    try:
        damage = verify.check(watched)
    except Exception as exc:  # noqa: BLE001 - a check that fails is said, never hidden
        warn(
            f"warning: could not check conda's protected packages after {installer} ({one_line(exc)}); "
            "run `guard doctor`"
        )
        return status
    if not damage:
        return status
    repair = repair_command(prefix, damage, python)
    lines = [f"conda-pip-guard: DAMAGED: {installer} changed conda's protected packages, despite the guard:"]
    for d in damage:
        lines.append(
            f"  {d.name} {d.version} (conda: {d.record.name} {d.record.version} {d.record.build}, "
            f"channel {d.record.channel}): {d.what}"
        )
    lines.append(f"  repair: {repair}")
    lines.append(f"  ({installer}'s exit status was {status}; `guard doctor` shows the details)")
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()
    journal(
        "damaged",
        [],
        damage=[
            {"name": d.name, "version": d.version, "conda_record": d.record.summary(), "what": d.what} for d in damage
        ],
        repair=repair,
        pip_status=status,
        note=f"{installer} changed {', '.join(d.name for d in damage)}; repair: {repair}",
    )
    return verify.EXIT_DAMAGED
