"""Dependency paths over a plan's resolution graph: who asked for a package, with which
specifier on every edge (pipdeptree's "reverse, then filter"). One walk serves the verdict's
chains (:func:`chains_to`) and ``guard why``'s trees (:func:`paths_to`).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable

from guard.models import Edge
from guard.policy.names import canonical_name


def project_of(label: str) -> str:
    """``transformers[torch]==5.23.0`` -> ``transformers``."""
    return canonical_name(label.split("==")[0].split("[")[0])


def dedupe_edges(edges: Iterable[Edge]) -> list[Edge]:
    """``transformers==5.23.0`` and ``transformers[torch]==5.23.0`` ask for the same numpy: one
    edge per (parent project, child, requirement), the label with extras kept (the user asked
    for the extra)."""
    best: dict[tuple, Edge] = {}
    order: list[tuple] = []
    for e in edges:
        key = (project_of(e.parent) if e.parent else None, e.child, e.requirement)
        if key not in best:
            best[key] = e
            order.append(key)
        elif e.parent and "[" in e.parent and "[" not in (best[key].parent or ""):
            best[key] = e
    return [best[k] for k in order]


def paths_to(edges: Iterable[Edge], name: str, limit: int = 3) -> list[tuple[Edge, ...]]:
    """Up to ``limit`` simple paths from the command line down to ``name``, shortest first, each
    as edges root-first: ``(None -> transformers[torch]), (transformers[torch]==5.23.0 ->
    torch>=2.6)``. Breadth-first upwards, so the shortest paths are found first."""
    name = canonical_name(name)
    parents: dict[str, list[Edge]] = defaultdict(list)
    for e in dedupe_edges(edges):
        parents[e.child].append(e)
    found: list[tuple[Edge, ...]] = []
    queue: deque[tuple[str, tuple[Edge, ...], frozenset[str]]] = deque([(name, (), frozenset([name]))])
    while queue and len(found) < limit:
        node, below, seen = queue.popleft()
        for e in parents.get(node, ()):
            if e.parent is None:
                found.append((e,) + below)
                if len(found) >= limit:
                    break
                continue
            up = project_of(e.parent)
            if up not in seen:
                queue.append((up, (e,) + below, seen | {up}))
    return found


def chains_to(edges: Iterable[Edge], name: str, limit: int = 3) -> list[tuple[str, ...]]:
    """:func:`paths_to` as text: the user's requirement first (``transformers[torch]``), then one
    ``parent==version -> requirement`` step per edge."""
    return [
        (path[0].requirement,) + tuple(f"{e.parent} -> {e.requirement}" for e in path[1:])
        for path in paths_to(edges, name, limit)
    ]
