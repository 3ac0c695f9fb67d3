"""``PipCommand``: pip's command line read once, for every stage that asks what it says.

``PipCommand.parse(argv)`` (``argv``: what follows ``pip``, the guard's own flags removed) finds
pip's subcommand the way pip's main parser does (``cli/main_parser.py``: the general options are
parsed with interspersed arguments disabled; the first non-option is the subcommand) and records
what the action and pipeline stages need before, or without, the full request
(``guard.request.parse.parse_pip_argv``): the general options that take a value, ``--isolated``,
``--dry-run``, ``-c`` on the command line, where options can be inserted, and the options that
say where pip writes.

Reading it costs no import beyond the standard library (``guard pip list`` goes straight to pip);
only ``--dry-run`` detection builds pip's ``install`` parser, and only when a ``--d...`` word is
there. The ``python -m pip`` hook (``guard/integrate/pip_hook.py``), which runs in the
environment's own Python without the guard, keeps its own copy of the general-option scan;
``tests/test_pip_command.py`` proves that both agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

__all__ = ["GUARDED_SUBCOMMANDS", "PipCommand", "install_has_dry_run", "uses_isolated_config"]

#: The subcommands the guard judges; every other one goes to pip untouched.
GUARDED_SUBCOMMANDS = ("install", "uninstall")

# pip's general options (``cli/cmdoptions.py`` ``general_group``, pip 23.x-26.x; the same option
# strings as ``guard.request.options.GENERAL_OPTIONS``): none of the short ones takes a value.
GENERAL_VALUE_OPTIONS = (
    "--python", "--log", "--log-file", "--local-log", "--keyring-provider", "--proxy", "--retries",
    "--timeout", "--default-timeout", "--exists-action", "--trusted-host", "--cert", "--client-cert",
    "--cache-dir", "--use-feature", "--use-deprecated", "--resume-retries",
)  # fmt: skip
GENERAL_FLAG_OPTIONS = (
    "--help", "--version", "--debug", "--isolated", "--require-virtualenv", "--require-venv",
    "--verbose", "--quiet", "--no-input", "--no-proxy-env", "--no-cache-dir",
    "--disable-pip-version-check", "--no-color", "--no-python-version-warning",
)  # fmt: skip
GENERAL_SHORT_FLAGS = "hvVq"


def general_long_option(word: str) -> str | None:
    """optparse's reading of ``--name`` among pip's general options: the option itself, or the one
    option it abbreviates; None when unknown or ambiguous."""
    if word in GENERAL_VALUE_OPTIONS or word in GENERAL_FLAG_OPTIONS:
        return word
    matches = [o for o in GENERAL_VALUE_OPTIONS + GENERAL_FLAG_OPTIONS if o.startswith(word)]
    return matches[0] if len(matches) == 1 else None


def _scan_general_options(argv: Sequence[str]) -> tuple[int | None, bool, dict[str, str]]:
    """``(index of the subcommand word or None, whether pip would reject the general options,
    the general options that take a value by full name)``."""
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return (i + 1 if i + 1 < len(argv) else None), False, values
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            option = general_long_option(name)
            if option is None:
                return None, True, values
            if option in GENERAL_VALUE_OPTIONS:
                if not eq:
                    if i + 1 >= len(argv):
                        return None, True, values
                    i += 1
                    value = argv[i]
                values[option] = value
            elif eq:
                return None, True, values  # a flag given a value: pip's error
        elif word.startswith("-") and word != "-":
            if any(c not in GENERAL_SHORT_FLAGS for c in word[1:]):
                return None, True, values
        else:
            return i, False, values
        i += 1
    return None, False, values


def uses_isolated_config(argv: Sequence[str]) -> bool:
    """Whether pip runs this command line in isolated mode, ignoring user configuration and
    ``PIP_*`` variables: pip checks for the exact string ``--isolated`` (no abbreviation)."""
    return "--isolated" in argv


def install_has_dry_run(argv: Sequence[str]) -> bool:
    """Whether ``pip ARGV`` (an install) has pip's ``--dry-run``, read by the same optparse
    parser the request stage builds for ``pip install``: abbreviations (``--dry``) count, a
    ``--dry-run`` that is another option's value (``-r --dry-run``) or after ``--`` does not.
    When that parser rejects the command line (a newer pip's option), only the exact flag before
    any ``--`` counts."""
    if not any(a.startswith("--d") for a in argv):  # the common case: no parser built
        return False
    from guard.request.options import INSTALL_OPTIONS, build_parser

    args = list(argv)
    if "install" in args:
        args.remove("install")  # the FIRST occurrence, as pip does
    try:
        options, _ = build_parser(INSTALL_OPTIONS).parse_args(args)
        return bool(options.dry_run)
    except Exception:  # noqa: BLE001 - UsageError, --help: pip will say; read the flag plainly
        return "--dry-run" in args[: args.index("--")] if "--" in args else "--dry-run" in args


def _has_cli_constraint(argv: Sequence[str]) -> bool:
    for a in argv:
        if (
            a in ("-c", "--constraint")
            or a.startswith("--constraint=")
            or (a.startswith("-c") and not a.startswith("--"))
        ):
            return True
    return False


def _names_location(argv: Sequence[str]) -> bool:
    for a in argv:
        name = a.split("=", 1)[0]
        if name.startswith(("--prefi", "--roo", "--ta")) or (a.startswith("-t") and not a.startswith("--")):
            return True
    return False


def _reinstall_word(argv: Sequence[str]) -> str | None:
    for word in argv:
        if word == "--":
            break
        long, _, _ = word.partition("=")
        if len(long) >= 4 and "--force-reinstall".startswith(long):
            return "--force-reinstall"
        if len(long) >= 11 and "--ignore-installed".startswith(long):
            return "--ignore-installed"
        if word.startswith("-") and not word.startswith("--") and "I" in word:
            return "-I"
    return None


@dataclass(frozen=True)
class PipCommand:
    """pip's command line, read once.

    ``subcommand``: the word after pip's general options, read as pip's optparse reads them
    (abbreviations included); None when there is none (``pip``, ``pip -v``) or when pip would
    reject the general options (``general_rejected``: an unknown or ambiguous option, a flag given
    a value, a missing value). ``subcommand_index``: its position in ``argv``.
    ``general_values``: the general options that take a value, by full name (``--python``), as far
    as they were read. ``isolated``: ``--isolated`` exactly (pip's own test, no abbreviation).
    ``dry_run``: an install with pip's ``--dry-run`` (``install_has_dry_run``).
    ``cli_constraint``: a ``-c``/``--constraint`` word anywhere (pip's command line then replaces
    the configured constraints). ``names_location``: a word that may be ``--prefix``, ``--root``
    or ``--target`` (abbreviated as optparse allows, ``-t`` clusters included). ``yes``: the
    exact word ``-y`` or ``--yes`` (``pip uninstall`` then asks nothing). ``reinstall_word``: the
    first word before any ``--`` that may ask pip to reinstall what is installed
    (``--force-reinstall``, ``--ignore-installed``, abbreviated as far as optparse allows, or a
    short-option cluster holding ``I``: ``-qI``), read plainly: unsure counts as yes.
    """

    argv: tuple[str, ...]
    subcommand: str | None
    subcommand_index: int | None
    general_rejected: bool = False
    general_values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    isolated: bool = False
    dry_run: bool = False
    cli_constraint: bool = False
    names_location: bool = False
    yes: bool = False
    reinstall_word: str | None = None

    @classmethod
    def parse(cls, argv: Sequence[str]) -> PipCommand:
        """Read ``argv`` (pip's arguments, after ``pip``)."""
        argv = tuple(argv)
        index, rejected, values = _scan_general_options(argv)
        read = cls(
            argv=argv,
            subcommand=argv[index] if index is not None else None,
            subcommand_index=index,
            general_rejected=rejected,
            general_values=MappingProxyType(values),
            isolated=uses_isolated_config(argv),
            cli_constraint=_has_cli_constraint(argv),
            names_location=_names_location(argv),
            yes="-y" in argv or "--yes" in argv,
            reinstall_word=_reinstall_word(argv),
        )
        return replace(read, dry_run=read.command == "install" and install_has_dry_run(argv))

    @property
    def command(self) -> str | None:
        """The subcommand the guard acts on: ``subcommand``; when pip would reject the general
        options, an ``install``/``uninstall`` word anywhere still counts (a newer pip may know an
        option this table does not, and the guard must not wave an install through on that
        account: the simulation then decides, or fails over to the safety net)."""
        if not self.general_rejected:
            return self.subcommand
        return next((a for a in self.argv if a in GUARDED_SUBCOMMANDS), None)

    @property
    def python(self) -> str | None:
        """pip's own ``--python`` value (it runs pip in that interpreter), None without it."""
        return self.general_values.get("--python") or None

    def python_prefix(self) -> Path | None:
        """The env of pip's own ``--python`` (an interpreter, found on PATH like pip does, or an
        env directory), None without it: pip then runs in that interpreter's environment."""
        python = self.python
        if not python:
            return None
        import shutil

        found = Path(python) if os.path.sep in python else Path(shutil.which(python) or python)
        return Path(os.path.abspath(found)) if found.is_dir() else Path(os.path.abspath(found)).parent.parent

    def with_options_after_subcommand(self, extra: Sequence[str]) -> list[str]:
        """``argv`` with ``extra`` options right after pip's subcommand word
        (``pip --cache-dir install install x`` has it at index 2); after the first ``install``
        word when pip would reject the general options anyway."""
        argv = list(self.argv)
        i = self.subcommand_index
        if i is None:
            i = argv.index("install") if "install" in argv else len(argv) - 1
        return argv[: i + 1] + list(extra) + argv[i + 1 :]

    def without_python_option(self) -> list[str]:
        """``argv`` without pip's general ``--python`` option and its value (every one before the
        subcommand word; anywhere when there is none)."""
        end = self.subcommand_index
        out, i = [], 0
        while i < len(self.argv):
            name, eq, _ = self.argv[i].partition("=")
            if (end is None or i < end) and name.startswith("--") and general_long_option(name) == "--python":
                i += 1 if eq else 2
                continue
            out.append(self.argv[i])
            i += 1
        return out

    def named_projects(self, cwd: str) -> tuple[str, ...]:
        """The canonical project names the words name, each read as pip reads a requirement on its
        command line (``guard.request.reqline.parse_requirement_line``: ``NumPy>=1``,
        ``numpy[extra]``, a wheel file's name, a URL's ``#egg=``; relative paths against
        ``cwd``), in command-line order. The subcommand and option words are skipped, option
        values are not (a plain reading, for when the full request could not be built: it errs
        towards naming too much); words pip would reject name nothing."""
        from guard.errors import GuardError
        from guard.request.reqline import parse_requirement_line

        names: dict[str, None] = {}
        for i, word in enumerate(self.argv):
            if word.startswith("-") or i == self.subcommand_index:
                continue
            try:
                name = parse_requirement_line(word, "command line", cwd, line_source=None).name
            except (GuardError, ValueError):
                continue
            if name:
                names[name] = None
        return tuple(names)
