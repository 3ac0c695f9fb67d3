"""The environment snapshot stage: what is installed in a prefix, and who owns each Python dist.

``snapshot(prefix)`` reads three things and freezes them into an ``EnvironmentSnapshot``:

- the target interpreter (``guard.interpreter.probe``: markers, tags, site directories);
- ``conda-meta/*.json``, one record per conda package (name, version, build, channel, depends, and
  which Python metadata directories its ``files`` list);
- the site directories, in ``sys.path`` order: every ``*.dist-info`` and ``*.egg-info``.

A dist is conda-owned when a conda record's ``files`` lists a path inside its metadata directory
(or the ``.egg-info`` file itself). That is the rule conda itself applies
(``conda/plugins/prefix_data_loaders/pypi/__init__.py::load_site_packages``); ``INSTALLER`` is
only a hint.

Reading fails closed. Anything that cannot be read and could hide what is installed or who owns
it becomes an ``Anomaly`` (``guard.models``): a conda-meta record that cannot be read or parsed
(JSON is read with bounded size and depth, :mod:`guard.boundedjson`), a metadata directory that is
a symlink loop, a broken link or unreadable, a site directory or ``conda-meta/`` that cannot be
listed, a dist whose ``INSTALLER`` says conda although no record lists it. Each names what it could
hide (from the file name: ``numpy-1.26.4-py311_0.json`` -> ``numpy``; none when it cannot be
told), and the policy blocks when that could be a protected name (rule ``unreadable-environment``).
The snapshot itself never crashes on such input: one bad file must not make every command an
internal error. Each anomaly's message is also one of the snapshot's ``warnings``.

Cost: this runs on every guarded ``pip install``. conda-meta records of big packages are large
(torch: thousands of ``files`` and ``paths_data`` entries), so what is needed of each record is
cached in one file per prefix under ``cache_dir``, keyed by (file name, ``st_mtime_ns``,
``st_size``); a warm snapshot stats the records instead of parsing them. Of METADATA only the
header block (up to the first blank line) is parsed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Iterator, Mapping

from guard.boundedjson import JSONInputError, loads_bounded, read_bounded
from guard.errors import EnvironmentReadError
from guard.environment.interpreter import Interpreter, find_interpreter, probe, write_cache_file
from guard.models import Anomaly
from guard.policy.names import canonical_name

# Bump when the cached record extraction changes, so that old cache files are ignored.
_CACHE_FORMAT = 2

_IS_WINDOWS = os.name == "nt"


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


@dataclass(frozen=True)
class InstalledDist:
    """One Python distribution's metadata directory in a site directory."""

    name: str
    """PEP 503 normalized."""
    display_name: str
    version: str
    metadata_path: str
    """Absolute path of the ``.dist-info`` / ``.egg-info`` (directory or file)."""
    kind: str
    """``"dist-info"`` or ``"egg-info"``."""
    installer: str | None
    """Stripped content of ``INSTALLER``; a hint only."""
    requires_dist: tuple[str, ...]
    """``Requires-Dist`` values; for egg-info without them, ``requires.txt`` converted to PEP 508
    (``[extra]`` -> ``; extra == "extra"``, ``[:marker]`` -> ``; marker``) as importlib.metadata does."""
    requires_python: str | None
    owner: str
    """``"conda"`` when a conda record's ``files`` list this metadata; otherwise ``"pip"`` (any
    Python installer)."""
    conda_record: CondaRecord | None
    site_dir: str
    direct_url: Mapping | None
    """Parsed ``direct_url.json`` (PEP 610) when present."""
    provides_extra: tuple[str, ...] = ()
    """``Provides-Extra`` values (empty for egg-info, whose extras show only in markers)."""


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
        scripts = {}
        for env in active:
            dirs = ("", "Scripts", "Library/bin") if _IS_WINDOWS else ("bin",)
            for d in dirs:
                scripts.setdefault(_norm_dir(os.path.join(env, d)), env)
        for entry in path.split(os.pathsep):
            if entry and _norm_dir(entry) in scripts:
                return Path(scripts[_norm_dir(entry)])
        return Path(active[0])
    python = shutil.which("python3", path=path) or shutil.which("python", path=path)
    if python is None:
        raise EnvironmentReadError("no conda environment is active (no CONDA_PREFIX, VIRTUAL_ENV or python on "
                                   "PATH); activate one or pass --prefix")
    bindir = Path(os.path.abspath(python)).parent
    prefix = bindir if _IS_WINDOWS and bindir.name.lower() != "scripts" else bindir.parent
    if not (prefix / "conda-meta").is_dir():
        raise EnvironmentReadError(f"no conda environment is active (no CONDA_PREFIX; the python on PATH, {python}, "
                                   "is not in a conda environment: no conda-meta/); activate one or pass --prefix")
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
    prefix = Path(os.path.abspath(prefix))
    interpreter = probe(find_interpreter(prefix), cache_dir=cache_dir)
    warnings: list[str] = []
    anomalies: list[Anomaly] = []

    meta_dir = prefix / "conda-meta"
    is_conda = os.path.lexists(meta_dir)
    records = _read_conda_meta(meta_dir, prefix, cache_dir, warnings, anomalies) if is_conda else []
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
    dists: dict[str, InstalledDist] = {}
    duplicates: dict[str, list[InstalledDist]] = {}
    seen_keys: set[str] = set()
    for site_dir in _sys_path_dirs(site_dirs, anomalies):
        rel_site = _relative_to(os.path.realpath(site_dir), real_prefix)
        for entry_name, is_dir in _metadata_entries(site_dir, anomalies):
            key = None if rel_site is None else _path_key(f"{rel_site}/{entry_name}" if rel_site else entry_name)
            record = owners.get(key) if key is not None else None
            if key is not None:
                seen_keys.add(key)
            dist = _read_dist(site_dir, entry_name, is_dir, record, warnings, anomalies)
            if dist is None:
                continue
            if dist.name in dists:
                duplicates.setdefault(dist.name, [dists[dist.name]]).append(dist)
            else:
                dists[dist.name] = dist
            if record is None and dist.installer == "conda":
                if is_conda:  # conda's record of it is missing or unreadable: who owns it is unknown
                    anomalies.append(Anomaly(dist.metadata_path,
                                             "says INSTALLER=conda, but no conda-meta record lists it", (dist.name,)))
                else:
                    warnings.append(f"{dist.metadata_path} says INSTALLER=conda, but no conda-meta record lists it "
                                    "(the environment has no conda-meta)")

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
        entries.append({
            "path": path,
            "path_type": entry.get("path_type"),
            "sha256": entry.get("sha256"),
            "sha256_in_prefix": entry.get("sha256_in_prefix"),
            "size_in_bytes": entry.get("size_in_bytes"),
        })
    return entries


