"""What the two halves of :class:`guard.index.client.IndexClient` share: its settings, counters,
disk cache, transport and lock, and the single-flight and parallel work over them. Pages
(:mod:`guard.index.page_fetch`) and metadata (:mod:`guard.index.metadata_fetch`) are read by
methods of one object so that a run's answers, counters and warnings stay in one place."""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields
from typing import Any, Callable

from guard.index.cache import DiskCache
from guard.index.settings import IndexSettings
from guard.index.transport import Slot, Transport


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

    @property
    def pages(self) -> int:
        """Index pages read so far, however answered (what a progress line counts)."""
        return sum(getattr(self, f.name) for f in fields(self) if f.name.startswith("pages_"))

    @property
    def metadata_files(self) -> int:
        """Core metadata files read so far, however answered."""
        return sum(getattr(self, f.name) for f in fields(self) if f.name.startswith("metadata_"))


class ClientState:
    """The state of one index client (set by ``IndexClient.__init__``) and its plumbing."""

    settings: IndexSettings
    stats: IndexStats
    max_workers: int
    _page_max_age: float | None
    _cache: DiskCache
    _lock: threading.Lock
    _transport: Transport
    _pages: dict[str, Slot]
    _metadata: dict[str, Slot]
    _findlinks: dict[str, Slot]
    # What the answers of this client depended on, for callers that memoize on top of it
    # (guard.pipeline.verdict_cache): until when they hold without asking the index again (0
    # after an answer from a page the index could not confirm), the remote pages used with the
    # digest of their content (``pages_unchanged`` checks them), and the local pages and
    # directories read.
    fresh_until: float
    pages_used: dict[str, list]  # plain URL -> [content digest, project or None]
    local_paths: set[str]
    _offline: dict[str, list]  # index host -> [reason, oldest fetch time]
    _skipped: dict[str, str]  # unreachable index (shown) -> reason, no cached page
    _down: dict[str, str]  # host -> why it failed (after pip's retries) in this run

    def _count(self, counter: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + n)

    def _single_flight(self, table: dict[str, Slot], key: str, compute: Callable[[], Any]) -> Any:
        with self._lock:
            slot = table.get(key)
            owner = slot is None
            if owner:
                slot = table[key] = Slot()
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
        """Whether ``fn(item)`` was already asked (its single-flight slot exists)."""
        return False
