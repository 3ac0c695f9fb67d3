"""Index pages: PEP 503 HTML and PEP 691 JSON project pages parsed into links, and links into
rows of one project (pip's ``LinkCollector`` and ``LinkEvaluator`` file-name rules).

A link from a page is ``[filename, url, requires_python, yanked, hashes, metadata_hashes]``; a
row is a link of the project with its version and tags: ``[filename, url, version, tags or None,
requires_python, yanked, hashes, metadata_hashes]``. Lists, because they are stored as JSON.
"""

from __future__ import annotations

import json
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


def parse_filename(filename: str, project: str) -> tuple[str, list[str] | None] | None:
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
        url, _, fragment = urljoin(base, href.strip()).partition("#")
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
    for entry in files:
        if not isinstance(entry, dict) or not entry.get("url") or not entry.get("filename"):
            continue
        if not all(isinstance(entry.get(k), (str, type(None))) for k in ("url", "filename", "requires-python")):
            raise ValueError("a file entry whose url, filename or requires-python is not a string")
        url, _, fragment = urljoin(page_url, entry["url"]).partition("#")
        hashes = entry.get("hashes")
        hashes = {str(k): str(v) for k, v in hashes.items()} if isinstance(hashes, dict) else {}
        if not hashes:
            hashes = hashes_from_fragment(fragment)
        yanked = entry.get("yanked", False)
        yanked = None if yanked is False or yanked is None else ("" if yanked is True else str(yanked))
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
        links.append(
            [entry["filename"], url, entry.get("requires-python") or None, yanked, hashes,
             _metadata_attr(metadata)]
        )  # fmt: skip
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


def parse_rows(links: list[Link], project: str) -> list[list]:
    """Links -> rows for ``project``, dropping other projects and unparsable names."""
    rows = []
    prefix = project + "-"
    for filename, url, requires_python, yanked, hashes, metadata_hashes in links:
        if not canonical_name(filename).startswith(prefix):
            continue  # cheap pre-check before packaging's parser
        parsed = parse_filename(filename, project)
        if parsed is not None:
            rows.append([filename, url, parsed[0], parsed[1], requires_python, yanked, hashes, metadata_hashes])
    return rows


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
