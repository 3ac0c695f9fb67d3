"""What conda had: a copy of the protected packages' conda records, kept outside the environment.

conda deletes a record as stale once its ``.dist-info`` / ``.egg-info`` "anchor" is gone, which
is exactly what ``pip install torch`` over conda's torch does
(``conda/plugins/prefix_data_loaders/pypi/__init__.py::load_site_packages``). After that the
environment no longer says that conda ever installed pytorch there. The guard therefore keeps the
protected records in the environment's state directory (``journal.state_dir(prefix, environ) /
"conda-records.json"``), written by ``guard shims install`` and by each guarded install, and
``guard doctor`` compares the environment with it.

File format (schema 1)::

    {"schema": 1, "prefix": "/abs/prefix", "updated": "2026-11-22T10:00:00+0000",
     "records": {"pytorch": {"name", "version", "build", "build_number", "channel", "channel_url",
                             "subdir", "depends", "constrains", "meta_file", "dist_dirs",
                             "requested_spec", "dist_name", "dist_version", "remembered_at"}}}
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType

from guard.act.journal import state_dir
from guard.boundedjson import JSONInputError, loads_bounded, read_bounded
from guard.environment.conda_meta import CondaRecord
from guard.environment.interpreter import write_cache_file
from guard.environment.snapshot import EnvironmentSnapshot
from guard.policy.names import canonical_name
from guard.policy.rules import Policy

SCHEMA = 1
FILE_NAME = "conda-records.json"


@dataclass(frozen=True)
class RememberedRecord:
    """A protected conda record as it was when last seen, and the Python dist it carried."""

    record: CondaRecord
    dist_name: str
    """PEP 503 name of the dist in ``record.dist_dirs`` (``torch`` for ``pytorch``)."""
    dist_version: str
    remembered_at: str
    """When the record was last seen in conda-meta (``%Y-%m-%dT%H:%M:%S%z``)."""


def path(prefix: Path, environ: Mapping[str, str]) -> Path:
    """Where the remembered records of ``prefix`` live."""
    return state_dir(prefix, environ) / FILE_NAME


def dist_of_dir(dist_dir: str) -> tuple[str, str]:
    """``(normalized name, version)`` from a metadata directory's name:
    ``.../torch-2.1.2-py3.11.egg-info`` -> ``("torch", "2.1.2")``. Installers escape ``-`` in
    both parts, so the first two ``-``-separated fields are the name and the version."""
    stem = dist_dir.replace("\\", "/").rsplit("/", 1)[-1].rpartition(".")[0]
    name, _, rest = stem.partition("-")
    return canonical_name(name), rest.split("-")[0]


def protected_records(snapshot: EnvironmentSnapshot, policy: Policy) -> dict[str, tuple[CondaRecord, str, str]]:
    """The conda records whose Python dist is protected: ``{conda name: (record, dist name,
    dist version)}``. Pure."""
    found = {}
    for record in snapshot.conda_records.values():
        for dist_dir in record.dist_dirs:
            dist_name, dist_version = dist_of_dir(dist_dir)
            if policy.is_protected(dist_name):
                found[record.name] = (record, dist_name, dist_version)
                break
    return found


def remember(snapshot: EnvironmentSnapshot, policy: Policy, prefix: Path, environ: Mapping[str, str]) -> Path:
    """Store the protected records of ``snapshot`` for ``prefix``; returns the file written.

    Records present in the snapshot replace what was remembered under their name. A remembered
    record whose conda-meta file is gone is kept (that disappearance is what ``guard doctor``
    reports), unless conda's ``conda-meta/history`` shows that conda removed it, or another conda
    record now carries the same dist. Writes atomically; a file that cannot be written is skipped
    silently (remembering must never stop an install).
    """
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    current = protected_records(snapshot, policy)
    carried = {dist for _, dist, _ in current.values()}
    removed_by_conda = conda_removals(Path(snapshot.prefix))
    records: dict[str, dict] = {}
    for name, old in load(prefix, environ).items():
        rec = old.record
        if name in current or old.dist_name in carried:
            continue
        if f"{rec.name}-{rec.version}-{rec.build}" in removed_by_conda:
            continue
        records[name] = _to_json(old)
    for name, (record, dist_name, dist_version) in current.items():
        records[name] = _to_json(RememberedRecord(record, dist_name, dist_version, now))
    target = path(prefix, environ)
    write_cache_file(
        target,
        {
            "schema": SCHEMA,
            "prefix": os.path.realpath(prefix),
            "updated": now,
            "records": dict(sorted(records.items())),
        },
    )
    return target


def load(prefix: Path, environ: Mapping[str, str]) -> Mapping[str, RememberedRecord]:
    """The remembered records of ``prefix`` by conda name; empty when none were kept or the file
    is unreadable (a damaged memory is no reason to fail a doctor run)."""
    try:
        data = loads_bounded(read_bounded(path(prefix, environ)))
    except (OSError, JSONInputError):
        return MappingProxyType({})
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("records"), dict):
        return MappingProxyType({})
    out = {}
    for name, value in data["records"].items():
        try:
            out[name] = _from_json(value)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            continue
    return MappingProxyType(out)


def _to_json(remembered: RememberedRecord) -> dict:
    return {
        **asdict(remembered.record),
        "dist_name": remembered.dist_name,
        "dist_version": remembered.dist_version,
        "remembered_at": remembered.remembered_at,
    }


def _from_json(value: dict) -> RememberedRecord:
    record = CondaRecord(
        name=str(value["name"]),
        version=str(value["version"]),
        build=str(value["build"]),
        build_number=int(value["build_number"]),
        channel=str(value["channel"]),
        channel_url=str(value["channel_url"]),
        subdir=str(value["subdir"]),
        depends=tuple(map(str, value["depends"])),
        constrains=tuple(map(str, value["constrains"])),
        meta_file=str(value["meta_file"]),
        dist_dirs=tuple(map(str, value["dist_dirs"])),
        requested_spec=value.get("requested_spec"),
    )
    return RememberedRecord(record, str(value["dist_name"]), str(value["dist_version"]), str(value["remembered_at"]))


def conda_removals(prefix: Path) -> set[str]:
    """``name-version-build`` of every package conda's ``conda-meta/history`` shows removed
    (lines ``-channel/subdir::name-version-build`` or, older, ``-name-version-build``)."""
    try:
        text = (prefix / "conda-meta" / "history").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {line[1:].strip().rpartition("::")[2] for line in text.splitlines() if line.startswith("-")}
