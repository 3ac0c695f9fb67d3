"""A compatible alternative to a blocked install: the same request, bounded so that conda's
protected packages stay as they are.

1. Re-resolve with every protected conda-owned distribution held at its installed version
   (``check.simulate(..., held={name: ==installed})``).
2. From that resolution, rewrite the requested requirements on the command line: first with an
   upper bound (``transformers[torch]<4.45.0``, the next release after the held version), then
   with exact pins, then with pins for everything the held resolution installs.
3. Verify each candidate by simulating it again *without* holds, exactly as the guarded pip will
   see it; the first one that is allowed is the suggestion. Nothing unverified is suggested.

When no resolution keeps conda's packages, the answer says which requirements make it impossible
(the resolver's conflict causes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from guard.errors import GuardError, NeedsPipFallback, ResolutionImpossible
from guard.policy.rules import protected_conda_versions


@dataclass(frozen=True)
class Alternative:
    """``status``: ``found`` (``argv`` is verified: simulated without holds and allowed),
    ``impossible`` (``reason`` names the conflicting requirements), ``none`` (a resolution keeps
    conda's packages but no rewrite of the command line was verified), ``error`` (could not
    simulate)."""

    status: str
    argv: tuple[str, ...] = ()
    held: dict = field(default_factory=dict)  # name -> installed version kept
    resolved: dict = field(default_factory=dict)  # requested name -> version in the held resolution
    reason: str = ""
    kind: str = ""  # "upper-bound" | "pins" | "lock"

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "argv": list(self.argv),
            "kind": self.kind,
            "held": dict(self.held),
            "resolved": dict(self.resolved),
            "reason": self.reason,
        }

    @property
    def command(self) -> str:
        from guard.explain.redirect import shell_join

        return shell_join(["pip", *self.argv])


def find_alternative(argv: Sequence[str], ctx, snapshot, policy, blocked: Sequence[str] = ()) -> Alternative:
    """Look for a verified rewrite of ``pip argv`` that leaves conda's protected packages alone.
    ``blocked`` names the protected packages the original command would change (for messages)."""
    from guard.pipeline.check import parse_command, simulate

    keep = protected_conda_versions(snapshot, policy)
    held = {n: SpecifierSet(f"=={v}") for n, v in keep.items()}
    shown = {n: keep[n] for n in (blocked or keep) if n in keep} or keep
    try:
        held_result = simulate(argv, ctx, snap=snapshot, policy=policy, held=held)
    except ResolutionImpossible as exc:
        kept = ", ".join(f"{n} {v}" for n, v in shown.items())
        return Alternative("impossible", held=shown, reason=f"no resolution keeps conda's {kept}: {_causes(str(exc))}")
    except NeedsPipFallback as exc:
        return Alternative("error", held=shown, reason=f"cannot re-resolve with holds: {exc}")
    except GuardError as exc:
        return Alternative("error", held=shown, reason=str(exc))
    if held_result.verdict.blocked:
        first = held_result.verdict.reasons[0]
        return Alternative("impossible", held=shown, reason=f"even with conda's packages kept: {first.message}")

    request = parse_command(argv, snapshot, ctx)
    items = [
        i
        for i in request.requirements
        if i.origin == "command line"
        and i.kind == "named"
        and i.requirement is not None
        and i.text in argv
        and not i.requirement.url
    ]
    plan = held_result.plan
    resolved: dict[str, str] = {}
    for item in items:
        name = canonicalize_name(item.requirement.name)
        change = plan.change_for(name)
        version = change.proposed if change else (snapshot.dists[name].version if name in snapshot.dists else None)
        if version:
            resolved[name] = version
    candidates: list[tuple[str, list[str] | None]] = []
    if items and len(resolved) == len({canonicalize_name(i.requirement.name) for i in items}):
        bounded = _rewrite(
            argv, items, lambda it, v: _bounded(it, v, _next_release(ctx, request, snapshot, it, v)), resolved
        )
        if bounded is not None:
            candidates.append(("upper-bound", bounded))
        candidates.append(("pins", _rewrite(argv, items, _pinned, resolved)))
    last = candidates[-1][1] if candidates else None  # the pins: never None
    base = last if last is not None else list(argv)
    others = [f"{c.name}=={c.proposed}" for c in plan.changes if c.proposed and c.name not in resolved]
    if others:
        candidates.append(("lock", [*base, *others]))
    for kind, cand in candidates:
        if cand is None or list(cand) == list(argv):
            continue
        try:
            result = simulate(cand, ctx, snap=snapshot, policy=policy)
        except GuardError:
            continue
        if not result.verdict.blocked:
            return Alternative("found", tuple(cand), shown, resolved, kind=kind)
    if not items and not plan.changes:
        return Alternative(
            "none", held=shown, resolved=resolved, reason="with conda's packages kept there is nothing left to install"
        )
    return Alternative(
        "none",
        held=shown,
        resolved=resolved,
        reason="a resolution keeps conda's packages, but no rewrite of this command line was "
        "verified (requirements come from files?)",
    )


def _causes(message: str) -> str:
    """``pip would fail: conflicting requirements (A; B)`` -> ``A; B``; any other
    ``pip would fail: X`` -> ``X`` (whose own parentheses name origins and versions)."""
    m = re.search(r"^pip would fail: conflicting requirements \((.*)\)\s*$", message)
    return m.group(1) if m else message.removeprefix("pip would fail: ")


def _rewrite(argv: Sequence[str], items, make, resolved: dict) -> list[str] | None:
    out = list(argv)
    for item in items:
        name = canonicalize_name(item.requirement.name)
        new = make(item, resolved[name])
        if new is None:
            return None
        out = [new if a == item.text else a for a in out]
    return out


def _requirement_text(req: Requirement, specifier: SpecifierSet) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    marker = f"; {req.marker}" if req.marker is not None else ""
    return f"{req.name}{extras}{specifier}{marker}"


def _pinned(item, version: str) -> str:
    req = item.requirement
    return _requirement_text(req, SpecifierSet(f"=={version}"))


def _bounded(item, version: str, upper: Version | None) -> str | None:
    if upper is None:
        return None
    req = item.requirement
    return _requirement_text(req, req.specifier & SpecifierSet(f"<{upper}"))


def _next_release(ctx, request, snapshot, item, version: str) -> Version | None:
    """The first release after ``version`` on the request's indexes (None: it is the newest)."""
    from guard.index.client import IndexClient
    from guard.pipeline.check import index_settings

    name = canonicalize_name(item.requirement.name)
    try:
        with IndexClient(index_settings(request, snapshot), cache_dir=ctx.cache_dir / "http") as client:
            files = client.project_files(name)
    except GuardError:
        return None
    current = Version(version)
    later = sorted(
        {
            f.version
            for f in files
            if f.version > current and f.yanked is None and (request.pre or not f.version.is_prerelease)
        }
    )
    return later[0] if later else None
