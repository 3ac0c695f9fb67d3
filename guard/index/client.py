"""Package index client: the files a project offers and their core metadata, with a disk cache.

This is the hot path of the product. Index pages are as fresh as pip's own: pip revalidates
every index page on every run (``Cache-Control: max-age=0``), so a cached page here costs one
conditional request too (``If-None-Match``/``If-Modified-Since``; a 304 has no body). Metadata
is content-addressed and answered from the cache without a request. Confirming the pages of a
memoized verdict (``pages_unchanged``) uses ``http.client`` and never imports ``requests``
(about 60-140 ms of imports).

Sources are collected the way pip's ``PackageFinder`` collects them (``--index-url``,
``--extra-index-url``, ``--find-links``; PEP 503 HTML and PEP 691 JSON pages; ``file://`` index
trees and local find-links directories). Metadata comes from, fastest first: the cache, PEP 658
``<file>.metadata`` (advertised, or probed once per host when not advertised), HTTP range requests
on the wheel's zip directory (what uv does), and as a last resort the whole file.

Time: pip's ``--timeout`` per socket operation and ``--retries`` (urllib3 ``Retry``, pip's
statuses and backoff), and one deadline for all requests of a run (``GUARD_DEADLINE``, 60 s),
which also ends an index that drip-feeds its answer. An index that cannot be reached is
answered from its cached pages with a warning saying how old they are; without any, it is
skipped when another index answered (pip's behaviour), else IndexUnavailable.

The disk cache (``cache_dir``): ``pages-v1/`` holds parsed pages as JSON rows with their ETag,
Last-Modified, fetch time, a digest of their content and lifetime (``Cache-Control: max-age``,
else 600 s; used only with ``page_max_age=None``; ``no-store`` is not stored), and parsed local
pages under their stat signature; ``seen-v1/`` when the index last confirmed a page (a 304);
``metadata-v1/`` holds parsed core metadata under the file's sha256 (kept forever) or, without
one, its URL. Writes go through a temporary file and ``os.replace``; an entry that does not
parse or validate is a miss.

Only frozen dataclasses leave this module; no resolver logic lives here. Transport failures
become :class:`~guard.errors.IndexUnavailable` here, at the edge, with credentials redacted.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from packaging.version import InvalidVersion, Version

from guard.errors import IndexUnavailable, NeedsPipFallback
from guard.policy.names import canonical_name

__all__ = [
    "CoreMetadata",
    "DistFile",
    "IndexClient",
    "IndexSettings",
    "IndexStats",
    "redact_url",
]


# PEP 691 content negotiation, preferring JSON (the header pip sends).
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
_JSON_TYPE = "application/vnd.pypi.simple.v1+json"
_HTML_TYPES = ("text/html", "application/vnd.pypi.simple.v1+html")

DEFAULT_MAX_AGE = 600.0  # seconds a page stays fresh when the server does not say
DEFAULT_DEADLINE = 60.0  # seconds all index requests of one run may take together
_TAIL_BYTES = 64 * 1024  # first range request: the end of the wheel (directory, often METADATA)
_MAX_METADATA_BYTES = 16 * 1024 * 1024
_MAX_WHEEL_DOWNLOAD = 2 * 1024**3  # whole-wheel fallback cap (servers without Range)
_MAX_SDIST_DOWNLOAD = 256 * 1024**2
_CACHE_VERSION = 1

# pip's archive extensions for source distributions (pip._internal.utils.filetypes).
_SDIST_EXTENSIONS = (
    ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz",
    ".tar.lzma", ".zip",
)  # fmt: skip
_HASH_NAMES = ("sha256", "sha384", "sha512", "sha224", "sha1", "md5")
_HEX = re.compile(r"[0-9a-fA-F]+")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


# --------------------------------------------------------------------------- data crossing out


@dataclass(frozen=True)
class IndexSettings:
    """Where and how to look for distributions (pip's index options, already resolved)."""

    index_url: str | None  # None with no_index
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()  # dirs, file:// or http(s) pages with links
    no_index: bool = False
    cert: str | None = None
    client_cert: str | None = None
    trusted_hosts: tuple[str, ...] = ()
    proxy: str | None = None
    timeout: float = 15.0  # pip's --timeout: seconds per socket operation (connect, each read)
    retries: int = 5  # pip's --retries: urllib3 Retry total (connect/read errors, 500/503/520/527)
    # Seconds for every request of one run together (the guard's own limit, ``GUARD_DEADLINE``):
    # a per-operation timeout never ends an index that drip-feeds a byte now and then.
    deadline: float = DEFAULT_DEADLINE

    @classmethod
    def from_pip_values(cls, values: Mapping[str, str], *, default_index: str) -> IndexSettings:
        """Settings from pip option values as raw strings (``PipConfig.values``, possibly
        merged with the command line): pip's defaults, lists split on whitespace, booleans read
        as pip reads them. ``default_index`` is pip's own default (the code names no index)."""
        from guard.request.pip_config import parse_bool

        def listed(name: str) -> tuple[str, ...]:
            return tuple(values.get(name, "").split())

        no_index = parse_bool(values["no-index"], "no-index") if values.get("no-index") else False
        timeout = values.get("timeout") or values.get("default-timeout")
        return cls(
            index_url=None if no_index else (values.get("index-url") or default_index),
            extra_index_urls=() if no_index else listed("extra-index-url"),
            find_links=listed("find-links"),
            no_index=no_index,
            cert=values.get("cert") or None,
            client_cert=values.get("client-cert") or None,
            trusted_hosts=listed("trusted-host"),
            proxy=values.get("proxy") or None,
            timeout=float(timeout) if timeout else 15.0,
            retries=int(values["retries"]) if values.get("retries") else 5,
        )


def settings_memo(settings: IndexSettings) -> dict[str, Any] | None:
    """``settings`` as JSON values, for a memoized answer to revalidate its pages with later
    (the deadline is the later run's own); None when they hold what may be a credential (an
    ``@`` in an index, find-links or proxy URL), which is never written to disk."""
    texts = [settings.index_url or "", *settings.extra_index_urls, *settings.find_links, settings.proxy or ""]
    if any("@" in text for text in texts):
        return None
    return {f.name: list(v) if isinstance(v := getattr(settings, f.name), tuple) else v
            for f in fields(settings) if f.name != "deadline"}


def settings_from_memo(values: Mapping[str, Any], *, deadline: float) -> IndexSettings:
    """The inverse of :func:`settings_memo`; TypeError/ValueError for a memo it did not write."""
    return IndexSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}, deadline=deadline)


def deadline_from_environ(environ: Mapping[str, str]) -> float:
    """``GUARD_DEADLINE`` (seconds, > 0) or the default; UsageError for anything else."""
    from guard.errors import UsageError

    text = (environ.get("GUARD_DEADLINE") or "").strip()
    if not text:
        return DEFAULT_DEADLINE
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise UsageError(f"GUARD_DEADLINE={text!r} is not a number of seconds greater than 0")
    return value


@dataclass(frozen=True)
class DistFile:
    """One file a project offers on an index or find-links location.

    ``url`` is absolute and may carry credentials: never print it, use :func:`redact_url`.
    Hashing uses the URL only, so files can be set members and dict keys.
    """

    project: str  # PEP 503-normalized
    filename: str
    url: str
    version: Version
    is_wheel: bool
    wheel_tags: frozenset[str]  # expanded tag triples; empty for sdists
    requires_python: str | None
    yanked: str | None  # None = not yanked; reason ("" when none given) = yanked (PEP 592)
    hashes: Mapping[str, str]
    metadata_hashes: Mapping[str, str] | None  # PEP 658/714; None = not advertised
    source: str  # the index or find-links URL it came from (redacted)

    def __hash__(self) -> int:
        return hash(self.url)


@dataclass(frozen=True)
class CoreMetadata:
    """The fields of a distribution's core metadata the resolver needs."""

    name: str
    version: str
    requires_dist: tuple[str, ...]
    requires_python: str | None
    provides_extra: tuple[str, ...]
    dynamic: tuple[str, ...] = ()
    # An sdist whose PKG-INFO alone would need a build (PEP 643) but whose core metadata the
    # index serves as a PEP 658 file: pip reads that file and builds nothing, unless hashes are
    # required (then pip fetches the sdist itself). The reason, for the provider to decide.
    build_needed: str | None = None


