"""JSON from files the guard does not control (conda-meta records, ``direct_url.json``, its own
state files), read with bounds: a size limit, a nesting limit, strict UTF-8.

``json.loads`` recurses once per nesting level; a file of 100,000 ``[`` raises ``RecursionError``,
which is no ``ValueError`` and escapes every ``except ValueError`` around it. So before parsing,
the nesting depth is measured without recursion (strings blanked out by one regular expression,
then a running sum over the brackets that remain) and a file deeper than ``max_depth`` is refused.
The measurement is exact for valid JSON and never lower than what ``json.loads`` reaches on
invalid JSON before it stops (both read strings the same way up to the first error).

Every failure is a :class:`JSONInputError`: a ``GuardError`` (one line) that is also a
``ValueError``, so callers that caught ``ValueError`` keep working.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

from guard.errors import GuardError

MAX_BYTES = 64 * 1024 * 1024
"""The largest file read (the biggest real conda-meta records, CUDA libraries and pytorch with
their ``paths_data``, are a few MB)."""
MAX_DEPTH = 256
"""Deeper nesting is refused (conda-meta records nest 4 levels)."""

# A JSON string, in the unrolled form (no backtracking blow-up). Strings are removed before
# counting. An unterminated string's quote stays and the brackets after it are counted (the regex),
# or the text after it is dropped (the split): json.loads reads that text as one unterminated
# string, without nesting, so neither under-counts what it would reach.
_STRING = re.compile(r'"[^"\\]*(?:\\[\s\S][^"\\]*)*"')
_NOT_BRACKET_BYTES = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_STRUCTURE_BYTES = bytes(b for b in range(256) if b not in b'[]{}"')
_QUOTED = re.compile(rb'"[^"]*"')
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class JSONInputError(GuardError, ValueError):
    """A JSON input is too big, too deep, not UTF-8 or not JSON. ``str(err)`` is one line
    (without the file name: the caller adds it)."""

    exit_code = 2


def read_bounded(path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of ``path``, refusing more than ``max_bytes``. ``OSError`` passes through (the
    caller says what a read error means where it happens)."""
    with open(path, "rb") as f:
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise JSONInputError(f"larger than {_size(max_bytes)}; not read")
    return raw


def loads_bounded(raw: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH):
    """The JSON value in ``raw`` (UTF-8 bytes, an optional BOM, or text); raises
    :class:`JSONInputError` and nothing else for any input."""
    if len(raw) > max_bytes:
        raise JSONInputError(f"larger than {_size(max_bytes)}; not read")
    if isinstance(raw, (bytes, bytearray)):
        try:
            text = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JSONInputError(f"not valid UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})") from None
    else:
        text = raw
    if not text.strip():
        raise JSONInputError("empty file")
    if isinstance(raw, (bytes, bytearray)) and b"\\" not in raw:
        depth = nesting_depth_unescaped(bytes(raw), max_depth)  # the common case, 6x faster
    else:
        depth = nesting_depth(text, max_depth)
    if depth > max_depth:
        raise JSONInputError(f"nested more than {max_depth} levels deep; not parsed")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: only at a very deep Python stack
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise JSONInputError(f"not valid JSON (truncated?): {first}") from None


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """The deepest bracket nesting of ``text`` read as JSON (0 for a scalar), or ``limit + 1``
    as soon as it is known to be deeper than ``limit``. Linear time, no recursion."""
    if "\\" in text:
        rest = _STRING.sub("", text)
    else:  # no escapes: every other piece between quotes is a string (the fast, common case)
        rest = "".join(text.split('"')[0::2])
    return _depth(rest.encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKET_BYTES), limit)


def nesting_depth_unescaped(raw: bytes, limit: int = MAX_DEPTH) -> int:
    """:func:`nesting_depth` of UTF-8 ``raw`` that holds no backslash (then every string runs
    from one quote to the next), without decoding it or splitting it at every quote: everything
    but quotes and brackets is dropped (no byte of a multi-byte UTF-8 character is one of them),
    then every ``""`` (an empty string, or one string's end beside the next one's start: either
    way the quotes still alternate and no bracket goes), then what is left between quotes."""
    structure = raw.translate(None, _NOT_STRUCTURE_BYTES).replace(b'""', b"")
    if structure.count(b'"') % 2:  # an unterminated string: what follows it is dropped, as by the split
        structure = structure[: structure.rindex(b'"')]
    return _depth(_QUOTED.sub(b"", structure), limit)


def _depth(brackets: bytes, limit: int) -> int:
    """The deepest nesting of ``brackets`` (only ``[]{}`` bytes), or ``limit + 1`` once deeper."""
    opening = brackets.count(b"[") + brackets.count(b"{")
    if opening <= limit:
        return min(opening, max(accumulate(map(_STEP.__getitem__, brackets)), default=0))
    if re.search(rb"[\[{]{%d}" % (limit + 1), brackets):  # the common attack: one long run
        return limit + 1
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n} bytes"
