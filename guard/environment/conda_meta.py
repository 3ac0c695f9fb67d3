"""conda-meta records: ``conda-meta/*.json`` read into ``CondaRecord`` values, failing closed.

One record per conda package: name, version, build, channel, depends, and which Python metadata
directories its ``files`` list (that is how the snapshot tells a conda-owned dist; the rule conda
itself applies, ``conda/plugins/prefix_data_loaders/pypi/__init__.py::load_site_packages``).

Reading fails closed: JSON is read with bounded size and depth (:mod:`guard.boundedjson`), and a
record that cannot be read or parsed becomes an ``Anomaly`` (``guard.models``) naming what it
could hide (from the file name: ``numpy-1.26.4-py311_0.json`` -> ``numpy``; none when it cannot
be told). Nothing a file holds makes these functions raise.

Cost: records of big packages are large (torch: thousands of ``files`` and ``paths_data``
entries), so what is needed of each record is cached in one file per prefix under ``cache_dir``,
keyed by (file name, ``st_mtime_ns``, ``st_size``); a warm read stats the records instead of
parsing them.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guard.boundedjson import JSONInputError, loads_bounded, read_bounded
from guard.environment.interpreter import write_cache_file
from guard.errors import EnvironmentReadError
from guard.models import Anomaly
from guard.policy.names import canonical_name

# Bump when the cached record extraction changes, so that old cache files are ignored.
_CACHE_FORMAT = 2


@dataclass(frozen=True)
class CondaRecord:
    """One ``conda-meta/*.json`` record, reduced to what the guard decides with."""

    name: str
    version: str
    build: str
    build_number: int
    channel: str
    """Short channel name (``conda-forge``, ``pytorch``, ``nvidia/label/cuda-11.8.0``,
    ``pkgs/main``); the channel URL itself for other hosts and local ``file://`` channels."""
    channel_url: str
    """The channel as recorded, without subdir, trailing slash or ``/t/<token>``."""
    subdir: str
    depends: tuple[str, ...]
    constrains: tuple[str, ...]
    meta_file: str
    """Absolute path of the conda-meta JSON."""
    dist_dirs: tuple[str, ...]
    """Prefix-relative, ``/``-separated paths of the Python metadata directories (``*.dist-info``,
    ``*.egg-info`` directory or file) that this record's ``files`` list."""
    requested_spec: str | None
    """What the user asked for (conda's ``requested_spec``; rattler's ``requested_specs`` list
    joined with ``"; "``); None when not recorded."""

    def summary(self) -> dict:
        """``{name, version, build, channel}``: the record as plans, JSON and the journal show it."""
        return {"name": self.name, "version": self.version, "build": self.build, "channel": self.channel}


def read_conda_meta(prefix: Path, cache_dir: Path | None = None) -> tuple[list[CondaRecord], list[Anomaly]]:
    """The readable records of ``prefix/conda-meta`` (sorted by file name; from the cache under
    ``cache_dir`` where the file's stat matches) and the anomalies: the directory that cannot be
    listed, files that cannot be read or parsed, each with the names it could hide (its problem
    is cached too, so that a warm call still reports it). Never raises for what the files hold."""
    prefix = Path(prefix)
    meta_dir = prefix / "conda-meta"
    anomalies: list[Anomaly] = []

    def bad(path: str, problem: str, names: tuple[str, ...] | None = None) -> None:
        names = meta_file_names(os.path.basename(path)) if names is None else names
        anomalies.append(Anomaly(path, problem, names))

    cache_file = None
    cached: dict[str, Any] = {}
    if cache_dir is not None:
        digest = hashlib.sha256(os.path.realpath(prefix).encode("utf-8", "surrogateescape")).hexdigest()[:32]
        cache_file = Path(cache_dir) / "conda-meta" / f"{digest}.json"
        cached = _load_record_cache(cache_file)
    try:
        with os.scandir(meta_dir) as it:
            entries = sorted((e for e in it if e.name.endswith(".json")), key=lambda e: e.name)
    except OSError as exc:
        bad(str(meta_dir), f"cannot list the directory: {os_problem(exc)}", ())
        return [], anomalies
    fresh: dict[str, Any] = {}
    changed = len(entries) != len(cached)
    records = []
    for entry in entries:
        try:
            st = entry.stat()
        except OSError as exc:
            bad(entry.path, f"cannot read: {os_problem(exc)}")
            continue
        if not stat.S_ISREG(st.st_mode):
            bad(entry.path, "not a regular file")
            continue
        stamp = [st.st_mtime_ns, st.st_size]
        hit = cached.get(entry.name)
        if hit is not None and hit.get("stamp") == stamp:
            value = hit
        else:
            value = {"stamp": stamp, **_extract_record(Path(entry.path))}
            changed = True
        fresh[entry.name] = value
        if "problem" in value:
            bad(entry.path, value["problem"])
        else:
            records.append(_to_record(value["record"], entry.path))
    if cache_file is not None and changed:
        write_cache_file(cache_file, {"format": _CACHE_FORMAT, "entries": fresh})
    return records, anomalies


# conda package names: lower-case letters, digits, ``.``, ``_``, ``-`` (and ``+`` in a few old ones)
_CONDA_NAME = re.compile(r"[a-z0-9_][a-z0-9_.+-]*")


def meta_file_names(file_name: str) -> tuple[str, ...]:
    """The names a conda-meta file ``name-version-build.json`` could stand for: its conda name
    (PEP 503 normalized) and the PyPI project that conda package ships (``pytorch`` -> ``torch``);
    empty when the file name does not have that form (then it could be any package)."""
    stem = file_name.removesuffix(".json")
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts) or not _CONDA_NAME.fullmatch(parts[0]):
        return ()
    # imported here: the name data is read only when a record cannot be (not on the warm path)
    from guard.policy.conda import pypi_name_for_conda

    names = {canonical_name(parts[0])}
    pypi = pypi_name_for_conda(parts[0])
    if pypi:
        names.add(canonical_name(pypi))
    return tuple(sorted(names))


def os_problem(exc: OSError) -> str:
    """An OSError as a few words: ``Too many levels of symbolic links``."""
    return exc.strerror or str(exc) or type(exc).__name__


def _load_record_cache(cache_file: Path) -> dict:
    try:
        data = loads_bounded(read_bounded(cache_file))
    except (OSError, JSONInputError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT or not isinstance(data.get("entries"), dict):
        return {}
    return data["entries"]


def _to_record(fields: dict, meta_file: str) -> CondaRecord:
    return CondaRecord(
        name=fields["name"],
        version=fields["version"],
        build=fields["build"],
        build_number=fields["build_number"],
        channel=fields["channel"],
        channel_url=fields["channel_url"],
        subdir=fields["subdir"],
        depends=tuple(fields["depends"]),
        constrains=tuple(fields["constrains"]),
        meta_file=meta_file,
        dist_dirs=tuple(fields["dist_dirs"]),
        requested_spec=fields["requested_spec"],
    )


def _load_json(path: Path) -> dict | str:
    """The JSON object in ``path``, or a one-line description of why there is none (without the
    path). Bounded in size and nesting (:mod:`guard.boundedjson`); never raises."""
    try:
        data = loads_bounded(read_bounded(path))
    except OSError as exc:
        return f"cannot read: {os_problem(exc)}"
    except JSONInputError as exc:
        return str(exc)
    if not isinstance(data, dict):
        return f"not a JSON object but {type(data).__name__}"
    return data


def _extract_record(path: Path) -> dict:
    """``{"record": fields}`` with the JSON-serializable fields of a CondaRecord (less
    ``meta_file``), or ``{"problem": one line}`` saying why there is none (without the path)."""
    data = _load_json(path)
    if isinstance(data, str):
        return {"problem": data}
    for key in ("name", "version"):
        if not isinstance(data.get(key), str) or not data[key] or not data[key].isprintable():
            return {"problem": f"missing or invalid {key!r}"}
    lists = {}
    for key in ("depends", "constrains", "files"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return {"problem": f"{key!r} is not a list of strings"}
        lists[key] = value
    if not all(v.isprintable() for v in (*lists["depends"], *lists["constrains"], *_dist_dirs(lists["files"]))):
        return {"problem": "'depends', 'constrains' or 'files' hold unprintable characters"}
    build = data.get("build") or data.get("build_string") or ""
    build_number = data.get("build_number", 0)
    raw_channel = data.get("channel") or ""
    if not raw_channel and isinstance(data.get("url"), str):
        raw_channel = data["url"].rsplit("/", 1)[0]  # .../<channel>/<subdir>/<file>
    channel, channel_url, url_subdir = normalize_channel(raw_channel if isinstance(raw_channel, str) else "")
    requested = data.get("requested_spec")
    specs = data.get("requested_specs")
    if not isinstance(requested, str) and isinstance(specs, list):
        requested = "; ".join(s for s in specs if isinstance(s, str)) or None
    elif not isinstance(requested, str):
        requested = None
    build = build if isinstance(build, str) else str(build)
    if not build.isprintable() or not channel.isprintable():
        return {"problem": "'build' or 'channel' hold unprintable characters"}
    if requested is not None and not requested.isprintable():
        requested = None  # only shown, never decided with
    return {
        "record": {
            "name": data["name"],
            "version": data["version"],
            "build": build,
            "build_number": build_number if type(build_number) is int else 0,
            "channel": channel,
            "channel_url": channel_url,
            "subdir": data["subdir"] if isinstance(data.get("subdir"), str) else url_subdir,
            "depends": lists["depends"],
            "constrains": lists["constrains"],
            "dist_dirs": _dist_dirs(lists["files"]),
            "requested_spec": requested,
        }
    }


def _dist_dirs(files: Iterable[str]) -> list[str]:
    """The Python metadata directories (or egg-info files) among a record's ``files``."""
    found: dict[str, None] = {}
    for f in files:
        if ".dist-info" not in f and ".egg-info" not in f:
            continue
        parts = f.replace("\\", "/").split("/")
        for i, part in enumerate(parts):
            if part.lower().endswith((".dist-info", ".egg-info")):
                found["/".join(parts[: i + 1])] = None
                break
    return list(found)


# conda's platform subdirs: the last path segment of a recorded channel URL (conda, micromamba)
_SUBDIRS = frozenset(
    {
        "noarch",
        "linux-32",
        "linux-64",
        "linux-aarch64",
        "linux-armv6l",
        "linux-armv7l",
        "linux-ppc64",
        "linux-ppc64le",
        "linux-riscv64",
        "linux-s390x",
        "osx-64",
        "osx-arm64",
        "win-32",
        "win-64",
        "win-arm64",
        "freebsd-64",
        "zos-z",
        "emscripten-wasm32",
        "wasi-wasm32",
    }
)
# Hosts that serve channels by name: https://<host>/<name>/<subdir>. repo.anaconda.com serves
# Anaconda's pkgs/main, pkgs/r, pkgs/msys2 under the same scheme.
_NAMED_CHANNEL_HOSTS = frozenset({"conda.anaconda.org", "repo.anaconda.com", "prefix.dev"})
_TOKEN = re.compile(r"^t/[^/]+/")


def normalize_channel(raw: str) -> tuple[str, str, str]:
    """``(short name, base URL, subdir)`` of a recorded channel.

    conda and micromamba record ``https://conda.anaconda.org/conda-forge/linux-64``, pixi/rattler
    ``https://conda.anaconda.org/conda-forge/``; both are ``conda-forge``. A ``/t/<token>/`` is
    dropped (it is a secret). Channels on other hosts and local ``file://`` channels keep their URL
    as the name; a bare name (old records, ``pypi``) stays as it is.
    """
    value = raw.strip().rstrip("/")
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    parts = rest.split("/")
    subdir = ""
    if len(parts) > 1 and parts[-1] in _SUBDIRS:
        subdir = parts.pop()
    if not sep:
        name = "/".join(parts)
        return name, name, subdir
    host, path = parts[0], _TOKEN.sub("", "/".join(parts[1:]) + "/").rstrip("/")
    base = f"{scheme}://{host}/{path}" if path else f"{scheme}://{host}"
    if scheme in ("http", "https") and host.lower() in _NAMED_CHANNEL_HOSTS and path:
        return path, base, subdir
    return base, base, subdir


def load_paths_data(record: CondaRecord) -> list[dict]:
    """The record's ``paths_data`` entries, read from its conda-meta file (not cached).

    Each entry: ``path`` (prefix-relative, ``/``-separated; ``noarch: python`` package-relative
    paths mapped to where ``files`` says they were linked), ``path_type``, ``sha256``,
    ``sha256_in_prefix`` (None when not recorded) and ``size_in_bytes``. Raises
    ``EnvironmentReadError`` when the file cannot be read or has no ``paths_data``.
    """
    data = _load_json(Path(record.meta_file))
    if isinstance(data, str):
        raise EnvironmentReadError(f"{record.meta_file}: {data}")
    paths = data.get("paths_data", {}).get("paths") if isinstance(data.get("paths_data"), dict) else None
    if not isinstance(paths, list):
        raise EnvironmentReadError(f"{record.meta_file}: no paths_data")
    files = [f.replace("\\", "/") for f in data.get("files", []) if isinstance(f, str)]
    site_packages = next((f[: f.index("site-packages/") + 13] for f in files if "site-packages/" in f), None)
    file_set = set(files)
    entries = []
    for entry in paths:
        if not isinstance(entry, dict) or not isinstance(entry.get("_path"), str):
            continue
        path = entry["_path"].replace("\\", "/")
        if path not in file_set and site_packages and path.startswith("site-packages/"):
            path = site_packages + path[13:]  # noarch: python, package-relative (conda's noarch target path)
        entries.append(
            {
                "path": path,
                "path_type": entry.get("path_type"),
                "sha256": entry.get("sha256"),
                "sha256_in_prefix": entry.get("sha256_in_prefix"),
                "size_in_bytes": entry.get("size_in_bytes"),
            }
        )
    return entries
