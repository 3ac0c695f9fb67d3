"""After pip has run: is every protected conda-owned distribution exactly what it was?

The safety net (a constraints file) cannot stop every change pip can make: a pin
``numpy==1.26.4`` is met by the index's own numpy 1.26.4 wheel, so ``--force-reinstall`` or
``-I`` replace conda's build with it (measured with pip 23.2 and 26.3). So the action stage takes
a ``Baseline`` before pip runs and ``check``s it afterwards.

What is watched, for each conda record that carries a protected distribution (its ``files`` list
the dist's metadata directory, the rule the snapshot uses for ownership):

- the metadata directory: still there, under the same name (name and version);
- every file of the record that ``paths_data`` gives a hash for (the metadata directory's
  ``INSTALLER``, ``RECORD`` and ``METADATA`` included): its ``stat`` (inode, size, mtime, ctime)
  before and after. A file whose ``stat`` is unchanged was not written; one whose ``stat``
  changed is hashed and compared with the sha256 conda recorded (``sha256_in_prefix`` where conda
  rewrote the prefix into it), so a file rewritten with the same bytes (or an inode whose link
  count another environment changed) is no damage. A file gone is damage.

Files that already differed from conda's hashes before pip ran and that pip did not touch are not
reported: that is ``guard doctor``'s business, not this command's. Cost: reading the record's
``paths_data`` and one ``lstat`` per file before pip, one ``lstat`` per file after, and hashing
(in threads) only what pip wrote. Measured on a torch-sized record (15,023 files, 1.1 GB) on a
loaded 2-core machine: 0.7-0.9 s before, 0.2 s after when pip touched nothing, 4.2 s when every
file was rewritten.

Pure apart from reading the files it is given; nothing here prints.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from guard.environment.conda_meta import CondaRecord, load_paths_data
from guard.errors import EnvironmentReadError

#: ``guard pip``'s exit status when pip ran and a protected conda-owned distribution changed.
EXIT_DAMAGED = 4

_CHUNK = 1 << 20


def _stat_key(path: str) -> tuple | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class WatchedFile:
    path: str
    """Absolute."""
    sha256: str
    """What conda recorded (lower case)."""
    before: tuple | None
    """``stat`` key before pip ran; None when the file was already missing."""


@dataclass(frozen=True)
class Watched:
    """One protected distribution as conda installed it, with the state of its files before pip."""

    name: str
    """PEP 503 name of the dist (``torch``)."""
    version: str
    metadata_dir: str
    """Absolute path of the metadata directory conda's record lists."""
    record: CondaRecord
    files: tuple[WatchedFile, ...]
    note: str | None = None
    """Why the files are not watched (no ``paths_data``), when they are not."""


@dataclass(frozen=True)
class Damage:
    name: str
    version: str
    record: CondaRecord
    what: str
    """One line: what changed (``metadata directory numpy-1.26.4.dist-info is gone``, ``3 of 120
    files differ from conda's sha256 (numpy/__init__.py, ...)``)."""
    metadata_dir: str = ""
    """Absolute path of the metadata directory conda's record lists."""


def baseline(prefix: Path, records: Iterable[CondaRecord], policy) -> tuple[Watched, ...]:
    """The protected conda-owned distributions of ``prefix`` and the state of their files, taken
    just before pip runs. Only metadata directories present now are watched (one already gone is
    not this command's damage)."""
    from guard.act.remembered import dist_of_dir

    out = []
    for record in sorted(records, key=lambda r: r.name):
        for dist_dir in record.dist_dirs:
            name, version = dist_of_dir(dist_dir)
            if not policy.is_protected(name):
                continue
            metadata_dir = os.path.join(str(prefix), dist_dir)
            if not os.path.exists(metadata_dir):
                continue
            files, note = [], None
            try:
                entries = load_paths_data(record)
            except EnvironmentReadError as exc:
                entries, note = [], str(exc)
            for entry in entries:
                expected = entry.get("sha256_in_prefix") or entry.get("sha256")
                if entry.get("path_type") in ("softlink", "directory") or not isinstance(expected, str):
                    continue
                path = os.path.join(str(prefix), entry["path"])
                files.append(WatchedFile(path, expected.lower(), _stat_key(path)))
            out.append(Watched(name, version, metadata_dir, record, tuple(files), note))
    return tuple(out)


def check(watched: Iterable[Watched]) -> list[Damage]:
    """What changed since ``baseline``: one ``Damage`` per distribution that is no longer exactly
    what conda installed."""
    damage = []
    for w in watched:
        base = os.path.basename(w.metadata_dir)
        if not os.path.exists(w.metadata_dir):
            damage.append(Damage(w.name, w.version, w.record, f"its metadata directory {base} is gone", w.metadata_dir))
            continue
        missing, touched = [], []
        for f in w.files:
            if f.before is None:
                continue  # already missing before pip ran
            now = _stat_key(f.path)
            if now == f.before:
                continue
            if now is None:
                missing.append(f.path)
            else:
                touched.append(f)
        differing = [f.path for f, digest in zip(touched, _hash_all([f.path for f in touched])) if digest != f.sha256]
        if differing or missing:
            parts = []
            if differing:
                parts.append(f"{len(differing)} of {len(w.files)} files differ from conda's sha256")
            if missing:
                parts.append(f"{len(missing)} files are gone")
            shown = ", ".join(_short(p, w.metadata_dir) for p in (differing + missing)[:3])
            more = f", {len(differing) + len(missing) - 3} more" if len(differing) + len(missing) > 3 else ""
            damage.append(Damage(w.name, w.version, w.record, f"{' and '.join(parts)} ({shown}{more})", w.metadata_dir))
    return damage


def pip_installed(damage: Damage) -> tuple[str, bool] | None:
    """What pip left where conda's distribution was, for the repair's ``pip uninstall`` step:
    ``(project name, True)`` when conda's metadata directory is still there but another installer
    rewrote it (pip reinstalled the same version in place), ``(project name, False)`` when another
    metadata directory of the same project stands beside the gone one; None when pip left no copy
    (conda's reinstall alone repairs it)."""
    from guard.act.remembered import dist_of_dir

    w_dir = damage.metadata_dir
    if os.path.isdir(w_dir):
        try:
            installer = Path(w_dir, "INSTALLER").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            installer = ""
        return (damage.name, True) if installer != "conda" else None
    site = os.path.dirname(w_dir)
    try:
        entries = os.listdir(site)
    except OSError:
        return None
    for entry in sorted(entries):
        if entry.lower().endswith((".dist-info", ".egg-info")) and dist_of_dir(entry)[0] == damage.name:
            return (entry.split("-")[0], False)
    return None


def _short(path: str, metadata_dir: str) -> str:
    site = os.path.dirname(metadata_dir)
    return os.path.relpath(path, site) if path.startswith(site + os.sep) else path


def _hash_all(paths: list[str]) -> list[str | None]:
    """sha256 of each path, in threads (hashlib releases the GIL): pip rewrote these files."""
    if len(paths) < 2:
        return [sha256_of(p) for p in paths]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1, len(paths))) as pool:
        return list(pool.map(sha256_of, paths))


def sha256_of(path: str | os.PathLike) -> str | None:
    """The file's sha256 (hex), read in 1 MiB chunks; None when it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()
