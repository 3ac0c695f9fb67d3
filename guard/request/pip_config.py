"""The user's pip configuration, read the way pip reads it.

pip's defaults for ``pip install`` come from configuration files and ``PIP_*`` variables; the
simulation must see the same index URLs, find-links, constraints and flags as the real ``pip``
of the target environment, or it would judge a different install than the one about to happen.

This module reproduces ``pip._internal.configuration.Configuration`` and
``ConfigOptionParser._update_defaults`` (pip 23.2 and current main), without importing pip:

* Files, by variant, later variants overriding earlier ones for the same ``section.key``:
  GLOBAL (each ``$XDG_CONFIG_DIRS`` entry + ``/pip/pip.conf``, default ``/etc/xdg``, then
  ``/etc/pip.conf``), USER (``~/.pip/pip.conf``, then ``$XDG_CONFIG_HOME/pip/pip.conf``),
  BASE (``<sys.base_prefix>/pip.conf``; newer pip only, and the same file as SITE in a conda
  environment), SITE (``<sys.prefix>/pip.conf`` of the target environment), ENV
  (``$PIP_CONFIG_FILE``).
* ``PIP_CONFIG_FILE=/dev/null`` loads no file at all; an existing ``PIP_CONFIG_FILE`` or isolated
  mode skips the USER files; isolated mode also ignores ``PIP_*`` variables.
* Isolated mode is ``--isolated`` on the command line only: pip decides it from argv before the
  configuration is read, so ``PIP_ISOLATED`` does not isolate the configuration itself.
* After merging, values are applied section by section: every ``[global]`` value, then every
  ``[<command>]`` value, then the ``PIP_*`` variables. So ``[install]`` in ``/etc/pip.conf``
  beats ``[global]`` in the environment's own ``pip.conf``. Empty values are skipped (and an
  empty value in a later file hides the earlier one, as in pip).
* Option aliases (``default-timeout`` = ``timeout``) share one destination in pip; the one
  applied last wins, in pip's order. ``values`` is keyed by the canonical long name.

Reference: https://github.com/pypa/pip/blob/main/src/pip/_internal/configuration.py and
``src/pip/_internal/cli/parser.py`` (``_get_ordered_configuration_items``).
"""

from __future__ import annotations

import configparser
import locale
import os
from collections.abc import Mapping
from dataclasses import dataclass

from guard.errors import UsageError

CONFIG_BASENAME = "pip.conf"
# pip appends this to the XDG system dirs on every Unix (pip._internal.utils.appdirs).
SYSTEM_CONFIG_DIR = "/etc"

# PIP_VERSION / PIP_HELP are not configuration (pip's ENV_NAMES_IGNORED).
_ENV_NAMES_IGNORED = ("version", "help")

# Long option names that share a destination with another long name in pip's parser
# (src/pip/_internal/cli/cmdoptions.py); keyed alias -> canonical name.
OPTION_ALIASES = {
    "default-timeout": "timeout",
    "pypi-url": "index-url",
    "no-dependencies": "no-deps",
}

_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")


@dataclass(frozen=True)
class ConfigItem:
    """One value pip applies, in the order pip applies it."""

    key: str  # canonical long option name, e.g. "extra-index-url"
    value: str  # raw string as written
    section: str  # "global", the command name, or ":env:"
    source: str  # the file path, or the PIP_* variable name


@dataclass(frozen=True)
class PipConfig:
    """pip's configured defaults for one command.

    ``values`` maps a long option name to its raw string (the value pip would use);
    ``sources`` says where each of those came from (a file path or a ``PIP_*`` name);
    ``items`` lists every value in the order pip applies them (options with callbacks, such as
    ``only-binary``, accumulate over all of them rather than taking the last);
    ``files`` lists the files pip would try, as ``(variant, path, exists)``.
    """

    values: dict[str, str]
    sources: dict[str, str]
    items: tuple[ConfigItem, ...] = ()
    files: tuple[tuple[str, str, bool], ...] = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(OPTION_ALIASES.get(name, name), default)

    def get_list(self, name: str) -> list[str]:
        """An ``append`` option (``extra-index-url``, ``find-links``, ``trusted-host``,
        ``constraint``...): pip splits a configured value on whitespace."""
        value = self.get(name)
        return value.split() if value else []

    def get_bool(self, name: str, default: bool = False) -> bool:
        """A ``store_true`` option read with pip's ``strtobool``."""
        value = self.get(name)
        if value is None:
            return default
        return parse_bool(value, name)