@dataclass
class IndexStats:
    """Counters for ``guard`` diagnostics and for tests (reads are racy but fine)."""

    requests: int = 0
    bytes_downloaded: int = 0
    pages_fetched: int = 0
    pages_revalidated: int = 0  # 304 Not Modified
    pages_offline: int = 0  # the index could not be reached: answered from the cached page
    pages_from_cache: int = 0  # fresh on disk, no request
    pages_local: int = 0  # file:// index pages and find-links directories
    pages_missing: int = 0  # 404: the project is not on that index
    metadata_cache: int = 0
    metadata_pep658: int = 0  # advertised <file>.metadata
    metadata_url: int = 0  # not advertised, but <file>.metadata answered
    metadata_range: int = 0
    metadata_whole: int = 0
    metadata_local: int = 0  # read from a local file

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def redact_url(url: str) -> str:
    """``url`` with its password (or a lone token) replaced by ``****``, as pip shows URLs."""
    if "@" not in url or "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    shown = f"{user}:****" if has_password else "****"
    return urlunsplit(parts._replace(netloc=f"{shown}@{hostport}"))




# --------------------------------------------------------------------------- small helpers

_VERSIONS: dict[str, Version] = {}


def _version(text: str) -> Version:
    v = _VERSIONS.get(text)
    if v is None:
        v = _VERSIONS[text] = Version(text)
    return v


def _scrub(text: str) -> str:
    """Remove anything that looks like URL credentials from free text."""
    return re.sub(r"(://)[^/@\s]+@", r"\1****@", text)


def _split_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), (unquote(user), unquote(password))


def _netloc(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2].lower()


def _is_file_url(url: str) -> bool:
    return url[:5].lower() == "file:"


def _url_to_path(url: str) -> str:
    return unquote(urlsplit(url).path)


def _path_to_url(path: str) -> str:
    # urllib.request.pathname2url, without importing urllib.request (~13 ms) on POSIX
    return "file://" + quote(os.path.abspath(path))


def _parse_filename(filename: str, project: str) -> tuple[str, list[str] | None] | None:
    """``(version, wheel tags or None for an sdist)``, or None when the file is not a
    distribution of ``project`` or its name does not parse (pip skips those too)."""
    if filename.endswith(".whl"):
        from packaging.utils import InvalidWheelFilename, parse_wheel_filename

        try:
            name, version, _build, tags = parse_wheel_filename(filename)
        except (InvalidWheelFilename, InvalidVersion):
            return None
        if name != project:
            return None
        return str(version), sorted(str(t) for t in tags)
    lowered = filename.lower()
    for ext in _SDIST_EXTENSIONS:
        if lowered.endswith(ext):
            stem = filename[: -len(ext)]
            break
    else:
        return None
    # pip's _find_name_version_sep: the first "-" whose prefix is the project's name.
    for i, char in enumerate(stem):
        if char == "-" and canonical_name(stem[:i]) == project:
            try:
                return str(Version(stem[i + 1 :])), None
            except InvalidVersion:
                return None
    return None


def _hashes_from_fragment(fragment: str) -> dict[str, str]:
    hashes = {}
    for part in fragment.split("&"):
        name, sep, value = part.partition("=")
        if sep and name in _HASH_NAMES and value:
            hashes[name] = value
    return hashes


def _metadata_attr(value: Any) -> dict[str, str] | None:
    """PEP 658/691/714 ``core-metadata`` value -> advertised hashes ({} = no hash), or None."""
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str):
        if value.strip().lower() == "false":
            return None
        name, sep, digest = value.partition("=")
        return {name.strip(): digest.strip()} if sep else {}
    return None


# A link from a page: [filename, url, requires_python, yanked, hashes, metadata_hashes]; a row
# is a link of the project with its version and tags: [filename, url, version, tags or None,
# requires_python, yanked, hashes, metadata_hashes]. Lists, because they are stored as JSON.
_Link = list
_LINK, _ROW = 6, 8


class _AnchorParser:
    """Collects ``<a>`` attributes and the first ``<base href>`` (pip's HTMLLinkParser)."""

    def __init__(self) -> None:
        from html.parser import HTMLParser

        outer = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                outer.saw_tag = True
                if tag == "a":
                    outer.anchors.append(dict(attrs))
                elif tag == "base" and outer.base is None:
                    href = dict(attrs).get("href")
                    if href:
                        outer.base = href

        self.saw_tag = False
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []
        self._parser = Parser(convert_charrefs=True)

    def feed(self, text: str) -> None:
        self._parser.feed(text)
        self._parser.close()


def _parse_html(text: str, page_url: str) -> list[_Link]:
    """PEP 503 links. Raises ValueError for a body that is not HTML at all."""
    import html

    parser = _AnchorParser()
    parser.feed(text)
    if not parser.saw_tag and text.strip():
        raise ValueError("not an HTML page")
    base = urljoin(page_url, parser.base) if parser.base else page_url
    links = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, _, fragment = urljoin(base, href.strip()).partition("#")
        filename = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
        requires_python = attrs.get("data-requires-python")
        requires_python = html.unescape(requires_python).strip() if requires_python else None
        yanked = attrs.get("data-yanked")
        if yanked is not None:
            yanked = html.unescape(yanked)
        elif "data-yanked" in attrs:
            yanked = ""
        metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        if metadata is None and ("data-core-metadata" in attrs or "data-dist-info-metadata" in attrs):
            metadata = True  # attribute present without a value
        links.append(
            [filename, url, requires_python or None, yanked, _hashes_from_fragment(fragment),
             _metadata_attr(metadata)]
        )  # fmt: skip
    return links


def _parse_json(body: bytes, page_url: str) -> list[_Link]:
    """PEP 691 links. Raises ValueError for anything that is not a PEP 691 project page."""
    try:
        data = json.loads(body)
    except RecursionError:  # json recurses per nesting level; not a ValueError
        raise ValueError("JSON nested too deeply") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise ValueError("JSON without a 'files' list")
    links = []
    for entry in files:
        if not isinstance(entry, dict) or not entry.get("url") or not entry.get("filename"):
            continue
        if not all(isinstance(entry.get(k), (str, type(None))) for k in ("url", "filename", "requires-python")):
            raise ValueError("a file entry whose url, filename or requires-python is not a string")
        url, _, fragment = urljoin(page_url, entry["url"]).partition("#")
        hashes = entry.get("hashes")
        hashes = {str(k): str(v) for k, v in hashes.items()} if isinstance(hashes, dict) else {}
        if not hashes:
            hashes = _hashes_from_fragment(fragment)
        yanked = entry.get("yanked", False)
        yanked = None if yanked is False or yanked is None else ("" if yanked is True else str(yanked))
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
        links.append(
            [entry["filename"], url, entry.get("requires-python") or None, yanked, hashes,
             _metadata_attr(metadata)]
        )  # fmt: skip
    return links


def _cache_lifetime(headers: Mapping[str, str]) -> tuple[float, bool, bool]:
    """``(max_age, no_cache, no_store)`` from Cache-Control and Age."""
    max_age: float | None = None
    no_cache = no_store = False
    for directive in headers.get("Cache-Control", "").lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name == "no-cache":
            no_cache = True
        elif name == "no-store":
            no_store = True
        elif name == "max-age":
            try:
                max_age = float(value.strip().strip('"'))
            except ValueError:
                pass
    if max_age is None:
        max_age = DEFAULT_MAX_AGE
    try:
        max_age -= float(headers.get("Age", 0) or 0)
    except ValueError:
        pass
    return max(max_age, 0.0), no_cache, no_store


def _parse_core_metadata(data: bytes) -> dict[str, Any]:
    """The header fields of a METADATA / PKG-INFO file. Raises ValueError if not metadata."""
    from email.parser import HeaderParser

    if len(data) > _MAX_METADATA_BYTES:
        raise ValueError("metadata too large")
    text = data.decode("utf-8", errors="replace")
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


def _matches(meta: Mapping[str, Any], f: DistFile) -> bool:
    try:
        return canonical_name(meta["name"]) == f.project and Version(meta["version"]) == f.version
    except InvalidVersion:
        return False


# Fields whose change at build time would change the resolution (PEP 643).
_BUILD_SENSITIVE = ("requires-dist", "requires-python", "provides-extra")


def _sdist_check(meta: Mapping[str, Any], f: DistFile) -> None:
    """PEP 643: an sdist's PKG-INFO is usable only from Metadata-Version 2.2 on, and only for
    fields not listed as Dynamic."""
    try:
        metadata_version = Version(meta.get("metadata_version") or "0")
    except InvalidVersion:
        metadata_version = Version("0")
    dynamic = {d.lower() for d in meta.get("dynamic", ())}
    if metadata_version < Version("2.2") or dynamic.intersection(_BUILD_SENSITIVE):
        raise NeedsPipFallback(f"{f.project} {f.version} is an sdist whose dependencies need a build")


def _dist_info_metadata_name(names: Iterable[str], project: str) -> str | None:
    """The top-level ``<name>-<version>.dist-info/METADATA`` member for ``project``."""
    candidates = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
    for member in candidates:
        if canonical_name(member.split("/", 1)[0][: -len(".dist-info")].split("-", 1)[0]) == project:
            return member
    return candidates[0] if len(candidates) == 1 else None


