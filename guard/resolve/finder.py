"""Which index files pip would consider for a project, best first: pip's PackageFinder, as a pure
function over the files an index client listed.

pip's rules reproduced here (``pip/_internal/index/package_finder.py``):

* a file is usable when its wheel tags are supported by the target interpreter (sdists always
  are), its ``Requires-Python`` admits the target's Python, and the format control allows it
  (``--only-binary`` / ``--no-binary``);
* the specifier filters versions, pre-releases only when ``--pre`` or the specifier asks for one
  (or when nothing else matches: packaging's rule);
* files are ranked by ``(allowed hash, not yanked, binary preference, version, tag priority,
  build tag)``; the best file of each version stands for that version;
* yanked files count only when every candidate is yanked and the specifier pins a version
  (PEP 592).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import parse_wheel_filename
from packaging.version import Version


@dataclass(frozen=True)
class FormatControl:
    """pip's ``--only-binary`` / ``--no-binary`` sets (canonical names or ``:all:``)."""

    only_binary: frozenset = frozenset()
    no_binary: frozenset = frozenset()

    def allowed(self, project: str) -> frozenset:
        """``{"binary", "source"}`` minus what the options forbid for ``project`` (pip's order)."""
        if project in self.only_binary:
            return frozenset({"binary"})
        if project in self.no_binary:
            return frozenset({"source"})
        if ":all:" in self.only_binary:
            return frozenset({"binary"})
        if ":all:" in self.no_binary:
            return frozenset({"source"})
        return frozenset({"binary", "source"})


@dataclass(frozen=True)
class TargetPython:
    """What the finder needs to know about the interpreter pip would install for."""

    version: Version  # full version, e.g. 3.11.7
    tag_priority: Mapping[str, int]  # "cp311-cp311-manylinux_2_17_x86_64" -> rank (0 = best)

    @classmethod
    def from_tags(cls, version: str, tags: Sequence[str]) -> TargetPython:
        return cls(Version(version), {t: i for i, t in enumerate(tags)})


def requires_python_ok(requires_python: str | None, python: Version) -> bool:
    """pip ignores an invalid Requires-Python (it logs and accepts the file)."""
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True


def applicable_files(
    files: Iterable,
    specifier: SpecifierSet,
    *,
    target: TargetPython,
    prereleases: bool | None = None,
    format_control: FormatControl = FormatControl(),
    prefer_binary: bool = False,
    hashes: Mapping[str, frozenset] | None = None,
    ignore_requires_python: bool = False,
) -> list:
    """The files pip's finder would offer for ``specifier``, best first, one per version.

    ``files`` are index ``DistFile`` objects of one project. Yanked files are dropped unless all
    applicable files are yanked and ``specifier`` pins a version.
    """
    usable = []
    for f in files:
        kind = "binary" if f.is_wheel else "source"
        allowed = format_control.allowed(f.project)
        if kind not in allowed:
            continue
        if f.is_wheel:
            pri = _wheel_priority(f, target)
            if pri is None:
                continue
        else:
            pri = -len(target.tag_priority)
        if not ignore_requires_python and not requires_python_ok(f.requires_python, target.version):
            continue
        usable.append((f, pri))

    by_version = {f.version for f, _ in usable}
    kept_versions = set(specifier.filter(by_version, prereleases=prereleases))
    usable = [(f, pri) for f, pri in usable if f.version in kept_versions]
    if hashes:
        matching = [(f, pri) for f, pri in usable if _hash_allowed(f, hashes)]
        if matching:
            usable = matching

    def sort_key(item):
        f, pri = item
        return (
            int(bool(hashes) and _hash_allowed(f, hashes)),
            -1 if f.yanked is not None else 0,
            1 if (prefer_binary and f.is_wheel) else 0,
            f.version,
            pri,
            _build_tag(f),
        )

    ranked = sorted(usable, key=sort_key, reverse=True)
    all_yanked = bool(ranked) and all(f.yanked is not None for f, _ in ranked)
    keep_yanked = all_yanked and _is_pinned(specifier)
    best: list = []
    seen: set = set()
    for f, _ in ranked:
        if f.yanked is not None and not keep_yanked:
            continue
        if f.version in seen:
            continue
        seen.add(f.version)
        best.append(f)
    return best


def _wheel_priority(f, target: TargetPython) -> int | None:
    ranks = [target.tag_priority[t] for t in f.wheel_tags if t in target.tag_priority]
    if not ranks:
        return None
    return -min(ranks)


def _build_tag(f) -> tuple:
    if not f.is_wheel:
        return ()
    try:
        return parse_wheel_filename(f.filename)[2]
    except Exception:  # noqa: BLE001 - an unparsable name was filtered by the index client
        return ()


def _hash_allowed(f, hashes: Mapping[str, frozenset]) -> bool:
    return any(f.hashes.get(algo) in allowed for algo, allowed in hashes.items())


def _is_pinned(specifier: SpecifierSet) -> bool:
    for spec in specifier:
        if spec.operator == "===":
            return True
        if spec.operator == "==" and not spec.version.endswith(".*"):
            return True
    return False
