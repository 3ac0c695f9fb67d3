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

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

_BUILD_TAG = re.compile(r"(\d+)(.*)\Z", re.ASCII)  # packaging.utils' build tag


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
    return _requires_python_admits(requires_python, python)


@functools.lru_cache(maxsize=1024)
def _requires_python_admits(requires_python: str, python: Version) -> bool:
    # An index repeats a few dozen distinct strings over thousands of files: parse each once.
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
    applicable files are yanked and ``specifier`` pins a version. The same as
    ``rank_files(usable_files(...), ...)``, which a caller asking many times about one project
    splits to filter the files once.
    """
    usable = usable_files(
        files, target=target, format_control=format_control, ignore_requires_python=ignore_requires_python
    )
    return rank_files(usable, specifier, prereleases=prereleases, prefer_binary=prefer_binary, hashes=hashes)


def usable_files(
    files: Iterable,
    *,
    target: TargetPython,
    format_control: FormatControl = FormatControl(),
    ignore_requires_python: bool = False,
) -> list:
    """The files this interpreter and the format control admit, whatever the specifier: pairs
    of (file, tag priority). What does not depend on the requirement, so computed once a project."""
    usable = []
    allowed_of: dict = {}  # project -> format control's answer (one project, asked once)
    # a page repeats a few tag sets and Requires-Python strings over thousands of files (the
    # index client shares one frozenset per tag set): each is judged once
    priority_of: dict = {}  # wheel tag set -> priority, None: not for this interpreter
    python_ok: dict = {}  # Requires-Python -> admits the target
    sdist_priority = -len(target.tag_priority)
    for f in files:
        allowed = allowed_of.get(f.project)
        if allowed is None:
            allowed = allowed_of[f.project] = format_control.allowed(f.project)
        if ("binary" if f.is_wheel else "source") not in allowed:
            continue
        if f.is_wheel:
            tags = f.wheel_tags
            if tags in priority_of:
                pri = priority_of[tags]
            else:
                pri = priority_of[tags] = _wheel_priority(f, target)
            if pri is None:
                continue
        else:
            pri = sdist_priority
        if not ignore_requires_python and f.requires_python:
            ok = python_ok.get(f.requires_python)
            if ok is None:
                ok = python_ok[f.requires_python] = requires_python_ok(f.requires_python, target.version)
            if not ok:
                continue
        usable.append((f, pri))
    return usable


def rank_files(
    usable: Sequence,
    specifier: SpecifierSet,
    *,
    prereleases: bool | None = None,
    prefer_binary: bool = False,
    hashes: Mapping[str, frozenset] | None = None,
) -> list:
    """:func:`applicable_files` from the pairs :func:`usable_files` returned."""
    by_version = {f.version for f, _ in usable}
    kept_versions = set(specifier.filter(by_version, prereleases=prereleases))
    kept = [(f, pri) for f, pri in usable if f.version in kept_versions]
    if hashes:
        matching = [(f, pri) for f, pri in kept if _hash_allowed(f, hashes)]
        if matching:
            kept = matching

    def sort_key(item):
        f, pri = item
        return (
            int(bool(hashes) and _hash_allowed(f, hashes)),
            -1 if f.yanked is not None else 0,
            1 if (prefer_binary and f.is_wheel) else 0,
            f.version,
            pri,
            _build_tag(f.filename) if f.is_wheel else (),
        )

    ranked = sorted(kept, key=sort_key, reverse=True)
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


@functools.lru_cache(maxsize=4096)
def _build_tag(filename: str) -> tuple:
    # A wheel's build tag (packaging's BuildTag: (number, rest), () without one), read once
    # however many times its project is ranked. The index client offers only names that
    # parse_wheel_filename accepts: six dash-separated parts have a build tag.
    parts = filename[:-4].split("-")
    if len(parts) != 6:
        return ()
    match = _BUILD_TAG.match(parts[2])
    return (int(match.group(1)), match.group(2)) if match else ()


def _hash_allowed(f, hashes: Mapping[str, frozenset]) -> bool:
    return any(f.hashes.get(algo) in allowed for algo, allowed in hashes.items())


def _is_pinned(specifier: SpecifierSet) -> bool:
    for spec in specifier:
        if spec.operator == "===":
            return True
        if spec.operator == "==" and not spec.version.endswith(".*"):
            return True
    return False


class ProjectFinder:
    """:func:`applicable_files` for one resolution, memoized: each project's usable files are
    filtered once (tags, Requires-Python, format control), and each distinct question (project,
    specifier, hashes) is ranked once. ``project_files`` must answer the same for a project
    throughout (the index client's pages do). Safe to share with prefetch threads: a race only
    computes an answer twice."""

    def __init__(
        self,
        project_files: Callable[[str], Iterable],
        *,
        target: TargetPython,
        format_control: FormatControl = FormatControl(),
        prereleases: bool | None = None,
        prefer_binary: bool = False,
        ignore_requires_python: bool = False,
    ):
        self._project_files = project_files
        self._target = target
        self._format_control = format_control
        self._prereleases = prereleases
        self._prefer_binary = prefer_binary
        self._ignore_requires_python = ignore_requires_python
        self._usable: dict = {}
        self._ranked: dict = {}

    def applicable(self, project: str, specifier: SpecifierSet, hashes: Mapping[str, frozenset] | None = None) -> list:
        """The finder's files for ``project`` under ``specifier``, best first."""
        # str() sorts a set's specifiers; the effective pre-release flag is not in it
        key = (project, str(specifier), specifier.prereleases, tuple(sorted(hashes.items())) if hashes else None)
        ranked = self._ranked.get(key)
        if ranked is None:
            ranked = self._ranked[key] = rank_files(
                self.usable(project, ignore_requires_python=self._ignore_requires_python),
                specifier,
                prereleases=self._prereleases,
                prefer_binary=self._prefer_binary,
                hashes=hashes,
            )
        return ranked

    def usable(self, project: str, *, ignore_requires_python: bool) -> list:
        """:func:`usable_files` of ``project``."""
        key = (project, ignore_requires_python)
        usable = self._usable.get(key)
        if usable is None:
            usable = self._usable[key] = usable_files(
                self._project_files(project),
                target=self._target,
                format_control=self._format_control,
                ignore_requires_python=ignore_requires_python,
            )
        return usable
