"""Simulation for uv: ask uv itself.

uv chooses differently from pip, so the guard's pip resolver cannot stand in for it. The real uv
runs with the user's arguments and configuration untouched (``uv.toml``, ``UV_*``), plus
``--dry-run`` and ``--python <env python>``; what it would do it prints on stderr (uv 0.13)::

    Would uninstall 1 package
    Would install 1 package
     - numpy==1.26.4
     + numpy==2.0.0

:func:`parse_uv_dry_run` turns those lines into a :class:`guard.models.Plan` (a pure function
over the text and the snapshot); :func:`run_uv_dry_run` runs uv under the run's deadline.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence

from guard.errors import SimulationError
from guard.models import Change, Edge, Plan

#: `` + name==version``, `` - name==version``, `` ~ name==version`` (a reinstall), or
#: `` + name @ file:///...`` for a direct URL
_LINE = re.compile(r"^ ([+\-~]) ([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?(?:==(\S+)| @ (\S+))?\s*$")
_VERSION_IN_URL = re.compile(r"-(\d[^-/]*?)(?:-[^/]*)?\.(?:whl|tar\.gz|zip)$")

PATH = "uv-dry-run"
CHAIN_NOTE = "chain: from uv's dry run"


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_uv_dry_run(text: str, snapshot, *, command: str, requested: Sequence[tuple[str, str]] = ()) -> Plan:
    """The plan uv's dry run describes: a name uv removes and adds is an upgrade, downgrade or
    reinstall (by version); only added, an install; only removed, a removal. Owner and conda
    record come from ``snapshot``. ``command``: ``install`` | ``sync`` | ``uninstall``;
    ``requested``: ``(name, word as typed)`` from the command line (the chain's first step)."""
    removed: dict[str, str | None] = {}
    added: dict[str, tuple[str | None, str | None]] = {}
    for raw in text.splitlines():
        m = _LINE.match(raw)
        if not m:
            continue
        sign, name, version, url = m.groups()
        key = _canon(name)
        if url and not version:
            found = _VERSION_IN_URL.search(url)
            version = found.group(1) if found else None
        if sign == "-":
            removed[key] = version
        elif sign == "+":
            added[key] = (version, url)
        else:  # "~": reinstalled in place
            removed[key] = version
            added[key] = (version, url)
    changes = []
    for name in sorted(set(removed) | set(added)):
        dist = snapshot.dists.get(name)
        installed = removed[name] if name in removed else (dist.version if dist is not None else None)
        if name in added:
            proposed, url = added[name]
            action = "install" if installed is None else _action(installed, proposed)
        else:
            proposed, url, action = None, None, "remove"
        record = dist.conda_record.summary() if dist is not None and dist.conda_record is not None else None
        changes.append(Change(name, installed, proposed, action, dist.owner if dist is not None else None, record, url))
    req = tuple(_canon(name) for name, _ in requested)
    edges = tuple(Edge(None, _canon(name), word) for name, word in requested)
    return Plan(
        "uninstall" if command == "uninstall" else "install",
        tuple(changes),
        edges=edges,
        requested=req,
        path=PATH,
        fallback_reason=f"uv pip {command}: uv chooses differently from pip; {CHAIN_NOTE}",
    )


def _action(installed: str | None, proposed: str | None) -> str:
    if installed is None or proposed is None:
        return "reinstall"
    from packaging.version import InvalidVersion, Version

    try:
        old, new = Version(installed), Version(proposed)
    except InvalidVersion:
        return "reinstall" if installed == proposed else "upgrade"
    if new > old:
        return "upgrade"
    if new < old:
        return "downgrade"
    return "reinstall"


def uv_dry_run_argv(uv: Sequence[str], command, python: str | None) -> list[str]:
    """The real uv's command line for the dry run: the user's words, with ``--dry-run`` (and
    ``--python`` naming the env's interpreter unless the user named one or ``--system``) right
    after the subcommand."""
    extra = ["--dry-run"]
    if python is not None and command.python is None and not command.system:
        extra += ["--python", python]
    return [*uv, *command.with_options_after_subcommand(extra)]


def run_uv_dry_run(cmd: Sequence[str], environ: Mapping[str, str], cwd: str | None = None) -> str:
    """Run uv's dry run (``uv_dry_run_argv``) under the run's deadline (``GUARD_DEADLINE``) and
    return what it printed. A failure or a timeout is a :class:`SimulationError`."""
    return finish_uv_dry_run(start_uv_dry_run(cmd, environ, cwd), environ)


def start_uv_dry_run(cmd: Sequence[str], environ: Mapping[str, str], cwd: str | None = None) -> subprocess.Popen:
    """Start uv's dry run in its own process group (the guard reads the environment meanwhile)."""
    env = dict(environ)
    env["NO_COLOR"] = "1"
    env.pop("UV_DRY_RUN", None)
    try:
        return subprocess.Popen(
            list(cmd),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        raise SimulationError(f"cannot run uv ({cmd[0]}): {exc.strerror or exc}") from None


def finish_uv_dry_run(proc: subprocess.Popen, environ: Mapping[str, str], elapsed: float = 0.0) -> str:
    """Wait for the dry run ``start_uv_dry_run`` started, for what is left of the deadline; past
    it, the whole process group is killed (as :mod:`guard.pipeline.pip_report` does for pip)."""
    import os
    import signal

    from guard.index.settings import deadline_from_environ

    try:
        limit = deadline_from_environ(environ)
        out, err = proc.communicate(timeout=max(limit - elapsed, 0.001))
    except BaseException as exc:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.communicate()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise SimulationError(
                f"uv --dry-run did not finish within the {limit:g}s deadline (GUARD_DEADLINE)"
            ) from None
        raise
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (err or "").splitlines() if ln.strip()]
        picked = [ln for ln in lines if ln.startswith(("error:", "\u00d7", "\u2570"))] or lines[-3:]
        raise SimulationError(f"uv --dry-run failed: {' | '.join(picked)[:800] or f'exit {proc.returncode}'}")
    return (err or "") + "\n" + (out or "")


def kill_uv_dry_run(proc: subprocess.Popen) -> None:
    """Stop a dry run whose answer is no longer needed (the snapshot failed)."""
    import os
    import signal

    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    proc.communicate()
