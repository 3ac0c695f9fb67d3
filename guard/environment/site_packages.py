"""Site directories: every ``*.dist-info`` and ``*.egg-info`` read into an ``InstalledDist``,
in the order Python finds them, failing closed.

The directories are read in ``sys.path`` order, with the directories their ``.pth`` files add
(``site.addsitedir``'s order); within one directory in listing order, as ``importlib.metadata``
reads it. Of METADATA only the header block (up to the first blank line) is parsed: this runs on
every guarded ``pip install``.

Anything that cannot be read and could hide what is installed becomes an ``Anomaly``
(``guard.models``): a metadata directory that is a symlink loop, a broken link or unreadable, a
site directory that cannot be listed, metadata whose name disagrees with its directory's. Each
names the projects it could hide (from the directory name: ``numpy-1.26.4.dist-info`` ->
``numpy``; none when it cannot be told). Nothing found here makes these functions raise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from guard.boundedjson import JSONInputError, loads_bounded
from guard.environment.conda_meta import CondaRecord, os_problem
from guard.models import Anomaly
from guard.policy.names import canonical_name


@dataclass(frozen=True)
class InstalledDist:
    """One Python distribution's metadata directory in a site directory."""

    name: str
    """PEP 503 normalized."""
    display_name: str
    version: str
    metadata_path: str
    """Absolute path of the ``.dist-info`` / ``.egg-info`` (directory or file)."""
    kind: str
    """``"dist-info"`` or ``"egg-info"``."""
    installer: str | None
    """Stripped content of ``INSTALLER``; a hint only."""
    requires_dist: tuple[str, ...]
    """``Requires-Dist`` values; for egg-info without them, ``requires.txt`` converted to PEP 508
    (``[extra]`` -> ``; extra == "extra"``, ``[:marker]`` -> ``; marker``) as importlib.metadata does."""
    requires_python: str | None
    owner: str
    """``"conda"`` when a conda record's ``files`` list this metadata; otherwise ``"pip"`` (any
    Python installer)."""
    conda_record: CondaRecord | None
    site_dir: str
    direct_url: Mapping | None
    """Parsed ``direct_url.json`` (PEP 610) when present."""
    provides_extra: tuple[str, ...] = ()
    """``Provides-Extra`` values (empty for egg-info, whose extras show only in markers)."""


def sys_path_dirs(site_dirs: Iterable[str], anomalies: list[Anomaly]) -> Iterator[str]:
    """Existing site directories and the directories their ``.pth`` files add, in the order
    ``site.addsitedir`` puts them on ``sys.path``, each real directory once. ``import`` lines of
    ``.pth`` files are not run (a legacy ``setup.py develop`` puts its ``.egg-info`` in a directory
    named by a path line, which is read here). A site directory that exists but is no readable
    directory (a link loop, a broken link, a file) is an anomaly: it could hide anything."""
    seen: set[str] = set()

    def first_time(path: str) -> bool:
        real = os.path.normcase(os.path.realpath(path))
        if real in seen:
            return False
        seen.add(real)
        return True

    for site_dir in site_dirs:
        if not os.path.isdir(site_dir):
            if os.path.lexists(site_dir):
                anomalies.append(Anomaly(site_dir, f"a site directory that cannot be read ({_path_problem(site_dir)})"))
            continue
        if not first_time(site_dir):
            continue
        yield site_dir
        try:
            pth_files = sorted(n for n in os.listdir(site_dir) if n.endswith(".pth") and not n.startswith("."))
        except OSError:
            continue
        for pth in pth_files:
            for extra in _pth_dirs(site_dir, pth):
                if first_time(extra):
                    yield extra


