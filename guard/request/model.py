"""The request model: what ``pip install``/``pip uninstall`` would do, as frozen values.

``guard.request.parse.parse_pip_argv`` builds these; every later stage (the simulation, the
policy, the verdict cache) reads them and never the raw command line.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class ReqItem:
    """One requirement or constraint as pip would build it.

    ``kind``: ``"named"`` (a PEP 508 requirement, including ``name @ url`` direct references to
    archives or local paths: see ``url``/``path``), ``"url"`` (a bare remote archive URL),
    ``"path"`` (a local directory, archive or wheel, or a ``file:`` URL), ``"vcs"`` (``git+``,
    ``hg+``, ``svn+``, ``bzr+`` URLs, bare or as ``name @ vcs+url``).
    ``requirement`` is the requirement pip derives, markers and extras included: the string
    itself for named items, ``name==version`` from a wheel filename, the ``#egg=`` name of a URL;
    ``None`` when pip has no name before building.
    ``path`` is the absolute local path for any ``file:`` location (relative paths are resolved
    against ``cwd``, also inside requirement files, as pip does).
    ``extras`` and ``marker`` repeat what ``requirement`` holds, and carry them for unnamed
    items (``./pkg[gpu]``, ``./pkg ; python_version < "3.12"``).
    """

    text: str
    origin: str
    kind: str
    requirement: Requirement | None
    url: str | None
    path: str | None
    editable: bool = False
    hashes: tuple[str, ...] = ()
    user_supplied: bool = True
    extras: frozenset[str] = frozenset()
    marker: str | None = None

    @property
    def name(self) -> str | None:
        """Canonical project name, when pip knows it before building."""
        return canonicalize_name(self.requirement.name) if self.requirement else None


@dataclass(frozen=True)
class InstallRequest:
    """``pip install ...`` as pip reads it (configuration defaults applied, files read).

    Index options are the FINAL state pip's finder ends in, after requirement files had their say
    (a ``-i`` line in a file replaces the whole index list, extra indexes included);
    ``index_urls`` gives the effective list. ``pre`` is true when pre-releases are allowed for
    every project (``--pre``, ``--all-releases :all:``, or ``--pre`` in a file);
    ``all_releases``/``only_final`` keep pip's per-project release control.
    ``require_hashes`` is effective: also true when any requirement carries ``--hash``, unless
    ``--no-require-hashes``. ``ignore_installed`` is as given (pip implies it with ``--target``);
    ``upgrade_strategy`` only matters with ``upgrade`` (pip uses "to-satisfy-only" otherwise).
    ``target``/``prefix``/``root`` are absolute. ``unmodeled`` lists human-readable reasons why
    the fast simulation cannot be exact; empty means it can.
    """

    argv: tuple[str, ...]
    requirements: tuple[ReqItem, ...]
    constraints: tuple[ReqItem, ...]
    upgrade: bool = False
    upgrade_strategy: str = "only-if-needed"
    force_reinstall: bool = False
    ignore_installed: bool = False
    no_deps: bool = False
    pre: bool = False
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    no_index: bool = False
    find_links: tuple[str, ...] = ()
    only_binary: frozenset[str] = frozenset()
    no_binary: frozenset[str] = frozenset()
    prefer_binary: bool = False
    ignore_requires_python: bool = False
    require_hashes: bool = False
    user: bool = False
    target: str | None = None
    prefix: str | None = None
    root: str | None = None
    dry_run: bool = False
    isolated: bool = False
    python_version: str | None = None
    platforms: tuple[str, ...] = ()
    abis: tuple[str, ...] = ()
    implementation: str | None = None
    cert: str | None = None
    client_cert: str | None = None
    trusted_hosts: tuple[str, ...] = ()
    proxy: str | None = None
    timeout: float | None = None
    retries: int | None = None
    unmodeled: tuple[str, ...] = ()
    files_read: tuple[str, ...] = ()  # every requirement/constraint file opened (absolute paths)
    all_releases: frozenset[str] = frozenset()
    only_final: frozenset[str] = frozenset()

    @property
    def index_urls(self) -> tuple[str | None, ...]:
        """The indexes pip would query, in order (empty with ``--no-index``); ``None`` stands for
        pip's own default index, which the target environment's pip names."""
        if self.no_index:
            return ()
        return (self.index_url, *self.extra_index_urls)


@dataclass(frozen=True)
class UninstallRequest:
    """``pip uninstall ...``: the named requirements pip would remove, one per project (the last
    mention wins, as in pip); unnamed ones (URLs, directories) are dropped, as pip drops them."""

    argv: tuple[str, ...]
    requirements: tuple[ReqItem, ...]
    yes: bool = False
    unmodeled: tuple[str, ...] = ()
    files_read: tuple[str, ...] = ()  # every requirement/constraint file opened (absolute paths)


@dataclass(frozen=True)
class OtherCommand:
    """Any other pip invocation; passed to pip untouched. ``command`` is None for ``pip``,
    ``pip --version``, ``pip --help``."""

    argv: tuple[str, ...]
    command: str | None