# ---- conda-meta -------------------------------------------------------------------------------


def read_conda_meta(prefix: Path, cache_dir: Path | None = None) -> tuple[list[CondaRecord], list[Anomaly]]:
    """The readable records of ``prefix/conda-meta`` (sorted by file name) and the anomalies:
    files that cannot be read or parsed, with the names each could hide. Never raises for what
    the files hold."""
    anomalies: list[Anomaly] = []
    return _read_conda_meta(Path(prefix) / "conda-meta", Path(prefix), cache_dir, [], anomalies), anomalies


def _read_conda_meta(meta_dir: Path, prefix: Path, cache_dir: Path | None, warnings: list[str],
                     anomalies: list[Anomaly] | None = None) -> list[CondaRecord]:
    """Every readable record of ``conda-meta/``, sorted by file name, from the cache where the
    file's stat matches. A file that cannot be read or parsed becomes an ``Anomaly`` (its problem
    is cached too, so that a warm call still reports it); without ``anomalies``, a warning."""

    def bad(path: str, problem: str, names: tuple[str, ...] | None = None) -> None:
        names = meta_file_names(os.path.basename(path)) if names is None else names
        if anomalies is not None:
            anomalies.append(Anomaly(path, problem, names))
        else:
            warnings.append(f"{path}: {problem}")

    cache_file = None
    cached: dict = {}
    if cache_dir is not None:
        digest = hashlib.sha256(os.path.realpath(prefix).encode("utf-8", "surrogateescape")).hexdigest()[:32]
        cache_file = Path(cache_dir) / "conda-meta" / f"{digest}.json"
        cached = _load_record_cache(cache_file)
    try:
        with os.scandir(meta_dir) as it:
            entries = sorted((e for e in it if e.name.endswith(".json")), key=lambda e: e.name)
    except OSError as exc:
        bad(str(meta_dir), f"cannot list the directory: {_os_problem(exc)}", ())
        return []
    fresh: dict = {}
    changed = len(entries) != len(cached)
    records = []
    for entry in entries:
        try:
            st = entry.stat()
        except OSError as exc:
            bad(entry.path, f"cannot read: {_os_problem(exc)}")
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
    return records


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
    from guard.policy.conda_names import pypi_name_for_conda

    names = {canonical_name(parts[0])}
    pypi = pypi_name_for_conda(parts[0])
    if pypi:
        names.add(canonical_name(pypi))
    return tuple(sorted(names))


