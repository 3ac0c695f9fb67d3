"""Core metadata: METADATA / PKG-INFO parsed into the fields the resolver needs, the PEP 643
rule for when an sdist's PKG-INFO can be trusted, and reading the metadata member out of a
wheel or sdist archive (never executing anything)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from packaging.version import InvalidVersion, Version

from guard.errors import IndexUnavailable, NeedsBuild, NeedsPipFallback
from guard.index.urls import redact_url
from guard.models import CoreMetadata, DistFile
from guard.policy.names import canonical_name

MAX_METADATA_BYTES = 16 * 1024 * 1024


def parse_metadata_fields(data: bytes) -> dict[str, Any]:
    """The header fields of a METADATA / PKG-INFO file. Raises ValueError if not metadata."""
    from email.parser import HeaderParser

    if len(data) > MAX_METADATA_BYTES:
        raise ValueError("metadata too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        # pip decodes METADATA as UTF-8 and stops ("Error decoding metadata"); replacing the
        # bytes would turn a broken file into requirements that do not parse, and so into a
        # conflict nobody wrote
        raise ValueError(f"not UTF-8: byte 0x{data[err.start]:02x} at offset {err.start}") from None
    msg = HeaderParser().parsestr(text)

    def clean(value: Any) -> str:
        return re.sub(r"\r?\n[ \t]+", " ", str(value)).strip()

    name, version = msg.get("Name"), msg.get("Version")
    if not name or not version or not msg.get("Metadata-Version"):
        raise ValueError("no Metadata-Version, Name or Version")
    requires_python = msg.get("Requires-Python")
    return {
        "metadata_version": clean(msg["Metadata-Version"]),
        "name": clean(name),
        "version": clean(version),
        "requires_dist": [clean(v) for v in msg.get_all("Requires-Dist") or ()],
        "requires_python": clean(requires_python) if requires_python else None,
        "provides_extra": [clean(v) for v in msg.get_all("Provides-Extra") or ()],
        "dynamic": [clean(v) for v in msg.get_all("Dynamic") or ()],
    }


def metadata_matches(meta: Mapping[str, Any], f: DistFile) -> bool:
    try:
        return canonical_name(meta["name"]) == f.project and Version(meta["version"]) == f.version
    except InvalidVersion:
        return False


# Fields whose change at build time would change the resolution (PEP 643).
_BUILD_SENSITIVE = ("requires-dist", "requires-python", "provides-extra")


def sdist_check(meta: Mapping[str, Any], f: DistFile) -> None:
    """PEP 643: an sdist's PKG-INFO is usable only from Metadata-Version 2.2 on, and only for
    fields not listed as Dynamic."""
    try:
        metadata_version = Version(meta.get("metadata_version") or "0")
    except InvalidVersion:
        metadata_version = Version("0")
    dynamic = {d.lower() for d in meta.get("dynamic", ())}
    if metadata_version < Version("2.2") or dynamic.intersection(_BUILD_SENSITIVE):
        # Metadata-Version 1.0-2.1: setup.py decides Requires-Dist at build time, whatever PKG-INFO says
        raise NeedsBuild(f"{f.project} {f.version} is an sdist whose dependencies need a build")


def dist_info_metadata_name(names: Iterable[str], project: str) -> str | None:
    """The top-level ``<name>-<version>.dist-info/METADATA`` member for ``project``."""
    candidates = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
    for member in candidates:
        if canonical_name(member.split("/", 1)[0][: -len(".dist-info")].split("-", 1)[0]) == project:
            return member
    return candidates[0] if len(candidates) == 1 else None


def damaged_archive(*own: type[Exception]) -> tuple[type[Exception], ...]:
    """``own`` (the archive module's own errors) and what zipfile and tarfile raise besides them
    for a damaged or unusual archive:
    an unsupported zip version, compression method or flag (NotImplementedError), an encrypted
    member (RuntimeError), a corrupt compressed stream (zlib.error, lzma.LZMAError), bad offsets
    (ValueError). A function, called in the ``except`` clause: the hot path imports neither zlib
    nor lzma."""
    import lzma
    import zlib

    return (*own, NotImplementedError, RuntimeError, ValueError, zlib.error, lzma.LZMAError)


def metadata_from_wheel_file(fileobj: Any, f: DistFile) -> bytes:
    import zipfile

    try:
        with zipfile.ZipFile(fileobj) as zf:
            member = dist_info_metadata_name(zf.namelist(), f.project)
            if member is None:
                raise NeedsPipFallback(f"{f.filename} has no .dist-info/METADATA")
            return zf.read(member)
    except damaged_archive(zipfile.BadZipFile, OSError, EOFError) as err:
        raise IndexUnavailable(f"{redact_url(f.url)}: not a readable wheel ({' '.join(str(err).split())})") from None


class StreamBroken(Exception):
    """Reading the bytes under :class:`ChunkStream` failed (the network, not the archive):
    ``cause`` is what the chunk source raised. Not an OSError, so an archive reader never takes
    it for a damaged archive."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class ChunkStream:
    """A read-only, forward-only file over an iterator of byte chunks (an HTTP body read as it
    arrives), so that a ``.tar.gz`` sdist is read only up to its PKG-INFO. ``cap``: more bytes
    than this raise ``too_large()``; ``size``: the bytes read so far."""

    def __init__(self, chunks: Iterable[bytes], cap: int, too_large: Any) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self._cap = cap
        self._too_large = too_large
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            try:
                chunk = next(self._chunks, None)
            except Exception as err:  # noqa: BLE001 - the source's failure, told apart from a bad archive
                raise StreamBroken(err) from None
            if chunk is None:
                break
            self.size += len(chunk)
            if self.size > self._cap:
                raise self._too_large()
            self._buffer += chunk
        if n < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


def pkg_info_from_sdist(fileobj: Any, f: DistFile) -> bytes:
    """The top-level ``PKG-INFO`` of an sdist. A ``.tar.gz`` is read as a stream and only up to
    that member (setuptools writes it among the first; hatchling, flit and meson-python last);
    ``fileobj`` may then be a :class:`ChunkStream`. A ``.zip`` needs a seekable file."""
    import tarfile
    import zipfile

    def top_level_pkg_info(name: str) -> bool:
        return name.count("/") == 1 and name.endswith("/PKG-INFO")

    try:
        if f.filename.lower().endswith(".zip"):
            with zipfile.ZipFile(fileobj) as zf:
                for name in zf.namelist():
                    if top_level_pkg_info(name):
                        return zf.read(name)
        else:
            with tarfile.open(fileobj=fileobj, mode="r|*") as tf:  # a stream: stops at PKG-INFO
                for member in tf:
                    if member.isfile() and top_level_pkg_info(member.name.removeprefix("./")):
                        extracted = tf.extractfile(member)
                        if extracted is not None:
                            return extracted.read(MAX_METADATA_BYTES + 1)
    except damaged_archive(zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, TypeError) as err:
        # tarfile's "could not be opened" lists one line per method tried: one line here. TypeError:
        # tarfile's stream mode reads a gzip header cut short as ord(b"") (CPython 3.11-3.13)
        raise IndexUnavailable(f"{redact_url(f.url)}: not a readable sdist ({' '.join(str(err).split())})") from None
    raise NeedsBuild(f"{f.project} {f.version} is an sdist whose dependencies need a build")


def core_metadata_from_record(record: Mapping[str, Any], f: DistFile) -> CoreMetadata:
    if "needs_build" in record:
        # only an sdist's record says so for a build; a wheel without METADATA stays pip's to judge
        if f is not None and not f.is_wheel:
            raise NeedsBuild(record["needs_build"])
        raise NeedsPipFallback(record["needs_build"])
    return CoreMetadata(
        name=record["name"],
        version=record["version"],
        requires_dist=tuple(record["requires_dist"]),
        requires_python=record.get("requires_python"),
        provides_extra=tuple(record["provides_extra"]),
        build_needed=record.get("build_needed"),
        dynamic=tuple(record.get("dynamic") or ()),
    )


def parse_core_metadata(data: bytes | str) -> CoreMetadata:
    """A METADATA / PKG-INFO text as :class:`CoreMetadata`; ValueError if it is not metadata."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return core_metadata_from_record(parse_metadata_fields(raw), None)  # type: ignore[arg-type]
