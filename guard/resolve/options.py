"""What resolving is given: the pip options that steer the resolver, and the source it reads
projects through (the index client, handed in: the resolve stage imports no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from guard.models import CoreMetadata, DirectSource, DistFile
from guard.resolve.finder import FormatControl


class PackageSource(Protocol):
    """What the resolver needs from an index client (:class:`guard.index.client.IndexClient`):
    the files a project offers, their core metadata, and the metadata of a distribution the
    user names directly (a path or URL). Handed in, so that resolving imports no I/O."""

    def project_files(self, name: str) -> list[DistFile]: ...

    def metadata(self, f: DistFile) -> CoreMetadata: ...

    def direct_source(self, item: Any) -> DirectSource: ...


class PrefetchingSource(PackageSource, Protocol):
    """A source that can also warm its cache in parallel (the index client does; a source
    without these methods is simply not prefetched from). ``depth``: the priority of the work
    (lower first); both wait until their work is done."""

    def prefetch_pages(self, names: Iterable[str], *, depth: int = 0) -> None: ...

    def prefetch_metadata(self, files: Iterable[DistFile], *, depth: int = 0) -> None: ...

    def in_background(self, work: Callable[[], Any], *, depth: int = 0) -> None:
        """Run ``work`` on the source's fetch workers, behind queued work of lower depth."""

    def cancel_prefetch(self) -> None:
        """Drop the prefetch work still queued."""


@dataclass(frozen=True)
class ResolveOptions:
    """The pip options that steer the resolver."""

    upgrade_strategy: str = "to-satisfy-only"  # pip: "to-satisfy-only" unless --upgrade
    force_reinstall: bool = False
    ignore_installed: bool = False
    no_deps: bool = False
    prereleases: bool | None = None  # True with --pre
    format_control: FormatControl = FormatControl()
    prefer_binary: bool = False
    ignore_requires_python: bool = False
    require_hashes: bool = False  # pip then reads no metadata file, it fetches the distribution
