"""A stand-in for the parts of conda 25.11.1 that conda-pip-guard's plugin touches, for CI, where
conda cannot be installed from the package index. :func:`install` puts it in ``sys.modules`` only
when the real conda is not importable.

Mirrored from conda's source at tag 25.11.1 (https://github.com/conda/conda/tree/25.11.1):
- ``conda/plugins/hookspec.py``: ``hookimpl = pluggy.HookimplMarker("conda")`` (pluggy is in the
  test environment: pytest's dependency); the hook names of :class:`CondaSpecs` below;
- ``conda/plugins/types.py``: ``CondaPlugin`` (``name`` lower-cased and stripped in
  ``__post_init__``), ``CondaSubcommand(name, summary, action, configure_parser=None)``,
  ``CondaPreCommand``/``CondaPostCommand(name, action, run_for)``, ``CondaHealthCheck(name,
  action)``, ``CondaPostSolve(name, action)``, ``CondaSetting(name, description, parameter,
  aliases=tuple())``: the same fields, order and defaults;
- ``conda/common/configuration.py``: ``PrimitiveParameter(default, element_type=None,
  validation=None)``; a value failing ``validation`` raises ``CustomValidationError`` with conda's
  message (``Parameter <name> = <value!r> declared in <source> is invalid.`` and the message);
- ``conda/__init__.py``: ``CondaError(message, caused_by=None, **kwargs)``, ``return_code = 1``,
  ``str`` = ``message % kwargs``;
- ``conda/plugins/manager.py``: :func:`get_hook_results` (flatten, validate names, sort by name)
  and the calls ``action(command)``, ``action(prefix, verbose)``, ``action(repodata_fn,
  unlink_precs, link_precs)``;
- ``conda/base/context.py``: ``determine_target_prefix(ctx, args)`` (``-p``, else ``-n`` in the
  first envs dir, else ``ctx.default_prefix``: the active env, else root); ``context.plugins``
  reading ``plugins:`` values through the registered settings; ``context._argparse_args``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import pluggy

HOOK_NAMES = (
    "conda_subcommands",
    "conda_health_checks",
    "conda_pre_commands",
    "conda_post_commands",
    "conda_post_solves",
    "conda_settings",
)


# ---- conda/__init__.py, conda/exceptions.py ----------------------------------------------------


class CondaError(Exception):
    return_code: int = 1
    reportable: bool = False

    def __init__(self, message: str | None, caused_by: Any = None, **kwargs):
        self.message = message or ""
        self._kwargs = kwargs
        self._caused_by = caused_by
        super().__init__(message)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: {self}"

    def __str__(self) -> str:
        return str(self.message) % self._kwargs


class CustomValidationError(CondaError):
    def __init__(self, parameter_name, parameter_value, source, custom_message):
        super().__init__(
            f"Parameter {parameter_name} = {parameter_value!r} declared in {source} is invalid.\n{custom_message}"
        )


# ---- conda/plugins/types.py --------------------------------------------------------------------


@dataclass
class CondaPlugin:
    name: str

    def __post_init__(self):
        self.name = self.name.lower().strip()


@dataclass
class CondaSubcommand(CondaPlugin):
    name: str
    summary: str
    action: Callable
    configure_parser: Callable | None = field(default=None)


@dataclass
class CondaPreCommand(CondaPlugin):
    name: str
    action: Callable[[str], None]
    run_for: set[str]


@dataclass
class CondaPostCommand(CondaPlugin):
    name: str
    action: Callable[[str], None]
    run_for: set[str]


@dataclass
class CondaHealthCheck(CondaPlugin):
    name: str
    action: Callable[[str, bool], None]


@dataclass
class CondaPostSolve(CondaPlugin):
    name: str
    action: Callable


@dataclass
class CondaSetting(CondaPlugin):
    name: str
    description: str
    parameter: Any
    aliases: tuple[str, ...] = tuple()


# ---- conda/common/configuration.py -------------------------------------------------------------


class PrimitiveParameter:
    def __init__(self, default, element_type=None, validation=None):
        self._type = type(default) if element_type is None else element_type
        self._element_type = self._type
        self.default = default
        self._validation = validation

    def load(self, name: str, value: Any, source: str) -> Any:
        """What conda's ``PrimitiveLoadedParameter.collect_errors`` does to a value read."""
        if not isinstance(value, self._type):
            raise CondaError(f"Parameter {name} = {value!r} declared in {source} has type {type(value).__name__}")
        if self._validation is not None:
            result = self._validation(value)
            if result is False:
                raise CondaError(f"Parameter {name} = {value!r} declared in {source} is invalid.")
            if isinstance(result, str):
                raise CustomValidationError(name, value, source, result)
        return value


# ---- conda/base/context.py ---------------------------------------------------------------------


class PluginConfig:
    """``context.plugins``: each registered setting's value (``plugins:`` in a condarc, here
    :attr:`Context.plugin_values`), its default otherwise."""

    def __init__(self, ctx: Context):
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        setting = self._ctx.settings.get(name)
        if setting is None:
            raise AttributeError(name)
        if name not in self._ctx.plugin_values:
            return setting.parameter.default
        return setting.parameter.load(name, self._ctx.plugin_values[name], "/stub/.condarc")


