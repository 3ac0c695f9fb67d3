"""Request stage: read a ``pip ...`` command line exactly as pip 26.x reads it.

``parse_pip_argv(argv)`` takes what follows ``pip`` and returns one of

* ``InstallRequest``   -- ``pip install ...``: every requirement (from the command line, ``-e``,
  ``-r`` files and nested files) and every constraint, plus the options that change what pip
  would install;
* ``UninstallRequest`` -- ``pip uninstall ...``;
* ``OtherCommand``     -- anything else (``list``, ``show``, ``download``, ``--version``, help, an
  unknown command): the caller hands it to pip untouched.

The only I/O is reading local requirement/constraint files (and ``os.path`` checks on local
requirement paths, which is how pip itself tells a path from a name). Remote requirement files
are never fetched: they are recorded in ``InstallRequest.unmodeled``, with every option that
changes the outcome in a way the simulation does not model (``OPTION_EFFECTS`` classifies each
option) and VCS requirements. Local directories, archives, editables and wheel URLs are left to
the simulation, which sees them in ``ReqItem.kind``/``path``/``editable``.

How the parsing follows pip (pip 26.3 source, ``src/pip/_internal/``):

* Options are parsed with the standard library's ``optparse``, as pip does, with the same option
  strings, actions, types and choices. So long-option abbreviations (``--upgr``), ``--opt=value``,
  clustered short options (``-qq``, ``-Ur req.txt``, ``-rreq.txt``), ``--`` and optparse's error
  messages ("no such option: --foo") are pip's (``cli/cmdoptions.py``, ``commands/install.py``).
* General options before the command are parsed first with interspersed arguments disabled; the
  first non-option is the command, and the command parser then re-reads the whole argv minus the
  first occurrence of the command name (``cli/main_parser.py``).
* ``config`` (pip configuration + ``PIP_*`` variables, already merged by the caller) supplies the
  option DEFAULTS, converted per option action as ``ConfigOptionParser._update_defaults`` does:
  booleans via strtobool (a ``store_false`` option such as ``no-build-isolation`` takes the
  converted value as is -- pip's quirk, ``no-build-isolation = yes`` keeps isolation ON),
  append options split on whitespace, callback options (``no-binary``, ``only-binary``...) run
  their callback. Command-line values are then parsed on top: for append options (``-c``,
  ``-f``, ``--extra-index-url``, ``--trusted-host``) the command line ADDS to the configured
  list, it does not replace it (``optparse`` appends to the default list).
  ``"--isolated" in argv`` makes pip skip user configuration and environment variables; use
  ``uses_isolated_config(argv)`` to decide what to pass as ``config``.
* Requirement files follow ``req/req_file.py``: BOM/PEP 263 decoding, ``\\`` line joining,
  comments (``#`` at line start or after whitespace only, so ``#egg=`` survives), ``${VAR}``
  expansion (upper-case names; unset or empty variables are left as written), the per-file and
  per-requirement options, ``-r``/``-c`` nested relative to the including file, and a loop
  (a file that includes one of its own ancestors) is an error.
* Requirement strings follow ``req/constructors.py``: a string is a local path only if it looks
  like one (contains ``/`` or starts with ``.``) and is a directory, or ends like an archive; a
  relative path INSIDE a requirements file is resolved against the current directory, not the
  file's directory (pip's rule; only nested ``-r``/``-c`` and ``-f`` paths are file-relative).
"""

from __future__ import annotations

import codecs
import dataclasses
import locale
import optparse
import os
import posixpath
import re
import shlex
import stat
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from guard.errors import RequirementsFileError, UsageError

__all__ = [
    "InstallRequest",
    "OPTION_EFFECTS",
    "OtherCommand",
    "ReqItem",
    "UninstallRequest",
    "parse_pip_argv",
    "uses_isolated_config",
]



# --------------------------------------------------------------------------------------------
# Data crossing the stage boundary
# --------------------------------------------------------------------------------------------


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
    def index_urls(self) -> tuple[str, ...]:
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


# --------------------------------------------------------------------------------------------
# Option definitions (pip 26.3). Each option is classified by its effect on what gets installed.
# --------------------------------------------------------------------------------------------

MODELED = "modeled"  # sets a field of the request
HARMLESS = "harmless"  # accepted; no effect on what gets installed
UNMODELED = "unmodeled"  # changes the outcome in ways the fast simulation does not model

#: pip 26.3 commands (``pip help`` lists them).
PIP_COMMANDS = frozenset(
    """install lock download uninstall freeze inspect list show check config search cache
    index wheel hash completion debug help""".split()
)

_VCS_NAMES = ("bzr", "git", "hg", "svn")
_VCS_SCHEMES = frozenset(
    "bzr+http bzr+https bzr+ssh bzr+sftp bzr+ftp bzr+lp bzr+file "
    "git+http git+https git+ssh git+git git+file "
    "hg+file hg+http hg+https hg+ssh hg+static-http "
    "svn+ssh svn+http svn+https svn+svn svn+file".split()
)
_STRONG_HASHES = ("sha256", "sha384", "sha512")
_ALWAYS_ENABLED_FEATURES = ("truststore", "no-binary-enable-wheel-cache", "build-constraint")
_FEATURES = ("fast-deps", "inprocess-build-deps", "venv-isolation", *_ALWAYS_ENABLED_FEATURES)
_DEPRECATED_FEATURES = ("legacy-resolver", "legacy-certs")


class _HelpRequested(Exception):
    """``-h``/``--help`` was met: pip prints help and exits, nothing is installed."""


class _Option(optparse.Option):
    """optparse option with pip's extra ``path`` type (``~`` expanded)."""

    TYPES = (*optparse.Option.TYPES, "path")
    TYPE_CHECKER = dict(optparse.Option.TYPE_CHECKER)
    TYPE_CHECKER["path"] = lambda option, opt, value: os.path.expanduser(value)


class _Parser(optparse.OptionParser):
    """An optparse parser whose errors are ``UsageError`` (pip prints the same text, exit 2)."""

    def __init__(self, *, interspersed: bool = True) -> None:
        super().__init__(add_help_option=False, usage=optparse.SUPPRESS_USAGE, prog="pip")
        if not interspersed:
            self.disable_interspersed_args()

    def error(self, msg: str) -> NoReturn:
        raise UsageError(msg) from None

    def exit(self, status: int = 0, msg: str | None = None) -> NoReturn:
        raise UsageError((msg or "pip exited").strip())


def _update_selection(value: str, target: set[str], other: set[str], what: str) -> None:
    """pip's ``handle_mutual_excludes`` for ``--no-binary``/``--only-binary`` and
    ``--all-releases``/``--only-final``: comma-separated names, ``:all:`` and ``:none:``; a name
    added to one set leaves the other."""
    if value.startswith("-"):
        raise UsageError(f"{what} option requires 1 argument.")
    new = value.split(",")
    while ":all:" in new:
        other.clear()
        target.clear()
        target.add(":all:")
        del new[: new.index(":all:") + 1]
        if ":none:" not in new:  # without a :none:, :all: covers everything after it
            return
    for name in new:
        if name == ":none:":
            target.clear()
            continue
        name = canonicalize_name(name)
        other.discard(name)
        target.add(name)


class _FormatControl:
    """pip's ``FormatControl`` (``models/format_control.py``)."""

    def __init__(self) -> None:
        self.no_binary: set[str] = set()
        self.only_binary: set[str] = set()


class _ReleaseControl:
    """pip's ``ReleaseControl`` (``models/release_control.py``)."""

    def __init__(self) -> None:
        self.all_releases: set[str] = set()
        self.only_final: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.all_releases or self.only_final)


