"""The conda redirect of a blocked install, as a plan: what conda-forge ships goes to ``conda
install``, the rest stays with pip (and runs guarded, so the safety net still applies).

* Names: :func:`guard.policy.conda.conda_forge_name` (``torch`` -> ``pytorch``,
  ``opencv-python`` -> ``opencv``).
* Versions: the user's specifier in conda's syntax (:func:`guard.policy.conda.match_spec`).
* Variants, CUDA-exact, the way the env's record was built (shared/data/torch_variants.md §1):
  a conda-forge CUDA build keeps its CUDA version with a build-string glob
  (``cuda126_mkl_py311_h...`` -> ``"pytorch >=2.6 cuda126*"``); a pytorch-channel build
  (``py3.11_cuda11.8_cudnn8.7.0_0``) keeps it with ``"pytorch ==2.4.0 *_cuda11.8_*"`` plus
  ``"pytorch-cuda 11.8.*"``, and the command then names that record's channels (``-c pytorch -c
  nvidia -c conda-forge``); a variant read only from ``depends`` adds ``"cuda-version 12.6.*"``.
  CPU builds keep ``cpu*`` (``*_cpu_*`` on the pytorch channel).
* The torch family moves together: when the redirect changes pytorch, the env's conda
  torchvision/torchaudio from pytorch's channel are named too, with their own CUDA pin and no
  version: conda picks the release that fits the new pytorch (each one's record pins its
  pytorch; no compatibility table is shipped here), instead of keeping the old one and failing.
* Expectations: each spec's name, version (PEP 440) and variant, so that the runner can check
  the env after conda ran (:meth:`RedirectPlan.expected`).
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from guard.policy.conda import NotExpressible, conda_forge_name, is_conda_cuda_runtime, match_spec, variant_of
from guard.policy.rules import short_channel

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
class Expected:
    """What the env's conda record ``name`` must say once the conda step ran: a version within
    ``specifier`` (PEP 440, '' for any) and, when not None, exactly ``variant`` (``"CUDA 11.8"``,
    ``"CPU"``: :func:`guard.policy.conda.variant_of`)."""

    name: str
    specifier: str
    variant: str | None


@dataclass(frozen=True)
class Pin:
    """How one conda package keeps its installed build's variant: a build glob, extra specs
    (``pytorch-cuda 11.8.*``), the channel its record came from, the variant itself."""

    glob: str | None
    extra: tuple[str, ...] = ()
    channel: str | None = None
    variant: str | None = None


_CF_CUDA_BUILD = re.compile(r"^(cuda\d+)(?:_|py|$)")
_PT_CUDA_BUILD = re.compile(r"(?:^|_)cuda(\d+\.\d+)_")
_PT_CPU_BUILD = re.compile(r"^py\d\.\d+_cpu_")


def pin_for(record) -> Pin:
    """The CUDA-exact pin for an installed conda record (a CondaRecord or a mapping with
    ``build``, ``depends``, ``channel``); ``Pin(None)`` for builds without a variant (numpy)."""
    variant = variant_of(record)
    if record is None or variant is None:
        return Pin(None)
    get = record.get if isinstance(record, Mapping) else lambda k, d=None: getattr(record, k, d)
    build = str(get("build", "") or "")
    channel = short_channel(str(get("channel", "") or "")) or None
    m = _CF_CUDA_BUILD.match(build)
    if m:
        return Pin(f"{m.group(1)}*", (), channel, variant)
    m = _PT_CUDA_BUILD.search(build)
    if m:
        return Pin(f"*_cuda{m.group(1)}_*", (f"pytorch-cuda {m.group(1)}.*",), channel, variant)
    if _PT_CPU_BUILD.match(build):
        return Pin("*_cpu_*", (), channel, variant)
    if variant == "CPU":
        return Pin("cpu*", (), channel, variant)
    cuda = variant.partition(" ")[2]
    return Pin("cuda*", (f"cuda-version {cuda}.*",) if cuda else (), channel, variant)


@dataclass(frozen=True)
class RedirectPlan:
    """``conda_specs`` go to ``<frontend> install -c conda-forge``; ``pip_argv`` (``install
    ...``) is the remainder for the guarded pip, None when nothing is left for pip."""

    conda_specs: tuple[str, ...]
    moved: tuple[str, ...]  # the pip requirements (as typed) that conda takes over
    pip_argv: tuple[str, ...] | None
    notes: tuple[str, ...] = ()
    channels: tuple[str, ...] = (CHANNEL,)
    expected: tuple[Expected, ...] = ()
    installer: str = "pip"  # who runs the remainder: "pip" (``pip install ...``) or "uv" (``uv pip install ...``)

    @property
    def installer_words(self) -> tuple[str, ...]:
        return ("pip",) if self.installer == "pip" else (self.installer, "pip")

    def conda_argv(self, frontend: Frontend | None, prefix: str | os.PathLike, *, yes: bool = True) -> list[str]:
        exe = frontend.exe if frontend else "conda"
        channels = [a for c in self.channels for a in ("-c", c)]
        return [exe, "install", "--prefix", str(prefix), *channels, *(["-y"] if yes else []), *self.conda_specs]

    def shown_conda(self, frontend: Frontend | None, prefix) -> str:
        argv = self.conda_argv(frontend, prefix, yes=False)
        argv[0] = frontend.kind if frontend else "conda"
        return shell_join(argv)

    def shown_pip(self) -> str | None:
        return shell_join([*self.installer_words, *self.pip_argv]) if self.pip_argv else None

    def to_json(self, frontend: Frontend | None = None, prefix=None) -> dict:
        return {
            "conda_specs": list(self.conda_specs),
            "moved": list(self.moved),
            "pip_argv": list(self.pip_argv) if self.pip_argv else None,
            "notes": list(self.notes),
            "conda_command": self.shown_conda(frontend, prefix) if prefix is not None else None,
            "pip_command": self.shown_pip(),
        }


def _pin(snapshot, name: str) -> Pin:
    dist = snapshot.dists.get(name) if snapshot is not None else None
    if dist is None or dist.owner != "conda" or dist.conda_record is None:
        return Pin(None)
    return pin_for(dist.conda_record)


def _spec_text(specifier) -> str:
    """A PEP 440 specifier without local labels (conda versions carry none)."""
    return ",".join(f"{s.operator}{s.version.split('+', 1)[0]}" for s in SpecifierSet(str(specifier)))


def plan_redirect(
    result, snapshot, pip_argv: Sequence[str] | None = None, installer: str = "pip"
) -> RedirectPlan | None:
    """Split a blocked install into a conda step and a pip remainder; None when conda-forge
    takes nothing of it (then there is nothing to redirect). ``installer="uv"``: a blocked ``uv
    pip install`` (``pip_argv``: the words after ``uv pip``); the conda step is the same, the
    remainder is a ``uv pip install``."""
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
    pins: dict[str, Pin] = {}
    expected: dict[str, Expected] = {}
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
        pin = _pin(snapshot, name)
        try:
            specs[conda_name] = match_spec(conda_name, req.specifier, pin.glob)
            pins[conda_name] = pin
            expected[conda_name] = Expected(conda_name, _spec_text(req.specifier), pin.variant)
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
        if reason.rule not in ("protected-conda-package", "cuda-variant-change", "conda-owned"):
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
        pin = _pin(snapshot, reason.name)
        try:
            specs[conda_name] = match_spec(conda_name, wanted, pin.glob)
            expected[conda_name] = Expected(conda_name, _spec_text(wanted), pin.variant)
        except NotExpressible:
            specs[conda_name] = match_spec(conda_name, "", pin.glob)
            expected[conda_name] = Expected(conda_name, "", pin.variant)
        pins[conda_name] = pin
    if not specs:
        return None
    _move_family(snapshot, specs, pins, expected, notes)
    channels: list[str] = []
    for pin in pins.values():
        for extra in pin.extra:
            extra_name = extra.split()[0]
            specs.setdefault(extra_name, extra)
            expected.setdefault(extra_name, Expected(extra_name, "", None))
        if pin.channel and pin.channel != CHANNEL and pin.glob is not None:
            channels.append(pin.channel)
            # the pytorch channel's CUDA builds take their runtime from the nvidia channel
            channels.extend(_runtime_channels(snapshot))
    channels.append(CHANNEL)
    pip_rest = None
    if kept:
        if pip_argv is not None:
            rest = list(pip_argv)
            for m in moved:
                rest.remove(m)
            pip_rest = tuple(rest)
        else:
            pip_rest = ("install", *kept)
    return RedirectPlan(
        tuple(specs.values()),
        tuple(moved),
        pip_rest,
        tuple(notes),
        tuple(dict.fromkeys(channels)),
        tuple(expected.values()),
        installer,
    )


FAMILY = ("torchvision", "torchaudio")  # conda names (the same on PyPI)


def _move_family(snapshot, specs: dict, pins: dict, expected: dict, notes: list) -> None:
    """When pytorch moves, name the env's conda torchvision/torchaudio from pytorch's channel,
    without a version (conda picks the one that fits the new pytorch; their records pin it)."""
    if "pytorch" not in specs or snapshot is None:
        return
    channel = pins["pytorch"].channel if "pytorch" in pins else None
    for name in FAMILY:
        dist = snapshot.dists.get(name)
        if name in specs or dist is None or dist.owner != "conda" or dist.conda_record is None:
            continue
        pin = pin_for(dist.conda_record)
        if pin.channel != channel:
            continue
        specs[name] = match_spec(name, "", pin.glob)
        pins[name] = pin
        expected[name] = Expected(name, "", pin.variant)
        notes.append(
            f"{name} {dist.version} moves with pytorch (same channel, {channel}): conda picks the "
            "version that fits the new pytorch"
        )


def _runtime_channels(snapshot) -> list[str]:
    """Channels of the env's CUDA runtime records other than conda-forge (``nvidia``)."""
    records = getattr(snapshot, "conda_records", {}) or {}
    out = []
    for name in sorted(records):
        if is_conda_cuda_runtime(name) and name != "pytorch-cuda":
            channel = short_channel(records[name].channel)
            if channel and channel != CHANNEL:
                out.append(channel)
    return out


def instead_text(plan: RedirectPlan, frontend: Frontend | None, prefix: str | os.PathLike) -> str:
    """One line for a block message: the conda step, then pip's remainder."""
    text = "instead: " + plan.shown_conda(frontend, prefix)
    if plan.pip_argv:
        text += " && " + str(plan.shown_pip())
    return text
