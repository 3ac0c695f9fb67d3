"""``guard status``: what the guard protects in an environment, and whether it is switched on.

``collect_status`` is pure (the snapshot, the policy, the remembered records and a few facts read
at the edge by ``guard_files``); ``status_text`` / ``status_json`` render it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from guard.act.remembered import RememberedRecord, dist_of_dir
from guard.doctor.models import VersionFile
from guard.doctor.variants import VARIANT_DISTS, conda_variant, installed_variant
from guard.environment.conda_meta import CondaRecord
from guard.environment.snapshot import EnvironmentSnapshot
from guard.policy.names import is_pypi_cuda_wheel
from guard.policy.rules import Policy, blocking_anomalies, conda_cuda_runtime

SCHEMA = 1
ACTIVATE_SCRIPT = "etc/conda/activate.d/conda-pip-guard.sh"
"""The shims' activation script, relative to the prefix (``guard shims install`` writes it)."""
UV_SHIM = "etc/conda-pip-guard/shims/uv"
"""The ``uv`` shim, relative to the prefix (``guard shims install`` writes it): ``uv pip
install|sync|uninstall`` go through the guard while the env is active."""
PTH_GLOBS = ("conda_pip_guard*.pth", "conda-pip-guard*.pth")
"""The ``python -m pip`` guard: a ``.pth`` file in the environment's site-packages (``guard shims
install`` writes ``conda-pip-guard.pth``)."""


@dataclass(frozen=True)
class ProtectedStatus:
    name: str
    version: str | None
    """In site-packages; None when not installed."""
    owner: str
    """``"conda"``, ``"pip"`` (any other installer) or ``"absent"``."""
    installer: str | None
    record: CondaRecord | None
    record_source: str | None
    """``"conda-meta"``, ``"remembered"`` (conda deleted it) or None."""
    variant: str | None
    """``CUDA 12.6 build`` / ``CPU build`` of what is installed (conda's record where conda owns it,
    else ``version.py``); None for packages without variants."""

    def to_json(self) -> dict:
        rec = self.record
        return {
            "name": self.name,
            "version": self.version,
            "owner": self.owner,
            "installer": self.installer,
            "conda": None if rec is None else {**rec.summary(), "source": self.record_source},
            "variant": self.variant,
        }


@dataclass(frozen=True)
class GuardStatus:
    prefix: str
    is_conda: bool
    python: str
    protected: tuple[ProtectedStatus, ...]
    cuda_runtime: CondaRecord | None
    cuda_wheels: tuple[str, ...]
    """pip-installed PyPI CUDA wheels, ``name version``."""
    shims: str | None
    """The activation script's path when installed."""
    pip_guard: tuple[str, ...]
    """The ``.pth`` files of the ``python -m pip`` guard found."""
    config_files: tuple[str, ...]
    protected_names: tuple[str, ...]
    remembered_file: str | None
    remembered: int
    unreadable: tuple[tuple[str, bool], ...] = ()
    """What could not be read (``path: problem``), and whether it could hide a protected package:
    while one such is there, every guarded install and uninstall is blocked (rule
    ``unreadable-environment``)."""
    uv_shim: str | None = None
    """The ``uv`` shim's path when installed."""

    def to_json(self) -> dict:
        rt = self.cuda_runtime
        return {
            "schema": SCHEMA,
            "prefix": self.prefix,
            "conda": self.is_conda,
            "python": self.python,
            "protected": [p.to_json() for p in self.protected],
            "cuda_runtime": None
            if rt is None
            else {"name": rt.name, "version": rt.version, "build": rt.build, "channel": rt.channel},
            "cuda_wheels": list(self.cuda_wheels),
            "shims": {"installed": self.shims is not None, "path": self.shims},
            "pip_guard": {"installed": bool(self.pip_guard), "paths": list(self.pip_guard)},
            "uv_guard": {"installed": self.uv_shim is not None, "path": self.uv_shim},
            "config_files": list(self.config_files),
            "protected_names": list(self.protected_names),
            "remembered": {"path": self.remembered_file, "records": self.remembered},
            "unreadable": [{"message": m, "blocks": b} for m, b in self.unreadable],
        }


def guard_files(snapshot: EnvironmentSnapshot) -> tuple[str | None, tuple[str, ...]]:
    """(the shims' activation script if present, the guard's ``.pth`` files in the environment's
    site directories)."""
    script = Path(snapshot.prefix) / ACTIVATE_SCRIPT
    pth = []
    for site in dict.fromkeys(
        (snapshot.interpreter.purelib, snapshot.interpreter.platlib, *snapshot.interpreter.site_dirs)
    ):
        if site and site != snapshot.interpreter.user_site and os.path.isdir(site):
            pth += sorted(str(p) for pattern in PTH_GLOBS for p in Path(site).glob(pattern))
    return (str(script) if script.is_file() else None), tuple(dict.fromkeys(pth))


def uv_shim_file(prefix: str) -> str | None:
    """The ``uv`` shim's path if present."""
    shim = Path(prefix) / UV_SHIM
    return str(shim) if shim.is_file() else None


