"""``guard doctor``: find what pip already did to an environment's conda packages.

Users arrive after the damage: ``conda list`` says torch 2.7.0, ``import torch`` loads 2.6.0,
``torch.cuda.is_available()`` turned False after some ``pip install``. The doctor compares three
accounts of the environment and reports where they disagree:

- conda's records (``conda-meta/*.json``, in the snapshot) and, for records conda already deleted,
  the copy the guard remembered (``guard.remembered``);
- what site-packages holds (the snapshot's dists; ``torch/version.py``; file hashes);
- with ``--import``, what the environment's own Python really loads.

Finding kinds (``Finding.kind``):

==================== ======== ==============================================================
kind                 severity  what
==================== ======== ==============================================================
drift                problem*  conda's record lists a dist whose metadata is gone, and
                               site-packages holds another version by another installer
metadata-gone        problem*  conda's record lists a dist that is not installed at all
replaced             problem*  conda's metadata directory is there, but another installer
                               rewrote it (``INSTALLER`` differs from conda's file)
record-gone          problem   a remembered protected record is gone from conda-meta and
                               another installer's dist stands in its place (warning when
                               neither record nor dist is left)
duplicate-metadata   problem*  two metadata directories for one project
files-altered        warning   conda-owned files whose sha256 differs from ``paths_data``
                               (protected records always, others with ``--deep``)
variant-mismatch     problem   torch (family) built for CPU where conda's record is a CUDA
                               build, the reverse, or another CUDA version
cuda-wheels          problem   PyPI CUDA runtime wheels installed beside conda's CUDA runtime
unsatisfied          problem   a pip-installed dist requires a protected dist at a version
                               other than the installed one
import-failed        problem   ``--import``: importing a protected package fails
import-mismatch      problem   ``--import``: the version Python loads is not conda's
import-shadowed      problem   ``--import``: Python loads the package from outside the env
cuda-unavailable     problem   ``--import``: a CUDA torch on a machine with a GPU, and
                               ``torch.cuda.is_available()`` is False
==================== ======== ==============================================================

(*) problem for protected packages, warning for others.

``diagnose`` is pure: the snapshot, the remembered records and an ``Evidence`` object (file
hashes, ``version.py`` contents, import results) read at the edge by ``collect_evidence``.
Renderers return strings. Exit status (``Report.exit_code``): 0 healthy or warnings only, 1
problems found; bad input (2) is raised before a report exists.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from guard.environment.snapshot import CondaRecord, EnvironmentSnapshot, InstalledDist, load_paths_data
from guard.errors import EnvironmentReadError
from guard.environment.interpreter import write_cache_file
from guard.policy.names import canonical_name, conda_cuda_runtime_names, is_pypi_cuda_wheel
from guard.policy.rules import Policy, conda_cuda_runtime
from guard.act.remembered import RememberedRecord, conda_removals, dist_of_dir, protected_records

SCHEMA = 1
PROBLEM, WARNING = "problem", "warning"

#: Dists whose ``<module>/version.py`` says which CUDA (or none) they were built for.
VARIANT_DISTS = ("torch", "torchvision", "torchaudio")

# Importing torch with its CUDA libraries can take tens of seconds on a cold network file system;
# a hung import must not hang the doctor.
IMPORT_TIMEOUT = 120.0

_MAX_LISTED = 20  # paths listed in a finding's evidence


# ---- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    severity: str
    """``"problem"`` or ``"warning"``."""
    kind: str
    name: str
    """The project (PyPI name) or, for findings about no single project, a label."""
    message: str
    evidence: Mapping
    """Plain JSON data."""
    fix: str | None
    """A shell command (``&&``-joined steps); None when no command fixes it."""

    def to_json(self) -> dict:
        return {"severity": self.severity, "kind": self.kind, "name": self.name, "message": self.message,
                "evidence": _plain(self.evidence), "fix": self.fix}


@dataclass(frozen=True)
class Variant:
    """Which accelerator a torch-family build targets."""

    kind: str
    """``"cuda"``, ``"cpu"`` or ``"rocm"``."""
    cuda: str | None = None
    """``major.minor`` when known."""

    def describe(self) -> str:
        if self.kind == "cuda":
            return f"CUDA {self.cuda} build" if self.cuda else "CUDA build"
        return "ROCm build" if self.kind == "rocm" else "CPU build"

    def differs_from(self, other: "Variant") -> bool:
        if self.kind != other.kind:
            return True
        return self.kind == "cuda" and bool(self.cuda and other.cuda) and self.cuda != other.cuda

    def to_json(self) -> dict:
        return {"kind": self.kind, "cuda": self.cuda}


@dataclass(frozen=True)
class VersionFile:
    """``<module>/version.py`` of an installed torch-family dist, read without importing it."""

    path: str
    version: str | None
    cuda: str | None
    hip: str | None


@dataclass(frozen=True)
class FileCheck:
    """conda-owned files of one record compared with its ``paths_data``."""

    record: str
    """conda package name."""
    checked: int
    differing: tuple[str, ...]
    """Prefix-relative paths whose sha256 (or size) differs."""
    missing: tuple[str, ...]


@dataclass(frozen=True)
class ImportResult:
    """What ``import <module>`` gave in the environment's own interpreter."""

    name: str
    """The dist (PyPI name)."""
    module: str
    version: str | None = None
    file: str | None = None
    """``__file__``, resolved (symlinks followed)."""
    cuda: str | None = None
    """``<module>.version.cuda`` (torch); None when absent or CPU."""
    has_version_module: bool = False
    """``<module>.version`` exists, so ``cuda`` None means a CPU build, not "unknown"."""
    cuda_available: bool | None = None
    """``torch.cuda.is_available()``; None when not asked (no GPU) or absent."""
    error: str | None = None
    """One line: the exception, or the timeout."""

    def to_json(self) -> dict:
        return {"module": self.module, "version": self.version, "file": self.file, "cuda": self.cuda,
                "has_version_module": self.has_version_module, "cuda_available": self.cuda_available,
                "error": self.error}


