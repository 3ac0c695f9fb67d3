"""The files a project offers: sources collected as pip's ``PackageFinder`` collects them
(``--find-links`` first, then ``--index-url`` and each ``--extra-index-url``), remote pages
revalidated as pip revalidates them, local pages and directories cached under their stat
signature, and an unreachable index answered from its cached page with a warning."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from guard.errors import IndexUnavailable
from guard.index.cache import (
    body_digest,
    cache_lifetime,
    encode_rows,
    rows_digest,
    valid_page_record,
    valid_rows,
)
from guard.index.page_decode import Answered, decode_page
from guard.index.page_view import PageViews
from guard.index.pages import (
    ACCEPT,
    LINK_WIDTH,
    ROW_WIDTH,
    Link,
    cached_version,
    expand_tags,
    iter_rows,
    parse_html,
    parse_rows,
)
from guard.index.settings import IndexSettings
from guard.index.state import ClientState
from guard.index.transport import OUT_OF_TIME, TransportError
from guard.index.urls import URL_SCHEME, is_file_url, netloc, path_to_url, redact_url, scrub, split_auth, url_to_path
from guard.models import DistFile

# One page decoded at a time, whatever the number of fetch threads: decoding is Python work
# that the GIL runs one thread at a time anyway, and a big page's decoded JSON, links and rows
# weigh several times its bytes (pydantic-core: 7 MB sent, 25 MB decoded), so several decoded
# at once only add up to the peak memory of a run.
_DECODING = threading.Lock()


@dataclass
class _Source:
    kind: str  # "index" (project pages), "page" (find-links page), "dir", "file"
    location: str  # URL (index root / page) or local path
    shown: str  # redacted, for DistFile.source


class _IndexUnreachable(IndexUnavailable):
    """An index that could not be reached (connection, timeout, deadline) or answered with a
    server error. pip logs a warning and goes on without that index's page; a page that is not
    an index page, or another HTTP error, stays a plain IndexUnavailable (fail closed)."""


class PageReading(ClientState):
    """Project pages and find-links locations, for :class:`guard.index.client.IndexClient`."""

    _sources: list[_Source]
    supported_tags: frozenset[str] | None = None
    """The target interpreter's wheel tags: wheels that match none are not offered (the check
    pipeline sets them; None: every file, for callers that ask about other platforms too)."""
    _views: PageViews | None = None

    def _page_views(self) -> PageViews | None:
        """Cached pages as the target interpreter sees them (:mod:`guard.index.page_view`)."""
        if self.supported_tags is None:
            return None
        if self._views is None:
            self._views = PageViews(self._cache, self.supported_tags)
        return self._views

    def _collect_sources(self, settings: IndexSettings) -> list[_Source]:
        """pip's SearchScope + build_source: find-links first, then the indexes."""
        find_links: list[_Source] = []
        for location in settings.find_links:
            if location.startswith("~"):
                expanded = os.path.expanduser(location)
                if os.path.exists(expanded):
                    location = expanded
            scheme = urlsplit(location).scheme.lower() if URL_SCHEME.match(location) else ""
            if scheme in ("http", "https"):
                find_links.append(_Source("page", location, redact_url(location)))
                continue
            if scheme not in ("", "file"):
                continue  # pip: "Location ... is ignored" (VCS and unknown schemes)
            path = url_to_path(location) if scheme == "file" else location
            if os.path.isdir(path):
                find_links.append(_Source("dir", path, redact_url(location)))
            elif os.path.isfile(path):
                if path.lower().endswith((".html", ".htm")):
                    find_links.append(_Source("page", path_to_url(path), redact_url(location)))
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
                if is_file_url(page_url):
                    rows = self._local_page_rows(page_url, project)
                elif self._transport.is_secure_origin(page_url):
                    try:
                        rows = self._http_page(page_url, lambda links: iter_rows(links, project), ROW_WIDTH, project)
                    except _IndexUnreachable as err:
                        unreachable.append((source, err))
                        continue
                else:
                    rows = []  # pip: "not a trusted or secure host and is being ignored"
                answered = True
                from_pages.extend(self._dist_files(rows, project, source.shown))
            elif source.kind == "page" and is_file_url(source.location):
                rows = self._local_page_rows(source.location, project)
                from_pages.extend(self._dist_files(rows, project, source.shown))
            elif source.kind == "page":
                if not self._transport.is_secure_origin(source.location):
                    continue

                def page_links(location: str = source.location) -> list[list]:
                    return self._http_page(location, lambda x: x, LINK_WIDTH)

                links = self._single_flight(self._findlinks, source.location, page_links)
                from_pages.extend(self._dist_files(parse_rows(links, project), project, source.shown))
            elif source.kind == "dir":
                files, pages = self._local_dir_rows(source.location, project)
                local_files.extend(self._dist_files(files, project, source.shown))
                from_pages.extend(self._dist_files(pages, project, source.shown))
            else:  # a single archive named in find-links
                link: Link = [os.path.basename(source.location), path_to_url(source.location), None, None, {}, None]
                local_files.extend(self._dist_files(parse_rows([link], project), project, source.shown))
        if unreachable:
            # pip logs "Could not fetch URL ..." and goes on with the other indexes; when none
            # answered, there is nothing to judge with: fail closed.
            if not answered:
                raise unreachable[0][1]
            with self._lock:
                self.fresh_until = 0.0
                for skipped, failure in unreachable:
                    self._skipped.setdefault(skipped.shown, str(failure).rpartition(": ")[2])
        local_files.sort(key=lambda f: f.url, reverse=True)  # pip: sorted(file_links, reverse=True)
        seen: set[str] = set()
        result = []
        for f in local_files + from_pages:
            if f.url not in seen:
                seen.add(f.url)
                result.append(f)
        return result

    def _dist_files(self, rows: Iterable[list], project: str, source: str) -> list[DistFile]:
        """DistFiles from parsed rows ``[filename, url, version, tag, requires_python, yanked,
        hashes, metadata_hashes]``; credentials of the index go back into same-host URLs. With
        ``supported_tags``, wheels none of whose tags this interpreter supports are left out:
        pip never offers them here, and a big page has thousands (numpy: 4,381 files, about one
        in twenty for a given interpreter)."""
        out = []
        has_auth = bool(self._transport._auth)
        supported = self.supported_tags
        empty: frozenset[str] = frozenset()
        applies: dict[str, frozenset[str] | None] = {}  # compressed tag set -> expanded, None: not here
        new, set_attr = object.__new__, object.__setattr__
        for filename, url, version, tag, requires_python, yanked, hashes, metadata_hashes in rows:
            tags: frozenset[str] | None = empty
            if tag is not None:
                if tag not in applies:
                    expanded = expand_tags(tag)
                    if expanded is not None and supported is not None and supported.isdisjoint(expanded):
                        expanded = None
                    applies[tag] = expanded
                tags = applies[tag]
                if tags is None:
                    continue
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
                "project": project, "filename": filename, "url": url, "version": cached_version(version),
                "is_wheel": tag is not None, "wheel_tags": tags,
                "requires_python": requires_python, "yanked": yanked, "hashes": hashes,
                "metadata_hashes": metadata_hashes, "source": source,
            })  # fmt: skip
            out.append(f)
        return out

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
            and all(valid_rows(rows, ROW_WIDTH) for rows in record["value"])
        ):
            return record["value"]
        value = compute()
        self._cache.store("pages", key, {"signature": signature, "value": value})
        return value

    def _local_page_rows(self, url: str, project: str) -> list[list]:
        """Rows from a page on disk (``file://`` index or find-links HTML); none if missing."""
        path = url_to_path(url)
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
            signature, project, lambda: [parse_rows(self._read_local_page(path, url), project)], 1
        )
        return rows

    def _read_local_page(self, path: str, url: str) -> list[Link]:
        try:
            with open(path, "rb") as fh:
                body = fh.read()
        except FileNotFoundError:
            return []
        except OSError as err:
            raise IndexUnavailable(f"{redact_url(url)}: cannot read ({err.strerror})") from None
        try:
            return parse_html(body.decode("utf-8", errors="replace"), url)
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
            links: list[Link] = [
                [n, path_to_url(os.path.join(directory, n)), None, None, {}, None]
                for n in names
                if n not in html_files and os.path.isfile(os.path.join(directory, n))
            ]
            pages: list[Link] = []
            for name in html_files:
                path = os.path.join(directory, name)
                pages.extend(self._read_local_page(path, path_to_url(path)))
            return [parse_rows(links, project), parse_rows(pages, project)]

        files, pages = self._local_cached("|".join(parts), project, compute, 2)
        return files, pages

    def _http_page(
        self, page_url: str, to_rows: Callable[[Iterator[Link]], Iterable[list]], width: int, project: str | None = None
    ) -> list[list]:
        """A remote page's rows (``width`` fields each): a cached page revalidated (or, with
        ``page_max_age`` None, used while fresh), answered from the cache when the index
        cannot be reached. ``project``: the project of an index page (None: a find-links page)."""
        plain_url = split_auth(page_url)[0]
        key = hashlib.sha256(plain_url.encode()).hexdigest()
        views = self._page_views() if width == ROW_WIDTH else None  # this interpreter's rows only
        record = views.load(key, plain_url, width) if views else self._cache.load("pages", key)
        if record is not None and not valid_page_record(record, plain_url, width):
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
        memo_key = (netloc(plain_url), self.settings)
        out_of_time = OUT_OF_TIME.get(memo_key)
        if out_of_time is not None and time.monotonic() - out_of_time[0] < self.settings.deadline:
            return self._unreachable(record, plain_url, project, shown, out_of_time[1])
        down = self._down.get(memo_key[0])
        if down is not None:  # it failed after its retries in this run: not asked again
            return self._unreachable(record, plain_url, project, shown, down)
        try:
            response = self._transport.get(page_url, headers=headers, stream=True)
            content = [self._transport.read_body(response, into_buffer=True)]
            response = Answered(response.status_code, response.headers, response.url)
        except TransportError as err:
            with self._lock:
                self._down.setdefault(memo_key[0], str(err))
            if err.slow:
                OUT_OF_TIME[memo_key] = (time.monotonic(), str(err))
            return self._unreachable(record, plain_url, project, shown, str(err))

        status = response.status_code
        if status == 304 and record is not None:
            self._count("pages_revalidated")
            same = all(
                response.headers.get(h) in (None, record.get(f))
                for h, f in (("ETag", "etag"), ("Last-Modified", "last_modified"))
            )
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
            base_url = split_auth(response.url or plain_url)[0]
            body = body_digest(content_type, base_url, content[0])  # decoding empties content
            if record is not None and record.get("body") == body:
                # the bytes of the cached page again (an index without validators): its rows
                # as parsed then, neither parsed nor encoded nor written again
                same = all(
                    response.headers.get(h) == record.get(f)
                    for h, f in (("ETag", "etag"), ("Last-Modified", "last_modified"))
                )
                if same and self._page_max_age == 0:
                    self._note_seen(key)
                else:
                    self._remember(record, response, now, key)
                self._used(plain_url, record, project)
                return record["rows"]
            with _DECODING:
                try:  # streamed: the rows of this interpreter's view kept, all encoded for the record
                    header, keep = response.headers.get("Content-Type", ""), views.applies if views else None
                    rows, rows_json, digest = decode_page(content_type, header, content, base_url, to_rows, keep)
                except (ValueError, UnicodeDecodeError, LookupError) as err:
                    raise IndexUnavailable(f"{shown}: unparsable index page ({scrub(str(err))[:80]})") from None
        elif status >= 500 or status == 429:
            return self._unreachable(
                record, plain_url, project, shown, f"HTTP {status} after {self.settings.retries} retries"
            )
        else:
            raise IndexUnavailable(f"{shown}: HTTP {status}")
        if status != 200:
            encoded, digest = encode_rows(rows)
            rows_json = [encoded]
        record = {"url": plain_url, "status": status, "rows": rows, "digest": digest}
        if status == 200:
            record["body"] = body
        written = self._remember(record, response, now, key, rows_json)
        if views is not None and written is not None:
            views.store(key, record, written)
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
        host = netloc(plain_url)
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
            digest = rows_digest(record["rows"])
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

    def _remember(
        self, record: dict[str, Any], response: Any, now: float, key: str, rows_json: Any = None
    ) -> list[int] | None:
        max_age, no_cache, no_store = cache_lifetime(response.headers)
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
        if no_store:
            return None
        views = self._page_views()
        if record.get("view") and views is not None:  # its page's record is updated, not replaced by a view
            views.write_through(key, record)
            return None
        return self._cache.store("pages", key, record, encoded={"rows": rows_json} if rows_json is not None else None)

    def _is_fresh(self, record: Mapping[str, Any], now: float) -> bool:
        if self._page_max_age is not None:
            max_age = self._page_max_age
        elif record.get("no_cache"):
            return False
        else:
            max_age = record["max_age"]
        return 0 <= now - record["fetched"] < max_age

    # ------------------------------------------------------------------ metadata
