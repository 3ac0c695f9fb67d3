"""The pipeline, end to end, for one pip command line:

    argv -> request -> environment snapshot -> resolution -> plan -> verdict

Each stage lives in its own module; this one only wires them and decides where the fast path
hands over to pip's own dry run. Nothing here prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .errors import NeedsPipFallback, UsageError
from .models import CheckResult, Plan

INSTALL_WORDS = ("install", "uninstall")


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("GUARD_CACHE_DIR"):
        return Path(environ["GUARD_CACHE_DIR"])
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    return Path(environ.get("XDG_CACHE_HOME") or home / ".cache") / "conda-pip-guard"


def pip_argv_for_check(args: Sequence[str]) -> list[str]:
    """``guard check -- X``: X is an install command unless it starts with install/uninstall
    (after pip's general options)."""
    args = list(args)
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


def load_snapshot(ctx: Context):
    from .environment import snapshot

    return snapshot(ctx.prefix, cache_dir=ctx.cache_dir)


def parse_command(argv: Sequence[str], snap, ctx: Context, inputs: set | None = None):
    """The request, with the user's pip configuration for this env applied as pip would.
    ``inputs`` collects the files the answer depends on (for the verdict cache)."""
    from .pip_args import parse_pip_argv, uses_isolated_config
    from .pip_config import load_pip_config

    config = load_pip_config(site_prefix=snap.interpreter.prefix, environ=ctx.environ,
                             base_prefix=snap.interpreter.base_prefix, isolated=uses_isolated_config(argv))
    request = parse_pip_argv(argv, config=config.values, environ=ctx.environ, cwd=ctx.cwd)
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


def index_settings(request, snap):
    """Where pip would look: the request's (CLI + config) index options, else pip's default."""
    from .index import IndexSettings

    index_url = request.index_url
    if index_url is None and not request.no_index:
        index_url = snap.interpreter.pip_default_index or own_pip_default_index()
        if index_url is None:
            raise UsageError("no package index configured and no pip in the environment to name its default; "
                             "pass --index-url")
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
        **kwargs,
    )


def own_pip_default_index() -> str | None:
    """pip's own default index as the guard's own pip defines it (no index is named here)."""
    try:
        from pip._internal.models.index import PyPI  # the guard's own pip, when the env has none
    except Exception:  # noqa: BLE001 - pip absent or changed
        return None
    return PyPI.simple_url


def simulate(argv: Sequence[str], ctx: Context, *, snap=None, policy=None, held=None,
             use_cache: bool = True) -> CheckResult:
    """Simulate ``pip argv`` in ``ctx.prefix`` and judge it.

    A result whose inputs are all unchanged is served from :mod:`guard.verdict_cache` (not with
    ``held`` constraints, which only the alternative search uses)."""
    from . import verdict_cache

    use_cache = use_cache and held is None
    key = verdict_cache.cache_key(argv, ctx.prefix, ctx.cwd, ctx.environ) if use_cache else None
    if key is not None:
        cached = verdict_cache.lookup(ctx.cache_dir, key, ctx.prefix)
        if cached is not None:
            return cached

    from .config import config_files, load_policy
    from .pip_args import InstallRequest, UninstallRequest
    from .policy import evaluate
    from .simulate import simulate_uninstall

    snap = snap if snap is not None else load_snapshot(ctx)
    inputs: set = {str(p) for p in config_files(ctx.prefix, ctx.environ)}
    request = parse_command(argv, snap, ctx, inputs)
    if policy is None:
        policy, _ = load_policy(ctx.prefix, ctx.environ)
    stats: dict = {}
    fresh_until = float("inf")
    if isinstance(request, UninstallRequest):
        plan = simulate_uninstall(request, snap)
    elif isinstance(request, InstallRequest):
        plan, fresh_until = _simulate_install(request, snap, ctx, argv, stats, held, inputs)
    else:
        raise UsageError(f"guard check judges pip install and pip uninstall, not {request.command or 'pip'}")
    if not snap.is_conda:
        plan = _with_warnings(plan, (f"{ctx.prefix} is not a conda environment (no conda-meta): nothing here is "
                                     "conda's to protect; activate the env or pass --prefix",))
    if snap.warnings:
        plan = _with_warnings(plan, snap.warnings)
    verdict = evaluate(plan, snap, policy)
    result = CheckResult(str(ctx.prefix), plan, verdict, stats)
    if key is not None:
        verdict_cache.store(ctx.cache_dir, key, ctx.prefix, result, files=inputs, fresh_until=fresh_until)
    return result


def _simulate_install(request, snap, ctx: Context, argv, stats: dict, held, inputs: set) -> tuple[Plan, float]:
    """The plan, and until when it stays valid as far as index pages go."""
    from .index import IndexClient
    from .simulate import simulate_install

    client = IndexClient(index_settings(request, snap), cache_dir=ctx.cache_dir / "http")
    try:
        plan, _ = simulate_install(request, snap, client, held=held)
        fresh_until = client.fresh_until
    except NeedsPipFallback as why:
        plan = _pip_report_plan(request, snap, ctx, argv, str(why))
        fresh_until = 0.0  # pip's own answer depends on more than we track: never memoized
    inputs.update(client.local_paths)
    stats.update(client.stats.as_dict())
    return plan, fresh_until


def _pip_report_plan(request, snap, ctx: Context, argv, why: str) -> Plan:
    """pip's own ``--dry-run --report``, only when builds are allowed: pip builds every local
    project, VCS checkout and sdist without static metadata it meets to learn its dependencies,
    which runs that package's code (``setup.py``, its build backend)."""
    from .errors import BuildNotAllowed
    from .pip_report import plan_from_report, run_pip_report

    if not ctx.allow_build:
        raise BuildNotAllowed(f"cannot judge this without pip's own dry run, which may run package code (a "
                              f"setup.py, a build backend): {why}; nothing was run. Allow it with --allow-build, "
                              "or allow_build: true in the guard configuration")
    if ctx.on_build is not None:
        ctx.on_build(why)
    report = run_pip_report(snap.interpreter.executable, argv, ctx.environ, ctx.cwd,
                            env_has_pip=snap.interpreter.pip_version is not None)
    return plan_from_report(report, snap, force_reinstall=request.force_reinstall, reason=why)


def _with_warnings(plan: Plan, warnings) -> Plan:
    from dataclasses import replace

    return replace(plan, warnings=tuple(plan.warnings) + tuple(warnings))