@dataclass(frozen=True)
class Evidence:
    """What was read from disk (and from the interpreter) for ``diagnose``."""

    real_prefix: str
    file_checks: Mapping[str, FileCheck] = field(default_factory=dict)
    """By conda name."""
    version_files: Mapping[str, VersionFile] = field(default_factory=dict)
    """By dist name."""
    imports: Mapping[str, ImportResult] | None = None
    """By dist name; None when ``--import`` was not asked."""
    gpu: str | None = None
    """How a GPU was detected (``/dev/nvidia0``); None when none is visible."""
    conda_removed: frozenset = frozenset()
    """``name-version-build`` strings conda's history shows removed."""
    deep: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    prefix: str
    findings: tuple[Finding, ...]
    ok: tuple[Mapping, ...]
    """Protected dists found intact: ``{"name", "version", "record"}``."""
    notes: tuple[str, ...]
    checked: Mapping
    snapshot_warnings: tuple[str, ...] = ()
    """Everything the snapshot warned about (the notes hold those no finding covers)."""

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == PROBLEM)

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def to_json(self) -> dict:
        return {"schema": SCHEMA, "prefix": self.prefix, "findings": [f.to_json() for f in self.findings],
                "ok": [dict(o) for o in self.ok], "notes": list(self.notes), "checked": dict(self.checked),
                "snapshot_warnings": list(self.snapshot_warnings)}


# ---- variants -----------------------------------------------------------------------------------

_CF_CUDA = re.compile(r"(?:^|_)cuda(\d+)(\d)(?=_|py|$)")  # conda-forge: cuda126_mkl_py311_h..., cuda118py310h...
_PT_CUDA = re.compile(r"_cuda(\d+\.\d+)_cudnn")  # pytorch channel: py3.11_cuda11.8_cudnn8.7.0_0
_CPU_BUILD = re.compile(r"(?:^|_)cpu(?:_|$)")  # cpu_mkl_py311_h..., py3.11_cpu_0
_DEP_CUDA_VERSION = re.compile(r"^(?:cuda-version|pytorch-cuda|cudatoolkit)\s+[>=~]*\s*(\d+\.\d+)")
_LOCAL_CUDA = re.compile(r"^cu(\d+?)(\d)$")


def conda_variant(record: CondaRecord) -> Variant | None:
    """The variant a conda record of the torch family was built for (shared/data/torch_variants.md
    section 1c): the build string first, then ``depends``/``constrains``. None for records
    without variants (numpy)."""
    cuda = None
    for dep in record.depends:
        m = _DEP_CUDA_VERSION.match(dep)
        if m:
            cuda = m.group(1)
            break
    m = _CF_CUDA.search(record.build)
    if m:
        return Variant("cuda", f"{m.group(1)}.{m.group(2)}")
    m = _PT_CUDA.search(record.build)
    if m:
        return Variant("cuda", m.group(1))
    if _CPU_BUILD.search(record.build):
        return Variant("cpu")
    deps = {" ".join(d.split()) for d in record.depends}
    constrains = {" ".join(c.split()) for c in record.constrains}
    if "pytorch-mutex 1.0 cuda" in deps or "__cuda" in {d.split()[0] for d in deps if d} \
            or constrains & {"pytorch-cpu <0.0a0", "pytorch-cpu ==99999999", "cpuonly <0"}:
        return Variant("cuda", cuda)
    if "pytorch-mutex 1.0 cpu" in deps or constrains & {"pytorch-gpu <0.0a0", "pytorch-gpu ==99999999"}:
        return Variant("cpu")
    return None


