"""Dependency chains over a plan's resolution graph: who asked for a package, with which
specifier on every edge (pipdeptree's "reverse, then filter").
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Iterable

from .models import Edge


def _project_of(label: str) -> str:
    return label.split("==")[0].split("[")[0]


def chains_to(edges: Iterable[Edge], name: str, limit: int = 3) -> list[tuple[str, ...]]:
    """Up to ``limit`` shortest chains from the command line down to ``name``.

    Each chain is a tuple of steps: the user's requirement first (``transformers[torch]``), then
    one ``parent==version -> requirement`` step per edge (``transformers[torch]==4.57.0 ->
    torch>=2.2``).
    """
    parents: dict[str, list[Edge]] = defaultdict(list)
    for e in edges:
        parents[e.child].append(e)
    # Walk upwards breadth-first from ``name`` until an edge from the command line is reached.
    found: list[tuple[str, ...]] = []
    queue = deque([(name, (), frozenset([name]))])
    while queue and len(found) < limit:
        node, steps, seen = queue.popleft()
        for e in parents.get(node, ()):
            if e.parent is None:
                found.append((e.requirement,) + steps)
                if len(found) >= limit:
                    break
                continue
            up = _project_of(e.parent)
            if up in seen:
                continue
            queue.append((up, (f"{e.parent} -> {e.requirement}",) + steps, seen | {up}))
    return found
