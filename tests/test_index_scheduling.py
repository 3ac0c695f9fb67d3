"""How the index client schedules its requests, against the real local index: a bounded set
of fetch workers runs the speculative prefetching (pages and metadata of what the resolver will
probably ask next, level after level), and what the resolver is blocked on is fetched by the
resolver's own call, never after the queue."""

from __future__ import annotations

import dataclasses
import threading
import time

from packaging.tags import sys_tags

from guard.index.client import IndexClient
from guard.index.settings import IndexSettings
from guard.request.parse import parse_pip_argv
from guard.resolve.simulate import simulate_install
from tests.support.index_server import LocalIndex
from tests.test_resolver_scenarios import BASE_ENV, snapshot_with


def test_speculative_prefetch_never_runs_more_requests_at_once_than_its_workers(tmp_path):
    # transformers[torch] guesses ahead dozens of projects; each guess used to start threads
    # of its own (16 per level), so requests piled up beside the resolver's
    snap = snapshot_with(BASE_ENV, ("numpy", "torch"))
    here = tuple(str(t) for t in sys_tags())  # the captured index's wheels are for this machine
    snap = dataclasses.replace(snap, interpreter=dataclasses.replace(snap.interpreter, tags=here))
    request = parse_pip_argv(["install", "transformers[torch]"], config={}, environ={}, cwd=str(tmp_path))
    with LocalIndex() as index:
        index.set_fault("slow", 0.02)  # every answer takes a little while: requests overlap
        with IndexClient(IndexSettings(index_url=index.url), cache_dir=None, max_workers=2) as client:
            plan, _ = simulate_install(request, snap, client)
        assert "transformers" in {c.name for c in plan.changes}
        assert len(index.requests) > 20
        assert 2 <= index.peak_in_flight <= 3  # two workers and the resolver's own call


def test_what_the_resolver_needs_is_fetched_now_not_after_the_queue(tmp_path):
    names = ["six", "idna", "certifi", "click", "filelock", "rich", "pygments", "markdown-it-py"]
    with LocalIndex() as index:
        index.set_fault("slow", 0.25)
        with IndexClient(IndexSettings(index_url=index.url), cache_dir=None, max_workers=1) as client:
            prefetch = threading.Thread(target=client.prefetch_pages, args=(names,), daemon=True)
            prefetch.start()
            time.sleep(0.05)  # the one worker is on the first page; seven wait in the queue
            started = time.monotonic()
            files = client.project_files("markdown-it-py")  # the last one queued
            waited = time.monotonic() - started
            prefetch.join(10)
        assert files and waited < 0.25 * 3  # one answer's time, not the queue's eight
        assert sum(1 for _, path, _ in index.requests if path.endswith("/markdown-it-py/")) == 1


def test_guesses_still_queued_when_the_resolution_ends_are_dropped(tmp_path):
    names = ["six", "idna", "certifi", "click", "filelock", "rich", "pygments", "markdown-it-py"]
    with LocalIndex() as index:
        index.set_fault("slow", 0.2)
        with IndexClient(IndexSettings(index_url=index.url), cache_dir=None, max_workers=1) as client:
            prefetch = threading.Thread(target=client.prefetch_pages, args=(names,), daemon=True)
            prefetch.start()
            time.sleep(0.05)
            client.cancel_prefetch()  # what the provider's close() does
            prefetch.join(10)
            asked = len(index.requests)
            assert not prefetch.is_alive() and asked <= 3  # not the eight pages
            assert client.project_files("rich")  # a dropped page is still there for the asking
        assert len(index.requests) == asked + 1
