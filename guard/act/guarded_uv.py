"""``guard uv ARGS``: what the ``uv`` shim runs instead of uv (ARGS: the words after ``uv``).

Guarded: ``uv pip install``, ``uv pip sync`` and ``uv pip uninstall`` aimed at a conda
environment. Everything else (``uv run``, ``uv add``, ``uv pip list``, ``--dry-run``, ...) is
``exec``ed to the real uv untouched, and so is any uv command aimed at an environment that is no
conda env (``--python`` naming a venv's interpreter, an active ``VIRTUAL_ENV``, ``--system`` when
the first ``python`` on ``PATH`` is not a conda env's) or writing outside the env
(``--target``/``--prefix`` elsewhere): not judged against the conda env.

The environment is the one uv would change, found as uv finds it (:func:`uv_target`):
``--python``/``UV_PYTHON`` naming an interpreter or env directory, ``--system``, ``VIRTUAL_ENV``,
``CONDA_PREFIX``, else ``$GUARD_PREFIX`` (the shim names its env). ``--python`` naming another
conda env judges that env against its own records, as pip's ``--python`` does. The real uv:
``$GUARD_REAL_UV`` (the shim found it), else ``$PREFIX/bin/uv``, else the first ``uv`` on
``PATH`` outside the guard's shims directories.

Judged: uv's own ``--dry-run`` (:mod:`guard.pipeline.uv_report`) turned into the guard's plan and
the policy's verdict. Allowed installs and syncs run with the safety net (``--constraints FILE``
or ``UV_CONSTRAINT``) and the check after (:mod:`guard.act.verify`), as for pip. When uv's dry run
cannot run, uv runs with the net and the guard says so; ``--reinstall`` is refused then.
Exit status: uv's own when uv runs; 1 blocked; 2 usage; 4 damaged after uv ran.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from guard.act import action
from guard.act.checked_run import one_line as _one_line
from guard.request.uv_command import UvCommand

SHIMS_PART = os.path.join("etc", "conda-pip-guard", "shims")


def _err(msg: str) -> None:
    from guard.redact import redact

    sys.stderr.write(f"conda-pip-guard: {redact(msg)}\n")
    sys.stderr.flush()


def real_uv(prefix: Path | None, environ: Mapping[str, str]) -> str:
    """``$GUARD_REAL_UV``, else ``$PREFIX/bin/uv``, else ``uv`` on ``PATH`` outside any guard shims
    directory; a :class:`GuardError` (exit 127) when there is none."""
    from guard.errors import GuardError

    if environ.get("GUARD_REAL_UV"):
        given = environ["GUARD_REAL_UV"]
        if os.access(given, os.X_OK) and not os.path.isdir(given):
            return given
        err = GuardError(f"GUARD_REAL_UV={given} is not an executable: nothing runs")
        err.exit_code = 127
        raise err
    if prefix is not None and os.access(prefix / "bin" / "uv", os.X_OK):
        return str(prefix / "bin" / "uv")
    path = os.pathsep.join(
        d for d in (environ.get("PATH") or "").split(os.pathsep) if d and not d.rstrip("/").endswith(SHIMS_PART)
    )
    found = shutil.which("uv", path=path)
    if found:
        return found
    err = GuardError("no uv found (GUARD_REAL_UV, the environment's bin/uv, PATH): nothing runs")
    err.exit_code = 127
    raise err


def _env_of(python: str, cwd: str) -> Path | None:
    """The environment an interpreter path or env directory names; None for a version request."""
    if os.sep not in python and not python.startswith("."):
        return None
    path = Path(cwd, python).expanduser()
    if path.is_dir():
        return path
    return path.parent.parent


def _same(a: Path | str, b: Path | str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _inside(path: Path, prefix: Path) -> bool:
    real, root = os.path.realpath(path), os.path.realpath(prefix)
    return real == root or real.startswith(root + os.sep)


def uv_target(cmd: UvCommand, environ: Mapping[str, str], cwd: str) -> Path:
    """The environment uv would change, found as uv finds it: ``--python`` (``UV_PYTHON``) naming
    an interpreter or env directory, ``--system`` (``UV_SYSTEM_PYTHON``): the first ``python`` on
    ``PATH``, an active ``VIRTUAL_ENV``, an active ``CONDA_PREFIX``; else ``$GUARD_PREFIX`` (the
    shim's env), else the active one. A ``--python`` that is a version request (``3.11``) does not
    change the choice. Raises :class:`GuardError` when none is found."""
    python = cmd.python or environ.get("UV_PYTHON")
    env = _env_of(python, cwd) if python else None
    if env is not None:
        return env
    if cmd.system or (environ.get("UV_SYSTEM_PYTHON") or "").lower() in ("1", "true", "yes", "on"):
        first = shutil.which("python3", path=environ.get("PATH")) or shutil.which("python", path=environ.get("PATH"))
        if first is not None:
            return Path(os.path.realpath(first)).parent.parent
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX", "GUARD_PREFIX"):
        if environ.get(var):
            return Path(environ[var])
    from guard.environment.snapshot import default_prefix

    return default_prefix(environ)


def aimed_elsewhere(cmd: UvCommand, prefix: Path, cwd: str) -> str | None:
    """Why uv writes outside ``prefix`` (``--target``/``--prefix`` elsewhere: then it runs
    unjudged), or None. Into the env itself (its prefix, its site-packages): judged."""
    for option, value in (("--target", cmd.target), ("--prefix", cmd.prefix)):
        if value and not _inside(Path(cwd, value).expanduser(), prefix):
            return f"{option} {value}"
    return None


def uv_environ(environ: Mapping[str, str]) -> dict:
    env = {k: v for k, v in environ.items() if k not in (*action.HOOK_VARS, "GUARD_REAL_UV")}
    env[action.ACTIVE_VAR] = "1"
    return env


def main(argv: Sequence[str]) -> int:
    from guard.errors import GuardError

    try:
        return _main(argv)
    except GuardError as exc:  # uv cannot be started: one line
        _err(f"error: {exc}")
        return exc.exit_code


def _main(argv: Sequence[str]) -> int:
    from guard.errors import GuardError

    environ = dict(os.environ)
    argv, flags = action.strip_guard_flags(argv)
    cmd = UvCommand.parse(argv)
    try:
        prefix = Path(os.path.abspath(uv_target(cmd, environ, os.getcwd())))
    except GuardError:
        prefix = None  # no conda env: nothing to judge
    try:
        uv = real_uv(prefix, environ)
    except GuardError as exc:
        _err(f"error: {exc}")
        return exc.exit_code
    env = uv_environ(environ)
    run = [uv, *argv]
    if not cmd.guarded or prefix is None or not (prefix / "conda-meta").is_dir():
        return _exec(run, env)  # not an install, or into no conda env (a venv, the system): uv as is
    if aimed_elsewhere(cmd, prefix, os.getcwd()) is not None:
        return _exec(run, env)  # files land outside the env: not judged against it
    if action.DISABLE_FLAG in flags or action.is_disabled(environ):
        why = action.DISABLE_FLAG if action.DISABLE_FLAG in flags else f"{action.DISABLE_VAR}=1"
        _err(f"warning: disabled by {why}: uv runs unguarded")
        journal(prefix, environ, argv, "override", [], executed=" ".join(run), note=why)
        return _exec(run, env)
    try:
        started = start_dry_run(prefix, environ, cmd, uv, os.getcwd())
    except GuardError:
        started = None  # simulate_uv tries again and says why it cannot
    return _guarded(prefix, environ, cmd, uv, env, started, flags)


def _exec(run: list[str], env: dict) -> int:
    """This process becomes uv (no return; a failure to start it raises ``GuardError``)."""
    action.exec_pip(run, env)
    return 127  # not reached


def journal(prefix, environ, argv, verdict, changes, **extra) -> None:
    from guard.act.journal import append

    try:
        append(prefix, environ, {"argv": ["uv", *argv], "verdict": verdict, "changes": changes, **extra})
    except Exception as exc:  # noqa: BLE001 - a journal that cannot be written never stops an install
        _err(f"warning: cannot write the guard's state ({exc}); this {verdict} is not in the journal")


def _env_python(prefix: Path) -> str:
    """The env's interpreter path (``bin/python3``, else ``bin/python``), without importing the
    interpreter module (packaging: 10 ms) before uv's dry run starts."""
    for name in ("python3", "python"):
        if os.path.exists(prefix / "bin" / name):
            return str(prefix / "bin" / name)
    from guard.environment.interpreter import find_interpreter

    return str(find_interpreter(prefix))  # raises the one-line error


def start_dry_run(prefix: Path, environ: Mapping[str, str], cmd: UvCommand, uv: str, cwd: str):
    """Start uv's own dry run for ``cmd`` in ``prefix`` (``simulate_uv`` waits for it): as early
    as possible, so that uv resolves while the guard imports and reads the environment."""
    from guard.pipeline import uv_report

    argv = uv_report.uv_dry_run_argv([uv], cmd, _env_python(prefix))
    return uv_report.start_uv_dry_run(argv, uv_environ(environ), cwd), time.monotonic()


def simulate_uv(
    prefix: Path,
    environ: Mapping[str, str],
    cmd: UvCommand,
    uv: str,
    policy,
    cwd: str,
    *,
    cache_dir,
    keep=None,
    started=None,
):
    """uv's own dry run for ``cmd`` in ``prefix`` (``started``: from :func:`start_dry_run`),
    judged: a :class:`guard.models.CheckResult`. uv runs while the guard reads the environment
    (the snapshot is appended to ``keep`` as soon as it is read, for a caller that falls back to
    the safety net). Raises :class:`guard.errors.SimulationError` when uv's dry run cannot run or
    fails."""
    from dataclasses import replace

    from guard.environment.snapshot import snapshot
    from guard.models import CheckResult
    from guard.pipeline import uv_report
    from guard.policy.rules import evaluate

    proc, t0 = started if started is not None else start_dry_run(prefix, environ, cmd, uv, cwd)
    try:
        snap = snapshot(prefix, cache_dir=cache_dir)
    except BaseException:
        uv_report.kill_uv_dry_run(proc)
        raise
    if keep is not None:
        keep.append(snap)
    text = uv_report.finish_uv_dry_run(proc, environ, time.monotonic() - t0)
    plan = uv_report.parse_uv_dry_run(text, snap, command=cmd.subcommand or "install", requested=cmd.requested())
    if snap.warnings:
        plan = replace(plan, warnings=(*plan.warnings, *snap.warnings))
    verdict = evaluate(plan, snap, policy)
    if verdict.blocked and any(r.name not in plan.requested for r in verdict.reasons):
        # someone pulls a blocked package in: the guard's own graph says who (uv's versions pinned)
        plan = uv_report.with_guard_chains(
            plan, cmd, snap, policy, prefix=prefix, environ=environ, cwd=cwd, cache_dir=cache_dir
        )
        verdict = evaluate(plan, snap, policy)
    return CheckResult(str(prefix), plan, verdict)


def _guarded(prefix: Path, environ: dict, cmd: UvCommand, uv: str, env: dict, started=None, flags=frozenset()) -> int:
    from guard.errors import GuardError
    from guard.pipeline.check import default_cache_dir
    from guard.policy.config import load_policy

    argv = list(cmd.argv)
    try:
        policy, _ = load_policy(prefix, environ)
    except GuardError as exc:  # the user's own config file is broken: say so, run nothing
        if started is not None:
            from guard.pipeline.uv_report import kill_uv_dry_run

            kill_uv_dry_run(started[0])
        _err(f"error: {exc}")
        return exc.exit_code
    kept: list = []
    try:
        result = simulate_uv(
            prefix,
            environ,
            cmd,
            uv,
            policy,
            os.getcwd(),
            cache_dir=default_cache_dir(environ),
            keep=kept,
            started=started,
        )
    except Exception as exc:  # noqa: BLE001 - never fail open, never block everything
        snap = kept[0] if kept else None
        _err(
            f"could not simulate this command ({_one_line(exc)}); falling back to the safety net "
            "(conda's protected packages pinned at their installed versions)"
        )
        return _run_with_safety_net(prefix, environ, cmd, uv, env, snap, policy, note=_one_line(exc))
    snap = kept[0]
    verdict = result.verdict
    changes = [c.to_json(c.name in verdict.protected) for c in result.plan.changes]
    if verdict.blocked:
        from guard.explain.render import block_text
        from guard.redact import redact

        sys.stderr.write(redact(block_text(result, installer="uv")) + "\n")
        instead = _instead_line(result, snap, environ) if cmd.subcommand == "install" else None
        if instead:
            sys.stderr.write(f"  {redact(instead)}\n")
        sys.stderr.flush()
        reasons = [
            {"name": r.name, "rule": r.rule, "message": r.message, "chain": list(r.chain)} for r in verdict.reasons
        ]
        journal(prefix, environ, argv, "block", changes, reasons=reasons)
        if instead and (action.REDIRECT_FLAG in flags or policy.on_block == "redirect"):
            return _redirect(result, snap, prefix, environ, cmd, yes=action.YES_FLAG in flags)
        return action.EXIT_BLOCK
    for w in verdict.warnings:
        _err("warning: " + w.replace("pip would ", "uv would "))
    try:
        from guard.act.remembered import remember

        remember(snap, policy, prefix, environ)
    except Exception:  # noqa: BLE001 - remembering must never stop an install
        pass
    return _run_with_safety_net(prefix, environ, cmd, uv, env, snap, policy, note=None, allowed=changes)


def _instead_line(result, snap, environ) -> str | None:
    """What to type instead (the conda step, then ``uv pip install`` for the rest); never lets a
    mapping problem hide the block."""
    try:
        from guard.act.redirect import instead_line

        return instead_line(result, snap, environ, installer="uv")
    except Exception:  # noqa: BLE001
        return None


def _redirect(result, snap, prefix: Path, environ: dict, cmd: UvCommand, *, yes: bool) -> int:
    """``--guard-redirect`` (or ``on_block: redirect``): the conda step, then the rest through
    ``guard uv pip install`` (:func:`guard.act.redirect.run_redirect`)."""
    from guard.act.redirect import run_redirect
    from guard.pipeline.check import Context, default_cache_dir

    ctx = Context(prefix, environ, os.getcwd(), default_cache_dir(environ))
    return run_redirect(
        result,
        snap,
        ctx,
        yes=yes,
        pip_argv=list(cmd.argv[cmd.subcommand_at :]),
        echo=lambda line: print(line, file=sys.stderr, flush=True),
        ask=input if sys.stdin.isatty() else None,
        installer="uv",
    )


def _run_with_safety_net(prefix, environ, cmd: UvCommand, uv, env, snap, policy, note, allowed=None) -> int:
    """Run uv with the protected conda-owned distributions pinned (``install``, ``sync``), then
    check them (:mod:`guard.act.verify`). Unsimulated (``note``): a ``--reinstall`` (a pin cannot
    stop a same-version reinstall) or an uninstall naming a protected distribution is refused."""
    argv = list(cmd.argv)
    if policy is None:
        from guard.policy.rules import Policy

        policy = Policy()
    try:
        pins = (
            action.safety_constraints(snap, policy)
            if snap is not None
            else action.safety_constraints_from_conda_meta(prefix, policy)
        )
    except Exception as exc:  # noqa: BLE001 - unreadable env: uv decides, and we said so
        _err(f"warning: cannot read the environment's conda records ({_one_line(exc)}); uv runs without the safety net")
        pins = []
    pinned = {p.split("==")[0] for p in pins if "==" in p}
    if note is not None and pinned:
        named = cmd.requested_names() if cmd.subcommand == "uninstall" else ()
        hit = next((n for n in named if n in pinned), None)
        why = (
            f"{hit} was installed by conda and is protected; the uninstall could not be simulated"
            if hit
            else f"{cmd.reinstall} with no simulation to judge it; the safety net cannot stop uv from reinstalling "
            f"a protected conda package at the same version (conda's {', '.join(sorted(pinned))})"
            if cmd.reinstall
            else None
        )
        if why:
            _err(f"blocked: {why}, so uv does not run (override: GUARD_DISABLE=1 uv pip ...)")
            journal(prefix, environ, argv, "block", [], note=note)
            return action.EXIT_BLOCK
    run = [uv, *argv]
    if cmd.subcommand != "uninstall" and pins:
        try:
            safety, problem = action.place_safety_constraints(prefix, environ, pins)
        except OSError as exc:  # nowhere to put the net: fail closed
            _err(f"blocked: the safety net cannot be written anywhere ({_one_line(exc)}); uv does not run")
            return action.EXIT_BLOCK
        if problem:
            _err(f"warning: cannot write the guard's state ({problem}); uv runs with the safety net from {safety}")
        if cmd.cli_constraint:  # a -c on the command line: uv then ignores UV_CONSTRAINT
            run = [uv, *cmd.with_options_after_subcommand(["--constraints", str(safety)])]
        else:
            env = {**env, "UV_CONSTRAINT": " ".join(filter(None, [environ.get("UV_CONSTRAINT"), str(safety)]))}
    if note is not None:
        journal(prefix, environ, argv, "unsimulated", [], note=note, executed=" ".join(run))
    else:
        journal(prefix, environ, argv, "allow", allowed or [], executed=" ".join(run))
    return _run_and_verify(prefix, environ, argv, run, env, snap, policy)


def _run_and_verify(prefix, environ, argv, run, env, snap, policy) -> int:
    """Run uv, then check conda's protected distributions (:mod:`guard.act.checked_run`, as for
    pip): damage is said with the exact repair, journaled, exit 4."""
    from guard.act import checked_run

    watched = checked_run.watch(prefix, snap, policy, "uv", _err)
    python = snap.interpreter.executable if snap is not None else str(Path(prefix) / "bin" / "python")
    return checked_run.run_and_check(
        prefix,
        run,
        env,
        watched,
        python,
        installer="uv",
        warn=_err,
        journal=lambda verdict, changes, **extra: journal(prefix, environ, argv, verdict, changes, **extra),
    )