def _pth_dirs(site_dir: str, pth: str) -> list[str]:
    try:
        with open(os.path.join(site_dir, pth), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    dirs = []
    for line in lines:
        if not line.strip() or line.startswith("#") or line.startswith(("import ", "import\t")):
            continue
        path = os.path.abspath(os.path.join(site_dir, line.rstrip()))
        if os.path.isdir(path):
            dirs.append(path)
    return dirs


def metadata_entries(site_dir: str, anomalies: list[Anomaly]) -> list[tuple[str, bool]]:
    """``(name, is_dir)`` of the ``*.dist-info`` / ``*.egg-info`` entries, in listing order
    (importlib.metadata reads ``os.listdir`` order too). An entry that cannot be examined (a
    symlink loop such as ``x.dist-info -> x.dist-info``, a broken link, no permission) is an
    anomaly for the project its name gives, and the other entries are still read; a directory
    that cannot be listed is an anomaly for every name."""
    found = []
    try:
        with os.scandir(site_dir) as it:
            for e in it:
                if not e.name.lower().endswith((".dist-info", ".egg-info")):
                    continue
                try:
                    is_dir = e.is_dir()
                    broken = not is_dir and e.is_symlink() and not os.path.exists(e.path)
                except OSError as exc:
                    anomalies.append(Anomaly(e.path, f"cannot read: {os_problem(exc)}", _dist_entry_names(e.name)))
                    continue
                if broken:
                    anomalies.append(
                        Anomaly(e.path, f"cannot read: {_path_problem(e.path)}", _dist_entry_names(e.name))
                    )
                    continue
                found.append((e.name, is_dir))
    except OSError as exc:
        anomalies.append(Anomaly(site_dir, f"cannot list the site directory: {os_problem(exc)}"))
    return found


def _path_problem(path: str) -> str:
    """Why ``path`` cannot be used as a directory, in a few words (``Too many levels of symbolic
    links``, ``a symbolic link to nothing``)."""
    try:
        os.stat(path)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and os.path.islink(path):
            return "a symbolic link to nothing"
        return os_problem(exc)
    return "not a directory"


def _dist_entry_names(entry: str) -> tuple[str, ...]:
    """The projects a metadata directory's name could stand for: the part before the first ``-``
    (installers escape ``-`` in names: ``numpy-1.26.4.dist-info`` -> ``numpy``), and, for one
    written without escaping, each longer ``-``-separated prefix (``loop-c.dist-info`` ->
    ``loop``, ``loop-c``); none when the name is empty."""
    parts = entry.rpartition(".")[0].split("-")
    names = [canonical_name("-".join(parts[:i])) for i in range(1, len(parts) + 1)]
    return tuple(dict.fromkeys(n for n in names if n.strip("-")))


def read_dist(
    site_dir: str, entry: str, is_dir: bool, record: CondaRecord | None, warnings: list[str], anomalies: list[Anomaly]
) -> InstalledDist | None:
    path = os.path.join(site_dir, entry)
    kind = "dist-info" if entry.lower().endswith(".dist-info") else "egg-info"
    if kind == "dist-info" and not is_dir:
        return None  # importlib.metadata ignores it too: no METADATA inside
    metadata_file = path if not is_dir else os.path.join(path, "METADATA" if kind == "dist-info" else "PKG-INFO")
    headers, problem = _read_headers(metadata_file)
    name_from_dir, _, rest = entry.rpartition(".")[0].partition("-")
    version_from_dir = rest.split("-")[0]
    if headers is None:
        anomalies.append(
            Anomaly(
                metadata_file,
                f"cannot read metadata ({problem}); using the name and version in the directory name",
                _dist_entry_names(entry),
            )
        )
        headers = {}
    display_name = (headers.get("name") or [name_from_dir])[0]
    version = (headers.get("version") or [version_from_dir])[0]
    if not display_name or not version:
        anomalies.append(
            Anomaly(path, "no name or version in metadata or directory name; ignored", _dist_entry_names(entry))
        )
        return None
    if name_from_dir and canonical_name(name_from_dir) != canonical_name(display_name):
        # Python and pip know it by the metadata's name; the files may be another project's
        anomalies.append(
            Anomaly(
                path,
                f"its metadata names {display_name!r}, its directory name {name_from_dir!r}",
                tuple(sorted({canonical_name(name_from_dir), canonical_name(display_name)})),
            )
        )
    requires = headers.get("requires-dist", [])
    if not requires and kind == "egg-info" and is_dir:
        requires = _egg_requires(os.path.join(path, "requires.txt"))
    installer = direct_url = None
    if is_dir:
        installer = _read_text(os.path.join(path, "INSTALLER"))
        installer = installer.strip() if installer is not None else None
        if kind == "dist-info":
            direct_url = _read_direct_url(os.path.join(path, "direct_url.json"), warnings)
    return InstalledDist(
        name=canonical_name(display_name),
        display_name=display_name,
        version=version,
        metadata_path=path,
        kind=kind,
        installer=installer,
        requires_dist=tuple(requires),
        requires_python=next(iter(headers.get("requires-python") or ()), None),
        owner="conda" if record is not None else "pip",
        conda_record=record,
        site_dir=site_dir,
        direct_url=direct_url,
        provides_extra=tuple(headers.get("provides-extra", ())),
    )


# The headers read from METADATA / PKG-INFO; none of them is folded over lines in practice.
_HEADER = re.compile(
    r"^(name|version|requires-dist|requires-python|provides-extra)[ \t]*:[ \t]*(.*?)[ \t]*\r?$", re.M | re.I
)


def _read_headers(path: str) -> tuple[dict[str, list[str]] | None, str | None]:
    """The wanted headers of a METADATA / PKG-INFO file (RFC 822 style), read up to the first
    blank line: the description body after it is not parsed. ``(None, why)`` when unreadable."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        return None, os_problem(exc)
    end = raw.find(b"\n\n")
    if end < 0:
        end = raw.find(b"\r\n\r\n")
    text = (raw if end < 0 else raw[:end]).decode("utf-8", "replace")
    headers: dict[str, list[str]] = {}
    for key, value in _HEADER.findall(text):
        headers.setdefault(key.lower(), []).append(value)
    return headers, None


def _egg_requires(path: str) -> list[str]:
    """``requires.txt`` as PEP 508 requirements, the way ``importlib.metadata`` converts it."""
    text = _read_text(path)
    if text is None:
        return []
    section = ""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        extra, _, marker = section.partition(":")
        if extra and marker:
            marker = f"({marker})"
        conditions = [c for c in (marker, extra and f'extra == "{extra}"') if c]
        # a URL requirement needs a space before ';'; importlib.metadata adds it even when no
        # marker follows, and this keeps its output exactly
        space = " " if "@" in line else ""
        out.append(line + space + ("; " + " and ".join(conditions) if conditions else ""))
    return out


def _read_direct_url(path: str, warnings: list[str]) -> Mapping | None:
    raw = _read_bytes(path)
    if raw is None:
        return None
    try:
        data = loads_bounded(raw)
    except JSONInputError:
        data = None
    if not isinstance(data, dict):
        warnings.append(f"{path}: not a JSON object; ignored")
        return None
    return MappingProxyType(data)


def _read_text(path: str) -> str | None:
    raw = _read_bytes(path)
    return None if raw is None else raw.decode("utf-8", "replace")


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None
