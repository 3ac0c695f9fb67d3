"""A resolvelib provider that makes the choices pip's makes.

It mirrors ``pip/_internal/resolution/resolvelib`` (pip 26.x) where the choice matters:

* identifiers are canonical names, ``name[extra,...]`` for extras and one identifier for
  Requires-Python; an extras candidate depends on its exact base candidate;
* a requirement with extras and a specifier also constrains the bare name;
* the installed distribution is offered first unless the name is eligible for upgrade
  (``--upgrade`` with ``only-if-needed`` for user-requested names, ``eager`` for all), never with
  ``--force-reinstall``, and not at all with ``--ignore-installed``;
* index files are ranked by :mod:`guard.finder`; markers are evaluated for the target interpreter;
* ``get_preference`` and ``narrow_requirement_selection`` are pip's, so backtracking takes the
  same path.

The provider does no I/O of its own: it asks a :class:`PackageSource` (the index client) for
project files and core metadata. Candidates are cached so identity comparisons hold, as in pip.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Protocol, Sequence

from packaging.requirements import InvalidRequirement, Requirement as PepRequirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib.providers import AbstractProvider

from guard.errors import NeedsPipFallback, ResolutionImpossible
from guard.resolve.finder import FormatControl, TargetPython, applicable_files

REQUIRES_PYTHON = "<Python from Requires-Python>"
_CONFLICT_PRIORITY_THRESHOLD = 5  # pip's provider constant

# packaging parses marker strings with ast.literal_eval, and CPython before 3.11.8/3.12.1 breaks
# when two threads build ASTs at once ("SystemError: AST constructor recursion depth mismatch",
# python/cpython#106905). The resolver and the prefetch threads both parse requirements, so they
# take turns; parsed requirements are cached (the same strings recur across candidates).
_PARSE_LOCK = threading.Lock()
_PARSED: dict = {}


def parse_requirement(text: str, *, unless=None) -> PepRequirement | None:
    """``packaging.requirements.Requirement(text)``, thread-safe and memoized. ``unless``: a
    callable checked under the lock; when true, nothing is parsed and None is returned."""
    with _PARSE_LOCK:
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


class PackageSource(Protocol):
    """What the provider needs from an index client."""

    def project_files(self, name: str) -> list: ...

    def metadata(self, f) -> object: ...


@dataclass(frozen=True)
class ResolveOptions:
    """The pip options that steer the resolver."""

    upgrade_strategy: str = "to-satisfy-only"  # pip: "to-satisfy-only" unless --upgrade
    force_reinstall: bool = False
    ignore_installed: bool = False
    no_deps: bool = False
    prereleases: bool | None = None  # True with --pre
    format_control: FormatControl = FormatControl()
    prefer_binary: bool = False
    ignore_requires_python: bool = False
    require_hashes: bool = False  # pip then reads no metadata file, it fetches the distribution


def identifier_for(project: str, extras: Iterable[str]) -> str:
    extras = sorted({canonicalize_name(e) for e in extras})
    return f"{project}[{','.join(extras)}]" if extras else project


def split_identifier(identifier: str) -> tuple[str, frozenset]:
    name, bracket, rest = identifier.partition("[")
    if not bracket:
        return name, frozenset()
    return name, frozenset(e for e in rest.rstrip("]").split(",") if e)


# --------------------------------------------------------------------------------------------
# Candidates


class Candidate:
    """A version of a project the resolver may pick. ``kind`` is one of ``installed`` (already in
    the environment), ``index`` (a file from an index), ``direct`` (a URL or local file the user
    named), ``extras`` (a base candidate with extras) or ``python`` (the target interpreter)."""

    __slots__ = ("kind", "project", "version", "extras", "installed", "file", "direct", "base", "name")

    def __init__(self, kind, project, version, *, extras=frozenset(), installed=None, file=None,
                 direct=None, base=None):
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
    def source_candidate(self) -> "Candidate":
        """The candidate that is really installed: the base of an extras candidate."""
        return self.base if self.kind == "extras" else self


@dataclass(frozen=True)
class DirectSource:
    """A distribution named by URL or path, with its metadata already read."""

    url: str
    metadata: object  # CoreMetadata
    is_local_wheel: bool = False
    editable: bool = False


# --------------------------------------------------------------------------------------------
# Requirements


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
    """Everything ``-c`` files say about one project."""

    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    hashes: dict = field(default_factory=dict)

    def is_satisfied_by(self, candidate: Candidate) -> bool:
        return self.specifier.contains(candidate.version, prereleases=True)


# --------------------------------------------------------------------------------------------
# The provider


class GuardProvider(AbstractProvider):
    """resolvelib provider with pip's semantics (see the module docstring)."""

    def __init__(
        self,
        *,
        source: PackageSource,
        installed: Mapping[str, object],
        target: TargetPython,
        markers: Mapping[str, str],
        options: ResolveOptions,
        constraints: Mapping[str, Constraint],
        user_requested: Mapping[str, int],
    ):
        self._source = source
        self._installed = {} if options.ignore_installed else dict(installed)
        self._target = target
        self._markers = dict(markers)
        self._options = options
        self._constraints = constraints
        self._user_requested = user_requested
        self._python = Candidate("python", REQUIRES_PYTHON, target.version)
        self._candidates: dict = {}
        self._deps_cache: dict = {}
        self._conflict_counts: defaultdict = defaultdict(int)
        self._conflict_promoted: set = set()
        self._prefetched: set = set()
        self._prefetch_lock = threading.Lock()
        self._closed = False

    # ---- requirement construction (pip's factory) -----------------------------------------

    def requirements_from_pep508(self, req: PepRequirement, extras_context: Iterable[str] = ()) -> list:
        """pip's ``make_requirements_from_spec``: nothing when markers don't apply; a bare-name
        requirement too when the requirement has both extras and a specifier."""
        if not self._markers_match(req, extras_context):
            return []
        if req.url:
            raise NeedsPipFallback(f"dependency with a direct URL: {req}")
        project = canonicalize_name(req.name)
        extras = frozenset(canonicalize_name(e) for e in req.extras)
        text = _req_text(req)
        out = []
        if extras and req.specifier:
            out.append(Requirement("specifier", project, project, req.specifier, frozenset(), text=text))
        out.append(Requirement("specifier", identifier_for(project, extras), project, req.specifier, extras, text=text))
        return out

    def requirements_from_candidate(self, candidate: Candidate, text: str = "") -> list:
        """An explicit requirement on ``candidate`` (and on its extras, when it has some)."""
        base = candidate.source_candidate
        out = [Requirement("explicit", base.name, base.project, candidate=base, text=text or base.name)]
        if candidate.kind == "extras":
            out.append(Requirement("explicit", candidate.name, candidate.project, candidate=candidate,
                                   extras=candidate.extras, text=text or candidate.name))
        return out

    def direct_candidate(self, project: str, source: DirectSource, extras: Iterable[str] = ()) -> Candidate:
        version = Version(source.metadata.version)
        base = self._cached(Candidate("direct", project, version, direct=source))
        extras = frozenset(canonicalize_name(e) for e in extras)
        return self._extras(base, extras) if extras else base

    def _markers_match(self, req: PepRequirement, extras_context: Iterable[str]) -> bool:
        if req.marker is None:
            return True
        extras = tuple(extras_context) or ("",)
        return any(req.marker.evaluate({**self._markers, "extra": e}) for e in extras)

    def _cached(self, cand: Candidate) -> Candidate:
        return self._candidates.setdefault(cand, cand)

    def _extras(self, base: Candidate, extras: frozenset) -> Candidate:
        return self._cached(Candidate("extras", base.project, base.version, extras=extras, base=base))

    # ---- resolvelib interface ---------------------------------------------------------------

    def identify(self, requirement_or_candidate) -> str:
        return requirement_or_candidate.name

    def narrow_requirement_selection(self, identifiers, resolutions, candidates, information, backtrack_causes):
        """pip: Requires-Python alone first, then backtrack causes, then promoted conflicts."""
        backtrack_identifiers = set()
        for info in backtrack_causes:
            names = [info.requirement.name]
            if info.parent is not None:
                names.append(info.parent.name)
            for name in names:
                backtrack_identifiers.add(name)
                if name not in resolutions:
                    self._conflict_counts[name] += 1
                    if self._conflict_counts[name] >= _CONFLICT_PRIORITY_THRESHOLD:
                        self._conflict_promoted.add(name)
        causes, promoted = [], []
        for identifier in identifiers:
            if identifier == REQUIRES_PYTHON:
                return [identifier]
            if identifier in backtrack_identifiers:
                causes.append(identifier)
            elif identifier in self._conflict_promoted:
                promoted.append(identifier)
        return causes or promoted or identifiers

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes):
        """pip's sort key: direct, pinned, upper-bounded, user order, non-free, name."""
        infos = list(information[identifier])
        direct = any(r.kind == "explicit" for r, _ in infos)
        operators = [(s.operator, s.version) for r, _ in infos if r.kind == "specifier" for s in r.specifier]
        pinned = any(op[:2] == "==" and "*" not in ver for op, ver in operators)
        upper_bounded = any(op in ("<", "<=", "~=") or (op == "==" and "*" in ver) for op, ver in operators)
        return (
            identifier not in self._conflict_promoted,
            not direct,
            not pinned,
            not upper_bounded,
            self._user_requested.get(identifier, math.inf),
            not operators,
            identifier,
        )

    def find_matches(self, identifier, requirements, incompatibilities):
        if identifier == REQUIRES_PYTHON:
            # The interpreter is pip's explicit candidate here, so it obeys the same contract as
            # any other: once backjumping marks it incompatible it is not offered again
            # (pip's factory.find_candidates filters explicit candidates by incompat_ids).
            # Offering it anyway re-pins it forever where pip reports ResolutionImpossible.
            reqs = list(requirements[identifier])
            ok = all(r.is_satisfied_by(self._python) for r in reqs)
            incompatible = {id(c) for c in incompatibilities.get(identifier, ())}
            return [self._python] if ok and id(self._python) not in incompatible else []
        project, extras = split_identifier(identifier)
        explicit: set = set()
        spec_reqs = []
        for r in requirements[identifier]:
            if r.kind == "explicit":
                explicit.add(r.candidate)
            else:
                spec_reqs.append(r)
        if extras:
            for r in requirements.get(project, ()):
                if r.kind == "explicit":
                    explicit.add(self._extras(r.candidate, extras))
                else:
                    spec_reqs.append(r)
        constraint = self._constraints.get(project, Constraint())
        incompatible = {id(c) for c in incompatibilities.get(identifier, ())}
        if explicit:
            reqs = list(requirements[identifier])
            return [c for c in explicit if id(c) not in incompatible and constraint.is_satisfied_by(c)
                    and all(r.is_satisfied_by(c) for r in reqs)]
        specifier = SpecifierSet(str(constraint.specifier))
        for r in spec_reqs:
            specifier &= r.specifier
        return _FoundCandidates(
            lambda: self._iter_index_candidates(project, extras, specifier, constraint.hashes or None),
            self._installed_candidate(project, extras, specifier),
            prefers_installed=not self._eligible_for_upgrade(identifier),
            incompatible=incompatible,
        )

    def is_satisfied_by(self, requirement, candidate) -> bool:
        return requirement.is_satisfied_by(candidate)

    def get_dependencies(self, candidate) -> Sequence[Requirement]:
        cached = self._deps_cache.get(candidate)
        if cached is None:
            cached = self._deps_cache[candidate] = self._dependencies(candidate)
            self.prefetch(cached)
        return cached

    # ---- speculative prefetch (the source does the I/O; results land in its cache) ----------

    def close(self) -> None:
        """Stop speculative prefetching. Taken under the parse lock, so that once this returns no
        prefetch thread parses a requirement beside the caller (threads still in flight finish
        their request and stop)."""
        with _PARSE_LOCK:
            self._closed = True

    def prefetch(self, requirements: Iterable[Requirement]) -> None:
        """Warm the source for what the resolver will most likely ask next: the pages of these
        requirements' projects and the metadata of each one's best file, then recursively their
        dependencies, in background threads. Nothing is decided here; a wrong guess only costs
        a request. Projects the installed distribution will satisfy are skipped, as pip would
        not read the index for them."""
        if self._closed or not hasattr(self._source, "prefetch_pages"):
            return
        todo = []
        with self._prefetch_lock:
            for r in requirements:
                if r.kind != "specifier" or r.project in self._prefetched:
                    continue
                self._prefetched.add(r.project)
                if not self._eligible_for_upgrade(r.name) and self._satisfied_by_installed(r.project, r.specifier):
                    continue
                todo.append((r.project, r.specifier))
        if todo:
            threading.Thread(target=self._prefetch_worker, args=(todo,), daemon=True).start()

    def _satisfied_by_installed(self, project: str, specifier: SpecifierSet) -> bool:
        if self._options.force_reinstall or project not in self._installed:
            return False
        try:
            return specifier.contains(Version(self._installed[project].version), prereleases=True)
        except InvalidVersion:
            return False

    def _prefetch_worker(self, todo) -> None:
        try:
            self._source.prefetch_pages([p for p, _ in todo])
            best = []
            for project, spec in todo:
                constraint = self._constraints.get(project)
                if constraint is not None:
                    spec = spec & constraint.specifier
                ranked = applicable_files(
                    self._source.project_files(project), spec, target=self._target,
                    prereleases=self._options.prereleases, format_control=self._options.format_control,
                    prefer_binary=self._options.prefer_binary,
                    ignore_requires_python=self._options.ignore_requires_python)
                if ranked:
                    best.append(ranked[0])
            self._source.prefetch_metadata(best)
            if self._options.no_deps:
                return
            following = []
            for f in best:
                meta = self._source.metadata(f)
                for text in meta.requires_dist:
                    try:
                        req = parse_requirement(text, unless=lambda: self._closed)
                    except InvalidRequirement:
                        continue
                    if req is None:
                        return  # the resolution is over: parse nothing beside the caller
                    if req.url or not self._markers_match_with_evaluation_rules(req, ()):
                        continue
                    following.extend(self.requirements_from_pep508(req))
            self.prefetch(following)
        except Exception:  # noqa: BLE001 - a failed guess is harmless; the resolver's own call reports
            return

    def why_no_candidates(self, requirement: Requirement) -> str | None:
        """pip's words when a requirement has no candidate at all (rather than a conflict):
        "No matching distribution found", with the versions the index does offer."""
        if requirement.kind != "specifier":
            return None
        files = self._source.project_files(requirement.project)
        usable = applicable_files(
            files, SpecifierSet(), target=self._target, prereleases=True,
            format_control=self._options.format_control, prefer_binary=self._options.prefer_binary,
            ignore_requires_python=self._options.ignore_requires_python)
        versions = sorted({f.version for f in usable})
        spec = requirement.specifier
        constraint = self._constraints.get(requirement.project)
        if constraint is not None:
            spec = spec & constraint.specifier
        if versions and list(spec.filter(versions, prereleases=self._options.prereleases)):
            return None
        installed = self._installed.get(requirement.project)
        if installed is not None and spec.contains(installed.version, prereleases=True):
            return None
        shown = ", ".join(str(v) for v in versions[-12:]) or "none"
        return (f"no matching distribution for {requirement.text or requirement.name} "
                f"(versions usable here: {shown})")

    # ---- internals ----------------------------------------------------------------------------

    def _eligible_for_upgrade(self, identifier: str) -> bool:
        strategy = self._options.upgrade_strategy
        if strategy == "eager":
            return True
        if strategy == "only-if-needed":
            if identifier in self._user_requested:
                return True
            return identifier.partition("[")[0] in self._user_requested
        return False

    def _installed_candidate(self, project, extras, specifier) -> Candidate | None:
        if self._options.force_reinstall:
            return None
        dist = self._installed.get(project)
        if dist is None:
            return None
        try:
            version = Version(dist.version)
        except InvalidVersion:
            return None
        if not specifier.contains(version, prereleases=True):
            return None
        base = self._cached(Candidate("installed", project, version, installed=dist))
        return self._extras(base, extras) if extras else base

    def _iter_index_candidates(self, project, extras, specifier, hashes) -> Iterator[tuple]:
        files = self._source.project_files(project)
        ranked = applicable_files(
            files, specifier, target=self._target, prereleases=self._options.prereleases,
            format_control=self._options.format_control, prefer_binary=self._options.prefer_binary,
            hashes=hashes, ignore_requires_python=self._options.ignore_requires_python,
        )
        for f in ranked:
            def build(f=f):
                base = self._cached(Candidate("index", project, f.version, file=f))
                self._check_requires_dist(base)
                return self._extras(base, extras) if extras else base
            yield f.version, build

    def _check_requires_dist(self, base: Candidate) -> None:
        """pip's LinkCandidate: the metadata is read when the candidate is made, and every
        Requires-Dist must parse (resolvelib/candidates.py ``_check_metadata_consistency``)."""
        for text in self._metadata_of(base).requires_dist:
            try:
                parse_requirement(text.strip())
            except InvalidRequirement as exc:
                raise MetadataInvalid(f"pip would fail: {base.project} {base.version} has invalid metadata: "
                                      f"Requires-Dist {text!r} ({exc})") from None

    def _metadata_of(self, candidate: Candidate):
        if candidate.kind == "index":
            meta = self._source.metadata(candidate.file)
            if self._options.require_hashes and getattr(meta, "build_needed", None):
                raise NeedsPipFallback(meta.build_needed)
            return meta
        if candidate.kind == "direct":
            return candidate.direct.metadata
        raise AssertionError(candidate.kind)

    def _dependencies(self, candidate: Candidate) -> list:
        with_requires = not self._options.no_deps
        out: list = []
        if candidate.kind == "python":
            return out
        if candidate.kind == "extras":
            base = candidate.base
            out.append(Requirement("explicit", base.name, base.project, candidate=base,
                                   text=f"{base.project}=={base.version}"))
            if not with_requires:
                return out
            requires, provided = self._requires_of(base)
            valid = candidate.extras & provided
            for text in requires:
                out.extend(self._dep_requirements(text, valid, base))
            return out
        if candidate.kind == "installed":
            if with_requires:
                for text in candidate.installed.requires_dist:
                    out.extend(self._dep_requirements(text, (), candidate))
            return out
        meta = self._metadata_of(candidate)
        if not self._options.ignore_requires_python and meta.requires_python:
            try:
                spec = SpecifierSet(meta.requires_python)
            except InvalidSpecifier:
                spec = None
            if spec is not None and str(spec):
                out.append(Requirement("python", REQUIRES_PYTHON, REQUIRES_PYTHON, spec,
                                       text=f"Requires-Python {spec}"))
        if with_requires:
            for text in meta.requires_dist:
                out.extend(self._dep_requirements(text, (), candidate))
        return out

    def _requires_of(self, base: Candidate) -> tuple:
        if base.kind == "installed":
            dist = base.installed
            provided = _provided_extras(dist.requires_dist, dist.provides_extra)
            return dist.requires_dist, provided
        meta = self._metadata_of(base)
        return meta.requires_dist, _provided_extras(meta.requires_dist, meta.provides_extra)

    def _dep_requirements(self, text: str, extras_context, parent: Candidate) -> list:
        try:
            req = parse_requirement(text.strip())
        except InvalidRequirement as exc:
            if parent.kind == "installed":
                # pip refuses such an installed distribution outright (InvalidInstalledPackage)
                raise NeedsPipFallback(f"{parent.project} {parent.version} has an invalid requirement {text!r}") from exc
            return []  # index candidates were checked when made (MetadataInvalid)
        if self._markers_match_with_evaluation_rules(req, extras_context):
            return self.requirements_from_pep508(req, extras_context)
        return []

    def _markers_match_with_evaluation_rules(self, req: PepRequirement, extras_context) -> bool:
        # pip's iter_dependencies(extras): no marker -> keep; no extras -> evaluate with extra="";
        # with extras -> keep when any requested extra makes the marker true.
        if req.marker is None:
            return True
        extras = tuple(extras_context)
        if not extras:
            return req.marker.evaluate({**self._markers, "extra": ""})
        return any(req.marker.evaluate({**self._markers, "extra": e}) for e in extras)


def _provided_extras(requires_dist: Iterable[str], provides_extra: Iterable[str]) -> frozenset:
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


def _req_text(req: PepRequirement) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"


class _FoundCandidates(Sequence):
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
