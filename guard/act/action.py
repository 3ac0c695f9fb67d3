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
from collections.abc import Mapping, Sequence
from pathlib import Path

from guard.errors import GuardError

EXIT_BLOCK = 1
DISABLE_VAR = "GUARD_DISABLE"
DISABLE_FLAG = "--guard-disable"
ACTIVE_VAR = "GUARD_ACTIVE"  # set for the pip the guard runs, so the hooks let it through


def safety_constraints(snapshot, policy) -> list[str]:
    """``name==version`` for every protected conda-owned distribution in the env and, while conda
    provides the CUDA runtime, ``name<0`` (no release satisfies it) for every known PyPI CUDA wheel
    the env does not have: pip then cannot add CUDA libraries beside conda's even when the
    simulation could not run (the ``cuda-wheel-beside-conda-cuda`` rule, enforced by pip itself)."""
    from guard.policy.rules import conda_cuda_runtime, protected_conda_versions

    pins = [f"{name}=={version}" for name, version in protected_conda_versions(snapshot, policy).items()]
    if conda_cuda_runtime(snapshot) is not None:
        pins += cuda_exclusions(snapshot.dists)
    return pins


def cuda_exclusions(installed) -> list[str]:
    """``name<0`` for each known PyPI CUDA runtime wheel not in ``installed`` (names)."""
    from guard.policy.names import known_pypi_cuda_wheels

    return [f"{name}<0" for name in known_pypi_cuda_wheels() if name not in installed]


def safety_constraints_from_conda_meta(prefix: Path, policy) -> list[str]:
    """The same pins read from ``conda-meta`` alone (no interpreter, no cache): the fallback when
    the snapshot itself cannot be taken. The dist's name and version come from the name of the
    metadata directory the conda record lists; for a record that cannot be read, from its file
    name (``numpy-1.26.4-py311_0.json``: a wrong pin makes pip fail, never change numpy)."""
    from guard.act.remembered import dist_of_dir
    from guard.environment.conda_meta import read_conda_meta

    pins = {}
    records, anomalies = read_conda_meta(Path(prefix))
    for record in records:
        for dist_dir in record.dist_dirs:
            name, version = dist_of_dir(dist_dir)
            if policy.is_protected(name) and version:
                pins[name] = f"{name}=={version}"
    for anomaly in anomalies:
        from_file_name = os.path.basename(anomaly.path)[: -len(".json")].rsplit("-", 2)[1:2]
        for name in anomaly.names:
            if policy.is_protected(name) and from_file_name and name not in pins:
                pins[name] = f"{name}=={from_file_name[0]}"
    from guard.policy.names import conda_cuda_runtime_names

    result = [pins[n] for n in sorted(pins)]
    if conda_cuda_runtime_names() & {r.name for r in records}:
        # without a snapshot, pip-installed CUDA wheels are not known: only conda's are spared
        result += cuda_exclusions({dist_of_dir(d)[0] for r in records for d in r.dist_dirs})
    return result


def write_safety_constraints(prefix: Path, environ: Mapping[str, str], pins: Sequence[str]) -> Path:
    """Write the pins (atomically, mode 0600) and return the file (see :func:`place_safety_constraints`)."""
    return place_safety_constraints(prefix, environ, pins)[0]


def place_safety_constraints(prefix: Path, environ: Mapping[str, str], pins: Sequence[str]) -> tuple[Path, str | None]:
    """Write the pins to this env's state directory (atomically, mode 0600): ``(file, None)``.

    pip splits ``PIP_CONSTRAINT`` on whitespace, so a state directory whose path has any goes to
    the user's private temporary directory (:func:`guard.private_files.user_temp_dir`) instead;
    so does a state directory that cannot be written (read-only, full, not a directory): then
    ``(file, why the state directory failed)``. Raises ``OSError`` only when neither works."""
    from guard.act.journal import state_dir
    from guard.private_files import user_temp_dir, write_private

    data = (
        "# conda-pip-guard safety net: protected conda-owned distributions stay as they are\n"
        + "".join(p + "\n" for p in pins)
    ).encode("utf-8")
    directory = state_dir(prefix, environ)
    name = "safety-constraints.txt"
    problem = None
    if not any(c.isspace() for c in str(directory)):
        try:
            return write_private(directory / name, data), None
        except OSError as exc:
            problem = f"{directory}: {exc.strerror or exc}"
    fallback = user_temp_dir() / f"{directory.name}-{name}"
    if any(c.isspace() for c in str(fallback)):
        raise OSError(f"no directory without whitespace for the safety net ({fallback})")
    return write_private(fallback, data), problem


def pip_env_with_safety_net(environ: Mapping[str, str], config_constraints: Sequence[str], safety: str) -> dict:
    env = dict(environ)
    env["PIP_CONSTRAINT"] = " ".join([*config_constraints, safety])
    env[ACTIVE_VAR] = "1"
    return env


HOOK_VARS = ("GUARD_REAL_PIP", "GUARD_PIP_PYTHON", "GUARD_PREFIX")


class NoPipError(GuardError):
    """The environment pip would change has no pip of its own: the guard runs no other pip (it
    would change another environment than the one judged). Exit 127, as for a command not found."""

    exit_code = 127


