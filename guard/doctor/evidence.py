"""What ``guard doctor`` reads at the edge, for the pure diagnosis: file hashes against conda's
``paths_data`` (cached by stat), torch-family ``version.py`` files, conda's removal history, whether a
GPU is visible, and with ``--import`` what the environment's own interpreter imports (one
subprocess per package)."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType

from guard.act.remembered import conda_removals, protected_records
from guard.act.verify import sha256_of
from guard.doctor.models import Evidence, FileCheck, ImportResult, VersionFile
from guard.doctor.variants import VARIANT_DISTS
from guard.environment.conda_meta import CondaRecord, load_paths_data
from guard.environment.interpreter import write_cache_file
from guard.environment.site_packages import InstalledDist
from guard.environment.snapshot import EnvironmentSnapshot
from guard.errors import EnvironmentReadError
from guard.policy.rules import Policy

# Importing torch with its CUDA libraries can take tens of seconds on a cold network file system;
# a hung import must not hang the doctor.
IMPORT_TIMEOUT = 120.0


def collect_evidence(
    snapshot: EnvironmentSnapshot,
    policy: Policy,
    *,
    deep: bool = False,
    do_import: bool = False,
    cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
    import_timeout: float = IMPORT_TIMEOUT,
) -> Evidence:
    """Read what ``diagnose`` needs: file hashes of the protected records (every record with
    ``deep``), torch-family ``version.py`` files, conda's removal history, and with ``do_import``
    what the environment's interpreter imports (one subprocess per protected package, in
    parallel). ``cache_dir`` keeps file hashes keyed by stat, so that a second run hashes only
    what changed."""
    prefix = Path(snapshot.prefix)
    notes: list[str] = []
    owned_meta = {
        d.conda_record.meta_file
        for found in (snapshot.dists.values(), *snapshot.duplicates.values())
        for d in found
        if d.conda_record is not None
    }
    if deep:
        to_check = list(snapshot.conda_records.values())
    else:
        to_check = [rec for rec, _, _ in protected_records(snapshot, policy).values()]
    # a record whose metadata pip already replaced is reported as drift; hashing what pip wrote over
    # it would only repeat that
    to_check = [r for r in to_check if not r.dist_dirs or r.meta_file in owned_meta]
    file_checks = check_files(prefix, to_check, cache_dir=cache_dir, notes=notes)

    version_files = read_version_files(snapshot)
    imports = None
    gpu = gpu_present()
    if do_import:
        names = sorted(
            {n for n, d in snapshot.dists.items() if policy.is_protected(n)}
            | {rem_dist for _, rem_dist, _ in protected_records(snapshot, policy).values()}
        )
        imports = probe_imports(snapshot, names, gpu=gpu is not None, environ=environ, cwd=cwd, timeout=import_timeout)
    return Evidence(
        real_prefix=os.path.realpath(prefix),
        file_checks=MappingProxyType(file_checks),
        version_files=MappingProxyType(version_files),
        imports=None if imports is None else MappingProxyType(imports),
        gpu=gpu,
        conda_removed=frozenset(conda_removals(prefix)),
        deep=deep,
        notes=tuple(notes),
    )


def read_version_files(snapshot: EnvironmentSnapshot) -> dict[str, VersionFile]:
    """``<module>/version.py`` of each installed torch-family dist, by dist name."""
    found = {}
    for name in VARIANT_DISTS:
        dist = snapshot.dists.get(name)
        if dist is not None:
            vf = read_version_file(Path(dist.site_dir) / name / "version.py")
            if vf is not None:
                found[name] = vf
    return found


_VERSION_ASSIGN = re.compile(r"^(__version__|cuda|hip)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.M)


def read_version_file(path: Path) -> VersionFile | None:
    """``__version__``, ``cuda`` and ``hip`` of a torch-style ``version.py``, read as text (plain or
    annotated assignments of literals); None when the file is absent."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    values: dict[str, str | None] = {}
    for key, raw in _VERSION_ASSIGN.findall(text):
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            continue
        values.setdefault(key, str(value) if value is not None else None)
    return VersionFile(str(path), values.get("__version__"), values.get("cuda"), values.get("hip"))


def gpu_present() -> str | None:
    """How an NVIDIA GPU shows itself here: the driver's device node or proc file (Linux), or
    ``nvidia-smi`` on PATH elsewhere. None when none is visible."""
    for marker in ("/dev/nvidia0", "/proc/driver/nvidia/version"):
        if os.path.exists(marker):
            return marker
    if sys.platform != "linux":
        import shutil

        smi = shutil.which("nvidia-smi")
        if smi:
            return smi
    return None


