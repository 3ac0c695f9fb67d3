"""A cached index page as one interpreter sees it: the page's record with only the rows that can
ever apply to that interpreter (every sdist, and the wheels with a tag it supports), so that a
run reads a few hundred rows where the page has thousands (pydantic-core: 15,057 files, about
one in fifteen for a given interpreter).

The page's record (``pages-v2/``) stays whole and the same for every interpreter: its digest is
what a memoized verdict checks, and another environment reads its own rows from it. A view
(``pageview-v1/``, keyed by the page and a digest of the interpreter's tags) is a copy of the
record's fields with the applicable rows and the size and mtime of the page's file it was made
from; it is used only while the page's file is still that one (a page written again, by this
process or another, makes its views stale: the next read makes them again from the record).
Requires-Python is not applied here: ``--ignore-requires-python`` and the explanations of a
failed resolution need the files it excludes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from guard.index.cache import DiskCache, valid_page_record
from guard.index.pages import expand_tags

_KIND = "pageview"


class PageViews:
    """The views of cached pages for one interpreter (its supported wheel tags)."""

    def __init__(self, cache: DiskCache, supported_tags: Iterable[str]) -> None:
        self._cache = cache
        self._supported = frozenset(supported_tags)
        self._tags_digest = hashlib.sha256("\n".join(sorted(self._supported)).encode()).hexdigest()
        self._applies: dict[str, bool] = {}  # compressed tag set -> any of its tags supported

    def applicable(self, rows: Iterable[list]) -> list[list]:
        """The rows an installer could ever pick here: sdists, and wheels with a supported tag."""
        return [row for row in rows if self.applies(row)]

    def applies(self, row: list) -> bool:
        """Whether an installer could ever pick this row here (:meth:`applicable`)."""
        tag = row[3]
        if tag is None:
            return True
        ok = self._applies.get(tag)
        if ok is None:
            expanded = expand_tags(tag)
            ok = self._applies[tag] = expanded is not None and not self._supported.isdisjoint(expanded)
        return ok

    def load(self, key: str, url: str, width: int) -> dict[str, Any] | None:
        """The page's view while it is current, else the page's record (of which a view is made
        for the next run); None when the page is not cached or its record does not validate."""
        made_from = self._page_file(key)
        if made_from is None:
            return None
        view = self._cache.load(_KIND, self._view_key(key))
        if view is not None and view.get("page") == made_from and valid_page_record(view, url, width):
            return view
        record = self._cache.load("pages", key)
        if record is None or not valid_page_record(record, url, width):
            return None
        self._store(key, record, made_from)
        return record

    def store(self, key: str, record: Mapping[str, Any], written: list[int]) -> None:
        """A view of ``record``, just written as the page's record (``written``: that file's
        ``[mtime_ns, size]`` as :meth:`DiskCache.store` wrote it, so that a record another
        process wrote since is not taken for it)."""
        self._store(key, record, written)

    def write_through(self, key: str, view: Mapping[str, Any]) -> None:
        """The fields of ``view`` (a new fetch time, new validators) written to its page's
        record, when that still holds the rows the view was made from; the view itself goes
        stale with it and is made again on the next read."""
        record = self._cache.load("pages", key)
        if record is None or record.get("digest") != view.get("digest"):
            return
        record.update({k: v for k, v in view.items() if k not in ("rows", "page", "view")})
        self._cache.store("pages", key, record)

    def _store(self, key: str, record: Mapping[str, Any], made_from: list[int]) -> None:
        view = {k: v for k, v in record.items() if k != "rows"}
        view.update(rows=self.applicable(record["rows"]), page=made_from, view=True)
        self._cache.store(_KIND, self._view_key(key), view)

    def _view_key(self, key: str) -> str:
        return hashlib.sha256(f"{key}|{self._tags_digest}".encode()).hexdigest()

    def _page_file(self, key: str) -> list[int] | None:
        """The page record file's ``[mtime_ns, size]`` (taken before it is read: a record
        replaced meanwhile leaves a view that is stale, never one that is wrong)."""
        path = self._cache.path("pages", key)
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        return [st.st_mtime_ns, st.st_size]