def _cb_no_binary(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    fc = parser.values.format_control
    _update_selection(value, fc.no_binary, fc.only_binary, "--no-binary / --only-binary")


def _cb_only_binary(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    fc = parser.values.format_control
    _update_selection(value, fc.only_binary, fc.no_binary, "--no-binary / --only-binary")


def _cb_all_releases(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    rc = parser.values.release_control
    _update_selection(value, rc.all_releases, rc.only_final, "--all-releases / --only-final")


def _cb_only_final(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    rc = parser.values.release_control
    _update_selection(value, rc.only_final, rc.all_releases, "--all-releases / --only-final")


def _cb_help(option: optparse.Option, opt: str, value: Any, parser: Any) -> None:
    raise _HelpRequested


def _option_error(parser: Any, option: optparse.Option, msg: str) -> NoReturn:
    parser.error(" ".join(f"{option} error: {msg}".split()))


def _cb_config_settings(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    key, sep, val = value.partition("=")
    if sep != "=":
        parser.error(f"Arguments to {opt} must be of the form KEY=VAL")
    dest = getattr(parser.values, option.dest) or {}
    setattr(parser.values, option.dest, dest)
    dest.setdefault(key, []).append(val)


def _cb_hash(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    algo, sep, digest = value.partition(":")
    if not sep:
        parser.error(
            f"Arguments to {opt} must be a hash name followed by a value, "
            "like --hash=sha256:abcde..."
        )
    if algo not in _STRONG_HASHES:
        parser.error(f"Allowed hash algorithms for {opt} are {', '.join(_STRONG_HASHES)}.")
    if not parser.values.hashes:
        parser.values.hashes = []
    parser.values.hashes.append(f"{algo}:{digest}")


def _cb_python_version(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    parts = value.split(".") if value else []
    error = None
    if len(parts) > 3:
        error = "at most three version parts are allowed"
    elif len(parts) == 1 and len(parts[0]) > 1:
        parts = [parts[0][0], parts[0][1:]]
    if error is None and not all(p.isdigit() and p.isascii() for p in parts):
        error = "each version part must be an integer"
    if error is not None:
        _option_error(parser, option, f"invalid --python-version value: {value!r}: {error}")
    parser.values.python_version = value or None


def _cb_no_cache_dir(option: optparse.Option, opt: str, value: Any, parser: Any) -> None:
    if value is not None:  # only from configuration: validated, then the cache is off anyway
        try:
            _strtobool(value)
        except ValueError as exc:
            _option_error(parser, option, str(exc))
    parser.values.cache_dir = False


def _cb_src(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    parser.values.src_dir = value


def _cb_refresh_package(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    if value.startswith("-"):
        raise UsageError("--refresh-package option requires 1 argument.")


def _cb_group(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    path, sep, group = value.rpartition(":")
    if not sep:
        path = "pyproject.toml"
    elif posixpath.basename(path.replace(os.sep, "/")) != "pyproject.toml":
        filename, _ = _strip_extras_text(path)
        if _is_remote_or_file_url(filename) or not _is_pylock_name(filename):
            _option_error(parser, option, "group paths use local 'pyproject.toml' or 'pylock.toml' files")
    parser.values.dependency_groups.append((path, group))


def _cb_uploaded_prior_to(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    if re.match(r"^P(\d+)D$", value, re.ASCII):
        parser.values.uploaded_prior_to = value
        return
    try:  # Python < 3.11 needs the "Z" spelled as an offset, as pip does there
        iso = value.replace("Z", "+00:00") if value.endswith("Z") and ("T" in value or " " in value) else value
        datetime.fromisoformat(iso)
    except ValueError as exc:
        _option_error(
            parser,
            option,
            f"invalid value: {value!r}: {exc}. Expected an ISO 8601 datetime string "
            "(e.g., '2023-01-01' or '2023-01-01T00:00:00Z') or a duration in days (e.g., 'P3D')",
        )
    parser.values.uploaded_prior_to = value


@dataclass(frozen=True)
class _Spec:
    flags: tuple[str, ...]
    effect: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def make(self) -> optparse.Option:
        kwargs = dict(self.kwargs)
        # fresh mutable defaults on every build: optparse would otherwise share them
        if isinstance(kwargs.get("default"), list):
            kwargs["default"] = []
        if kwargs.get("dest") == "format_control":
            kwargs["default"] = _FormatControl()
        if kwargs.get("dest") == "release_control":
            kwargs["default"] = _ReleaseControl()
        return _Option(*self.flags, **kwargs)


def _flag(*flags: str, dest: str, effect: str, false: bool = False, default: Any = False) -> _Spec:
    action = "store_false" if false else "store_true"
    return _Spec(flags, effect, {"dest": dest, "action": action, "default": default})


def _value(*flags: str, dest: str, effect: str, **kw: Any) -> _Spec:
    return _Spec(flags, effect, {"dest": dest, "default": None, **kw})


def _append(*flags: str, dest: str, effect: str, **kw: Any) -> _Spec:
    return _Spec(flags, effect, {"dest": dest, "action": "append", "default": [], **kw})


def _callback(*flags: str, dest: str, effect: str, cb: Callable[..., None], **kw: Any) -> _Spec:
    return _Spec(flags, effect, {"dest": dest, "action": "callback", "callback": cb, **kw})


_OPTIONS = {  # every option pip 26.3's install/uninstall parsers know, by pip's primary long name
    # general options (all commands)
    "help": _callback("-h", "--help", dest="help", effect=HARMLESS, cb=_cb_help),
    "debug": _flag("--debug", dest="debug_mode", effect=HARMLESS),
    "isolated": _flag("--isolated", dest="isolated_mode", effect=MODELED),
    "require-virtualenv": _flag(
        "--require-virtualenv", "--require-venv", dest="require_venv", effect=HARMLESS
    ),
    "python": _value("--python", dest="python", effect=UNMODELED),
    "verbose": _Spec(("-v", "--verbose"), HARMLESS, {"dest": "verbose", "action": "count", "default": 0}),
    "quiet": _Spec(("-q", "--quiet"), HARMLESS, {"dest": "quiet", "action": "count", "default": 0}),
    "log": _value("--log", "--log-file", "--local-log", dest="log", effect=HARMLESS, type="path"),
    "no-input": _flag("--no-input", dest="no_input", effect=HARMLESS),
    "keyring-provider": _value(
        "--keyring-provider",
        dest="keyring_provider",
        effect=HARMLESS,
        choices=["auto", "disabled", "import", "subprocess"],
    ),
    "proxy": _value("--proxy", dest="proxy", effect=MODELED, type="str"),
    "no-proxy-env": _flag("--no-proxy-env", dest="no_proxy_env", effect=HARMLESS),
    "retries": _value("--retries", dest="retries", effect=MODELED, type="int"),
    "timeout": _value("--timeout", "--default-timeout", dest="timeout", effect=MODELED, type="float"),
    "exists-action": _append(
        "--exists-action", dest="exists_action", effect=HARMLESS, type="choice",
        choices=["s", "i", "w", "b", "a"],
    ),
    "trusted-host": _append("--trusted-host", dest="trusted_hosts", effect=MODELED),
    "cert": _value("--cert", dest="cert", effect=MODELED, type="path"),
    "client-cert": _value("--client-cert", dest="client_cert", effect=MODELED, type="path"),
    "cache-dir": _value("--cache-dir", dest="cache_dir", effect=HARMLESS, type="path"),
    "no-cache-dir": _callback("--no-cache-dir", dest="cache_dir", effect=HARMLESS, cb=_cb_no_cache_dir),
    "disable-pip-version-check": _flag(
        "--disable-pip-version-check", dest="disable_pip_version_check", effect=HARMLESS
    ),
    "no-color": _flag("--no-color", dest="no_color", effect=HARMLESS),
    "no-python-version-warning": _flag(
        "--no-python-version-warning", dest="no_python_version_warning", effect=HARMLESS
    ),
    # values decide: always-enabled features are harmless, the others are unmodeled
    "use-feature": _append(
        "--use-feature", dest="features_enabled", effect=UNMODELED, type="choice", choices=list(_FEATURES)
    ),
    "use-deprecated": _append(
        "--use-deprecated", dest="deprecated_features_enabled", effect=UNMODELED, type="choice",
        choices=list(_DEPRECATED_FEATURES),
    ),
    "resume-retries": _value("--resume-retries", dest="resume_retries", effect=HARMLESS, type="int"),
    # install: command options
    "requirement": _append("-r", "--requirement", dest="requirements", effect=MODELED),
    "constraint": _append("-c", "--constraint", dest="constraints", effect=MODELED),
    "build-constraint": _append("--build-constraint", dest="build_constraints", effect=HARMLESS),
    "requirements-from-script": _append(
        "--requirements-from-script", dest="requirements_from_scripts", effect=UNMODELED
    ),
    "no-deps": _flag("--no-deps", "--no-dependencies", dest="ignore_dependencies", effect=MODELED),
    "only-deps": _flag("--only-deps", "--only-dependencies", dest="only_dependencies", effect=UNMODELED),
    "editable": _append("-e", "--editable", dest="editables", effect=MODELED),
    "dry-run": _flag("--dry-run", dest="dry_run", effect=MODELED),
    "target": _value("-t", "--target", dest="target_dir", effect=MODELED),
    "platform": _value("--platform", dest="platforms", effect=UNMODELED, action="append"),
    "python-version": _callback(
        "--python-version", dest="python_version", effect=UNMODELED, cb=_cb_python_version,
        type="str", default=None,
    ),
    "implementation": _value("--implementation", dest="implementation", effect=UNMODELED),
    "abi": _value("--abi", dest="abis", effect=UNMODELED, action="append"),
    "user": _flag("--user", dest="use_user_site", effect=MODELED, default=None),
    "no-user": _flag("--no-user", dest="use_user_site", effect=MODELED, false=True, default=None),
    "root": _value("--root", dest="root_path", effect=MODELED),
    "prefix": _value("--prefix", dest="prefix_path", effect=MODELED),
    "src": _callback(
        "--src", "--source", "--source-dir", "--source-directory", dest="src_dir",
        effect=HARMLESS, cb=_cb_src, type="path",
    ),
    "upgrade": _flag("-U", "--upgrade", dest="upgrade", effect=MODELED),
    "upgrade-strategy": _value(
        "--upgrade-strategy", dest="upgrade_strategy", effect=MODELED,
        choices=["only-if-needed", "eager"], default="only-if-needed",
    ),
    "force-reinstall": _flag("--force-reinstall", dest="force_reinstall", effect=MODELED),
    "ignore-installed": _flag("-I", "--ignore-installed", dest="ignore_installed", effect=MODELED),
    "ignore-requires-python": _flag(
        "--ignore-requires-python", dest="ignore_requires_python", effect=MODELED
    ),
    "no-build-isolation": _flag(
        "--no-build-isolation", dest="build_isolation", effect=UNMODELED, false=True, default=True
    ),
    "use-pep517": _flag("--use-pep517", dest="use_pep517", effect=HARMLESS, default=True),
    "check-build-dependencies": _flag(
        "--check-build-dependencies", dest="check_build_deps", effect=HARMLESS
    ),
    "break-system-packages": _flag(
        "--break-system-packages", dest="override_externally_managed", effect=HARMLESS
    ),
    "config-settings": _callback(
        "-C", "--config-settings", dest="config_settings", effect=UNMODELED, cb=_cb_config_settings,
        type="str", default=None,
    ),
    "compile": _flag("--compile", dest="compile", effect=HARMLESS, default=True),
    "no-compile": _flag("--no-compile", dest="compile", effect=HARMLESS, false=True, default=True),
    "no-warn-script-location": _flag(
        "--no-warn-script-location", dest="warn_script_location", effect=HARMLESS, false=True,
        default=True,
    ),
    "no-warn-conflicts": _flag(
        "--no-warn-conflicts", dest="warn_about_conflicts", effect=HARMLESS, false=True, default=True
    ),
    "require-hashes": _flag("--require-hashes", dest="require_hashes", effect=MODELED),
    "no-require-hashes": _flag("--no-require-hashes", dest="no_require_hashes", effect=MODELED),
    "progress-bar": _value(
        "--progress-bar", dest="progress_bar", effect=HARMLESS, type="choice",
        choices=["auto", "on", "off", "raw"], default="auto",
    ),
    "root-user-action": _value(
        "--root-user-action", dest="root_user_action", effect=HARMLESS, choices=["warn", "ignore"],
        default="warn",
    ),
    "report": _value("--report", dest="json_report_file", effect=HARMLESS),
    "group": _callback(
        "--group", dest="dependency_groups", effect=UNMODELED, cb=_cb_group, type="str", default=[]
    ),
    "no-clean": _flag("--no-clean", dest="no_clean", effect=HARMLESS),
    # install: package selection
    "pre": _flag("--pre", dest="pre", effect=MODELED),
    "all-releases": _callback(
        "--all-releases", dest="release_control", effect=MODELED, cb=_cb_all_releases, type="str"
    ),
    "only-final": _callback(
        "--only-final", dest="release_control", effect=MODELED, cb=_cb_only_final, type="str"
    ),
    "no-binary": _callback("--no-binary", dest="format_control", effect=MODELED, cb=_cb_no_binary, type="str"),
    "only-binary": _callback(
        "--only-binary", dest="format_control", effect=MODELED, cb=_cb_only_binary, type="str"
    ),
    "prefer-binary": _flag("--prefer-binary", dest="prefer_binary", effect=MODELED),
    # install: package index
    "index-url": _value("-i", "--index-url", "--pypi-url", dest="index_url", effect=MODELED),
    "extra-index-url": _append("--extra-index-url", dest="extra_index_urls", effect=MODELED),
    "no-index": _flag("--no-index", dest="no_index", effect=MODELED),
    "refresh-package": _callback(
        "--refresh-package", dest="refresh_package", effect=HARMLESS, cb=_cb_refresh_package, type="str"
    ),
    "find-links": _append("-f", "--find-links", dest="find_links", effect=MODELED),
    "uploaded-prior-to": _callback(
        "--uploaded-prior-to", dest="uploaded_prior_to", effect=UNMODELED, cb=_cb_uploaded_prior_to,
        type="str", default=None,
    ),
    # uninstall
    "yes": _flag("-y", "--yes", dest="yes", effect=MODELED),
    # requirement files only
    "hash": _callback("--hash", dest="hashes", effect=MODELED, cb=_cb_hash, type="string", default=None),
    "version": _flag("-V", "--version", dest="version", effect=HARMLESS, default=None),
}

_GENERAL = (
    "help debug isolated require-virtualenv python verbose quiet log no-input keyring-provider "
    "proxy no-proxy-env retries timeout exists-action trusted-host cert client-cert cache-dir "
    "no-cache-dir disable-pip-version-check no-color no-python-version-warning use-feature "
    "use-deprecated resume-retries"
).split()
_INSTALL = (
    "requirement constraint build-constraint requirements-from-script no-deps only-deps editable "
    "dry-run target platform python-version implementation abi user no-user root prefix src "
    "upgrade upgrade-strategy force-reinstall ignore-installed ignore-requires-python "
    "no-build-isolation use-pep517 check-build-dependencies break-system-packages "
    "config-settings compile no-compile no-warn-script-location no-warn-conflicts require-hashes "
    "no-require-hashes progress-bar root-user-action report group no-clean pre all-releases "
    "only-final no-binary only-binary prefer-binary index-url extra-index-url no-index "
    "refresh-package find-links uploaded-prior-to"
).split() + _GENERAL
_UNINSTALL = "requirement yes root-user-action break-system-packages".split() + _GENERAL
_MAIN = ["version", *_GENERAL]
_REQ_FILE = (
    "index-url extra-index-url no-index constraint requirement editable find-links no-binary "
    "only-binary prefer-binary require-hashes no-require-hashes pre all-releases only-final "
    "trusted-host use-feature hash config-settings"
).split()

#: How each option of ``pip install``/``pip uninstall`` is treated, by every option string
#: (``"--upgrade"``, ``"-U"``...): ``"modeled"`` (sets a request field), ``"harmless"`` (no
#: effect on what gets installed) or ``"unmodeled"`` (recorded in ``unmodeled``).
#: ``--use-feature``/``--use-deprecated`` are unmodeled except for harmless values.
OPTION_EFFECTS: Mapping[str, str] = {
    flag: spec.effect for key, spec in _OPTIONS.items() if key in _INSTALL or key in _UNINSTALL for flag in spec.flags
}


def _build_parser(keys: Sequence[str], *, interspersed: bool = True) -> _Parser:
    parser = _Parser(interspersed=interspersed)
    for key in keys:
        parser.add_option(_OPTIONS[key].make())
    return parser


def _strtobool(val: str) -> int:
    val = val.lower()
    if val in ("y", "yes", "t", "true", "on", "1"):
        return 1
    if val in ("n", "no", "f", "false", "off", "0"):
        return 0
    raise ValueError(f"invalid truth value {val!r}")


def _defaults_with_config(parser: _Parser, config: Mapping[str, str]) -> optparse.Values:
    """pip's ``ConfigOptionParser.get_default_values``: configuration values become defaults."""
    defaults = dict(parser.defaults)
    parser.values = optparse.Values(parser.defaults)  # what callbacks mutate, as in pip
    late: set[str] = set()
    for key, raw in config.items():
        if not raw:  # pip drops empty values
            continue
        option = parser.get_option("--" + key)  # exact long name: no abbreviation here
        if option is None or option.dest == "help":  # not an option of this command: ignored
            continue
        dest = option.dest
        val: Any = raw
        shown = raw if raw.isprintable() else repr(raw)  # "0\n" from a file or PIP_*: one line
        try:
            if option.action in ("store_true", "store_false"):
                try:
                    val = _strtobool(raw)
                except ValueError:
                    raise UsageError(
                        f"{shown} is not a valid value for {key} option, please specify a boolean "
                        "value like yes/no, true/false or 1/0 instead."
                    ) from None
            elif option.action == "count":
                try:
                    val = _strtobool(raw)
                except ValueError:
                    try:
                        val = int(raw)
                    except ValueError:
                        val = None
                if not isinstance(val, int) or val < 0:
                    raise UsageError(
                        f"{shown} is not a valid value for {key} option, please instead specify "
                        "either a non-negative integer or a boolean value like yes/no or "
                        "false/true which is equivalent to 1/0."
                    )
            elif option.action == "append":
                val = [option.check_value(key, v) for v in raw.split()]
            elif option.action == "callback":
                late.add(dest)
                opt_str = option.get_opt_string()
                val = option.convert_value(opt_str, raw)
                option.callback(option, opt_str, val, parser)
            else:
                val = option.check_value(key, raw)
        except optparse.OptionValueError as exc:
            raise UsageError(f"An error occurred during configuration: {exc}") from None
        defaults[dest] = val
    for dest in late:
        defaults[dest] = getattr(parser.values, dest)
    parser.values = None
    return optparse.Values(defaults)


def _parse_with_config(
    parser: _Parser, args: Sequence[str], config: Mapping[str, str]
) -> tuple[optparse.Values, list[str]]:
    values = _defaults_with_config(parser, config)
    return parser.parse_args(list(args), values)


def uses_isolated_config(argv: Sequence[str]) -> bool:
    """Whether pip runs this command line in isolated mode, ignoring user configuration and
    ``PIP_*`` variables: pip checks for the exact string ``--isolated`` (no abbreviation)."""
    return "--isolated" in argv


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def parse_pip_argv(
    argv: Sequence[str],
    *,
    config: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> InstallRequest | UninstallRequest | OtherCommand:
    """Read ``pip ARGV`` the way pip 26.x does.

    ``config`` maps pip long option names to raw configuration strings (files and ``PIP_*``
    variables already merged); they become option defaults. ``environ`` is used only for
    ``${VAR}`` in requirement files (default: ``os.environ``). ``cwd`` is the directory pip would
    run in (default: the current one).

    Raises ``UsageError`` for a command line pip would reject (unknown option, missing value,
    bad choice, invalid requirement, conflicting options) and ``RequirementsFileError`` for a
    requirement/constraint file pip cannot open or parse; messages are one line.
    """
    argv = tuple(argv)
    config = dict(config or {})
    environ = os.environ if environ is None else environ
    cwd = os.path.abspath(cwd or os.getcwd())

    main = _build_parser(_MAIN, interspersed=False)
    try:
        general, rest = _parse_with_config(main, argv, config)
    except _HelpRequested:
        return OtherCommand(argv, None)
    if general.version or not rest:
        return OtherCommand(argv, None)
    command = rest[0]
    if command not in ("install", "uninstall"):
        return OtherCommand(argv, command)  # other commands, ``help``, unknown names: pip's job

    cmd_args = list(argv)
    cmd_args.remove(command)  # the FIRST occurrence, as pip does
    unmodeled: list[str] = []
    if general.python:
        unmodeled.append(f"option --python {general.python} (pip runs in another interpreter)")
    parser = _build_parser(_INSTALL if command == "install" else _UNINSTALL)
    try:
        options, args = _parse_with_config(parser, cmd_args, config)
    except _HelpRequested:
        return OtherCommand(argv, command)
    if options.python and not general.python:
        raise UsageError("The --python option must be placed before the pip subcommand name")
    _note_features(options, unmodeled)

    reader = _Reader(cwd=cwd, environ=environ)
    if command == "uninstall":
        return _uninstall_request(argv, options, args, reader, unmodeled)
    return _install_request(argv, options, args, reader, unmodeled)


def _note_features(options: optparse.Values, unmodeled: list[str]) -> None:
    for feature in options.features_enabled:
        if feature not in _ALWAYS_ENABLED_FEATURES:
            unmodeled.append(f"option --use-feature={feature}")
    for feature in options.deprecated_features_enabled:
        if feature != "legacy-certs":
            unmodeled.append(f"option --use-deprecated={feature}")


# --------------------------------------------------------------------------------------------
# install / uninstall
# --------------------------------------------------------------------------------------------


@dataclass
class _Scope:
    """The state pip's PackageFinder and options reach while requirement files are read."""

    index_url: str | None
    extra_index_urls: list[str]
    no_index: bool
    find_links: list[str]
    format_control: _FormatControl
    release_control: _ReleaseControl
    prefer_binary: bool
    trusted_hosts: list[str]
    require_hashes: bool
    no_require_hashes: bool
    features: list[str]


def _install_request(
    argv: tuple[str, ...],
    options: optparse.Values,
    args: list[str],
    reader: _Reader,
    unmodeled: list[str],
) -> InstallRequest:
    cwd = reader.cwd
    if options.use_user_site and options.target_dir is not None:
        raise UsageError("Can not combine '--user' and '--target'")
    _check_only_deps(options)
    if options.build_constraints:
        if not options.build_isolation:
            raise UsageError("--build-constraint cannot be used with --no-build-isolation.")
        for path in options.build_constraints:
            reader.check_readable(path)
    _check_dist_restriction(options)
    release_control: _ReleaseControl = options.release_control
    if options.pre:
        if release_control:
            raise UsageError("--pre cannot be used with --all-releases or --only-final.")
        release_control.all_releases.add(":all:")
    if options.use_user_site and options.prefix_path:
        raise UsageError(
            "Can not combine '--user' and '--prefix' as they imply different installation locations"
        )

    for key, reason in (
        ("only_dependencies", "option --only-deps (installs only the dependencies)"),
        ("requirements_from_scripts", "option --requirements-from-script (PEP 723 script metadata)"),
        ("dependency_groups", "option --group (dependency groups)"),
        ("config_settings", "option --config-settings (build backend settings)"),
        ("uploaded_prior_to", "option --uploaded-prior-to (index filtered by upload time)"),
        ("python_version", "option --python-version (another target interpreter)"),
        ("platforms", "option --platform (another target platform)"),
        ("abis", "option --abi (another target ABI)"),
        ("implementation", "option --implementation (another target implementation)"),
    ):
        if getattr(options, key):
            unmodeled.append(reason)
    if not options.build_isolation:
        unmodeled.append("option --no-build-isolation (builds see the environment)")

    scope = _Scope(
        index_url=options.index_url,
        extra_index_urls=list(options.extra_index_urls),
        no_index=bool(options.no_index),
        find_links=[_local_or_url(v, cwd) for v in options.find_links],
        format_control=options.format_control,
        release_control=release_control,
        prefer_binary=bool(options.prefer_binary),
        trusted_hosts=list(options.trusted_hosts),
        require_hashes=bool(options.require_hashes),
        no_require_hashes=bool(options.no_require_hashes),
        features=list(options.features_enabled),
    )
    reader.scope = scope
    reader.unmodeled = unmodeled

    # pip's order: constraint files, arguments, -e, requirement files. A -r nested in a
    # constraints file adds real requirements (not user-supplied); a -c nested in a requirements
    # file adds constraints.
    constraints: list[ReqItem] = []
    requirements: list[ReqItem] = []
    for filename in options.constraints:
        for item, is_constraint in reader.read_top(filename, constraint=True, user_supplied=False):
            (constraints if is_constraint else requirements).append(item)
    for text in args:
        if text.strip():
            requirements.append(_line_item(text, "command line", cwd, line_source=None))
    for text in options.editables:
        requirements.append(_editable_item(text, "command line", cwd))
    for filename in options.requirements:
        without_extras, _ = _strip_extras_text(filename)
        if _is_pylock_name(without_extras):
            unmodeled.append(f"pylock.toml requirements source {filename}")
            continue
        for item, is_constraint in reader.read_top(filename, constraint=False, user_supplied=True):
            (constraints if is_constraint else requirements).append(item)

    for feature in scope.features[len(options.features_enabled):]:
        if feature not in _ALWAYS_ENABLED_FEATURES:
            unmodeled.append(f"option --use-feature={feature}")
    for item in (*constraints, *requirements):
        unmodeled.extend(_item_unmodeled(item))

    if scope.require_hashes and scope.no_require_hashes:
        raise UsageError("--require-hashes and --no-require-hashes are mutually exclusive")
    require_hashes = scope.require_hashes or (
        not scope.no_require_hashes and any(i.hashes for i in (*constraints, *requirements))
    )
    if not (
        args
        or options.editables
        or options.requirements
        or options.dependency_groups
        or options.requirements_from_scripts
    ):
        if options.find_links:
            raise UsageError(
                "You must give at least one requirement to install "
                f'(maybe you meant "pip install {" ".join(options.find_links)}"?)'
            )
        raise UsageError('You must give at least one requirement to install (see "pip help install")')

    rc = scope.release_control
    if (rc.all_releases - {":all:"}) or rc.only_final:
        unmodeled.append("per-project pre-release control (--all-releases/--only-final)")

    def absolute(path: str | None) -> str | None:
        return None if path is None else os.path.normpath(os.path.join(cwd, path))

    return InstallRequest(
        argv=argv,
        requirements=tuple(requirements),
        constraints=tuple(constraints),
        upgrade=bool(options.upgrade),
        upgrade_strategy=options.upgrade_strategy,
        force_reinstall=bool(options.force_reinstall),
        ignore_installed=bool(options.ignore_installed),
        no_deps=bool(options.ignore_dependencies),
        pre=":all:" in rc.all_releases,
        index_url=scope.index_url,
        extra_index_urls=tuple(scope.extra_index_urls),
        no_index=scope.no_index,
        find_links=tuple(scope.find_links),
        only_binary=frozenset(scope.format_control.only_binary),
        no_binary=frozenset(scope.format_control.no_binary),
        prefer_binary=scope.prefer_binary,
        ignore_requires_python=bool(options.ignore_requires_python),
        require_hashes=require_hashes,
        user=bool(options.use_user_site),
        target=absolute(options.target_dir),
        prefix=absolute(options.prefix_path),
        root=absolute(options.root_path),
        dry_run=bool(options.dry_run),
        isolated=bool(options.isolated_mode),
        python_version=options.python_version,
        platforms=tuple(options.platforms or ()),
        abis=tuple(options.abis or ()),
        implementation=options.implementation,
        cert=options.cert,
        client_cert=options.client_cert,
        trusted_hosts=tuple(scope.trusted_hosts),
        proxy=options.proxy,
        timeout=options.timeout,
        retries=options.retries,
        unmodeled=tuple(dict.fromkeys(unmodeled)),
        files_read=tuple(dict.fromkeys(reader.files_read)),
        all_releases=frozenset(rc.all_releases),
        only_final=frozenset(rc.only_final),
    )


def _check_only_deps(options: optparse.Values) -> None:
    if not options.only_dependencies:
        return
    conflicts = []
    if options.ignore_dependencies:
        conflicts.append("'--no-deps'")
    if "legacy-resolver" in options.deprecated_features_enabled:
        conflicts.append("'--use-deprecated legacy-resolver'")
    if options.requirements:
        conflicts.append("'--requirement'")
    if options.requirements_from_scripts:
        conflicts.append("'--requirements-from-script'")
    if options.dependency_groups:
        conflicts.append("'--group'")
    if conflicts:
        if len(conflicts) > 1:
            conflicts[-1] = "or " + conflicts[-1]
        raise UsageError(f"Cannot use '--only-dependencies' in combination with {', '.join(conflicts)}.")


def _check_dist_restriction(options: optparse.Values) -> None:
    restricted = any([options.python_version, options.platforms, options.abis, options.implementation])
    if not restricted:
        return
    fc: _FormatControl = options.format_control
    binary_only = fc.no_binary == set() and fc.only_binary == {":all:"}
    if not binary_only and not options.ignore_dependencies:
        raise UsageError(
            "When restricting platform and interpreter constraints using --python-version, "
            "--platform, --abi, or --implementation, either --no-deps must be set, or "
            "--only-binary=:all: must be set and --no-binary must not be set (or must be set to "
            ":none:)."
        )
    if not options.dry_run and not options.target_dir:
        raise UsageError(
            "Can not use any platform or abi specific options unless installing via '--target' "
            "or using '--dry-run'"
        )


def _uninstall_request(
    argv: tuple[str, ...],
    options: optparse.Values,
    args: list[str],
    reader: _Reader,
    unmodeled: list[str],
) -> UninstallRequest:
    by_name: dict[str, ReqItem] = {}
    for text in args:
        item = _line_item(text, "command line", reader.cwd, line_source=None)
        if item.name:  # pip warns and ignores unnamed ones
            by_name[item.name] = item
    for filename in options.requirements:
        # pip reads these files without a finder; constraint lines (from nested -c) count too
        for item, _ in reader.read_top(filename, constraint=False, user_supplied=True):
            if item.name:
                by_name[item.name] = item
    if not by_name:
        raise UsageError('You must give at least one requirement to uninstall (see "pip help uninstall")')
    return UninstallRequest(
        argv=argv,
        requirements=tuple(by_name.values()),
        yes=bool(options.yes),
        unmodeled=tuple(dict.fromkeys(unmodeled)),
        files_read=tuple(dict.fromkeys(reader.files_read)),
    )


# --------------------------------------------------------------------------------------------
# Requirement and constraint files (req/req_file.py)
# --------------------------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"^(http|https|file):", re.I)
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_ENV_VAR_RE = re.compile(r"(?P<var>\$\{(?P<name>[A-Z0-9_]+)\})")
_PEP263_RE = re.compile(rb"coding[:=]\s*([-\w.]+)")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)


#: Requirement and constraint files larger than this are refused (a real one with hashes for
#: hundreds of projects is well under 1 MB; pip itself has no limit and reads ``-r /dev/zero``
#: until memory runs out).
MAX_REQUIREMENTS_FILE_BYTES = 16 * 1024 * 1024


class _Reader:
    """Reads requirement files the way ``RequirementsFileParser`` + ``handle_line`` do."""

    def __init__(self, *, cwd: str, environ: Mapping[str, str]) -> None:
        self.cwd = cwd
        self.environ = environ
        self.scope: _Scope | None = None  # None: no finder (uninstall), option lines do nothing
        self.unmodeled: list[str] = []
        self.files_read: list[str] = []

    def check_readable(self, filename: str) -> None:
        if not _SCHEME_RE.search(filename):
            self._content(filename, filename, constraint=False)

    def read_top(self, filename: str, *, constraint: bool, user_supplied: bool) -> list[tuple[ReqItem, bool]]:
        """Items of one top-level file and its nested files, each with whether it is a
        constraint. ``user_supplied`` is pip's flag for the whole tree (False under ``-c``)."""
        items: list[tuple[ReqItem, bool]] = []
        absolute = os.path.normpath(os.path.join(self.cwd, filename))
        self._read(filename, filename, constraint, {absolute: None}, items, user_supplied)
        return items

    def _read(
        self,
        filename: str,
        shown: str,
        constraint: bool,
        ancestors: dict[str, str | None],
        items: list[tuple[ReqItem, bool]],
        user_supplied: bool,
    ) -> None:
        """``filename``: as pip names it (nested ones absolute); ``shown``: as the user would
        write it (relative to the top file as given), for ``ReqItem.origin``."""
        if filename.lower().startswith(("http:", "https:")):
            self.unmodeled.append(f"remote requirements file {filename}")
            return
        content = self._content(filename, shown, constraint=constraint)
        for lineno, line in _logical_lines(content, self.environ):
            origin = f"{shown}:{lineno}"
            args_str, opts = _parse_file_line(line, origin, self.scope)
            if not args_str and not opts.editables and (opts.requirements or opts.constraints):
                nested, nested_constraint = (
                    (opts.requirements[0], False) if opts.requirements else (opts.constraints[0], True)
                )
                if _SCHEME_RE.search(filename):
                    nested = nested_shown = urllib.parse.urljoin(filename, nested)
                elif not _SCHEME_RE.search(nested):
                    nested_shown = os.path.normpath(os.path.join(os.path.dirname(shown), nested))
                    nested = os.path.normpath(
                        os.path.join(self.cwd, os.path.dirname(filename), nested)
                    )
                else:
                    nested_shown = nested
                if nested in ancestors:
                    first = ancestors[nested]
                    tail = f" and again in {first}" if first is not None else ""
                    raise RequirementsFileError(f"{nested} recursively references itself in {filename}{tail}")
                self._read(
                    nested, nested_shown, nested_constraint, {**ancestors, nested: filename}, items,
                    user_supplied,
                )
            elif args_str or opts.editables:
                item = self._requirement(args_str, opts, origin, constraint)
                items.append((_replace(item, user_supplied=user_supplied and not constraint), constraint))
            else:
                self._option_line(opts, filename, origin)

    def _content(self, filename: str, shown: str, *, constraint: bool) -> str:
        path = filename
        if filename.lower().startswith("file:"):
            path = _url_to_path(filename)
        full = os.path.join(self.cwd, path)
        self.files_read.append(os.path.abspath(full))  # read or not: its appearance changes the answer
        if "\0" in full:  # open() raises ValueError, not OSError, for a NUL in the name
            raise RequirementsFileError(
                f"Could not open {'constraint' if constraint else 'requirements'} file: "
                f"embedded null byte: {filename!r}"
            )
        kind = "constraint" if constraint else "requirements"
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway
            fd = os.open(full, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with open(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise RequirementsFileError(
                        f"{kind} file {filename!r} is not a regular file (a device, pipe or socket); "
                        "give a file on disk"
                    )
                if st.st_size > MAX_REQUIREMENTS_FILE_BYTES:
                    raise RequirementsFileError(
                        f"{kind} file {filename!r} is {st.st_size:,} bytes, over the "
                        f"{MAX_REQUIREMENTS_FILE_BYTES:,}-byte limit for requirement files"
                    )
                data = f.read(MAX_REQUIREMENTS_FILE_BYTES + 1)  # a file growing while read
                if len(data) > MAX_REQUIREMENTS_FILE_BYTES:
                    raise RequirementsFileError(
                        f"{kind} file {filename!r} is over the {MAX_REQUIREMENTS_FILE_BYTES:,}-byte "
                        "limit for requirement files"
                    )
        except OSError as exc:
            raise RequirementsFileError(
                f"Could not open {kind} file: [Errno {exc.errno}] {exc.strerror}: {filename!r}"
            ) from None
        try:
            return _decode(data)
        except (UnicodeDecodeError, LookupError) as exc:  # a PEP 263 line naming a bad codec, bad bytes
            raise RequirementsFileError(f"Could not decode requirements file {filename!r}: {exc}") from None

    def _requirement(self, args_str: str, opts: optparse.Values, origin: str, constraint: bool) -> ReqItem:
        if args_str:
            item = _line_item(
                args_str, origin, self.cwd, line_source=origin, hashes=tuple(opts.hashes or ())
            )
        else:
            if constraint:
                raise RequirementsFileError(f"{origin}: Editable requirements are not allowed as constraints")
            item = _editable_item(opts.editables[0], origin, self.cwd)
        if opts.config_settings:
            self.unmodeled.append(f"per-requirement --config-settings at {origin}")
        if constraint and self.scope is not None:  # pip's resolver rejects these (not uninstall)
            problem = ""
            if item.requirement is None:
                problem = "Unnamed requirements are not allowed as constraints"
            elif item.extras:
                problem = "Constraints cannot have extras"
            if problem:
                raise RequirementsFileError(f"{origin}: {problem}: {item.text!r}")
        return item

    def _option_line(self, opts: optparse.Values, filename: str, origin: str) -> None:
        scope = self.scope
        if scope is None:
            return
        if opts.require_hashes:
            scope.require_hashes = True
        if opts.no_require_hashes:
            scope.no_require_hashes = True
        scope.features.extend(f for f in opts.features_enabled if f not in scope.features)
        if opts.no_index:
            scope.no_index = True
        if opts.index_url and not scope.no_index:
            # pip replaces the finder's whole index list, extra indexes included
            scope.index_url = opts.index_url
            scope.extra_index_urls = []
        if opts.extra_index_urls and not scope.no_index:
            scope.extra_index_urls.extend(opts.extra_index_urls)
        if opts.find_links:
            value = opts.find_links[0]  # pip takes only the first -f of a line
            local_dir = os.path.dirname(os.path.join(self.cwd, filename))
            relative_to_file = os.path.join(local_dir, value)
            if not _SCHEME_RE.search(filename) and os.path.exists(relative_to_file):
                value = relative_to_file
            scope.find_links.append(_local_or_url(value, self.cwd))
        if opts.pre:
            scope.release_control.all_releases.add(":all:")
        if opts.prefer_binary:
            scope.prefer_binary = True
        scope.trusted_hosts.extend(opts.trusted_hosts or ())


def _decode(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding)
    for line in data.split(b"\n")[:2]:
        if line[0:1] == b"#":
            match = _PEP263_RE.search(line)
            if match is not None:
                return data.decode(match.group(1).decode("ascii"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(locale.getpreferredencoding(False) or "utf-8")


def _logical_lines(content: str, environ: Mapping[str, str]) -> list[tuple[int, str]]:
    """pip's ``preprocess``: join ``\\`` continuations, drop comments and blank lines, expand
    ``${VAR}``. Returns (first physical line number, text)."""
    joined: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.endswith("\\") or _COMMENT_RE.match(line):
            if _COMMENT_RE.match(line):
                line = " " + line  # a comment ends a continuation and is stripped below
            if pending:
                pending.append(line)
                joined.append((first, "".join(pending)))
                pending = []
            else:
                joined.append((number, line))
        else:
            if not pending:
                first = number
            pending.append(line.strip("\\"))
    if pending:
        joined.append((first, "".join(pending)))

    result = []
    for number, line in joined:
        line = _COMMENT_RE.sub("", line).strip()
        if not line:
            continue
        for var, name in _ENV_VAR_RE.findall(line):
            value = environ.get(name)
            if value:
                line = line.replace(var, value)
        result.append((number, line))
    return result


_LINE_PARSERS = threading.local()


def _line_parser() -> _Parser:
    """The requirement-file line parser, built once per thread (pip builds one per line; at
    ~0.2 ms each that alone made a 20,000-line file take 6 s). optparse keeps per-call state on
    the parser, hence one per thread; the caller copies the defaults for every line."""
    parser = getattr(_LINE_PARSERS, "parser", None)
    if parser is None:
        parser = _LINE_PARSERS.parser = _build_parser(_REQ_FILE)
    return parser


def _parse_file_line(line: str, origin: str, scope: _Scope | None) -> tuple[str, optparse.Values]:
    """Split a logical line into the requirement part and its options, as pip does: the
    requirement is every space-separated token before the first one starting with ``-``; only
    the rest goes through shlex and optparse (markers would not survive shlex)."""
    tokens = line.split(" ")
    cut = next((i for i, t in enumerate(tokens) if t.startswith("-")), len(tokens))
    args_str, options_str = " ".join(tokens[:cut]), " ".join(tokens[cut:])
    parser = _line_parser()
    # fresh lists for every line (the parser is shared; its defaults must stay untouched)
    values = optparse.Values({k: list(v) if isinstance(v, list) else v for k, v in parser.defaults.items()})
    values.index_url = None
    if scope is not None:  # file options act on the finder's own objects
        values.format_control = scope.format_control
        values.release_control = scope.release_control
    else:
        values.format_control = _FormatControl()
        values.release_control = _ReleaseControl()
    if not options_str:
        return args_str, values  # a plain requirement line: nothing for optparse to do
    try:
        words = shlex.split(options_str)
    except ValueError:
        raise RequirementsFileError(
            f"{origin}: invalid requirement: {line!r} (Could not split options: {options_str})"
        ) from None
    try:
        opts, _ = parser.parse_args(words, values)
    except UsageError as exc:
        raise RequirementsFileError(f"{origin}: invalid requirement: {line!r} ({exc})") from None
    except _HelpRequested:  # not an option of requirement files
        raise RequirementsFileError(f"{origin}: invalid requirement: {line!r}") from None
    return args_str, opts


# --------------------------------------------------------------------------------------------
# Requirement strings (req/constructors.py)
# --------------------------------------------------------------------------------------------

_ARCHIVE_EXTENSIONS = (
    ".zip", ".whl", ".tar.bz2", ".tbz", ".tar.gz", ".tgz", ".tar",
    ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma",
)
_OPERATORS = ("~=", "==", "!=", "<=", ">=", "<", ">", "===")
_EGG_RE = re.compile(r"[#&]egg=([^&]*)")
_PROJECT_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def _scheme(text: str) -> str:
    try:
        return urllib.parse.urlsplit(text).scheme
    except ValueError:
        return ""


def _is_url(text: str) -> bool:
    scheme = _scheme(text)
    return bool(scheme) and (scheme in ("http", "https", "file", "ftp") or scheme in _VCS_SCHEMES)


def _is_remote_or_file_url(text: str) -> bool:
    return text.lower().startswith(("http:", "https:", "file:"))


def _is_pylock_name(filename: str) -> bool:
    if _is_remote_or_file_url(filename):
        try:
            filename = urllib.parse.urlsplit(filename).path.rpartition("/")[-1]
        except ValueError:
            return False
    name = os.path.basename(filename)
    return name == "pylock.toml" or bool(re.match(r"^pylock\.([^.]+)\.toml$", name))


def _local_or_url(value: str, cwd: str) -> str:
    """A find-links entry: URLs unchanged, local paths absolute (``~`` expanded if it exists)."""
    if _scheme(value) and len(_scheme(value)) > 1:
        return value
    if value.startswith("~"):
        expanded = os.path.expanduser(value)
        if os.path.exists(expanded):
            value = expanded
    return os.path.normpath(os.path.join(cwd, value))


def _path_to_url(path: str) -> str:
    from urllib.request import pathname2url  # lazily: urllib.request costs ~10 ms to import

    return urllib.parse.urljoin("file://", pathname2url(os.path.normpath(path)))


def _url_to_path(url: str) -> str:
    _, netloc, path, _, _ = urllib.parse.urlsplit(url)
    if netloc and netloc != "localhost":
        raise UsageError(f"non-local file URIs are not supported on this platform: {url!r}")
    from urllib.request import url2pathname

    return url2pathname(path)


def _url_filename(url: str) -> str:
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return posixpath.basename(path.rstrip("/"))


def _splitext(name: str) -> tuple[str, str]:
    base, ext = posixpath.splitext(name)
    if base.lower().endswith(".tar"):
        ext = base[-4:] + ext
        base = base[:-4]
    return base, ext


def _is_archive(name: str) -> bool:
    return _splitext(name)[1].lower() in _ARCHIVE_EXTENSIONS


def _looks_like_path(name: str) -> bool:
    return os.path.sep in name or (os.path.altsep is not None and os.path.altsep in name) or name.startswith(".")


def _is_installable_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyproject.toml")) or os.path.isfile(os.path.join(path, "setup.py"))


def _strip_extras_text(path: str) -> tuple[str, str | None]:
    match = re.match(r"^(.+)(\[[^\]]+\])$", path)
    if match:
        return match.group(1).rstrip(), match.group(2)
    return path, None


def _egg_name(url: str, where: str) -> str | None:
    match = _EGG_RE.search(url)
    if not match:
        return None
    name = match.group(1)
    if not _PROJECT_NAME_RE.match(name):
        hint = ""
        if any(c in name for c in "<>="):
            hint = "Version specifiers are silently ignored for URL references. Remove them. "
        if "[" in name and "]" in name:
            hint += "Try using the Direct URL requirement syntax: 'name[extra] @ URL'"
        raise UsageError(f"{where}The '{name}' egg fragment is invalid ({hint or 'Egg fragments can only be a valid project name.'})")
    return name


def _error_prefix(origin: str) -> str:
    return "" if origin == "command line" else f"{origin}: "


def _error(origin: str, message: str) -> UsageError:
    cls = UsageError if origin == "command line" else RequirementsFileError
    return cls(_error_prefix(origin) + message)


def _requirement_or_error(text: str, origin: str, cwd: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        if os.path.sep in text:
            hint = "It looks like a path." + _path_hint(text, cwd)
        elif "=" in text and not any(op in text for op in _OPERATORS):
            hint = "= is not a valid operator. Did you mean == ?"
        else:
            hint = ""
        detail = f"{reason}; hint: {hint}" if hint else reason
        raise _error(origin, f"invalid requirement: {text!r} ({detail})") from None


def _path_hint(text: str, cwd: str) -> str:
    path = os.path.join(cwd, text)
    if not os.path.exists(path):
        return f" File '{text}' does not exist."
    message = " The path does exist. "
    try:
        with open(path, encoding="utf-8", errors="ignore") as f:
            lines = [s for s in (raw.strip() for raw in f) if s and not s.startswith("#")]
        if lines:
            first = lines[0]
            if " #" in first:
                first = first[: first.find(" #")]
            if first.endswith("\\") and len(lines) > 1:
                first = first[:-2].strip() + lines[1]
            Requirement(first)
            message += (
                f"The argument you provided ({text}) appears to be a requirements file. If that "
                "is the case, use the '-r' flag to install the packages specified within it."
            )
    except (OSError, InvalidRequirement):
        pass
    return message


def _kind_of_url(url: str) -> str:
    scheme = _scheme(url)
    if scheme in _VCS_SCHEMES:
        return "vcs"
    if scheme == "file":
        return "path"
    return "url"


def _line_item(
    text: str, origin: str, cwd: str, *, line_source: str | None, hashes: tuple[str, ...] = ()
) -> ReqItem:
    """pip's ``parse_req_from_line``: a requirement specifier, a URL or a local path."""
    name = text
    marker_text: str | None = None
    sep = "; " if _is_url(name) else ";"
    if sep in name:
        name, marker_part = name.split(sep, 1)
        marker_part = marker_part.strip()
        if marker_part:
            try:
                marker_text = str(Marker(marker_part))
            except InvalidMarker as exc:
                reason = str(exc).splitlines()[0]
                raise _error(origin, f"invalid requirement: {name.strip()!r} ({reason})") from None
    name = name.strip()
    path = os.path.normpath(os.path.join(cwd, name))
    url: str | None = None
    extras: frozenset[str] = frozenset()
    if _is_url(name):
        url = name
    else:
        local, extras_text = _strip_extras_text(path)
        if extras_text:
            try:
                extras = frozenset(Requirement("placeholder" + extras_text.lower()).extras)
            except InvalidRequirement as exc:
                raise _error(origin, f"invalid requirement: {name!r} ({str(exc).splitlines()[0]})") from None
        url = _url_from_path(local, name, origin)

    requirement: Requirement | None
    if url is not None:
        if _scheme(url) == "file" and re.search(r"\.\./", url):
            url = _path_to_url(os.path.join(cwd, urllib.parse.unquote(urllib.parse.urlsplit(url).path)))
        filename = _url_filename(url)
        req_text: str | None
        if _splitext(filename)[1] == ".whl":
            try:
                wheel_name, version, _, _ = parse_wheel_filename(filename)
            except InvalidWheelFilename as exc:
                raise _error(origin, f"invalid wheel filename: {filename!r} ({exc})") from None
            req_text = f"{wheel_name}=={version}"
        else:
            req_text = _egg_name(url, _error_prefix(origin))
        requirement = _requirement_or_error(req_text, origin, cwd) if req_text else None
        kind = _kind_of_url(url)
    else:
        requirement = _requirement_or_error(name, origin, cwd)
        if requirement.url:
            url = requirement.url
            kind = "vcs" if _scheme(url) in _VCS_SCHEMES else "named"
        else:
            kind = "named"
    if requirement is not None:
        if extras:
            requirement.extras = set(extras)
        if marker_text is not None:
            requirement.marker = Marker(marker_text)
        extras = frozenset(requirement.extras)
        marker_text = str(requirement.marker) if requirement.marker else None
    return ReqItem(
        text=text.strip(),
        origin=origin,
        kind=kind,
        requirement=requirement,
        url=url,
        path=_url_to_path(url) if url and _scheme(url) == "file" else None,
        hashes=hashes,
        extras=extras,
        marker=marker_text,
    )


def _url_from_path(path: str, name: str, origin: str) -> str | None:
    """pip's ``_get_url_from_path``: a path only if it looks like one and is a directory, or it
    names an archive (existing, or not but without a PEP 508 ``name @`` in front)."""
    if _looks_like_path(name) and os.path.isdir(path):
        if _is_installable_dir(path):
            return _path_to_url(path)
        raise _error(
            origin, f"Directory {name!r} is not installable. Neither 'setup.py' nor 'pyproject.toml' found."
        )
    if not _is_archive(path):
        return None
    if os.path.isfile(path):
        return _path_to_url(path)
    before_at = name.split("@", 1)
    if len(before_at) >= 2 and not _looks_like_path(before_at[0]):
        return None  # `name @ something.whl`: a PEP 508 direct reference
    return _path_to_url(path)  # pip warns that the file does not exist, and goes on


def _editable_item(text: str, origin: str, cwd: str) -> ReqItem:
    """pip's ``parse_editable``: a local project path (with extras) or a VCS URL with a name."""
    name: str | None = None
    extras: frozenset[str] = frozenset()
    url: str | None = None
    try:
        direct = Requirement(text)
    except InvalidRequirement:
        direct = None
    if direct is not None and direct.url:
        name = direct.name + (f" ; {direct.marker}" if direct.marker else "")
        url = direct.url
        extras = frozenset(direct.extras)
    else:
        url_no_extras, extras_text = _strip_extras_text(text)
        local = os.path.join(cwd, url_no_extras)
        if os.path.isdir(local):
            url_no_extras = _path_to_url(local)
        if url_no_extras.lower().startswith("file:"):
            url = url_no_extras
            name = _egg_name(url, _error_prefix(origin))
            if extras_text:
                extras = frozenset(Requirement("placeholder" + extras_text.lower()).extras)
        else:
            url = text
            for vcs in _VCS_NAMES:
                if text.lower().startswith(f"{vcs}:"):
                    url = f"{vcs}+{text}"
                    break
            name = _egg_name(url, _error_prefix(origin))
    is_vcs = _scheme(url) in _VCS_SCHEMES
    if not is_vcs and not url.startswith("file:"):
        raise _error(
            origin,
            f"{text} is not a valid editable requirement. It should either be a path to a local "
            f"project or a VCS URL (beginning with {', '.join(sorted(_VCS_SCHEMES))}).",
        )
    if not name and not url.startswith("file:"):
        raise _error(
            origin,
            f"Could not detect requirement name for '{text}', please specify one with "
            "your_package_name @ URL",
        )
    requirement = _requirement_or_error(name, origin, cwd) if name else None
    if requirement is not None:
        if extras:
            requirement.extras = set(extras)
    return ReqItem(
        text=text,
        origin=origin,
        kind="vcs" if is_vcs else "path",
        requirement=requirement,
        url=url,
        path=_url_to_path(url) if url.startswith("file:") else None,
        editable=True,
        extras=extras,
        marker=str(requirement.marker) if requirement is not None and requirement.marker else None,
    )


def _item_unmodeled(item: ReqItem) -> list[str]:
    """Requirement-level reasons. Only VCS: local directories, editables, archives and wheel URLs
    are visible in ``ReqItem.kind``/``path``/``editable``, and the simulation decides about them
    (static ``pyproject.toml`` metadata can be exact; an sdist needs a build)."""
    if item.kind == "vcs":
        role = "constraint" if not item.user_supplied else "requirement"
        return [f"vcs {role} {item.text} ({item.origin})"]
    return []


def _replace(item: ReqItem, **changes: Any) -> ReqItem:
    return dataclasses.replace(item, **changes)


def install_has_dry_run(argv: Sequence[str]) -> bool:
    """Whether ``pip ARGV`` (an install) has pip's ``--dry-run``, read by the same optparse
    parser this module builds for ``pip install``: abbreviations (``--dry``) count, a
    ``--dry-run`` that is another option's value (``-r --dry-run``) or after ``--`` does not.
    When that parser rejects the command line (a newer pip's option), only the exact flag before
    any ``--`` counts."""
    if not any(a.startswith("--d") for a in argv):  # the common case: no parser built
        return False
    args = list(argv)
    if "install" in args:
        args.remove("install")  # the FIRST occurrence, as pip does
    try:
        options, _ = _build_parser(_INSTALL).parse_args(args)
        return bool(options.dry_run)
    except Exception:  # noqa: BLE001 - UsageError, --help: pip will say; read the flag plainly
        return "--dry-run" in args[: args.index("--")] if "--" in args else "--dry-run" in args