def _os_problem(exc: OSError) -> str:
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
        return f"cannot read: {_os_problem(exc)}"
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
_SUBDIRS = frozenset({
    "noarch", "linux-32", "linux-64", "linux-aarch64", "linux-armv6l", "linux-armv7l", "linux-ppc64",
    "linux-ppc64le", "linux-riscv64", "linux-s390x", "osx-64", "osx-arm64", "win-32", "win-64",
    "win-arm64", "freebsd-64", "zos-z", "emscripten-wasm32", "wasi-wasm32",
})
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


# ---- site-packages ----------------------------------------------------------------------------


def _sys_path_dirs(site_dirs: Iterable[str], anomalies: list[Anomaly]) -> Iterator[str]:
    """Existing site directories and the directories their ``.pth`` files add, in the order
    ``site.addsitedir`` puts them on ``sys.path``, each real directory once. ``import`` lines of
    ``.pth`` files are not run (a legacy ``setup.py develop`` puts its ``.egg-info`` in a directory
    named by a path line, which is read here). A site directory that exists but is no readable
    directory (a link loop, a broken link, a file) is an anomaly: it could hide anything."""
    seen: set[str] = set()

    def first_time(path: str) -> bool:
        real = os.path.normcase(os.path.realpath(path))
        if real in seen:
            return False
        seen.add(real)
        return True

    for site_dir in site_dirs:
        if not os.path.isdir(site_dir):
            if os.path.lexists(site_dir):
                anomalies.append(Anomaly(site_dir, f"a site directory that cannot be read ({_path_problem(site_dir)})"))
            continue
        if not first_time(site_dir):
            continue
        yield site_dir
        try:
            pth_files = sorted(n for n in os.listdir(site_dir) if n.endswith(".pth") and not n.startswith("."))
        except OSError:
            continue
        for pth in pth_files:
            for extra in _pth_dirs(site_dir, pth):
                if first_time(extra):
                    yield extra


