"""Policy and verdict: which changes of a plan are blocked, and why. Pure: no I/O.

Rules (the README's table):

* ``protected-conda-package`` (block): the plan changes (upgrade, downgrade, reinstall, remove)
  a distribution that conda installed and that is protected: the torch family, numpy, and any
  name the configuration adds.
* ``cuda-wheel-beside-conda-cuda`` (block): the plan newly installs a PyPI CUDA runtime wheel
  (``nvidia-*-cu12``, CUDA 13 ``nvidia-*``, ``cuda-toolkit``, ``triton``) while conda provides a
  CUDA runtime in the environment.
* ``cuda-variant-change`` (block, even for an unprotected name): the plan replaces conda's CUDA
  build of a torch-family distribution with a CPU (or ROCm) build, or with a build for another
  CUDA major (``cu118`` -> CUDA 12). The wheel's variant comes from its local version label, else
  from the CUDA runtime wheels it requires (:mod:`guard.policy.variants`). It takes the place of
  ``protected-conda-package`` for that change: one reason, the more precise one.
* ``conda-owned`` (warning, or block with ``conda_owned: block``): any other change to a
  conda-owned distribution.
* ``unreadable-environment`` (block): something in the environment could not be read (a
  conda-meta record that cannot be read or parsed, a metadata directory that is a link loop or
  unreadable, ...: the snapshot's ``anomalies``) and it could hide a protected distribution: its
  name is protected, or cannot be told. Nothing can be judged safely there, so any install or
  uninstall is blocked, naming the file and the problem. An anomaly that can only hide
  unprotected names is a warning.
* Changes to pip-owned distributions and new installs are allowed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from guard.models import Anomaly, Plan, Reason, Verdict
from guard.policy.chains import chains_to
from guard.policy.names import DEFAULT_PROTECTED, canonical_name, conda_cuda_runtime_names, is_pypi_cuda_wheel
from guard.policy.variants import VARIANT_FAMILY, label_variant, variant_change, wheel_variant

VERBS = {
    "upgrade": "upgrade",
    "downgrade": "downgrade",
    "reinstall": "reinstall",
    "remove": "remove",
    "install": "install",
}


@dataclass(frozen=True)
class Policy:
    protected: frozenset = DEFAULT_PROTECTED
    unprotected: frozenset = frozenset()
    conda_owned: str = "warn"  # "warn" | "block": other changes to conda-owned distributions
    on_block: str = "block"  # "block" | "redirect" (what the action stage does with a block)

    def is_protected(self, name: str) -> bool:
        name = canonical_name(name)
        return name in self.protected and name not in self.unprotected


def protected_conda_versions(snapshot, policy: Policy) -> dict[str, str]:
    """Every protected conda-owned distribution of the env at its installed version (what the
    safety net pins and the alternative search holds)."""
    return {
        name: d.version
        for name, d in sorted(snapshot.dists.items())
        if d.owner == "conda" and policy.is_protected(name)
    }


def conda_cuda_runtime(snapshot) -> Any:
    """The conda record (a ``CondaRecord``: ``name``, ``version``...) that stands for the env's CUDA
    runtime (cuda-cudart first), None when there is none."""
    runtime = conda_cuda_runtime_names()
    records = getattr(snapshot, "conda_records", {}) or {}
    for preferred in ("cuda-cudart", "cudatoolkit", "cuda-runtime", "pytorch-cuda", "cuda-version"):
        if preferred in records:
            return records[preferred]
    for name in sorted(records):
        if name in runtime:
            return records[name]
    return None


def short_channel(channel: str) -> str:
    """``conda-forge`` stays; a local ``file:///.../conda-forge/`` channel shows its last segment."""
    if "://" in channel:
        return channel.rstrip("/").rsplit("/", 1)[-1] or channel
    return channel


def describe_record(rec) -> str:
    if rec is None:
        return ""
    return f"{rec['name']} {rec['version']} {rec['build']}, channel {short_channel(rec['channel'])}"


UNREADABLE = "unreadable-environment"
CUDA_VARIANT_CHANGE = "cuda-variant-change"