class Context:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._argparse_args: dict = {}
        self.settings: dict[str, CondaSetting] = {}
        self.plugin_values: dict[str, Any] = {}
        self.root_prefix = "/stub/conda-root"
        self.envs_dirs: tuple[str, ...] = ("/stub/conda-root/envs",)
        self.verbose = False

    @property
    def plugins(self) -> PluginConfig:
        return PluginConfig(self)

    @property
    def active_prefix(self) -> str | None:
        return os.getenv("CONDA_PREFIX")

    @property
    def default_prefix(self) -> str:
        return self.active_prefix or self.root_prefix

    @property
    def target_prefix(self) -> str:
        return determine_target_prefix(self)


def determine_target_prefix(ctx: Context, args: Any = None) -> str:
    argparse_args = args or ctx._argparse_args
    get = argparse_args.get if isinstance(argparse_args, dict) else lambda k: getattr(argparse_args, k, None)
    prefix_name, prefix_path = get("name"), get("prefix")
    if prefix_name is None and prefix_path is None:
        return ctx.default_prefix
    if prefix_path is not None:
        return os.path.abspath(os.path.expanduser(prefix_path))
    return os.path.join(ctx.envs_dirs[0], prefix_name)


context = Context()


# ---- conda/plugins/hookspec.py, conda/plugins/manager.py -----------------------------------------

_hookspec = pluggy.HookspecMarker("conda")


class CondaSpecs:
    """The hook specifications the plugin implements (conda/plugins/hookspec.py; methods without
    arguments but ``self``, as there)."""

    @_hookspec
    def conda_subcommands(self): ...

    @_hookspec
    def conda_health_checks(self): ...

    @_hookspec
    def conda_pre_commands(self): ...

    @_hookspec
    def conda_post_commands(self): ...

    @_hookspec
    def conda_post_solves(self): ...

    @_hookspec
    def conda_settings(self): ...


def plugin_manager(*plugins: object) -> pluggy.PluginManager:
    """A plugin manager of project ``conda`` with the hook specs, ``plugins`` registered."""
    pm = pluggy.PluginManager("conda")
    pm.add_hookspecs(CondaSpecs)
    for plugin in plugins:
        pm.register(plugin)
    return pm


def get_hook_results(pm: pluggy.PluginManager, name: str) -> list:
    """conda's ``CondaPluginManager.get_hook_results``: every plugin's results, names checked,
    sorted by name."""
    hook = getattr(pm.hook, f"conda_{name}")
    plugins = [plugin for plugins in hook() for plugin in plugins]
    for plugin in plugins:
        if not isinstance(plugin.name, str) or plugin.name != plugin.name.lower().strip():
            raise CondaError(f"Invalid plugin name for {plugin!r}")
    names = [p.name for p in plugins]
    if len(names) != len(set(names)):
        raise CondaError(f"Conflicting plugins found for `{name}`")
    return sorted(plugins, key=lambda plugin: plugin.name)


def load_settings(pm: pluggy.PluginManager) -> None:
    """conda's ``load_settings``: register every setting with ``context.plugins``."""
    context.settings = {s.name: s for s in get_hook_results(pm, "settings")}


# ---- installing the stand-in -------------------------------------------------------------------


def real_conda_importable() -> bool:
    mod = sys.modules.get("conda")
    if mod is not None:
        return getattr(mod, "__stub__", False) is False
    return importlib.util.find_spec("conda") is not None


def install() -> bool:
    """Put the stand-in modules into ``sys.modules`` unless the real conda is importable;
    returns whether the stand-in is in use."""
    if real_conda_importable():
        return False
    if "conda" in sys.modules:
        return True
    this = sys.modules[__name__]
    modules = {
        "conda": {"CondaError": CondaError, "__stub__": True},
        "conda.exceptions": {"CondaError": CondaError, "CustomValidationError": CustomValidationError},
        "conda.plugins": {"hookimpl": pluggy.HookimplMarker("conda")},
        "conda.plugins.types": {
            n: getattr(this, n)
            for n in (
                "CondaPlugin",
                "CondaSubcommand",
                "CondaPreCommand",
                "CondaPostCommand",
                "CondaHealthCheck",
                "CondaPostSolve",
                "CondaSetting",
            )
        },
        "conda.common": {},
        "conda.common.configuration": {"PrimitiveParameter": PrimitiveParameter},
        "conda.base": {},
        "conda.base.context": {"context": context, "determine_target_prefix": determine_target_prefix},
    }
    for name, attrs in modules.items():
        mod = types.ModuleType(name, "conda-pip-guard's test stand-in for conda 25.11.1 (tests/support/conda_stub.py)")
        mod.__dict__.update(attrs)
        if "." not in name or name.count(".") < 3:
            mod.__path__ = []  # a package, so that submodules import
        sys.modules[name] = mod
    for name in modules:
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, sys.modules[name])
    return True


if __name__ == "__main__":  # python -m tests.support.conda_stub: whether the stand-in would be used
    print("stand-in" if install() else "real conda")
