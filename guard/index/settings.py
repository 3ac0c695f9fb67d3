"""Where and how the index client looks: :class:`IndexSettings` (pip's index options, already
resolved), their memo for the verdict cache, and the run's deadline (``GUARD_DEADLINE``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

DEFAULT_DEADLINE = 60.0  # seconds all index requests of one run may take together


@dataclass(frozen=True)
class IndexSettings:
    """Where and how to look for distributions (pip's index options, already resolved)."""

    index_url: str | None  # None with no_index
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()  # dirs, file:// or http(s) pages with links
    no_index: bool = False
    cert: str | None = None
    client_cert: str | None = None
    trusted_hosts: tuple[str, ...] = ()
    proxy: str | None = None
    timeout: float = 15.0  # pip's --timeout: seconds per socket operation (connect, each read)
    retries: int = 5  # pip's --retries: urllib3 Retry total (connect/read errors, 500/503/520/527)
    # Seconds for every request of one run together (the guard's own limit, ``GUARD_DEADLINE``):
    # a per-operation timeout never ends an index that drip-feeds a byte now and then.
    deadline: float = DEFAULT_DEADLINE


def settings_memo(settings: IndexSettings) -> dict[str, Any] | None:
    """``settings`` as JSON values, for a memoized answer to revalidate its pages with later
    (the deadline is the later run's own); None when they hold what may be a credential (an
    ``@`` in an index, find-links or proxy URL), which is never written to disk."""
    texts = [settings.index_url or "", *settings.extra_index_urls, *settings.find_links, settings.proxy or ""]
    if any("@" in text for text in texts):
        return None
    return {
        f.name: list(v) if isinstance(v := getattr(settings, f.name), tuple) else v
        for f in fields(settings)
        if f.name != "deadline"
    }


def settings_from_memo(values: Mapping[str, Any], *, deadline: float) -> IndexSettings:
    """The inverse of :func:`settings_memo`; TypeError/ValueError for a memo it did not write."""
    kwargs: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return IndexSettings(**kwargs, deadline=deadline)


def deadline_from_environ(environ: Mapping[str, str]) -> float:
    """``GUARD_DEADLINE`` (seconds, > 0) or the default; UsageError for anything else."""
    from guard.errors import UsageError

    text = (environ.get("GUARD_DEADLINE") or "").strip()
    if not text:
        return DEFAULT_DEADLINE
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise UsageError(f"GUARD_DEADLINE={text!r} is not a number of seconds greater than 0")
    return value
