"""What the resolver chooses between and what it must satisfy: candidates (installed, index,
direct, extras, the target Python), requirement edges, ``-c`` constraints, and pip's lazy
``FoundCandidates`` sequence. Plain values; the provider (:mod:`guard.resolve.provider`) makes them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from packaging.requirements import Requirement as PepRequirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from guard.errors import ResolutionImpossible

REQUIRES_PYTHON = "<Python from Requires-Python>"

# packaging parses marker strings with ast.literal_eval, and CPython before 3.11.8/3.12.1 breaks
# when two threads build ASTs at once ("SystemError: AST constructor recursion depth mismatch",
# python/cpython#106905). The resolver and the prefetch threads both parse requirements, so they
# take turns; parsed requirements are cached (the same strings recur across candidates).
PARSE_LOCK = threading.Lock()
_PARSED: dict = {}


def parse_requirement(text: str, *, unless=None) -> PepRequirement | None:
    """``packaging.requirements.Requirement(text)``, thread-safe and memoized. ``unless``: a
    callable checked under the lock; when true, nothing is parsed and None is returned."""
    with PARSE_LOCK:
        if unless is not None and unless():
            return None
        req = _PARSED.get(text)
        if req is None:
            req = _PARSED[text] = PepRequirement(text)
        return req


class MetadataInvalid(ResolutionImpossible):
    """An index candidate with a Requires-Dist that does not parse (pip's ``MetadataInvalid``).

    pip checks every Requires-Dist when it makes the candidate, before markers are evaluated.
    Where nothing is installed it ignores that version ("Ignoring version ... since it has invalid
    metadata"); where the installed version is offered too, the error ends pip's run."""


def identifier_for(project: str, extras: Iterable[str]) -> str:
    extras = sorted({canonicalize_name(e) for e in extras})
    return f"{project}[{','.join(extras)}]" if extras else project


def split_identifier(identifier: str) -> tuple[str, frozenset]:
    name, bracket, rest = identifier.partition("[")
    if not bracket:
        return name, frozenset()
    return name, frozenset(e for e in rest.rstrip("]").split(",") if e)


class Candidate:
    """A version of a project the resolver may pick. ``kind`` is one of ``installed`` (already in
    the environment), ``index`` (a file from an index), ``direct`` (a URL or local file the user
    named), ``extras`` (a base candidate with extras) or ``python`` (the target interpreter)."""

    __slots__ = ("kind", "project", "version", "extras", "installed", "file", "direct", "base", "name")

    def __init__(
        self, kind, project, version, *, extras=frozenset(), installed=None, file=None, direct=None, base=None
    ):
        self.kind = kind
        self.project = project
        self.version = version
        self.extras = extras
        self.installed = installed
        self.file = file
        self.direct = direct
        self.base = base
        self.name = REQUIRES_PYTHON if kind == "python" else identifier_for(project, extras)

    def _key(self):
        if self.kind == "extras":
            return ("extras", self.base._key(), self.extras)
        if self.kind == "index":
            return ("index", self.project, self.file.url)
        if self.kind == "direct":
            return ("direct", self.project, self.direct.url)
        return (self.kind, self.project, self.version)

    def __eq__(self, other):
        return isinstance(other, Candidate) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"<{self.kind} {self.name} {self.version}>"

    @property
    def source_candidate(self) -> Candidate:
        """The candidate that is really installed: the base of an extras candidate."""
        return self.base if self.kind == "extras" else self


@dataclass(frozen=True, eq=False)
class Requirement:
    """One edge of the dependency graph. ``text`` is the requirement as its parent wrote it
    (markers dropped), used to print chains."""

    kind: str  # "specifier" | "explicit" | "python"
    name: str  # resolvelib identifier
    project: str
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    extras: frozenset = frozenset()
    candidate: Candidate | None = None
    text: str = ""
    hashes: Mapping[str, frozenset] | None = None

    def _key(self):
        cand = self.candidate._key() if self.candidate is not None else None
        return (self.kind, self.name, str(self.specifier), cand)

    def __eq__(self, other):
        return isinstance(other, Requirement) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"<req {self.text or self.name}>"

    def is_satisfied_by(self, candidate: Candidate) -> bool:
        if self.kind == "explicit":
            return candidate == self.candidate
        return self.specifier.contains(candidate.version, prereleases=True)


@dataclass
class Constraint:
    """Everything ``-c`` files say about one project. ``sources`` names each constraint that
    narrowed ``specifier``, with where it was written (``numpy<2 (c.txt:1)``), so that a failed
    resolution can say which one removed the versions."""

    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    hashes: dict = field(default_factory=dict)
    sources: list = field(default_factory=list)

    def is_satisfied_by(self, candidate: Candidate) -> bool:
        return self.specifier.contains(candidate.version, prereleases=True)


class FoundCandidates(Sequence):
    """pip's lazy ``FoundCandidates``: the index is read only if the installed candidate is not
    enough, and each version is offered once.

    A ``Sequence`` as pip's is, so that resolvelib keeps it lazy (``build_iter_view`` turns any
    other iterable into a list at once, which would make every candidate and, since candidates
    read their metadata when made, fetch metadata for every version)."""

    def __getitem__(self, index):
        raise NotImplementedError("the resolver only iterates")  # pip: "don't do this"

    def __len__(self):
        raise NotImplementedError("the resolver only iterates")

    def __init__(self, get_infos, installed, *, prefers_installed, incompatible):
        self._get_infos = get_infos
        self._installed = installed
        self._prefers_installed = prefers_installed
        self._incompatible = incompatible
        self._bool = None

    def __iter__(self):
        infos = self._get_infos()
        if self._installed is None:
            it = _iter_built(infos)
        elif self._prefers_installed:
            it = _iter_prepended(self._installed, infos)
        else:
            it = _iter_inserted(self._installed, infos)
        return (c for c in it if id(c) not in self._incompatible)

    def __bool__(self):
        if self._bool is None:
            # pip's test, incompatibility of the installed candidate not considered
            if self._prefers_installed and self._installed is not None:
                self._bool = True
            else:
                self._bool = any(True for _ in self)
        return self._bool


def _iter_built(infos):
    seen = set()
    for version, build in infos:
        if version in seen:
            continue
        seen.add(version)
        try:
            candidate = build()
        except MetadataInvalid:
            continue  # pip ignores this version (only here: with an installed one it fails)
        yield candidate


def _iter_prepended(installed, infos):
    yield installed
    seen = {installed.version}
    for version, build in infos:
        if version in seen:
            continue
        seen.add(version)
        yield build()


def _iter_inserted(installed, infos):
    seen = set()
    for version, build in infos:
        if version in seen:
            continue
        if installed.version >= version and installed.version not in seen:
            yield installed
            seen.add(installed.version)
        yield build()
        seen.add(version)
    if installed.version not in seen:
        yield installed


def provided_extras(requires_dist: Iterable[str], provides_extra: Iterable[str]) -> frozenset:
    """pip trusts ``Provides-Extra``; egg-info and old metadata only have ``extra ==`` markers."""
    provided = {canonicalize_name(e) for e in provides_extra}
    if provided:
        return frozenset(provided)
    found = set()
    for text in requires_dist:
        marker = text.partition(";")[2]
        for part in marker.split("extra")[1:]:
            part = part.strip().lstrip("=").strip()
            if part[:1] in ("'", '"'):
                found.add(canonicalize_name(part[1:].split(part[0])[0]))
    return frozenset(found)


def req_text(req: PepRequirement) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"
