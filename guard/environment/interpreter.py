"""The target environment's Python interpreter: where it is, and what pip would see when it runs there.

pip decides by the *target* interpreter's facts (PEP 508 markers, supported wheel tags, install
paths), which can differ from the Python running the guard. ``probe`` asks the target once, in a
subprocess, and caches the answer on disk so that a guarded ``pip install`` pays for that
subprocess only when the interpreter (or its pip) changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import packaging

from guard.errors import EnvironmentReadError

# Bump when the probe script or the cached fields change, so that old cache entries are ignored.
_PROBE_FORMAT = 1

# A cold probe is one interpreter start plus ``import pip._internal.models.index``: well under a
# second; 30 s covers a slow network file system without hanging a shim forever.
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Interpreter:
    """What the target interpreter reports about itself (not hashable: ``markers`` is a mapping)."""

    executable: str
    """The interpreter path the probe ran (as found in the prefix, symlinks not resolved)."""
    version: str
    """``platform.python_version()``, e.g. ``"3.11.7"``."""
    implementation: str
    """``sys.implementation.name``, e.g. ``"cpython"``."""
    markers: Mapping[str, str]
    """PEP 508 marker environment, ``packaging.markers.default_environment()`` run in the target."""
    tags: tuple[str, ...]
    """Supported wheel tags, most preferred first (``packaging.tags.sys_tags()`` in the target)."""
    prefix: str
    base_prefix: str
    purelib: str
    platlib: str
    user_site: str | None
    """The user site directory when the target would put it on ``sys.path`` (not in a venv that
    excludes it; the ``PYTHONNOUSERSITE`` setting of the calling environment is not considered)."""
    site_dirs: tuple[str, ...]
    """The site directories in the order ``site.main()`` puts them on ``sys.path`` (user site
    included when enabled; ``.pth`` entries not expanded; existing or not)."""
    pip_version: str | None
    """The target environment's own pip, when it imports there."""
    pip_default_index: str | None
    """pip's built-in default index (``PyPI.simple_url``) as the target's pip defines it."""


def find_interpreter(prefix: Path) -> Path:
    """The Python interpreter of the environment at ``prefix``.

    Looks for ``bin/python3`` then ``bin/python`` (Windows: ``python.exe``, then a venv's
    ``Scripts/python.exe``). Raises ``EnvironmentReadError`` (one line) when there is none.
    """
    prefix = Path(prefix)
    if not prefix.is_dir():
        raise EnvironmentReadError(f"environment prefix {prefix} does not exist or is not a directory")
    if os.name == "nt":
        candidates = ("python.exe", "Scripts/python.exe")
    else:
        candidates = ("bin/python3", "bin/python")
    for rel in candidates:
        path = prefix / rel
        if path.is_file():
            return path
    raise EnvironmentReadError(
        f"no Python interpreter in {prefix} (looked for {', '.join(candidates)}); is it a Python environment?"
    )


# Runs in the target interpreter under ``-I -S``: isolated from PYTHON* variables, and without
# ``site.main()`` so that no ``.pth`` file of the target runs (they may import anything, print, or
# be slow). What ``site.main()`` would have done to ``sys.prefix`` and ``sys.path`` is replayed
# here (``site.venv``: the pyvenv.cfg beside or above the executable makes it a venv). argv[1] is
# the directory of the guard's own ``packaging`` package (pure Python; the target may lack it or
# have another version). Only that package is loaded from there, so that nothing else of the
# guard's environment (above all its pip) can shadow the target's.
_PROBE_SCRIPT = r"""
import importlib.util, json, os, platform, site, sys

spec = importlib.util.spec_from_file_location(
    "packaging", os.path.join(sys.argv[1], "__init__.py"), submodule_search_locations=[sys.argv[1]])
mod = importlib.util.module_from_spec(spec)
sys.modules["packaging"] = mod
spec.loader.exec_module(mod)
from packaging import markers, tags

exe_dir = os.path.dirname(os.path.abspath(sys.executable))
venv_prefix = os.path.dirname(exe_dir)
conf = [c for c in (os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(venv_prefix, "pyvenv.cfg")) if os.path.isfile(c)]
site_dirs, prefixes, user_enabled = [], [sys.prefix, sys.exec_prefix], True
if conf:
    system_site = "true"
    with open(conf[0], encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.partition("=")
            if sep and key.strip().lower() == "include-system-site-packages":
                system_site = value.strip().lower()
    sys.prefix = sys.exec_prefix = venv_prefix
    site_dirs += site.getsitepackages([venv_prefix])
    if system_site != "true":
        prefixes, user_enabled = [], False
user_site = site.getusersitepackages() if user_enabled else None
site_dirs += [user_site] if user_site else []
site_dirs += site.getsitepackages(prefixes)

import sysconfig  # only now: it reads sys.prefix when imported
paths = sysconfig.get_paths(vars={"base": sys.prefix, "platbase": sys.exec_prefix})
purelib, platlib = paths["purelib"], paths["platlib"]

pip_version = pip_index = pip_file = None
sys.path += [p for p in dict.fromkeys(site_dirs) if p != user_site]
try:
    import pip
    from pip._internal.models.index import PyPI
    pip_version, pip_index, pip_file = pip.__version__, PyPI.simple_url, pip.__file__
except Exception:
    pass

print(json.dumps({
    "version": platform.python_version(),
    "implementation": sys.implementation.name,
    "markers": markers.default_environment(),
    "tags": [str(t) for t in tags.sys_tags()],
    "prefix": sys.prefix, "base_prefix": sys.base_prefix,
    "purelib": purelib, "platlib": platlib, "user_site": user_site,
    "site_dirs": list(dict.fromkeys(site_dirs)),
    "pip_version": pip_version, "pip_default_index": pip_index, "pip_file": pip_file,
}))
"""


