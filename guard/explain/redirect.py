"""The conda redirect of a blocked install, as a plan: what conda-forge ships goes to ``conda
install``, the rest stays with pip (and runs guarded, so the safety net still applies).

* Names: :func:`guard.policy.conda.conda_forge_name` (``torch`` -> ``pytorch``,
  ``opencv-python`` -> ``opencv``).
* Versions: the user's specifier in conda's syntax (:func:`guard.policy.conda.match_spec`).
* Variants: a protected package whose installed conda build is a CUDA (or CPU) build keeps it
  with a build-string glob (``"pytorch >=2.6 cuda*"``).
* What moves: every requested requirement conda-forge ships, and every protected conda package
  the pip command would change because a requested package asks for it (``transformers[torch]``
  -> ``torch>=2.6`` -> ``pytorch >=2.6 cuda*``). conda then solves the whole set consistently.

Pure: :func:`plan_redirect` reads the verdict, the plan and the snapshot and returns a
:class:`RedirectPlan`. Which conda front end runs it is found at the edge
(:func:`guard.act.redirect.detect_frontend`), and :func:`guard.act.redirect.run_redirect` runs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from guard.policy.conda import NotExpressible, build_glob_for, conda_forge_name, match_spec, variant_of

CHANNEL = "conda-forge"

_SAFE = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")


def shell_join(argv: Sequence[str]) -> str:
    """A command line a user can paste: tokens with spaces or shell characters in double quotes."""
    out = []
    for a in argv:
        if a and _SAFE.match(a):
            out.append(a)
        else:
            out.append('"' + re.sub(r'(["\\$`])', r"\\\1", a) + '"')
    return " ".join(out)


@dataclass(frozen=True)
class Frontend:
    kind: str  # "conda" | "mamba" | "micromamba"
    exe: str


@dataclass(frozen=True)
class RedirectPlan:
    """``conda_specs`` go to ``<frontend> install -c conda-forge``; ``pip_argv`` (``install
    ...``) is the remainder for the guarded pip, None when nothing is left for pip."""

    conda_specs: tuple[str, ...]
    moved: tuple[str, ...]  # the pip requirements (as typed) that conda takes over
    pip_argv: tuple[str, ...] | None
    notes: tuple[str, ...] = ()

    def conda_argv(self, frontend: Frontend | None, prefix: str | os.PathLike, *, yes: bool = True) -> list[str]:
        exe = frontend.exe if frontend else "conda"
        return [exe, "install", "--prefix", str(prefix), "-c", CHANNEL, *(["-y"] if yes else []), *self.conda_specs]

    def shown_conda(self, frontend: Frontend | None, prefix) -> str:
        argv = self.conda_argv(frontend, prefix, yes=False)
        argv[0] = frontend.kind if frontend else "conda"
        return shell_join(argv)

    def shown_pip(self) -> str | None:
        return shell_join(["pip", *self.pip_argv]) if self.pip_argv else None

    def to_json(self, frontend: Frontend | None = None, prefix=None) -> dict:
        return {
            "conda_specs": list(self.conda_specs),
            "moved": list(self.moved),
            "pip_argv": list(self.pip_argv) if self.pip_argv else None,
            "notes": list(self.notes),
            "conda_command": self.shown_conda(frontend, prefix) if prefix is not None else None,
            "pip_command": self.shown_pip(),
        }


def _variant_glob(snapshot, name: str) -> str | None:
    dist = snapshot.dists.get(name) if snapshot is not None else None
    if dist is None or dist.owner != "conda" or dist.conda_record is None:
        return None
    return build_glob_for(variant_of(dist.conda_record))


def plan_redirect(result, snapshot, pip_argv: Sequence[str] | None = None) -> RedirectPlan | None:
    """Split a blocked install into a conda step and a pip remainder; None when conda-forge
    takes nothing of it (then there is nothing to redirect)."""
    plan = result.plan
    if plan.command != "install":
        return None
    roots = [e for e in plan.edges if e.parent is None]
    # the plan spells requirements normalized (``opencv-python<5,>=4.8``); find them as typed
    typed: dict[str, str] = {}
    for a in pip_argv or ():
        try:
            typed.setdefault(str(Requirement(a)), a)
        except InvalidRequirement:
            continue
    position = {t: i for i, t in enumerate(pip_argv or ())}
    roots.sort(key=lambda e: position.get(typed.get(e.requirement, e.requirement), len(position)))
    specs: dict[str, str] = {}  # conda name -> spec
    moved: list[str] = []
    kept: list[str] = []
    notes: list[str] = []
    requested = set()
    for e in roots:
        try:
            req = Requirement(e.requirement)
        except InvalidRequirement:
            kept.append(typed.get(e.requirement, e.requirement))
            continue
        name = canonicalize_name(req.name)
        requested.add(name)
        conda_name = conda_forge_name(name)
        token = typed.get(e.requirement, e.requirement)
        if req.url or conda_name is None or (pip_argv is not None and token not in pip_argv):
            kept.append(token)
            if conda_name is None and not req.url:
                notes.append(f"{req.name}: not on conda-forge, stays with pip")
            continue
        try:
            specs[conda_name] = match_spec(conda_name, req.specifier, _variant_glob(snapshot, name))
        except NotExpressible as exc:
            kept.append(token)
            notes.append(f"{token}: {exc} has no conda equivalent, stays with pip")
            continue
        moved.append(token)
        if req.extras:
            notes.append(
                f"{token}: conda packages have no extras; the extra's protected "
                f"dependencies are added below, the rest comes with conda's {conda_name}"
            )
    # protected packages the command changes because a requested package asks for them
    moved_names = {canonicalize_name(Requirement(m).name) for m in moved}
    for reason in result.verdict.reasons:
        if reason.rule not in ("protected-conda-package", "conda-owned"):
            continue
        change = plan.change_for(reason.name)
        if change is None or change.action == "remove":
            continue
        conda_name = conda_forge_name(reason.name) or (change.conda_record or {}).get("name")
        if not conda_name or conda_name in specs:
            continue
        wanted = SpecifierSet()
        direct = False
        for e in plan.edges:
            if e.child != reason.name or e.parent is None:
                continue
            parent = canonicalize_name(e.parent.split("==")[0].split("[")[0])
            # conda's package for a moved parent brings its own dependencies, but not those of a
            # pip extra (conda packages have no extras): transformers[torch] -> torch is added here,
            # torch -> triton is left to conda's pytorch
            if parent in requested and ("[" in e.parent or parent not in moved_names):
                try:
                    wanted &= Requirement(e.requirement).specifier
                    direct = True
                except InvalidRequirement:
                    pass
        if not direct:
            continue  # conda brings it with the package that needs it (triton with pytorch)
        try:
            specs[conda_name] = match_spec(conda_name, wanted, _variant_glob(snapshot, reason.name))
        except NotExpressible:
            specs[conda_name] = match_spec(conda_name, "", _variant_glob(snapshot, reason.name))
    if not specs:
        return None
    pip_rest = None
    if kept:
        if pip_argv is not None:
            rest = list(pip_argv)
            for m in moved:
                rest.remove(m)
            pip_rest = tuple(rest)
        else:
            pip_rest = ("install", *kept)
    return RedirectPlan(tuple(specs.values()), tuple(moved), pip_rest, tuple(notes))


def instead_text(plan: RedirectPlan, frontend: Frontend | None, prefix: str | os.PathLike) -> str:
    """One line for a block message: the conda step, then pip's remainder."""
    text = "instead: " + plan.shown_conda(frontend, prefix)
    if plan.pip_argv:
        text += " && " + str(plan.shown_pip())
    return text