def installed_variant(version: str | None, version_file: VersionFile | None) -> Variant | None:
    """The variant of an installed torch-family dist: ``version.py``'s ``cuda``/``hip`` (what
    ``torch.version.cuda`` returns), else the ``+cpu``/``+cuXYZ`` local version (PyTorch's wheel
    index). None when neither says."""
    if version_file is not None:
        if version_file.cuda:
            return Variant("cuda", _major_minor(version_file.cuda))
        if version_file.hip:
            return Variant("rocm")
        return Variant("cpu")
    local = (version or "").partition("+")[2].lower()
    m = _LOCAL_CUDA.match(local)
    if m:
        return Variant("cuda", f"{m.group(1)}.{m.group(2)}")
    if local == "cpu":
        return Variant("cpu")
    if local.startswith("rocm"):
        return Variant("rocm")
    return None


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


# ---- fix commands (shared with the action stage's repair line) --------------------------------

#: What a fix's pip step is prefixed with when the guard's own hook would block it (a pip uninstall
#: of a distribution the guard counts as conda's and protects: pip reinstalled it in place).
OVERRIDE_PREFIX = "GUARD_DISABLE=1 "


def pip_command(args: str, python: str | None = None) -> str:
    """``pip ARGS``, or ``<python> -m pip ARGS`` for an environment that is not the active one."""
    return f"{shlex.quote(python)} -m pip {args}" if python else f"pip {args}"


def pip_uninstall_command(display_name: str, python: str | None = None, *, override: bool = False) -> str:
    """``pip uninstall -y NAME``; with ``override``, prefixed with ``GUARD_DISABLE=1`` (the guard
    blocks removing what it counts as a protected conda package, also when pip already replaced
    its files: this one command must pass)."""
    step = pip_command(f"uninstall -y {shlex.quote(display_name)}", python)
    return OVERRIDE_PREFIX + step if override else step


def conda_reinstall_command(rec: CondaRecord, prefix: str | None = None) -> str:
    """``conda install [-p PREFIX] --force-reinstall -c CHANNEL "name=version=build"``: conda's
    exact build back from its channel."""
    where = f" -p {shlex.quote(prefix)}" if prefix else ""
    return (f"conda install{where} --force-reinstall -c {shlex.quote(rec.channel or 'conda-forge')} "
            f'"{rec.name}={rec.version}={rec.build}"')


# ---- diagnosis (pure) ---------------------------------------------------------------------------


def diagnose(snapshot: EnvironmentSnapshot, policy: Policy, remembered: Mapping[str, RememberedRecord],
             evidence: Evidence, *, fix_python: str | None = None, fix_prefix: str | None = None) -> Report:
    """Every finding for ``snapshot``. ``fix_python`` / ``fix_prefix``: name the interpreter
    (``<python> -m pip``) and the prefix (``conda install -p``) in fix commands, for an
    environment that is not the active one; None gives the plain ``pip`` / ``conda install``."""
    d = _Diagnosis(snapshot, policy, remembered, evidence, fix_python, fix_prefix)
    return d.run()