def probe(python: Path, *, cache_dir: Path | None, timeout: float = DEFAULT_TIMEOUT) -> Interpreter:
    """Ask the interpreter ``python`` for its markers, tags, paths and pip, in one subprocess.

    With ``cache_dir``, the answer is kept in ``cache_dir/interpreters/`` keyed by the path as
    given, the real path's ``st_mtime_ns`` and ``st_size``, the guard's ``packaging`` version and
    the running kernel's release;
    a cached answer is reused while the target's pip (``pip/__init__.py``, or the site directories
    when pip was absent) is unchanged, so a warm call starts no process.
    Raises ``EnvironmentReadError`` (one line) when the interpreter cannot be run or answers garbage.
    """
    python = Path(os.path.abspath(python))
    try:
        real = os.path.realpath(python)
        st = os.stat(real)
    except OSError as exc:
        raise EnvironmentReadError(f"cannot read interpreter {python}: {exc.strerror or exc}") from None
    # the kernel release and version are marker values too (platform_release, platform_version)
    key = json.dumps(
        [
            _PROBE_FORMAT,
            str(python),
            real,
            st.st_mtime_ns,
            st.st_size,
            packaging.__version__,
            platform.release(),
            platform.version(),
        ]
    )
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / "interpreters" / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")
        cached = _read_cache(cache_file, key)
        if cached is not None:
            try:
                return _to_interpreter(str(python), cached)
            except EnvironmentReadError:
                pass  # a damaged cache entry: ask the interpreter again
    data = _run_probe(python, timeout)
    if cache_file is not None:
        data["_key"] = key
        data["_pip_stamp"] = _pip_stamp(data)
        write_cache_file(cache_file, data)
    return _to_interpreter(str(python), data)


def _run_probe(python: Path, timeout: float) -> dict:
    packaging_dir = os.path.dirname(os.path.abspath(packaging.__file__))
    try:
        proc = subprocess.run(
            [str(python), "-I", "-S", "-c", _PROBE_SCRIPT, packaging_dir],
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise EnvironmentReadError(f"interpreter {python} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise EnvironmentReadError(f"cannot run interpreter {python}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        last = _last_line(proc.stderr) or f"exit status {proc.returncode}"
        raise EnvironmentReadError(f"interpreter {python} failed to describe itself: {last}")
    try:
        data = json.loads(proc.stdout)
        if not isinstance(data, dict) or not isinstance(data.get("tags"), list):
            raise ValueError("not a probe answer")
    except ValueError:
        raise EnvironmentReadError(f"interpreter {python} answered the probe with garbage") from None
    return data


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _pip_stamp(data: dict) -> list:
    """What tells that the target's pip changed: its ``__init__.py`` when present (an upgrade
    rewrites it), else the site directories (installing pip changes them; a missing one
    that appears changes the stamp too)."""
    pip_file = data.get("pip_file")
    paths = [pip_file] if pip_file else list(data["site_dirs"])
    return [[p, *_stat_pair(p)] for p in paths]


def _stat_pair(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


def _read_cache(cache_file: Path, key: str) -> dict | None:
    from guard.boundedjson import loads_bounded, read_bounded  # a damaged cache is a miss, never a RecursionError

    try:
        data = loads_bounded(read_bounded(cache_file))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("_key") != key:
        return None
    stamp = data.get("_pip_stamp")
    if not isinstance(stamp, list) or any(list(_stat_pair(p)) != [m, s] for p, m, s in stamp):
        return None
    return data


def write_cache_file(path: Path, data: object) -> None:
    """Write a JSON cache file atomically (readers never see half of it). A cache that cannot be
    written only costs the next call the work again, so write errors are ignored."""
    try:
        import tempfile  # here: it imports shutil, bz2, lzma and random, which a warm snapshot never needs

        from guard.private_files import private_dir

        private_dir(path.parent)  # 0700 (mkstemp's file is 0600): the guard's state is the user's alone
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(data, separators=(",", ":")))  # json.dump: the pure-Python encoder, 4x slower
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def _to_interpreter(executable: str, data: dict) -> Interpreter:
    try:
        return Interpreter(
            executable=executable,
            version=data["version"],
            implementation=data["implementation"],
            markers=MappingProxyType(dict(data["markers"])),
            tags=tuple(data["tags"]),
            prefix=data["prefix"],
            base_prefix=data["base_prefix"],
            purelib=data["purelib"],
            platlib=data["platlib"],
            user_site=data.get("user_site"),
            site_dirs=tuple(data["site_dirs"]),
            pip_version=data.get("pip_version"),
            pip_default_index=data.get("pip_default_index"),
        )
    except (KeyError, TypeError, ValueError):
        raise EnvironmentReadError(f"interpreter {executable} answered the probe incompletely") from None
