"""``guard pip ARGS``: what the shims and the ``python -m pip`` hook run instead of pip.

The arguments are pip's, verbatim; the guard consumes only its own flags (``--guard-disable``,
``--guard-redirect``, ``--guard-yes``). Where it runs:
pip's own ``--python``, else ``$GUARD_PREFIX`` (set by the shims and the hook), else the
environment the real pip belongs to, else the active one. Which pip (``action.real_pip_command``): always
that environment's own: ``$GUARD_PIP_PYTHON`` (the ``python [options] -m pip`` the hook caught) or
``$GUARD_REAL_PIP`` (the script the shim found) when they are the env's, else the env's ``pip``
entry point, else ``<env python> -m pip``; none: one line, exit 127, nothing runs.

Subcommands other than install/uninstall, and ``install --dry-run`` (pip changes nothing then):
pip at once (``exec``), nothing else done.
Exit status: pip's own when pip runs; 1 when blocked; 2 for the guard's own usage errors.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from guard.act import action
from guard.act.checked_run import one_line as _one_line
from guard.request.command import GUARDED_SUBCOMMANDS, PipCommand


def _err(msg: str) -> None:
    from guard.redact import redact  # messages never show credentials

    sys.stderr.write(f"conda-pip-guard: {redact(msg)}\n")
    sys.stderr.flush()


def target_prefix(environ, command: PipCommand | None = None) -> Path:
    """The environment whose pip runs: pip's ``--python`` (an interpreter or an env directory),
    else ``$GUARD_PREFIX`` (the shims and the hook name their env), else the env of
    ``$GUARD_REAL_PIP`` when it is a conda env or a venv, else the active conda env
    (``environment.default_prefix``, which never takes a pyenv or system Python for one).
    Where pip then writes (``--prefix``, ``--root``, ``--target``, ``--user``) the simulation
    decides (``guard.check.install_target``)."""
    by_python = command.python_prefix() if command is not None else None
    if by_python is not None:
        return by_python
    if environ.get("GUARD_PREFIX"):
        return Path(environ["GUARD_PREFIX"])
    real_pip = environ.get("GUARD_REAL_PIP")
    if real_pip:
        candidate = Path(os.path.abspath(real_pip)).parent.parent
        if (candidate / "conda-meta").is_dir() or (candidate / "pyvenv.cfg").is_file():
            return candidate
    from guard.environment.snapshot import default_prefix

    return default_prefix(environ)


def pip_for(prefix: Path, environ, command: PipCommand) -> list[str]:
    """The pip to run for ``prefix``: the env's own (``action.real_pip_command``). With pip's
    ``--python`` on the command line any pip changes that interpreter's env, so the guard's own pip
    stands in when that env has none."""
    try:
        return action.real_pip_command(prefix, environ)
    except action.NoPipError:
        import importlib.util

        if command.python and importlib.util.find_spec("pip") is not None:
            return [sys.executable, "-m", "pip"]
        raise


def _may_write_elsewhere(command: PipCommand, environ) -> bool:
    """Whether pip may write outside the env it runs in (``--prefix``, ``--root``, ``--target``,
    abbreviated as optparse allows, or from ``PIP_PREFIX``/``PIP_ROOT``/``PIP_TARGET``): then
    another env may be changed although this one is no conda env, and the simulation decides."""
    return command.names_location or any(environ.get(v) for v in ("PIP_PREFIX", "PIP_ROOT", "PIP_TARGET"))


def main(argv: Sequence[str]) -> int:
    environ = dict(os.environ)
    argv, flags = action.strip_guard_flags(argv)
    flag_disabled = action.DISABLE_FLAG in flags
    pip = PipCommand.parse(argv)
    command = pip.command
    from guard.errors import GuardError

    try:
        prefix = target_prefix(environ, pip)
        pip_cmd = pip_for(prefix, environ, pip)
    except GuardError as exc:  # no env to judge, or no pip of its own: one line, pip does not run
        # guard pip has no --prefix of its own (pip's --prefix says where files go): name pip's --python
        _err("error: " + str(exc).replace("or pass --prefix", "or give pip --python ENV/bin/python"))
        return exc.exit_code
    pip_env = action.pip_environ(environ)
    if command not in GUARDED_SUBCOMMANDS or pip.dry_run:
        action.exec_pip(pip_cmd + list(argv), pip_env)
    if flag_disabled or action.is_disabled(environ):
        why = action.DISABLE_FLAG if flag_disabled else f"{action.DISABLE_VAR}=1"
        _err(f"warning: disabled by {why}: pip runs unguarded")
        _journal(prefix, environ, argv, "override", [], executed=" ".join(pip_cmd + list(argv)), note=why)
        action.exec_pip(pip_cmd + list(argv), pip_env)
    return _guarded(prefix, environ, pip, pip_cmd, pip_env, flags)


def _guarded(prefix: Path, environ, pip: PipCommand, pip_cmd, pip_env, flags=frozenset()) -> int:
    argv, command = list(pip.argv), pip.command
    from guard.act.progress import progress_on_stderr
    from guard.errors import GuardError, ResolutionImpossible
    from guard.explain.render import block_text
    from guard.pipeline.check import Context, default_cache_dir, load_snapshot, simulate
    from guard.policy.config import load_policy

    # a terminal sees the wait (erased before other output); a build is said first (pip runs its code anyway)
    progress = progress_on_stderr("conda-pip-guard: simulating before pip runs", environ)
    ctx = Context(
        prefix=Path(os.path.abspath(prefix)),
        environ=environ,
        cwd=os.getcwd(),
        cache_dir=default_cache_dir(environ),
        allow_build=True,
        on_build=progress.interrupting(
            lambda why: _err(f"note: {why}: pip's dry run builds it now to judge it (runs its code)")
        ),
        progress=progress,
    )
    try:
        policy, _ = load_policy(ctx.prefix, environ)
    except GuardError as exc:  # the user's own config file is broken: say so, run nothing
        _err(f"error: {exc}")
        return exc.exit_code
    snap = None
    try:
        snap = load_snapshot(ctx)
        if not snap.is_conda and not _may_write_elsewhere(pip, environ):
            # no conda-meta: nothing here is conda's to protect; pip runs as if the guard were absent
            action.exec_pip(pip_cmd + list(argv), pip_env)
        with progress:
            result = simulate(argv, ctx, snap=snap, policy=policy)
    except ResolutionImpossible:
        if _blocked_by_damage(ctx, argv, snap, policy):
            return action.EXIT_BLOCK
        # pip would fail as well; let pip say so in its own words (with the safety net on)
        return _run_with_safety_net(ctx, pip, pip_cmd, pip_env, snap, policy, note=None)
    except Exception as exc:  # noqa: BLE001 - never fail open, never block everything
        if _blocked_by_damage(ctx, argv, snap, policy):
            return action.EXIT_BLOCK
        _err(
            f"could not simulate this command ({_one_line(exc)}); falling back to the safety net "
            "(conda's protected packages pinned at their installed versions)"
        )
        return _run_with_safety_net(ctx, pip, pip_cmd, pip_env, snap, policy, note=_one_line(exc))
    verdict = result.verdict
    entry_changes = [c.to_json(c.name in verdict.protected) for c in result.plan.changes]
    _remember(snap, policy, ctx)
    if verdict.blocked:
        from guard.redact import redact

        sys.stderr.write(redact(block_text(result)) + "\n")
        # a conda redirect names this env; pip's --prefix/--root/--target write elsewhere: none then
        instead = (
            _instead_line(result, snap, environ)
            if command == "install" and not _may_write_elsewhere(pip, environ)
            else None
        )
        if instead:
            sys.stderr.write(f"  {redact(instead)}\n")
        _journal(
            ctx.prefix,
            environ,
            argv,
            "block",
            entry_changes,
            reasons=[
                {"name": r.name, "rule": r.rule, "message": r.message, "chain": list(r.chain)} for r in verdict.reasons
            ],
        )
        if command == "install" and instead and (action.REDIRECT_FLAG in flags or policy.on_block == "redirect"):
            from guard.act.redirect import run_redirect

            return run_redirect(
                result,
                snap,
                ctx,
                yes=action.YES_FLAG in flags,
                pip_argv=list(argv),
                echo=lambda line: print(line, file=sys.stderr, flush=True),
                ask=input if sys.stdin.isatty() else None,
            )
        return action.EXIT_BLOCK
    for w in verdict.warnings:
        _err(f"warning: {w}")
    if command == "uninstall" and verdict.warnings and sys.stdin.isatty() and not pip.yes:
        answer = input("conda-pip-guard: proceed with a change conda will not know about? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            _journal(ctx.prefix, environ, argv, "declined", entry_changes)
            return action.EXIT_BLOCK
    if command == "install" and result.plan.target is not None:
        # pip --target outside the env: nothing here changes, and the net's pins would only make
        # pip refuse versions it is free to put in that directory
        _journal(ctx.prefix, environ, argv, "allow", entry_changes, executed=" ".join(pip_cmd + list(argv)))
        action.exec_pip(pip_cmd + list(argv), pip_env)
    return _run_with_safety_net(ctx, pip, pip_cmd, pip_env, snap, policy, note=None, allowed=entry_changes)


def _instead_line(result, snap, environ) -> str | None:
    """What to type instead (the conda redirect); never lets a mapping problem hide the block."""
    try:
        from guard.act.redirect import instead_line

        return instead_line(result, snap, environ)
    except Exception:  # noqa: BLE001
        return None


def _blocked_by_damage(ctx, argv, snap, policy) -> bool:
    """Unsimulated, and the environment could not be read where a protected package may hide
    (``policy.blocking_anomalies``): the safety net cannot pin what was not read, so block."""
    from guard.policy.rules import anomaly_reason, blocking_anomalies

    damaged = blocking_anomalies(snap, policy) if snap is not None and policy is not None else ()
    if not damaged:
        return False
    reasons = [anomaly_reason(a, policy) for a in damaged]
    sys.stderr.write("conda-pip-guard: blocked.\n" + "".join(f"  {r.message}\n" for r in reasons))
    _journal(
        ctx.prefix,
        ctx.environ,
        argv,
        "block",
        [],
        reasons=[{"name": r.name, "rule": r.rule, "message": r.message, "chain": []} for r in reasons],
    )
    return True


def _remember(snap, policy, ctx) -> None:
    """Keep a copy of the protected conda records before pip runs (``guard doctor`` reads it)."""
    try:
        from guard.act.remembered import remember

        remember(snap, policy, ctx.prefix, ctx.environ)
    except Exception:  # noqa: BLE001 - remembering must never stop an install
        pass


def _run_with_safety_net(ctx, pip: PipCommand, pip_cmd, pip_env, snap, policy, note, allowed=None) -> int:
    """Run pip, then check that every protected conda-owned distribution is exactly what it was
    (``_run_and_verify``). For ``install``: with the safety net, a constraints
    file pinning every protected conda-owned distribution; from the snapshot when there is one,
    else straight from conda-meta (the snapshot itself may be what failed). A pin cannot stop
    ``--force-reinstall`` or ``-I`` from replacing conda's build with the index's wheel of the same
    version, so an install that was not judged (``allowed`` is None: no simulation, or no
    resolution) and asks for a reinstall does not run while anything is protected. The journal gets
    ``unsimulated`` (``note``) or ``allow`` (``allowed``: the plan's changes) just before pip
    really runs, and nothing when it does not."""
    argv, command = list(pip.argv), pip.command

    def record() -> None:
        if note is not None:
            _journal(
                ctx.prefix, ctx.environ, argv, "unsimulated", [], note=note, executed=" ".join(pip_cmd + list(argv))
            )
        elif allowed is not None:
            _journal(ctx.prefix, ctx.environ, argv, "allow", allowed, executed=" ".join(pip_cmd + list(argv)))

    if policy is None:
        from guard.policy.rules import Policy

        policy = Policy()
    if command == "uninstall" and note is not None:
        hit = _protected_named(ctx, pip, policy)
        if hit:
            _err(
                f"blocked: {hit} was installed by conda and is protected; the uninstall could not be "
                "simulated, so it does not run (override: GUARD_DISABLE=1)"
            )
            _journal(ctx.prefix, ctx.environ, argv, "block", [], note=note)
            return action.EXIT_BLOCK
    watched = _watch(ctx, snap, policy)
    if command != "install":
        record()
        return _run_and_verify(ctx, argv, pip_cmd + list(argv), pip_env, watched, snap)
    try:
        pins = (
            action.safety_constraints(snap, policy)
            if snap is not None
            else action.safety_constraints_from_conda_meta(ctx.prefix, policy)
        )
    except Exception as exc:  # noqa: BLE001 - unreadable env: pip decides, and we said so
        _err(
            f"warning: cannot read the environment's conda records ({_one_line(exc)}); pip runs without the safety net"
        )
        pins = []
    if not pins:
        record()
        return _run_and_verify(ctx, argv, pip_cmd + list(argv), pip_env, watched, snap)
    if allowed is None:
        option = _reinstall_option(pip, ctx, snap)
        if option:
            _err(
                f"blocked: {option} with no simulation to judge it; the safety net cannot stop pip from "
                "reinstalling a protected conda package at the same version (conda's "
                f"{', '.join(p.split('==')[0] for p in pins if '==' in p)}), so pip does not run (override: GUARD_DISABLE=1)"
            )
            _journal(
                ctx.prefix,
                ctx.environ,
                argv,
                "block",
                [],
                note=note,
                reasons=[
                    {
                        "name": None,
                        "rule": "unsimulated-reinstall",
                        "chain": [],
                        "message": f"{option} could not be simulated",
                    }
                ],
            )
            return action.EXIT_BLOCK
    try:
        safety, problem = action.place_safety_constraints(ctx.prefix, ctx.environ, pins)
    except OSError as exc:  # nowhere to put the net: fail closed
        _err(
            f"blocked: the safety net cannot be written anywhere ({_one_line(exc)}); pip does not run "
            "(override: GUARD_DISABLE=1)"
        )
        return action.EXIT_BLOCK
    if problem:
        _state_warning(problem, f"pip runs with the safety net from {safety}")
    record()
    if pip.isolated or pip.cli_constraint:
        # pip --isolated ignores PIP_* variables, and a -c on the command line replaces configured
        # constraints: either way the net must travel on the command line itself
        return _run_and_verify(
            ctx, argv, pip_cmd + pip.with_options_after_subcommand(["-c", str(safety)]), pip_env, watched, snap
        )
    try:
        existing = _pip_config(ctx, snap, isolated=False).get_list("constraint")
    except Exception:  # noqa: BLE001 - the user's constraints then come only from PIP_CONSTRAINT
        existing = (ctx.environ.get("PIP_CONSTRAINT") or "").split()
    return _run_and_verify(
        ctx, argv, pip_cmd + list(argv), action.pip_env_with_safety_net(pip_env, existing, str(safety)), watched, snap
    )


def _pip_config(ctx, snap, *, isolated: bool):
    """The user's pip configuration for the env pip runs in (as pip itself would read it)."""
    from guard.request.pip_config import load_pip_config

    site_prefix = snap.interpreter.prefix if snap is not None else str(ctx.prefix)
    base_prefix = snap.interpreter.base_prefix if snap is not None else None
    return load_pip_config(site_prefix=site_prefix, base_prefix=base_prefix, environ=ctx.environ, isolated=isolated)


def _reinstall_option(pip: PipCommand, ctx, snap) -> str | None:
    """The option that makes pip reinstall what is installed (``--force-reinstall``, ``-I`` /
    ``--ignore-installed``), from pip's own reading of the command line and configuration; when
    that reading fails, from the raw words (``PipCommand.reinstall_word``) and the ``PIP_*``
    variables: unsure counts as yes."""
    try:
        from guard.request.model import InstallRequest
        from guard.request.parse import parse_pip_argv

        config = _pip_config(ctx, snap, isolated=pip.isolated)
        request = parse_pip_argv(pip.argv, config=config.values, environ=ctx.environ, cwd=ctx.cwd)
        if isinstance(request, InstallRequest):
            if request.force_reinstall:
                return "--force-reinstall"
            if request.ignore_installed:
                return "--ignore-installed"
            return None
    except Exception:  # noqa: BLE001 - fall back to the raw words below
        pass
    if pip.reinstall_word:
        return pip.reinstall_word
    for var in ("PIP_FORCE_REINSTALL", "PIP_IGNORE_INSTALLED"):
        if (ctx.environ.get(var) or "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{var}={ctx.environ[var]}"
    return None


def _watch(ctx, snap, policy) -> tuple:
    """The baseline ``checked_run.run_and_check`` compares with after pip."""
    from guard.act import checked_run

    return checked_run.watch(ctx.prefix, snap, policy, "pip", _err)


def _run_and_verify(ctx, argv, cmd, env, watched, snap) -> int:
    """Run pip, then check ``watched`` (:func:`guard.act.checked_run.run_and_check`): damage is
    said with the exact repair, journaled, exit 4."""
    from guard.act import checked_run

    python = snap.interpreter.executable if snap is not None else str(Path(ctx.prefix) / "bin" / "python")
    return checked_run.run_and_check(
        ctx.prefix,
        cmd,
        env,
        watched,
        python,
        installer="pip",
        warn=_err,
        journal=lambda verdict, changes, **extra: _journal(ctx.prefix, ctx.environ, argv, verdict, changes, **extra),
    )


def _protected_named(ctx, pip: PipCommand, policy) -> str | None:
    """A protected conda-owned distribution named on an uninstall command line (each word read as
    a requirement, ``PipCommand.named_projects``; used only when the uninstall could not be
    simulated)."""
    try:
        pinned = {p.split("==")[0] for p in action.safety_constraints_from_conda_meta(ctx.prefix, policy)}
    except Exception:  # noqa: BLE001
        return None
    return next((name for name in pip.named_projects(ctx.cwd) if name in pinned), None)


def _journal(prefix, environ, argv, verdict, changes, **extra) -> None:
    from guard.act.journal import append

    try:
        append(prefix, environ, {"argv": ["pip", *argv], "verdict": verdict, "changes": changes, **extra})
    except Exception as exc:  # noqa: BLE001 - a journal that cannot be written never stops an install
        from guard.redact import redact

        _state_warning(redact(_one_line(exc)), f"this {verdict} is not in the journal")


_STATE_WARNED: list = []


def _state_warning(problem: str, consequence: str) -> None:
    """One warning line per run for a state directory that cannot be written (read-only, full)."""
    if not _STATE_WARNED:
        _STATE_WARNED.append(problem)
        _err(f"warning: cannot write the guard's state ({problem}); {consequence}")
