"""The conda plugin's hooks (conda 25.11.1: ``conda/plugins/hookspec.py``, return types from
``conda/plugins/types.py``). conda imports this module at every start (entry point group
``conda``) and calls these functions to collect the plugins: they only build conda's objects.
Every action imports its work when conda runs it, so a conda command that involves no guard pays
for nothing here (``benchmarks/bench_conda_plugin.py``). Exit statuses and messages: the modules
named in each action.
"""

from __future__ import annotations

import sys

from conda.plugins import hookimpl
from conda.plugins.types import (
    CondaHealthCheck,
    CondaPostCommand,
    CondaPostSolve,
    CondaPreCommand,
    CondaSetting,
    CondaSubcommand,
)

SUMMARY = "conda-pip-guard: check what pip would change before it does"
HEALTH_CHECK = "conda-pip-guard: pip drift"
# conda's command names as invoke_pre_commands/invoke_post_commands pass them (do_call: the module
# of args.func less "main_"); the same sets as pre_command.RUN_FOR and post_command.RUN_FOR
PRE_COMMANDS = {"env_create", "env_update"}
POST_COMMANDS = {"create", "install", "update", "env_create", "env_update"}


def guard_subcommand(args) -> int:
    """``conda guard [-n NAME | -p PREFIX] GUARD_ARGS...``: conda hands the words after ``guard``."""
    from guard.conda_plugin import conda_context
    from guard.conda_plugin.subcommand import run

    return run(list(args), conda_context.prefix_for)


def pip_drift_check(prefix: str, verbose: bool) -> None:
    from guard.conda_plugin.health import check

    print(check(prefix, verbose))  # a blank line after, as conda's own checks end


def check_environment_file(command: str) -> None:
    """Refuse ``conda env create/update -f environment.yml`` whose pip: section fights its conda
    dependencies (raises conda's error: conda prints it and exits 1 before creating anything)."""
    import os

    from guard.conda_plugin import conda_context
    from guard.conda_plugin.pre_command import check_environment_file as check
    from guard.conda_plugin.pre_command import conda_argv

    env_file = conda_context.parsed_args().get("file") or "environment.yml"
    outcome = check(str(env_file), os.environ, os.getcwd(), conda_argv(sys.argv))
    for line in outcome.lines:
        print(line, file=sys.stderr)
    if outcome.refusal is not None:
        raise conda_context.refusal(outcome.refusal)


def guard_after_conda(command: str) -> None:
    """With ``pip_guard: auto``: shims and remembered records in the environment conda changed.
    Never raises: a problem is one warning line."""
    try:
        import os
        from pathlib import Path

        from guard.conda_plugin import conda_context
        from guard.conda_plugin.post_command import guard_environment

        if conda_context.setting("pip_guard") != "auto" or conda_context.parsed_args().get("dry_run"):
            return
        lines = guard_environment(Path(conda_context.target_prefix()), os.environ)
    except Exception as exc:  # noqa: BLE001 - conda's command has succeeded; never fail it here
        lines = [
            f"conda-pip-guard: warning: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        ]
    for line in lines:
        print(line, file=sys.stderr)


def check_conda_plan(repodata_fn: str, unlink_precs, link_precs) -> None:
    """Warn (or, with ``pip_guard_overwrites: refuse``, refuse) when conda's plan would overwrite
    or remove what pip installed in the target environment."""
    from guard.conda_plugin import conda_context
    from guard.conda_plugin.post_solve import Planned, collisions_in, warning_text
    from guard.conda_plugin.settings import BadSetting
    from guard.errors import GuardError

    try:
        mode = conda_context.setting("pip_guard_overwrites")
    except BadSetting as err:
        # Fail closed: a value that is neither warn nor refuse was set to ask for something; the
        # stricter reading is the one that never lets conda write over pip's files unasked.
        print(f"conda-pip-guard: warning: {err}; treated as refuse", file=sys.stderr)
        mode = "refuse"
    prefix = conda_context.target_prefix()
    unlink = [Planned(p.name, str(p.version), p.build) for p in unlink_precs]
    link = [Planned(p.name, str(p.version), p.build) for p in link_precs]
    try:
        found, python = collisions_in(prefix, unlink, link)
    except GuardError as err:
        if mode == "refuse":
            raise conda_context.refusal(
                f"conda-pip-guard: refused: cannot tell what pip installed in {prefix}: {err}\n"
                "  Nothing was changed. Warn instead: conda config --set plugins.pip_guard_overwrites warn"
            ) from None
        print(f"conda-pip-guard: warning: cannot tell what pip installed in {prefix}: {err}", file=sys.stderr)
        return
    if not found:
        return
    if mode == "refuse":
        raise conda_context.refusal(warning_text(found, prefix, python, refused=True))
    print(warning_text(found, prefix, python, refused=False), file=sys.stderr)


@hookimpl
def conda_subcommands():
    yield CondaSubcommand(name="guard", summary=SUMMARY, action=guard_subcommand)


@hookimpl
def conda_health_checks():
    yield CondaHealthCheck(name=HEALTH_CHECK, action=pip_drift_check)


@hookimpl
def conda_pre_commands():
    yield CondaPreCommand(name="conda-pip-guard-environment-file", action=check_environment_file, run_for=PRE_COMMANDS)


@hookimpl
def conda_post_commands():
    yield CondaPostCommand(name="conda-pip-guard-auto-shims", action=guard_after_conda, run_for=POST_COMMANDS)


@hookimpl
def conda_post_solves():
    yield CondaPostSolve(name="conda-pip-guard-pip-dists", action=check_conda_plan)


@hookimpl
def conda_settings():
    from conda.common.configuration import PrimitiveParameter

    from guard.conda_plugin.settings import SETTINGS

    for setting in SETTINGS.values():
        yield CondaSetting(
            name=setting.name,
            description=setting.description,
            parameter=PrimitiveParameter(setting.default, element_type=str, validation=setting.validate),
        )