class _Diagnosis:
    def __init__(self, snapshot, policy, remembered, evidence, fix_python, fix_prefix):
        self.snap: EnvironmentSnapshot = snapshot
        self.policy: Policy = policy
        self.remembered: Mapping[str, RememberedRecord] = remembered
        self.ev: Evidence = evidence
        self.fix_python = fix_python
        self.fix_prefix = fix_prefix
        self.findings: list[Finding] = []
        self.primary: dict[str, int] = {}  # dist name -> index of its drift/record-gone/... finding
        self.notes: list[str] = list(evidence.notes)
        all_dists = [d for found in snapshot.duplicates.values() for d in found]
        all_dists += [d for n, d in snapshot.dists.items() if n not in snapshot.duplicates]
        self.all_dists: list[InstalledDist] = all_dists
        # the conda record each dist should match: conda-meta first, remembered where conda forgot
        self.reference: dict[str, tuple[CondaRecord, str]] = {}
        for record in snapshot.conda_records.values():
            for dist_dir in record.dist_dirs:
                self.reference.setdefault(dist_of_dir(dist_dir)[0], (record, "conda-meta"))
        for rem in remembered.values():
            if rem.record.name not in snapshot.conda_records:
                self.reference.setdefault(rem.dist_name, (rem.record, "remembered"))

    # -- helpers

    def severity(self, name: str) -> str:
        return PROBLEM if self.policy.is_protected(name) else WARNING

    def pip(self, args: str) -> str:
        return pip_command(args, self.fix_python)

    def conda_reinstall(self, rec: CondaRecord) -> str:
        return conda_reinstall_command(rec, self.fix_prefix)

    def pip_uninstall(self, dist: InstalledDist) -> str:
        """``pip uninstall -y DIST``, prefixed with the override when the guard's own hook would
        block it: ``dist`` is conda-owned by the guard's rule (conda's record lists its metadata
        directory, which pip reinstalled in place) and protected, or conda-owned with
        ``conda_owned: block``."""
        guarded = dist.owner == "conda" and (self.policy.is_protected(dist.name) or self.policy.conda_owned == "block")
        return pip_uninstall_command(dist.display_name, self.fix_python, override=guarded)

    def variant_text(self, rec: CondaRecord) -> str:
        v = conda_variant(rec)
        return f" ({v.describe()})" if v else ""

    def disk_variant(self, dist: InstalledDist | None) -> Variant | None:
        if dist is None or dist.name not in VARIANT_DISTS:
            return None
        return installed_variant(dist.version, self.ev.version_files.get(dist.name))

    def owned_by(self, record: CondaRecord) -> list[InstalledDist]:
        """The installed dists whose metadata ``record`` lists (the snapshot's ownership rule)."""
        return [d for d in self.all_dists
                if d.conda_record is not None and d.conda_record.meta_file == record.meta_file]

    def add(self, finding: Finding, primary: bool = False) -> None:
        if primary:
            self.primary.setdefault(finding.name, len(self.findings))
        self.findings.append(finding)

    def amend(self, name: str, **evidence) -> bool:
        """Add evidence to ``name``'s primary finding; False when it has none."""
        index = self.primary.get(name)
        if index is None:
            return False
        f = self.findings[index]
        self.findings[index] = replace(f, evidence={**f.evidence, **evidence})
        return True

    # -- the checks

    def run(self) -> Report:
        if not self.snap.is_conda:
            self.notes.append("not a conda environment (no conda-meta/): only pip-side checks ran")
        self.check_records()
        self.check_remembered()
        self.check_duplicates()
        self.check_variants()
        self.check_files()
        self.check_cuda_wheels()
        self.check_requirements()
        if self.ev.imports is not None:
            self.check_imports()
        order = {PROBLEM: 0, WARNING: 1}
        findings = sorted(enumerate(self.findings), key=lambda p: (order[p[1].severity], p[0]))
        return Report(
            prefix=self.snap.prefix,
            findings=tuple(f for _, f in findings),
            ok=self.intact(),
            notes=tuple(self.notes + self.uncovered_snapshot_warnings()),
            snapshot_warnings=tuple(self.snap.warnings),
            checked={"deep": self.ev.deep, "import": self.ev.imports is not None,
                     "files_checked": sum(c.checked for c in self.ev.file_checks.values()),
                     "records": len(self.snap.conda_records), "dists": len(self.snap.dists)},
        )

    def check_records(self) -> None:
        """Each conda record's metadata directories: there and conda's, gone, or taken over."""
        for record in sorted(self.snap.conda_records.values(), key=lambda r: r.name):
            owned = self.owned_by(record)
            for dist_dir in record.dist_dirs:
                name = dist_of_dir(dist_dir)[0]
                if any(d.name == name for d in owned):
                    continue
                installed = self.snap.dists.get(name)
                rec_text = f"{record.name} {record.version}{self.variant_text(record)}"
                base_ev = {"conda_record": _record_json(record), "metadata_dir": dist_dir}
                if installed is None:
                    self.add(Finding(
                        self.severity(name), "metadata-gone", name,
                        f"{name}: conda-meta records {rec_text}, but its metadata {os.path.basename(dist_dir)} is "
                        f"gone and no {name} is installed (removed by pip uninstall?)",
                        base_ev, self.conda_reinstall(record)), primary=True)
                elif installed.owner != "conda":
                    self.add(self.replaced_by(name, record, installed, f"conda-meta records {rec_text} but",
                                              "drift", base_ev), primary=True)

    def replaced_by(self, name: str, rec: CondaRecord, installed: InstalledDist, said: str, kind: str,
                    ev: dict) -> Finding:
        """``installed`` (another installer's) stands where conda's ``rec`` was; ``said`` is what conda
        says, ending with the word that joins it to what site-packages holds."""
        variant = self.disk_variant(installed)
        by = installed.installer or "another installer"
        reinstalled = "reinstalled" if installed.version == rec.version else "holds"
        message = (f"{name}: {said} site-packages {reinstalled} {name} {installed.version}"
                   f"{f' ({variant.describe()})' if variant else ''} installed by {by}")
        evidence = {**ev, "installed": _dist_json(installed)}
        if variant is not None:
            evidence["installed_variant"] = variant.to_json()
        return Finding(PROBLEM if kind == "record-gone" else self.severity(name), kind, name, message, evidence, f"{self.pip_uninstall(installed)} && {self.conda_reinstall(rec)}")

    def check_remembered(self) -> None:
        """Protected records the guard remembered and conda has since deleted."""
        conda_dists = {d.name for d in self.all_dists if d.owner == "conda"}
        for name in sorted(self.remembered):
            rem = self.remembered[name]
            rec = rem.record
            if rec.name in self.snap.conda_records or rem.dist_name in conda_dists:
                continue
            dist = rem.dist_name
            installed = self.snap.dists.get(dist)
            said = f"conda had {rec.name} {rec.version}{self.variant_text(rec)} here; its record is gone and"
            ev = {"remembered_record": _record_json(rec), "remembered_at": rem.remembered_at}
            if installed is not None:
                self.add(self.replaced_by(dist, rec, installed, said, "record-gone", ev), primary=True)
            elif f"{rec.name}-{rec.version}-{rec.build}" not in self.ev.conda_removed:
                self.add(Finding(WARNING, "record-gone", dist,
                                 f"{dist}: {said} no {dist} is installed (removed by pip uninstall?)",
                                 ev, self.conda_reinstall(rec)), primary=True)

    def check_duplicates(self) -> None:
        for name, found in sorted(self.snap.duplicates.items()):
            first = found[0]
            listed = ", ".join(f"{os.path.basename(d.metadata_path)} ({d.owner}{', first on sys.path' * (d is first)})"
                               for d in found)
            ref = self.reference.get(name)
            conda_fix = f" && {self.conda_reinstall(ref[0])}" if ref else ""
            if first.owner != "conda":
                fix = f"{self.pip_uninstall(first)}{conda_fix}"
            else:
                stale = [d.metadata_path for d in found[1:] if d.owner != "conda"]
                fix = (f"rm -r {' '.join(shlex.quote(p) for p in stale)}{conda_fix}") if stale else None
            self.add(Finding(self.severity(name), "duplicate-metadata", name,
                             f"{name}: {len(found)} metadata directories for one project: {listed}",
                             {"metadata": [_dist_json(d) for d in found]}, fix), primary=True)

    def check_files(self) -> None:
        for conda_name in sorted(self.ev.file_checks):
            check = self.ev.file_checks[conda_name]
            record = self.snap.conda_records.get(conda_name)
            if record is None or not (check.differing or check.missing):
                continue
            dist_name = dist_of_dir(record.dist_dirs[0])[0] if record.dist_dirs else None
            if dist_name and dist_name in self.primary:
                self.amend(dist_name, files={"differing": len(check.differing), "missing": len(check.missing)})
                continue
            owned = next(iter(self.owned_by(record)), None)
            evidence = {"conda_record": _record_json(record), "checked": check.checked,
                        "differing": list(check.differing[:_MAX_LISTED]), "missing": list(check.missing[:_MAX_LISTED])}
            counts = f"{len(check.differing):,} of {check.checked:,} files differ from conda-meta's sha256"
            if check.missing:
                counts += f", {len(check.missing):,} missing"
            installer_rewritten = owned is not None and owned.installer not in (None, "conda") and any(
                p.endswith("/INSTALLER") and ".dist-info/" in p for p in check.differing)
            if installer_rewritten:
                self.add(Finding(self.severity(owned.name), "replaced", owned.name,
                                 f"{owned.name}: {owned.installer} reinstalled {owned.name} {owned.version} over "
                                 f"conda's {record.name} {record.version}{self.variant_text(record)} ({counts})",
                                 {**evidence, "installed": _dist_json(owned)},
                                 f"{self.pip_uninstall(owned)} && {self.conda_reinstall(record)}"), primary=True)
                continue
            label = f"{owned.name} {owned.version}" if owned is not None else f"{record.name} {record.version}"
            self.add(Finding(WARNING, "files-altered", owned.name if owned is not None else record.name,
                             f"{label} (conda) files altered: {counts}", evidence, self.conda_reinstall(record)))

    def check_variants(self) -> None:
        """The torch family's build variant on disk against conda's record."""
        for name in VARIANT_DISTS:
            installed, ref = self.snap.dists.get(name), self.reference.get(name)
            if installed is None or ref is None:
                continue
            want, have = conda_variant(ref[0]), self.disk_variant(installed)
            if want is None or have is None or not have.differs_from(want):
                continue
            evidence = {"conda_variant": want.to_json(), "installed_variant": have.to_json()}
            if self.amend(name, **evidence):
                continue  # the drift message already names both builds
            vf = self.ev.version_files.get(name)
            where = f"{vf.path} says cuda = {vf.cuda!r}" if vf else f"the installed version is {installed.version}"
            self.add(Finding(PROBLEM, "variant-mismatch", name,
                             f"{name}: a {have.describe()} is installed ({where}) where conda's {ref[0].name} "
                             f"{ref[0].version} is a {want.describe()}",
                             {**evidence, "conda_record": _record_json(ref[0]), "installed": _dist_json(installed)},
                             self._reinstall_fix(installed, ref[0])), primary=True)

    def _reinstall_fix(self, installed: InstalledDist, rec: CondaRecord) -> str:
        if installed.owner == "conda":
            return self.conda_reinstall(rec)
        return f"{self.pip_uninstall(installed)} && {self.conda_reinstall(rec)}"

    def check_cuda_wheels(self) -> None:
        runtime = conda_cuda_runtime(self.snap)
        if runtime is None:
            return
        wheels = sorted((d for d in self.all_dists if d.owner != "conda" and is_pypi_cuda_wheel(d.name)
                         and d.name not in self.policy.unprotected), key=lambda d: d.name)
        if not wheels:
            return
        version = self.snap.conda_records.get("cuda-version")
        cuda = version.version if version is not None else _major_minor(runtime.version)
        suffixes = {m.group(1) for d in wheels for m in [re.match(r"^nvidia-.+-(cu\d+)$", d.name)] if m}
        all_suffixed = len(suffixes) == 1 and all(re.match(r"^nvidia-.+-cu\d+$", d.name) for d in wheels)
        label = f"nvidia-*-{suffixes.pop()} wheel" if all_suffixed else "PyPI CUDA wheel"
        plural = "s" if len(wheels) != 1 else ""
        self.add(Finding(
            PROBLEM, "cuda-wheels", "cuda-wheels",
            f"{len(wheels)} {label}{plural} (pip) beside conda's CUDA {cuda} runtime "
            f"({runtime.name} {runtime.version})",
            {"wheels": [{"name": d.name, "version": d.version, "installer": d.installer} for d in wheels],
             "conda_runtime": _record_json(runtime),
             "conda_runtime_records": sorted(n for n in self.snap.conda_records if n in conda_cuda_runtime_names())},
            self.pip("uninstall -y " + " ".join(shlex.quote(d.display_name) for d in wheels))))

    def check_requirements(self) -> None:
        """``pip check`` for the protected side: pip dists whose requirements on a protected dist
        the installed version does not meet."""
        markers = {**dict(self.snap.interpreter.markers), "extra": ""}
        for dist in sorted(self.all_dists, key=lambda d: d.name):
            if dist.owner == "conda":
                continue
            for line in dist.requires_dist:
                try:
                    req = Requirement(line)
                    if req.marker is not None and not req.marker.evaluate(markers):
                        continue
                except (InvalidRequirement, ValueError, TypeError):
                    continue
                target = self.snap.dists.get(canonical_name(req.name))
                if target is None or not self.policy.is_protected(target.name):
                    continue
                try:
                    if req.specifier.contains(Version(target.version), prereleases=True):
                        continue
                except InvalidVersion:
                    continue
                rec = target.conda_record
                if rec is not None:
                    side = f"from conda ({rec.name} {rec.version} {rec.build}, {rec.channel})"
                else:
                    side = f"(installed by {target.installer or 'pip'})"
                self.add(Finding(PROBLEM, "unsatisfied", dist.name,
                                 f"{dist.name} {dist.version} ({dist.installer or 'pip'}) requires "
                                 f"{line.split(';')[0].strip()}, but {target.name} is {target.version} {side}",
                                 {"dist": _dist_json(dist), "requirement": line, "installed": _dist_json(target)},
                                 self.pip(f"uninstall -y {shlex.quote(dist.display_name)}")))

    def check_imports(self) -> None:
        real_prefix = self.ev.real_prefix.rstrip(os.sep) + os.sep
        gpu_note = False
        for name in sorted(self.ev.imports):
            result = self.ev.imports[name]
            ref = self.reference.get(name)
            record = ref[0] if ref else None
            installed = self.snap.dists.get(name)
            expected = record.version if record is not None else (installed.version if installed else None)
            said = (f"conda list says {record.name} {record.version}" if record is not None
                    else f"site-packages says {name} {expected}")
            ev = {"import": result.to_json()}
            fix = self.conda_reinstall(record) if record is not None else None
            stmt = f"`import {result.module}`"
            if result.error:
                self.add(Finding(PROBLEM, "import-failed", name,
                                 f"{name}: {stmt} fails in the environment's Python: {result.error}", ev, fix))
                continue
            if result.file and not result.file.startswith(real_prefix):
                self.add(Finding(PROBLEM, "import-shadowed", name,
                                 f"{name}: {stmt} loads {result.file}, outside the environment "
                                 "(PYTHONPATH, the user site or the current directory?)", ev, None))
            if result.version and expected and not _same_version(result.version, expected):
                if not self.amend(name, **ev):
                    self.add(Finding(PROBLEM, "import-mismatch", name,
                                     f"{name}: {said}, {stmt} gives {result.version} ({result.file})", ev,
                                     self._reinstall_fix(installed, record) if installed and record else fix))
            want = conda_variant(record) if record is not None and name in VARIANT_DISTS else None
            if want is not None and result.has_version_module:
                have = Variant("cuda", _major_minor(result.cuda)) if result.cuda else Variant("cpu")
                if have.differs_from(want) and not self.amend(name, **ev, installed_variant=have.to_json()):
                    self.add(Finding(PROBLEM, "variant-mismatch", name,
                                     f"{name}: {stmt} gives a {have.describe()} ({result.module}.version.cuda = "
                                     f"{result.cuda!r}) where conda's {record.name} {record.version} is a "
                                     f"{want.describe()}",
                                     {**ev, "conda_variant": want.to_json(), "installed_variant": have.to_json()}, fix),
                             primary=True)
            if name == "torch" and want is not None and want.kind == "cuda":
                if self.ev.gpu is None:
                    gpu_note = True
                elif result.cuda_available is False:
                    self.add(Finding(PROBLEM, "cuda-unavailable", name,
                                     f"{name}: torch.cuda.is_available() is False in the environment's Python, "
                                     f"though a GPU is present ({self.ev.gpu}) and conda's {record.name} is a "
                                     f"{want.describe()}",
                                     {**ev, "gpu": self.ev.gpu}, fix))
        if gpu_note:
            self.notes.append("no NVIDIA GPU visible here (no /dev/nvidia0 or /proc/driver/nvidia/version): "
                              "torch.cuda.is_available() not checked")

    def uncovered_snapshot_warnings(self) -> list[str]:
        """The snapshot's warnings (a damaged record, ``INSTALLER=conda`` with no record) less those
        that say what a finding already says (a gone or duplicated metadata directory)."""
        covered = set()
        for f in self.findings:
            ev = f.evidence
            covered.update(str(v) for v in (ev.get("metadata_dir"), ev.get("installed", {}).get("metadata_path")) if v)
            covered.update(m["metadata_path"] for m in ev.get("metadata", ()))
            if f.kind == "duplicate-metadata":
                covered.add(f"{f.name} has ")
        return [w for w in self.snap.warnings if not any(c in w for c in covered)]

    def intact(self) -> tuple[Mapping, ...]:
        flagged = {f.name for f in self.findings}
        ok = []
        for name, dist in sorted(self.snap.dists.items()):
            if dist.owner != "conda" or not self.policy.is_protected(name) or name in flagged:
                continue
            rec = dist.conda_record
            ok.append(MappingProxyType({"name": name, "version": dist.version,
                                        "record": f"{rec.name} {rec.version} {rec.build}"}))
        return tuple(ok)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a).public == Version(b).public
    except InvalidVersion:
        return a == b




