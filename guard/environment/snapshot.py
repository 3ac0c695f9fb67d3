"""The environment snapshot stage: what is installed in a prefix, and who owns each Python dist.

``snapshot(prefix)`` reads three things and freezes them into an ``EnvironmentSnapshot``:

- the target interpreter (:func:`guard.environment.interpreter.probe`: markers, tags, site
  directories);
- ``conda-meta/*.json``, one record per conda package (:mod:`guard.environment.conda_meta`);
- the site directories, in ``sys.path`` order: every ``*.dist-info`` and ``*.egg-info``
  (:mod:`guard.environment.site_packages`).

A dist is conda-owned when a conda record's ``files`` lists a path inside its metadata directory
(or the ``.egg-info`` file itself). That is the rule conda itself applies
(``conda/plugins/prefix_data_loaders/pypi/__init__.py::load_site_packages``); ``INSTALLER`` is
only a hint.

Reading fails closed. Anything that cannot be read and could hide what is installed or who owns
it becomes an ``Anomaly`` (``guard.models``): a conda-meta record that cannot be read or parsed,
a metadata directory that is a symlink loop, a broken link or unreadable, a site directory or
``conda-meta/`` that cannot be listed, a dist whose ``INSTALLER`` says conda although no record
lists it. Each names what it could hide, and the policy blocks when that could be a protected
name (rule ``unreadable-environment``). The snapshot itself never crashes on such input: one bad
file must not make every command an internal error. Each anomaly's message is also one of the
snapshot's ``warnings``.

Cost: this runs on every guarded ``pip install``. The interpreter probe, what is needed of each
conda-meta record and what each dist's metadata files hold are cached under ``cache_dir`` (a
warm snapshot stats the files instead of parsing them: :mod:`guard.environment.dist_cache`); of
METADATA only the header block is parsed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from guard.errors import EnvironmentReadError

if TYPE_CHECKING:  # imported where a snapshot is taken: default_prefix (every command) needs none
    from guard.environment.conda_meta import CondaRecord
    from guard.environment.interpreter import Interpreter
    from guard.environment.site_packages import InstalledDist
    from guard.models import Anomaly

_IS_WINDOWS = os.name == "nt"


@dataclass(frozen=True)
class EnvironmentSnapshot:
    """Everything the resolution and policy stages need to know about the target environment."""

    prefix: str
    interpreter: Interpreter
    dists: Mapping[str, InstalledDist]
    """By normalized name: the one importlib.metadata finds first (``sys.path`` order; within a
    directory, directory listing order, as importlib.metadata reads it)."""
    duplicates: Mapping[str, tuple[InstalledDist, ...]]
    """Names with more than one metadata directory: all of them, first the one in ``dists``."""
    conda_records: Mapping[str, CondaRecord]
    """By conda package name."""
    is_conda: bool
    """``conda-meta/`` exists (also when it is a link that leads nowhere: then it is an anomaly)."""
    warnings: tuple[str, ...]
    anomalies: tuple[Anomaly, ...] = ()
    """What could not be read and could hide a distribution (each also in ``warnings``)."""


def default_prefix(environ: Mapping[str, str]) -> Path:
    """The environment a plain ``pip install`` in this shell would change.

    ``$CONDA_PREFIX`` and ``$VIRTUAL_ENV`` name the active environments; when both are set (a venv
    activated on top of a conda env, or the reverse), the one whose scripts directory comes first on
    ``$PATH`` wins, because that is where ``pip`` is found. With neither set: the prefix of the first
    ``python3``/``python`` on ``$PATH`` (the directory above its ``bin``; symlinks not resolved, so
    a venv's interpreter names the venv), but only when that prefix is a conda environment (it has
    ``conda-meta/``): a pyenv shim, a system Python or a plain venv is never taken for one.
    Raises ``EnvironmentReadError`` (one line) when there is none.
    """
    active = [env for env in (environ.get("CONDA_PREFIX"), environ.get("VIRTUAL_ENV")) if env]
    path = environ.get("PATH", "")
    if active:
        scripts: dict[str, str] = {}
        for env in active:
            dirs = ("", "Scripts", "Library/bin") if _IS_WINDOWS else ("bin",)
            for d in dirs:
                scripts.setdefault(_norm_dir(os.path.join(env, d)), env)
        for entry in path.split(os.pathsep):
            if entry and _norm_dir(entry) in scripts:
                return Path(scripts[_norm_dir(entry)])
        return Path(active[0])
    import shutil  # only here: with lzma and bz2 it costs 5-7 ms that every other command saves

    python = shutil.which("python3", path=path) or shutil.which("python", path=path)
    if python is None:
        raise EnvironmentReadError(
            "no conda environment is active (no CONDA_PREFIX, VIRTUAL_ENV or python on "
            "PATH); activate one or pass --prefix"
        )
    bindir = Path(os.path.abspath(python)).parent
    prefix = bindir if _IS_WINDOWS and bindir.name.lower() != "scripts" else bindir.parent
    if not (prefix / "conda-meta").is_dir():
        raise EnvironmentReadError(
            f"no conda environment is active (no CONDA_PREFIX; the python on PATH, {python}, "
            "is not in a conda environment: no conda-meta/); activate one or pass --prefix"
        )
    return prefix


def _norm_dir(path: str) -> str:
    return os.path.normcase(os.path.abspath(path)).rstrip("\\/")


def snapshot(prefix: Path, *, cache_dir: Path | None = None, include_user_site: bool = False) -> EnvironmentSnapshot:
    """Read the environment at ``prefix``: interpreter, conda records, installed Python dists.

    ``cache_dir`` keeps the interpreter probe and the per-record extraction of conda-meta between
    calls (see the module docstring). ``include_user_site`` also reads the user site directory
    when the interpreter would put it on ``sys.path`` (pip ignores it unless ``--user``).
    Raises ``EnvironmentReadError`` (one line) when the prefix has no working interpreter; what
    cannot be read becomes ``anomalies`` (and ``warnings``), never an exception.
    """
    from guard.environment.conda_meta import read_conda_meta
    from guard.environment.dist_cache import DistCache
    from guard.environment.interpreter import find_interpreter, probe
    from guard.environment.site_packages import metadata_entries, read_dist, sys_path_dirs
    from guard.models import Anomaly

    prefix = Path(os.path.abspath(prefix))
    interpreter = probe(find_interpreter(prefix), cache_dir=cache_dir)
    warnings: list[str] = []
    is_conda = os.path.lexists(prefix / "conda-meta")
    records: list[CondaRecord] = []
    anomalies: list[Anomaly] = []
    if is_conda:
        records, anomalies = read_conda_meta(prefix, cache_dir)
    conda_records: dict[str, CondaRecord] = {}
    owners: dict[str, CondaRecord] = {}
    for record in records:
        if record.name in conda_records:
            warnings.append(
                f"two conda records for {record.name}: {conda_records[record.name].meta_file} and {record.meta_file}"
            )
        conda_records[record.name] = record
        for dist_dir in record.dist_dirs:
            owners[_path_key(dist_dir)] = record

    site_dirs = [d for d in interpreter.site_dirs if include_user_site or d != interpreter.user_site]
    real_prefix = os.path.realpath(prefix)
    dist_cache = DistCache.for_prefix(cache_dir, prefix) if cache_dir is not None else None
    dists: dict[str, InstalledDist] = {}
    duplicates: dict[str, list[InstalledDist]] = {}
    seen_keys: set[str] = set()
    for site_dir in sys_path_dirs(site_dirs, anomalies):
        rel_site = _relative_to(os.path.realpath(site_dir), real_prefix)
        for entry_name, is_dir in metadata_entries(site_dir, anomalies):
            key = None if rel_site is None else _path_key(f"{rel_site}/{entry_name}" if rel_site else entry_name)
            owner = owners.get(key) if key is not None else None
            if key is not None:
                seen_keys.add(key)
            dist = read_dist(site_dir, entry_name, is_dir, owner, warnings, anomalies, dist_cache)
            if dist is None:
                continue
            if dist.name in dists:
                duplicates.setdefault(dist.name, [dists[dist.name]]).append(dist)
            else:
                dists[dist.name] = dist
            if owner is None and dist.installer == "conda":
                if is_conda:  # conda's record of it is missing or unreadable: who owns it is unknown
                    anomalies.append(
                        Anomaly(
                            dist.metadata_path, "says INSTALLER=conda, but no conda-meta record lists it", (dist.name,)
                        )
                    )
                else:
                    warnings.append(
                        f"{dist.metadata_path} says INSTALLER=conda, but no conda-meta record lists it "
                        "(the environment has no conda-meta)"
                    )

    if dist_cache is not None:
        dist_cache.save()
    for name, found in duplicates.items():
        warnings.append(
            f"{name} has {len(found)} metadata directories; Python uses {found[0].metadata_path}, also: "
            + ", ".join(d.metadata_path for d in found[1:])
        )
    for record in records:
        for dist_dir in record.dist_dirs:
            if _path_key(dist_dir) not in seen_keys and not os.path.lexists(prefix / dist_dir):
                warnings.append(
                    f"conda record {Path(record.meta_file).name} lists {dist_dir}, which is gone "
                    "(replaced or removed outside conda?)"
                )

    return EnvironmentSnapshot(
        prefix=str(prefix),
        interpreter=interpreter,
        dists=MappingProxyType(dists),
        duplicates=MappingProxyType({name: tuple(found) for name, found in duplicates.items()}),
        conda_records=MappingProxyType(conda_records),
        is_conda=is_conda,
        warnings=tuple(warnings) + tuple(a.message for a in anomalies),
        anomalies=tuple(anomalies),
    )


def _relative_to(path: str, base: str) -> str | None:
    """``path`` relative to ``base`` with ``/`` separators ("" for base itself), None if outside."""
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return None
    if rel == os.curdir:
        return ""
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    return rel.replace(os.sep, "/")


def _path_key(rel: str) -> str:
    """Compare prefix-relative paths as the file system does (case-insensitive on Windows)."""
    rel = rel.replace("\\", "/")
    return rel.lower() if _IS_WINDOWS else rel
