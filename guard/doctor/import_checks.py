"""``guard doctor --import``: what the environment's own Python loads (the import probe's results
in the evidence) against conda's records. Pure."""

from __future__ import annotations

import os

from packaging.version import InvalidVersion, Version

from guard.doctor.diagnosis import Diagnosis
from guard.doctor.models import PROBLEM, Finding, Variant
from guard.doctor.variants import VARIANT_DISTS, conda_variant, major_minor


def check_imports(diag: Diagnosis) -> None:
    """What ``import`` gave in the environment's own Python against conda's record: it fails,
    loads from outside the environment, gives another version or another build variant, or (a
    CUDA torch with a GPU present) finds no CUDA."""
    real_prefix = diag.ev.real_prefix.rstrip(os.sep) + os.sep
    gpu_note = False
    imports = diag.ev.imports
    if imports is None:  # --import was not asked
        return
    for name in sorted(imports):
        result = imports[name]
        ref = diag.reference.get(name)
        record = ref[0] if ref else None
        installed = diag.snap.dists.get(name)
        expected = record.version if record is not None else (installed.version if installed else None)
        said = (
            f"conda list says {record.name} {record.version}"
            if record is not None
            else f"site-packages says {name} {expected}"
        )
        ev = {"import": result.to_json()}
        fix = diag.conda_reinstall(record) if record is not None else None
        stmt = f"`import {result.module}`"
        if result.error:
            diag.add(
                Finding(
                    PROBLEM,
                    "import-failed",
                    name,
                    f"{name}: {stmt} fails in the environment's Python: {result.error}",
                    ev,
                    fix,
                )
            )
            continue
        if result.file and not result.file.startswith(real_prefix):
            diag.add(
                Finding(
                    PROBLEM,
                    "import-shadowed",
                    name,
                    f"{name}: {stmt} loads {result.file}, outside the environment "
                    "(PYTHONPATH, the user site or the current directory?)",
                    ev,
                    None,
                )
            )
        if result.version and expected and not _same_version(result.version, expected):
            if not diag.amend(name, **ev):
                diag.add(
                    Finding(
                        PROBLEM,
                        "import-mismatch",
                        name,
                        f"{name}: {said}, {stmt} gives {result.version} ({result.file})",
                        ev,
                        diag.reinstall_fix(installed, record) if installed and record else fix,
                    )
                )
        want = conda_variant(record) if record is not None and name in VARIANT_DISTS else None
        if want is not None and record is not None and result.has_version_module:
            have = Variant("cuda", major_minor(result.cuda)) if result.cuda else Variant("cpu")
            if have.differs_from(want) and not diag.amend(name, **ev, installed_variant=have.to_json()):
                diag.add(
                    Finding(
                        PROBLEM,
                        "variant-mismatch",
                        name,
                        f"{name}: {stmt} gives a {have.describe()} ({result.module}.version.cuda = "
                        f"{result.cuda!r}) where conda's {record.name} {record.version} is a "
                        f"{want.describe()}",
                        {**ev, "conda_variant": want.to_json(), "installed_variant": have.to_json()},
                        fix,
                    ),
                    primary=True,
                )
        if name == "torch" and want is not None and record is not None and want.kind == "cuda":
            if diag.ev.gpu is None:
                gpu_note = True
            elif result.cuda_available is False:
                diag.add(
                    Finding(
                        PROBLEM,
                        "cuda-unavailable",
                        name,
                        f"{name}: torch.cuda.is_available() is False in the environment's Python, "
                        f"though a GPU is present ({diag.ev.gpu}) and conda's {record.name} is a "
                        f"{want.describe()}",
                        {**ev, "gpu": diag.ev.gpu},
                        fix,
                    )
                )
    if gpu_note:
        diag.notes.append(
            "no NVIDIA GPU visible here (no /dev/nvidia0 or /proc/driver/nvidia/version): "
            "torch.cuda.is_available() not checked"
        )


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a).public == Version(b).public
    except InvalidVersion:
        return a == b
