"""One malloc arena for the index client's threads (what ``MALLOC_ARENA_MAX=1`` does).

glibc gives each thread that allocates its own arena, up to eight per core. The fetch and
request threads allocate page bodies and rows in their own arenas and free them in others, and
every arena keeps its high-water mark resident: on Open WebUI's requirements (269 pages, 969
requests) the peak RSS was 219 MiB with the default arenas and 141 MiB with one, for the same CPU
(measured side by side; Python's own small objects come from pymalloc either way, and the GIL
already runs one thread at a time). A ``MALLOC_ARENA_MAX`` the user set is left as it is."""

from __future__ import annotations

import os
import sys

_M_ARENA_MAX = -8  # glibc's malloc.h
_done = False


def one_arena() -> None:
    """Limit glibc to one malloc arena from now on (before the client's threads start)."""
    global _done
    if _done or not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    _done = True
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, ImportError):  # not glibc (musl has it as a no-op), or no ctypes
        return
    mallopt(_M_ARENA_MAX, 1)
