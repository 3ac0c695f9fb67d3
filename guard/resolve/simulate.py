"""Resolution and plan: what ``pip install ...`` / ``pip uninstall ...`` would change in the env.

``simulate_install`` resolves the request with :class:`guard.resolve.provider.GuardProvider` over an
index client and diffs the result against the environment snapshot exactly as pip decides what
to (re)install (``pip/_internal/resolution/resolvelib/resolver.py``). When the fast path cannot
be exact it raises :class:`guard.errors.NeedsPipFallback`; the caller then asks pip itself
(:mod:`guard.pipeline.pip_report`). An sdist whose dependencies only a build can tell is not such
a case: its metadata alone is asked for (``build``), and the resolution goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from packaging.requirements import Requirement as PepRequirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib import BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible as RLImpossible
from resolvelib.resolvers import ResolutionTooDeep

from guard.errors import NeedsPipFallback, ResolutionImpossible, SimulationError
from guard.models import Change, CoreMetadata, DistFile, Edge, Plan
from guard.resolve.candidates import REQUIRES_PYTHON, Constraint
from guard.resolve.finder import FormatControl, TargetPython
from guard.resolve.options import ResolveOptions
from guard.resolve.provider import GuardProvider

MAX_ROUNDS = 200_000  # pip's limit


class DeadlineReporter(BaseReporter):
    """Ends a resolution that runs past the run's deadline (``GUARD_DEADLINE``): the resolver
    reports every requirement it adds and every round it starts, so no request, however large,
    keeps the guard busy past it. Exit 3, like an index that does not answer in time."""

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._at = None if seconds is None else time.monotonic() + seconds

    def _check(self) -> None:
        if self._at is not None and time.monotonic() > self._at:
            raise SimulationError(
                f"the resolution did not finish within the {self._seconds:g}s deadline (GUARD_DEADLINE)"
            )

    def starting_round(self, index: int) -> None:
        self._check()

    def adding_requirement(self, requirement, parent) -> None:
        self._check()


def resolve_options(request) -> ResolveOptions:
    """pip's ``install`` command: the strategy is ``to-satisfy-only`` unless ``--upgrade``."""
    return ResolveOptions(
        upgrade_strategy=request.upgrade_strategy if request.upgrade else "to-satisfy-only",
        force_reinstall=request.force_reinstall,
        ignore_installed=request.ignore_installed or request.target is not None,
        no_deps=request.no_deps,
        prereleases=True if request.pre else None,
        format_control=FormatControl(frozenset(request.only_binary), frozenset(request.no_binary)),
        prefer_binary=request.prefer_binary,
        ignore_requires_python=request.ignore_requires_python,
        require_hashes=request.require_hashes,
    )


def simulate_install(
    request,
    snapshot,
    source,
    *,
    held: dict | None = None,
    deadline: float | None = None,
    build: Callable[[DistFile, str], CoreMetadata] | None = None,
) -> tuple[Plan, object]:
    """Resolve ``request`` (an :class:`guard.request.model.InstallRequest`) in ``snapshot`` with
    metadata from ``source``. Returns the plan and the raw resolvelib result (for ``why``).

    ``held`` maps extra names to specifiers that are added as constraints (used to look for an
    alternative that keeps conda's packages). ``deadline``: seconds the resolution may take
    (:class:`DeadlineReporter`); None for no limit. ``build``: the metadata of one index sdist
    whose dependencies only a build can tell, given the file and why (it builds that sdist alone,
    or raises to refuse); None: such an sdist raises NeedsPipFallback for the whole command.
    """
    if request.unmodeled:
        raise NeedsPipFallback("; ".join(request.unmodeled))
    interp = snapshot.interpreter
    target = TargetPython.from_tags(interp.version, interp.tags)
    options = resolve_options(request)
    markers = dict(interp.markers)

    constraints: dict = {}
    for item in request.constraints:
        _add_constraint(constraints, item, markers)
    for name, spec in (held or {}).items():
        c = constraints.setdefault(name, Constraint())
        c.specifier &= spec
        c.sources.append(f"{name}{spec} (conda's version, held)")

    provider = GuardProvider(
        source=source,
        installed=snapshot.dists,
        target=target,
        markers=markers,
        options=options,
        constraints=constraints,
        user_requested={},
        build=build,
    )
    origins: dict = {}
    roots, user_requested, requested = _root_requirements(request, provider, source, origins)
    provider.set_user_requested(user_requested)
    provider.prefetch(roots)

    resolver = Resolver(provider, DeadlineReporter(deadline))
    try:
        result = resolver.resolve(roots, max_rounds=MAX_ROUNDS)
    except RLImpossible as exc:
        raise ResolutionImpossible(_impossible_message(exc, provider, origins, options.prereleases)) from None
    except ResolutionTooDeep:
        raise ResolutionImpossible("resolution too deep: pip would give up on this request too") from None
    finally:
        provider.close()

    changes = _changes(result, snapshot, options, request)
    edges = _edges(result)
    warnings = (
        (f"--target {request.target}: pip installs into that directory, not into the environment",)
        if request.target
        else ()
    )
    return Plan(
        "install",
        tuple(changes),
        edges=tuple(edges),
        requested=tuple(requested),
        warnings=warnings,
        target=request.target,
    ), result


