"""pip's option table (pip 26.3): every option of ``pip install``/``pip uninstall``, of the main
parser and of requirement-file lines, with pip's option strings, actions, types and choices
(``cli/cmdoptions.py``, ``commands/install.py``), each classified by its effect on what gets
installed: ``modeled`` (sets a field of the request), ``harmless`` (no effect) or ``unmodeled``
(changes the outcome in ways the fast simulation does not model; see ``OPTION_EFFECTS``).
"""

from __future__ import annotations

import optparse
import os
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from packaging.utils import canonicalize_name

from guard.errors import UsageError
from guard.request.option_parser import (
    FormatControl,
    HelpRequested,
    PipOption,
    PipOptionParser,
    ReleaseControl,
    strtobool,
)
from guard.request.reqline import is_pylock_name, is_remote_or_file_url, strip_extras_text

MODELED = "modeled"  # sets a field of the request
HARMLESS = "harmless"  # accepted; no effect on what gets installed
UNMODELED = "unmodeled"  # changes the outcome in ways the fast simulation does not model

#: pip 26.3 commands (``pip help`` lists them).
PIP_COMMANDS = frozenset(
    """install lock download uninstall freeze inspect list show check config search cache
    index wheel hash completion debug help""".split()
)

_STRONG_HASHES = ("sha256", "sha384", "sha512")
ALWAYS_ENABLED_FEATURES = ("truststore", "no-binary-enable-wheel-cache", "build-constraint")
_FEATURES = ("fast-deps", "inprocess-build-deps", "venv-isolation", *ALWAYS_ENABLED_FEATURES)
_DEPRECATED_FEATURES = ("legacy-resolver", "legacy-certs")


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
    raise HelpRequested


def _option_error(parser: PipOptionParser, option: optparse.Option, msg: str) -> NoReturn:
    parser.error(" ".join(f"{option} error: {msg}".split()))


def _cb_config_settings(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    key, sep, val = value.partition("=")
    if sep != "=":
        parser.error(f"Arguments to {opt} must be of the form KEY=VAL")
    name = str(option.dest)  # "config_settings"
    dest = getattr(parser.values, name) or {}
    setattr(parser.values, name, dest)
    dest.setdefault(key, []).append(val)


def _cb_hash(option: optparse.Option, opt: str, value: str, parser: Any) -> None:
    algo, sep, digest = value.partition(":")
    if not sep:
        parser.error(f"Arguments to {opt} must be a hash name followed by a value, like --hash=sha256:abcde...")
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
            strtobool(value)
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
        filename, _ = strip_extras_text(path)
        if is_remote_or_file_url(filename) or not is_pylock_name(filename):
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
            kwargs["default"] = FormatControl()
        if kwargs.get("dest") == "release_control":
            kwargs["default"] = ReleaseControl()
        return PipOption(*self.flags, **kwargs)


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
    "require-virtualenv": _flag("--require-virtualenv", "--require-venv", dest="require_venv", effect=HARMLESS),
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
        "--exists-action",
        dest="exists_action",
        effect=HARMLESS,
        type="choice",
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
        "--use-deprecated",
        dest="deprecated_features_enabled",
        effect=UNMODELED,
        type="choice",
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
        "--python-version",
        dest="python_version",
        effect=UNMODELED,
        cb=_cb_python_version,
        type="str",
        default=None,
    ),
    "implementation": _value("--implementation", dest="implementation", effect=UNMODELED),
    "abi": _value("--abi", dest="abis", effect=UNMODELED, action="append"),
    "user": _flag("--user", dest="use_user_site", effect=MODELED, default=None),
    "no-user": _flag("--no-user", dest="use_user_site", effect=MODELED, false=True, default=None),
    "root": _value("--root", dest="root_path", effect=MODELED),
    "prefix": _value("--prefix", dest="prefix_path", effect=MODELED),
    "src": _callback(
        "--src",
        "--source",
        "--source-dir",
        "--source-directory",
        dest="src_dir",
        effect=HARMLESS,
        cb=_cb_src,
        type="path",
    ),
    "upgrade": _flag("-U", "--upgrade", dest="upgrade", effect=MODELED),
    "upgrade-strategy": _value(
        "--upgrade-strategy",
        dest="upgrade_strategy",
        effect=MODELED,
        choices=["only-if-needed", "eager"],
        default="only-if-needed",
    ),
    "force-reinstall": _flag("--force-reinstall", dest="force_reinstall", effect=MODELED),
    "ignore-installed": _flag("-I", "--ignore-installed", dest="ignore_installed", effect=MODELED),
    "ignore-requires-python": _flag("--ignore-requires-python", dest="ignore_requires_python", effect=MODELED),
    "no-build-isolation": _flag(
        "--no-build-isolation", dest="build_isolation", effect=UNMODELED, false=True, default=True
    ),
    "use-pep517": _flag("--use-pep517", dest="use_pep517", effect=HARMLESS, default=True),
    "check-build-dependencies": _flag("--check-build-dependencies", dest="check_build_deps", effect=HARMLESS),
    "break-system-packages": _flag("--break-system-packages", dest="override_externally_managed", effect=HARMLESS),
    "config-settings": _callback(
        "-C",
        "--config-settings",
        dest="config_settings",
        effect=UNMODELED,
        cb=_cb_config_settings,
        type="str",
        default=None,
    ),
    "compile": _flag("--compile", dest="compile", effect=HARMLESS, default=True),
    "no-compile": _flag("--no-compile", dest="compile", effect=HARMLESS, false=True, default=True),
    "no-warn-script-location": _flag(
        "--no-warn-script-location",
        dest="warn_script_location",
        effect=HARMLESS,
        false=True,
        default=True,
    ),
    "no-warn-conflicts": _flag(
        "--no-warn-conflicts", dest="warn_about_conflicts", effect=HARMLESS, false=True, default=True
    ),
    "require-hashes": _flag("--require-hashes", dest="require_hashes", effect=MODELED),
    "no-require-hashes": _flag("--no-require-hashes", dest="no_require_hashes", effect=MODELED),
    "progress-bar": _value(
        "--progress-bar",
        dest="progress_bar",
        effect=HARMLESS,
        type="choice",
        choices=["auto", "on", "off", "raw"],
        default="auto",
    ),
    "root-user-action": _value(
        "--root-user-action",
        dest="root_user_action",
        effect=HARMLESS,
        choices=["warn", "ignore"],
        default="warn",
    ),
    "report": _value("--report", dest="json_report_file", effect=HARMLESS),
    "group": _callback("--group", dest="dependency_groups", effect=UNMODELED, cb=_cb_group, type="str", default=[]),
    "no-clean": _flag("--no-clean", dest="no_clean", effect=HARMLESS),
    # install: package selection
    "pre": _flag("--pre", dest="pre", effect=MODELED),
    "all-releases": _callback(
        "--all-releases", dest="release_control", effect=MODELED, cb=_cb_all_releases, type="str"
    ),
    "only-final": _callback("--only-final", dest="release_control", effect=MODELED, cb=_cb_only_final, type="str"),
    "no-binary": _callback("--no-binary", dest="format_control", effect=MODELED, cb=_cb_no_binary, type="str"),
    "only-binary": _callback("--only-binary", dest="format_control", effect=MODELED, cb=_cb_only_binary, type="str"),
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
        "--uploaded-prior-to",
        dest="uploaded_prior_to",
        effect=UNMODELED,
        cb=_cb_uploaded_prior_to,
        type="str",
        default=None,
    ),
    # uninstall
    "yes": _flag("-y", "--yes", dest="yes", effect=MODELED),
    # requirement files only
    "hash": _callback("--hash", dest="hashes", effect=MODELED, cb=_cb_hash, type="string", default=None),
    "version": _flag("-V", "--version", dest="version", effect=HARMLESS, default=None),
}