def _damaged_archive() -> tuple[type[Exception], ...]:
    """What zipfile and tarfile raise besides their own errors for a damaged or unusual archive:
    an unsupported zip version, compression method or flag (NotImplementedError), an encrypted
    member (RuntimeError), a corrupt compressed stream (zlib.error, lzma.LZMAError), bad offsets
    (ValueError). A function: the hot path imports neither zlib nor lzma."""
    import lzma
    import zlib

    return (NotImplementedError, RuntimeError, ValueError, zlib.error, lzma.LZMAError)


def _metadata_from_wheel_file(fileobj: Any, f: DistFile) -> bytes:
    import zipfile

    try:
        with zipfile.ZipFile(fileobj) as zf:
            member = _dist_info_metadata_name(zf.namelist(), f.project)
            if member is None:
                raise NeedsPipFallback(f"{f.filename} has no .dist-info/METADATA")
            return zf.read(member)
    except (zipfile.BadZipFile, OSError, EOFError, *_damaged_archive()) as err:
        raise IndexUnavailable(f"{redact_url(f.url)}: not a readable wheel ({' '.join(str(err).split())})") from None


def _pkg_info_from_sdist(fileobj: Any, f: DistFile) -> bytes:
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
            with tarfile.open(fileobj=fileobj, mode="r:*") as tf:
                for member in tf:
                    if member.isfile() and top_level_pkg_info(member.name.removeprefix("./")):
                        extracted = tf.extractfile(member)
                        if extracted is not None:
                            return extracted.read(_MAX_METADATA_BYTES + 1)
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, *_damaged_archive()) as err:
        # tarfile's "could not be opened" lists one line per method tried: one line here
        raise IndexUnavailable(f"{redact_url(f.url)}: not a readable sdist ({' '.join(str(err).split())})") from None
    raise NeedsPipFallback(f"{f.project} {f.version} is an sdist whose dependencies need a build")


# --------------------------------------------------------------------------- zip over ranges

_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CDIR = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


class _RangeNotSupported(Exception):
    """The server answered a range request with the whole file (200) instead of 206."""

    def __init__(self, response: Any) -> None:
        self.response = response


class _RangeReader:
    """Random access to a remote file through HTTP range requests, starting from its tail."""

    def __init__(self, fetch: Callable[[str], Any], url: str) -> None:
        self._fetch = fetch
        self._url = url
        response = fetch(f"bytes=-{_TAIL_BYTES}")
        if response.status_code != 206:
            raise _RangeNotSupported(response)
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        self.tail = response.content
        self.size = int(total) if total.isdigit() else len(self.tail)
        self.tail_start = self.size - len(self.tail)

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``, from the tail already held or one more request."""
        end = min(end, self.size)
        if start >= self.tail_start:
            return self.tail[start - self.tail_start : end - self.tail_start]
        fetch_end = min(end, self.tail_start)  # what lies in the tail is not fetched again
        response = self._fetch(f"bytes={start}-{fetch_end - 1}")
        if response.status_code != 206:
            raise _RangeNotSupported(response)
        data = response.content
        if end > self.tail_start:
            data += self.tail[: end - self.tail_start]
        if len(data) != end - start:
            raise ValueError("short range response")
        return data


def _zip_member_by_range(reader: _RangeReader, project: str) -> bytes | None:
    """The wheel's METADATA read with range requests; None when the zip has none."""
    tail = reader.tail
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + _EOCD.size > len(tail):
        raise ValueError("no end of central directory in the last 64 KiB")
    _sig, _d, _cd_d, _n_this, n_total, cd_size, cd_offset, _clen = _EOCD.unpack_from(tail, pos)
    if n_total == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
        loc_pos = pos - _EOCD64_LOCATOR.size
        if loc_pos < 0:
            raise ValueError("zip64 locator outside the tail")
        sig, _disk, eocd64_offset, _ndisks = _EOCD64_LOCATOR.unpack_from(tail, loc_pos)
        if sig != b"PK\x06\x07":
            raise ValueError("bad zip64 locator")
        record = reader.read(eocd64_offset, eocd64_offset + _EOCD64.size)
        fields64 = _EOCD64.unpack(record)
        if fields64[0] != b"PK\x06\x06":
            raise ValueError("bad zip64 end of central directory")
        cd_size, cd_offset = fields64[8], fields64[9]
    directory = reader.read(cd_offset, cd_offset + cd_size)

    entries: dict[str, tuple[int, int, int, int, int]] = {}
    offset = 0
    while offset + _CDIR.size <= len(directory):
        (sig, _vm, _vn, _flags, method, _t, _d, crc, csize, usize, name_len, extra_len,
         comment_len, _disk, _ia, _ea, local_offset) = _CDIR.unpack_from(directory, offset)  # fmt: skip
        if sig != b"PK\x01\x02":
            raise ValueError("bad central directory entry")
        name = directory[offset + 46 : offset + 46 + name_len].decode("utf-8", errors="replace")
        if 0xFFFFFFFF in (csize, usize, local_offset):
            extra = directory[offset + 46 + name_len : offset + 46 + name_len + extra_len]
            csize, usize, local_offset = _zip64_extra(extra, csize, usize, local_offset)
        if name.endswith(".dist-info/METADATA"):
            entries[name] = (method, crc, csize, usize, local_offset)
        offset += 46 + name_len + extra_len + comment_len

    member = _dist_info_metadata_name(entries, project)
    if member is None:
        return None
    method, crc, csize, usize, local_offset = entries[member]
    if usize > _MAX_METADATA_BYTES:
        raise ValueError("METADATA too large")
    # The local header's extra field may differ from the central one: read generously once.
    guess = local_offset + _LOCAL.size + len(member.encode()) + 256 + csize
    head = reader.read(local_offset, guess)
    sig, *_rest, name_len, extra_len = _LOCAL.unpack_from(head, 0)
    if sig != b"PK\x03\x04":
        raise ValueError("bad local file header")
    start = _LOCAL.size + name_len + extra_len
    if start + csize > len(head):
        head = reader.read(local_offset, local_offset + start + csize)
    raw = head[start : start + csize]
    if method == 0:
        data = raw
    elif method == 8:
        import zlib

        data = zlib.decompress(raw, -15)
    elif method == 12:
        import bz2

        data = bz2.decompress(raw)
    else:
        raise ValueError(f"unsupported zip compression {method}")
    import zlib

    if zlib.crc32(data) != crc:
        raise ValueError("CRC mismatch in METADATA")
    return data


