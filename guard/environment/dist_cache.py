"""What each installed dist's files held, kept between snapshots: a warm snapshot stats the files
of a dist instead of opening and parsing them (600 dists: 1,800 opens become ~2,400 stats).

One file per prefix under ``cache_dir/site-packages/``, keyed by the metadata path. An entry is
used only while every file its reading opened (metadata, ``INSTALLER``, ``direct_url.json`` or
``requires.txt``) and the metadata directory itself have the same inode, change time,
modification time and size as when it was read (a missing file stays missing): an edit in
place, a replaced or removed file, a ``chmod`` all change them. Stats are taken before the files
are read, and an entry whose files changed in the last second is not kept (a later change in
the same clock tick could leave every stat as it was). Only what the files hold is kept: who
owns the dist, its anomalies and warnings are worked out again on every snapshot
(:func:`guard.environment.site_packages.interpret`). A cache that cannot be read is empty; one
that cannot be written costs the next snapshot the reading again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

_FORMAT = 1
# Files changed this recently are read again next time: file times are kept at a coarse tick
# (a jiffy, up to 10 ms, on Linux), so a file read in the tick of its last change could change
# again in that tick without a new time. A second is far past any tick a local file system keeps.
_SETTLE_NS = 1_000_000_000


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_ctime_ns, st.st_mtime_ns, st.st_size]


class DistCache:
    """``lookup`` a dist's raw reading (None: read it, then ``put``), ``save`` at the end."""

    def __init__(self, cache_file: Path | None, entries: dict) -> None:
        self._file = cache_file
        self._old = entries
        self._fresh: dict[str, list] = {}
        self._changed = False

    @classmethod
    def for_prefix(cls, cache_dir: Path, prefix: Path) -> DistCache:
        digest = hashlib.sha256(os.path.realpath(prefix).encode("utf-8", "surrogateescape")).hexdigest()[:32]
        cache_file = Path(cache_dir) / "site-packages" / f"{digest}.json"
        try:
            with open(cache_file, "rb") as f:
                data = json.loads(f.read())  # the guard's own file, written whole in its 0700 directory
        except (OSError, ValueError, RecursionError):
            data = None
        ok = isinstance(data, dict) and data.get("format") == _FORMAT and isinstance(data.get("entries"), dict)
        return cls(cache_file, data["entries"] if ok else {})

    def lookup(self, path: str, files: tuple[str, ...]) -> tuple[dict | None, list]:
        """The raw reading kept for ``path`` when its stamp matches, and the stamp now."""
        stamp = [_stat(p) for p in (files if files == (path,) else (path, *files))]
        old = self._old.get(path)
        if isinstance(old, list) and len(old) == 2 and old[0] == stamp and _valid(old[1]):
            self._fresh[path] = old
            return old[1], stamp
        return None, stamp

    def put(self, path: str, stamp: list, raw: dict) -> None:
        self._changed = True
        settled = time.time_ns() - _SETTLE_NS
        if all(s is None or max(s[1], s[2]) < settled for s in stamp):
            self._fresh[path] = [stamp, raw]

    def save(self) -> None:
        """Write the entries used or read by this snapshot (those of removed dists are dropped)."""
        if self._file is None or not (self._changed or len(self._fresh) != len(self._old)):
            return
        from guard.environment.interpreter import write_cache_file

        write_cache_file(self._file, {"format": _FORMAT, "entries": self._fresh})


_KEYS = frozenset(("headers", "problem", "installer", "requires", "direct_url", "direct_url_bad"))


def _valid(raw: object) -> bool:
    """A kept reading has the keys :func:`guard.environment.site_packages.read_raw` gives (the
    values are the guard's own, written whole; ``read_dist`` reads again where one does not fit)."""
    return type(raw) is dict and raw.keys() == _KEYS
