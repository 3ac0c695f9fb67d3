"""Distributions the user names directly: local wheel files, local project directories with
static ``pyproject.toml`` metadata, wheel URLs, and sdists (a local archive or a URL) whose
PKG-INFO is static (PEP 643). Nothing here runs package code: files are only read.

Anything whose metadata only a build can produce (``dynamic`` dependencies or version, a
``setup.py`` project, an sdist whose PKG-INFO is older than Metadata-Version 2.2 or lists
``Requires-Dist`` as Dynamic, a VCS URL) raises :class:`NeedsPipFallback`: guessing would give a
verdict built on a guess, and a build runs the project's code.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.utils import canonicalize_name, parse_wheel_filename

from guard.errors import NeedsPipFallback, UsageError
from guard.models import CoreMetadata, DirectSource, DistFile


def direct_source(item, source) -> DirectSource:
    """Metadata for a requirement item of kind ``path`` or ``url`` (or ``name @ url``)."""
    url = item.url or ""
    path = item.path
    if path is None and url.startswith("file:"):
        from urllib.request import url2pathname  # lazily: costly to import

        path = url2pathname(unquote(urlparse(url).path))
    if path is not None:
        p = Path(path)
        if p.is_dir():
            return DirectSource(p.resolve().as_uri(), project_metadata(p), editable=item.editable)
        if p.name.endswith(".whl"):
            if not p.is_file():
                raise UsageError(f"{item.text}: no such file")
            return DirectSource(p.resolve().as_uri(), wheel_metadata(p), is_local_wheel=True)
        if not p.exists():
            raise UsageError(f"{item.text}: no such file or directory")
        return DirectSource(p.resolve().as_uri(), sdist_metadata(p))
    plain = url.split("#")[0]
    if plain.endswith(".whl") and url.startswith(("http://", "https://")):
        from guard.index.pages import dist_file_for_url

        f = dist_file_for_url(url)
        return DirectSource(url, source.metadata(f))
    if url.startswith(("http://", "https://")):
        f = _sdist_file(plain, unquote(urlparse(plain).path).rpartition("/")[2])
        if f is not None:
            # the index client reads only the sdist's PKG-INFO, and only when it is static
            return DirectSource(url, source.metadata(f))
    raise NeedsPipFallback(f"direct URL {item.text!r} needs a download and build")


def _sdist_file(url: str, filename: str):
    """A :class:`guard.models.DistFile` for an sdist named ``filename`` (``name-version.tar.gz``
    or ``.zip``), or None when the name is not an sdist's."""
    from packaging.utils import InvalidSdistFilename, parse_sdist_filename

    try:
        name, version = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        return None
    return DistFile(
        project=str(name),
        filename=filename,
        url=url,
        version=version,
        is_wheel=False,
        wheel_tags=frozenset(),
        requires_python=None,
        yanked=None,
        hashes={},
        metadata_hashes=None,
        source=url,
    )


def sdist_metadata(path: Path):
    """Core metadata of a local sdist from its PKG-INFO, read and never executed, when it is
    reliable (PEP 643: Metadata-Version 2.2+, dependencies not Dynamic); else NeedsPipFallback."""
    from guard.errors import IndexUnavailable
    from guard.index.metadata import (
        core_metadata_from_record,
        metadata_matches,
        parse_metadata_fields,
        pkg_info_from_sdist,
        sdist_check,
    )

    f = _sdist_file(path.resolve().as_uri(), path.name)
    if f is None:
        raise NeedsPipFallback(f"local archive {path.name} needs a build to know its dependencies")
    try:
        with open(path, "rb") as fh:
            meta = parse_metadata_fields(pkg_info_from_sdist(fh, f))
    except (IndexUnavailable, OSError, ValueError) as exc:
        detail = str(exc).partition("not a readable sdist ")[2] if isinstance(exc, IndexUnavailable) else f"({exc})"
        raise UsageError(f"{path.name}: not a readable sdist {detail}".rstrip()) from None
    if not metadata_matches(meta, f):
        raise NeedsPipFallback(
            f"local archive {path.name}: its PKG-INFO names {meta['name']} {meta['version']} (a build decides)"
        )
    sdist_check(meta, f)
    return core_metadata_from_record(meta, f)


def wheel_metadata(path: Path):
    """Core metadata of a local wheel file (its ``*.dist-info/METADATA``)."""
    from guard.index.metadata import damaged_archive, parse_core_metadata

    try:
        name, version, _, _ = parse_wheel_filename(path.name)
        with zipfile.ZipFile(path) as zf:
            wanted = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1]
            if not wanted:
                raise UsageError(f"{path.name}: not a wheel (no .dist-info/METADATA)")
            text = zf.read(wanted[0]).decode("utf-8", "replace")
    except damaged_archive(zipfile.BadZipFile, OSError) as exc:  # encrypted, odd compression, ...
        raise UsageError(f"{path.name}: not a valid wheel ({exc})") from None
    try:
        meta = parse_core_metadata(text)
    except ValueError as exc:
        raise UsageError(f"{path.name}: invalid wheel metadata ({exc})") from None
    if canonicalize_name(meta.name) != canonicalize_name(str(name)):
        raise UsageError(f"{path.name}: metadata names {meta.name}, not {name}")
    return meta


def project_metadata(path: Path):
    """Static PEP 621 metadata of a project directory, or NeedsPipFallback when a build decides."""
    pyproject = path / "pyproject.toml"
    if not pyproject.is_file():
        raise NeedsPipFallback(f"{_show(path)} has no pyproject.toml (setup.py decides its metadata)")
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # pragma: no cover - 3.9/3.10
        raise NeedsPipFallback(f"{_show(path)}: reading pyproject.toml needs Python 3.11") from None
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{_show(pyproject)}: invalid TOML ({exc})") from None
    project = data.get("project")
    if not isinstance(project, dict) or "name" not in project:
        raise NeedsPipFallback(f"{_show(path)}: no static [project] table")

    # PEP 621 types, checked before use (a build backend rejects such a file as well)
    def str_list(value) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    bad = [k for k in ("name", "version", "requires-python") if k in project and not isinstance(project[k], str)]
    bad += [k for k in ("dynamic", "dependencies") if not str_list(project.get(k, []))]
    optional = project.get("optional-dependencies") or {}
    if not isinstance(optional, dict) or not all(str_list(v) for v in optional.values()):
        bad.append("optional-dependencies")
    if bad:
        raise UsageError(f"{_show(pyproject)}: invalid [project] table ({', '.join(bad)}: wrong type)")
    dynamic = set(project.get("dynamic", []))
    for key in ("version", "dependencies", "optional-dependencies", "requires-python"):
        if key in dynamic:
            raise NeedsPipFallback(f"{_show(path)}: {key} is dynamic (a build decides it)")
    if "version" not in project:
        raise NeedsPipFallback(f"{_show(path)}: no static version")
    requires = list(project.get("dependencies", []))
    extras = project.get("optional-dependencies", {}) or {}
    for extra, reqs in extras.items():
        for r in reqs:
            marker_sep = " and " if ";" in r else "; "
            if ";" in r:
                base, _, marker = r.partition(";")
                requires.append(f'{base.strip()}; ({marker.strip()}) and extra == "{extra}"')
            else:
                requires.append(f'{r}{marker_sep}extra == "{extra}"')
    return CoreMetadata(
        name=str(project["name"]),
        version=str(project["version"]),
        requires_dist=tuple(requires),
        requires_python=project.get("requires-python"),
        provides_extra=tuple(canonicalize_name(e) for e in extras),
    )


def _show(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
