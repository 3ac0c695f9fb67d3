"""The doctor's data: what was read at the edge (:class:`Evidence`), what the diagnosis found
(:class:`Finding`, :class:`Report`). Frozen; ``to_json`` gives plain JSON data (schema 1).

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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SCHEMA = 1
PROBLEM, WARNING = "problem", "warning"


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
        return {
            "severity": self.severity,
            "kind": self.kind,
            "name": self.name,
            "message": self.message,
            "evidence": plain(self.evidence),
            "fix": self.fix,
        }


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

    def differs_from(self, other: Variant) -> bool:
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
        return {
            "module": self.module,
            "version": self.version,
            "file": self.file,
            "cuda": self.cuda,
            "has_version_module": self.has_version_module,
            "cuda_available": self.cuda_available,
            "error": self.error,
        }


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
        return {
            "schema": SCHEMA,
            "prefix": self.prefix,
            "findings": [f.to_json() for f in self.findings],
            "ok": [dict(o) for o in self.ok],
            "notes": list(self.notes),
            "checked": dict(self.checked),
            "snapshot_warnings": list(self.snapshot_warnings),
        }


def plain(value):
    """``value`` with every mapping a dict and every sequence a list (JSON data)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
