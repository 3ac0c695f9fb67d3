"""The requirements hook's resolution check: the requirements resolved the way pip would resolve
them in the conda environment, conda's packages held to their specs.

conda's packages are offered as already provided (:class:`CondaProvidedSource`: any platform, no
dependencies of their own: those are conda's business) and held (``held=``) to the environment's
specs; the resolver is the simulator's (:func:`guard.resolve.simulate.simulate_install`). When
the held resolution is impossible but the free one works, each edge of the free resolution that
excludes every version conda allows is reported with its dependency path (the shared graph,
:func:`guard.policy.chains.paths_to`); when the held resolution works, CUDA runtime wheels it
would add beside conda's CUDA are reported. A conda package is protected by the shared
:class:`guard.policy.rules.Policy` (an error; otherwise a warning).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any, cast

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from guard.environment.interpreter import Interpreter
from guard.environment.snapshot import EnvironmentSnapshot
from guard.errors import ResolutionImpossible
from guard.hooks.findings import Finding, Source
from guard.models import CoreMetadata, DistFile, Edge, Plan
from guard.policy.chains import paths_to, project_of
from guard.policy.conda import CondaSpec
from guard.policy.names import is_pypi_cuda_wheel
from guard.policy.rules import Policy

# ---- the environment the resolver sees ---------------------------------------------------------


def interpreter_for(python_version: str | None, label: str) -> Interpreter:
    """Markers and wheel tags of the Python an environment file asks for: the running
    interpreter's platform, with the Python version replaced (``python=3.8.5`` -> cp38 tags,
    ``python_version == "3.8"``). ``None`` keeps the running Python."""
    from packaging import tags
    from packaging.markers import default_environment

    from guard.pipeline.check import own_pip_default_index

    running = ".".join(map(str, sys.version_info[:3]))
    full = running
    if python_version:
        parts = python_version.split(".")
        if len(parts) >= 3:
            full = python_version
        elif parts[:2] != running.split(".")[:2]:
            full = f"{parts[0]}.{parts[1]}.0"
    major, minor = (int(p) for p in full.split(".")[:2])
    markers = dict(cast("Mapping[str, str]", default_environment()))  # a TypedDict of strings
    markers.update(
        python_version=f"{major}.{minor}",
        python_full_version=full,
        implementation_name="cpython",
        implementation_version=full,
        platform_python_implementation="CPython",
    )
    version = (major, minor)
    tag_list = [str(t) for t in tags.cpython_tags(version)]
    tag_list += [str(t) for t in tags.compatible_tags(version, f"cp{major}{minor}")]
    return Interpreter(
        executable=f"python{major}.{minor} ({label})",
        version=full,
        implementation="cpython",
        markers=MappingProxyType(markers),
        tags=tuple(dict.fromkeys(tag_list)),
        prefix="",
        base_prefix="",
        purelib="",
        platlib="",
        user_site=None,
        site_dirs=(),
        pip_version=None,
        pip_default_index=own_pip_default_index(),
    )


def empty_snapshot(interpreter: Interpreter, label: str) -> EnvironmentSnapshot:
    """An environment with nothing installed by pip: conda's packages enter as holds."""
    return EnvironmentSnapshot(
        prefix=label,
        interpreter=interpreter,
        dists=MappingProxyType({}),
        duplicates=MappingProxyType({}),
        conda_records=MappingProxyType({}),
        is_conda=True,
        warnings=(),
    )


class CondaProvidedSource:
    """The index as pip sees it in the conda environment: a project conda provides is offered
    without dependencies and for any platform (conda installed it; pip only checks its version),
    at the versions the index knows plus those the conda spec names."""

    def __init__(self, source: Any, provided: Mapping[str, SpecifierSet]):
        self._source = source
        self._provided = dict(provided)
        self._versions: dict[str, list[Version]] = {}

    def versions(self, name: str) -> list[Version]:
        """The versions offered for ``name``: the index's, plus those conda's spec names."""
        if name not in self._versions:
            found = {f.version for f in self._source.project_files(name)}
            for spec in self._provided.get(name, SpecifierSet()):
                if spec.operator in ("==", "===", ">=", "<=", "~="):
                    try:
                        found.add(Version(spec.version.rstrip("*").rstrip(".")))
                    except InvalidVersion:
                        pass
            self._versions[name] = sorted(found)
        return self._versions[name]

    def project_files(self, name: str) -> list[DistFile]:
        if name not in self._provided:
            return list(self._source.project_files(name))
        out = []
        for v in self.versions(name):
            filename = f"{name.replace('-', '_')}-{v}-py3-none-any.whl"
            out.append(
                DistFile(
                    project=name,
                    filename=filename,
                    url=f"conda:///{name}/{v}",
                    version=v,
                    is_wheel=True,
                    wheel_tags=frozenset(["py3-none-any"]),
                    requires_python=None,
                    yanked=None,
                    hashes={},
                    metadata_hashes=None,
                    source="conda",
                )
            )
        return out

    def metadata(self, f: DistFile) -> CoreMetadata:
        if f.source != "conda":
            return self._source.metadata(f)  # the index client's
        return CoreMetadata(
            name=f.project, version=str(f.version), requires_dist=(), requires_python=None, provides_extra=()
        )

    def direct_source(self, item: Any) -> Any:
        """A path or URL the user names: the index client's answer (conda provides none)."""
        return self._source.direct_source(item)


# ---- the check ----------------------------------------------------------------------------------


def _identifier(label: str) -> str:
    """``transformers[torch]==5.23.0`` -> ``transformers[torch]``."""
    return label.split("==")[0]


