"""The pipeline, end to end, for one pip command line:

    argv -> request -> environment snapshot -> resolution -> plan -> verdict

Each stage lives in its own module; this one only wires them and decides where the fast path
hands over to pip's own dry run. Nothing here prints.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

from guard.errors import NeedsPipFallback, UsageError
from guard.models import CheckResult, Plan

if TYPE_CHECKING:
    from guard.index.state import IndexStats

INSTALL_WORDS = ("install", "uninstall")


class Progress(Protocol):
    """Told what a simulation is doing, for a face to show while the user waits
    (:mod:`guard.act.progress`); the engine itself never prints. ``stats``: the counters of the
    index client that stage reads, read by the face from another thread while the stage runs."""

    def stage(self, what: str, stats: IndexStats | None = None) -> None: ...


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """The guard's cache directory: ``$GUARD_CACHE_DIR``, else ``$XDG_CACHE_HOME/conda-pip-guard``,
    else ``~/.cache/conda-pip-guard`` (``HOME`` from ``environ``), on every platform (the README's
    path). Not ``platformdirs``: it reads the process environment only (callers hand in theirs),
    would move the directory on macOS and Windows, and costs 2.5-4 ms of imports on every
    guarded ``pip install``."""
    if environ.get("GUARD_CACHE_DIR"):
        return Path(environ["GUARD_CACHE_DIR"])
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    return Path(environ.get("XDG_CACHE_HOME") or home / ".cache") / "conda-pip-guard"


def pip_argv_for_check(args: Sequence[str]) -> list[str]:
    """``guard check -- X``: X is an install command unless it starts with install/uninstall
    (after pip's general options)."""
    from guard.request.command import PipCommand

    args = list(args)
    if PipCommand.parse(args).subcommand in INSTALL_WORDS:  # after general options: pip --python X install ...
        return args
    for a in args:
        if a in INSTALL_WORDS:
            return args
        if not a.startswith("-"):
            break
    return ["install", *args]


@dataclass(frozen=True)
class Context:
    """What every stage needs to know about where it runs."""

    prefix: Path
    environ: Mapping[str, str]
    cwd: str
    cache_dir: Path
    # Whether pip's own dry run may run, which builds what only a build can describe (runs
    # setup.py or a build backend): ``--allow-build`` or ``allow_build: true``; ``guard pip``.
    allow_build: bool = False
    # Told the reason just before that dry run builds (``guard pip`` says so on stderr).
    on_build: Callable[[str], None] | None = field(default=None, compare=False)
    # Told each stage of a long simulation (a face shows it on a terminal); None: nobody watches.
    progress: Progress | None = field(default=None, compare=False)


def load_snapshot(ctx: Context):
    from guard.environment.snapshot import snapshot

    return snapshot(ctx.prefix, cache_dir=ctx.cache_dir)


def parse_command(argv: Sequence[str], snap, ctx: Context, inputs: set | None = None):
    """The request, with the user's pip configuration for this env applied as pip would.
    ``inputs`` collects the files the answer depends on (for the verdict cache)."""
    from guard.request.command import uses_isolated_config
    from guard.request.parse import parse_pip_argv
    from guard.request.pip_config import load_pip_config

    config = load_pip_config(
        site_prefix=snap.interpreter.prefix,
        environ=ctx.environ,
        base_prefix=snap.interpreter.base_prefix,
        isolated=uses_isolated_config(argv),
    )
    request = parse_pip_argv(
        argv, config=config.values, environ=ctx.environ, cwd=ctx.cwd, config_sources=config.sources
    )
    if inputs is not None:
        inputs.update(path for _, path, _ in config.files)
        inputs.update(_request_files(request, ctx.cwd))
    return request


def _request_files(request, cwd: str) -> set:
    """Requirement/constraint files (every one opened, also those holding only ``-r`` or option
    lines) and local projects or wheels a request read."""
    files = set(getattr(request, "files_read", ()))
    items = list(getattr(request, "requirements", ())) + list(getattr(request, "constraints", ()))
    for item in items:
        path = getattr(item, "path", None)
        if path:
            if os.path.isdir(path):
                files.update(os.path.join(path, n) for n in ("pyproject.toml", "setup.py", "setup.cfg"))
            else:
                files.add(path)
    return files


def index_settings(request, snap, environ: Mapping[str, str] | None = None):
    """Where pip would look: the request's (CLI + config) index options, else pip's default;
    pip's ``--timeout``/``--retries``; the run's deadline from ``GUARD_DEADLINE`` in ``environ``
    (default: this process's environment)."""
    from guard.index.settings import IndexSettings, deadline_from_environ

    index_url = request.index_url
    if index_url is None and not request.no_index:
        index_url = snap.interpreter.pip_default_index or own_pip_default_index()
        if index_url is None:
            raise UsageError(
                "no package index configured and no pip in the environment to name its default; pass --index-url"
            )
    kwargs = {}
    if request.timeout is not None:
        kwargs["timeout"] = request.timeout
    if request.retries is not None:
        kwargs["retries"] = request.retries
    return IndexSettings(
        index_url=None if request.no_index else index_url,
        extra_index_urls=() if request.no_index else tuple(request.extra_index_urls),
        find_links=tuple(request.find_links),
        no_index=request.no_index,
        cert=request.cert,
        client_cert=request.client_cert,
        trusted_hosts=tuple(request.trusted_hosts),
        proxy=request.proxy,
        deadline=deadline_from_environ(os.environ if environ is None else environ),
        **kwargs,
    )


def own_pip_default_index() -> str | None:
    """pip's own default index as the guard's own pip defines it (no index is named here)."""
    try:
        from pip._internal.models.index import PyPI  # the guard's own pip, when the env has none
    except Exception:  # noqa: BLE001 - pip absent or changed
        return None
    return PyPI.simple_url


def simulate(
    argv: Sequence[str], ctx: Context, *, snap=None, policy=None, held=None, use_cache: bool = True
) -> CheckResult:
    """Simulate ``pip argv`` in ``ctx.prefix`` and judge it.

    A result whose inputs are all unchanged is served from :mod:`guard.verdict_cache` (not with
    ``held`` constraints, which only the alternative search uses, nor with
    ``GUARD_NO_VERDICT_CACHE`` set)."""
    from guard.pipeline import verdict_cache

    # GUARD_NO_VERDICT_CACHE=1: neither read nor write a cached verdict (the index's page and
    # metadata caches stay on): how a new command costs once its metadata is cached (benchmarks)
    use_cache = use_cache and held is None and not ctx.environ.get("GUARD_NO_VERDICT_CACHE")
    key = (
        verdict_cache.cache_key(argv, ctx.prefix, ctx.cwd, ctx.environ, allow_build=ctx.allow_build)
        if use_cache
        else None
    )
    if key is not None:
        cached = verdict_cache.lookup(
            ctx.cache_dir, key, ctx.prefix, revalidate=lambda pages, index: _pages_unchanged(argv, ctx, pages, index)
        )
        if cached is not None:
            return cached

    from guard.policy.config import config_files, load_policy
    from guard.policy.rules import evaluate
    from guard.request.model import InstallRequest, UninstallRequest
    from guard.resolve.simulate import simulate_uninstall

    argv = _check_python_option(argv, ctx.prefix)
    if snap is None:
        _tell(ctx, "reading the environment")
        snap = load_snapshot(ctx)
    inputs: set = {str(p) for p in config_files(ctx.prefix, ctx.environ)}
    request = parse_command(argv, snap, ctx, inputs)
    if policy is None:
        policy, _ = load_policy(ctx.prefix, ctx.environ)
    stats: dict = {}
    fresh_until = float("inf")
    if isinstance(request, UninstallRequest):
        plan = simulate_uninstall(request, snap)
    elif isinstance(request, InstallRequest):
        where = install_target(request, snap, ctx.prefix)
        if where.kind == "outside" and request.unmodeled:
            # nothing in the env changes: no need to ask pip (or build) for a plan of another platform
            plan = Plan(
                "install",
                (),
                target=where.path,
                warnings=(
                    f"{where.option} {where.path}: pip installs into that directory, outside the environment; "
                    f"nothing here changes (not simulated: {'; '.join(request.unmodeled)})",
                ),
            )
        else:
            plan, fresh_until = _simulate_install(where.request, snap, ctx, argv, stats, held, inputs)
    else:
        raise UsageError(f"guard check judges pip install and pip uninstall, not {request.command or 'pip'}")
    if not snap.is_conda:
        plan = _with_warnings(
            plan,
            (
                f"{ctx.prefix} is not a conda environment (no conda-meta): nothing here is "
                "conda's to protect; activate the env or pass --prefix",
            ),
        )
    if snap.warnings:
        plan = _with_warnings(plan, snap.warnings)
    verdict = evaluate(plan, snap, policy)
    if isinstance(request, InstallRequest) and where.kind in ("prefix", "root"):
        plan, verdict = _judge_elsewhere(where, plan, snap, policy, ctx)
        key = None  # another env's state is part of the answer: not memoized
    result = CheckResult(str(ctx.prefix), plan, verdict, stats)
    if key is not None:
        verdict_cache.store(
            ctx.cache_dir,
            key,
            ctx.prefix,
            result,
            files=inputs,
            fresh_until=fresh_until,
            pages=stats.pop("index_pages", {}),
            index=stats.pop("index_settings", None),
        )
    stats.pop("index_pages", None)
    stats.pop("index_settings", None)
    return result


def _tell(ctx: Context, what: str, stats: IndexStats | None = None) -> None:
    if ctx.progress is not None:
        ctx.progress.stage(what, stats)


def _pages_unchanged(argv, ctx: Context, pages, index=None) -> bool:
    """Whether the index pages a memoized verdict used still say what they said (conditional
    requests, as pip would make them); any failure is a miss, and the full run says why.
    ``index``: the index settings the verdict was made with (valid while its inputs are
    unchanged, which the verdict cache checked), else they are read again (snapshot, request)."""
    from guard.index.client import IndexClient
    from guard.index.settings import deadline_from_environ, settings_from_memo

    try:
        if index is not None:
            settings = settings_from_memo(index, deadline=deadline_from_environ(ctx.environ))
        else:
            snap = load_snapshot(ctx)
            settings = index_settings(parse_command(argv, snap, ctx), snap, ctx.environ)
        with IndexClient(settings, cache_dir=ctx.cache_dir / "http") as client:
            _tell(ctx, "asking the index whether the cached answer holds", client.stats)
            return client.pages_unchanged(pages)
    except Exception:  # noqa: BLE001 - only a cache miss
        return False


def _simulate_install(request, snap, ctx: Context, argv, stats: dict, held, inputs: set) -> tuple[Plan, float]:
    """The plan, and until when it stays valid as far as index pages go."""
    from guard.index.client import IndexClient
    from guard.index.settings import settings_memo
    from guard.resolve.simulate import simulate_install

    settings = index_settings(request, snap, ctx.environ)
    # wheels for other interpreters are never offered to this resolution: not made into files
    client = IndexClient(settings, cache_dir=ctx.cache_dir / "http", supported_tags=snap.interpreter.tags)
    _tell(ctx, "resolving", client.stats)
    build = _sdist_builder(request, snap, ctx, settings.deadline)
    try:
        plan, _ = simulate_install(request, snap, client, held=held, deadline=settings.deadline, build=build)
        fresh_until = client.fresh_until
        if client.warnings:  # an index could not be reached: say how the answer was made instead
            plan = _with_warnings(plan, client.warnings)
        stats["index_pages"] = dict(client.pages_used)
        stats["index_settings"] = settings_memo(client.settings)
    except NeedsPipFallback as why:
        plan = _pip_report_plan(request, snap, ctx, argv, str(why))
        fresh_until = 0.0  # pip's own answer depends on more than we track: never memoized
    inputs.update(client.local_paths)
    stats.update(client.stats.as_dict())
    return plan, fresh_until


def _sdist_builder(request, snap, ctx: Context, deadline: float | None):
    """What the resolver calls for an index sdist whose dependencies only a build can tell: that
    one sdist's metadata, built by pip when builds are allowed, else a refusal naming it
    (:mod:`guard.pipeline.sdist_build`). The rest of the command stays the guard's to resolve."""
    from guard.pipeline.sdist_build import SdistMetadataBuilder

    return SdistMetadataBuilder(
        allow=ctx.allow_build,
        python=snap.interpreter.executable,
        env_has_pip=snap.interpreter.pip_version is not None,
        environ=ctx.environ,
        cwd=ctx.cwd,
        request=request,
        markers=snap.interpreter.markers,
        cache_dir=ctx.cache_dir / "http",
        deadline=deadline,
        on_build=ctx.on_build,
    )


def _pip_report_plan(request, snap, ctx: Context, argv, why: str) -> Plan:
    """pip's own ``--dry-run --report``, only when builds are allowed: pip builds every local
    project and VCS checkout it meets to learn its dependencies, which runs that package's code
    (``setup.py``, its build backend). (An sdist from an index is built alone instead: see
    :func:`_sdist_builder`.)"""
    from guard.pipeline.pip_report import plan_from_report, run_pip_report
    from guard.pipeline.sdist_build import build_not_allowed

    if not ctx.allow_build:
        raise build_not_allowed(why)
    _tell(ctx, "pip's dry run")
    if ctx.on_build is not None:
        ctx.on_build(why)
    report = run_pip_report(
        snap.interpreter.executable, argv, ctx.environ, ctx.cwd, env_has_pip=snap.interpreter.pip_version is not None
    )
    return plan_from_report(report, snap, force_reinstall=request.force_reinstall, reason=why)


def _check_python_option(argv, prefix: Path) -> list[str]:
    """pip's own ``--python`` on the command line names the env pip runs in: it must be the env
    judged (one line otherwise). Returns ``argv`` without it: simulating in that env is what it
    asks for."""
    from guard.request.command import PipCommand

    command = PipCommand.parse(argv)
    named = command.python_prefix()
    if named is None:
        return list(argv)
    if not _same_path(named, prefix):
        raise UsageError(
            f"pip's --python runs pip in {named}, not in {prefix}: judge that environment (--prefix {named})"
        )
    return command.without_python_option()


# ---- where pip writes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallTarget:
    """Where ``pip install`` puts files, as pip 26 decides it (``commands/install.py``).

    ``kind``: ``"env"`` (the environment itself: also ``--user``, whose packages shadow the env's at
    import time, and a ``--target``/``--prefix``/``--root`` that lands in the env's own
    site-packages); ``"outside"`` (``--target DIR`` elsewhere: pip ignores what is installed and
    moves the new files into DIR, nothing in the env changes); ``"prefix"``/``"root"`` (pip still
    resolves against the running env and **uninstalls from it** every distribution it replaces,
    then writes the new files under ``path``; ``other_env`` is that prefix when it is a conda env).
    ``request`` is what to simulate in the env (a ``--target`` into the env judged in place)."""

    kind: str
    request: object
    path: str | None = None
    option: str | None = None
    other_env: Path | None = None


def _same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def install_target(request, snap, prefix: Path) -> InstallTarget:
    """Classify ``request`` (an ``InstallRequest``) by where pip would write (see ``InstallTarget``)."""
    from dataclasses import replace

    interp = snap.interpreter
    env_sites = [d for d in (interp.purelib, interp.platlib, interp.user_site) if d]
    if request.target:
        if any(_same_path(request.target, d) for d in env_sites):
            # pip --target implies --ignore-installed: every resolved distribution lands beside the
            # env's own (and replaces them with --upgrade)
            return InstallTarget(
                "env", replace(request, target=None, ignore_installed=True), request.target, "--target"
            )
        return InstallTarget("outside", request, request.target, "--target")
    if request.root and not _same_path(request.root, os.sep):
        return InstallTarget("root", request, request.root, "--root")
    if request.prefix and not _same_path(request.prefix, prefix):
        other = Path(request.prefix)
        return InstallTarget(
            "prefix", request, request.prefix, "--prefix", other if (other / "conda-meta").is_dir() else None
        )
    return InstallTarget("env", request)


def _judge_elsewhere(where: InstallTarget, plan: Plan, snap, policy, ctx: Context):
    """pip ``--prefix``/``--root``: what pip replaces is uninstalled from the running env (judged as
    removals there); what it installs is written under ``where.path``, over whatever another conda
    env there holds (judged against that env, under that env's configuration)."""
    from dataclasses import replace

    from guard.environment.snapshot import snapshot
    from guard.models import Change, Reason, Verdict
    from guard.policy.config import load_policy
    from guard.policy.rules import evaluate

    removed = tuple(replace(c, proposed=None, action="remove") for c in plan.changes if c.installed is not None)
    note = f"{where.option} {where.path}: pip writes the new files there and removes what it replaces from {ctx.prefix}"
    here = replace(plan, changes=removed, warnings=tuple(plan.warnings) + (note,))
    verdicts = [evaluate(here, snap, policy)]
    changes = list(removed)
    if where.other_env is not None:
        other = snapshot(where.other_env, cache_dir=ctx.cache_dir)
        other_policy, _ = load_policy(where.other_env, ctx.environ)
        written = []
        for c in plan.changes:
            if c.proposed is None:
                continue
            dist = other.dists.get(c.name)
            if dist is None:
                written.append(replace(c, installed=None, action="install", owner=None, conda_record=None))
                continue
            written.append(
                Change(
                    c.name,
                    dist.version,
                    c.proposed,
                    _action(dist.version, c.proposed),
                    dist.owner,
                    dist.conda_record.summary() if dist.conda_record is not None else None,
                    c.source,
                )
            )
        there = replace(plan, changes=tuple(written), warnings=tuple(other.warnings))
        v = evaluate(there, other, other_policy)
        verdicts.append(
            Verdict(
                v.verdict,
                tuple(Reason(r.name, r.rule, f"in {where.other_env}: {r.message}", r.chain) for r in v.reasons),
                tuple(f"in {where.other_env}: {w}" for w in v.warnings),
                v.protected,
            )
        )
        changes += written
    reasons = tuple(r for v in verdicts for r in v.reasons)
    verdict = Verdict(
        "block" if reasons else "allow",
        reasons,
        tuple(w for v in verdicts for w in v.warnings),
        frozenset().union(*(v.protected for v in verdicts)),
    )
    return replace(here, changes=tuple(changes)), verdict


def _action(installed: str, proposed: str) -> str:
    from packaging.version import InvalidVersion, Version

    try:
        a, b = Version(installed), Version(proposed)
    except InvalidVersion:
        return "reinstall"
    return "reinstall" if a == b else ("upgrade" if b > a else "downgrade")


def _with_warnings(plan: Plan, warnings) -> Plan:
    from dataclasses import replace

    return replace(plan, warnings=tuple(plan.warnings) + tuple(warnings))