def _pth_dirs(site_dir: str, pth: str) -> list[str]:
    try:
        with open(os.path.join(site_dir, pth), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    dirs = []
    for line in lines:
        if not line.strip() or line.startswith("#") or line.startswith(("import ", "import\t")):
            continue
        path = os.path.abspath(os.path.join(site_dir, line.rstrip()))
        if os.path.isdir(path):
            dirs.append(path)
    return dirs


def _metadata_entries(site_dir: str, anomalies: list[Anomaly]) -> list[tuple[str, bool]]:
    """``(name, is_dir)`` of the ``*.dist-info`` / ``*.egg-info`` entries, in listing order
    (importlib.metadata reads ``os.listdir`` order too). An entry that cannot be examined (a
    symlink loop such as ``x.dist-info -> x.dist-info``, a broken link, no permission) is an
    anomaly for the project its name gives, and the other entries are still read; a directory
    that cannot be listed is an anomaly for every name."""
    found = []
    try:
        with os.scandir(site_dir) as it:
            for e in it:
                if not e.name.lower().endswith((".dist-info", ".egg-info")):
                    continue
                try:
                    is_dir = e.is_dir()
                    broken = not is_dir and e.is_symlink() and not os.path.exists(e.path)
                except OSError as exc:
                    anomalies.append(Anomaly(e.path, f"cannot read: {_os_problem(exc)}", _dist_entry_names(e.name)))
                    continue
                if broken:
                    anomalies.append(Anomaly(e.path, f"cannot read: {_path_problem(e.path)}", _dist_entry_names(e.name)))
                    continue
                found.append((e.name, is_dir))
    except OSError as exc:
        anomalies.append(Anomaly(site_dir, f"cannot list the site directory: {_os_problem(exc)}"))
    return found


def _path_problem(path: str) -> str:
    """Why ``path`` cannot be used as a directory, in a few words (``Too many levels of symbolic
    links``, ``a symbolic link to nothing``)."""
    try:
        os.stat(path)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and os.path.islink(path):
            return "a symbolic link to nothing"
        return _os_problem(exc)
    return "not a directory"


def _dist_entry_names(entry: str) -> tuple[str, ...]:
    """The projects a metadata directory's name could stand for: the part before the first ``-``
    (installers escape ``-`` in names: ``numpy-1.26.4.dist-info`` -> ``numpy``), and, for one
    written without escaping, each longer ``-``-separated prefix (``loop-c.dist-info`` ->
    ``loop``, ``loop-c``); none when the name is empty."""
    parts = entry.rpartition(".")[0].split("-")
    names = [canonical_name("-".join(parts[:i])) for i in range(1, len(parts) + 1)]
    return tuple(dict.fromkeys(n for n in names if n.strip("-")))


def _read_dist(site_dir: str, entry: str, is_dir: bool, record: CondaRecord | None, warnings: list[str],
               anomalies: list[Anomaly]) -> InstalledDist | None:
    path = os.path.join(site_dir, entry)
    kind = "dist-info" if entry.lower().endswith(".dist-info") else "egg-info"
    if kind == "dist-info" and not is_dir:
        return None  # importlib.metadata ignores it too: no METADATA inside
    metadata_file = path if not is_dir else os.path.join(path, "METADATA" if kind == "dist-info" else "PKG-INFO")
    headers, problem = _read_headers(metadata_file)
    name_from_dir, _, rest = entry.rpartition(".")[0].partition("-")
    version_from_dir = rest.split("-")[0]
    if headers is None:
        anomalies.append(Anomaly(metadata_file, f"cannot read metadata ({problem}); using the name and version in "
                                                "the directory name", _dist_entry_names(entry)))
        headers = {}
    display_name = (headers.get("name") or [name_from_dir])[0]
    version = (headers.get("version") or [version_from_dir])[0]
    if not display_name or not version:
        anomalies.append(Anomaly(path, "no name or version in metadata or directory name; ignored",
                                 _dist_entry_names(entry)))
        return None
    if name_from_dir and canonical_name(name_from_dir) != canonical_name(display_name):
        # Python and pip know it by the metadata's name; the files may be another project's
        anomalies.append(Anomaly(path, f"its metadata names {display_name!r}, its directory name {name_from_dir!r}",
                                 tuple(sorted({canonical_name(name_from_dir), canonical_name(display_name)}))))
    requires = headers.get("requires-dist", [])
    if not requires and kind == "egg-info" and is_dir:
        requires = _egg_requires(os.path.join(path, "requires.txt"))
    installer = direct_url = None
    if is_dir:
        installer = _read_text(os.path.join(path, "INSTALLER"))
        installer = installer.strip() if installer is not None else None
        if kind == "dist-info":
            direct_url = _read_direct_url(os.path.join(path, "direct_url.json"), warnings)
    return InstalledDist(
        name=canonical_name(display_name),
        display_name=display_name,
        version=version,
        metadata_path=path,
        kind=kind,
        installer=installer,
        requires_dist=tuple(requires),
        requires_python=(headers.get("requires-python") or [None])[0],
        owner="conda" if record is not None else "pip",
        conda_record=record,
        site_dir=site_dir,
        direct_url=direct_url,
        provides_extra=tuple(headers.get("provides-extra", ())),
    )


# The headers read from METADATA / PKG-INFO; none of them is folded over lines in practice.
_HEADER = re.compile(r"^(name|version|requires-dist|requires-python|provides-extra)[ \t]*:[ \t]*(.*?)[ \t]*\r?$",
                     re.M | re.I)


def _read_headers(path: str) -> tuple[dict[str, list[str]] | None, str | None]:
    """The wanted headers of a METADATA / PKG-INFO file (RFC 822 style), read up to the first
    blank line: the description body after it is not parsed. ``(None, why)`` when unreadable."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        return None, _os_problem(exc)
    end = raw.find(b"\n\n")
    if end < 0:
        end = raw.find(b"\r\n\r\n")
    text = (raw if end < 0 else raw[:end]).decode("utf-8", "replace")
    headers: dict[str, list[str]] = {}
    for key, value in _HEADER.findall(text):
        headers.setdefault(key.lower(), []).append(value)
    return headers, None


def _egg_requires(path: str) -> list[str]:
    """``requires.txt`` as PEP 508 requirements, the way ``importlib.metadata`` converts it."""
    text = _read_text(path)
    if text is None:
        return []
    section = ""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        extra, _, marker = section.partition(":")
        if extra and marker:
            marker = f"({marker})"
        conditions = [c for c in (marker, extra and f'extra == "{extra}"') if c]
        # a URL requirement needs a space before ';'; importlib.metadata adds it even when no
        # marker follows, and this keeps its output exactly
        space = " " if "@" in line else ""
        out.append(line + space + ("; " + " and ".join(conditions) if conditions else ""))
    return out


def _read_direct_url(path: str, warnings: list[str]) -> Mapping | None:
    raw = _read_bytes(path)
    if raw is None:
        return None
    try:
        data = loads_bounded(raw)
    except JSONInputError:
        data = None
    if not isinstance(data, dict):
        warnings.append(f"{path}: not a JSON object; ignored")
        return None
    return MappingProxyType(data)


def _read_text(path: str) -> str | None:
    raw = _read_bytes(path)
    return None if raw is None else raw.decode("utf-8", "replace")


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None






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