def simulate_uninstall(request, snapshot) -> Plan:
    """``pip uninstall`` removes each named distribution that is installed."""
    changes, warnings, seen = [], [], set()
    for item in request.requirements:
        if item.requirement is None:
            raise NeedsPipFallback(f"uninstall of {item.text!r} (not a plain name)")
        name = canonicalize_name(item.requirement.name)
        if name in seen:
            continue
        seen.add(name)
        dist = snapshot.dists.get(name)
        if dist is None:
            warnings.append(f"Skipping {item.requirement.name} as it is not installed.")
            continue
        changes.append(Change(name, dist.version, None, "remove", dist.owner, _record_json(dist)))
    return Plan("uninstall", tuple(changes), requested=tuple(sorted(seen)), warnings=tuple(warnings))


# ---- building the root requirements ------------------------------------------------------------


def _add_constraint(constraints: dict, item, markers) -> None:
    req = item.requirement
    if req is None or req.url:
        raise NeedsPipFallback(f"constraint {item.text!r} is not a plain name and specifier")
    if req.marker is not None and not req.marker.evaluate({**markers, "extra": ""}):
        return
    c = constraints.setdefault(canonicalize_name(req.name), Constraint())
    c.specifier &= req.specifier
    if req.specifier:
        c.sources.append(f"{item.text} ({item.origin})")
    for h in item.hashes:
        algo, _, digest = h.partition(":")
        c.hashes.setdefault(algo, frozenset())
        c.hashes[algo] = c.hashes[algo] | {digest}


def _root_requirements(request, provider: GuardProvider, source, origins: dict) -> tuple[list, dict, list]:
    """The resolver's root requirements, the names the user asked for (with their positions)
    and the projects requested; ``origins`` is filled with where each root was written."""
    roots: list = []
    user_requested: dict = {}
    requested: list = []
    seen: set = set()
    for i, item in enumerate(request.requirements):
        if item.kind == "named" and item.requirement is not None and not item.url and not item.editable:
            # the same requirement again adds nothing to pip's resolution (its criteria merge
            # identical specifiers), but each copy costs the resolver a merge: a file naming
            # `rich` 20,000 times must not take minutes
            key = (str(item.requirement), item.hashes, item.user_supplied)
            if key in seen:
                continue
            seen.add(key)
        reqs = _requirements_for_item(item, provider, source)
        if not reqs:
            continue
        for r in reqs:
            origins.setdefault(r, item.origin)
        template = reqs[0]
        if item.user_supplied and template.name not in user_requested:
            user_requested[template.name] = i
        if template.project not in requested:
            requested.append(template.project)
        roots.extend(reqs)
    roots.sort(key=lambda r: r.name != r.project)  # pip: requirements with extras last
    return roots, user_requested, requested


def _requirements_for_item(item, provider: GuardProvider, source) -> list:
    if item.kind == "vcs":
        raise NeedsPipFallback(f"VCS requirement {item.text!r}")
    req: PepRequirement | None = item.requirement
    if item.kind == "named" and req is not None and not req.url and not item.editable:
        return provider.requirements_from_pep508(req)
    if req is not None and req.marker is not None and not provider.markers_match(req):
        return []
    direct = source.direct_source(item)  # the index stage reads it; resolving does no I/O
    project = canonicalize_name(direct.metadata.name)
    if req is not None and canonicalize_name(req.name) != project:
        raise NeedsPipFallback(f"{item.text!r} names {req.name} but the distribution is {direct.metadata.name}")
    extras = req.extras if req is not None else ()
    cand = provider.direct_candidate(project, direct, extras)
    return provider.requirements_from_candidate(cand, text=item.text)