# ---- file hashes --------------------------------------------------------------------------------

_HASH_CACHE_FORMAT = 1


def check_files(
    prefix: Path, records: Iterable[CondaRecord], *, cache_dir: Path | None = None, notes: list[str] | None = None
) -> dict[str, FileCheck]:
    """Compare each record's files with its ``paths_data`` (``sha256_in_prefix`` where conda
    rewrote the prefix into the file, else ``sha256``). Links, directories and entries without a
    hash (compiled ``.pyc``) are skipped; a size that differs from ``size_in_bytes`` needs no hash.
    Files are hashed in threads (hashlib releases the GIL); hashes are cached by
    ``(inode, mtime_ns, size)`` under ``cache_dir``."""
    cache = _HashCache(cache_dir, prefix)
    plan: list[tuple[str, str, str, os.stat_result]] = []  # (record, rel, expected, stat)
    results: dict[str, dict] = {}
    for record in records:
        try:
            entries = load_paths_data(record)
        except EnvironmentReadError as exc:
            if notes is not None:
                notes.append(f"files of {record.name} not checked: {exc}")
            continue
        state = results.setdefault(record.name, {"checked": 0, "differing": [], "missing": []})
        for entry in entries:
            expected = entry.get("sha256_in_prefix") or entry.get("sha256")
            if entry.get("path_type") in ("softlink", "directory") or not isinstance(expected, str):
                continue
            rel = entry["path"]
            state["checked"] += 1
            try:
                st = os.stat(prefix / rel)
            except OSError:
                state["missing"].append(rel)
                continue
            size = entry.get("size_in_bytes")
            if not entry.get("sha256_in_prefix") and isinstance(size, int) and st.st_size != size:
                state["differing"].append(rel)
                continue
            cached = cache.get(rel, st)
            if cached is not None:
                if cached != expected.lower():
                    state["differing"].append(rel)
                continue
            plan.append((record.name, rel, expected.lower(), st))
    if plan:
        workers = min(8, os.cpu_count() or 1, len(plan))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            hashes = list(pool.map(lambda item: sha256_of(prefix / item[1]), plan))
        for (record_name, rel, expected, st), digest in zip(plan, hashes):
            if digest is None:
                results[record_name]["missing"].append(rel)
                continue
            cache.put(rel, st, digest)
            if digest != expected:
                results[record_name]["differing"].append(rel)
    cache.save()
    return {
        name: FileCheck(name, s["checked"], tuple(sorted(s["differing"])), tuple(sorted(s["missing"])))
        for name, s in results.items()
    }


class _HashCache:
    """``{rel: [ino, mtime_ns, size, sha256]}`` per prefix, in one JSON file."""

    def __init__(self, cache_dir: Path | None, prefix: Path) -> None:
        self.file = None
        self.entries: dict = {}
        self.changed = False
        if cache_dir is None:
            return
        digest = hashlib.sha256(os.path.realpath(prefix).encode("utf-8", "surrogateescape")).hexdigest()[:32]
        self.file = Path(cache_dir) / "file-hashes" / f"{digest}.json"
        from guard.boundedjson import loads_bounded, read_bounded  # a damaged cache is a miss, never a RecursionError

        try:
            data = loads_bounded(read_bounded(self.file))
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or data.get("format") != _HASH_CACHE_FORMAT:
            return
        if isinstance(data.get("entries"), dict):
            self.entries = data["entries"]

    def get(self, rel: str, st: os.stat_result) -> str | None:
        hit = self.entries.get(rel)
        if isinstance(hit, list) and len(hit) == 4 and hit[:3] == [st.st_ino, st.st_mtime_ns, st.st_size]:
            return hit[3]
        return None

    def put(self, rel: str, st: os.stat_result, digest: str) -> None:
        self.entries[rel] = [st.st_ino, st.st_mtime_ns, st.st_size, digest]
        self.changed = True

    def save(self) -> None:
        if self.file is not None and self.changed:
            write_cache_file(self.file, {"format": _HASH_CACHE_FORMAT, "entries": self.entries})


# ---- importing in the environment's interpreter -------------------------------------------------

