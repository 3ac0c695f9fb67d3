"""A ``uv`` command line (the words after ``uv``), parsed once: is it ``uv pip install|sync|
uninstall``, and where does it point (``--python``, ``--system``, ``--target``, ``--prefix``)?

Only what the guard needs is read; every word is passed to uv as it was. uv's own parser is the
authority: a word this reading gets wrong is still uv's to refuse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

GUARDED = ("install", "sync", "uninstall")

_REQ_NAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:$|[\[<>=!~;@(\s])")

#: uv's global options that take a value (``uv --cache-dir X pip install``)
_GLOBAL_VALUED = frozenset(
    {"--cache-dir", "--directory", "--project", "--config-file", "--color", "--python-preference", "--python-fetch"}
)
#: ``uv pip`` options that take a value, as far as the guard must skip them to find the subcommand
#: and read the options it needs; the others are flags or ``--opt=value``.
_PIP_VALUED = frozenset(
    {
        "-r", "--requirements", "--requirement", "-c", "--constraints", "--constraint", "--overrides",
        "--override", "-b", "--build-constraints", "-e", "--editable", "--extra", "--group",
        "-i", "--index-url", "--index", "--default-index", "--extra-index-url", "-f", "--find-links",
        "--index-strategy", "--keyring-provider", "--resolution", "--prerelease", "--exclude-newer",
        "-P", "--upgrade-package", "--reinstall-package", "--no-build-package", "--no-binary",
        "--only-binary", "--config-setting", "-C", "--link-mode", "--python-version", "--python-platform",
        "-p", "--python", "-t", "--target", "--prefix", "--torch-backend", "--no-binary-package",
        "--only-binary-package", "--refresh-package", "--allow-insecure-host", "--trusted-host",
        "--cache-dir", "--directory", "--project", "--config-file", "--color",
    }
)  # fmt: skip


@dataclass(frozen=True)
class UvCommand:
    argv: tuple[str, ...]
    subcommand: str | None  # "install" | "sync" | "uninstall" | ... under ``uv pip``; None: not ``uv pip``
    python: str | None = None  # --python / -p
    system: bool = False
    target: str | None = None
    prefix: str | None = None
    dry_run: bool = False
    reinstall: str | None = None  # "--reinstall" / "--reinstall-package" when given
    cli_constraint: bool = False  # -c/--constraints on the command line (UV_CONSTRAINT is then ignored)
    subcommand_at: int = -1  # index of the subcommand word in argv
    positionals: tuple[str, ...] = ()  # the words after the subcommand that are no option or value

    def requested(self) -> tuple[tuple[str, str], ...]:
        """``(PEP 503 name, the word as typed)`` for each requirement on the command line
        (``install``, ``uninstall``; ``sync`` names files only); words that are no requirement
        (paths, URLs) are skipped. A regular expression, not packaging's parser (30 ms of imports
        on every guarded run): a name followed by extras, a specifier, a marker or a URL."""
        if self.subcommand not in ("install", "uninstall"):
            return ()
        found: dict[str, str] = {}
        for word in self.positionals:
            m = _REQ_NAME.match(word)
            if m:
                found.setdefault(re.sub(r"[-_.]+", "-", m.group(1)).lower(), word)
        return tuple(found.items())

    def requested_names(self) -> tuple[str, ...]:
        """The PEP 503 names of :meth:`requested`."""
        return tuple(name for name, _ in self.requested())

    @property
    def guarded(self) -> bool:
        return self.subcommand in GUARDED and not self.dry_run

    @classmethod
    def parse(cls, argv: Sequence[str]) -> UvCommand:
        argv = tuple(argv)
        i, n = 0, len(argv)
        while i < n and argv[i].startswith("-"):  # uv's global options before ``pip``
            i += 2 if argv[i] in _GLOBAL_VALUED else 1
        if i >= n or argv[i] != "pip":
            return cls(argv, None)
        i += 1
        while i < n and argv[i].startswith("-"):
            i += 2 if argv[i] in _GLOBAL_VALUED else 1
        if i >= n:
            return cls(argv, None)
        sub, at = argv[i], i
        values: dict[str, str] = {}
        flags: set[str] = set()
        positionals: list[str] = []
        words = list(argv[:at]) + list(argv[at + 1 :])
        j = 0
        while j < len(words):
            word = words[j]
            if word == "--":
                positionals += words[j + 1 :]
                break
            if word.startswith("--") and "=" in word:
                key, _, val = word.partition("=")
                values.setdefault(key, val)
                flags.add(key)
            elif word in _PIP_VALUED:
                if j + 1 < len(words):
                    values.setdefault(word, words[j + 1])
                flags.add(word)
                j += 1
            elif word.startswith("-"):
                flags.add(word)
            elif j >= at:
                positionals.append(word)
            j += 1
        reinstall = next((w for w in ("--reinstall", "--reinstall-package") if w in flags), None)
        return cls(
            argv,
            sub,
            python=values.get("--python") or values.get("-p"),
            system="--system" in flags,
            target=values.get("--target") or values.get("-t"),
            prefix=values.get("--prefix"),
            dry_run="--dry-run" in flags,
            reinstall=reinstall,
            cli_constraint=bool(flags & {"-c", "--constraints", "--constraint"}),
            subcommand_at=at,
            positionals=tuple(positionals),
        )

    def with_options_after_subcommand(self, options: Sequence[str]) -> list[str]:
        """The argv with ``options`` right after the subcommand word (before any ``--``)."""
        at = self.subcommand_at + 1
        return [*self.argv[:at], *options, *self.argv[at:]]
