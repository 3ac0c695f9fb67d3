"""The disk cache of the index client: JSON records in files, written atomically (a temporary
file and ``os.replace``), an entry that does not parse or validate is a miss; and how long a
page stays fresh (``Cache-Control``/``Age``).

Layout under ``cache_dir``: ``pages-v2/`` parsed pages as rows (one compact list of strings per
file, see :mod:`guard.index.pages`) with their ETag, Last-Modified, fetch time, content digest,
the digest of the bytes they were parsed from and lifetime, and parsed local pages under their
stat signature; ``pageview-v1/`` each page as one interpreter sees it (:mod:`guard.index.page_view`);
``seen-v1/`` when the index last confirmed a page (a 304, or the same bytes again);
``metadata-v1/`` parsed core metadata under the file's sha256 (kept forever) or, without one,
its URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

DEFAULT_MAX_AGE = 600.0  # seconds a page stays fresh when the server does not say
_CACHE_VERSION = 1
# A kind whose records changed shape is stored under a new version (an old record is never read
# as a new one): pages-v2 rows keep a wheel's tag set as its name writes it, not expanded.
_KIND_VERSIONS = {"pages": 2}


def cache_lifetime(headers: Mapping[str, str]) -> tuple[float, bool, bool]:
    """``(max_age, no_cache, no_store)`` from Cache-Control and Age."""
    max_age: float | None = None
    no_cache = no_store = False
    for directive in headers.get("Cache-Control", "").lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name == "no-cache":
            no_cache = True
        elif name == "no-store":
            no_store = True
        elif name == "max-age":
            try:
                max_age = float(value.strip().strip('"'))
            except ValueError:
                pass
    if max_age is None:
        max_age = DEFAULT_MAX_AGE
    try:
        max_age -= float(headers.get("Age", 0) or 0)
    except ValueError:
        pass
    return max(max_age, 0.0), no_cache, no_store


class DiskCache:
    """JSON records in files; atomic writes (tmp + os.replace); unreadable entries are misses."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, kind: str, key: str) -> Path | None:
        if self.root is None:
            return None
        version = _KIND_VERSIONS.get(kind, _CACHE_VERSION)
        return self.root / f"{kind}-v{version}" / key.rpartition("-")[2][:2] / f"{key}.json"

    def load(self, kind: str, key: str) -> dict[str, Any] | None:
        path = self._path(kind, key)
        if path is None:
            return None
        from guard.boundedjson import read_bounded

        # The guard's own files (0700), written whole: json.loads without loads_bounded's depth
        # measurement (a third of reading a big page); a damaged one is a miss, RecursionError
        # included (the C decoder raises it cleanly at the recursion limit)
        try:
            record = json.loads(read_bounded(path))
        except (OSError, ValueError, RecursionError):
            return None
        return record if isinstance(record, dict) else None

    def path(self, kind: str, key: str) -> Path | None:
        """The file of an entry (None without a cache directory)."""
        return self._path(kind, key)

    def store(
        self, kind: str, key: str, record: Mapping[str, Any], *, encoded: Mapping[str, Any] | None = None
    ) -> list[int] | None:
        """Write ``record``; returns the written file's ``[mtime_ns, size]`` (None when nothing
        was written). ``encoded``: fields of it already encoded as JSON (a page's rows, encoded
        once for their digest: bytes, or a list of pieces of bytes), written as they are
        instead of the record's value (which may hold only some of the rows)."""
        path = self._path(kind, key)
        if path is None:
            return None
        try:
            from guard.private_files import FILE_MODE, private_dir

            private_dir(path.parent)  # 0700: the cache is the user's alone
            # json.dumps per field, not json.dump: dump encodes in Python, chunk by chunk (a
            # 6 MB page: 700,000 writes), where dumps is one call into the C encoder; and each
            # field is a piece of its own, written as bytes, so that a big page's rows are not
            # copied once more
            pieces: list[bytes] = []
            for i, (k, v) in enumerate(record.items()):
                pieces += [b"{" if i == 0 else b",", _dumps(str(k)).encode(), b":"]
                value = encoded[k] if encoded and k in encoded else _dumps(v).encode()
                pieces += value if isinstance(value, list) else [value]
            pieces.append(b"}" if pieces else b"{}")
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb") as fh:
                    fh.writelines(pieces)
                st = os.stat(tmp)  # the file as written (os.replace keeps its mtime)
                os.replace(tmp, path)  # readers see the old entry or the new one, never half
                return [st.st_mtime_ns, st.st_size]
            finally:
                if tmp.exists():
                    tmp.unlink()
        except OSError:
            return None  # the cache is an optimization; a read-only disk only makes us slower


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def rows_digest(rows: Any) -> str:
    """What a page said, for telling whether it changed (whatever the server's ETag scheme)."""
    return encode_rows(rows)[1]


