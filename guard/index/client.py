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

Concurrency: speculative work (the resolver's guesses of what it will ask next) runs on a few
fetch workers per client (``max_workers``, 6) in a priority queue, shallower guesses first; what
the resolver asks for while it is still queued is fetched by its own call at once. One TLS
context per CA bundle for the process (reading a bundle costs 25-55 ms of CPU), pooled
keep-alive connections per host.

Time: pip's ``--timeout`` per socket operation and ``--retries`` (urllib3 ``Retry``, pip's
statuses and backoff), and one deadline for all requests of a run (``GUARD_DEADLINE``, 60 s),
which also ends an index that drip-feeds its answer. An index that cannot be reached is
answered from its cached pages with a warning saying how old they are; without any, it is
skipped when another index answered (pip's behaviour), else IndexUnavailable.

The disk cache (``cache_dir``): ``pages-v2/`` holds parsed pages as compact JSON rows with their
ETag, Last-Modified, fetch time, a digest of their content and lifetime (``Cache-Control: max-age``,
else 600 s; used only with ``page_max_age=None``; ``no-store`` is not stored), and parsed local
pages under their stat signature; ``pageview-v1/`` each page as the target interpreter sees it
(with ``supported_tags``: the rows it can use, read instead of the whole page); ``seen-v1/``
when the index last confirmed a page (a 304, or the same bytes again);
``metadata-v1/`` holds parsed core metadata under the file's sha256 (kept forever) or, without
one, its URL. Writes go through a temporary file and ``os.replace``; an entry that does not
parse or validate is a miss.

Only frozen dataclasses leave this package (:class:`guard.models.DistFile`,
:class:`guard.models.CoreMetadata`, :class:`guard.models.DirectSource`); no resolver logic lives
here. Transport failures become :class:`~guard.errors.IndexUnavailable` at the edge, with
credentials redacted.

The client is assembled from one module per job: :mod:`~guard.index.settings` (options, deadline),
:mod:`~guard.index.transport` (HTTP session, retries, deadline), :mod:`~guard.index.cache` (disk
cache, freshness), :mod:`~guard.index.pages` (PEP 503/691 parsing), :mod:`~guard.index.page_fetch`
(sources and pages), :mod:`~guard.index.revalidate` (a memoized verdict's pages),
:mod:`~guard.index.metadata` (METADATA/PKG-INFO, PEP 643), :mod:`~guard.index.rangezip` (zip range
reads), :mod:`~guard.index.metadata_fetch` (PEP 658/714, range, download) and
:mod:`~guard.index.local_dist` (files the user names directly).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, Callable

from guard.index.arenas import one_arena
from guard.index.cache import DiskCache
from guard.index.metadata import core_metadata_from_record
from guard.index.metadata_fetch import MetadataReading
from guard.index.revalidate import PageRevalidation
from guard.index.settings import IndexSettings
from guard.index.state import IndexStats
from guard.index.transport import Slot, Transport
from guard.models import CoreMetadata, DirectSource, DistFile
from guard.policy.names import canonical_name

__all__ = ["IndexClient"]


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


class IndexClient(PageRevalidation, MetadataReading):
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
        max_workers: int = 6,
        page_max_age: float | None = 0.0,
        supported_tags: Iterable[str] | None = None,
    ) -> None:
        self.settings = settings
        self.stats = IndexStats()
        self.max_workers = max(1, max_workers)
        self._page_max_age = page_max_age
        self._cache = DiskCache(Path(cache_dir) if cache_dir is not None else None)
        self._lock = threading.Lock()
        one_arena()  # before the client's threads: their freed page bodies not kept per thread
        self._transport = Transport(settings, self.max_workers, self._count)
        self._pages: dict[str, Slot] = {}
        self._metadata: dict[str, Slot] = {}
        self._findlinks: dict[str, Slot] = {}
        self._no_metadata_probe: set[str] = set()  # hosts where an unadvertised .metadata 404s
        self._sources = self._collect_sources(settings)
        # the target's wheel tags: wheels that match none are never offered (None: every file)
        self.supported_tags = frozenset(supported_tags) if supported_tags is not None else None
        self.fresh_until = float("inf")
        self.pages_used = {}
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
        return core_metadata_from_record(record, f)

    def prefetch_pages(self, names: Iterable[str], *, depth: int = 0) -> None:
        """Fetch project pages on the fetch workers (``depth``: their priority, lower first)
        and wait for them; errors surface on the later project_files(). A page the resolver
        asks for meanwhile is fetched by the resolver's own call, not after the queue."""
        projects = [canonical_name(n) for n in dict.fromkeys(names)]
        jobs = [(p, partial(self._project_files, p)) for p in projects]
        self._wait_all(self._queue(self._pages, jobs, depth))

    def prefetch_metadata(self, files: Iterable[DistFile], *, depth: int = 0) -> None:
        """Fetch metadata on the fetch workers and wait for it, as :meth:`prefetch_pages`."""
        jobs = []
        for f in dict.fromkeys(files):
            key = self._metadata_key(f)
            jobs.append((key, partial(self._load_metadata, f, key)))
        self._wait_all(self._queue(self._metadata, jobs, depth))

    def close(self) -> None:
        self._close_pool()
        self._transport.close()

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _is_done(self, fn: Callable[[Any], Any], item: Any) -> bool:
        if fn == self.project_files:
            return canonical_name(item) in self._pages
        if fn == self.metadata:
            return self._metadata_key(item) in self._metadata
        return False

    def direct_source(self, item: Any) -> DirectSource:
        """Metadata of a requirement item that names a distribution directly (a local wheel,
        sdist or project directory, a wheel or sdist URL): :func:`guard.index.local_dist.direct_source`
        with this client reading remote files. The resolver receives this client and calls it,
        so that the resolve stage itself imports no I/O."""
        from guard.index.local_dist import direct_source

        return direct_source(item, self)
