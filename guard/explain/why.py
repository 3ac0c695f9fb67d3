"""``guard why``: why a package is protected, and which requirements of a command would change it.

A walk over the resolution's graph (pipdeptree's ``why``: reverse, then filter): every path from
a requirement on the command line down to the package, with the specifier on every edge, merged
into a tree. The explanation is plain JSON data (``--json`` prints it as is; :mod:`guard.render`
turns it into text). Pure: the caller simulates and reads the environment.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from guard.policy.conda_specs import variant_of
from guard.policy.chains import paths_to as _paths_to
from guard.policy.chains import project_of
from guard.models import Edge
from guard.policy.names import conda_equivalent_of_cuda_wheel

SCHEMA = 1
MAX_PATHS = 8  # a tree is for reading: beyond this many paths the rest is summarised


def _label_version(label: str | None) -> str | None:
    if not label or "==" not in label:
        return None
    return label.split("==", 1)[1]


def paths_to(edges: Iterable[Edge], name: str, limit: int = MAX_PATHS) -> list[tuple[Edge, ...]]:
    """Every path (up to ``limit``, shortest first) from the command line down to ``name``."""
    return _paths_to(edges, name, limit)


def paths_from_chain(chain: Sequence[str]) -> tuple[Edge, ...]:
    """A journal/verdict chain (``("transformers[torch]", "transformers[torch]==5.23.0 ->
    torch>=2.6")``) back into edges."""
    if not chain:
        return ()
    edges = [Edge(None, _req_name(chain[0]), chain[0])]
    for step in chain[1:]:
        parent, _, req = step.partition(" -> ")
        edges.append(Edge(parent, _req_name(req), req))
    return tuple(edges)


def _req_name(text: str) -> str:
    try:
        return canonicalize_name(Requirement(text).name)
    except InvalidRequirement:
        return project_of(text.split()[0] if text.split() else text)


def satisfies(requirement: str, version: str | None) -> bool | None:
    """Whether ``version`` meets ``requirement``'s specifier (None when it cannot be told)."""
    if version is None:
        return None
    try:
        return Requirement(requirement).specifier.contains(Version(version), prereleases=True)
    except (InvalidRequirement, InvalidVersion):
        return None


def _edge_json(e: Edge) -> dict:
    return {"parent": e.parent, "requirement": e.requirement, "child": e.child}


def tree_lines(paths: Sequence[Sequence[Edge]], installed: str | None = None,
               proposed: str | None = None) -> list[str]:
    """The paths merged into one tree per requested requirement, the specifier on every edge; a
    node reached a second time is not expanded again (``(see above)``)::

        transformers[torch]==5.23.0
        ├── torch>=2.6                    -> torch 2.15.0
        │   └── triton~=3.9.0             (installed 3.1.0 does not satisfy it)
        └── accelerate>=1.1.0             -> accelerate 1.15.0
            └── torch>=2.0.0              -> torch 2.15.0 (see above)
    """
    # trie: key (requirement, child project, label of the node it leads to or None for the target)
    roots: dict = {}
    for path in paths:
        if not path:
            continue
        first = path[0]
        label = path[1].parent if len(path) > 1 else None
        node = roots.setdefault((first.requirement, first.child, label), {})
        for i, e in enumerate(path[1:], start=1):
            nxt = path[i + 1].parent if i + 1 < len(path) else None
            node = node.setdefault((e.requirement, e.child, nxt), {})
    lines: list[str] = []
    expanded: set = set()

    def note(req: str, child: str, label: str | None) -> str:
        if label is not None:
            return f"-> {project_of(label)} {_label_version(label)}"
        ok = satisfies(req, installed)
        if ok is None:
            return f"-> {child} {proposed}" if proposed else ""
        return f"(installed {installed} {'satisfies' if ok else 'does not satisfy'} it)"

    def row(prefix: str, req: str, child: str, label: str | None) -> str:
        text = f"{prefix}{req}"
        return f"{text:<34} {note(req, child, label)}".rstrip()

    def emit(node: dict, indent: str) -> None:
        items = list(node.items())
        for i, ((r, child, lab), sub) in enumerate(items):
            last = i == len(items) - 1
            line = row(indent + ("└── " if last else "├── "), r, child, lab)
            if lab is not None and lab in expanded and sub:
                lines.append(line + " (see above)")
                continue
            lines.append(line)
            if lab is not None:
                expanded.add(lab)
            emit(sub, indent + ("    " if last else "│   "))

    for (req, child, label), children in roots.items():
        if label is None:  # the package itself was on the command line
            lines.append(row("", req, child, None) + "   (requested)")
            continue
        head = label
        if "[" in req and "[" not in label:
            head = f"{label}   (requested: {req})"
        lines.append(head)
        expanded.add(label)
        emit(children, "")
    return lines


# ---- the explanation ---------------------------------------------------------------------------


def _record_dict(rec) -> dict | None:
    if rec is None:
        return None
    if isinstance(rec, Mapping):
        return dict(rec)
    return {**rec.summary(), "depends": list(getattr(rec, "depends", ()) or ())}


def protection(snapshot, policy, name: str) -> dict:
    """Who owns ``name`` in the env and whether the guard protects it."""
    name = canonicalize_name(name)
    dist = snapshot.dists.get(name) if snapshot is not None else None
    if dist is None:
        return {"name": name, "installed": None, "owner": None, "protected": False, "conda_record": None,
                "variant": None}
    rec = _record_dict(dist.conda_record)
    protected = dist.owner == "conda" and policy.is_protected(name)
    return {"name": name, "installed": dist.version, "owner": dist.owner, "protected": protected,
            "conda_record": _short_record(rec), "variant": variant_of(dist.conda_record) if rec else None,
            "installer": dist.installer}


def _short_record(rec: Mapping | None) -> dict | None:
    if rec is None:
        return None
    return {k: rec[k] for k in ("name", "version", "build", "channel") if k in rec}


def _shadowed(snapshot, wheel: str) -> dict:
    equivalents = conda_equivalent_of_cuda_wheel(wheel)
    records = getattr(snapshot, "conda_records", {}) or {}
    present = [f"{n} {records[n].version}" for n in equivalents if n in records]
    return {"conda_equivalents": equivalents, "shadows": present}


def explain(plan, verdict, snapshot, policy, package: str, argv: Sequence[str]) -> dict:
    """The explanation of ``package`` for a simulated command (plan + verdict)."""
    package = canonicalize_name(package)
    changes = {c.name: c for c in plan.changes}
    blocked, cuda = [], []
    for r in verdict.reasons:
        c = changes.get(r.name)
        paths = paths_to(plan.edges, r.name) or ([paths_from_chain(r.chain)] if r.chain else [])
        item = {
            "name": r.name, "rule": r.rule, "message": r.message,
            "installed": c.installed if c else None, "proposed": c.proposed if c else None,
            "action": c.action if c else None,
            "conda_record": _short_record(dict(c.conda_record)) if c and c.conda_record else None,
            "variant": variant_of(c.conda_record) if c and c.conda_record else None,
            "paths": [[_edge_json(e) for e in p] for p in paths],
        }
        if r.rule == "cuda-wheel-beside-conda-cuda":
            item.update(_shadowed(snapshot, r.name))
            cuda.append(item)
        else:
            blocked.append(item)
    involved = any(b["name"] == package for b in blocked + cuda)
    involved_paths = []
    if not involved and package in changes:
        involved_paths = [[_edge_json(e) for e in p] for p in paths_to(plan.edges, package)]
    change = changes.get(package)
    return {
        "schema": SCHEMA,
        "package": package,
        "command": ["pip", *argv],
        "verdict": verdict.verdict,
        "status": protection(snapshot, policy, package),
        "involved": involved,
        "change": change.to_json(package in verdict.protected) if change else None,
        "change_paths": involved_paths,
        "blocked": blocked,
        "cuda_wheels": cuda,
        "cuda_runtime": _cuda_runtime(snapshot),
        "simulation": {"path": plan.path, "fallback_reason": plan.fallback_reason},
    }


def explain_entry(entry: Mapping, snapshot, policy, package: str) -> dict:
    """The explanation rendered from a journal entry alone (when the command cannot be
    simulated again: index unreachable, env changed)."""
    package = canonicalize_name(package)
    changes = {c.get("name"): c for c in entry.get("changes") or ()}
    blocked, cuda = [], []
    for r in entry.get("reasons") or ():
        c = changes.get(r.get("name")) or {}
        path = paths_from_chain(r.get("chain") or ())
        item = {
            "name": r.get("name"), "rule": r.get("rule"), "message": r.get("message"),
            "installed": c.get("installed"), "proposed": c.get("proposed"), "action": c.get("action"),
            "conda_record": c.get("conda_record"),
            "variant": variant_of(c.get("conda_record")) if c.get("conda_record") else None,
            "paths": [[_edge_json(e) for e in path]] if path else [],
        }
        if r.get("rule") == "cuda-wheel-beside-conda-cuda":
            item.update(_shadowed(snapshot, r.get("name") or ""))
            cuda.append(item)
        else:
            blocked.append(item)
    involved = any(b["name"] == package for b in blocked + cuda)
    return {
        "schema": SCHEMA, "package": package, "command": list(entry.get("argv") or ()),
        "verdict": entry.get("verdict"), "status": protection(snapshot, policy, package),
        "involved": involved, "change": changes.get(package), "change_paths": [],
        "blocked": blocked, "cuda_wheels": cuda, "cuda_runtime": _cuda_runtime(snapshot),
        "simulation": {"path": "journal", "fallback_reason": None}, "time": entry.get("time"),
    }


def _cuda_runtime(snapshot) -> dict | None:
    from guard.policy.rules import conda_cuda_runtime

    rec = conda_cuda_runtime(snapshot) if snapshot is not None else None
    if rec is None:
        return None
    return {"name": rec.name, "version": rec.version}


def edges_of(item_paths: Sequence[Sequence[Mapping]]) -> list[tuple[Edge, ...]]:
    """JSON paths (as stored in an explanation) back into edges, for rendering."""
    return [tuple(Edge(e["parent"], e["child"], e["requirement"]) for e in p) for p in item_paths]
