"""Read a ``pip ...`` command line exactly as pip 26.x reads it.

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

* Options (``guard.request.options``) are parsed with the standard library's ``optparse``, as pip does, with the same option
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
  ``PipCommand.isolated`` (``guard.request.command``) to decide what to pass as ``config``.
* Requirement files (``guard.request.reqfile``) follow ``req/req_file.py``: BOM/PEP 263 decoding, ``\\`` line joining,
  comments (``#`` at line start or after whitespace only, so ``#egg=`` survives), ``${VAR}``
  expansion (upper-case names; unset or empty variables are left as written), the per-file and
  per-requirement options, ``-r``/``-c`` nested relative to the including file, and a loop
  (a file that includes one of its own ancestors) is an error.
* Requirement strings (``guard.request.reqline``) follow ``req/constructors.py``: a string is a local path only if it looks
  like one (contains ``/`` or starts with ``.``) and is a directory, or ends like an archive; a
  relative path INSIDE a requirements file is resolved against the current directory, not the
  file's directory (pip's rule; only nested ``-r``/``-c`` and ``-f`` paths are file-relative).
"""

from __future__ import annotations

import dataclasses
import optparse
import os
from collections.abc import Mapping, Sequence

from guard.errors import UsageError
from guard.request.model import InstallRequest, OtherCommand, ReqItem, UninstallRequest
from guard.request.option_parser import FormatControl, HelpRequested, ReleaseControl, parse_with_config
from guard.request.options import (
    ALWAYS_ENABLED_FEATURES,
    INSTALL_OPTIONS,
    MAIN_OPTIONS,
    UNINSTALL_OPTIONS,
    build_parser,
)
from guard.request.reqfile import FinderScope, RequirementFileReader
from guard.request.reqline import (
    is_pylock_name,
    item_unmodeled,
    local_or_url,
    parse_editable,
    parse_requirement_line,
    strip_extras_text,
)

__all__ = ["parse_pip_argv"]


def parse_pip_argv(
    argv: Sequence[str],
    *,
    config: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
    config_sources: Mapping[str, str] | None = None,
) -> InstallRequest | UninstallRequest | OtherCommand:
    """Read ``pip ARGV`` the way pip 26.x does.

    ``config`` maps pip long option names to raw configuration strings (files and ``PIP_*``
    variables already merged); they become option defaults. ``environ`` is used only for
    ``${VAR}`` in requirement files (default: ``os.environ``). ``cwd`` is the directory pip would
    run in (default: the current one). ``config_sources`` says where each ``config`` value was
    set (a file or a ``PIP_*`` name, :attr:`PipConfig.sources`); when given, the origin of a
    constraint read from a configured constraint file names it too (``c.txt:1, via pip config
    /home/u/.config/pip/pip.conf``), so that a failed resolution can say where it came from.

    Raises ``UsageError`` for a command line pip would reject (unknown option, missing value,
    bad choice, invalid requirement, conflicting options) and ``RequirementsFileError`` for a
    requirement/constraint file pip cannot open or parse; messages are one line.
    """
    argv = tuple(argv)
    config = dict(config or {})
    environ = os.environ if environ is None else environ
    cwd = os.path.abspath(cwd or os.getcwd())

    main = build_parser(MAIN_OPTIONS, interspersed=False)
    try:
        general, rest = parse_with_config(main, argv, config)
    except HelpRequested:
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
    parser = build_parser(INSTALL_OPTIONS if command == "install" else UNINSTALL_OPTIONS)
    try:
        options, args = parse_with_config(parser, cmd_args, config)
    except HelpRequested:
        return OtherCommand(argv, command)
    if options.python and not general.python:
        raise UsageError("The --python option must be placed before the pip subcommand name")
    _note_features(options, unmodeled)

    reader = RequirementFileReader(cwd=cwd, environ=environ)
    if command == "uninstall":
        return _uninstall_request(argv, options, args, reader, unmodeled)
    request = _install_request(argv, options, args, reader, unmodeled)
    if config_sources is not None and config.get("constraint"):
        request = _constraints_via_config(request, config["constraint"], config_sources.get("constraint"), cwd)
    return request


def _constraints_via_config(request: InstallRequest, value: str, source: str | None, cwd: str) -> InstallRequest:
    """The constraints read from the files pip's configuration names (``constraint`` in a pip
    config file, or ``PIP_CONSTRAINT``), their origin saying so. A file is known by its name as
    configured or its absolute path: a ``-c`` of that same file on the command line is marked too."""
    label = "pip config" if source is None else source if source.startswith("PIP_") else f"pip config {source}"
    shown = {f"{name}:" for name in value.split()}
    shown |= {f"{os.path.normpath(os.path.join(cwd, name))}:" for name in value.split()}
    items = tuple(
        dataclasses.replace(item, origin=f"{item.origin}, via {label}")
        if item.origin.startswith(tuple(shown))
        else item
        for item in request.constraints
    )
    return dataclasses.replace(request, constraints=items)


def _note_features(options: optparse.Values, unmodeled: list[str]) -> None:
    for feature in options.features_enabled:
        if feature not in ALWAYS_ENABLED_FEATURES:
            unmodeled.append(f"option --use-feature={feature}")
    for feature in options.deprecated_features_enabled:
        if feature != "legacy-certs":
            unmodeled.append(f"option --use-deprecated={feature}")


# --------------------------------------------------------------------------------------------
# install / uninstall
# --------------------------------------------------------------------------------------------


def _install_request(
    argv: tuple[str, ...],
    options: optparse.Values,
    args: list[str],
    reader: RequirementFileReader,
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
    release_control: ReleaseControl = options.release_control
    if options.pre:
        if release_control:
            raise UsageError("--pre cannot be used with --all-releases or --only-final.")
        release_control.all_releases.add(":all:")
    if options.use_user_site and options.prefix_path:
        raise UsageError("Can not combine '--user' and '--prefix' as they imply different installation locations")

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

    scope = FinderScope(
        index_url=options.index_url,
        extra_index_urls=list(options.extra_index_urls),
        no_index=bool(options.no_index),
        find_links=[local_or_url(v, cwd) for v in options.find_links],
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
            requirements.append(parse_requirement_line(text, "command line", cwd, line_source=None))
    for text in options.editables:
        requirements.append(parse_editable(text, "command line", cwd))
    for filename in options.requirements:
        without_extras, _ = strip_extras_text(filename)
        if is_pylock_name(without_extras):
            unmodeled.append(f"pylock.toml requirements source {filename}")
            continue
        for item, is_constraint in reader.read_top(filename, constraint=False, user_supplied=True):
            (constraints if is_constraint else requirements).append(item)

    for feature in scope.features[len(options.features_enabled) :]:
        if feature not in ALWAYS_ENABLED_FEATURES:
            unmodeled.append(f"option --use-feature={feature}")
    for item in (*constraints, *requirements):
        unmodeled.extend(item_unmodeled(item))

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
    fc: FormatControl = options.format_control
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
            "Can not use any platform or abi specific options unless installing via '--target' or using '--dry-run'"
        )


def _uninstall_request(
    argv: tuple[str, ...],
    options: optparse.Values,
    args: list[str],
    reader: RequirementFileReader,
    unmodeled: list[str],
) -> UninstallRequest:
    by_name: dict[str, ReqItem] = {}
    for text in args:
        item = parse_requirement_line(text, "command line", reader.cwd, line_source=None)
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
