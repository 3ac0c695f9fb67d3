"""``conda guard [-n NAME | -p PREFIX] GUARD_ARGS...``: the guard's CLI, in conda's process,
aimed at conda's environment.

conda hands a plugin subcommand without its own parser every word after ``guard``, unparsed
(``conda/cli/conda_argparse.py``: ``_GreedySubParsersAction``, ``do_call``). ``-n``/``-p`` (and
``--name``/``--prefix``) right after ``guard`` name the environment, resolved as conda resolves
them; without them it is conda's target environment (the active one, else base). The guard is
told the environment with its own ``--prefix`` on each command that has one (``check``, ``why``,
``log``, ``doctor``, ``status``, ``shims install|uninstall|status``, ``check-requirements``
unless ``--environment``), and through ``CONDA_PREFIX`` for ``guard pip``/``guard uv`` (what the
shims run, which find the environment the way pip does). The exit status is the guard's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from guard.errors import UsageError

PREFIX_COMMANDS = frozenset({"check", "why", "log", "doctor", "status", "check-requirements"})
SHIMS_COMMANDS = frozenset({"install", "uninstall", "status"})
ENVIRON_COMMANDS = frozenset({"pip", "uv"})
_TARGET_OPTIONS = {"-n": "name", "--name": "name", "-p": "prefix", "--prefix": "prefix"}


@dataclass(frozen=True)
class Invocation:
    """One ``conda guard ...``: the environment as named after ``guard``, and the guard's words."""

    name: str | None
    prefix: str | None
    guard_args: tuple[str, ...]


@dataclass(frozen=True)
class GuardCall:
    """The guard's argv and the environment variables it runs with (None: removed)."""

    argv: tuple[str, ...]
    environ: Mapping[str, str | None] = field(default_factory=dict)


def split_target(words: Sequence[str]) -> Invocation:
    """``-n NAME``/``-p PREFIX`` (also ``--name[=]``, ``--prefix[=]``) before the guard's command;
    raises :class:`UsageError` for a missing value or both given."""
    found: dict[str, str] = {}
    rest = list(words)
    while rest:
        word = rest[0]
        option, eq, value = word.partition("=")
        if option not in _TARGET_OPTIONS or (eq and not option.startswith("--")):
            break
        rest.pop(0)
        if not eq:
            if not rest:
                raise UsageError(f"option {option} requires an argument")
            value = rest.pop(0)
        if not value.strip():
            raise UsageError(f"option {option} requires an argument")
        key = _TARGET_OPTIONS[option]
        if key in found:
            raise UsageError(f"option {option} given twice")
        found[key] = value
    if len(found) == 2:
        raise UsageError("give the environment once: -n NAME or -p PREFIX, not both")
    return Invocation(found.get("name"), found.get("prefix"), tuple(rest))


def _options(words: Sequence[str]) -> list[str]:
    """The words before ``--`` (the guard's own options; after it come pip's)."""
    return list(words[: words.index("--")]) if "--" in words else list(words)


def _has_option(words: Sequence[str], option: str) -> bool:
    return any(w == option or w.startswith(option + "=") for w in _options(words))


def guard_call(inv: Invocation, target: str) -> GuardCall:
    """How to run the guard on ``target``: ``--prefix`` after the command (after ``shims
    install`` for the shims group), or ``CONDA_PREFIX`` for ``pip``/``uv``; nothing for
    ``--help``, ``--version`` and unknown words (the guard's own messages answer them). A
    ``--prefix`` the user gave to the guard's command wins, unless ``-n``/``-p`` named another
    environment too: :class:`UsageError`."""
    words = list(inv.guard_args)
    named = inv.name is not None or inv.prefix is not None
    command = words[0] if words else None
    at = None
    if command in PREFIX_COMMANDS:
        at = 1
    elif command == "shims" and len(words) > 1 and words[1] in SHIMS_COMMANDS:
        at = 2
    if at is not None:
        tail = words[at:]
        if _has_option(tail, "--prefix"):
            if named:
                raise UsageError(f"give the environment once: -n/-p after `conda guard`, or --prefix after `{command}`")
            return GuardCall(tuple(words))
        if command == "check-requirements" and _has_option(tail, "--environment"):
            return GuardCall(tuple(words))
        return GuardCall((*words[:at], "--prefix", target, *tail))
    if command in ENVIRON_COMMANDS:
        return GuardCall(tuple(words), {"CONDA_PREFIX": target, "VIRTUAL_ENV": None})
    return GuardCall(tuple(words))


@contextmanager
def _environ(changes: Mapping[str, str | None], environ: MutableMapping[str, str]) -> Iterator[None]:
    saved = {k: environ.get(k) for k in changes}
    try:
        _apply(changes, environ)
        yield
    finally:
        _apply(saved, environ)


def _apply(values: Mapping[str, str | None], environ: MutableMapping[str, str]) -> None:
    """Set each variable of ``values`` in ``environ``; None removes it."""
    for k, v in values.items():
        if v is None:
            environ.pop(k, None)
        else:
            environ[k] = v


def exit_status(code: object) -> int:
    """``SystemExit.code`` as a process exit status (None 0, a message 1, as Python does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run(words: Sequence[str], resolve: Callable[[str | None, str | None], str]) -> int:
    """Run ``guard`` with ``words`` (what followed ``conda guard``) on the environment that
    ``resolve(name, prefix)`` returns (conda's resolution); the guard's exit status."""
    from guard.entry import main as guard_main

    try:
        inv = split_target(words)
        call = guard_call(inv, resolve(inv.name, inv.prefix))
    except UsageError as err:
        print(f"guard: error: {err} (see conda guard --help)", file=sys.stderr)
        return err.exit_code
    with _environ(call.environ, os.environ):
        try:
            guard_main(list(call.argv))
        except SystemExit as done:
            return exit_status(done.code)
    return 0
