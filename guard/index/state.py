"""What the two halves of :class:`guard.index.client.IndexClient` share: its settings, counters,
disk cache, transport and lock, and the single-flight work, the fetch queue (:class:`FetchPool`)
and the parallel revalidation over them. Pages
(:mod:`guard.index.page_fetch`) and metadata (:mod:`guard.index.metadata_fetch`) are read by
methods of one object so that a run's answers, counters and warnings stay in one place."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Sequence
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
    _pool: FetchPool | None = None  # the fetch workers, started on the first prefetch
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
        """``compute()`` once per key; later callers get its value (or its error). A caller
        that needs a key still waiting in the fetch queue computes it itself, now: what the
        resolver is blocked on never waits behind speculative prefetching."""
        with self._lock:
            slot = table.get(key)
            owner = slot is None or not slot.claimed
            if slot is None:
                slot = table[key] = Slot()
            slot.claimed = True
        if owner:
            slot.run(compute)
        return slot.result()

    # ------------------------------------------------------------------ the fetch queue

    def _fetch_pool(self) -> FetchPool:
        pool = self._pool
        if pool is None:
            pool = self._pool = FetchPool(self.max_workers, self._lock)
        return pool

    def _queue(self, table: dict[str, Slot], jobs: Sequence[tuple[str, Callable[[], Any]]], depth: int) -> list[Slot]:
        """Queue the keys not asked yet for the fetch workers, ``depth`` their priority (lower
        first); their slots, in order."""
        slots = []
        with self._lock:
            pool = self._fetch_pool()
            for key, job in jobs:
                slot = table.get(key)
                if slot is None:
                    slot = table[key] = Slot()
                    pool.submit(slot, job, depth)
                slots.append(slot)
        return slots

    def _wait_all(self, slots: list[Slot]) -> None:
        """Until every slot is done; one still queued is computed here instead of waiting for a
        worker (so a thread that waits always makes progress: no queue can deadlock)."""
        for slot in slots:
            with self._lock:
                job = None if slot.claimed else slot.job
                if job is None and not slot.claimed:
                    continue  # dropped from the queue (cancel_prefetch): no one computes it now
                slot.claimed = True
            if job is not None:
                slot.run(job)
            else:
                slot.done.wait()

    def in_background(self, work: Callable[[], Any], *, depth: int = 0) -> None:
        """Run ``work()`` on a fetch worker after the queued work of lower depth; its errors are
        dropped (speculation: the resolver's own call reports them)."""
        with self._lock:
            self._fetch_pool().submit(Slot(), work, depth)

    def cancel_prefetch(self) -> None:
        """Drop the queued prefetch work (the resolution it guessed for is over); what runs
        finishes, and a later call for a dropped key computes its own."""
        if self._pool is not None:
            self._pool.cancel()

    def _close_pool(self) -> None:
        pool = self._pool
        if pool is not None:
            pool.close()

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


class FetchPool:
    """At most ``size`` daemon worker threads, started when work is queued and gone after a
    second without any, computing queued slots lowest priority number first (FIFO within
    one). A slot someone else claimed meanwhile is skipped. Shares the client's lock."""

    IDLE_SECONDS = 1.0

    def __init__(self, size: int, lock: threading.Lock) -> None:
        self._size = max(1, size)
        self._lock = lock
        self._wake = threading.Condition(lock)
        self._heap: list[tuple[int, int, Slot]] = []
        self._order = itertools.count()
        self._threads = 0
        self.closed = False

    def submit(self, slot: Slot, job: Callable[[], Any], priority: int) -> None:
        """Queue ``slot`` (the caller holds the lock)."""
        slot.claimed = False
        slot.job = job
        heapq.heappush(self._heap, (priority, next(self._order), slot))
        if self._threads < self._size and not self.closed:
            self._threads += 1
            threading.Thread(target=self._work, name="guard-fetch", daemon=True).start()
        else:
            self._wake.notify()

    def cancel(self) -> None:
        """Drop the queued work: its slots stay unclaimed and without a job (a caller that
        needs one computes its own; :meth:`ClientState._wait_all` no longer waits for it)."""
        with self._lock:
            for _priority, _order, slot in self._heap:
                if not slot.claimed:
                    slot.job = None
            self._heap.clear()

    def close(self) -> None:
        """:meth:`cancel`, and the workers end after their job."""
        self.cancel()
        with self._lock:
            self.closed = True
            self._wake.notify_all()

    def _work(self) -> None:
        while True:
            with self._lock:
                slot = self._next()
                while slot is None:
                    if self.closed or not self._wake.wait(self.IDLE_SECONDS) and not self._heap:
                        self._threads -= 1
                        return
                    slot = self._next()
                job = slot.job
            assert job is not None
            slot.run(job)

    def _next(self) -> Slot | None:
        while self._heap:
            _priority, _order, slot = heapq.heappop(self._heap)
            if not slot.claimed:
                slot.claimed = True
                return slot
        return None
