"""The commands that repair what pip did to conda's packages: ``pip uninstall`` of pip's copy and
``conda install --force-reinstall`` of conda's exact build. Shared by ``guard doctor``'s fixes and
the action stage's post-run repair line. Pure: text in, text out."""

from __future__ import annotations

import shlex

from guard.environment.conda_meta import CondaRecord

#: What a fix's pip step is prefixed with when the guard's own hook would block it (a pip uninstall
#: of a distribution the guard counts as conda's and protects: pip reinstalled it in place).
OVERRIDE_PREFIX = "GUARD_DISABLE=1 "


def pip_command(args: str, python: str | None = None) -> str:
    """``pip ARGS``, or ``<python> -m pip ARGS`` for an environment that is not the active one."""
    return f"{shlex.quote(python)} -m pip {args}" if python else f"pip {args}"


def pip_uninstall_command(display_name: str, python: str | None = None, *, override: bool = False) -> str:
    """``pip uninstall -y NAME``; with ``override``, prefixed with ``GUARD_DISABLE=1`` (the guard
    blocks removing what it counts as a protected conda package, also when pip already replaced
    its files: this one command must pass)."""
    step = pip_command(f"uninstall -y {shlex.quote(display_name)}", python)
    return OVERRIDE_PREFIX + step if override else step


def conda_reinstall_command(rec: CondaRecord, prefix: str | None = None) -> str:
    """``conda install [-p PREFIX] --force-reinstall -c CHANNEL "name=version=build"``: conda's
    exact build back from its channel."""
    where = f" -p {shlex.quote(prefix)}" if prefix else ""
    return (
        f"conda install{where} --force-reinstall -c {shlex.quote(rec.channel or 'conda-forge')} "
        f'"{rec.name}={rec.version}={rec.build}"'
    )
