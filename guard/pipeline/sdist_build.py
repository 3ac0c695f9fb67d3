"""The metadata of one sdist from an index whose dependencies only a build can tell.

An sdist whose PKG-INFO is not reliable (Metadata-Version before 2.2, or Requires-Dist,
Requires-Python or Provides-Extra listed as Dynamic: PEP 643) gets its dependencies from its build
code (``setup.py``, a build backend). pip learns them by building that sdist's metadata: it
downloads the sdist, installs its build requirements into a temporary isolated environment and
calls the backend's ``prepare_metadata_for_build_wheel``. The guard asks pip to do exactly that,
for this one distribution and nothing else::

    pip install --dry-run --report FILE --no-deps --ignore-installed -r REQ   # REQ: "name @ url#sha256=..."

in the environment's interpreter, with the user's pip configuration and the request's index,
find-links and format options (where pip's isolated build finds its build requirements), and
reads the metadata pip reports. The rest of the command stays with the guard's own resolver: one
sdist no longer hands the whole command to pip's dry run.

Building runs the package's code: only when allowed (``--allow-build``, ``allow_build: true``,
``guard pip``). Refused, it is :class:`guard.errors.BuildNotAllowed` naming the project and how to
allow it; nothing runs. The run's one deadline (``GUARD_DEADLINE``) bounds each build (the process
group is killed past it). A built answer is cached under the sdist's sha256 and the interpreter
(its markers: a ``setup.py`` may choose its requirements by Python version or platform), like the
index's metadata; an sdist without a sha256 from its index is built again next run.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

from guard.errors import BuildNotAllowed, SimulationError
from guard.models import CoreMetadata, DistFile

_CACHE_KIND = "built"


def build_not_allowed(why: str) -> BuildNotAllowed:
    """The refusal when only a build could tell and builds are not allowed: one line naming what
    needs the build and the way to allow it."""
    return BuildNotAllowed(
        f"cannot judge this without pip's own dry run, which may run package code (a "
        f"setup.py, a build backend): {why}; nothing was run. Allow it with --allow-build, "
        "or allow_build: true in the guard configuration"
    )


class SdistMetadataBuilder:
    """``builder(f, why) -> CoreMetadata`` for the resolver (see the module docstring).

    ``python``: the environment's interpreter (pip runs there; ``env_has_pip`` False: the guard's
    own pip with ``--python``). ``request``: the install request, for its index and format
    options. ``cache_dir``: the index client's cache directory (None: no disk cache).
    ``deadline``: seconds from now that the whole run may take (None: no limit)."""

    def __init__(
        self,
        *,
        allow: bool,
        python: str,
        env_has_pip: bool,
        environ: Mapping[str, str],
        cwd: str | None,
        request: Any,
        markers: Mapping[str, str],
        cache_dir: Path | None,
        deadline: float | None,
        on_build: Callable[[str], None] | None = None,
    ) -> None:
        from guard.index.cache import DiskCache

        self._allow = allow
        self._python = python
        self._env_has_pip = env_has_pip
        self._environ = environ
        self._cwd = cwd
        self._options = pip_options_for_build(request)
        self._interpreter = hashlib.sha256(json.dumps(sorted(markers.items())).encode()).hexdigest()[:16]
        self._cache = DiskCache(cache_dir)
        self._deadline = deadline
        self._deadline_at = None if deadline is None else time.monotonic() + deadline
        self._on_build = on_build
        self._memo: dict[str, CoreMetadata] = {}
        self.built: list[str] = []  # "name version" of every sdist built in this run

    def __call__(self, f: DistFile, why: str) -> CoreMetadata:
        from guard.index.metadata import core_metadata_from_record

        known = self._memo.get(f.url)
        if known is not None:
            return known
        if not self._allow:
            raise build_not_allowed(why)
        key = self._cache_key(f)
        record = self._cache.load(_CACHE_KIND, key) if key is not None else None
        if record is None or not _valid_record(record):
            if self._on_build is not None:
                self._on_build(why)
            record = self._build(f)
            self.built.append(f"{f.project} {f.version}")
            if key is not None:
                self._cache.store(_CACHE_KIND, key, record)
        meta = self._memo[f.url] = core_metadata_from_record(record, f)
        return meta

    def _cache_key(self, f: DistFile) -> str | None:
        digest = (f.hashes.get("sha256") or "").lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            return None
        return f"{self._interpreter}-sha256-{digest}"

    def _build(self, f: DistFile) -> dict[str, Any]:
        from guard.index.metadata import metadata_matches
        from guard.pipeline.pip_report import run_pip_report
        from guard.private_files import write_private

        what = f"{f.project} {f.version}"
        limit = None
        if self._deadline_at is not None:
            limit = self._deadline_at - time.monotonic()
            if limit <= 0:
                raise SimulationError(
                    f"building the metadata of {what}: the {self._deadline:g}s deadline (GUARD_DEADLINE) has passed"
                )
        url = f.url.split("#", 1)[0]
        digest = f.hashes.get("sha256")
        if digest:
            url += f"#sha256={digest}"  # pip checks the download against it
        with tempfile.TemporaryDirectory(prefix="guard-sdist-") as tmp:
            # a file, not argv: the URL may carry the index's credentials (ps shows argv)
            req = str(write_private(Path(tmp, "requirement.txt"), f"{f.project} @ {url}\n".encode()))
            argv = ["install", "--no-deps", "--ignore-installed", *self._options, "-r", req]
            try:
                report = run_pip_report(
                    self._python, argv, self._environ, self._cwd, env_has_pip=self._env_has_pip, limit=limit
                )
            except SimulationError as exc:
                raise SimulationError(f"building the metadata of {what} (an sdist): {exc}") from None
        items = report.get("install") if isinstance(report, dict) else None
        meta = items[0].get("metadata") if isinstance(items, list) and len(items) == 1 else None
        record = _record_from_report(meta)
        if record is None:
            raise SimulationError(f"building the metadata of {what}: pip reported no usable metadata")
        if not metadata_matches(record, f):
            # pip stops there too ("inconsistent version" / "inconsistent name")
            raise SimulationError(
                f"pip would fail: {f.filename} builds metadata for {record['name']} {record['version']}, not {what}"
            )
        return record


def _record_from_report(meta: Any) -> dict[str, Any] | None:
    """The fields of pip's report (JSON core metadata, PEP 566) as a metadata record."""
    if not isinstance(meta, dict):
        return None

    def strings(key: str) -> list[str] | None:
        value = meta.get(key) or []
        return list(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else None

    requires_dist, provides_extra = strings("requires_dist"), strings("provides_extra")
    requires_python = meta.get("requires_python")
    if (
        not isinstance(meta.get("name"), str)
        or not isinstance(meta.get("version"), str)
        or requires_dist is None
        or provides_extra is None
        or not isinstance(requires_python, (str, type(None)))
    ):
        return None
    return {
        "metadata_version": str(meta.get("metadata_version") or ""),
        "name": meta["name"],
        "version": meta["version"],
        "requires_dist": requires_dist,
        "requires_python": requires_python or None,
        "provides_extra": provides_extra,
        "dynamic": [],
        "built": True,
    }


def _valid_record(record: Mapping[str, Any]) -> bool:
    from guard.index.cache import valid_metadata_record

    return "needs_build" not in record and record.get("built") is True and valid_metadata_record(record)


def pip_options_for_build(request: Any) -> list[str]:
    """The request's options that decide where pip's isolated build finds its build requirements
    (pip hands its finder's index, find-links, trust, pre-release and format options to the build
    environment's install), as pip options. The user's pip configuration is read by that pip
    itself, as the real run would."""
    out: list[str] = []
    if request.no_index:
        out.append("--no-index")
    else:
        if request.index_url:
            out += ["--index-url", request.index_url]
        for url in request.extra_index_urls:
            out += ["--extra-index-url", url]
    for link in request.find_links:
        out += ["--find-links", link]
    for host in request.trusted_hosts:
        out += ["--trusted-host", host]
    for flag, value in (
        ("--cert", request.cert),
        ("--client-cert", request.client_cert),
        ("--proxy", request.proxy),
        ("--timeout", request.timeout),
        ("--retries", request.retries),
    ):
        if value is not None:
            out += [flag, str(value)]
    if request.pre:
        out.append("--pre")
    if request.prefer_binary:
        out.append("--prefer-binary")
    # pip's format control: each option takes its names out of the other's set, and :all: in the
    # set given last wins over it; the request holds the final sets, given here in that order
    only, no = sorted(request.only_binary), sorted(request.no_binary)
    pairs = [("--no-binary", no), ("--only-binary", only)]
    if ":all:" in only:
        pairs.reverse()
    for flag, names in pairs:
        if names:
            out += [flag, ",".join(names)]
    return out