def collect_status(
    snapshot: EnvironmentSnapshot,
    policy: Policy,
    config_files: Sequence[str],
    remembered: Mapping[str, RememberedRecord],
    *,
    remembered_file: str | None,
    shims: str | None,
    pip_guard: Sequence[str],
    version_files: Mapping[str, VersionFile],
    uv_shim: str | None = None,
) -> GuardStatus:
    """The status of ``snapshot``'s environment. Pure."""
    reference: dict[str, tuple[CondaRecord, str]] = {}
    for record in snapshot.conda_records.values():
        for dist_dir in record.dist_dirs:
            reference.setdefault(dist_of_dir(dist_dir)[0], (record, "conda-meta"))
    for rem in remembered.values():
        if rem.record.name not in snapshot.conda_records:
            reference.setdefault(rem.dist_name, (rem.record, "remembered"))
    names = sorted(n for n in set(snapshot.dists) | set(reference) if policy.is_protected(n))
    protected = []
    for name in names:
        dist = snapshot.dists.get(name)
        ref = reference.get(name)
        conda_record = ref[0] if ref is not None else None
        source = ref[1] if ref is not None else None
        owner = "absent" if dist is None else dist.owner
        variant = None
        if name in VARIANT_DISTS:
            v = conda_variant(dist.conda_record) if dist is not None and dist.conda_record is not None else None
            if v is None and dist is not None:
                v = installed_variant(dist.version, version_files.get(name))
            variant = v.describe() if v else None
        protected.append(
            ProtectedStatus(
                name,
                dist.version if dist else None,
                owner,
                dist.installer if dist else None,
                conda_record,
                source,
                variant,
            )
        )
    wheels = tuple(
        f"{d.name} {d.version}"
        for n, d in sorted(snapshot.dists.items())
        if d.owner != "conda" and is_pypi_cuda_wheel(n)
    )
    blocking = blocking_anomalies(snapshot, policy)
    return GuardStatus(
        prefix=snapshot.prefix,
        is_conda=snapshot.is_conda,
        python=snapshot.interpreter.version,
        protected=tuple(protected),
        cuda_runtime=conda_cuda_runtime(snapshot),
        cuda_wheels=wheels,
        shims=shims,
        pip_guard=tuple(pip_guard),
        config_files=tuple(config_files),
        protected_names=tuple(sorted(n for n in policy.protected if n not in policy.unprotected)),
        remembered_file=remembered_file,
        remembered=len(remembered),
        unreadable=tuple((a.message, a in blocking) for a in snapshot.anomalies),
        uv_shim=uv_shim,
    )


def status_text(status: GuardStatus) -> str:
    kind = "conda" if status.is_conda else "not conda: no conda-meta/"
    lines = [f"environment  {status.prefix} ({kind}, Python {status.python})"]
    if status.protected:
        rows = []
        for p in status.protected:
            rec = p.record
            conda = "-" if rec is None else f"{rec.name} {rec.version} {rec.build} [{rec.channel}]"
            if rec is not None and p.record_source == "remembered":
                conda += " (record gone; remembered)"
            owner = p.owner if p.owner != "pip" else (p.installer or "pip")
            rows.append((p.name, p.version or "-", owner, p.variant or "", conda))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for i, row in enumerate(rows):
            head = "protected   " if i == 0 else " " * 12
            lines.append(f"{head} " + "  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + f"  {row[4]}")
    else:
        lines.append(f"protected    none installed ({', '.join(status.protected_names)})")
    for i, (message, blocks) in enumerate(status.unreadable):
        lines.append(
            ("unreadable   " if i == 0 else " " * 13)
            + message
            + (" (could hide a protected package: installs are blocked)" if blocks else "")
        )
    if any(blocks for _, blocks in status.unreadable):
        lines.append(
            " " * 13 + "(every guarded install and uninstall is blocked until this is repaired; "
            "override: GUARD_DISABLE=1)"
        )
    rt = status.cuda_runtime
    cuda = f"conda {rt.name} {rt.version} [{rt.channel}]" if rt else "no conda CUDA runtime"
    if status.cuda_wheels:
        cuda += f"; pip CUDA wheels: {', '.join(status.cuda_wheels)}"
    lines.append(f"CUDA         {cuda}")
    lines.append(f"shims        {'installed (' + status.shims + ')' if status.shims else 'not installed'}")
    pth = f"installed ({', '.join(status.pip_guard)})" if status.pip_guard else "not installed"
    lines.append(f"pip hook     {pth} (guards python -m pip and %pip)")
    uv = f"guarded ({status.uv_shim})" if status.uv_shim else "not guarded (no uv shim: guard shims install)"
    lines.append(f"uv           {uv} (uv pip install, sync, uninstall)")
    lines.append(f"config       {', '.join(status.config_files) if status.config_files else 'none (defaults)'}")
    lines.append(
        f"remembered   {status.remembered} conda record{'s' if status.remembered != 1 else ''}"
        + (f" ({status.remembered_file})" if status.remembered else "")
    )
    return "\n".join(lines)


def status_json(status: GuardStatus) -> str:
    return json.dumps(status.to_json(), indent=2)
