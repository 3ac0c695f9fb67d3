"""A wheel's METADATA read through HTTP range requests on its zip directory (what uv does):
the tail first (end of central directory, often METADATA itself), then the directory and the
member, zip64 included. Any surprise is a ValueError: the caller then reads the whole file."""

from __future__ import annotations

import struct
from typing import Any, Callable

from guard.index.metadata import MAX_METADATA_BYTES, dist_info_metadata_name
from guard.policy.names import canonical_name

_TAIL_BYTES = 64 * 1024  # first range request: the end of the wheel (directory, often METADATA)

_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CDIR = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


class RangeNotSupported(Exception):
    """The server answered a range request with the whole file (200) instead of 206."""

    def __init__(self, response: Any) -> None:
        self.response = response


class RangeReader:
    """Random access to a remote file through HTTP range requests, starting from its tail."""

    def __init__(self, fetch: Callable[[str], Any], url: str) -> None:
        self._fetch = fetch
        self._url = url
        response = fetch(f"bytes=-{_TAIL_BYTES}")
        if response.status_code != 206:
            raise RangeNotSupported(response)
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        self.tail = response.content
        self.size = int(total) if total.isdigit() else len(self.tail)
        self.tail_start = self.size - len(self.tail)

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``, from the tail already held or one more request."""
        end = min(end, self.size)
        if start >= self.tail_start:
            return self.tail[start - self.tail_start : end - self.tail_start]
        fetch_end = min(end, self.tail_start)  # what lies in the tail is not fetched again
        response = self._fetch(f"bytes={start}-{fetch_end - 1}")
        if response.status_code != 206:
            raise RangeNotSupported(response)
        data = response.content
        if end > self.tail_start:
            data += self.tail[: end - self.tail_start]
        if len(data) != end - start:
            raise ValueError("short range response")
        return data


def zip_member_by_range(reader: RangeReader, project: str) -> bytes | None:
    """The wheel's METADATA read with range requests; None when the zip has none."""
    tail = reader.tail
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + _EOCD.size > len(tail):
        raise ValueError("no end of central directory in the last 64 KiB")
    _sig, _d, _cd_d, _n_this, n_total, cd_size, cd_offset, _clen = _EOCD.unpack_from(tail, pos)
    if n_total == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
        loc_pos = pos - _EOCD64_LOCATOR.size
        if loc_pos < 0:
            raise ValueError("zip64 locator outside the tail")
        sig, _disk, eocd64_offset, _ndisks = _EOCD64_LOCATOR.unpack_from(tail, loc_pos)
        if sig != b"PK\x06\x07":
            raise ValueError("bad zip64 locator")
        record = reader.read(eocd64_offset, eocd64_offset + _EOCD64.size)
        fields64 = _EOCD64.unpack(record)
        if fields64[0] != b"PK\x06\x06":
            raise ValueError("bad zip64 end of central directory")
        cd_size, cd_offset = fields64[8], fields64[9]
    member = None
    if cd_offset < reader.tail_start:
        # Most of a big directory lies before the tail, but a wheel's .dist-info files are
        # written last, so their entries are usually in the tail already: found there (this
        # project's METADATA, by name), the directory is not read at all (a request and up to
        # megabytes saved: torch's is 1.2 MB). The CRC of the member checks the find.
        cd_end = cd_offset + cd_size - reader.tail_start
        if 0 < cd_end <= len(tail):
            member = _own_metadata(_tail_entries(tail, cd_end), project)
    if member is None:
        entries = _entries(reader.read(cd_offset, cd_offset + cd_size), 0)
        if entries is None:
            raise ValueError("bad central directory entry")
        chosen = dist_info_metadata_name(entries, project)
        if chosen is None:
            return None
        member = (chosen, entries[chosen])
    member_name, (method, crc, csize, usize, local_offset) = member
    if usize > MAX_METADATA_BYTES:
        raise ValueError("METADATA too large")
    # The local header's extra field may differ from the central one: read generously once.
    guess = local_offset + _LOCAL.size + len(member_name.encode()) + 256 + csize
    head = reader.read(local_offset, guess)
    sig, *_rest, name_len, extra_len = _LOCAL.unpack_from(head, 0)
    if sig != b"PK\x03\x04":
        raise ValueError("bad local file header")
    start = _LOCAL.size + name_len + extra_len
    if start + csize > len(head):
        head = reader.read(local_offset, local_offset + start + csize)
    raw = head[start : start + csize]
    if method == 0:
        data = raw
    elif method == 8:
        import zlib

        data = zlib.decompress(raw, -15)
    elif method == 12:
        import bz2

        data = bz2.decompress(raw)
    else:
        raise ValueError(f"unsupported zip compression {method}")
    import zlib

    if zlib.crc32(data) != crc:
        raise ValueError("CRC mismatch in METADATA")
    return data


_Entry = tuple[int, int, int, int, int]  # method, crc, compressed size, size, local header offset


def _entries(directory: bytes, start: int, end: int | None = None) -> dict[str, _Entry] | None:
    """The ``.dist-info/METADATA`` entries of the central directory records from ``start``
    to exactly ``end`` (default: the end of ``directory``); None when they do not chain."""
    end = len(directory) if end is None else end
    entries: dict[str, _Entry] = {}
    offset = start
    while offset + _CDIR.size <= end:
        (sig, _vm, _vn, _flags, method, _t, _d, crc, csize, usize, name_len, extra_len,
         comment_len, _disk, _ia, _ea, local_offset) = _CDIR.unpack_from(directory, offset)  # fmt: skip
        if sig != b"PK\x01\x02":
            return None
        name = directory[offset + 46 : offset + 46 + name_len].decode("utf-8", errors="replace")
        if 0xFFFFFFFF in (csize, usize, local_offset):
            extra = directory[offset + 46 + name_len : offset + 46 + name_len + extra_len]
            csize, usize, local_offset = _zip64_extra(extra, csize, usize, local_offset)
        if name.endswith(".dist-info/METADATA"):
            entries[name] = (method, crc, csize, usize, local_offset)
        offset += 46 + name_len + extra_len + comment_len
    return entries if offset == end else None


def _tail_entries(tail: bytes, cd_end: int) -> dict[str, _Entry]:
    """The METADATA entries among the directory records in the tail, which starts somewhere
    inside the directory (ending at ``cd_end``): from the first record signature whose records
    chain exactly to the directory's end (a signature inside other data does not)."""
    at = tail.find(b"PK\x01\x02")
    while 0 <= at < cd_end:
        entries = _entries(tail, at, cd_end)
        if entries is not None:
            return entries
        at = tail.find(b"PK\x01\x02", at + 1)
    return {}


def _own_metadata(entries: dict[str, _Entry], project: str) -> tuple[str, _Entry] | None:
    """The entry of ``project``'s own top-level METADATA (only an exact name match counts:
    with part of the directory, "the only METADATA" cannot be told)."""
    for name, entry in entries.items():
        if name.count("/") == 1 and canonical_name(name[: -len(".dist-info/METADATA")].split("-", 1)[0]) == project:
            return name, entry
    return None


def _zip64_extra(extra: bytes, csize: int, usize: int, local_offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        header_id, size = struct.unpack_from("<HH", extra, pos)
        if header_id == 0x0001:
            values = iter(struct.unpack_from(f"<{size // 8}Q", extra, pos + 4))
            if usize == 0xFFFFFFFF:
                usize = next(values)
            if csize == 0xFFFFFFFF:
                csize = next(values)
            if local_offset == 0xFFFFFFFF:
                local_offset = next(values)
            break
        pos += 4 + size
    return csize, usize, local_offset
