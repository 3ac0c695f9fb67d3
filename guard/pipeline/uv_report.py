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

import os
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


# ---- chains: the guard's own graph, with uv's versions pinned ---------------------------------------

GRAPH_NOTE = "chains: the guard's own resolution with uv's versions pinned"
#: uv pip options carried over to the guard's resolution (pip spells them the same)
_CARRIED_VALUED = {
    "-r": "-r",
    "--requirement": "-r",
    "-c": "-c",
    "--constraint": "-c",
    "--constraints": "-c",
    "-e": "-e",
    "--editable": "-e",
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--default-index": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
}
_CARRIED_FLAGS = {"--no-index": "--no-index", "--pre": "--pre"}


def pip_argv_for_uv(command, environ: Mapping[str, str]) -> list[str] | None:
    """The ``pip install`` words that ask the guard's resolver for what ``command`` (``uv pip
    install|sync``) asks uv: its requirements, files and index options; the index from
    ``UV_DEFAULT_INDEX``/``UV_INDEX_URL``/``UV_EXTRA_INDEX_URL`` when the command names none.
    None for ``uninstall`` (nothing to explain: every removal is named)."""
    if command.subcommand not in ("install", "sync"):
        return None
    words = list(command.argv[command.subcommand_at + 1 :])
    out: list[str] = ["install"]
    i = 0
    while i < len(words):
        word = words[i]
        key, eq, val = word.partition("=") if word.startswith("--") else (word, "", "")
        if word == "--":
            out += words[i + 1 :]
            break
        if key in _CARRIED_VALUED:
            if not eq:
                i += 1
                val = words[i] if i < len(words) else ""
            out += [_CARRIED_VALUED[key], val]
        elif word in _CARRIED_FLAGS:
            out.append(_CARRIED_FLAGS[word])
        elif not word.startswith("-") and word in command.positionals:
            out += ["-r", word] if command.subcommand == "sync" else [word]
        i += 1
    if not any(w in ("--index-url", "--no-index") for w in out):
        default = environ.get("UV_DEFAULT_INDEX") or environ.get("UV_INDEX_URL")
        if default:
            out += ["--index-url", default]
    if "--extra-index-url" not in out:
        for url in (environ.get("UV_EXTRA_INDEX_URL") or "").split():
            out += ["--extra-index-url", url]
    return out


def with_guard_chains(plan: Plan, command, snap, policy, *, prefix, environ: Mapping[str, str], cwd, cache_dir) -> Plan:
    """``plan`` (uv's) with the edges of the guard's own resolution of the same request, every
    package pinned to the version uv chose (``held``), so that chains say who pulls a package
    in. When that resolution fails or chooses otherwise, ``plan`` as it was (``chain: from uv's
    dry run``): chains never change a verdict."""
    from dataclasses import replace
    from pathlib import Path

    from packaging.specifiers import SpecifierSet

    from guard.pipeline.check import Context, simulate

    argv = pip_argv_for_uv(command, environ)
    if argv is None:
        return plan
    chosen = {c.name: c.proposed for c in plan.changes if c.proposed is not None}
    try:
        held = {name: SpecifierSet(f"=={version}") for name, version in chosen.items()}
        # uv reads no pip configuration: neither does this resolution
        env = {k: v for k, v in environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        ctx = Context(Path(prefix), env, str(cwd), Path(cache_dir))
        ours = simulate(argv, ctx, snap=snap, policy=policy, held=held, use_cache=False).plan
    except Exception:  # noqa: BLE001 - only the chains are lost
        return plan
    if {c.name: c.proposed for c in ours.changes if c.proposed is not None} != chosen or not ours.edges:
        return plan
    reason = (plan.fallback_reason or "").replace(CHAIN_NOTE, GRAPH_NOTE)
    return replace(plan, edges=tuple(ours.edges), fallback_reason=reason)