# Runs in the target interpreter as the user would run it (site, .pth files, PYTHONPATH, the user
# site: they are what decides what ``import torch`` loads). Prints one marked JSON line last, so
# that whatever the imported package prints does not matter. Every attribute is optional: stubs
# and broken builds lack some.
_IMPORT_SCRIPT = r"""
import importlib, json, os, sys
module, check_cuda = sys.argv[1], sys.argv[2] == "1"
out = {}
try:
    mod = importlib.import_module(module)
    out["version"] = getattr(mod, "__version__", None)
    out["file"] = getattr(mod, "__file__", None)
    ver = getattr(mod, "version", None)
    if ver is None:
        try:
            ver = importlib.import_module(module + ".version")
        except Exception:
            ver = None
    if out["version"] is None and ver is not None:
        out["version"] = getattr(ver, "__version__", None)
    out["cuda"] = getattr(ver, "cuda", None) if ver is not None else None
    out["has_version_module"] = ver is not None and hasattr(ver, "cuda")
    cuda = getattr(mod, "cuda", None)
    available = getattr(cuda, "is_available", None)
    if check_cuda and callable(available):
        out["cuda_available"] = bool(available())
except BaseException as exc:
    out["error"] = (type(exc).__name__ + ": " + str(exc)).splitlines()[0][:500]
for key in ("version", "file", "cuda"):
    if out.get(key) is not None:
        out[key] = str(out[key])
if out.get("file"):
    out["file"] = os.path.realpath(out["file"])
sys.stdout.flush()
print("\n@@guard-import@@" + json.dumps(out))
"""
_MARK = "@@guard-import@@"


def module_name(dist: InstalledDist) -> str:
    """The import name of ``dist``: its ``top_level.txt`` (first line), else the top-level
    directories its ``RECORD`` lists that hold an ``__init__.py``, else the project name with ``-``
    as ``_``."""
    if os.path.isdir(dist.metadata_path):
        try:
            with open(os.path.join(dist.metadata_path, "top_level.txt"), encoding="utf-8") as f:
                first = next((line.strip() for line in f if line.strip()), None)
            if first:
                return first
        except (OSError, UnicodeDecodeError):  # unreadable or not UTF-8: RECORD, then the name
            pass
        try:
            with open(os.path.join(dist.metadata_path, "RECORD"), encoding="utf-8", errors="replace") as f:
                for line in f:
                    top, sep, rest = line.partition(",")[0].partition("/")
                    if sep and rest == "__init__.py" and not top.endswith((".dist-info", ".data")):
                        return top
        except OSError:
            pass
    return dist.name.replace("-", "_")


def probe_imports(
    snapshot: EnvironmentSnapshot,
    names: Sequence[str],
    *,
    gpu: bool,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout: float = IMPORT_TIMEOUT,
) -> dict[str, ImportResult]:
    """Import each dist's module in the environment's own interpreter, one subprocess each (a
    crash or a hang in one import does not hide the others), in parallel. Nothing is imported
    into the guard."""
    python = snapshot.interpreter.executable
    env = dict(os.environ if environ is None else environ)
    jobs = []
    for name in names:
        dist = snapshot.dists.get(name)
        jobs.append((name, module_name(dist) if dist is not None else name.replace("-", "_")))

    def run(job: tuple[str, str]) -> ImportResult:
        name, module = job
        try:
            proc = subprocess.run(
                [python, "-c", _IMPORT_SCRIPT, module, "1" if gpu else "0"],
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return ImportResult(name, module, error=f"did not finish within {timeout:g} s")
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the module name (damaged metadata)
            return ImportResult(name, module, error=f"cannot run {python}: {getattr(exc, 'strerror', None) or exc}")
        line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith(_MARK)), None)
        if line is None:
            last = next((ln.strip() for ln in reversed(proc.stderr.splitlines()) if ln.strip()), "")
            return ImportResult(
                name,
                module,
                error=f"the interpreter exited with status {proc.returncode}" + (f": {last}" if last else ""),
            )
        try:
            data = json.loads(line[len(_MARK) :])
        except ValueError:
            return ImportResult(name, module, error="the import probe answered garbage")
        return ImportResult(
            name,
            module,
            version=data.get("version"),
            file=data.get("file"),
            cuda=data.get("cuda"),
            has_version_module=bool(data.get("has_version_module")),
            cuda_available=data.get("cuda_available"),
            error=data.get("error"),
        )

    if not jobs:
        return {}
    with ThreadPoolExecutor(max_workers=min(4, len(jobs))) as pool:
        return {r.name: r for r in pool.map(run, jobs)}
