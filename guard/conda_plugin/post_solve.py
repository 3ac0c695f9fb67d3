"""The other direction: conda over what pip installed ("who installed it maintains it", applied
to conda). After conda solves and before it changes anything, its plan (``unlink_precs``,
``link_precs``: conda's ``invoke_post_solves``, ``conda/core/solve.py`` at 25.11.1) is compared
with the distributions pip installed in the target environment: a metadata directory that no
conda record lists and whose ``INSTALLER`` is not conda.

- conda *links* a package shipping the same distribution (``numpy`` over pip's numpy): conda
  unpacks its files over pip's without uninstalling them; two metadata directories remain, and
  ``conda list`` and ``pip list`` disagree (drift);
- conda *unlinks* a record whose distribution pip has since replaced (pip's numpy over conda's,
  then ``conda remove numpy``/an update): conda deletes the files it recorded, which are pip's now,
  and pip's metadata stays behind, describing files that are gone.

:func:`pip_dists_in_plan` and :func:`warning_text` are pure; with ``pip_guard_overwrites: refuse``
the hook raises conda's error instead of warning (nothing has changed yet).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from guard.conda_plugin.settings import REFUSE_COMMAND
from guard.policy.conda import pypi_name_for_conda
from guard.policy.names import canonical_name

OVERWRITE, REMOVE = "overwrite", "remove"


@dataclass(frozen=True)
class Planned:
    """A record in conda's plan (conda's ``PackageRecord``, reduced)."""

    name: str
    version: str
    build: str = ""

    def label(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class PipDist:
    """A distribution pip installed: no conda record lists its metadata directory."""

    name: str  # PEP 503
    display_name: str
    version: str
    metadata_path: str
    installer: str | None


@dataclass(frozen=True)
class Collision:
    dist: PipDist
    action: str  # OVERWRITE | REMOVE
    record: Planned

    def describe(self) -> str:
        d = self.dist
        meta = d.metadata_path.rsplit("/", 1)[-1]
        who = f"installed by {d.installer}" if d.installer else "installed by pip"
        if self.action == OVERWRITE:
            return (
                f"{d.display_name} {d.version} ({who}): conda would link {self.record.label()} over it without "
                f"uninstalling it: pip's {meta} is left beside conda's record of the same files, and conda list "
                "and pip list disagree (drift)"
            )
        return (
            f"{d.display_name} {d.version} ({who}): conda would unlink {self.record.label()}, whose files pip has "
            f"replaced: pip's files are deleted and {meta} stays behind, describing files that are gone"
        )


def pip_dists(dists: Iterable) -> list[PipDist]:
    """The pip-installed ones among a snapshot's ``InstalledDist`` values (its ``dists`` and
    ``duplicates``): no conda record lists them and ``INSTALLER`` does not say conda."""
    out: dict[str, PipDist] = {}
    for d in dists:
        if d.owner == "conda" or d.conda_record is not None or (d.installer or "").strip().lower() == "conda":
            continue
        out.setdefault(d.metadata_path, PipDist(d.name, d.display_name, d.version, d.metadata_path, d.installer))
    return list(out.values())


def names_of(conda_name: str, dist_dirs: Sequence[str] = ()) -> set[str]:
    """The PyPI names a conda package ships: from its record's metadata directories when known,
    the name tables (``pytorch`` -> ``torch``), and its own name normalized."""
    from guard.act.remembered import dist_of_dir

    names = {canonical_name(conda_name)}
    mapped = pypi_name_for_conda(conda_name)
    if mapped:
        names.add(mapped)
    names.update(dist_of_dir(d)[0] for d in dist_dirs)
    return names


def pip_dists_in_plan(
    pip_installed: Sequence[PipDist],
    unlink: Sequence[Planned],
    link: Sequence[Planned],
    record_dist_dirs: Mapping[str, Sequence[str]] | None = None,
) -> list[Collision]:
    """What conda's plan does to pip's distributions. ``record_dist_dirs``: the metadata
    directories each installed conda record lists (by conda name), to know what an unlinked
    record shipped. Pure."""
    dirs = record_dist_dirs or {}
    by_name: dict[str, list[PipDist]] = {}
    for d in pip_installed:
        by_name.setdefault(d.name, []).append(d)
    found: list[Collision] = []
    seen: set[str] = set()
    for action, records in ((OVERWRITE, link), (REMOVE, unlink)):
        for record in records:
            for name in sorted(names_of(record.name, dirs.get(record.name, ()))):
                for d in by_name.get(name, ()):
                    if d.metadata_path not in seen:
                        seen.add(d.metadata_path)
                        found.append(Collision(d, action, record))
    return found


def warning_text(collisions: Sequence[Collision], prefix: str, python: str | None, *, refused: bool) -> str:
    """The block conda's user sees: what happens to each distribution, and the fix."""
    head = "refused" if refused else "warning"
    lines = [f"conda-pip-guard: {head}: conda would change what pip installed in {prefix}:"]
    lines += [f"  {c.describe()}" for c in collisions]
    names = " ".join(sorted({c.dist.display_name for c in collisions}))
    pip = f"{shlex.quote(python)} -m pip" if python else "python -m pip"
    lines.append(f"  fix: uninstall pip's copy first ({pip} uninstall -y {names}), then run the conda command again")
    if refused:
        lines.append("  Nothing was changed. Warn instead: conda config --set plugins.pip_guard_overwrites warn")
    else:
        lines.append(f"  (refuse such plans: {REFUSE_COMMAND})")
    return "\n".join(lines)


def collisions_in(
    prefix: str, unlink: Sequence[Planned], link: Sequence[Planned], cache_dir=None
) -> tuple[list[Collision], str | None]:
    """Read ``prefix`` and compare conda's plan with it: the collisions and the environment's
    Python (for the fix). A prefix that does not exist yet, has no ``conda-meta/`` or no Python
    has no pip distributions: none. Raises ``GuardError`` when it cannot be read."""
    from pathlib import Path

    from guard.environment.interpreter import find_interpreter
    from guard.environment.snapshot import snapshot
    from guard.errors import GuardError

    root = Path(prefix)
    if not (root / "conda-meta").is_dir():
        return [], None
    try:
        find_interpreter(root)
    except GuardError:
        return [], None
    snap = snapshot(root, cache_dir=cache_dir)
    everything = [*snap.dists.values(), *(d for ds in snap.duplicates.values() for d in ds)]
    dist_dirs = {name: rec.dist_dirs for name, rec in snap.conda_records.items()}
    return pip_dists_in_plan(pip_dists(everything), unlink, link, dist_dirs), snap.interpreter.executable
