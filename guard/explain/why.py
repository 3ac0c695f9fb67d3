"""``guard why``: why a package is protected, and which requirements of a command would change it.

A walk over the resolution's graph (pipdeptree's ``why``: reverse, then filter): every path from
a requirement on the command line down to the package, with the specifier on every edge, merged
into a tree. :func:`why` answers with a frozen :class:`Explanation` (``--json`` prints its
``to_json``; :mod:`guard.explain.render` turns it into text): it simulates the command (or reads a
journal entry the caller hands it), searches an alternative and plans the redirect. The caller
reads the environment, the policy and the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from guard.errors import GuardError
from guard.explain.alternative import Alternative
from guard.explain.redirect import Frontend, plan_redirect
from guard.models import CheckResult, Edge
from guard.policy.chains import paths_to as _paths_to
from guard.policy.chains import project_of
from guard.policy.conda import variant_of
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


def tree_lines(paths: Sequence[Sequence[Edge]], installed: str | None = None, proposed: str | None = None) -> list[str]:
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
        return {
            "name": name,
            "installed": None,
            "owner": None,
            "protected": False,
            "conda_record": None,
            "variant": None,
        }
    rec = _record_dict(dist.conda_record)
    protected = dist.owner == "conda" and policy.is_protected(name)
    return {
        "name": name,
        "installed": dist.version,
        "owner": dist.owner,
        "protected": protected,
        "conda_record": _short_record(rec),
        "variant": variant_of(dist.conda_record) if rec else None,
        "installer": dist.installer,
    }


def _short_record(rec: Mapping | None) -> dict | None:
    if rec is None:
        return None
    return {k: rec[k] for k in ("name", "version", "build", "channel") if k in rec}


def _shadowed(snapshot, wheel: str) -> dict:
    equivalents = conda_equivalent_of_cuda_wheel(wheel)
    records = getattr(snapshot, "conda_records", {}) or {}
    present = [f"{n} {records[n].version}" for n in equivalents if n in records]
    return {"conda_equivalents": equivalents, "shadows": present}


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET
"""A field that was not asked for: the JSON leaves its key out (schema 1 has ``time`` only for a
command from the journal, ``alternative`` and ``redirect`` only for a blocked command)."""


@dataclass(frozen=True)
class Explanation:
    """What ``guard why`` answers. ``to_json`` is schema 1 exactly as ``--json`` prints it;
    :func:`guard.explain.render.why_text` says the same in words. ``package`` None: nothing to
    explain (no blocked command in the journal). The items of ``blocked``/``cuda_wheels`` and
    ``status``/``change`` are plain JSON data (as in the journal)."""

    package: str | None
    command: tuple[str, ...] = ()
    verdict: str | None = None
    status: Mapping | None = None
    involved: bool = False
    change: Mapping | None = None
    change_paths: tuple[list, ...] = ()
    blocked: tuple[Mapping, ...] = ()
    cuda_wheels: tuple[Mapping, ...] = ()
    cuda_runtime: Mapping | None = None
    simulation: Mapping = field(default_factory=dict)
    time: str | None | _Unset = UNSET
    alternative: Alternative | _Unset = UNSET
    redirect: Mapping | None | _Unset = UNSET
    simulated: CheckResult | None = field(default=None, compare=False, repr=False)
    """The simulation the explanation was told from (None: from the journal alone); what
    ``guard why --redirect`` runs."""

    @property
    def pip_argv(self) -> list[str]:
        """The pip command without ``pip``."""
        return list(self.command[1:])

    def to_json(self) -> dict:
        if self.package is None:
            return {"schema": SCHEMA, "package": None, "command": [], "verdict": None}
        out = {
            "schema": SCHEMA,
            "package": self.package,
            "command": list(self.command),
            "verdict": self.verdict,
            "status": dict(self.status) if self.status is not None else None,
            "involved": self.involved,
            "change": dict(self.change) if self.change is not None else None,
            "change_paths": [list(p) for p in self.change_paths],
            "blocked": [dict(b) for b in self.blocked],
            "cuda_wheels": [dict(c) for c in self.cuda_wheels],
            "cuda_runtime": dict(self.cuda_runtime) if self.cuda_runtime is not None else None,
            "simulation": dict(self.simulation),
        }
        if self.time is not UNSET:
            out["time"] = self.time
        if self.alternative is not UNSET:
            out["alternative"] = self.alternative.to_json()
        if self.redirect is not UNSET:
            out["redirect"] = dict(self.redirect) if self.redirect is not None else None
        return out


def explain(plan, verdict, snapshot, policy, package: str, argv: Sequence[str]) -> Explanation:
    """The explanation of ``package`` for a simulated command (plan + verdict)."""
    package = canonicalize_name(package)
    changes = {c.name: c for c in plan.changes}
    blocked, cuda = [], []
    for r in verdict.reasons:
        c = changes.get(r.name)
        paths = paths_to(plan.edges, r.name) or ([paths_from_chain(r.chain)] if r.chain else [])
        item = {
            "name": r.name,
            "rule": r.rule,
            "message": r.message,
            "installed": c.installed if c else None,
            "proposed": c.proposed if c else None,
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
    return Explanation(
        package=package,
        command=("pip", *argv),
        verdict=verdict.verdict,
        status=protection(snapshot, policy, package),
        involved=involved,
        change=change.to_json(package in verdict.protected) if change else None,
        change_paths=tuple(involved_paths),
        blocked=tuple(blocked),
        cuda_wheels=tuple(cuda),
        cuda_runtime=_cuda_runtime(snapshot),
        simulation={"path": plan.path, "fallback_reason": plan.fallback_reason},
    )


def explain_entry(entry: Mapping, snapshot, policy, package: str) -> Explanation:
    """The explanation rendered from a journal entry alone (when the command cannot be
    simulated again: index unreachable, env changed)."""
    package = canonicalize_name(package)
    changes = {c.get("name"): c for c in entry.get("changes") or ()}
    blocked, cuda = [], []
    for r in entry.get("reasons") or ():
        c = changes.get(r.get("name")) or {}
        path = paths_from_chain(r.get("chain") or ())
        item = {
            "name": r.get("name"),
            "rule": r.get("rule"),
            "message": r.get("message"),
            "installed": c.get("installed"),
            "proposed": c.get("proposed"),
            "action": c.get("action"),
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
    return Explanation(
        package=package,
        command=tuple(entry.get("argv") or ()),
        verdict=entry.get("verdict"),
        status=protection(snapshot, policy, package),
        involved=involved,
        change=changes.get(package),
        blocked=tuple(blocked),
        cuda_wheels=tuple(cuda),
        cuda_runtime=_cuda_runtime(snapshot),
        simulation={"path": "journal", "fallback_reason": None},
        time=entry.get("time"),
    )


def blocked_name(entry: Mapping | None) -> str:
    """What ``guard why`` without a package explains: the first name the last block was for
    (``""`` when the journal holds no block: the text then says so)."""
    for item in (entry or {}).get("reasons") or ():
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
            return item["name"]
    for item in (entry or {}).get("changes") or ():
        if isinstance(item, dict) and item.get("protected") and isinstance(item.get("name"), str):
            return item["name"]
    return ""


def why(
    ctx,
    snapshot,
    policy,
    package: str | None,
    pip_args: Sequence[str] = (),
    *,
    last_block: Mapping | None = None,
    alternative: bool = True,
    frontend: Frontend | None = None,
    installer: str = "pip",
    simulate_uv: Callable[[list[str]], CheckResult] | None = None,
) -> Explanation:
    """``guard why``: explain ``package`` for the pip command ``pip_args`` (the words after
    ``--``, as for ``guard check``), simulated now; without one, for ``last_block`` (the
    journal's last blocked entry), simulated again when it still blocks, else told from the entry
    alone. ``package`` None: the first package that block was for (``Explanation(None)`` when
    there is none). For a blocked command the answer also holds a verified alternative (unless
    ``alternative`` is False: :func:`guard.explain.alternative.find_alternative`) and the conda
    redirect, shown as ``frontend`` would run it. Raises ``GuardError`` when ``pip_args`` cannot
    be simulated. A uv command (``installer="uv"`` for ``pip_args``, the words after ``uv
    pip``; a journal entry whose argv starts with ``uv``) is simulated by ``simulate_uv`` (the
    words after ``uv``: uv's own dry run, judged), without an alternative search (the guard's
    resolver is not uv's)."""
    from guard.pipeline.check import pip_argv_for_check, simulate

    if package is None:
        package = blocked_name(last_block)
        if not package:
            return Explanation(None)
    if pip_args and installer == "uv" or not pip_args and (last_block or {}).get("argv", [None])[:1] == ["uv"]:
        return _why_uv(ctx, snapshot, policy, package, pip_args, last_block, frontend, simulate_uv)
    result = None
    if pip_args:
        argv = pip_argv_for_check(pip_args)
        result = simulate(argv, ctx, snap=snapshot, policy=policy)
    else:
        argv = list((last_block or {}).get("argv") or [])[1:]
        if last_block is not None and argv:
            try:
                result = simulate(argv, ctx, snap=snapshot, policy=policy)
            except GuardError:
                result = None
            if result is not None and not result.verdict.blocked:
                result = None  # the env changed since: what was blocked is told from the journal
    if result is None:
        return explain_entry(
            last_block if last_block is not None else {"argv": [], "verdict": None}, snapshot, policy, package
        )
    expl = replace(explain(result.plan, result.verdict, snapshot, policy, package, argv), simulated=result)
    if last_block is not None:
        expl = replace(expl, time=last_block.get("time"))
    if not result.verdict.blocked:
        return expl
    if alternative:
        from guard.explain.alternative import find_alternative

        blocked = [
            r.name for r in result.verdict.reasons if r.rule in ("protected-conda-package", "cuda-variant-change")
        ]
        expl = replace(expl, alternative=find_alternative(argv, ctx, snapshot, policy, blocked))
    plan = plan_redirect(result, snapshot, argv)
    return replace(expl, redirect=plan.to_json(frontend, ctx.prefix) if plan else None)


def _why_uv(ctx, snapshot, policy, package, uv_args, last_block, frontend, simulate_uv) -> Explanation:
    """:func:`why` for a uv command: re-simulated with uv (``simulate_uv``), else from the journal."""
    from guard.request.uv_command import GUARDED

    if uv_args:
        args = list(uv_args) if uv_args[0] in GUARDED else ["install", *uv_args]
        argv = ["pip", *args]
        if simulate_uv is None:
            raise GuardError("cannot simulate a uv command here")
        result = simulate_uv(argv)
    else:
        argv = list((last_block or {}).get("argv") or [])[1:]
        try:
            result = simulate_uv(argv) if simulate_uv is not None and argv else None
        except GuardError:
            result = None
        if result is not None and not result.verdict.blocked:
            result = None  # the env changed since: what was blocked is told from the journal
    if result is None:
        return explain_entry(last_block or {"argv": [], "verdict": None}, snapshot, policy, package)
    expl = explain(result.plan, result.verdict, snapshot, policy, package, argv)
    expl = replace(expl, command=("uv", *argv), simulated=result)
    if last_block is not None and not uv_args:
        expl = replace(expl, time=last_block.get("time"))
    if not result.verdict.blocked:
        return expl
    return replace(expl, redirect=_uv_redirect(result, snapshot, argv, frontend, ctx.prefix))


def _uv_redirect(result, snapshot, argv, frontend, prefix) -> Mapping | None:
    """The conda redirect of a blocked ``uv argv`` (``argv``: the words after ``uv``)."""
    from guard.request.uv_command import UvCommand

    cmd = UvCommand.parse(argv)
    if cmd.subcommand != "install":
        return None
    plan = plan_redirect(result, snapshot, list(cmd.argv[cmd.subcommand_at :]), installer="uv")
    return plan.to_json(frontend, prefix) if plan else None


def _cuda_runtime(snapshot) -> dict | None:
    from guard.policy.rules import conda_cuda_runtime

    rec = conda_cuda_runtime(snapshot) if snapshot is not None else None
    if rec is None:
        return None
    return {"name": rec.name, "version": rec.version}


def edges_of(item_paths: Sequence[Sequence[Mapping]]) -> list[tuple[Edge, ...]]:
    """JSON paths (as stored in an explanation) back into edges, for rendering."""
    return [tuple(Edge(e["parent"], e["child"], e["requirement"]) for e in p) for p in item_paths]
