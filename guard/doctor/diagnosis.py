"""The state of one ``guard doctor`` diagnosis, shared by its checks: the inputs, the findings so
far, the conda record each dist should match and the fix commands. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from guard.act.remembered import RememberedRecord, dist_of_dir
from guard.doctor.models import PROBLEM, WARNING, Evidence, Finding, Variant
from guard.doctor.variants import VARIANT_DISTS, conda_variant, installed_variant
from guard.environment.conda_meta import CondaRecord
from guard.environment.site_packages import InstalledDist
from guard.environment.snapshot import EnvironmentSnapshot
from guard.explain.repair import conda_reinstall_command, pip_command, pip_uninstall_command
from guard.policy.rules import Policy


class Diagnosis:
    """A diagnosis in progress: its inputs, the findings so far (``add``; ``amend`` adds evidence
    to a dist's first finding), and what every check needs (the conda record each dist should
    match, the fix commands). The checks are functions over it (:mod:`guard.doctor.diagnose`)."""

    def __init__(
        self,
        snapshot: EnvironmentSnapshot,
        policy: Policy,
        remembered: Mapping[str, RememberedRecord],
        evidence: Evidence,
        fix_python: str | None,
        fix_prefix: str | None,
    ) -> None:
        self.snap: EnvironmentSnapshot = snapshot
        self.policy: Policy = policy
        self.remembered: Mapping[str, RememberedRecord] = remembered
        self.ev: Evidence = evidence
        self.fix_python = fix_python
        self.fix_prefix = fix_prefix
        self.findings: list[Finding] = []
        self.primary: dict[str, int] = {}  # dist name -> index of its drift/record-gone/... finding
        self.notes: list[str] = list(evidence.notes)
        all_dists = [d for found in snapshot.duplicates.values() for d in found]
        all_dists += [d for n, d in snapshot.dists.items() if n not in snapshot.duplicates]
        self.all_dists: list[InstalledDist] = all_dists
        # the conda record each dist should match: conda-meta first, remembered where conda forgot
        self.reference: dict[str, tuple[CondaRecord, str]] = {}
        for record in snapshot.conda_records.values():
            for dist_dir in record.dist_dirs:
                self.reference.setdefault(dist_of_dir(dist_dir)[0], (record, "conda-meta"))
        for rem in remembered.values():
            if rem.record.name not in snapshot.conda_records:
                self.reference.setdefault(rem.dist_name, (rem.record, "remembered"))

    def severity(self, name: str) -> str:
        return PROBLEM if self.policy.is_protected(name) else WARNING

    def pip(self, args: str) -> str:
        return pip_command(args, self.fix_python)

    def conda_reinstall(self, rec: CondaRecord) -> str:
        return conda_reinstall_command(rec, self.fix_prefix)

    def pip_uninstall(self, dist: InstalledDist) -> str:
        """``pip uninstall -y DIST``, prefixed with the override when the guard's own hook would
        block it: ``dist`` is conda-owned by the guard's rule (conda's record lists its metadata
        directory, which pip reinstalled in place) and protected, or conda-owned with
        ``conda_owned: block``."""
        guarded = dist.owner == "conda" and (self.policy.is_protected(dist.name) or self.policy.conda_owned == "block")
        return pip_uninstall_command(dist.display_name, self.fix_python, override=guarded)

    def variant_text(self, rec: CondaRecord) -> str:
        v = conda_variant(rec)
        return f" ({v.describe()})" if v else ""

    def disk_variant(self, dist: InstalledDist | None) -> Variant | None:
        if dist is None or dist.name not in VARIANT_DISTS:
            return None
        return installed_variant(dist.version, self.ev.version_files.get(dist.name))

    def owned_by(self, record: CondaRecord) -> list[InstalledDist]:
        """The installed dists whose metadata ``record`` lists (the snapshot's ownership rule)."""
        return [
            d for d in self.all_dists if d.conda_record is not None and d.conda_record.meta_file == record.meta_file
        ]

    def add(self, finding: Finding, primary: bool = False) -> None:
        if primary:
            self.primary.setdefault(finding.name, len(self.findings))
        self.findings.append(finding)

    def amend(self, name: str, **evidence) -> bool:
        """Add evidence to ``name``'s primary finding; False when it has none."""
        index = self.primary.get(name)
        if index is None:
            return False
        f = self.findings[index]
        self.findings[index] = replace(f, evidence={**f.evidence, **evidence})
        return True

    def replaced_by(
        self, name: str, rec: CondaRecord, installed: InstalledDist, said: str, kind: str, ev: dict
    ) -> Finding:
        """``installed`` (another installer's) stands where conda's ``rec`` was; ``said`` is what conda
        says, ending with the word that joins it to what site-packages holds."""
        variant = self.disk_variant(installed)
        by = installed.installer or "another installer"
        reinstalled = "reinstalled" if installed.version == rec.version else "holds"
        message = (
            f"{name}: {said} site-packages {reinstalled} {name} {installed.version}"
            f"{f' ({variant.describe()})' if variant else ''} installed by {by}"
        )
        evidence = {**ev, "installed": dist_json(installed)}
        if variant is not None:
            evidence["installed_variant"] = variant.to_json()
        return Finding(
            PROBLEM if kind == "record-gone" else self.severity(name),
            kind,
            name,
            message,
            evidence,
            f"{self.pip_uninstall(installed)} && {self.conda_reinstall(rec)}",
        )

    def reinstall_fix(self, installed: InstalledDist, rec: CondaRecord) -> str:
        if installed.owner == "conda":
            return self.conda_reinstall(rec)
        return f"{self.pip_uninstall(installed)} && {self.conda_reinstall(rec)}"

    def uncovered_snapshot_warnings(self) -> list[str]:
        """The snapshot's warnings (a damaged record, ``INSTALLER=conda`` with no record) less those
        that say what a finding already says (a gone or duplicated metadata directory)."""
        covered: set[str] = set()
        for f in self.findings:
            ev = f.evidence
            covered.update(str(v) for v in (ev.get("metadata_dir"), ev.get("installed", {}).get("metadata_path")) if v)
            covered.update(m["metadata_path"] for m in ev.get("metadata", ()))
            if f.kind == "duplicate-metadata":
                covered.add(f"{f.name} has ")
        return [w for w in self.snap.warnings if not any(c in w for c in covered)]

    def intact(self) -> tuple[Mapping, ...]:
        flagged = {f.name for f in self.findings}
        ok = []
        for name, dist in sorted(self.snap.dists.items()):
            if dist.owner != "conda" or not self.policy.is_protected(name) or name in flagged:
                continue
            rec = dist.conda_record
            assert rec is not None  # owner "conda": a conda record lists its metadata
            ok.append(
                MappingProxyType(
                    {"name": name, "version": dist.version, "record": f"{rec.name} {rec.version} {rec.build}"}
                )
            )
        return tuple(ok)


def record_json(rec: CondaRecord) -> dict:
    return {**rec.summary(), "meta_file": rec.meta_file}


def dist_json(dist: InstalledDist) -> dict:
    return {
        "name": dist.name,
        "version": dist.version,
        "owner": dist.owner,
        "installer": dist.installer,
        "metadata_path": dist.metadata_path,
    }