def _variant_message(plan: Plan, snapshot, change) -> str | None:
    """What the ``cuda-variant-change`` message says about a change of a conda-owned torch-family
    dist (``a CPU build over conda's CUDA 12.6 build (version label +cpu)``), None when the change
    keeps the build's accelerator (or nothing is known about the wheel's)."""
    if change.name not in VARIANT_FAMILY or not change.proposed or change.action == "remove":
        return None
    # imported here: guard.policy.conda loads packaging's specifiers (~15 ms) and the warm
    # path (a cached verdict) imports this module without ever judging a change
    from guard.policy.conda import variant_of

    rec = change.conda_record
    conda = variant_of(rec)
    if conda is None or conda == "CUDA":
        records = getattr(snapshot, "conda_records", {}) or {}
        full = records.get((rec or {}).get("name", "")) if rec else None
        conda = variant_of(full) or conda
    label = f"{change.name}=={change.proposed}"
    requires = [e.requirement for e in plan.edges if e.parent == label]
    wheel = wheel_variant(change.proposed, requires)
    kind = variant_change(conda, wheel)
    if kind is None:
        return None
    how = (
        f"version label +{change.proposed.partition('+')[2]}"
        if label_variant(change.proposed)
        else f"it requires {wheel} runtime wheels"
    )
    if kind == "cpu-over-cuda":
        return f"a {wheel} build over conda's {conda} build ({how})"
    return f"a {wheel} build over conda's {conda} build, another CUDA major ({how})"


def blocking_anomalies(snapshot, policy: Policy) -> tuple[Anomaly, ...]:
    """The snapshot's anomalies that could hide a protected distribution: one of their names is
    protected, or they cannot tell which names they hide. None outside a conda environment
    (nothing there is conda's to protect)."""
    if not getattr(snapshot, "is_conda", True):
        return ()
    return tuple(
        a
        for a in getattr(snapshot, "anomalies", ()) or ()
        if not a.names or any(policy.is_protected(n) for n in a.names)
    )


def anomaly_reason(anomaly: Anomaly, policy: Policy) -> Reason:
    """The block reason for an anomaly: the file, the problem, what it could hide, the override."""
    hidden = [n for n in anomaly.names if policy.is_protected(n)]
    what = f"protected {', '.join(hidden)}" if hidden else "any package, protected ones too"
    message = (
        f"{anomaly.message}: the environment cannot be read safely; this could hide {what}, so it is "
        "treated as protected (repair or remove it; override: GUARD_DISABLE=1)"
    )
    return Reason(
        hidden[0] if hidden else os.path.basename(anomaly.path.rstrip("/")) or anomaly.path, UNREADABLE, message
    )


def evaluate(plan: Plan, snapshot, policy: Policy = Policy()) -> Verdict:
    """Judge ``plan`` for the environment ``snapshot`` under ``policy``."""
    reasons: list[Reason] = []
    warnings: list[str] = []
    protected_names: set[str] = set()
    if plan.target is not None:
        return Verdict("allow")  # pip --target: nothing in the environment changes
    for anomaly in blocking_anomalies(snapshot, policy):
        reasons.append(anomaly_reason(anomaly, policy))
        protected_names.update(c.name for c in plan.changes if c.name in anomaly.names)
    cuda = conda_cuda_runtime(snapshot)
    for change in plan.changes:
        verb = VERBS[change.action]
        if change.owner == "conda":
            rec = change.conda_record
            what = (
                f"{change.installed} -> {change.proposed}"
                if change.proposed and change.action != "reinstall"
                else change.installed
            )
            msg = f"pip would {verb} {change.name} {what} (conda: {describe_record(rec)})"
            variant = _variant_message(plan, snapshot, change)
            if variant is not None:
                variant_msg = f"pip would {verb} {change.name} {what}: {variant} (conda: {describe_record(rec)})"
                if policy.is_protected(change.name):
                    protected_names.add(change.name)
                reasons.append(Reason(change.name, CUDA_VARIANT_CHANGE, variant_msg, _chain(plan, change.name)))
            elif policy.is_protected(change.name):
                protected_names.add(change.name)
                reasons.append(Reason(change.name, "protected-conda-package", msg, _chain(plan, change.name)))
            elif policy.conda_owned == "block":
                reasons.append(Reason(change.name, "conda-owned", msg, _chain(plan, change.name)))
            else:
                warnings.append(f"{msg}: conda's records will disagree with site-packages")
        elif (
            change.action == "install"
            and cuda is not None
            and is_pypi_cuda_wheel(change.name)
            and change.name not in policy.unprotected
        ):
            msg = (
                f"pip would add {change.name} {change.proposed} beside conda's CUDA runtime "
                f"({cuda.name} {cuda.version})"
            )
            reasons.append(Reason(change.name, "cuda-wheel-beside-conda-cuda", msg, _chain(plan, change.name)))
    order = {
        CUDA_VARIANT_CHANGE: 0,
        "protected-conda-package": 0,
        "conda-owned": 1,
        "cuda-wheel-beside-conda-cuda": 2,
        UNREADABLE: 3,
    }
    reasons.sort(key=lambda r: order.get(r.rule, 3))
    verdict = "block" if reasons else "allow"
    return Verdict(verdict, tuple(reasons), tuple(warnings), frozenset(protected_names))


def _chain(plan: Plan, name: str) -> tuple[str, ...]:
    chains = chains_to(plan.edges, name, limit=1)
    return chains[0] if chains else ()