# ---- from a resolution to a plan -------------------------------------------------------------


def _record_json(dist) -> dict | None:
    rec = dist.conda_record
    if rec is None:
        return None
    return rec.summary()


def _changes(result, snapshot, options: ResolveOptions, request) -> list[Change]:
    """pip's rule for what it installs: a candidate that is not the installed distribution, and
    differs from it in version, or is forced, editable or a local sdist/directory."""
    changes = []
    # --target installs into a directory of its own: nothing in the environment is replaced
    installed_dists = {} if request.target else snapshot.dists
    for cand in result.mapping.values():
        if cand.kind in ("python", "extras", "installed"):
            continue
        dist = installed_dists.get(cand.project)
        proposed = str(cand.version)
        source = cand.file.filename if cand.kind == "index" else cand.direct.url
        if dist is None:
            changes.append(Change(cand.project, None, proposed, "install", None, None, source))
            continue
        installed = Version(dist.version) if _valid(dist.version) else None
        editable = cand.kind == "direct" and cand.direct.editable
        if (
            options.ignore_installed
            or options.force_reinstall
            or installed != cand.version
            or editable
            or _is_editable_install(dist)
        ):
            pass
        elif cand.kind == "direct" and cand.direct.url.startswith("file:") and not cand.direct.is_local_wheel:
            pass  # a local sdist or project directory is always reinstalled
        else:
            continue
        if installed is None or installed == cand.version:
            action = "reinstall"
        elif cand.version > installed:
            action = "upgrade"
        else:
            action = "downgrade"
        changes.append(Change(cand.project, dist.version, proposed, action, dist.owner, _record_json(dist), source))
    return sorted(changes, key=lambda c: c.name)


def _valid(version: str) -> bool:
    try:
        Version(version)
        return True
    except Exception:  # noqa: BLE001
        return False


def _is_editable_install(dist) -> bool:
    direct = getattr(dist, "direct_url", None) or {}
    return bool((direct.get("dir_info") or {}).get("editable"))


def _label(cand) -> str:
    return f"{cand.name}=={cand.version}"


def _edges(result) -> list[Edge]:
    """Every requirement edge of the final resolution, specifier included (for ``why``)."""
    edges = []
    for identifier, criterion in result.criteria.items():
        if identifier == REQUIRES_PYTHON:
            continue
        for info in criterion.information:
            req, parent = info.requirement, info.parent
            if parent is not None and result.mapping.get(parent.name) is not parent:
                continue
            if (
                parent is not None
                and parent.kind == "extras"
                and req.kind == "explicit"
                and req.candidate is parent.base
            ):
                continue  # the extras candidate's link to its own base is bookkeeping, not a need
            edges.append(Edge(_label(parent) if parent is not None else None, req.project, req.text or req.name))
    return _dedupe(edges)


def _dedupe(items: Iterable) -> list:
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _impossible_message(exc: RLImpossible, provider: GuardProvider, origins: dict, prereleases) -> str:
    """pip's ResolutionImpossible, said in one line: for each project in conflict, who requires
    what (a requirement of the request with the file and line, or the command line, it came
    from), each ``-c`` constraint with its source, and the versions each of them allows.
    A requirement no version matches stays "no matching distribution", naming the constraint
    that removed its versions when one did (pip: "The user requested (constraint) numpy<2")."""
    groups: dict[str, list] = {}
    others = []
    for info in exc.causes:
        req = info.requirement
        if req.kind == "specifier":
            groups.setdefault(req.project, []).append(info)
        else:
            others.append(_requires(info, origins))
    clauses = []
    for project, infos in groups.items():
        missing, clause = _project_conflict(project, infos, provider, origins, prereleases)
        if missing:
            return f"pip would fail: {clause}"
        clauses.append(clause)
    detail = "; ".join(_dedupe(clauses + others)) or "no candidates"
    return f"pip would fail: conflicting requirements {detail if clauses else f'({detail})'}"