def encode_rows(rows: Any) -> tuple[bytes, str]:
    """A page's rows as JSON (UTF-8 bytes; ASCII, as json.dumps escapes the rest), and their
    :func:`rows_digest`: one encoding for both."""
    data = _dumps(rows).encode()
    return data, hashlib.sha256(data).hexdigest()


class EncodedRows:
    """A page's rows encoded as they are made, a chunk at a time: the JSON of the whole list as
    :func:`encode_rows` makes it (``pieces``, to be written as they are) and its digest,
    without every row held at once (pydantic-core: 15,057 rows, 14 MB as lists, 5.6 MB as
    JSON). ``keep``: which rows are also kept as they are (``kept``; None: every row)."""

    CHUNK = 512

    def __init__(self, keep: Callable[[list], bool] | None = None) -> None:
        self.pieces: list[bytes] = [b"["]
        self.kept: list[list] = []
        self._keep = keep
        self._pending: list[list] = []
        self._hash = hashlib.sha256(b"[")

    def add(self, row: list) -> None:
        self._pending.append(row)
        if self._keep is None or self._keep(row):
            self.kept.append(row)
        if len(self._pending) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            # the JSON of a list is "[" + its items' JSON joined by "," + "]", chunk or whole
            data = _dumps(self._pending)[1:-1].encode()
            self._pending = []
            for piece in (b",", data) if len(self.pieces) > 1 else (data,):
                self.pieces.append(piece)
                self._hash.update(piece)

    def finish(self) -> str:
        """The rows' :func:`rows_digest`; ``pieces`` is then the whole list's JSON."""
        self._flush()
        self.pieces.append(b"]")
        self._hash.update(b"]")
        return self._hash.hexdigest()


def body_digest(content_type: str, base_url: str, body: bytes | bytearray) -> str:
    """The bytes of a page as the index sent them, with what they are read with: an index that
    sends no validators (ETag, Last-Modified) answers every request with the whole page, and
    the same bytes need not be parsed, encoded and written again."""
    h = hashlib.sha256(f"{content_type}\n{base_url}\n".encode())
    h.update(body)
    return h.hexdigest()


def valid_rows(rows: Any, width: int) -> bool:
    """A list of ``width``-long lists; for rows of a project (width 8), also a version string
    and a tag set that is a string or null in each (what reading them relies on)."""
    if not isinstance(rows, list):
        return False
    if width == 8:
        return all(
            type(r) is list and len(r) == 8 and type(r[2]) is str and (r[3] is None or type(r[3]) is str) for r in rows
        )
    return all(type(r) is list and len(r) == width for r in rows)


def valid_page_record(record: Mapping[str, Any], url: str, width: int) -> bool:
    return (
        record.get("url") == url
        and isinstance(record.get("fetched"), (int, float))
        and isinstance(record.get("max_age"), (int, float))
        and valid_rows(record.get("rows"), width)
    )


def valid_metadata_record(record: Mapping[str, Any]) -> bool:
    if "needs_build" in record:
        return isinstance(record["needs_build"], str)
    return (
        isinstance(record.get("name"), str)
        and isinstance(record.get("version"), str)
        and isinstance(record.get("requires_dist"), list)
        and isinstance(record.get("provides_extra"), list)
    )
