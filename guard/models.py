"""Frozen data that crosses the pipeline's stages: the index's files and core metadata (read by
:mod:`guard.index`, judged by :mod:`guard.resolve`), a distribution named directly with its
metadata, the plan and the verdict.

The request (:mod:`guard.request`) and the environment snapshot (:mod:`guard.environment`) have
their own dataclasses next to the code that makes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a string annotation: the warm path does not import packaging for it
    from packaging.version import Version

SCHEMA_VERSION = 1

ACTIONS = ("install", "upgrade", "downgrade", "reinstall", "remove")


@dataclass(frozen=True)
class DistFile:
    """One file a project offers on an index or find-links location.

    ``url`` is absolute and may carry credentials: never print it, use
    :func:`guard.index.urls.redact_url`.
    Hashing uses the URL only, so files can be set members and dict keys.
    """

    project: str  # PEP 503-normalized
    filename: str
    url: str
    version: Version
    is_wheel: bool
    wheel_tags: frozenset[str]  # expanded tag triples; empty for sdists
    requires_python: str | None
    yanked: str | None  # None = not yanked; reason ("" when none given) = yanked (PEP 592)
    hashes: Mapping[str, str]
    metadata_hashes: Mapping[str, str] | None  # PEP 658/714; None = not advertised
    source: str  # the index or find-links URL it came from (redacted)

    def __hash__(self) -> int:
        return hash(self.url)


@dataclass(frozen=True)
class CoreMetadata:
    """The fields of a distribution's core metadata the resolver needs."""

    name: str
    version: str
    requires_dist: tuple[str, ...]
    requires_python: str | None
    provides_extra: tuple[str, ...]
    dynamic: tuple[str, ...] = ()
    # An sdist whose PKG-INFO alone would need a build (PEP 643) but whose core metadata the
    # index serves as a PEP 658 file: pip reads that file and builds nothing, unless hashes are
    # required (then pip fetches the sdist itself). The reason, for the provider to decide.
    build_needed: str | None = None


@dataclass(frozen=True)
class DirectSource:
    """A distribution named by URL or path (a local wheel, sdist or project directory, a wheel
    or sdist URL), with its metadata already read by the index stage."""

    url: str
    metadata: CoreMetadata
    is_local_wheel: bool = False
    editable: bool = False


@dataclass(frozen=True)
class Anomaly:
    """Something in the environment that could not be read, and so could hide what is installed
    or who owns it: a conda-meta record that cannot be read or parsed, a metadata directory that
    is a loop or a broken link, a site directory that cannot be listed.

    ``names`` are the PEP 503 names it could hide (a record's conda name and the PyPI name it
    ships, from the file name ``name-version-build.json``; a metadata directory's project name);
    empty when they cannot be told, which means: any name. The policy treats them as protected
    (rule ``unreadable-environment``)."""

    path: str
    problem: str
    """One line, without the path: ``not valid UTF-8 (byte 17: b'\\xff')``."""
    names: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """``path: problem``, one line (also the snapshot's warning for it)."""
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True)
class Edge:
    """One requirement edge of the resolution: ``parent`` (``None`` = the command line) asks for
    ``child`` with ``requirement`` (as the parent wrote it, e.g. ``torch>=2.2``)."""

    parent: str | None  # "transformers 4.57.0" style label, None for the user's command
    child: str  # canonical project name
    requirement: str


@dataclass(frozen=True)
class Change:
    """What the install would do to one distribution."""

    name: str  # PEP 503-normalized project name
    installed: str | None  # version now in the env
    proposed: str | None  # version pip would install (None for a removal)
    action: str  # one of ACTIONS
    owner: str | None  # "conda" | "pip" | None (not installed)
    conda_record: Mapping | None  # {"name", "version", "build", "channel"} when conda owns it
    source: str | None = None  # where the new files come from (index file name, URL, path)

    def to_json(self, protected: bool = False) -> dict:
        return {
            "name": self.name,
            "installed": self.installed,
            "proposed": self.proposed,
            "action": self.action,
            "owner": self.owner,
            "conda_record": dict(self.conda_record) if self.conda_record else None,
            "protected": protected,
        }


@dataclass(frozen=True)
class Plan:
    """The change set of a simulated command, and how it was obtained.

    ``path`` is ``"resolver"`` (guard's own resolution over index metadata) or ``"pip-report"``
    (the target env's pip ran with ``--dry-run --report`` because the fast path could not be
    exact; ``fallback_reason`` says why).
    """

    command: str  # "install" | "uninstall"
    changes: tuple[Change, ...]
    edges: tuple[Edge, ...] = ()
    requested: tuple[str, ...] = ()  # canonical names the user asked for, in order
    path: str = "resolver"
    fallback_reason: str | None = None
    warnings: tuple[str, ...] = ()
    target: str | None = None  # pip's --target: the changes land in that directory, not in the env

    def change_for(self, name: str) -> Change | None:
        for c in self.changes:
            if c.name == name:
                return c
        return None


@dataclass(frozen=True)
class Reason:
    """Why a change is blocked (or warned about)."""

    name: str
    rule: str  # "protected-conda-package" | "cuda-variant-change" | "cuda-wheel-beside-conda-cuda" | "conda-owned" | "unreadable-environment"
    message: str
    chain: tuple[str, ...] = ()  # from a requested requirement down to ``name``


@dataclass(frozen=True)
class Verdict:
    verdict: str  # "allow" | "block"
    reasons: tuple[Reason, ...] = ()
    warnings: tuple[str, ...] = ()
    protected: frozenset = frozenset()  # names of the plan's changes that touch protected conda dists

    @property
    def blocked(self) -> bool:
        return self.verdict == "block"


@dataclass(frozen=True)
class CheckResult:
    """Everything ``guard check`` reports: the plan, the verdict, and where it was judged."""

    prefix: str
    plan: Plan
    verdict: Verdict
    stats: Mapping = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "verdict": self.verdict.verdict,
            "prefix": self.prefix,
            "command": self.plan.command,
            "simulation": {"path": self.plan.path, "fallback_reason": self.plan.fallback_reason},
            "changes": [c.to_json(c.name in self.verdict.protected) for c in self.plan.changes],
            "reasons": [
                {"name": r.name, "rule": r.rule, "message": r.message, "chain": list(r.chain)}
                for r in self.verdict.reasons
            ],
            "warnings": self.all_warnings(),
        }

    def all_warnings(self) -> list[str]:
        """The plan's and the verdict's warnings, less those that a block reason already states
        (a damaged file that blocks is said once, as the reason)."""
        stated = [r.message for r in self.verdict.reasons if r.rule == "unreadable-environment"]
        return [
            w for w in (*self.plan.warnings, *self.verdict.warnings) if not any(m.startswith(w + ":") for m in stated)
        ]
