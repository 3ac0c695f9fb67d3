"""The pipeline, end to end, for one pip command line:

    argv -> request -> environment snapshot -> resolution -> plan -> verdict

Each stage lives in its own module; this one only wires them and decides where the fast path
hands over to pip's own dry run. Nothing here prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

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


def load_snapshot(ctx: Context):
    from .environment import snapshot

    return snapshot(ctx.prefix, cache_dir=ctx.cache_dir)


def parse_command(argv: Sequence[str], snap, ctx: Context):
    """The request, with the user's pip configuration for this env applied as pip would."""
    from .pip_args import parse_pip_argv
    from .pip_config import load_pip_config

    isolated = "--isolated" in argv or _truthy(ctx.environ.get("PIP_ISOLATED"))
    config = load_pip_config(site_prefix=snap.interpreter.prefix, environ=ctx.environ, isolated=isolated)
    return parse_pip_argv(argv, config=config.values, environ=ctx.environ, cwd=ctx.cwd)


def index_settings(request, snap):
    """Where pip would look: the request's (CLI + config) index options, else pip's default."""
    from .index import IndexSettings

    index_url = request.index_url
    if index_url is None and not request.no_index:
        index_url = snap.interpreter.pip_default_index or _own_pip_default_index()
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


def _own_pip_default_index() -> str | None:
    try:
        from pip._internal.models.index import PyPI  # the guard's own pip, when the env has none
    except Exception:  # noqa: BLE001 - pip absent or changed
        return None
    return PyPI.simple_url


def simulate(argv: Sequence[str], ctx: Context, *, snap=None, policy=None, held=None) -> CheckResult:
    """Simulate ``pip argv`` in ``ctx.prefix`` and judge it."""
    from .config import load_policy
    from .pip_args import InstallRequest, UninstallRequest
    from .policy import evaluate
    from .simulate import simulate_install, simulate_uninstall

    snap = snap if snap is not None else load_snapshot(ctx)
    request = parse_command(argv, snap, ctx)
    if policy is None:
        policy, _ = load_policy(ctx.prefix, ctx.environ)
    stats: dict = {}
    if isinstance(request, UninstallRequest):
        plan = simulate_uninstall(request, snap)
    elif isinstance(request, InstallRequest):
        plan = _simulate_install(request, snap, ctx, argv, stats, held)
    else:
        raise UsageError(f"guard check judges pip install and pip uninstall, not {request.command or 'pip'}")
    if snap.warnings:
        plan = _with_warnings(plan, snap.warnings)
    verdict = evaluate(plan, snap, policy)
    return CheckResult(str(ctx.prefix), plan, verdict, stats)


def _simulate_install(request, snap, ctx: Context, argv, stats: dict, held) -> Plan:
    from .index import IndexClient
    from .simulate import simulate_install

    client = IndexClient(index_settings(request, snap), cache_dir=ctx.cache_dir / "http")
    try:
        plan, _ = simulate_install(request, snap, client, held=held)
    except NeedsPipFallback as why:
        from .pip_report import plan_from_report, run_pip_report

        if snap.interpreter.pip_version is None:
            raise NeedsPipFallback(f"{why}; and the environment has no pip to ask") from None
        report = run_pip_report(snap.interpreter.executable, argv, ctx.environ, ctx.cwd)
        plan = plan_from_report(report, snap, force_reinstall=request.force_reinstall, reason=str(why))
    stats.update(_stats_dict(client))
    return plan


def _stats_dict(client) -> dict:
    stats = getattr(client, "stats", None)
    if stats is None:
        return {}
    if isinstance(stats, dict):
        return dict(stats)
    try:
        from dataclasses import asdict

        return asdict(stats)
    except TypeError:
        return {}


def _with_warnings(plan: Plan, warnings) -> Plan:
    from dataclasses import replace

    return replace(plan, warnings=tuple(plan.warnings) + tuple(warnings))


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