GENERAL_OPTIONS = (
    "help debug isolated require-virtualenv python verbose quiet log no-input keyring-provider "
    "proxy no-proxy-env retries timeout exists-action trusted-host cert client-cert cache-dir "
    "no-cache-dir disable-pip-version-check no-color no-python-version-warning use-feature "
    "use-deprecated resume-retries"
).split()
INSTALL_OPTIONS = (
    "requirement constraint build-constraint requirements-from-script no-deps only-deps editable "
    "dry-run target platform python-version implementation abi user no-user root prefix src "
    "upgrade upgrade-strategy force-reinstall ignore-installed ignore-requires-python "
    "no-build-isolation use-pep517 check-build-dependencies break-system-packages "
    "config-settings compile no-compile no-warn-script-location no-warn-conflicts require-hashes "
    "no-require-hashes progress-bar root-user-action report group no-clean pre all-releases "
    "only-final no-binary only-binary prefer-binary index-url extra-index-url no-index "
    "refresh-package find-links uploaded-prior-to"
).split() + GENERAL_OPTIONS
UNINSTALL_OPTIONS = "requirement yes root-user-action break-system-packages".split() + GENERAL_OPTIONS
MAIN_OPTIONS = ["version", *GENERAL_OPTIONS]
REQUIREMENT_FILE_OPTIONS = (
    "index-url extra-index-url no-index constraint requirement editable find-links no-binary "
    "only-binary prefer-binary require-hashes no-require-hashes pre all-releases only-final "
    "trusted-host use-feature hash config-settings"
).split()

#: How each option of ``pip install``/``pip uninstall`` is treated, by every option string
#: (``"--upgrade"``, ``"-U"``...): ``"modeled"`` (sets a request field), ``"harmless"`` (no
#: effect on what gets installed) or ``"unmodeled"`` (recorded in ``unmodeled``).
#: ``--use-feature``/``--use-deprecated`` are unmodeled except for harmless values.
OPTION_EFFECTS: Mapping[str, str] = {
    flag: spec.effect
    for key, spec in _OPTIONS.items()
    if key in INSTALL_OPTIONS or key in UNINSTALL_OPTIONS
    for flag in spec.flags
}


def build_parser(keys: Sequence[str], *, interspersed: bool = True) -> PipOptionParser:
    parser = PipOptionParser(interspersed=interspersed)
    for key in keys:
        parser.add_option(_OPTIONS[key].make())
    return parser
