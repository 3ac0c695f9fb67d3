"""The action stage: run pip, block, or redirect, and record the decision in the journal.

``guard pip ARGS`` is what the shims and the ``python -m pip`` hook call:

* not ``install``/``uninstall``: pip runs at once, untouched;
* allowed: the env's real pip runs with the user's arguments byte for byte, plus a *safety net*:
  a constraints file pinning every protected conda-owned distribution at its installed version
  (given through ``PIP_CONSTRAINT``, added to the user's own configured constraints; or as one
  more ``-c`` when the command line already has ``-c``, since pip's command line replaces
  configured values), so that even a wrong simulation cannot change them;
* blocked: the explanation, nothing installed, exit 1;
* the simulation itself failed (index unreachable, a bug): pip runs with the safety net and the
  guard says so: neither failing open nor blocking everything.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Mapping, Sequence

from .errors import GuardError, UsageError

EXIT_BLOCK = 1
DISABLE_VAR = "GUARD_DISABLE"
DISABLE_FLAG = "--guard-disable"
ACTIVE_VAR = "GUARD_ACTIVE"  # set for the pip the guard runs, so the hooks let it through


def safety_constraints(snapshot, policy) -> list[str]:
    """``name==version`` for every protected conda-owned distribution in the env."""
    pins = []
    for name, dist in sorted(snapshot.dists.items()):
        if dist.owner == "conda" and policy.is_protected(name):
            pins.append(f"{name}=={dist.version}")
    return pins


def pip_env_with_safety_net(environ: Mapping[str, str], config_constraints: Sequence[str], safety: str) -> dict:
    env = dict(environ)
    env["PIP_CONSTRAINT"] = " ".join([*config_constraints, safety])
    env[ACTIVE_VAR] = "1"
    return env


def argv_with_constraint(argv: Sequence[str], safety: str) -> list[str]:
    argv = list(argv)
    i = argv.index("install") if "install" in argv else len(argv)
    return argv[: i + 1] + ["-c", safety] + argv[i + 1:]


def has_cli_constraint(argv: Sequence[str]) -> bool:
    """Whether the command line gives ``-c`` itself (then pip ignores configured constraints)."""
    for a in argv:
        if a in ("-c", "--constraint") or a.startswith("--constraint=") or (a.startswith("-c") and not a.startswith("--")):
            return True
    return False


def real_pip_command(python: str, real_pip: str | None) -> list[str]:
    """The pip the user meant: the script the shim found next on PATH, else ``python -m pip``."""
    if real_pip:
        return [real_pip]
    return [python, "-m", "pip"]


def exec_pip(cmd: Sequence[str], env: Mapping[str, str]) -> None:
    """Replace this process by pip (no extra process in the pass-through path)."""
    sys.stdout.flush()
    sys.stderr.flush()
    exe = cmd[0] if os.path.sep in cmd[0] else (shutil.which(cmd[0]) or cmd[0])
    try:
        os.execve(exe, list(cmd), dict(env))
    except OSError as exc:
        raise GuardError(f"cannot run pip ({cmd[0]}): {exc}") from None


def strip_disable_flag(argv: Sequence[str]) -> tuple[list[str], bool]:
    rest = [a for a in argv if a != DISABLE_FLAG]
    return rest, len(rest) != len(argv)


def is_disabled(environ: Mapping[str, str]) -> bool:
    return (environ.get(DISABLE_VAR) or "").strip().lower() in ("1", "true", "yes", "on")


def validate_prefix(prefix: Path) -> None:
    if not prefix.is_dir():
        raise UsageError(f"environment {prefix} does not exist")
