"""Index pages: PEP 503 HTML and PEP 691 JSON project pages parsed into links, and links into
rows of one project (pip's ``LinkCollector`` and ``LinkEvaluator`` file-name rules).

A link from a page is ``[filename, url, requires_python, yanked, hashes, metadata_hashes]``; a
row is a link of the project with its version and tags: ``[filename, url, version, tag or None,
requires_python, yanked, hashes, metadata_hashes]``, ``tag`` being the wheel's compressed tag
set as its name writes it (``cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64``), expanded
by :func:`expand_tags` once per distinct string when a file is offered. Lists of strings,
because they are stored as JSON and a big page has tens of thousands of them: decoding one must
not build an object per tag.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from packaging.version import InvalidVersion, Version

from guard.index.urls import redact_url
from guard.models import DistFile
from guard.policy.names import canonical_name

# PEP 691 content negotiation, preferring JSON (the header pip sends).
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("text/html", "application/vnd.pypi.simple.v1+html")

# pip's archive extensions for source distributions (pip._internal.utils.filetypes).
_SDIST_EXTENSIONS = (
    ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz",
    ".tar.lzma", ".zip",
)  # fmt: skip
HASH_NAMES = ("sha256", "sha384", "sha512", "sha224", "sha1", "md5")


_VERSIONS: dict[str, Version] = {}


def cached_version(text: str) -> Version:
    v = _VERSIONS.get(text)
    if v is None:
        v = _VERSIONS[text] = Version(text)
    return v


# The parts of a wheel's name, each checked once however many files repeat it (a big page has
# tens of thousands of files but a few dozen names, versions and tag sets): what
# ``packaging.utils.parse_wheel_filename`` accepts, asked of packaging itself part by part.
_WHEEL_NAMES: dict[str, str | None] = {}  # name part -> canonical name, None: invalid
_NORMAL_VERSIONS: dict[str, str | None] = {}  # version as written -> normalized, None: invalid
_TAG_SETS: dict[str, frozenset[str] | None] = {}  # compressed tag set -> expanded, None: invalid
_BUILD_TAG = re.compile(r"(\d+)(.*)\Z", re.ASCII)  # packaging's _build_tag_regex


def _wheel_name(part: str) -> str | None:
    if part not in _WHEEL_NAMES:
        from packaging.utils import InvalidWheelFilename, parse_wheel_filename

        try:
            _WHEEL_NAMES[part] = str(parse_wheel_filename(f"{part}-0-py3-none-any.whl")[0])
        except InvalidWheelFilename:
            _WHEEL_NAMES[part] = None
    return _WHEEL_NAMES[part]


def _normal_version(text: str) -> str | None:
    if text not in _NORMAL_VERSIONS:
        try:
            _NORMAL_VERSIONS[text] = str(Version(text))
        except InvalidVersion:
            _NORMAL_VERSIONS[text] = None
    return _NORMAL_VERSIONS[text]


def expand_tags(tag: str) -> frozenset[str] | None:
    """A wheel name's compressed tag set expanded to tag triples (``py2.py3-none-any`` ->
    ``{"py2-none-any", "py3-none-any"}``), one shared frozenset per distinct string; None when
    packaging refuses it (pip skips such a file)."""
    if tag not in _TAG_SETS:
        from packaging.tags import InvalidTag, parse_tag

        try:
            _TAG_SETS[tag] = frozenset(str(t) for t in parse_tag(tag))
        except InvalidTag:
            _TAG_SETS[tag] = None
    return _TAG_SETS[tag]


def parse_filename(filename: str, project: str) -> tuple[str, str | None] | None:
    """``(version, compressed wheel tag set or None for an sdist)``, or None when the file is
    not a distribution of ``project`` or its name does not parse (pip skips those too)."""
    if filename.endswith(".whl"):
        # packaging.utils.parse_wheel_filename, its checks memoized per part
        stem = filename[:-4]
        dashes = stem.count("-")
        if dashes not in (4, 5):
            return None
        parts = stem.split("-", dashes - 2)
        if _wheel_name(parts[0]) != project:
            return None
        version = _normal_version(parts[1])
        if version is None:
            return None
        if dashes == 5 and _BUILD_TAG.match(parts[2]) is None:
            return None
        if expand_tags(parts[-1]) is None:
            return None
        return version, parts[-1]
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
            version = _normal_version(stem[i + 1 :])
            return None if version is None else (version, None)
    return None


def hashes_from_fragment(fragment: str) -> dict[str, str]:
    hashes = {}
    for part in fragment.split("&"):
        name, sep, value = part.partition("=")
        if sep and name in HASH_NAMES and value:
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
Link = list
LINK_WIDTH, ROW_WIDTH = 6, 8


# An absolute http(s) URL that urljoin returns as it is, whatever the base (a plain host; no
# params, query, whitespace or control characters): nearly every file of a real page, and
# urljoin is the slowest step of reading a page of 15,000 files.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.\-_~%!$&'()*+,=:@]+/[^?#;\x00-\x20\x7f]*\Z")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _join(base: str, href: str) -> tuple[str, str]:
    """``urljoin(base, href)`` split at its fragment: ``(url, fragment)``."""
    head, _, fragment = href.partition("#")
    if _PLAIN_URL.match(head) and not _CONTROL.search(fragment):
        return head, fragment
    url, _, fragment = urljoin(base, href).partition("#")
    return url, fragment


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


def parse_html(text: str, page_url: str) -> list[Link]:
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
        url, fragment = _join(base, href.strip())
        filename = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
        requires_python = attrs.get("data-requires-python")
        requires_python = html.unescape(requires_python).strip() if requires_python else None
        yanked = attrs.get("data-yanked")
        if yanked is not None:
            yanked = html.unescape(yanked)
        elif "data-yanked" in attrs:
            yanked = ""
        metadata: Any = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        if metadata is None and ("data-core-metadata" in attrs or "data-dist-info-metadata" in attrs):
            metadata = True  # attribute present without a value
        links.append(
            [filename, url, requires_python or None, yanked, hashes_from_fragment(fragment),
             _metadata_attr(metadata)]
        )  # fmt: skip
    return links


def parse_json(body: bytes, page_url: str) -> list[Link]:
    """PEP 691 links. Raises ValueError for anything that is not a PEP 691 project page."""
    try:
        data = json.loads(body)
    except RecursionError:  # json recurses per nesting level; not a ValueError
        raise ValueError("JSON nested too deeply") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise ValueError("JSON without a 'files' list")
    links = []
    files.reverse()
    while files:
        # taken off the decoded page one by one: a big page's entries are freed as its links
        # are made, not both held at once
        entry = files.pop()
        if not isinstance(entry, dict):
            continue
        href, filename, requires_python = entry.get("url"), entry.get("filename"), entry.get("requires-python")
        if not href or not filename:
            continue
        if not (isinstance(href, str) and isinstance(filename, str) and isinstance(requires_python, (str, type(None)))):
            raise ValueError("a file entry whose url, filename or requires-python is not a string")
        url, fragment = _join(page_url, href)
        hashes = entry.get("hashes")
        hashes = {str(k): str(v) for k, v in hashes.items()} if isinstance(hashes, dict) else {}
        if not hashes:
            hashes = hashes_from_fragment(fragment)
        yanked = entry.get("yanked", False)
        yanked = None if yanked is False or yanked is None else ("" if yanked is True else str(yanked))
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
        links.append([filename, url, requires_python or None, yanked, hashes, _metadata_attr(metadata)])
    return links


def decode_body(response: Any) -> str:
    """An HTML body as text: the charset the server names, else UTF-8 (not requests'
    ISO-8859-1 default for text/*)."""
    charset = "utf-8"
    for param in response.headers.get("Content-Type", "").split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip("\"'")
    try:
        return response.content.decode(charset, errors="replace")
    except LookupError:
        return response.content.decode("utf-8", errors="replace")


def parse_rows(links: list[Link], project: str, *, consume: bool = False) -> list[list]:
    """Links -> rows for ``project``, dropping other projects and unparsable names.
    ``consume``: empty ``links`` while reading them (a big page's links are freed as its rows
    are made), for a caller that owns them."""
    rows = []
    prefix = project + "-"
    if consume:
        links.reverse()
    for filename, url, requires_python, yanked, hashes, metadata_hashes in _taken(links) if consume else links:
        if not filename.endswith(".whl") and not canonical_name(filename).startswith(prefix):
            continue  # a cheap pre-check for other projects' archives (a wheel's name is memoized)
        parsed = parse_filename(filename, project)
        if parsed is not None:
            rows.append([filename, url, parsed[0], parsed[1], requires_python, yanked, hashes, metadata_hashes])
    return rows


def _taken(items: list) -> Iterator:
    """The items of a reversed list, popped one by one (last first: in their original order)."""
    while items:
        yield items.pop()


def dist_file_for_url(url: str) -> DistFile:
    """A :class:`DistFile` for a wheel named by direct URL (``name @ https://.../x.whl``), so that
    its metadata can be read like an index file's (``.metadata``, range requests, download)."""
    from packaging.utils import parse_wheel_filename

    plain, _, fragment = url.partition("#")
    filename = unquote(urlsplit(plain).path.rpartition("/")[2])
    name, version, _, tags = parse_wheel_filename(filename)
    return DistFile(
        project=str(name),
        filename=filename,
        url=plain,
        version=version,
        is_wheel=True,
        wheel_tags=frozenset(str(t) for t in tags),
        requires_python=None,
        yanked=None,
        hashes=hashes_from_fragment(fragment),
        metadata_hashes=None,
        source=redact_url(plain),
    )
