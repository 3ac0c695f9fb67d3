"""What the plugin reads from conda itself, in one place: the settings (``context.plugins``), the
target environment of the running command, the command's parsed arguments, and conda's error
type. Every other module of the plugin takes these as plain values, so that its logic runs (and is
tested) without conda.

conda 25.11.1 is the reference (``conda/base/context.py``: ``Context.plugins``,
``determine_target_prefix``; ``conda/cli/conda_argparse.py::do_call``). The context holds a
*copy* of the parsed arguments (``Configuration._set_argparse_args``), taken before the command
runs: ``conda env create -f environment.yml`` without ``-n``/``-p`` takes the name from the file
inside the command, and that name never reaches the context, so :func:`target_prefix` reads it
from the file the same way.
"""

from __future__ import annotations

import argparse
import os
from functools import cache
from typing import Any

from guard.conda_plugin.settings import SETTINGS, BadSetting

# conda's ``args.func`` of the commands that read an environment file (-f/--file)
ENV_FILE_FUNCS = frozenset({"conda.cli.main_env_create.execute", "conda.cli.main_env_update.execute"})


def _context() -> Any:
    from conda.base.context import context

    return context


def parsed_args() -> dict:
    """The running command's arguments as conda parsed them (``context._argparse_args``)."""
    args = getattr(_context(), "_argparse_args", None) or {}
    return dict(args.items()) if hasattr(args, "items") else dict(vars(args))


def setting(name: str) -> str:
    """``context.plugins.<name>``, one of its allowed values; raises :class:`BadSetting` (one
    line) for any other value (conda's own validation error included)."""
    try:
        value = getattr(_context().plugins, name)
    except AttributeError:  # the settings were not registered (another plugin manager): the default
        return SETTINGS[name].default
    except Exception as exc:  # noqa: BLE001 - conda's CustomValidationError, a bad .condarc
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        last = lines[-1] if lines else type(exc).__name__
        raise BadSetting(f"plugins.{last}" if last.startswith(name) else f"plugins.{name}: {last}") from None
    return SETTINGS[name].read(value)


def env_file_name(path: str | None, cwd: str | None = None) -> str | None:
    """The ``name:`` of an environment.yml (what conda uses when neither -n nor -p is given), or
    None when the file has none or cannot be read."""
    if not path:
        return None
    try:
        import yaml

        with open(os.path.join(cwd or os.getcwd(), path), encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (OSError, ValueError, ImportError, Exception):  # noqa: BLE001 - conda reports a bad file itself
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name.strip() else None


def target_prefix() -> str:
    """The environment the running command changes (or, for ``conda doctor``, reads): ``-p``,
    else ``-n``, else for ``conda env create/update`` the file's ``name:``, else conda's default
    (the active environment, else the base one). What conda itself computes with
    ``determine_target_prefix``."""
    from conda.base.context import determine_target_prefix

    args = parsed_args()
    name, prefix = args.get("name"), args.get("prefix")
    if name is None and prefix is None and args.get("func") in ENV_FILE_FUNCS:
        name = env_file_name(args.get("file", "environment.yml"))
    return str(determine_target_prefix(_context(), argparse.Namespace(name=name, prefix=prefix)))


def prefix_for(name: str | None, prefix: str | None) -> str:
    """The prefix ``-n NAME`` / ``-p PREFIX`` names, as conda resolves them (None, None: conda's
    default environment)."""
    from conda.base.context import determine_target_prefix

    return str(determine_target_prefix(_context(), argparse.Namespace(name=name, prefix=prefix)))


@cache
def _error_class() -> type:
    from conda.exceptions import CondaError

    class CondaPipGuardError(CondaError):
        """conda-pip-guard refused the command (conda prints it as one block, exit status 1)."""

    return CondaPipGuardError


def refusal(message: str) -> Exception:
    """A conda error carrying ``message``: raised from a hook, conda prints it and exits 1 before
    it changes anything. (conda formats messages with ``%``: a literal ``%`` is escaped.)"""
    return _error_class()(message.replace("%", "%%"))
