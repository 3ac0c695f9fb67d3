"""Memoized verdicts: the same command on an unchanged environment, with every input it
depended on unchanged and every index page it read still fresh, gets the stored result without
resolving again (and without importing the resolver, the request parser or an HTTP client).

An entry is keyed by the command line, the working directory, the environment variables that
steer pip or the guard, and the guard's version. It is valid only while

* the environment looks the same: the interpreter, ``conda-meta/`` and each ``site-packages``
  directory keep their modification times (installing or removing a distribution changes them);
* every file the answer read keeps its size and modification time: requirement and constraint
  files, local projects and wheels, pip's and the guard's configuration files (also ones that did
  not exist), local index pages and find-links directories;
* every remote index page the answer used still says what it said: each is revalidated with a
  conditional request (a 304 is one round trip), as pip revalidates every index page whatever
  its ``Cache-Control``. A page that changed, or an index that cannot be reached, means the
  command is simulated again (an answer made from cached pages of an unreachable index, or by
  pip's own dry run, is never stored).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from guard import __version__
from guard.models import Change, CheckResult, Edge, Plan, Reason, Verdict

_ENV_PREFIXES = ("PIP_", "GUARD_")
_ENV_NAMES = (
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "XDG_CACHE_HOME",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "CONDA_EXE",
    "MAMBA_EXE",
    "PYTHONUSERBASE",
)


def _stat(path: str) -> list | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def environment_fingerprint(prefix: Path) -> dict:
    """Cheap signature of what is installed: directory mtimes change when distributions come
    or go, which every install and uninstall does."""
    paths = [str(prefix / "conda-meta"), str(prefix / "bin" / "python")]
    paths += sorted(glob.glob(str(prefix / "lib" / "python*" / "site-packages")))
    paths += sorted(glob.glob(str(prefix / "Lib" / "site-packages")))
    fingerprint: dict[str, Any] = {p: _stat(p) for p in paths}
    # a record rewritten in place (damaged, or edited) leaves the directory's mtime as it was
    try:
        with os.scandir(prefix / "conda-meta") as it:
            records = {e.name: _stat(e.path) for e in it if e.name.endswith(".json")}
    except OSError:
        records = None
    fingerprint["conda-meta/*.json"] = records and dict(sorted(records.items()))
    return fingerprint


def cache_key(
    argv: Sequence[str], prefix: Path, cwd: str, environ: Mapping[str, str], *, allow_build: bool = False
) -> str:
    """The key of a verdict: the guard's version, the argv, the env, the directory, the settings that
    change the answer, and whether builds were allowed (a verdict that needed a build is not an
    answer for a run that may not build: that run refuses, exit 3)."""
    env = {k: v for k, v in environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES}
    # how the guard was reached (shim, hook, CLI) does not change the answer
    for var in (
        "GUARD_CACHE_DIR",
        "GUARD_ACTIVE",
        "GUARD_REAL_PIP",
        "GUARD_PIP_PYTHON",
        "GUARD_PREFIX",
        "GUARD_EXE",
        "GUARD_DEBUG",
    ):
        env.pop(var, None)
    blob = json.dumps(
        [__version__, list(argv), os.path.realpath(prefix), cwd, sorted(env.items()), allow_build],
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _entry_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / "verdicts" / f"{key}.json"


def lookup(
    cache_dir: Path, key: str, prefix: Path, revalidate: Callable[[dict, dict | None], bool] | None = None
) -> CheckResult | None:
    """The stored result for ``key`` if everything it depended on is unchanged, else None.
    ``revalidate(pages, index)`` says whether the remote index pages it used are unchanged
    (asked last, after the cheap local checks; ``index``: the index settings stored with it, or
    None); without it, an entry that used remote pages is a miss."""
    try:
        from guard.boundedjson import loads_bounded, read_bounded  # damaged: a miss, never a RecursionError

        entry = loads_bounded(read_bounded(_entry_path(cache_dir, key)))
        if entry["fresh_until"] <= time.time():
            return None
        if entry["environment"] != environment_fingerprint(prefix):
            return None
        for path, stat in entry["files"].items():
            if _stat(path) != stat:
                return None
        pages = entry["pages"]
        if not isinstance(pages, dict):
            return None
        if pages and (revalidate is None or not revalidate(pages, entry.get("index"))):
            return None
        return _from_json(entry["result"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(
    cache_dir: Path,
    key: str,
    prefix: Path,
    result: CheckResult,
    *,
    files: Iterable[str],
    fresh_until: float,
    pages: Mapping[str, list] | None = None,
    index: Mapping | None = None,
) -> None:
    """Remember ``result``; ``files`` are the inputs it read, ``fresh_until`` until when it holds
    at most (0: never memoized), ``pages`` the remote index pages it used (plain URL ->
    [content digest, project]; ``IndexClient.pages_used``), revalidated on every lookup with
    ``index``, the index settings (``guard.index.settings.settings_memo``: None when they hold a credential).
    Failures to write are ignored (the cache is an optimisation).
    Credentials in the result are redacted before it is written (:mod:`guard.redact`)."""
    from guard.private_files import write_private
    from guard.redact import scrub

    if fresh_until <= time.time():
        return
    entry = {
        "fresh_until": min(fresh_until, time.time() + 86400),
        "pages": dict(pages or {}),
        "index": dict(index) if index else None,
        "environment": environment_fingerprint(prefix),
        "files": {str(p): _stat(str(p)) for p in sorted(set(map(str, files)))},
        # what is shown and journaled, never what was typed: a direct URL's credentials stay out
        "result": scrub(_to_json(result)),
    }
    try:
        # private (0600 in a 0700 directory), whole or not at all
        write_private(_entry_path(cache_dir, key), json.dumps(entry, separators=(",", ":")).encode("utf-8"))
    except OSError:
        pass


def _to_json(result: CheckResult) -> dict:
    verdict = asdict(result.verdict)
    verdict["protected"] = sorted(verdict["protected"])
    return {"prefix": result.prefix, "plan": asdict(result.plan), "verdict": verdict}


def _from_json(data: dict) -> CheckResult:
    """The inverse of ``_to_json`` (an entry written by another version of the models fails to
    load, which makes it a miss)."""
    p, v = dict(data["plan"]), dict(data["verdict"])
    p["changes"] = tuple(Change(**c) for c in p["changes"])
    p["edges"] = tuple(Edge(**e) for e in p["edges"])
    p["requested"], p["warnings"] = tuple(p["requested"]), tuple(p["warnings"])
    v["reasons"] = tuple(Reason(**{**r, "chain": tuple(r["chain"])}) for r in v["reasons"])
    v["warnings"], v["protected"] = tuple(v["warnings"]), frozenset(v["protected"])
    return CheckResult(data["prefix"], Plan(**p), Verdict(**v), {"verdict_cache": "hit"})