def parse_bool(value: str, name: str) -> bool:
    """pip's ``strtobool`` with pip's complaint when the value is not a boolean."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise UsageError(
        f"{value if value.isprintable() else repr(value)} is not a valid value for {name} option, "
        "please specify a boolean value "
        "like yes/no, true/false or 1/0 instead."
    )


def _normalize_name(name: str) -> str:
    name = name.lower().replace("_", "-")
    if name.startswith("--"):
        name = name[2:]
    return name


def _expanduser(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    return path


def config_files(
    *, site_prefix: str, environ: Mapping[str, str], base_prefix: str | None = None
) -> list[tuple[str, str]]:
    """Every file pip would consider, as ``(variant, path)`` in override order (Unix paths).

    USER files are listed even where isolation or ``PIP_CONFIG_FILE`` would skip them; see
    :func:`load_pip_config` for which are read.
    """
    home = environ.get("HOME") or os.path.expanduser("~")

    xdg_dirs = environ.get("XDG_CONFIG_DIRS", "")
    if not xdg_dirs.strip():
        xdg_dirs = "/etc/xdg"
    global_dirs = [os.path.join(_expanduser(d, home), "pip") for d in xdg_dirs.split(os.pathsep)]
    global_dirs.append(SYSTEM_CONFIG_DIR)

    xdg_home = environ.get("XDG_CONFIG_HOME", "")
    if not xdg_home.strip():
        xdg_home = os.path.join(home, ".config")

    files = [("global", os.path.join(d, CONFIG_BASENAME)) for d in global_dirs]
    files.append(("user", os.path.join(home, ".pip", CONFIG_BASENAME)))
    files.append(("user", os.path.join(xdg_home, "pip", CONFIG_BASENAME)))
    if base_prefix is not None and os.path.normpath(base_prefix) != os.path.normpath(site_prefix):
        files.append(("base", os.path.join(base_prefix, CONFIG_BASENAME)))
    files.append(("site", os.path.join(site_prefix, CONFIG_BASENAME)))
    if "PIP_CONFIG_FILE" in environ:
        files.append(("env", environ["PIP_CONFIG_FILE"]))
    return files


def _read_file(path: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    if os.path.exists(path):
        encoding = locale.getpreferredencoding(False)
        try:
            parser.read(path, encoding=encoding)
        except UnicodeDecodeError:
            raise UsageError(f"pip configuration file {path} contains invalid {encoding} characters") from None
        except (configparser.Error, OSError) as err:
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UsageError(f"pip configuration file {path} cannot be read: {first_line}") from None
    return parser


def load_pip_config(
    *,
    site_prefix: str,
    environ: Mapping[str, str],
    isolated: bool = False,
    command: str = "install",
    base_prefix: str | None = None,
) -> PipConfig:
    """pip's configured defaults for ``pip <command>`` run from the environment at
    ``site_prefix`` (that environment's ``sys.prefix``), with ``environ`` as its environment.

    ``isolated`` is pip's ``--isolated`` flag. ``base_prefix`` is the environment's
    ``sys.base_prefix`` when it differs (a venv on top of a conda env): newer pip reads
    ``<base_prefix>/pip.conf`` between USER and SITE. Raises :class:`UsageError` for a config
    file pip could not read either. Reads files only; no network, no subprocess.
    """
    all_files = config_files(site_prefix=site_prefix, environ=environ, base_prefix=base_prefix)
    env_file = environ.get("PIP_CONFIG_FILE")
    skip_user = isolated or bool(env_file and os.path.exists(env_file))
    skip_all_files = env_file == os.devnull

    # section.key -> (value, source); one dict per variant as pip keeps them, then merged in
    # override order. A later variant replaces the value but keeps the key's first position,
    # exactly like pip's dict.update, which matters for aliases applied in iteration order.
    merged: dict[str, tuple[str, str]] = {}
    considered: list[tuple[str, str, bool]] = []
    order = ("global", "user", "base", "site", "env")
    for variant in order:
        for file_variant, path in all_files:
            if file_variant != variant:
                continue
            if skip_all_files or (variant == "user" and skip_user):
                continue
            exists = os.path.exists(path)
            considered.append((variant, path, exists))
            if not exists:
                continue
            parser = _read_file(path)
            for section in parser.sections():
                for name, value in parser.items(section):
                    merged[f"{section}.{_normalize_name(name)}"] = (value, path)

    if not isolated:
        for env_name, value in environ.items():
            if not env_name.startswith("PIP_"):
                continue
            name = env_name[4:].lower()
            if name in _ENV_NAMES_IGNORED:
                continue
            merged[f":env:.{_normalize_name(name)}"] = (value, env_name)

    by_section: dict[str, list[tuple[str, str, str]]] = {"global": [], command: [], ":env:": []}
    for section_key, (value, source) in merged.items():
        if not value:
            continue  # pip ignores empty values
        section, key = section_key.split(".", 1)
        if section in by_section:
            by_section[section].append((key, value, source))

    items: list[ConfigItem] = []
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for section in ("global", command, ":env:"):
        for key, value, source in by_section[section]:
            key = OPTION_ALIASES.get(key, key)
            items.append(ConfigItem(key=key, value=value, section=section, source=source))
            values[key] = value
            sources[key] = source
    return PipConfig(values=values, sources=sources, items=tuple(items), files=tuple(considered))
