"""pip's ``optparse`` machinery, without pip: the option class, the parser and the option values
pip's callbacks mutate, and configuration values as option defaults.

pip parses its command line with the standard library's ``optparse`` (``cli/parser.py``); so does
the guard, so that abbreviations, clustered short options, ``--`` and the error messages are
pip's own. Parse errors are ``UsageError`` (pip prints the same text and exits 2).
"""

from __future__ import annotations

import optparse
import os
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from guard.errors import UsageError


class HelpRequested(Exception):
    """``-h``/``--help`` was met: pip prints help and exits, nothing is installed."""


class PipOption(optparse.Option):
    """optparse option with pip's extra ``path`` type (``~`` expanded)."""

    TYPES = (*optparse.Option.TYPES, "path")
    TYPE_CHECKER = dict(optparse.Option.TYPE_CHECKER)
    TYPE_CHECKER["path"] = lambda option, opt, value: os.path.expanduser(value)


class PipOptionParser(optparse.OptionParser):
    """An optparse parser whose errors are ``UsageError`` (pip prints the same text, exit 2)."""

    def __init__(self, *, interspersed: bool = True) -> None:
        super().__init__(add_help_option=False, usage=optparse.SUPPRESS_USAGE, prog="pip")
        if not interspersed:
            self.disable_interspersed_args()

    def error(self, msg: str) -> NoReturn:
        raise UsageError(msg) from None

    def exit(self, status: int = 0, msg: str | None = None) -> NoReturn:
        raise UsageError((msg or "pip exited").strip())


class FormatControl:
    """pip's ``FormatControl`` (``models/format_control.py``)."""

    def __init__(self) -> None:
        self.no_binary: set[str] = set()
        self.only_binary: set[str] = set()


class ReleaseControl:
    """pip's ``ReleaseControl`` (``models/release_control.py``)."""

    def __init__(self) -> None:
        self.all_releases: set[str] = set()
        self.only_final: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.all_releases or self.only_final)


def strtobool(val: str) -> int:
    val = val.lower()
    if val in ("y", "yes", "t", "true", "on", "1"):
        return 1
    if val in ("n", "no", "f", "false", "off", "0"):
        return 0
    raise ValueError(f"invalid truth value {val!r}")


def _defaults_with_config(parser: PipOptionParser, config: Mapping[str, str]) -> optparse.Values:
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
        dest: str = option.dest  # type: ignore[assignment]  # every option of the table names its dest
        val: Any = raw
        shown = raw if raw.isprintable() else repr(raw)  # "0\n" from a file or PIP_*: one line
        try:
            if option.action in ("store_true", "store_false"):
                try:
                    val = strtobool(raw)
                except ValueError:
                    raise UsageError(
                        f"{shown} is not a valid value for {key} option, please specify a boolean "
                        "value like yes/no, true/false or 1/0 instead."
                    ) from None
            elif option.action == "count":
                try:
                    val = strtobool(raw)
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
                option.callback(option, opt_str, val, parser)  # type: ignore[misc]  # a callback option has one
            else:
                val = option.check_value(key, raw)
        except optparse.OptionValueError as exc:
            raise UsageError(f"An error occurred during configuration: {exc}") from None
        defaults[dest] = val
    for dest in late:
        defaults[dest] = getattr(parser.values, dest)
    parser.values = None
    return optparse.Values(defaults)


def parse_with_config(
    parser: PipOptionParser, args: Sequence[str], config: Mapping[str, str]
) -> tuple[optparse.Values, list[str]]:
    values = _defaults_with_config(parser, config)
    return parser.parse_args(list(args), values)
