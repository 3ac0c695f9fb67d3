"""A resolvelib provider that makes the choices pip's makes.

It mirrors ``pip/_internal/resolution/resolvelib`` (pip 26.x) where the choice matters:

* identifiers are canonical names, ``name[extra,...]`` for extras and one identifier for
  Requires-Python; an extras candidate depends on its exact base candidate;
* a requirement with extras and a specifier also constrains the bare name;
* the installed distribution is offered first unless the name is eligible for upgrade
  (``--upgrade`` with ``only-if-needed`` for user-requested names, ``eager`` for all), never with
  ``--force-reinstall``, and not at all with ``--ignore-installed``;
* index files are ranked by :mod:`guard.resolve.finder`; markers are evaluated for the target interpreter;
* ``get_preference`` and ``narrow_requirement_selection`` are pip's, so backtracking takes the
  same path.

The provider does no I/O of its own: it asks a :class:`~guard.resolve.options.PackageSource`
(the index client, handed in) for project files and core metadata. Candidates
(:mod:`guard.resolve.candidates`) are cached so identity comparisons hold, as in pip.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Callable, cast

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PepRequirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib.providers import AbstractProvider

from guard.errors import NeedsBuild, NeedsPipFallback
from guard.models import CoreMetadata, DirectSource, DistFile
from guard.resolve.candidates import (
    PARSE_LOCK,
    REQUIRES_PYTHON,
    Candidate,
    Constraint,
    FoundCandidates,
    MetadataInvalid,
    Requirement,
    identifier_for,
    parse_requirement,
    provided_extras,
    req_text,
    split_identifier,
)
from guard.resolve.finder import ProjectFinder, TargetPython, rank_files
from guard.resolve.options import PackageSource, PrefetchingSource, ResolveOptions

_CONFLICT_PRIORITY_THRESHOLD = 5  # pip's provider constant
# How many levels of dependencies beyond what the resolver asked are guessed ahead (see prefetch)
_SPECULATION_DEPTH = 4


# --------------------------------------------------------------------------------------------
# The provider


class GuardProvider(AbstractProvider):
    """resolvelib provider with pip's semantics (see the module docstring)."""

    def __init__(
        self,
        *,
        source: PackageSource,
        installed: Mapping[str, Any],  # the snapshot's distributions (they have a .version)
        target: TargetPython,
        markers: Mapping[str, str],
        options: ResolveOptions,
        constraints: Mapping[str, Constraint],
        user_requested: Mapping[str, int],
        build: Callable[[DistFile, str], CoreMetadata] | None = None,
    ):
        self._source = source
        self._build = build  # an index sdist's metadata that only a build can tell (see _metadata_of)
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
        # the finder's answers, once per project and question (resolvelib asks a candidate
        # list both whether it is empty and for its items; the prefetch threads ask too)
        self._finder = ProjectFinder(
            source.project_files,
            target=target,
            format_control=options.format_control,
            prereleases=options.prereleases,
            prefer_binary=options.prefer_binary,
            ignore_requires_python=options.ignore_requires_python,
        )
        self._prefetched: set = set()
        self._prefetch_lock = threading.Lock()
        self._closed = False

    def set_user_requested(self, user_requested: Mapping[str, int]) -> None:
        """The names the user asked for, each with its position on the command line (pip's
        ``user_requested``: an upgrade strategy and ``get_preference`` read it). Known only
        after the root requirements are built, which needs this provider."""
        self._user_requested = user_requested

    # ---- requirement construction (pip's factory) -----------------------------------------

    def requirements_from_pep508(self, req: PepRequirement, extras_context: Iterable[str] = ()) -> list:
        """pip's ``make_requirements_from_spec``: nothing when markers don't apply; a bare-name
        requirement too when the requirement has both extras and a specifier."""
        if not self.markers_match(req, extras_context):
            return []
        if req.url:
            raise NeedsPipFallback(f"dependency with a direct URL: {req}")
        project = canonicalize_name(req.name)
        extras = frozenset(canonicalize_name(e) for e in req.extras)
        text = req_text(req)
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
            out.append(
                Requirement(
                    "explicit",
                    candidate.name,
                    candidate.project,
                    candidate=candidate,
                    extras=candidate.extras,
                    text=text or candidate.name,
                )
            )
        return out

    def direct_candidate(self, project: str, source: DirectSource, extras: Iterable[str] = ()) -> Candidate:
        version = Version(source.metadata.version)
        base = self._cached(Candidate("direct", project, version, direct=source))
        extras = frozenset(canonicalize_name(e) for e in extras)
        return self._extras(base, extras) if extras else base

    def markers_match(self, req: PepRequirement, extras_context: Iterable[str] = ()) -> bool:
        """Whether ``req``'s markers hold for the target interpreter with any of the extras in
        ``extras_context`` (none: ``extra == ""``), as pip's factory evaluates a requirement."""
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
            return [
                c
                for c in explicit
                if id(c) not in incompatible
                and constraint.is_satisfied_by(c)
                and all(r.is_satisfied_by(c) for r in reqs)
            ]
        specifier = SpecifierSet(str(constraint.specifier))
        for r in spec_reqs:
            specifier &= r.specifier
        return FoundCandidates(
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
        """Stop speculative prefetching: under the parse lock, so that no guess parses a
        requirement beside the caller once this returns; queued guesses are dropped."""
        with PARSE_LOCK:
            self._closed = True
        if hasattr(self._source, "prefetch_pages"):
            cast(PrefetchingSource, self._source).cancel_prefetch()

    def prefetch(self, requirements: Iterable[Requirement], depth: int = 0) -> None:
        """Warm the source (on its fetch workers) for what the resolver will likely ask next:
        these requirements' pages and each best file's metadata, then their dependencies at
        ``depth + 1`` (deeper guesses wait behind shallower; none beyond _SPECULATION_DEPTH).
        A wrong guess only costs a request; what the installed distribution satisfies is skipped."""
        if self._closed or depth > _SPECULATION_DEPTH or not hasattr(self._source, "prefetch_pages"):
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
            cast(PrefetchingSource, self._source).in_background(lambda: self._prefetch_worker(todo, depth), depth=depth)

    def _satisfied_by_installed(self, project: str, specifier: SpecifierSet) -> bool:
        if self._options.force_reinstall or project not in self._installed:
            return False
        try:
            return specifier.contains(Version(self._installed[project].version), prereleases=True)
        except InvalidVersion:
            return False

    def _prefetch_worker(self, todo, depth: int) -> None:
        source = cast(PrefetchingSource, self._source)  # prefetch() checked that it is one
        try:
            if self._closed:
                return
            source.prefetch_pages([p for p, _ in todo], depth=depth)
            best = []
            for project, spec in todo:
                constraint = self._constraints.get(project)
                if constraint is not None:
                    spec = spec & constraint.specifier
                ranked = self._finder.applicable(project, spec)
                if ranked:
                    best.append(ranked[0])
            source.prefetch_metadata(best, depth=depth)
            if self._options.no_deps:
                return
            following = []
            for f in best:
                try:
                    meta = self._source.metadata(f)
                except NeedsPipFallback:
                    continue  # an sdist only a build can tell: the resolver's own call decides
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
            self.prefetch(following, depth + 1)
        except Exception:  # noqa: BLE001 - a failed guess is harmless; the resolver's own call reports
            return

    def available_versions(self, project: str, *, any_python: bool = False) -> list:
        """Every version pip could pick for ``project`` here, whatever the requirements say: the
        index's usable files (this interpreter, format control; pre-releases included) and the
        installed version. For explaining a failed resolution; sorted, oldest first.
        ``any_python``: files whose Requires-Python excludes this interpreter count too."""
        usable = rank_files(
            self._finder.usable(project, ignore_requires_python=any_python or self._options.ignore_requires_python),
            SpecifierSet(),
            prereleases=True,
            prefer_binary=self._options.prefer_binary,
        )
        versions = {f.version for f in usable}
        installed = self._installed.get(project)
        if installed is not None and not self._options.force_reinstall:
            try:
                versions.add(Version(installed.version))
            except InvalidVersion:
                pass
        return sorted(versions)

    def constraint_of(self, project: str) -> Constraint | None:
        """The ``-c`` constraint on ``project``, if any."""
        return self._constraints.get(project)

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
        for f in self._finder.applicable(project, specifier, hashes):

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
                raise MetadataInvalid(
                    f"pip would fail: {base.project} {base.version} has invalid metadata: "
                    f"Requires-Dist {text!r} ({exc})"
                ) from None

    def _metadata_of(self, candidate: Candidate):
        if candidate.kind == "index":
            try:
                meta = self._source.metadata(candidate.file)
            except NeedsBuild as need:  # pip builds this sdist alone: so does ``build`` (or refuses, naming it)
                if self._build is None or candidate.file.is_wheel:
                    raise  # without a builder the whole command is pip's
                return self._build(candidate.file, str(need))
            if self._options.require_hashes and (why := getattr(meta, "build_needed", None)):
                if self._build is None:  # hashes required: pip ignores the metadata file and builds the sdist
                    raise NeedsPipFallback(why)
                return self._build(candidate.file, why)
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
            out.append(
                Requirement("explicit", base.name, base.project, candidate=base, text=f"{base.project}=={base.version}")
            )
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
                out.append(
                    Requirement("python", REQUIRES_PYTHON, REQUIRES_PYTHON, spec, text=f"Requires-Python {spec}")
                )
        if with_requires:
            for text in meta.requires_dist:
                out.extend(self._dep_requirements(text, (), candidate))
        return out

    def _requires_of(self, base: Candidate) -> tuple:
        if base.kind == "installed":
            dist = base.installed
            provided = provided_extras(dist.requires_dist, dist.provides_extra)
            return dist.requires_dist, provided
        meta = self._metadata_of(base)
        return meta.requires_dist, provided_extras(meta.requires_dist, meta.provides_extra)

    def _dep_requirements(self, text: str, extras_context, parent: Candidate) -> list:
        try:
            req = parse_requirement(text.strip())
        except InvalidRequirement as exc:
            if parent.kind == "installed":
                # pip refuses such an installed distribution outright (InvalidInstalledPackage)
                raise NeedsPipFallback(
                    f"{parent.project} {parent.version} has an invalid requirement {text!r}"
                ) from exc
            return []  # index candidates were checked when made (MetadataInvalid)
        assert req is not None  # parsed without ``unless``: never None
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
