"""Requirement and constraint files, read as pip's ``req/req_file.py`` reads them.

BOM/PEP 263 decoding, ``\\`` line joining, comments (``#`` at line start or after whitespace
only, so ``#egg=`` survives), ``${VAR}`` expansion (upper-case names; unset or empty variables
are left as written), the per-file and per-requirement options, ``-r``/``-c`` nested relative to
the including file, and a loop (a file that includes one of its own ancestors) is an error.
Remote files are never fetched (recorded as unmodeled); local ones are bounded
(``MAX_REQUIREMENTS_FILE_BYTES``, regular files only).
"""

from __future__ import annotations

import codecs
import dataclasses
import locale
import optparse
import os
import re
import shlex
import stat
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from guard.errors import RequirementsFileError, UsageError
from guard.request.model import ReqItem
from guard.request.option_parser import FormatControl, HelpRequested, PipOptionParser, ReleaseControl
from guard.request.options import REQUIREMENT_FILE_OPTIONS, build_parser
from guard.request.reqline import local_or_url, parse_editable, parse_requirement_line, url_to_path

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


@dataclass
class FinderScope:
    """The state pip's PackageFinder and options reach while requirement files are read."""

    index_url: str | None
    extra_index_urls: list[str]
    no_index: bool
    find_links: list[str]
    format_control: FormatControl
    release_control: ReleaseControl
    prefer_binary: bool
    trusted_hosts: list[str]
    require_hashes: bool
    no_require_hashes: bool
    features: list[str]


#: Requirement and constraint files larger than this are refused (a real one with hashes for
#: hundreds of projects is well under 1 MB; pip itself has no limit and reads ``-r /dev/zero``
#: until memory runs out).
MAX_REQUIREMENTS_FILE_BYTES = 16 * 1024 * 1024


class RequirementFileReader:
    """Reads requirement files the way ``RequirementsFileParser`` + ``handle_line`` do."""

    def __init__(self, *, cwd: str, environ: Mapping[str, str]) -> None:
        self.cwd = cwd
        self.environ = environ
        self.scope: FinderScope | None = None  # None: no finder (uninstall), option lines do nothing
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
                    nested = os.path.normpath(os.path.join(self.cwd, os.path.dirname(filename), nested))
                else:
                    nested_shown = nested
                if nested in ancestors:
                    first = ancestors[nested]
                    tail = f" and again in {first}" if first is not None else ""
                    raise RequirementsFileError(f"{nested} recursively references itself in {filename}{tail}")
                self._read(
                    nested,
                    nested_shown,
                    nested_constraint,
                    {**ancestors, nested: filename},
                    items,
                    user_supplied,
                )
            elif args_str or opts.editables:
                item = self._requirement(args_str, opts, origin, constraint)
                items.append((dataclasses.replace(item, user_supplied=user_supplied and not constraint), constraint))
            else:
                self._option_line(opts, filename, origin)

    def _content(self, filename: str, shown: str, *, constraint: bool) -> str:
        path = filename
        if filename.lower().startswith("file:"):
            path = url_to_path(filename)
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
            item = parse_requirement_line(
                args_str, origin, self.cwd, line_source=origin, hashes=tuple(opts.hashes or ())
            )
        else:
            if constraint:
                raise RequirementsFileError(f"{origin}: Editable requirements are not allowed as constraints")
            item = parse_editable(opts.editables[0], origin, self.cwd)
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
            scope.find_links.append(local_or_url(value, self.cwd))
        if opts.pre:
            scope.release_control.all_releases.add(":all:")
        if opts.prefer_binary:
            scope.prefer_binary = True
        scope.trusted_hosts.extend(opts.trusted_hosts or ())


def _decode(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding)
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


def _line_parser() -> PipOptionParser:
    """The requirement-file line parser, built once per thread (pip builds one per line; at
    ~0.2 ms each that alone made a 20,000-line file take 6 s). optparse keeps per-call state on
    the parser, hence one per thread; the caller copies the defaults for every line."""
    parser = getattr(_LINE_PARSERS, "parser", None)
    if parser is None:
        parser = _LINE_PARSERS.parser = build_parser(REQUIREMENT_FILE_OPTIONS)
    return parser


def _parse_file_line(line: str, origin: str, scope: FinderScope | None) -> tuple[str, optparse.Values]:
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
        values.format_control = FormatControl()
        values.release_control = ReleaseControl()
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
    except HelpRequested:  # not an option of requirement files
        raise RequirementsFileError(f"{origin}: invalid requirement: {line!r}") from None
    return args_str, opts
