"""``guard doctor``: find what pip already did to an environment's conda packages.

Users arrive after the damage: ``conda list`` says torch 2.7.0, ``import torch`` loads 2.6.0,
``torch.cuda.is_available()`` turned False after some ``pip install``. The doctor compares three
accounts of the environment and reports where they disagree:

- conda's records (``conda-meta/*.json``, in the snapshot) and, for records conda already deleted,
  the copy the guard remembered (``guard.act.remembered``);
- what site-packages holds (the snapshot's dists; ``torch/version.py``; file hashes);
- with ``--import``, what the environment's own Python really loads.

Finding kinds: :mod:`guard.doctor.models`. Each check is a function over the
:class:`~guard.doctor.diagnosis.Diagnosis` in progress; those of ``--import`` are in
:mod:`guard.doctor.import_checks`.

``diagnose`` is pure: the snapshot, the remembered records and an ``Evidence`` object (file
hashes, ``version.py`` contents, import results) read at the edge by
:func:`guard.doctor.evidence.collect_evidence`. :mod:`guard.doctor.render` turns the report into
text or JSON. Exit status (``Report.exit_code``): 0 healthy or warnings only, 1 problems found;
bad input (2) is raised before a report exists.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from guard.act.remembered import RememberedRecord, dist_of_dir
from guard.doctor.diagnosis import Diagnosis, dist_json, record_json
from guard.doctor.import_checks import check_imports
from guard.doctor.models import PROBLEM, WARNING, Evidence, Finding, Report
from guard.doctor.variants import VARIANT_DISTS, conda_variant, major_minor
from guard.environment.snapshot import EnvironmentSnapshot
from guard.policy.names import canonical_name, conda_cuda_runtime_names, is_pypi_cuda_wheel
from guard.policy.rules import Policy, conda_cuda_runtime

_MAX_LISTED = 20  # paths listed in a finding's evidence


def diagnose(
    snapshot: EnvironmentSnapshot,
    policy: Policy,
    remembered: Mapping[str, RememberedRecord],
    evidence: Evidence,
    *,
    fix_python: str | None = None,
    fix_prefix: str | None = None,
) -> Report:
    """Every finding for ``snapshot``. ``fix_python`` / ``fix_prefix``: name the interpreter
    (``<python> -m pip``) and the prefix (``conda install -p``) in fix commands, for an
    environment that is not the active one; None gives the plain ``pip`` / ``conda install``."""
    diag = Diagnosis(snapshot, policy, remembered, evidence, fix_python, fix_prefix)
    if not diag.snap.is_conda:
        diag.notes.append("not a conda environment (no conda-meta/): only pip-side checks ran")
    check_records(diag)
    check_remembered(diag)
    check_duplicates(diag)
    check_variants(diag)
    check_files(diag)
    check_cuda_wheels(diag)
    check_requirements(diag)
    if diag.ev.imports is not None:
        check_imports(diag)
    order = {PROBLEM: 0, WARNING: 1}
    findings = sorted(enumerate(diag.findings), key=lambda p: (order[p[1].severity], p[0]))
    return Report(
        prefix=diag.snap.prefix,
        findings=tuple(f for _, f in findings),
        ok=diag.intact(),
        notes=tuple(diag.notes + diag.uncovered_snapshot_warnings()),
        snapshot_warnings=tuple(diag.snap.warnings),
        checked={
            "deep": diag.ev.deep,
            "import": diag.ev.imports is not None,
            "files_checked": sum(c.checked for c in diag.ev.file_checks.values()),
            "records": len(diag.snap.conda_records),
            "dists": len(diag.snap.dists),
        },
    )


def check_records(diag: Diagnosis) -> None:
    """Each conda record's metadata directories: there and conda's, gone, or taken over."""
    for record in sorted(diag.snap.conda_records.values(), key=lambda r: r.name):
        owned = diag.owned_by(record)
        for dist_dir in record.dist_dirs:
            name = dist_of_dir(dist_dir)[0]
            if any(d.name == name for d in owned):
                continue
            installed = diag.snap.dists.get(name)
            rec_text = f"{record.name} {record.version}{diag.variant_text(record)}"
            base_ev = {"conda_record": record_json(record), "metadata_dir": dist_dir}
            if installed is None:
                diag.add(
                    Finding(
                        diag.severity(name),
                        "metadata-gone",
                        name,
                        f"{name}: conda-meta records {rec_text}, but its metadata {os.path.basename(dist_dir)} is "
                        f"gone and no {name} is installed (removed by pip uninstall?)",
                        base_ev,
                        diag.conda_reinstall(record),
                    ),
                    primary=True,
                )
            elif installed.owner != "conda":
                diag.add(
                    diag.replaced_by(name, record, installed, f"conda-meta records {rec_text} but", "drift", base_ev),
                    primary=True,
                )


def check_remembered(diag: Diagnosis) -> None:
    """Protected records the guard remembered and conda has since deleted."""
    conda_dists = {d.name for d in diag.all_dists if d.owner == "conda"}
    for name in sorted(diag.remembered):
        rem = diag.remembered[name]
        rec = rem.record
        if rec.name in diag.snap.conda_records or rem.dist_name in conda_dists:
            continue
        dist = rem.dist_name
        installed = diag.snap.dists.get(dist)
        said = f"conda had {rec.name} {rec.version}{diag.variant_text(rec)} here; its record is gone and"
        ev = {"remembered_record": record_json(rec), "remembered_at": rem.remembered_at}
        if installed is not None:
            diag.add(diag.replaced_by(dist, rec, installed, said, "record-gone", ev), primary=True)
        elif f"{rec.name}-{rec.version}-{rec.build}" not in diag.ev.conda_removed:
            diag.add(
                Finding(
                    WARNING,
                    "record-gone",
                    dist,
                    f"{dist}: {said} no {dist} is installed (removed by pip uninstall?)",
                    ev,
                    diag.conda_reinstall(rec),
                ),
                primary=True,
            )


def check_duplicates(diag: Diagnosis) -> None:
    for name, found in sorted(diag.snap.duplicates.items()):
        first = found[0]
        listed = ", ".join(
            f"{os.path.basename(d.metadata_path)} ({d.owner}{', first on sys.path' * (d is first)})" for d in found
        )
        ref = diag.reference.get(name)
        conda_fix = f" && {diag.conda_reinstall(ref[0])}" if ref else ""
        fix: str | None
        if first.owner != "conda":
            fix = f"{diag.pip_uninstall(first)}{conda_fix}"
        else:
            stale = [d.metadata_path for d in found[1:] if d.owner != "conda"]
            fix = (f"rm -r {' '.join(shlex.quote(p) for p in stale)}{conda_fix}") if stale else None
        diag.add(
            Finding(
                diag.severity(name),
                "duplicate-metadata",
                name,
                f"{name}: {len(found)} metadata directories for one project: {listed}",
                {"metadata": [dist_json(d) for d in found]},
                fix,
            ),
            primary=True,
        )


def check_variants(diag: Diagnosis) -> None:
    """The torch family's build variant on disk against conda's record."""
    for name in VARIANT_DISTS:
        installed, ref = diag.snap.dists.get(name), diag.reference.get(name)
        if installed is None or ref is None:
            continue
        want, have = conda_variant(ref[0]), diag.disk_variant(installed)
        if want is None or have is None or not have.differs_from(want):
            continue
        evidence = {"conda_variant": want.to_json(), "installed_variant": have.to_json()}
        if diag.amend(name, **evidence):
            continue  # the drift message already names both builds
        vf = diag.ev.version_files.get(name)
        where = f"{vf.path} says cuda = {vf.cuda!r}" if vf else f"the installed version is {installed.version}"
        diag.add(
            Finding(
                PROBLEM,
                "variant-mismatch",
                name,
                f"{name}: a {have.describe()} is installed ({where}) where conda's {ref[0].name} "
                f"{ref[0].version} is a {want.describe()}",
                {**evidence, "conda_record": record_json(ref[0]), "installed": dist_json(installed)},
                diag.reinstall_fix(installed, ref[0]),
            ),
            primary=True,
        )


def check_files(diag: Diagnosis) -> None:
    for conda_name in sorted(diag.ev.file_checks):
        check = diag.ev.file_checks[conda_name]
        record = diag.snap.conda_records.get(conda_name)
        if record is None or not (check.differing or check.missing):
            continue
        dist_name = dist_of_dir(record.dist_dirs[0])[0] if record.dist_dirs else None
        if dist_name and dist_name in diag.primary:
            diag.amend(dist_name, files={"differing": len(check.differing), "missing": len(check.missing)})
            continue
        owned = next(iter(diag.owned_by(record)), None)
        evidence = {
            "conda_record": record_json(record),
            "checked": check.checked,
            "differing": list(check.differing[:_MAX_LISTED]),
            "missing": list(check.missing[:_MAX_LISTED]),
        }
        counts = f"{len(check.differing):,} of {check.checked:,} files differ from conda-meta's sha256"
        if check.missing:
            counts += f", {len(check.missing):,} missing"
        installer_rewritten = (
            owned is not None
            and owned.installer not in (None, "conda")
            and any(p.endswith("/INSTALLER") and ".dist-info/" in p for p in check.differing)
        )
        if installer_rewritten and owned is not None:
            diag.add(
                Finding(
                    diag.severity(owned.name),
                    "replaced",
                    owned.name,
                    f"{owned.name}: {owned.installer} reinstalled {owned.name} {owned.version} over "
                    f"conda's {record.name} {record.version}{diag.variant_text(record)} ({counts})",
                    {**evidence, "installed": dist_json(owned)},
                    f"{diag.pip_uninstall(owned)} && {diag.conda_reinstall(record)}",
                ),
                primary=True,
            )
            continue
        label = f"{owned.name} {owned.version}" if owned is not None else f"{record.name} {record.version}"
        diag.add(
            Finding(
                WARNING,
                "files-altered",
                owned.name if owned is not None else record.name,
                f"{label} (conda) files altered: {counts}",
                evidence,
                diag.conda_reinstall(record),
            )
        )


def check_cuda_wheels(diag: Diagnosis) -> None:
    runtime = conda_cuda_runtime(diag.snap)
    if runtime is None:
        return
    wheels = sorted(
        (
            d
            for d in diag.all_dists
            if d.owner != "conda" and is_pypi_cuda_wheel(d.name) and d.name not in diag.policy.unprotected
        ),
        key=lambda d: d.name,
    )
    if not wheels:
        return
    version = diag.snap.conda_records.get("cuda-version")
    cuda = version.version if version is not None else major_minor(runtime.version)
    suffixes = {m.group(1) for d in wheels for m in [re.match(r"^nvidia-.+-(cu\d+)$", d.name)] if m}
    all_suffixed = len(suffixes) == 1 and all(re.match(r"^nvidia-.+-cu\d+$", d.name) for d in wheels)
    label = f"nvidia-*-{suffixes.pop()} wheel" if all_suffixed else "PyPI CUDA wheel"
    plural = "s" if len(wheels) != 1 else ""
    diag.add(
        Finding(
            PROBLEM,
            "cuda-wheels",
            "cuda-wheels",
            f"{len(wheels)} {label}{plural} (pip) beside conda's CUDA {cuda} runtime "
            f"({runtime.name} {runtime.version})",
            {
                "wheels": [{"name": d.name, "version": d.version, "installer": d.installer} for d in wheels],
                "conda_runtime": record_json(runtime),
                "conda_runtime_records": sorted(n for n in diag.snap.conda_records if n in conda_cuda_runtime_names()),
            },
            diag.pip("uninstall -y " + " ".join(shlex.quote(d.display_name) for d in wheels)),
        )
    )


def check_requirements(diag: Diagnosis) -> None:
    """``pip check`` for the protected side: pip dists whose requirements on a protected dist
    the installed version does not meet."""
    markers = {**dict(diag.snap.interpreter.markers), "extra": ""}
    for dist in sorted(diag.all_dists, key=lambda d: d.name):
        if dist.owner == "conda":
            continue
        for line in dist.requires_dist:
            try:
                req = Requirement(line)
                if req.marker is not None and not req.marker.evaluate(markers):
                    continue
            except (InvalidRequirement, ValueError, TypeError):
                continue
            target = diag.snap.dists.get(canonical_name(req.name))
            if target is None or not diag.policy.is_protected(target.name):
                continue
            try:
                if req.specifier.contains(Version(target.version), prereleases=True):
                    continue
            except InvalidVersion:
                continue
            rec = target.conda_record
            if rec is not None:
                side = f"from conda ({rec.name} {rec.version} {rec.build}, {rec.channel})"
            else:
                side = f"(installed by {target.installer or 'pip'})"
            diag.add(
                Finding(
                    PROBLEM,
                    "unsatisfied",
                    dist.name,
                    f"{dist.name} {dist.version} ({dist.installer or 'pip'}) requires "
                    f"{line.split(';')[0].strip()}, but {target.name} is {target.version} {side}",
                    {"dist": dist_json(dist), "requirement": line, "installed": dist_json(target)},
                    diag.pip(f"uninstall -y {shlex.quote(dist.display_name)}"),
                )
            )
