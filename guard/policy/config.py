"""The guard's own configuration (YAML), read at the edge and turned into a frozen Policy.

Files, later ones overriding earlier ones key by key:

1. ``$PREFIX/etc/guard.yaml`` (the environment's own policy),
2. ``$XDG_CONFIG_HOME/conda-pip-guard/guard.yaml`` (default ``~/.config/...``), the user's,
3. the file named by ``$GUARD_CONFIG``.

Keys: ``protect`` (extra names to protect), ``unprotect`` (names to stop protecting),
``conda_owned`` (``warn`` | ``block``: other changes to conda-owned distributions), ``on_block``
(``block`` | ``redirect``), ``allow_build`` (``true`` | ``false``: whether ``guard check`` and
``guard why`` may let pip's own dry run build projects, running their code; default false).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from guard.errors import UsageError
from guard.policy.names import DEFAULT_PROTECTED, canonical_name
from guard.policy.rules import Policy

CHOICES = {"conda_owned": ("warn", "block"), "on_block": ("block", "redirect")}


def config_files(prefix: Path, environ: Mapping[str, str]) -> list[Path]:
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    xdg = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    files = [prefix / "etc" / "guard.yaml", xdg / "conda-pip-guard" / "guard.yaml"]
    if environ.get("GUARD_CONFIG"):
        files.append(Path(environ["GUARD_CONFIG"]))
    return files


def load_policy(prefix: Path, environ: Mapping[str, str]) -> tuple[Policy, list[str]]:
    """The policy in force for ``prefix`` and the files it came from."""
    merged, used = _merged(prefix, environ)
    policy = Policy(
        protected=DEFAULT_PROTECTED | frozenset(merged.get("protect", ())),
        unprotected=frozenset(merged.get("unprotect", ())),
        conda_owned=merged.get("conda_owned", "warn"),
        on_block=merged.get("on_block", "block"),
    )
    return policy, used


def build_allowed(prefix: Path, environ: Mapping[str, str]) -> bool:
    """``allow_build: true`` in force for ``prefix`` (default false)."""
    return bool(_merged(prefix, environ)[0].get("allow_build", False))


def _merged(prefix: Path, environ: Mapping[str, str]) -> tuple[dict, list[str]]:
    merged: dict = {}
    used = []
    for path in config_files(prefix, environ):
        if not path.is_file():
            if environ.get("GUARD_CONFIG") and str(path) == environ["GUARD_CONFIG"]:
                raise UsageError(f"GUARD_CONFIG names {path}, which does not exist")
            continue
        import yaml  # only when a config file exists: keeps the common path light

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, OSError, UnicodeDecodeError, RecursionError) as exc:  # Recursion: deep nesting
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise UsageError(f"{path}{where}: invalid guard configuration ({_first_line(exc)})") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path}: invalid guard configuration (expected a mapping of keys)")
        unknown = set(data) - {"protect", "unprotect", "conda_owned", "on_block", "allow_build"}
        if unknown:
            # keys may be any YAML scalar (1, null, a date) or hold a newline: repr, one line
            raise UsageError(f"{path}: unknown key(s): {', '.join(sorted(map(repr, unknown)))}")
        for key, value in data.items():
            if key in CHOICES and value not in CHOICES[key]:
                raise UsageError(f"{path}: {key} must be one of {', '.join(CHOICES[key])}, not {value!r}")
            if key in ("protect", "unprotect"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise UsageError(f"{path}: {key} must be a list of package names")
                merged.setdefault(key, set()).update(canonical_name(v) for v in value)
            elif key == "allow_build" and not isinstance(value, bool):
                raise UsageError(f"{path}: allow_build must be true or false, not {value!r}")
            else:
                merged[key] = value
        used.append(str(path))
    return merged, used


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
