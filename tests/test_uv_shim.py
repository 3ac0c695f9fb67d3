"""The ``uv`` shim, on a real conda prefix with the shims installed by the real CLI.

Which uv commands reach ``guard uv`` (``uv pip install|sync|uninstall``, and whatever the shim
cannot read for sure) and which are exec'ed to the real uv at once (everything else), with a fake
uv and a fake guard that record how they were called; then the real uv from the test extras, whose
pass-through output must be byte for byte its own, and the whole chain (shim, real guard, real uv).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from guard.integrate import shims as shims_mod
from tests.support.wheels import build_wheel
from tests.test_shims import GUARD_EXE, _base_env, activated_env, installed_version, numpy_state, shell_run

REAL_UV = Path(sys.executable).parent / "uv"
AWKWARD = ["a b", 'say "hi"', "it's", "*", "$HOME", "naïve ü 日本", "", "-", "--", "x;y|z&"]
RECORDER = (
    f"#!{sys.executable}\nimport json, os, sys\n"
    "json.dump({'argv': sys.argv[1:], 'pid': os.getpid(), 'exe': sys.argv[0],\n"
    "           'env': {k: v for k, v in os.environ.items() if k.startswith('GUARD_')}},\n"
    "          open(os.environ[VAR], 'w'))\n"
    "sys.exit(CODE)\n"
)


def recorder(var: str, code: int) -> str:
    """A script that records how it was called into the file named by ``$var``, then exits ``code``."""
    return RECORDER.replace("VAR", repr(var)).replace("CODE", str(code))


@pytest.fixture
def env_prefix(conda_env) -> Path:
    """A real conda env (no pip needed: uv is not the env's) with the guard's shims installed."""
    prefix = conda_env("plain")
    out = subprocess.run(
        [GUARD_EXE, "shims", "install", "--prefix", str(prefix)],
        capture_output=True,
        text=True,
        env=_base_env(prefix.parent / "install-home"),
    )
    assert out.returncode == 0, out.stderr
    return prefix


@pytest.fixture
def fake_uv(tmp_path) -> Path:
    """A directory with a "real uv" that records its argv, pid and GUARD_* variables."""
    d = tmp_path / "fakebin"
    d.mkdir()
    (d / "uv").write_text(recorder("UV_DUMP", 0))
    (d / "uv").chmod(0o755)
    return d


@pytest.fixture
def fake_guard(tmp_path) -> Path:
    g = tmp_path / "fake-guard"
    g.write_text(recorder("GUARD_DUMP", 99))
    g.chmod(0o755)
    return g


def _env(tmp_path: Path, prefix: Path, fake_uv: Path, guard: Path) -> dict[str, str]:
    env = activated_env(tmp_path, prefix, fake_uv)
    env.update(UV_DUMP=str(tmp_path / "uv.json"), GUARD_DUMP=str(tmp_path / "guard.json"), GUARD_EXE=str(guard))
    return env


def _quoted(args: list[str]) -> str:
    return " ".join("'" + a.replace("'", "'\"'\"'") + "'" for a in args)


def _dump(tmp_path: Path, name: str) -> dict | None:
    f = tmp_path / f"{name}.json"
    return json.loads(f.read_text()) if f.exists() else None


@pytest.mark.parametrize("shell", ["dash", "bash"])
@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["-V"],
        ["pip", "list"],
        ["pip", "freeze"],
        ["pip", "show", "install"],
        ["pip", "compile", "sync"],
        ["run", "python", "-c", "pass"],
        ["run", "pip", "install", "x"],
        ["add", "install"],
        ["venv"],
        ["tool", "install", "ruff"],
        ["help", "pip", "install"],
        ["pip"],
        ["-q", "pip", "list"],
        ["pip", "-vv", "list"],
        ["--directory", "install", "pip", "list"],
        ["--color=never", "--no-cache", "pip", "freeze"],
        ["pip", "--cert", "install", "list"],
    ],
)
def test_everything_but_pip_install_sync_uninstall_is_one_exec_of_the_real_uv(
    shell, args, env_prefix, fake_uv, fake_guard, tmp_path
):
    env = _env(tmp_path, env_prefix, fake_uv, fake_guard)
    out = shell_run(shell, env_prefix, f"echo $$ > '{tmp_path / 'pid'}'; exec uv {_quoted(args)}", env)
    assert out.returncode == 0, out.stderr
    dump = _dump(tmp_path, "uv")
    assert dump is not None and dump["argv"] == args
    assert dump["exe"] == str(fake_uv / "uv")
    # the shell's own process, through the shim, into the real uv: exec, no fork, no Python
    assert dump["pid"] == int((tmp_path / "pid").read_text())
    assert _dump(tmp_path, "guard") is None
    assert out.stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        ["pip", "install", "x"],
        ["pip", "sync", "requirements.txt"],
        ["pip", "uninstall", "x"],
        ["-q", "pip", "install", "x"],
        ["pip", "-q", "install", "x"],
        ["-v", "--offline", "pip", "sync", "f"],
        ["--directory", "pip", "pip", "install", "x"],
        ["--cache-dir=/c", "--project", "p", "pip", "uninstall", "x"],
        ["pip", "--cert", "c", "install", "x"],
        ["pip", "install", *AWKWARD],
        # not sure how uv reads these: the guard decides
        ["--unknown", "pip", "list"],
        ["-x", "pip", "list"],
        ["--", "pip", "list"],
        ["--quiet=1", "pip", "list"],
        ["--cert", "c", "pip", "list"],
        ["pip", "list", "--guard-disable"],
    ],
)
def test_pip_install_sync_uninstall_and_anything_unsure_reach_guard_uv_verbatim(
    args, env_prefix, fake_uv, fake_guard, tmp_path
):
    env = _env(tmp_path, env_prefix, fake_uv, fake_guard)
    out = shell_run("dash", env_prefix, f"uv {_quoted(args)}", env)
    assert out.returncode == 99, out.stderr
    assert _dump(tmp_path, "uv") is None
    dump = _dump(tmp_path, "guard")
    assert dump is not None and dump["argv"] == ["uv", *args]
    assert dump["env"]["GUARD_PREFIX"] == str(env_prefix)
    assert dump["env"]["GUARD_REAL_UV"] == str(fake_uv / "uv")


def test_shims_dirs_on_path_are_skipped_without_recursion(env_prefix, fake_uv, fake_guard, conda_env, tmp_path):
    """The env's shims directory twice (once with a trailing slash) and another env's guard shims
    before the real uv: the next uv is the real one, not a shim (no loop, no other env's guard)."""
    other = conda_env("plain")
    subprocess.run(
        [GUARD_EXE, "shims", "install", "--prefix", str(other)],
        check=True,
        capture_output=True,
        env=_base_env(tmp_path),
    )
    shims_dir = env_prefix / shims_mod.SHIMS_DIR
    env = _env(tmp_path, env_prefix, fake_uv, fake_guard)
    env["PATH"] = os.pathsep.join(
        [str(shims_dir), f"{shims_dir}/", str(other / shims_mod.SHIMS_DIR), str(shims_dir), str(fake_uv), env["PATH"]]
    )
    out = subprocess.run(["uv", "pip", "list"], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    assert _dump(tmp_path, "uv")["argv"] == ["pip", "list"]
    out = subprocess.run(["uv", "pip", "install", "x"], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 99
    assert _dump(tmp_path, "guard")["env"]["GUARD_REAL_UV"] == str(fake_uv / "uv")
    (shims_dir / shims_mod.MARKER).unlink()  # the env's own directory is known without its marker
    out = subprocess.run(["uv", "--version"], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    assert _dump(tmp_path, "uv")["argv"] == ["--version"]


def test_no_uv_on_path_falls_back_to_the_envs_own_then_exits_127(env_prefix, fake_guard, tmp_path):
    shim = str(env_prefix / shims_mod.UV_SHIM)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = _base_env(tmp_path / "home")
    env.update(PATH=f"{env_prefix / shims_mod.SHIMS_DIR}:{empty}", UV_DUMP=str(tmp_path / "uv.json"))
    env["GUARD_EXE"] = str(fake_guard)
    out = subprocess.run([shim, "--version"], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 127
    assert out.stderr.count("\n") == 1 and "no uv on PATH" in out.stderr, out.stderr
    own = env_prefix / "bin" / "uv"
    own.write_text(recorder("UV_DUMP", 0))
    own.chmod(0o755)
    out = subprocess.run([shim, "--version"], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    assert _dump(tmp_path, "uv")["exe"] == str(own)


def test_guard_gone_refuses_installs_only_and_guard_disable_runs_uv_with_one_warning(env_prefix, fake_uv, tmp_path):
    env = _env(tmp_path, env_prefix, fake_uv, tmp_path / "no-such-guard")
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "guard").exists())
    out = shell_run("dash", env_prefix, "uv pip install x", env)
    assert out.returncode == 3 and "cannot find the guard" in out.stderr
    assert "GUARD_DISABLE=1 uv ... runs it unguarded" in out.stderr
    assert str(env_prefix / shims_mod.UV_SHIM) in out.stderr  # the removal advice names the shim
    assert _dump(tmp_path, "uv") is None
    assert shell_run("dash", env_prefix, "uv pip list", env).returncode == 0
    assert _dump(tmp_path, "uv")["argv"] == ["pip", "list"]
    out = shell_run("dash", env_prefix, "GUARD_DISABLE=1 uv pip install x", env)
    assert out.returncode == 0
    assert out.stderr.count("\n") == 1 and "GUARD_DISABLE=1: uv runs unguarded" in out.stderr
    assert _dump(tmp_path, "uv")["argv"] == ["pip", "install", "x"]


def test_guard_disable_with_the_guard_present_is_the_guards_to_warn_and_journal(
    env_prefix, fake_uv, fake_guard, tmp_path
):
    env = _env(tmp_path, env_prefix, fake_uv, fake_guard)
    out = shell_run("dash", env_prefix, "GUARD_DISABLE=1 uv pip install x", env)
    assert out.returncode == 99
    assert _dump(tmp_path, "guard")["argv"] == ["uv", "pip", "install", "x"]


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["pip", "list"],
        ["pip", "freeze", "--offline"],
        ["run", "--no-project", "--offline", "python", "-c", "import sys; print(sys.prefix)"],
    ],
)
def test_real_uv_passes_through_byte_for_byte(args, env_prefix, tmp_path):
    assert REAL_UV.is_file(), "uv is in the test extras"
    env = activated_env(tmp_path, env_prefix, REAL_UV.parent)
    env.update(UV_PYTHON_DOWNLOADS="never", UV_NO_CONFIG="1", UV_CACHE_DIR=str(tmp_path / "uv-cache"))
    env["GUARD_EXE"] = str(tmp_path / "never-started")  # a guard start would fail: nothing may start it
    shimmed = shell_run("dash", env_prefix, f"cd '{tmp_path}' && uv {_quoted(args)}", env)
    bare = shell_run("dash", env_prefix, f"cd '{tmp_path}' && '{REAL_UV}' {_quoted(args)}", env, activate=False)
    assert shimmed.returncode == bare.returncode == 0, shimmed.stderr + bare.stderr
    assert (shimmed.stdout, shimmed.stderr) == (bare.stdout, bare.stderr)
    if args[0] == "run":
        assert shimmed.stdout.strip() == str(env_prefix)


def test_install_status_uninstall_cover_the_uv_shim(conda_env, tmp_path):
    prefix = conda_env("plain")
    env = _base_env(tmp_path / "home")

    def guard(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([GUARD_EXE, *args, "--prefix", str(prefix)], capture_output=True, text=True, env=env)

    assert "uv: not guarded" not in guard("shims", "status").stdout
    assert json.loads(guard("status", "--json").stdout)["uv_guard"] == {"installed": False, "path": None}
    assert "uv           not guarded (no uv shim: guard shims install)" in guard("status").stdout
    assert guard("shims", "install").returncode == 0
    shim = prefix / shims_mod.UV_SHIM
    assert os.access(shim, os.X_OK)
    assert shims_mod.UV_SHIM in json.loads((prefix / shims_mod.MANIFEST).read_text())["files"]
    assert "uv: guarded" in guard("shims", "status").stdout
    assert json.loads(guard("status", "--json").stdout)["uv_guard"] == {"installed": True, "path": str(shim)}
    assert f"uv           guarded ({shim})" in guard("status").stdout
    shim.unlink()
    st = guard("shims", "status")
    assert st.returncode == 1 and f"missing: {shims_mod.UV_SHIM}" in st.stdout and "uv: not guarded" in st.stdout
    assert guard("shims", "install").returncode == 0
    assert guard("shims", "uninstall").returncode == 0
    assert not shim.exists() and not (prefix / shims_mod.SHIMS_DIR).exists()


def test_through_the_shim_the_real_guard_judges_real_uv_installs(env_prefix, tmp_path):
    """The whole chain: the shim, the real `guard uv`, the real uv, against local wheels."""
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy", "2.0.0")
    build_wheel(wheels, "richy", "1.0.0")
    env = activated_env(tmp_path, env_prefix, REAL_UV.parent)
    env.update(UV_PYTHON_DOWNLOADS="never", UV_NO_CONFIG="1", UV_CACHE_DIR=str(tmp_path / "uv-cache"))
    local = f"--offline --no-index --find-links '{wheels}'"
    before = numpy_state(env_prefix)
    out = shell_run("dash", env_prefix, f"uv pip install {local} numpy==2.0.0", env)
    assert out.returncode == 1, out.stderr
    assert "uv would upgrade numpy 1.26.4 -> 2.0.0" in out.stderr
    assert numpy_state(env_prefix) == before
    out = shell_run("dash", env_prefix, f"uv -q pip install {local} richy", env)
    assert out.returncode == 0, out.stderr
    assert installed_version(env_prefix, "richy") == "1.0.0"
    out = shell_run("dash", env_prefix, "GUARD_DISABLE=1 uv pip uninstall richy", env)
    assert out.returncode == 0, out.stderr
    assert "GUARD_DISABLE=1: uv runs unguarded" in out.stderr
    assert installed_version(env_prefix, "richy") is None