def _same_dir(a: str, b: str) -> bool:
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _in_dir(path: str, directory: Path) -> bool:
    """``path`` is in ``directory``, by its own name (a venv's ``bin/python`` links elsewhere) or
    by what it links to (``/usr/local/bin/python3 -> /opt/conda/bin/python3.11``)."""
    return _same_dir(os.path.dirname(path), str(directory)) or _same_dir(
        os.path.dirname(os.path.realpath(path)), str(directory)
    )


def _scripts_dir(prefix: Path) -> Path:
    return Path(prefix) / ("Scripts" if os.name == "nt" else "bin")


def env_python(prefix: Path) -> Path | None:
    """The env's own interpreter, found by name only (no Python starts)."""
    names = ("python.exe",) if os.name == "nt" else ("python", "python3")
    for d in ((Path(prefix),) if os.name == "nt" else ()) + (_scripts_dir(prefix),):
        for name in names:
            if (d / name).is_file() and os.access(d / name, os.X_OK):
                return d / name
    return None


def env_has_pip_module(prefix: Path) -> bool:
    """Whether the env's site-packages holds pip (``python -m pip`` works), by a directory look."""
    prefix = Path(prefix)
    candidates = [prefix / "Lib" / "site-packages" / "pip"] if os.name == "nt" else []
    candidates += list(prefix.glob("lib/python*/site-packages/pip"))
    return any((c / "__main__.py").is_file() for c in candidates)


def real_pip_command(prefix: Path, environ: Mapping[str, str], name: str = "pip") -> list[str]:
    """The pip that changes ``prefix``, and no other: the env the guard judges and the pip it runs
    are always the same env.

    The ``python [options] -m pip`` the hook caught (``$GUARD_PIP_PYTHON``, a JSON list) when that
    python is the env's; the script the shim found (``$GUARD_REAL_PIP``) when it is in the env's
    scripts directory; else the env's own ``pip`` entry point (``name`` first: ``pip3.11``), else
    ``<env>/bin/python -m pip`` when pip is installed there. Raises ``NoPipError`` (one line) when
    the env has no pip at all: a pip found elsewhere (``/usr/bin/pip``, ``~/.local/bin/pip``)
    would change another environment."""
    scripts = _scripts_dir(prefix)
    hooked = environ.get("GUARD_PIP_PYTHON")
    if hooked:
        import json

        try:
            cmd = json.loads(hooked)
        except ValueError:
            cmd = None
        if (
            isinstance(cmd, list)
            and cmd
            and all(isinstance(c, str) for c in cmd)
            and os.path.isabs(cmd[0])
            and _in_dir(cmd[0], scripts)
        ):
            return cmd
    real = environ.get("GUARD_REAL_PIP")
    if real and os.path.isfile(real) and _in_dir(os.path.abspath(real), scripts):
        return [os.path.abspath(real)]
    for entry in dict.fromkeys((name, "pip", "pip3")):
        script = scripts / entry
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)]
    python = env_python(prefix)
    if python is not None and env_has_pip_module(prefix):
        return [str(python), "-m", "pip"]
    raise NoPipError(
        f"the environment {prefix} has no pip (no {scripts / 'pip'}, and its python has no pip "
        "module): install pip there with conda; no other pip runs in its place"
    )


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


def run_pip(cmd: Sequence[str], env: Mapping[str, str]) -> int:
    """Run pip as a child process and return its exit status (``128 + N`` when a signal ``N``
    ended it, as a shell reports it), so that the guard can check the environment afterwards.

    SIGTERM and SIGHUP sent to the guard are passed on to pip. SIGINT too, except when the guard
    runs in the terminal's foreground process group: pip is in that group as well and got the
    Ctrl-C from the terminal itself (a second one would interrupt pip's own clean-up). pip stays
    in the guard's process group, so it can still prompt on the terminal."""
    import signal
    import subprocess

    sys.stdout.flush()
    sys.stderr.flush()
    exe = cmd[0] if os.path.sep in cmd[0] else (shutil.which(cmd[0]) or cmd[0])
    try:
        child = subprocess.Popen([exe, *cmd[1:]], env=dict(env))
    except OSError as exc:
        raise GuardError(f"cannot run pip ({cmd[0]}): {exc.strerror or exc}") from None

    def forward(signum, _frame):
        if signum == signal.SIGINT and _in_foreground():
            return
        try:
            child.send_signal(signum)
        except OSError:
            pass

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, forward)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        while True:
            try:
                status = child.wait()
                break
            except KeyboardInterrupt:  # pragma: no cover - the handler above replaces the default
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - status if status < 0 else status


def _in_foreground() -> bool:
    """Whether this process is in its controlling terminal's foreground process group."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


REDIRECT_FLAG = "--guard-redirect"  # redirect a blocked install to conda (policy on_block: redirect)
YES_FLAG = "--guard-yes"  # with a redirect: run it without asking (scripts)
GUARD_FLAGS = (DISABLE_FLAG, REDIRECT_FLAG, YES_FLAG)


def strip_guard_flags(argv: Sequence[str]) -> tuple[list[str], set]:
    """pip's argv without the guard's own flags, and the flags that were there."""
    rest = [a for a in argv if a not in GUARD_FLAGS]
    return rest, {a for a in argv if a in GUARD_FLAGS}


def is_disabled(environ: Mapping[str, str]) -> bool:
    return (environ.get(DISABLE_VAR) or "").strip().lower() in ("1", "true", "yes", "on")