def _zip64_extra(extra: bytes, csize: int, usize: int, local_offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        header_id, size = struct.unpack_from("<HH", extra, pos)
        if header_id == 0x0001:
            values = iter(struct.unpack_from(f"<{size // 8}Q", extra, pos + 4))
            if usize == 0xFFFFFFFF:
                usize = next(values)
            if csize == 0xFFFFFFFF:
                csize = next(values)
            if local_offset == 0xFFFFFFFF:
                local_offset = next(values)
            break
        pos += 4 + size
    return csize, usize, local_offset


# --------------------------------------------------------------------------- cache and transport


class _DiskCache:
    """JSON records in files; atomic writes (tmp + os.replace); unreadable entries are misses."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, kind: str, key: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / f"{kind}-v{_CACHE_VERSION}" / key.rpartition("-")[2][:2] / f"{key}.json"

    def load(self, kind: str, key: str) -> dict[str, Any] | None:
        path = self._path(kind, key)
        if path is None:
            return None
        from guard.boundedjson import loads_bounded, read_bounded  # damaged: a miss, never a RecursionError

        try:
            record = loads_bounded(read_bounded(path))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def store(self, kind: str, key: str, record: Mapping[str, Any]) -> None:
        path = self._path(kind, key)
        if path is None:
            return
        try:
            from guard.private_files import FILE_MODE, private_dir

            private_dir(path.parent)  # 0700: the cache is the user's alone
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "w", encoding="utf-8") as fh:
                    json.dump(record, fh, separators=(",", ":"))
                os.replace(tmp, path)  # readers see the old entry or the new one, never half
            finally:
                if tmp.exists():
                    tmp.unlink()
        except OSError:
            pass  # the cache is an optimization; a read-only disk only makes us slower


class _TransportError(Exception):
    """A request failed before an HTTP status; ``str()`` is a short reason without URLs.
    ``slow``: it failed by running out of time (a timeout or the deadline), not at once."""

    def __init__(self, reason: str, *, slow: bool = False) -> None:
        super().__init__(reason)
        self.slow = slow


# Indexes that ran out of time in this process: (host, settings) -> (monotonic time, reason).
# Until a deadline's length has passed they are not waited for again, so a silent index costs
# one deadline per run, not one per client (the verdict cache's revalidation, then the
# simulation) nor one per page asked after the first.
_OUT_OF_TIME: dict[tuple[str, Any], tuple[float, str]] = {}


class _Transport:
    """One ``requests.Session``, created on first use so that cache hits never import requests."""

    def __init__(self, settings: IndexSettings, max_workers: int, count: Callable[[str, int], None]) -> None:
        self._settings = settings
        self._deadline_at = time.monotonic() + settings.deadline
        self._max_workers = max_workers
        self._count = count
        self._lock = threading.Lock()
        self._session: Any = None
        self._auth: dict[str, tuple[str, str]] = {}
        self._trusted = {h.lower() for h in settings.trusted_hosts}
        for url in (settings.index_url or "", *settings.extra_index_urls, *settings.find_links):
            try:
                _plain, auth = _split_auth(url)
            except ValueError as err:  # urlsplit: "Invalid IPv6 URL"; every later urlsplit of it too
                from guard.errors import UsageError

                raise UsageError(f"invalid index or find-links URL {_scrub(url)!r} ({err})") from None
            if auth is not None:
                self._auth.setdefault(_netloc(url), auth)

    def auth_for(self, url: str) -> tuple[str, str] | None:
        return self._auth.get(_netloc(url)) if self._auth else None

    def is_trusted(self, url: str) -> bool:
        netloc = _netloc(url)
        return netloc in self._trusted or netloc.rsplit(":", 1)[0] in self._trusted

    def is_secure_origin(self, url: str) -> bool:
        """pip's rule: https, file, localhost, or a --trusted-host; other http is ignored."""
        scheme = url.split(":", 1)[0].lower()
        if scheme in ("https", "file"):
            return True
        host = (urlsplit(url).hostname or "").lower()
        if host in ("localhost", "::1") or host.startswith("127."):
            return True
        return self.is_trusted(url)

    def _get_session(self) -> Any:
        with self._lock:
            if self._session is None:
                import requests
                from requests.adapters import HTTPAdapter
                from urllib3.util.retry import Retry

                # pip's PipSession: Retry(total=retries, status_forcelist=[500, 503, 520, 527],
                # backoff_factor=0.25): connect and read errors and those statuses are retried,
                # waiting 0, 0.5, 1, 2, 4 s... between tries. The run's deadline bounds it all.
                retry = Retry(
                    total=self._settings.retries,
                    status_forcelist=(500, 503, 520, 527),
                    backoff_factor=0.25,
                    raise_on_status=False,
                    respect_retry_after_header=False,  # never sleep for a server's whim
                )
                adapter = HTTPAdapter(
                    pool_connections=self._max_workers, pool_maxsize=self._max_workers, max_retries=retry
                )
                session = requests.Session()
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.headers["User-Agent"] = "conda-pip-guard (index client; requests)"
                if self._settings.proxy:
                    session.proxies = {"http": self._settings.proxy, "https": self._settings.proxy}
                if self._settings.client_cert:
                    session.cert = self._settings.client_cert
                self._session = session
            return self._session

    def remaining(self) -> float:
        """Seconds left of the run's deadline; _TransportError once it has passed."""
        left = self._deadline_at - time.monotonic()
        if left <= 0:
            raise _TransportError(self._deadline_reason(), slow=True)
        return left

    def _deadline_reason(self) -> str:
        return f"no complete answer within the {self._settings.deadline:g}s deadline (GUARD_DEADLINE)"

    def bounded(self, work: Callable[[], Any]) -> Any:
        """``work()`` (blocking network I/O) finished before the run's deadline, else
        _TransportError. It runs in a daemon thread the caller stops waiting for at the
        deadline: a socket timeout is per operation, so only a clock outside the read ends an
        index that sends a byte every few seconds. An abandoned request ends by itself at its
        next socket timeout (capped to what was left), or with the process."""
        left = self.remaining()
        slot = _Slot()

        def run() -> None:
            try:
                slot.value = work()
            except BaseException as err:  # re-raised in the caller
                slot.error = err
            finally:
                slot.done.set()

        threading.Thread(target=run, name="guard-index-request", daemon=True).start()
        if not slot.done.wait(left):
            raise _TransportError(self._deadline_reason(), slow=True)
        return slot.result()

    def get(self, url: str, headers: Mapping[str, str] | None = None, stream: bool = False) -> Any:
        """GET with pip's retries and timeout, within the run's deadline; raises
        _TransportError (no URL in it) on failure."""
        session = self._get_session()
        import requests

        plain, inline_auth = _split_auth(url)
        auth = inline_auth or self.auth_for(plain)
        verify: Any = False if self.is_trusted(plain) else (self._settings.cert or True)
        timeout = self._settings.timeout
        per_op = max(0.05, min(timeout, self.remaining()))
        self._count("requests", 1)

        def request() -> Any:
            response = session.get(
                plain, headers=dict(headers or {}), auth=auth, verify=verify,
                timeout=(per_op, per_op), stream=stream, allow_redirects=True,
            )  # fmt: skip
            if not stream:
                self._count("bytes_downloaded", len(response.content))
            return response

        try:
            return self.bounded(request)
        except requests.exceptions.RequestException as err:
            slow = isinstance(err, requests.exceptions.Timeout) or "timed out" in str(err)
            raise _TransportError(_describe(err, timeout), slow=slow) from None

    def read_body(self, response: Any) -> bytes:
        """The body of a streamed response, counted; _TransportError if the connection fails
        or the deadline passes."""
        import requests

        try:
            data = self.bounded(lambda: response.content)
        except requests.exceptions.RequestException as err:
            raise _TransportError(_describe(err, self._settings.timeout)) from None
        except _TransportError:
            response.close()
            raise
        self._count("bytes_downloaded", len(data))
        return data

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


def _describe(err: BaseException, timeout: float) -> str:
    """A short, URL-free reason for a requests exception."""
    import requests

    text = str(err)
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return f"timed out connecting (timeout {timeout:g}s)"
    if isinstance(err, requests.exceptions.ReadTimeout) or "Read timed out" in text:
        return f"no answer within {timeout:g}s"
    if isinstance(err, requests.exceptions.SSLError):
        return "TLS error" + (": certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in text else "")
    if isinstance(err, requests.exceptions.ProxyError):
        return "proxy error"
    if isinstance(err, requests.exceptions.ConnectionError):
        for needle, reason in (
            ("Connection refused", "connection refused"),
            ("NameResolutionError", "DNS lookup failed"),
            ("Name or service not known", "DNS lookup failed"),
            ("nodename nor servname", "DNS lookup failed"),
            ("Temporary failure in name resolution", "DNS lookup failed"),
            ("timed out", f"timed out (timeout {timeout:g}s)"),
            ("reset", "connection reset"),
            ("RemoteDisconnected", "connection closed without an answer"),
            ("aborted", "connection aborted"),
            ("too many 5", "server errors after retries"),
        ):
            if needle in text:
                return reason
        return "connection failed"
    if isinstance(err, requests.exceptions.ChunkedEncodingError):
        return "connection broken mid-answer"
    return _scrub(type(err).__name__)


class _Slot:
    """A single-flight result: the first caller computes, the others wait for it."""

    __slots__ = ("done", "value", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def result(self) -> Any:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value


# --------------------------------------------------------------------------- the client


@dataclass
class _Source:
    kind: str  # "index" (project pages), "page" (find-links page), "dir", "file"
    location: str  # URL (index root / page) or local path
    shown: str  # redacted, for DistFile.source


class _IndexUnreachable(IndexUnavailable):
    """An index that could not be reached (connection, timeout, deadline) or answered with a
    server error. pip logs a warning and goes on without that index's page; a page that is not
    an index page, or another HTTP error, stays a plain IndexUnavailable (fail closed)."""


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


class IndexClient:
    """Files and metadata for projects, from the configured indexes and find-links.

    Thread-safe; one instance per guard run. ``cache_dir`` None disables the disk cache.

    Remote index pages are revalidated on every run, as pip does (it sends
    ``Cache-Control: max-age=0``): a cached page costs one conditional request (``If-None-Match``
    / ``If-Modified-Since``; a 304 answers without a body). ``page_max_age`` None instead trusts
    the server's ``Cache-Control`` (else 600 s) without asking; a number overrides it.

    When an index cannot be reached (connection error, timeout, the run's deadline, a 5xx), a
    cached page of it is used, and :attr:`warnings` says how old; with no cached page, the other
    indexes' pages are used as pip uses them, unless no index answered at all (IndexUnavailable).
    """

    def __init__(
        self,
        settings: IndexSettings,
        *,
        cache_dir: Path | None,
        max_workers: int = 16,
        page_max_age: float | None = 0.0,
    ) -> None:
        self.settings = settings
        self.stats = IndexStats()
        self.max_workers = max(1, max_workers)
        self._page_max_age = page_max_age
        self._cache = _DiskCache(Path(cache_dir) if cache_dir is not None else None)
        self._lock = threading.Lock()
        self._transport = _Transport(settings, self.max_workers, self._count)
        self._pages: dict[str, _Slot] = {}
        self._metadata: dict[str, _Slot] = {}
        self._findlinks: dict[str, _Slot] = {}
        self._no_metadata_probe: set[str] = set()  # hosts where an unadvertised .metadata 404s
        self._sources = self._collect_sources(settings)
        # What the answers of this client depended on, for callers that memoize on top of it
        # (guard.verdict_cache): until when they hold without asking the index again (0 after
        # an answer from a page the index could not confirm), the remote pages used with the
        # digest of their content (``pages_unchanged`` checks them), and the local
        # pages/directories read.
        self.fresh_until = float("inf")
        self.pages_used: dict[str, list] = {}  # plain URL -> [content digest, project or None]
        self.local_paths: set[str] = set()
        self._offline: dict[str, list] = {}  # index host -> [reason, oldest fetch time]
        self._skipped: dict[str, str] = {}  # unreachable index (shown) -> reason, no cached page
        self._down: dict[str, str] = {}  # host -> why it failed (after pip's retries) in this run

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per index that could not be reached and how it was answered instead."""
        now = time.time()
        lines = [
            f"index {host} could not be reached ({reason}): answered from its cached pages, up to "
            f"{_age(now - oldest)} old (pip will not see newer releases either until it can reach it)"
            for host, (reason, oldest) in sorted(self._offline.items())
        ]
        lines += [
            f"index {shown} could not be reached ({reason}): judged with the other indexes' pages, "
            "as pip goes on without it"
            for shown, reason in sorted(self._skipped.items())
        ]
        return tuple(lines)

    # ------------------------------------------------------------------ public API

    def project_files(self, name: str) -> list[DistFile]:
        """Every file offered for ``name``, in pip's collection order: files in find-links
        directories (sorted by URL, reversed, as pip does), links of find-links pages, then
        ``index_url`` and each extra index in order; a URL seen twice is listed once.
        [] when no source has the project (404, or no such directory on a ``file://`` index).
        Raises IndexUnavailable for an index that cannot answer (unreachable, timeout, an HTTP
        error other than 404/410 after retries, a page that is neither PEP 691 nor HTML).
        Plain-http indexes on hosts that are neither local nor ``trusted_hosts`` are skipped,
        as pip skips them."""
        project = canonical_name(name)
        return list(self._single_flight(self._pages, project, lambda: self._project_files(project)))

    def metadata(self, f: DistFile) -> CoreMetadata:
        """Core metadata of ``f``. Raises NeedsPipFallback for an sdist whose dependencies are
        not static, IndexUnavailable when the file cannot be read from its index."""
        key = self._metadata_key(f)
        record = self._single_flight(self._metadata, key, lambda: self._load_metadata(f, key))
        return _core_metadata(record, f)

    def prefetch_pages(self, names: Iterable[str]) -> None:
        """Fetch project pages in parallel; errors surface on the later project_files()."""
        self._parallel(self.project_files, list(dict.fromkeys(names)))

    def prefetch_metadata(self, files: Iterable[DistFile]) -> None:
        """Fetch metadata in parallel; errors surface on the later metadata()."""
        self._parallel(self.metadata, list(dict.fromkeys(files)))

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _count(self, counter: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + n)

    def _single_flight(self, table: dict[str, _Slot], key: str, compute: Callable[[], Any]) -> Any:
        with self._lock:
            slot = table.get(key)
            owner = slot is None
            if owner:
                slot = table[key] = _Slot()
        assert slot is not None
        if owner:
            try:
                slot.value = compute()
            except BaseException as err:  # waiters re-raise the same error
                slot.error = err
            finally:
                slot.done.set()
        return slot.result()

    def _parallel(self, fn: Callable[[Any], Any], items: list[Any]) -> None:
        # Plain threads instead of concurrent.futures: that import (with logging) costs more
        # than a warm run's whole lookup, and results are kept in the single-flight slots.
        with self._lock:
            todo = [i for i in items if not self._is_done(fn, i)]
        if not todo:
            return
        position = iter(todo)
        take = threading.Lock()

        def worker() -> None:
            while True:
                with take:
                    item = next(position, None)
                if item is None:
                    return
                try:
                    fn(item)
                except Exception:
                    pass

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(self.max_workers, len(todo)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _is_done(self, fn: Callable[[Any], Any], item: Any) -> bool:
        if fn == self.project_files:
            return canonical_name(item) in self._pages
        if fn == self.metadata:
            return self._metadata_key(item) in self._metadata
        return False

    def pages_unchanged(self, pages: Mapping[str, Any]) -> bool:
        """Whether every remote page of ``pages`` (an earlier client's ``pages_used``) still
        has the content it had, asked of the index now (conditional requests, in parallel; a
        304 costs one round trip). False when one changed or could not be confirmed."""
        try:
            items = [(str(url), str(v[0]), v[1]) for url, v in pages.items()]
        except (AttributeError, TypeError, IndexError, KeyError):
            return False
        lean = self._lean_revalidation(items)
        if lean is not None:
            return lean

        def revalidate(item: tuple[str, str, Any]) -> None:
            url, _digest, project = item
            if project is None:
                self._http_page(url, lambda links: links, _LINK)
            else:
                self._http_page(url, lambda links: self._parse_rows(links, str(project)), _ROW, str(project))

        self._parallel(revalidate, items)
        if self._offline or self._skipped:
            return False
        return all(self.pages_used.get(url, [None])[0] == digest for url, digest, _ in items)

    def _lean_revalidation(self, items: list[tuple[str, str, Any]]) -> bool | None:
        """The verdict cache's hot path: every page confirmed by a 304 to a conditional GET
        sent with ``http.client`` (importing ``requests`` costs more than the requests
        themselves). True when all answer 304 for the content remembered, False when one page
        is known to have changed or the deadline passed; None wherever this lean path cannot
        tell (a proxy, a client certificate, no validator, any other answer or error): then the
        full client decides, as a simulation would."""
        env_proxy = any(k.lower() in ("http_proxy", "https_proxy", "all_proxy") for k in os.environ)
        if self.settings.proxy or self.settings.client_cert or env_proxy or not items:
            return None
        requests_to_send = []
        for url, digest, _project in items:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return None
            key = hashlib.sha256(url.encode()).hexdigest()
            record = self._cache.load("pages", key)
            if record is None or not isinstance(record.get("rows"), list):
                return None
            stored = record.get("digest") if isinstance(record.get("digest"), str) else _rows_digest(record["rows"])
            if stored != digest:
                return False  # the page cache already holds other content
            if not (record.get("etag") or record.get("last_modified")) and record.get("status") not in (404, 410):
                return None  # a page without a validator: only a whole answer could tell
            requests_to_send.append((url, parts, key, record))

        import http.client

        local = threading.local()
        answers: dict[str, bool] = {}
        failed: list[str] = []
        cert = self.settings.cert

        def connection(parts: Any, timeout: float) -> Any:
            conns = local.__dict__.setdefault("conns", {})
            ident = (parts.scheme, parts.netloc)
            if ident not in conns:
                if parts.scheme == "https":
                    import ssl

                    if self._transport.is_trusted(parts.geturl()):
                        context = ssl._create_unverified_context()
                    elif cert and os.path.isdir(cert):
                        context = ssl.create_default_context(capath=cert)
                    elif cert:
                        context = ssl.create_default_context(cafile=cert)
                    else:  # requests' default trust store
                        import certifi

                        context = ssl.create_default_context(cafile=certifi.where())
                    conns[ident] = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                                               context=context)
                else:
                    conns[ident] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            return conns[ident]

        def ask(entry: tuple[str, Any, str, dict[str, Any]]) -> None:
            url, parts, key, record = entry
            headers = {"Accept": ACCEPT, "Cache-Control": "max-age=0", "Accept-Encoding": "identity",
                       "User-Agent": "conda-pip-guard (index client; requests)"}
            if record.get("etag"):
                headers["If-None-Match"] = record["etag"]
            if record.get("last_modified"):
                headers["If-Modified-Since"] = record["last_modified"]
            auth = self._transport.auth_for(url)
            if auth is not None:
                import base64

                headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn = connection(parts, max(0.05, min(self.settings.timeout, self._transport.remaining())))
            try:
                conn.request("GET", path or "/", headers=headers)
                response = conn.getresponse()
                response.read()
                self._count("requests")
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                import socket

                if isinstance(err, (ConnectionError, TimeoutError, socket.gaierror)):
                    failed.append(url)  # not reachable; anything else (TLS...): the full client asks
                return
            gone = response.status in (404, 410) and record.get("status") in (404, 410)
            if response.status == 304 or gone:  # still not there: as unchanged as a 304
                answers[url] = True
                self._note_seen(key)

        def all_of_them() -> None:
            self._parallel(ask, requests_to_send)
            for conn in local.__dict__.get("conns", {}).values():
                conn.close()

        try:
            self._transport.bounded(all_of_them)
        except _TransportError as err:
            for _url, parts, _key, _record in requests_to_send:
                _OUT_OF_TIME[(parts.netloc.rpartition("@")[2].lower(), self.settings)] = (time.monotonic(), str(err))
            return False
        if len(answers) == len(requests_to_send):
            self._count("pages_revalidated", len(answers))
            return True
        # an index that cannot be reached cannot confirm anything: a miss, and the simulation
        # answers from the cached pages with a warning (asking again with retries here first
        # would only double the wait)
        return False if failed else None

    # ------------------------------------------------------------------ sources and pages

    def _collect_sources(self, settings: IndexSettings) -> list[_Source]:
        """pip's SearchScope + build_source: find-links first, then the indexes."""
        find_links: list[_Source] = []
        for location in settings.find_links:
            if location.startswith("~"):
                expanded = os.path.expanduser(location)
                if os.path.exists(expanded):
                    location = expanded
            scheme = urlsplit(location).scheme.lower() if _URL_SCHEME.match(location) else ""
            if scheme in ("http", "https"):
                find_links.append(_Source("page", location, redact_url(location)))
                continue
            if scheme not in ("", "file"):
                continue  # pip: "Location ... is ignored" (VCS and unknown schemes)
            path = _url_to_path(location) if scheme == "file" else location
            if os.path.isdir(path):
                find_links.append(_Source("dir", path, redact_url(location)))
            elif os.path.isfile(path):
                if path.lower().endswith((".html", ".htm")):
                    find_links.append(_Source("page", _path_to_url(path), redact_url(location)))
                else:
                    find_links.append(_Source("file", path, redact_url(location)))
            # else: a path that does not exist; pip warns and ignores it
        indexes: list[_Source] = []
        if not settings.no_index:
            for url in (settings.index_url, *settings.extra_index_urls):
                if url:
                    indexes.append(_Source("index", url, redact_url(url)))
        return find_links + indexes

    def _project_files(self, project: str) -> list[DistFile]:
        local_files: list[DistFile] = []
        from_pages: list[DistFile] = []
        unreachable: list[tuple[_Source, _IndexUnreachable]] = []
        answered = False
        for source in self._sources:
            if source.kind == "index":
                page_url = source.location.rstrip("/") + "/" + project + "/"
                if _is_file_url(page_url):
                    rows = self._local_page_rows(page_url, project)
                elif self._transport.is_secure_origin(page_url):
                    try:
                        rows = self._http_page(
                            page_url, lambda links: self._parse_rows(links, project), _ROW, project
                        )
                    except _IndexUnreachable as err:
                        unreachable.append((source, err))
                        continue
                else:
                    rows = []  # pip: "not a trusted or secure host and is being ignored"
                answered = True
                from_pages.extend(self._dist_files(rows, project, source.shown))
            elif source.kind == "page" and _is_file_url(source.location):
                rows = self._local_page_rows(source.location, project)
                from_pages.extend(self._dist_files(rows, project, source.shown))
            elif source.kind == "page":
                if not self._transport.is_secure_origin(source.location):
                    continue
                links = self._single_flight(
                    self._findlinks, source.location, lambda s=source: self._http_page(s.location, lambda x: x, _LINK)
                )
                from_pages.extend(self._dist_files(self._parse_rows(links, project), project, source.shown))
            elif source.kind == "dir":
                files, pages = self._local_dir_rows(source.location, project)
                local_files.extend(self._dist_files(files, project, source.shown))
                from_pages.extend(self._dist_files(pages, project, source.shown))
            else:  # a single archive named in find-links
                link = [os.path.basename(source.location), _path_to_url(source.location), None, None, {}, None]
                local_files.extend(self._dist_files(self._parse_rows([link], project), project, source.shown))
        if unreachable:
            # pip logs "Could not fetch URL ..." and goes on with the other indexes; when none
            # answered, there is nothing to judge with: fail closed.
            if not answered:
                raise unreachable[0][1]
            with self._lock:
                self.fresh_until = 0.0
                for source, err in unreachable:
                    self._skipped.setdefault(source.shown, str(err).rpartition(": ")[2])
        local_files.sort(key=lambda f: f.url, reverse=True)  # pip: sorted(file_links, reverse=True)
        seen: set[str] = set()
        result = []
        for f in local_files + from_pages:
            if f.url not in seen:
                seen.add(f.url)
                result.append(f)
        return result

    def _dist_files(self, rows: Iterable[list], project: str, source: str) -> list[DistFile]:
        """DistFiles from parsed rows ``[filename, url, version, tags, requires_python, yanked,
        hashes, metadata_hashes]``; credentials of the index go back into same-host URLs."""
        out = []
        has_auth = bool(self._transport._auth)
        empty: frozenset[str] = frozenset()
        new, set_attr = object.__new__, object.__setattr__
        for filename, url, version, tags, requires_python, yanked, hashes, metadata_hashes in rows:
            if has_auth:
                auth = self._transport.auth_for(url)
                if auth is not None:
                    parts = urlsplit(url)
                    userinfo = quote(auth[0], safe="") + (":" + quote(auth[1], safe="") if auth[1] else "")
                    url = urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))
            # What DistFile(...) does, in one step: the frozen dataclass __init__ sets eleven
            # fields one object.__setattr__ at a time, half the cost of loading a big page.
            f = new(DistFile)
            set_attr(f, "__dict__", {
                "project": project, "filename": filename, "url": url, "version": _version(version),
                "is_wheel": tags is not None, "wheel_tags": frozenset(tags) if tags else empty,
                "requires_python": requires_python, "yanked": yanked, "hashes": hashes,
                "metadata_hashes": metadata_hashes, "source": source,
            })  # fmt: skip
            out.append(f)
        return out

    @staticmethod
    def _parse_rows(links: list[_Link], project: str) -> list[list]:
        """Links -> rows for ``project``, dropping other projects and unparsable names."""
        rows = []
        prefix = project + "-"
        for filename, url, requires_python, yanked, hashes, metadata_hashes in links:
            if not canonical_name(filename).startswith(prefix):
                continue  # cheap pre-check before packaging's parser
            parsed = _parse_filename(filename, project)
            if parsed is not None:
                rows.append([filename, url, parsed[0], parsed[1], requires_python, yanked, hashes, metadata_hashes])
        return rows

    def _local_cached(
        self, signature: str, project: str, compute: Callable[[], list[list[list]]], parts: int
    ) -> list[list[list]]:
        """Row lists parsed from local pages and directories, cached under their stat
        signature, so a warm run neither re-parses HTML nor imports packaging's parser."""
        key = "local-" + hashlib.sha256(f"{signature}|{project}".encode()).hexdigest()
        record = self._cache.load("pages", key)
        if (
            record is not None
            and record.get("signature") == signature
            and isinstance(record.get("value"), list)
            and len(record["value"]) == parts
            and all(_valid_rows(rows, _ROW) for rows in record["value"])
        ):
            return record["value"]
        value = compute()
        self._cache.store("pages", key, {"signature": signature, "value": value})
        return value

    def _local_page_rows(self, url: str, project: str) -> list[list]:
        """Rows from a page on disk (``file://`` index or find-links HTML); none if missing."""
        path = _url_to_path(url)
        if os.path.isdir(path):
            path = os.path.join(path, "index.html")
            url = urljoin(url if url.endswith("/") else url + "/", "index.html")
        self._count("pages_local")
        with self._lock:
            self.local_paths.add(path)
        try:
            st = os.stat(path)
        except (OSError, ValueError):  # ValueError: a NUL (%00) in the path; no such page either
            return []
        signature = f"page|{path}|{st.st_size}|{st.st_mtime_ns}"
        [rows] = self._local_cached(
            signature, project, lambda: [self._parse_rows(self._read_local_page(path, url), project)], 1
        )
        return rows

    def _read_local_page(self, path: str, url: str) -> list[_Link]:
        try:
            with open(path, "rb") as fh:
                body = fh.read()
        except FileNotFoundError:
            return []
        except OSError as err:
            raise IndexUnavailable(f"{redact_url(url)}: cannot read ({err.strerror})") from None
        try:
            return _parse_html(body.decode("utf-8", errors="replace"), url)
        except ValueError as err:
            raise IndexUnavailable(f"{redact_url(url)}: unparsable index page ({err})") from None

    def _local_dir_rows(self, directory: str, project: str) -> tuple[list[list], list[list]]:
        """A find-links directory: its archives, and the links of HTML files in it (pip's
        _FlatDirectorySource). Cached under the directory's and its HTML files' mtimes."""
        self._count("pages_local")
        with self._lock:
            self.local_paths.add(directory)
        try:
            st = os.stat(directory)
            names = sorted(os.listdir(directory))
        except OSError:
            return [], []
        html_files = [n for n in names if n.lower().endswith((".html", ".htm"))]
        parts = [f"dir|{directory}|{st.st_mtime_ns}"]
        for name in html_files:
            try:
                hst = os.stat(os.path.join(directory, name))
                parts.append(f"{name}|{hst.st_size}|{hst.st_mtime_ns}")
            except OSError:
                pass

        def compute() -> list[list]:
            links = [
                [n, _path_to_url(os.path.join(directory, n)), None, None, {}, None]
                for n in names
                if n not in html_files and os.path.isfile(os.path.join(directory, n))
            ]
            pages = []
            for name in html_files:
                path = os.path.join(directory, name)
                pages.extend(self._read_local_page(path, _path_to_url(path)))
            return [self._parse_rows(links, project), self._parse_rows(pages, project)]

        files, pages = self._local_cached("|".join(parts), project, compute, 2)
        return files, pages

    def _http_page(
        self, page_url: str, to_rows: Callable[[list[_Link]], list[list]], width: int, project: str | None = None
    ) -> list[list]:
        """A remote page's rows (``width`` fields each): a cached page revalidated (or, with
        ``page_max_age`` None, used while fresh), answered from the cache when the index
        cannot be reached. ``project``: the project of an index page (None: a find-links page)."""
        plain_url = _split_auth(page_url)[0]
        key = hashlib.sha256(plain_url.encode()).hexdigest()
        record = self._cache.load("pages", key)
        if record is not None and not _valid_page_record(record, plain_url, width):
            record = None
        now = time.time()
        if record is not None and self._is_fresh(record, now):
            self._count("pages_from_cache")
            self._note_expiry(record)
            self._used(plain_url, record, project)
            return record["rows"]

        # pip's headers for index pages: revalidate through any HTTP cache on the way too
        headers = {"Accept": ACCEPT, "Cache-Control": "max-age=0"}
        if record is not None:
            if record.get("etag"):
                headers["If-None-Match"] = record["etag"]
            if record.get("last_modified"):
                headers["If-Modified-Since"] = record["last_modified"]
        shown = redact_url(page_url)
        memo_key = (_netloc(plain_url), self.settings)
        out_of_time = _OUT_OF_TIME.get(memo_key)
        if out_of_time is not None and time.monotonic() - out_of_time[0] < self.settings.deadline:
            return self._unreachable(record, plain_url, project, shown, out_of_time[1])
        down = self._down.get(memo_key[0])
        if down is not None:  # it failed after its retries in this run: not asked again
            return self._unreachable(record, plain_url, project, shown, down)
        try:
            response = self._transport.get(page_url, headers=headers)
        except _TransportError as err:
            with self._lock:
                self._down.setdefault(memo_key[0], str(err))
            if err.slow:
                _OUT_OF_TIME[memo_key] = (time.monotonic(), str(err))
            return self._unreachable(record, plain_url, project, shown, str(err))

        status = response.status_code
        if status == 304 and record is not None:
            self._count("pages_revalidated")
            same = all(response.headers.get(h) in (None, record.get(f))
                       for h, f in (("ETag", "etag"), ("Last-Modified", "last_modified")))
            if same and self._page_max_age == 0:
                self._note_seen(key)  # not the whole page again: a big one takes longer to write than to ask
            else:
                self._remember(record, response, now, key)
            self._used(plain_url, record, project)
            return record["rows"]
        if status in (404, 410):
            self._count("pages_missing")
            rows: list[list] = []
        elif status == 200:
            self._count("pages_fetched")
            content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            base_url = _split_auth(response.url or plain_url)[0]
            try:
                if content_type == _JSON_TYPE:
                    links = _parse_json(response.content, base_url)
                elif content_type in _HTML_TYPES:
                    links = _parse_html(_decode(response), base_url)
                else:
                    raise ValueError(f"Content-Type {content_type or 'missing'}")
            except (ValueError, UnicodeDecodeError, LookupError) as err:
                raise IndexUnavailable(f"{shown}: unparsable index page ({_scrub(str(err))[:80]})") from None
            rows = to_rows(links)
        elif status >= 500 or status == 429:
            return self._unreachable(record, plain_url, project, shown,
                                     f"HTTP {status} after {self.settings.retries} retries")
        else:
            raise IndexUnavailable(f"{shown}: HTTP {status}")
        record = {"url": plain_url, "status": status, "rows": rows, "digest": _rows_digest(rows)}
        self._remember(record, response, now, key)
        self._used(plain_url, record, project)
        return rows

    def _unreachable(
        self, record: dict[str, Any] | None, plain_url: str, project: str | None, shown: str, reason: str
    ) -> list[list]:
        """The cached page of an index that cannot answer now (noted for :attr:`warnings`),
        else _IndexUnreachable."""
        if record is None:
            raise _IndexUnreachable(f"{shown}: {reason}")
        self._count("pages_offline")
        host = _netloc(plain_url)
        seen = self._cache.load("seen", hashlib.sha256(plain_url.encode()).hexdigest()) or {}
        confirmed = max(record["fetched"], seen["at"] if isinstance(seen.get("at"), (int, float)) else 0)
        with self._lock:
            self.fresh_until = 0.0  # an answer from an unconfirmed page is never memoized
            noted = self._offline.setdefault(host, [reason, confirmed])
            noted[1] = min(noted[1], confirmed)
        self._used(plain_url, record, project)
        return record["rows"]

    def _note_seen(self, key: str) -> None:
        """The index confirmed its page now (a 304): when it is later unreachable, the age
        shown is counted from here."""
        self._cache.store("seen", key, {"at": time.time()})

    def _used(self, plain_url: str, record: Mapping[str, Any], project: str | None) -> None:
        digest = record.get("digest")
        if not isinstance(digest, str):
            digest = _rows_digest(record["rows"])
        with self._lock:
            self.pages_used[plain_url] = [digest, project]

    def _note_expiry(self, record: Mapping[str, Any]) -> None:
        if self._page_max_age == 0:
            return  # revalidated on every run: its validity is pages_used, not a clock
        if self._page_max_age is not None:
            until = record["fetched"] + self._page_max_age
        elif record.get("no_cache"):
            until = 0.0
        else:
            until = record["fetched"] + record["max_age"]
        with self._lock:
            self.fresh_until = min(self.fresh_until, until)

    def _remember(self, record: dict[str, Any], response: Any, now: float, key: str) -> None:
        max_age, no_cache, no_store = _cache_lifetime(response.headers)
        record["fetched"] = now
        record["max_age"] = max_age
        record["no_cache"] = no_cache or no_store
        self._note_expiry(record)
        etag = response.headers.get("ETag")
        modified = response.headers.get("Last-Modified")
        if response.status_code != 304 or etag:
            record["etag"] = etag
        if response.status_code != 304 or modified:
            record["last_modified"] = modified
        if not no_store:
            self._cache.store("pages", key, record)

    def _is_fresh(self, record: Mapping[str, Any], now: float) -> bool:
        if self._page_max_age is not None:
            max_age = self._page_max_age
        elif record.get("no_cache"):
            return False
        else:
            max_age = record["max_age"]
        return 0 <= now - record["fetched"] < max_age

    # ------------------------------------------------------------------ metadata

    @staticmethod
    def _metadata_key(f: DistFile) -> str:
        """Content address when the index gives a sha256 (valid forever); else the URL, plus
        size and mtime for a local file that could be rebuilt in place."""
        digest = f.hashes.get("sha256")
        if digest and len(digest) == 64 and _HEX.fullmatch(digest):
            return "sha256-" + digest.lower()
        identity = _split_auth(f.url)[0]
        if _is_file_url(f.url):
            try:
                st = os.stat(_url_to_path(f.url))
                identity += f"#{st.st_size}-{st.st_mtime_ns}"
            except OSError:
                pass
        return "url-" + hashlib.sha256(identity.encode()).hexdigest()

    def _load_metadata(self, f: DistFile, key: str) -> dict[str, Any]:
        cached = self._cache.load("metadata", key)
        if cached is not None and _valid_metadata_record(cached):
            self._count("metadata_cache")
            return cached
        record = self._fetch_metadata(f)
        self._cache.store("metadata", key, record)
        return record

    def _fetch_metadata(self, f: DistFile) -> dict[str, Any]:
        """A metadata record: the parsed fields, or ``{"needs_build": reason}`` for an sdist
        whose dependencies are dynamic (cached too, so the sdist is not downloaded again)."""
        try:
            meta = self._metadata_fields(f)
        except NeedsPipFallback as err:
            return {"needs_build": str(err)}
        if not f.is_wheel:
            try:
                _sdist_check(meta, f)
            except NeedsPipFallback as err:
                if not meta.get("metadata_file"):
                    return {"needs_build": str(err)}
                # pip 26.3 takes an advertised metadata file for any distribution, sdists too,
                # with no Metadata-Version or Dynamic check
                # (operations/prepare.py: _fetch_metadata_using_link_data_attr)
                meta = {**meta, "build_needed": str(err)}
        return meta

    def _metadata_fields(self, f: DistFile) -> dict[str, Any]:
        if _is_file_url(f.url):
            return self._local_metadata(f)
        shown = redact_url(f.url)
        host = _netloc(f.url)
        # Not advertised: probe wheels only (PyPI and its mirrors serve it for wheels), and
        # stop probing a host once it said no.
        if f.metadata_hashes is not None or (f.is_wheel and host not in self._no_metadata_probe):
            meta = self._pep658(f, advertised=f.metadata_hashes is not None)
            if meta is not None:
                return meta
        if not f.is_wheel:
            return self._sdist_download(f)
        try:
            reader = _RangeReader(lambda r: self._range_get(f, r), f.url)
            data = _zip_member_by_range(reader, f.project)
        except _RangeNotSupported as whole:
            return self._whole_wheel(f, whole.response)
        except _TransportError as err:
            raise IndexUnavailable(f"{shown}: {err}") from None
        except (ValueError, struct.error, zlib_error()):
            # An unusual zip (huge comment, odd compression): read the whole file instead.
            return self._whole_wheel(f, self._get_ok(f, stream=True))
        if data is None:
            raise NeedsPipFallback(f"{f.filename} has no .dist-info/METADATA")
        self._count("metadata_range")
        return self._checked(data, f, shown)

    def _checked(self, data: bytes, f: DistFile, shown: str) -> dict[str, Any]:
        try:
            meta = _parse_core_metadata(data)
        except ValueError as err:
            raise IndexUnavailable(f"{shown}: unreadable metadata ({err})") from None
        if not _matches(meta, f):
            raise IndexUnavailable(
                f"{shown}: metadata says {meta['name']} {meta['version']}, not {f.project} {f.version}"
            )
        return meta

    def _pep658(self, f: DistFile, *, advertised: bool) -> dict[str, Any] | None:
        """``<url>.metadata``: verified against advertised hashes, or, when not advertised,
        accepted only if it parses and names this very file. None to try the next way."""
        shown = redact_url(f.url)
        try:
            response = self._transport.get(f.url + ".metadata")
        except _TransportError as err:
            if advertised:
                raise IndexUnavailable(f"{shown}.metadata: {err}") from None
            return None
        if response.status_code != 200:
            if response.status_code >= 500 and advertised:
                raise IndexUnavailable(f"{shown}.metadata: HTTP {response.status_code}")
            if not advertised:
                with self._lock:
                    self._no_metadata_probe.add(_netloc(f.url))
            return None
        data = response.content
        if advertised:
            for name, expected in (f.metadata_hashes or {}).items():
                if name in _HASH_NAMES and hashlib.new(name, data).hexdigest() != expected.lower():
                    raise IndexUnavailable(f"{shown}.metadata: hash mismatch ({name})")
            meta = {**self._checked(data, f, shown + ".metadata"), "metadata_file": True}
            self._count("metadata_pep658")
            return meta
        try:
            meta = _parse_core_metadata(data)
        except ValueError:
            meta = None
        if meta is None or not _matches(meta, f):
            with self._lock:
                self._no_metadata_probe.add(_netloc(f.url))
            return None
        self._count("metadata_url")
        return meta

    def _range_get(self, f: DistFile, byte_range: str) -> Any:
        # identity: a compressed answer would make byte offsets meaningless
        response = self._transport.get(
            f.url, headers={"Range": byte_range, "Accept-Encoding": "identity"}, stream=True
        )
        if response.status_code == 206:
            self._transport.read_body(response)
        elif response.status_code != 200:
            response.close()
            raise IndexUnavailable(f"{redact_url(f.url)}: HTTP {response.status_code}")
        return response

    def _get_ok(self, f: DistFile, *, stream: bool) -> Any:
        """GET the file itself; IndexUnavailable unless it answers 200."""
        try:
            response = self._transport.get(f.url, stream=stream)
        except _TransportError as err:
            raise IndexUnavailable(f"{redact_url(f.url)}: {err}") from None
        if response.status_code != 200:
            response.close()
            raise IndexUnavailable(f"{redact_url(f.url)}: HTTP {response.status_code}")
        return response

    def _download(self, f: DistFile, response: Any, cap: int) -> Any:
        """Stream a 200 answer into a temporary file, at most ``cap`` bytes."""
        import tempfile

        import requests

        spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)

        def copy() -> int:
            size = 0
            for chunk in response.iter_content(chunk_size=1024 * 1024):
                size += len(chunk)
                if size > cap:
                    raise NeedsPipFallback(f"{f.filename} is too large to inspect without range requests")
                spool.write(chunk)
            return size

        try:
            size = self._transport.bounded(copy)
        except requests.exceptions.RequestException as err:
            spool.close()
            raise IndexUnavailable(f"{redact_url(f.url)}: {_describe(err, self.settings.timeout)}") from None
        except _TransportError as err:
            spool.close()
            raise IndexUnavailable(f"{redact_url(f.url)}: {err}") from None
        except BaseException:
            spool.close()
            raise
        finally:
            response.close()
        self._count("bytes_downloaded", size)
        spool.seek(0)
        return spool

    def _whole_wheel(self, f: DistFile, response: Any) -> dict[str, Any]:
        spool = self._download(f, response, _MAX_WHEEL_DOWNLOAD)
        with spool:
            data = _metadata_from_wheel_file(spool, f)
        self._count("metadata_whole")
        return self._checked(data, f, redact_url(f.url))

    def _sdist_download(self, f: DistFile) -> dict[str, Any]:
        shown = redact_url(f.url)
        response = self._get_ok(f, stream=True)
        spool = self._download(f, response, _MAX_SDIST_DOWNLOAD)
        with spool:
            data = _pkg_info_from_sdist(spool, f)
        self._count("metadata_whole")
        return self._checked(data, f, shown)

    def _local_metadata(self, f: DistFile) -> dict[str, Any]:
        path = _url_to_path(f.url)
        shown = redact_url(f.url)
        sidecar = path + ".metadata"
        if os.path.isfile(sidecar):
            try:
                with open(sidecar, "rb") as fh:
                    meta = _parse_core_metadata(fh.read())
                if _matches(meta, f):
                    self._count("metadata_local")
                    return meta
            except (OSError, ValueError):
                pass
        try:
            with open(path, "rb") as fh:
                data = _metadata_from_wheel_file(fh, f) if f.is_wheel else _pkg_info_from_sdist(fh, f)
        except FileNotFoundError:
            raise IndexUnavailable(f"{shown}: file not found") from None
        self._count("metadata_local")
        return self._checked(data, f, shown)


def _decode(response: Any) -> str:
    """An HTML body as text: the charset the server names, else UTF-8 (not requests'
    ISO-8859-1 default for text/*)."""
    charset = "utf-8"
    for param in response.headers.get("Content-Type", "").split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"\'')
    try:
        return response.content.decode(charset, errors="replace")
    except LookupError:
        return response.content.decode("utf-8", errors="replace")


def _rows_digest(rows: Any) -> str:
    """What a page said, for telling whether it changed (whatever the server's ETag scheme)."""
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def _valid_rows(rows: Any, width: int) -> bool:
    return isinstance(rows, list) and all(isinstance(r, list) and len(r) == width for r in rows)


def _valid_page_record(record: Mapping[str, Any], url: str, width: int) -> bool:
    return (
        record.get("url") == url
        and isinstance(record.get("fetched"), (int, float))
        and isinstance(record.get("max_age"), (int, float))
        and _valid_rows(record.get("rows"), width)
    )


def _valid_metadata_record(record: Mapping[str, Any]) -> bool:
    if "needs_build" in record:
        return isinstance(record["needs_build"], str)
    return (
        isinstance(record.get("name"), str)
        and isinstance(record.get("version"), str)
        and isinstance(record.get("requires_dist"), list)
        and isinstance(record.get("provides_extra"), list)
    )


def _core_metadata(record: Mapping[str, Any], f: DistFile) -> CoreMetadata:
    if "needs_build" in record:
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
    return _core_metadata(_parse_core_metadata(raw), None)  # type: ignore[arg-type]


def dist_file_for_url(url: str) -> DistFile:
    """A :class:`DistFile` for a wheel named by direct URL (``name @ https://.../x.whl``), so that
    its metadata can be read like an index file's (``.metadata``, range requests, download)."""
    from packaging.utils import parse_wheel_filename

    plain, _, fragment = url.partition("#")
    filename = unquote(urlsplit(plain).path.rpartition("/")[2])
    name, version, _, tags = parse_wheel_filename(filename)
    return DistFile(project=str(name), filename=filename, url=plain, version=version, is_wheel=True,
                    wheel_tags=frozenset(str(t) for t in tags), requires_python=None, yanked=None,
                    hashes=_hashes_from_fragment(fragment), metadata_hashes=None, source=redact_url(plain))
