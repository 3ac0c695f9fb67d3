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
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast
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

    def feed(self, text: str, close: bool = True) -> None:
        self._parser.feed(text)
        if close:
            self._parser.close()


def parse_html(text: str, page_url: str) -> list[Link]:
    """PEP 503 links. Raises ValueError for a body that is not HTML at all."""
    parser = _AnchorParser()
    parser.feed(text)
    if not parser.saw_tag and text.strip():
        raise ValueError("not an HTML page")
    base = urljoin(page_url, parser.base) if parser.base else page_url
    return [link for link in map(lambda attrs: _html_link(attrs, base), parser.anchors) if link is not None]


_HTML_CHUNK = 1 << 16


def iter_html_links(text: str, page_url: str) -> Iterator[Link]:
    """:func:`parse_html`'s links, the page fed to the parser a piece at a time and its links
    made as they come (a big page's anchors are not all held at once). :class:`AgainWhole`
    for a ``<base>`` met after links were made (it applies to all of them)."""
    parser = _AnchorParser()
    made = False
    for start in range(0, len(text), _HTML_CHUNK):
        seen_base = parser.base
        parser.feed(text[start : start + _HTML_CHUNK], close=start + _HTML_CHUNK >= len(text))
        if parser.base != seen_base and made:
            raise AgainWhole("a <base> after links")
        base = urljoin(page_url, parser.base) if parser.base else page_url
        anchors, parser.anchors = parser.anchors, []
        for attrs in anchors:
            link = _html_link(attrs, base)
            if link is not None:
                made = True
                yield link
    if not parser.saw_tag and text.strip():
        raise ValueError("not an HTML page")


def _html_link(attrs: dict[str, str | None], base: str) -> Link | None:
    import html

    href = attrs.get("href")
    if not href:
        return None
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
    return [filename, url, requires_python or None, yanked, hashes_from_fragment(fragment), _metadata_attr(metadata)]


def parse_json(body: bytes, page_url: str) -> list[Link]:
    """PEP 691 links. Raises ValueError for anything that is not a PEP 691 project page."""
    text = json_text(body)
    try:
        return list(iter_json_links(text, page_url))
    except AgainWhole:
        return parse_json_whole(text, page_url)


def json_text(body: bytes | bytearray) -> str:
    """The text of a JSON body, decoded as ``json.loads`` decodes bytes."""
    return body.decode(json.detect_encoding(body), "surrogatepass")


class AgainWhole(ValueError):
    """A page the streaming decoders leave to the whole-page ones (a second ``files`` key, a
    ``<base>`` after links): rare, and read as before."""


_WS = re.compile(r"[ \t\n\r]*")


def iter_json_links(text: str, page_url: str) -> Iterator[Link]:
    """PEP 691 links, decoded one ``files`` entry at a time: the rest of the page is decoded
    and checked as ``json.loads`` would (same errors), but a big page's tree of entries is
    never built (pydantic-core: 6.6 MB of JSON, 17.8 MB decoded). Raises ValueError as
    :func:`parse_json`; :class:`AgainWhole` for a second ``files`` key (the last one counts)."""
    from json.decoder import JSONDecodeError

    scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
    scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
    ws = cast(Callable[[str, int], "re.Match[str]"], _WS.match)  # "*": it always matches
    i = ws(text, 0).end()
    if not text.startswith("{", i):
        json_loads_whole(text)  # not an object: json.loads' error, or none
        raise ValueError("JSON without a 'files' list")

    def value(at: int) -> tuple[Any, int]:
        try:
            return scan(text, at)
        except StopIteration as err:
            raise JSONDecodeError("Expecting value", text, err.value) from None
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

    files = None  # what the "files" key held: a list (streamed) or another value
    i = ws(text, i + 1).end()
    if text.startswith("}", i):
        i += 1
    else:
        while True:
            if not text.startswith('"', i):
                raise JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
            key, i = scanstring(text, i + 1)
            i = ws(text, i).end()
            if not text.startswith(":", i):
                raise JSONDecodeError("Expecting ':' delimiter", text, i)
            i = ws(text, i + 1).end()
            if key == "files" and files is not None:
                raise AgainWhole("two 'files' keys")
            if key == "files" and text.startswith("[", i):
                files = []
                i = ws(text, i + 1).end()
                if text.startswith("]", i):
                    i += 1
                else:
                    while True:
                        entry, i = value(i)
                        link = _json_link(entry, page_url)
                        del entry
                        if link is not None:
                            yield link
                        i = ws(text, i).end()
                        i += 1
                        if text.startswith("]", i - 1):
                            break
                        if not text.startswith(",", i - 1):
                            raise JSONDecodeError("Expecting ',' delimiter", text, i - 1)
                        i = ws(text, i).end()
            else:
                other, i = value(i)
                if key == "files":
                    files = other
                del other
            i = ws(text, i).end()
            i += 1
            if text.startswith("}", i - 1):
                break
            if not text.startswith(",", i - 1):
                raise JSONDecodeError("Expecting ',' delimiter", text, i - 1)
            i = ws(text, i).end()
    if ws(text, i).end() != len(text):
        raise JSONDecodeError("Extra data", text, ws(text, i).end())
    if not isinstance(files, list):
        raise ValueError("JSON without a 'files' list")


def json_loads_whole(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:  # json recurses per nesting level; not a ValueError
        raise ValueError("JSON nested too deeply") from None


def parse_json_whole(text: str, page_url: str) -> list[Link]:
    """PEP 691 links from the whole decoded page (json.loads' last-duplicate-key rule)."""
    data = json_loads_whole(text)
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise ValueError("JSON without a 'files' list")
    return [link for link in map(lambda e: _json_link(e, page_url), files) if link is not None]


def _json_link(entry: Any, page_url: str) -> Link | None:
    if not isinstance(entry, dict):
        return None
    href, filename, requires_python = entry.get("url"), entry.get("filename"), entry.get("requires-python")
    if not href or not filename:
        return None
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
    return [filename, url, requires_python or None, yanked, hashes, _metadata_attr(metadata)]


def decode_body(response: Any) -> str:
    """An HTML body as text: the charset the server names, else UTF-8 (not requests'
    ISO-8859-1 default for text/*)."""
    return html_text(response.content, response.headers.get("Content-Type", ""))


def html_text(body: bytes | bytearray, content_type: str) -> str:
    """:func:`decode_body` of a body and its Content-Type header."""
    charset = "utf-8"
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip("\"'")
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def parse_rows(links: Iterable[Link], project: str, *, consume: bool = False) -> list[list]:
    """Links -> rows for ``project``, dropping other projects and unparsable names.
    ``consume``: empty ``links`` (a list) while reading them (a big page's links are freed as
    its rows are made), for a caller that owns them."""
    if consume and isinstance(links, list):
        links.reverse()
        links = _taken(links)
    return list(iter_rows(links, project))


def iter_rows(links: Iterable[Link], project: str) -> Iterator[list]:
    """:func:`parse_rows`, a row at a time."""
    prefix = project + "-"
    for filename, url, requires_python, yanked, hashes, metadata_hashes in links:
        if not filename.endswith(".whl") and not canonical_name(filename).startswith(prefix):
            continue  # a cheap pre-check for other projects' archives (a wheel's name is memoized)
        parsed = parse_filename(filename, project)
        if parsed is not None:
            yield [filename, url, parsed[0], parsed[1], requires_python, yanked, hashes, metadata_hashes]


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