def _project_conflict(project: str, infos: list, provider: GuardProvider, origins: dict, pre) -> tuple[bool, str]:
    """(True, "no matching distribution ...") when one requirement alone allows no version;
    else (False, the conflict on ``project``: each side with the versions it allows)."""
    available = provider.available_versions(project)
    constraint = provider.constraint_of(project)
    sources = constraint.sources if constraint is not None else []
    limit = constraint.specifier if constraint is not None and sources else None
    together = SpecifierSet()
    sides: dict = {}  # (parent project, requirement text) -> (first info, fits, parent versions)
    for info in _dedupe_infos(infos):
        spec = info.requirement.specifier
        text = info.requirement.text or info.requirement.name
        together &= spec
        fits = list(spec.filter(available, prereleases=pre))
        if not fits:
            shown = ", ".join(str(v) for v in available[-12:]) or "none"
            # pip: "Ignored the following versions that require a different python version"
            other = [v for v in provider.available_versions(project, any_python=True) if v not in available]
            other = list(spec.filter(other, prereleases=pre))
            other_python = f"; {_versions(other)} need another Python (Requires-Python)" if other else ""
            return True, (
                f"no matching distribution for {text}{_origin(info, origins)}; versions usable here: {shown}{other_python}"
            )
        if limit is not None and not list(limit.filter(fits, prereleases=pre)):
            return True, (
                f"no matching distribution for {text}{_origin(info, origins)}: "
                f"{_constraint_text(sources)} removes {_versions(fits)}; "
                f"it allows {_versions(list(limit.filter(available, prereleases=pre)))}"
            )
        # every version of a parent that requires the same is one side: conflicted 1.0, 2.0
        key = (info.parent.project if info.parent is not None else None, text)
        side = sides.setdefault(key, (info, fits, []))
        if info.parent is not None:
            side[2].append(info.parent.version)
    shown_sides = [
        f"{_requires(info, origins, versions)} [{_versions(fits)}]" for info, fits, versions in sides.values()
    ]
    if limit is not None:
        allowed = list(limit.filter(available, prereleases=pre))
        shown_sides.append(f"{_constraint_text(sources)} [{_versions(allowed)}]")
    both = list(together.filter(available, prereleases=pre))
    unusable = "(invalid metadata or unmet dependencies)"
    if both and len(shown_sides) == 1:
        ((info, _, _),) = sides.values()
        text = info.requirement.text or info.requirement.name
        return (
            True,
            f"no matching distribution for {text}{_origin(info, origins)}: {_versions(both)} could not be used {unusable}",
        )
    end = (
        f"no version satisfies {'both' if len(shown_sides) == 2 else 'all'}"
        if not both
        else f"the versions that satisfy all ({_versions(both)}) could not be used {unusable}"
    )
    return False, f"for {project}: {'; '.join(shown_sides)}; {end}"


def _dedupe_infos(infos: list) -> list:
    seen, out = set(), []
    for info in infos:
        key = (str(info.requirement.specifier), id(info.parent))
        if key not in seen:
            seen.add(key)
            out.append(info)
    return out


def _origin(info, origins: dict) -> str:
    """Where a requirement came from, in parentheses: `` (command line)``, `` (req.txt:3)`` for
    one of the request, `` (required by transformers 4.44.2, command line)`` for a dependency."""
    if info.parent is None:
        origin = origins.get(info.requirement)
        return f" ({origin})" if origin else ""
    named = _named(info.parent, origins)
    return f" (required by {info.parent.project} {info.parent.version}{f', {named}' if named else ''})"


def _named(parent, origins: dict) -> str | None:
    """The origin of ``parent``'s project when the request named it."""
    return next((o for r, o in origins.items() if r.project == parent.project), None)


def _requires(info, origins: dict, versions: list | None = None) -> str:
    """``the request (req.txt:3) requires x==1`` / ``parent 1.0, 2.0 (command line) requires x>=2``
    (``versions``: every version of the parent that requires the same)."""
    req = info.requirement
    text = req.text or req.name
    if info.parent is None:
        return f"the request{_origin(info, origins)} requires {text}"
    parent, named = info.parent, _named(info.parent, origins)
    shown = _versions(sorted(set(versions))) if versions else str(parent.version)
    return f"{parent.project} {shown}{f' ({named})' if named else ''} requires {text}"


def _constraint_text(sources: list) -> str:
    return f"the constraint {', '.join(sources)}"


def _versions(versions: list) -> str:
    """At most four versions, else the oldest and newest with the count."""
    if not versions:
        return "no version"
    if len(versions) <= 4:
        return ", ".join(str(v) for v in versions)
    return f"{versions[0]} ... {versions[-1]} ({len(versions)} versions)"