def _path_up(edges: Sequence[Edge], parent: str) -> tuple[list[str], str | None]:
    """Labels from the user's requirement down to ``parent`` (a ``name==version`` label) and the
    project the user named: the shortest dependency path of the shared graph, None when there is
    none."""
    paths = paths_to(edges, project_of(parent), limit=1)
    if not paths:
        return [parent], None
    path = paths[0]
    return [e.parent for e in path[1:] if e.parent is not None] + [parent], path[0].child


def _via(chain: list[str]) -> str:
    """`` (via a -> b[x])``, or nothing when the user named the package themselves."""
    ids = [_identifier(label) for label in chain]
    return f" (via {' -> '.join(ids)})" if len(ids) > 1 or "[" in ids[0] else ""


def resolution_findings(
    request: Any, items: Sequence[Any], src: Source, snap: EnvironmentSnapshot, client: Any, policy: Policy
) -> list[Finding]:
    """(b)/(c): resolve with conda's packages held; explain an impossible held resolution with
    the free one; report CUDA wheels the held resolution would add beside conda's CUDA."""
    from guard.resolve.simulate import simulate_install

    conda = src.conda
    provided = conda.provided()
    held = {name: dep.specifier for name, dep in provided.items() if dep.specifier}
    source = CondaProvidedSource(client, {name: dep.specifier for name, dep in provided.items()})
    # requirements that name conda's packages are reported by the direct check; leave them out
    # so that the resolution shows what else would fight conda
    cuda = conda.cuda()
    keep = tuple(
        i
        for i in request.requirements
        if i.kind == "named"
        and not i.editable
        and i.requirement is not None
        and not i.requirement.url
        and i.name not in provided
        and not (cuda is not None and is_pypi_cuda_wheel(i.name))
        and i in items
    )
    if not keep:
        return []
    request = replace(
        request, requirements=keep, unmodeled=tuple(u for u in request.unmodeled if not u.startswith("vcs "))
    )
    first_path, first_line = src.where(keep[0].origin)
    lead = "pip: " if src.in_env_file else ""
    try:
        plan, _ = simulate_install(request, snap, source, held=held)
    except ResolutionImpossible as held_error:
        try:
            free_plan, _ = simulate_install(request, snap, source)
        except ResolutionImpossible as free_error:
            return [
                Finding(
                    first_path,
                    first_line if src.in_env_file else None,
                    f"{lead}cannot be resolved for python {snap.interpreter.version} even without conda's "
                    f"pins: {free_error}",
                )
            ]
        return _explain(free_plan, keep, src, provided, held, source, policy, str(held_error))
    return _cuda_findings(plan, keep, src, provided)


def _explain(
    free_plan: Plan,
    keep: Sequence[Any],
    src: Source,
    provided: Mapping[str, CondaSpec],
    held: Mapping[str, SpecifierSet],
    source: CondaProvidedSource,
    policy: Policy,
    held_error: str,
) -> list[Finding]:
    """The free resolution's edges that exclude every version conda allows, each with its path."""
    conda = src.conda
    lead = "pip: " if src.in_env_file else ""
    findings: list[Finding] = []
    seen = set()
    for e in free_plan.edges:
        if e.parent is None or e.child not in held:
            continue
        try:
            spec = Requirement(e.requirement).specifier
        except InvalidRequirement:
            continue
        dep = provided[e.child]
        if any(
            dep.specifier.contains(v, prereleases=True) and spec.contains(v, prereleases=True)
            for v in source.versions(e.child)
        ):
            continue
        chain, root = _path_up(free_plan.edges, e.parent)
        item = next((i for i in keep if i.name == root), keep[0])
        path, line = src.where(item.origin)
        key = (path, line, e.parent, e.requirement)
        if key in seen:
            continue
        seen.add(key)
        parent = e.parent
        version = parent.split("==", 1)[1] if "==" in parent else ""
        msg = f"{lead}{project_of(parent)}=={version} needs {e.requirement}{_via(chain)}; {conda.pins(dep)}"
        findings.append(Finding(path, line, msg, "error" if policy.is_protected(e.child) else "warning"))
    if not findings:
        path, line = src.where(keep[0].origin)
        refs = ", ".join(conda.ref(provided[n]) for n in held)
        findings.append(
            Finding(
                path,
                line if src.in_env_file else None,
                f"{lead}cannot be installed beside conda's packages ({refs}): {held_error}",
            )
        )
    return findings


def _cuda_findings(plan: Plan, keep: Sequence[Any], src: Source, provided: Mapping[str, CondaSpec]) -> list[Finding]:
    """CUDA runtime wheels the resolution adds (not named by the user) beside conda's CUDA."""
    conda = src.conda
    cuda = conda.cuda()
    if cuda is None:
        return []
    lead = "pip: " if src.in_env_file else ""
    findings = []
    for change in plan.changes:
        if change.action != "install" or change.name in provided or not is_pypi_cuda_wheel(change.name):
            continue
        edge = next((e for e in plan.edges if e.child == change.name and e.parent is not None), None)
        if edge is None or edge.parent is None:
            continue  # named by the user: the direct check reports it
        chain, root = _path_up(plan.edges, edge.parent)
        item = next((i for i in keep if i.name == root), keep[0])
        path, line = src.where(item.origin)
        findings.append(
            Finding(
                path,
                line,
                f"{lead}{project_of(edge.parent)}=={edge.parent.split('==', 1)[-1]} needs "
                f"{edge.requirement}{_via(chain)}: a CUDA runtime wheel beside conda's "
                f"CUDA ({conda.ref(cuda)})",
            )
        )
    return findings