def _record_json(rec: CondaRecord) -> dict:
    return {**rec.summary(), "meta_file": rec.meta_file}


def _dist_json(dist: InstalledDist) -> dict:
    return {"name": dist.name, "version": dist.version, "owner": dist.owner, "installer": dist.installer,
            "metadata_path": dist.metadata_path}


def _plain(value):
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ---- reading at the edge ------------------------------------------------------------------------


def collect_evidence(snapshot: EnvironmentSnapshot, policy: Policy, *, deep: bool = False,
                     do_import: bool = False, cache_dir: Path | None = None,
                     environ: Mapping[str, str] | None = None, cwd: str | None = None,
                     import_timeout: float = IMPORT_TIMEOUT) -> Evidence:
    """Read what ``diagnose`` needs: file hashes of the protected records (every record with
    ``deep``), torch-family ``version.py`` files, conda's removal history, and with ``do_import``
    what the environment's interpreter imports (one subprocess per protected package, in
    parallel). ``cache_dir`` keeps file hashes keyed by stat, so that a second run hashes only
    what changed."""
    prefix = Path(snapshot.prefix)
    notes: list[str] = []
    owned_meta = {d.conda_record.meta_file for found in (snapshot.dists.values(), *snapshot.duplicates.values())
                  for d in found if d.conda_record is not None}
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
        names = sorted({n for n, d in snapshot.dists.items() if policy.is_protected(n)}
                       | {rem_dist for _, rem_dist, _ in protected_records(snapshot, policy).values()})
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
_CHUNK = 1 << 20


