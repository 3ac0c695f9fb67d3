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

from .errors import GuardError

EXIT_BLOCK = 1
DISABLE_VAR = "GUARD_DISABLE"
DISABLE_FLAG = "--guard-disable"
ACTIVE_VAR = "GUARD_ACTIVE"  # set for the pip the guard runs, so the hooks let it through


def safety_constraints(snapshot, policy) -> list[str]:
    """``name==version`` for every protected conda-owned distribution in the env."""
    from .policy import protected_conda_versions

    return [f"{name}=={version}" for name, version in protected_conda_versions(snapshot, policy).items()]


def safety_constraints_from_conda_meta(prefix: Path, policy) -> list[str]:
    """The same pins read from ``conda-meta`` alone (no interpreter, no cache): the fallback when
    the snapshot itself cannot be taken. The dist's name and version come from the name of the
    metadata directory the conda record lists."""
    from .environment import _read_conda_meta
    from .remembered import dist_of_dir

    pins = {}
    for record in _read_conda_meta(Path(prefix) / "conda-meta", Path(prefix), None, []):
        for dist_dir in record.dist_dirs:
            name, version = dist_of_dir(dist_dir)
            if policy.is_protected(name) and version:
                pins[name] = f"{name}=={version}"
    return [pins[n] for n in sorted(pins)]


def write_safety_constraints(prefix: Path, environ: Mapping[str, str], pins: Sequence[str]) -> Path:
    """Write the pins to this env's state directory (atomically) and return the file. pip splits
    ``PIP_CONSTRAINT`` on whitespace, so a state directory whose path has any goes to the temp
    directory instead."""
    from .journal import state_dir

    directory = state_dir(prefix, environ)
    if any(c.isspace() for c in str(directory)):
        import tempfile

        directory = Path(tempfile.gettempdir()) / f"conda-pip-guard-{os.getuid()}" / directory.name
    safety = directory / "safety-constraints.txt"
    safety.parent.mkdir(parents=True, exist_ok=True)
    tmp = safety.with_name(f".{safety.name}.{os.getpid()}.tmp")
    tmp.write_text("# conda-pip-guard safety net: protected conda-owned distributions stay as they are\n"
                   + "".join(p + "\n" for p in pins), encoding="utf-8")
    os.replace(tmp, safety)
    return safety


def pip_env_with_safety_net(environ: Mapping[str, str], config_constraints: Sequence[str], safety: str) -> dict:
    env = dict(environ)
    env["PIP_CONSTRAINT"] = " ".join([*config_constraints, safety])
    env[ACTIVE_VAR] = "1"
    return env


def insert_after_subcommand(argv: Sequence[str], extra: Sequence[str]) -> list[str]:
    """``argv`` with ``extra`` options right after pip's subcommand word, found the way pip reads
    its general options (``pip --cache-dir install install x`` has it at index 2); the first
    ``install`` word when pip would reject the general options anyway."""
    from .pip_hook import subcommand_index

    argv = list(argv)
    i = subcommand_index(argv)
    if i is None:
        i = argv.index("install") if "install" in argv else len(argv) - 1
    return argv[: i + 1] + list(extra) + argv[i + 1:]


def argv_with_constraint(argv: Sequence[str], safety: str) -> list[str]:
    return insert_after_subcommand(argv, ["-c", safety])


def has_cli_constraint(argv: Sequence[str]) -> bool:
    """Whether the command line gives ``-c`` itself (then pip ignores configured constraints)."""
    for a in argv:
        if a in ("-c", "--constraint") or a.startswith("--constraint=") or (a.startswith("-c") and not a.startswith("--")):
            return True
    return False


HOOK_VARS = ("GUARD_REAL_PIP", "GUARD_PIP_PYTHON", "GUARD_PREFIX")


def real_pip_command(prefix: Path, environ: Mapping[str, str]) -> list[str]:
    """The pip the user meant: the ``python [options] -m pip`` the hook caught
    (``$GUARD_PIP_PYTHON``, a JSON list), the script the shim found next on PATH
    (``$GUARD_REAL_PIP``), else the env's ``python -m pip``."""
    hooked = environ.get("GUARD_PIP_PYTHON")
    if hooked:
        import json

        try:
            cmd = json.loads(hooked)
        except ValueError:
            cmd = None
        if isinstance(cmd, list) and cmd and all(isinstance(c, str) for c in cmd):
            return cmd
    if environ.get("GUARD_REAL_PIP"):
        return [environ["GUARD_REAL_PIP"]]
    from .interpreter import find_interpreter

    try:
        python = str(find_interpreter(prefix))
    except GuardError:  # no interpreter there: ours, and pip will say more
        python = sys.executable
    return [python, "-m", "pip"]


def pip_environ(environ: Mapping[str, str]) -> dict:
    """The environment pip runs with: the user's, with ``GUARD_ACTIVE=1`` (so that the hooks let
    this pip, and any pip it starts, through) and without the hooks' hand-over variables."""
    env = {k: v for k, v in environ.items() if k not in HOOK_VARS}
    env[ACTIVE_VAR] = "1"
    return env


def exec_pip(cmd: Sequence[str], env: Mapping[str, str]) -> None:
    """Replace this process by pip (no extra process in the pass-through path)."""
    sys.stdout.flush()
    sys.stderr.flush()
    exe = cmd[0] if os.path.sep in cmd[0] else (shutil.which(cmd[0]) or cmd[0])
    try:
        os.execve(exe, list(cmd), dict(env))
    except OSError as exc:
        raise GuardError(f"cannot run pip ({cmd[0]}): {exc}") from None


REDIRECT_FLAG = "--guard-redirect"  # redirect a blocked install to conda (policy on_block: redirect)
YES_FLAG = "--guard-yes"  # with a redirect: run it without asking (scripts)
GUARD_FLAGS = (DISABLE_FLAG, REDIRECT_FLAG, YES_FLAG)


def strip_guard_flags(argv: Sequence[str]) -> tuple[list[str], set]:
    """pip's argv without the guard's own flags, and the flags that were there."""
    rest = [a for a in argv if a not in GUARD_FLAGS]
    return rest, {a for a in argv if a in GUARD_FLAGS}


def is_disabled(environ: Mapping[str, str]) -> bool:
    return (environ.get(DISABLE_VAR) or "").strip().lower() in ("1", "true", "yes", "on")
