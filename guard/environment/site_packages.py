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
from typing import TYPE_CHECKING

from guard.boundedjson import JSONInputError, loads_bounded
from guard.environment.conda_meta import CondaRecord, os_problem
from guard.models import Anomaly
from guard.policy.names import canonical_name

if TYPE_CHECKING:
    from guard.environment.dist_cache import DistCache


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
    site_dir: str,
    entry: str,
    is_dir: bool,
    record: CondaRecord | None,
    warnings: list[str],
    anomalies: list[Anomaly],
    cache: DistCache | None = None,
) -> InstalledDist | None:
    """The dist of metadata entry ``entry`` in ``site_dir`` (None: not one, or ignored, with an
    anomaly). What its files hold comes from ``cache`` while their stats match (see
    :mod:`guard.environment.dist_cache`); what it means is worked out again on every call."""
    path = os.path.join(site_dir, entry)
    kind = "dist-info" if entry.lower().endswith(".dist-info") else "egg-info"
    if kind == "dist-info" and not is_dir:
        return None  # importlib.metadata ignores it too: no METADATA inside
    files = dist_files(path, kind, is_dir)
    raw, stamp = cache.lookup(path, files) if cache is not None else (None, [])
    if raw is not None:
        found: tuple[list[str], list[Anomaly]] = ([], [])
        try:
            dist = interpret(site_dir, entry, kind, is_dir, raw, record, *found)
        except (TypeError, KeyError, IndexError, AttributeError, ValueError):
            pass  # a kept reading that does not fit (the cache file was damaged): read the files
        else:
            warnings += found[0]
            anomalies += found[1]
            return dist
    raw = read_raw(kind, is_dir, files)
    if cache is not None:
        cache.put(path, stamp, raw)
    return interpret(site_dir, entry, kind, is_dir, raw, record, warnings, anomalies)


def dist_files(path: str, kind: str, is_dir: bool) -> tuple[str, ...]:
    """The files a dist's reading opens: metadata, ``INSTALLER``, then ``direct_url.json``
    (dist-info) or ``requires.txt`` (egg-info); an ``.egg-info`` file is its own metadata."""
    if not is_dir:
        return (path,)
    join = os.path.join
    if kind == "dist-info":
        return join(path, "METADATA"), join(path, "INSTALLER"), join(path, "direct_url.json")
    return join(path, "PKG-INFO"), join(path, "INSTALLER"), join(path, "requires.txt")


def read_raw(kind: str, is_dir: bool, files: tuple[str, ...]) -> dict:
    """What the files of one dist hold, as JSON-able values (what :class:`DistCache` keeps):
    ``headers`` (None when unreadable, ``problem`` says why), ``installer`` (the file's text),
    ``requires`` (egg-info ``requires.txt`` as PEP 508), ``direct_url`` (the parsed object) and
    ``direct_url_bad`` (present but not a JSON object)."""
    headers, problem = _read_headers(files[0])
    raw: dict = {"headers": headers, "problem": problem, "installer": None, "requires": None}
    raw["direct_url"], raw["direct_url_bad"] = None, False
    if not is_dir:
        return raw
    raw["installer"] = _read_text(files[1])
    if kind == "egg-info":
        raw["requires"] = _egg_requires(files[2])
    else:
        present, data = _read_direct_url(files[2])
        raw["direct_url"] = data if isinstance(data, dict) else None
        raw["direct_url_bad"] = present and not isinstance(data, dict)
    return raw


def interpret(
    site_dir: str,
    entry: str,
    kind: str,
    is_dir: bool,
    raw: dict,
    record: CondaRecord | None,
    warnings: list[str],
    anomalies: list[Anomaly],
) -> InstalledDist | None:
    """The dist that ``raw`` (:func:`read_raw`) describes, its anomalies and warnings added."""
    path = os.path.join(site_dir, entry)
    headers = raw["headers"]
    name_from_dir, _, rest = entry.rpartition(".")[0].partition("-")
    version_from_dir = rest.split("-")[0]
    if headers is None:
        metadata_file = path if not is_dir else os.path.join(path, "METADATA" if kind == "dist-info" else "PKG-INFO")
        anomalies.append(
            Anomaly(
                metadata_file,
                f"cannot read metadata ({raw['problem']}); using the name and version in the directory name",
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
        requires = raw["requires"] or []
    installer = direct_url = None
    if is_dir:
        installer = raw["installer"]
        installer = installer.strip() if installer is not None else None
        if kind == "dist-info":
            if raw["direct_url_bad"]:
                warnings.append(f"{os.path.join(path, 'direct_url.json')}: not a JSON object; ignored")
            elif raw["direct_url"] is not None:
                direct_url = MappingProxyType(raw["direct_url"])
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


def _read_direct_url(path: str) -> tuple[bool, object]:
    """Whether ``direct_url.json`` could be read, and its JSON value (None when it holds no JSON;
    the caller warns about anything but an object)."""
    raw = _read_bytes(path)
    if raw is None:
        return False, None
    try:
        return True, loads_bounded(raw)
    except JSONInputError:
        return True, None


def _read_text(path: str) -> str | None:
    raw = _read_bytes(path)
    return None if raw is None else raw.decode("utf-8", "replace")


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None