def check_files(prefix: Path, records: Iterable[CondaRecord], *, cache_dir: Path | None = None,
                notes: list[str] | None = None) -> dict[str, FileCheck]:
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
            hashes = list(pool.map(lambda item: _sha256(prefix / item[1]), plan))
        for (record_name, rel, expected, st), digest in zip(plan, hashes):
            if digest is None:
                results[record_name]["missing"].append(rel)
                continue
            cache.put(rel, st, digest)
            if digest != expected:
                results[record_name]["differing"].append(rel)
    cache.save()
    return {name: FileCheck(name, s["checked"], tuple(sorted(s["differing"])), tuple(sorted(s["missing"])))
            for name, s in results.items()}


def _sha256(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


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


def probe_imports(snapshot: EnvironmentSnapshot, names: Sequence[str], *, gpu: bool,
                  environ: Mapping[str, str] | None = None, cwd: str | None = None,
                  timeout: float = IMPORT_TIMEOUT) -> dict[str, ImportResult]:
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
            proc = subprocess.run([python, "-c", _IMPORT_SCRIPT, module, "1" if gpu else "0"], capture_output=True,
                                  text=True, errors="replace", timeout=timeout, env=env, cwd=cwd,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return ImportResult(name, module, error=f"did not finish within {timeout:g} s")
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the module name (damaged metadata)
            return ImportResult(name, module, error=f"cannot run {python}: {getattr(exc, 'strerror', None) or exc}")
        line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith(_MARK)), None)
        if line is None:
            last = next((ln.strip() for ln in reversed(proc.stderr.splitlines()) if ln.strip()), "")
            return ImportResult(name, module, error=f"the interpreter exited with status {proc.returncode}"
                                                    + (f": {last}" if last else ""))
        try:
            data = json.loads(line[len(_MARK):])
        except ValueError:
            return ImportResult(name, module, error="the import probe answered garbage")
        return ImportResult(name, module, version=data.get("version"), file=data.get("file"), cuda=data.get("cuda"),
                            has_version_module=bool(data.get("has_version_module")),
                            cuda_available=data.get("cuda_available"), error=data.get("error"))

    if not jobs:
        return {}
    with ThreadPoolExecutor(max_workers=min(4, len(jobs))) as pool:
        return {r.name: r for r in pool.map(run, jobs)}


# ---- renderers ----------------------------------------------------------------------------------

_LABEL = {PROBLEM: "PROBLEM", WARNING: "WARNING"}
_INDENT = " " * 9


def report_text(report: Report) -> str:
    lines = []
    for f in report.findings:
        lines.append(f"{_LABEL[f.severity]:<8} {f.message}")
        if f.fix:
            lines.append(f"{_INDENT}fix: {f.fix}")
            if f.fix.startswith(OVERRIDE_PREFIX):
                lines.append(f"{_INDENT}     ({OVERRIDE_PREFIX.strip()}: conda's record still lists this metadata, so the "
                             "guard would block the pip step; the override lets that one command through)")
    if report.ok:
        n = len(report.ok)
        names = ", ".join(f"{o['name']} {o['version']}" for o in report.ok)
        lines.append(f"{'OK':<8} {n} protected package{'s' if n != 1 else ''} intact ({names})")
    elif not report.findings:
        lines.append(f"{'OK':<8} nothing to report")
    for note in report.notes:
        lines.append(f"{'NOTE':<8} {note}")
    return "\n".join(lines)


def report_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)
