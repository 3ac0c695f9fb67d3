"""Shims, the `python -m pip` hook and the safety net, on a real conda prefix with real pip.

Every scenario: a real conda env (`plain`: conda-forge numpy 1.26.4, pip beside it), the shims
installed with `guard shims install`, a command typed in a real shell (bash, dash, zsh), and what
happened on disk. Installs read wheels built here (`--no-index --find-links`), which both pip and
the guard's simulation understand; nothing leaves the machine. Each subprocess gets a
config-isolated pip (`PIP_CONFIG_FILE=/dev/null`, no inherited PIP_*), and HOME/XDG_* inside
tmp_path, where the guard keeps its cache and journal.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from guard.integrate import shims as shims_mod
from guard.integrate.pip_hook import UNSURE, pip_subcommand, python_module_argv
from tests.support.conda_prefix import PY_MAJOR_MINOR, SITE_PACKAGES, clean_pip_env
from tests.support.wheels import build_wheel

GUARD_EXE = str(Path(sys.executable).parent / "guard")
SHELLS = [
    pytest.param(s, marks=pytest.mark.skipif(shutil.which(s) is None, reason=f"{s} not installed"))
    for s in ("bash", "dash", "zsh")
]
ACTIVATE = f"etc/conda/activate.d/{shims_mod.SCRIPT_NAME}.sh"
DEACTIVATE = f"etc/conda/deactivate.d/{shims_mod.SCRIPT_NAME}.sh"


# ---- scenario pieces ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wheels(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("wheels")
    build_wheel(d, "numpy", "2.0.0")
    build_wheel(d, "richy", "1.0.0")
    build_wheel(d, "needsnp", "1.0.0", requires_dist=["numpy>=2"])
    return d


@pytest.fixture
def env_prefix(conda_env) -> Path:
    """A real conda env with pip and the guard's shims and hooks installed by the real CLI."""
    prefix = conda_env("plain", with_pip=True)
    out = subprocess.run(
        [GUARD_EXE, "shims", "install", "--prefix", str(prefix)],
        capture_output=True,
        text=True,
        env=_base_env(prefix.parent / "install-home"),
    )
    assert out.returncode == 0, out.stderr
    return prefix


def _base_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = clean_pip_env(home)
    env.update(
        XDG_CACHE_HOME=str(home / ".cache"), XDG_STATE_HOME=str(home / ".state"), XDG_CONFIG_HOME=str(home / ".config")
    )
    return env


def activated_env(tmp_path: Path, prefix: Path, *before_bin: Path) -> dict[str, str]:
    """The environment of a shell in which `conda activate` ran: the env's bin first on PATH, then
    (by its activate.d script, sourced in the shell by `shell_run`) the shims before it."""
    env = _base_env(tmp_path / "home")
    env["PATH"] = os.pathsep.join([*map(str, before_bin), str(prefix / "bin"), os.environ.get("PATH", "/usr/bin:/bin")])
    env["CONDA_PREFIX"] = str(prefix)
    env["CONDA_SHLVL"] = "1"
    return env


def shell_run(shell: str, prefix: Path, script: str, env: dict, activate: bool = True) -> subprocess.CompletedProcess:
    if activate:
        script = f'. "{prefix / ACTIVATE}"\n{script}'
    return subprocess.run([shell, "-c", script], capture_output=True, text=True, env=env, timeout=300)


def tree_hashes(root: Path) -> dict[str, str]:
    """Every path under root -> its kind, mode and content hash (symlinks: their target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                value = "link:" + os.readlink(p)
            elif stat.S_ISDIR(st.st_mode):
                value = f"dir:{st.st_mode:o}"
            else:
                value = f"file:{st.st_mode:o}:" + hashlib.sha256(p.read_bytes()).hexdigest()
            out[str(p.relative_to(root))] = value
    return out


def numpy_state(prefix: Path) -> dict[str, str]:
    """numpy's files and the conda-meta records, hashed."""
    site = prefix / SITE_PACKAGES
    state = {}
    for sub in ("numpy", "numpy-1.26.4.dist-info"):
        state.update({f"{sub}/{k}": v for k, v in tree_hashes(site / sub).items()})
    state.update({f"conda-meta/{k}": v for k, v in tree_hashes(prefix / "conda-meta").items()})
    return state


def installed_version(prefix: Path, module: str) -> str | None:
    out = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", f"import {module}; print({module}.__version__)"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "GUARD_ACTIVE": "1"},
    )
    return out.stdout.strip() if out.returncode == 0 else None


def journal(tmp_path: Path) -> list[dict]:
    files = list((tmp_path / "home" / ".state" / "conda-pip-guard" / "envs").glob("*/journal.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def local(wheels: Path) -> str:
    return f"--no-index --find-links '{wheels}'"


# ---- pip through the shims ---------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_blocked_install_leaves_numpy_and_conda_meta_untouched(shell, env_prefix, wheels, tmp_path):
    before = numpy_state(env_prefix)
    out = shell_run(shell, env_prefix, f"pip install {local(wheels)} numpy==2.0.0", activated_env(tmp_path, env_prefix))
    assert out.returncode == 1, out.stderr
    assert "conda-pip-guard: blocked." in out.stderr
    assert "pip would upgrade numpy 1.26.4 -> 2.0.0" in out.stderr
    assert numpy_state(env_prefix) == before
    assert installed_version(env_prefix, "numpy") == "1.26.4"
    assert [e["verdict"] for e in journal(tmp_path)] == ["block"]


@pytest.mark.parametrize("shell", SHELLS)
def test_allowed_install_really_installs_and_passes_pip_output_through(shell, env_prefix, wheels, tmp_path):
    out = shell_run(shell, env_prefix, f"pip install {local(wheels)} richy", activated_env(tmp_path, env_prefix))
    assert out.returncode == 0, out.stderr
    assert "Successfully installed richy-1.0.0" in out.stdout
    assert installed_version(env_prefix, "richy") == "1.0.0"
    assert installed_version(env_prefix, "numpy") == "1.26.4"


def test_a_dependency_that_would_replace_numpy_is_blocked(env_prefix, wheels, tmp_path):
    out = shell_run("sh", env_prefix, f"pip3 install {local(wheels)} needsnp", activated_env(tmp_path, env_prefix))
    assert out.returncode == 1
    assert "needsnp 1.0.0 requires numpy>=2" in out.stderr
    assert installed_version(env_prefix, "needsnp") is None


@pytest.mark.parametrize(
    "how",
    [
        "python -m pip",
        "python -mpip",
        "python -Im pip",
        "python -X utf8 -m pip",
        f"python{PY_MAJOR_MINOR} -m pip",
    ],
)
def test_python_m_pip_is_blocked_the_same_way(how, env_prefix, wheels, tmp_path):
    before = numpy_state(env_prefix)
    out = shell_run(
        "bash", env_prefix, f"{how} install {local(wheels)} numpy==2.0.0", activated_env(tmp_path, env_prefix)
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "conda-pip-guard: blocked." in out.stderr
    assert numpy_state(env_prefix) == before


def test_jupyter_percent_pip_style_is_blocked_and_allowed_installs_work(env_prefix, wheels, tmp_path):
    """IPython's %pip runs `{sys.executable} -m pip ...` through the shell, from the kernel."""
    kernel = (
        "import os, sys\n"
        f"blocked = os.system(sys.executable + {' -m pip install ' + local(wheels) + ' numpy==2.0.0'!r})\n"
        f"allowed = os.system(sys.executable + {' -m pip install ' + local(wheels) + ' richy'!r})\n"
        "print(os.waitstatus_to_exitcode(blocked), os.waitstatus_to_exitcode(allowed))\n"
    )
    env = activated_env(tmp_path, env_prefix)  # no shims on PATH: the kernel's own python
    out = subprocess.run([str(env_prefix / "bin" / "python"), "-c", kernel], capture_output=True, text=True, env=env)
    assert out.stdout.split()[-2:] == ["1", "0"], out.stderr
    assert installed_version(env_prefix, "numpy") == "1.26.4"
    assert installed_version(env_prefix, "richy") == "1.0.0"


def test_env_pip_script_run_by_path_without_activation_is_guarded(env_prefix, wheels, tmp_path):
    env = _base_env(tmp_path / "home")
    out = subprocess.run(
        [str(env_prefix / "bin" / "pip"), "install", "--no-index", "--find-links", str(wheels), "numpy==2.0.0"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 1
    assert "conda-pip-guard: blocked." in out.stderr
    assert installed_version(env_prefix, "numpy") == "1.26.4"


def test_uninstall_of_a_protected_conda_package_is_blocked_others_go_through(env_prefix, wheels, tmp_path):
    env = activated_env(tmp_path, env_prefix)
    out = shell_run("dash", env_prefix, "pip uninstall -y numpy", env)
    assert out.returncode == 1
    assert "pip would remove numpy 1.26.4" in out.stderr
    assert installed_version(env_prefix, "numpy") == "1.26.4"
    assert shell_run("dash", env_prefix, f"pip install {local(wheels)} richy", env).returncode == 0
    out = shell_run("dash", env_prefix, "pip uninstall -y richy", env)
    assert out.returncode == 0, out.stderr
    assert "Successfully uninstalled richy-1.0.0" in out.stdout
    assert installed_version(env_prefix, "richy") is None


def test_python_m_pip_uninstall_of_numpy_is_blocked(env_prefix, tmp_path):
    out = subprocess.run(
        [str(env_prefix / "bin" / "python"), "-m", "pip", "uninstall", "-y", "numpy"],
        capture_output=True,
        text=True,
        env=activated_env(tmp_path, env_prefix),
    )
    assert out.returncode == 1
    assert installed_version(env_prefix, "numpy") == "1.26.4"


# ---- the safety net and the overrides ----------------------------------------------------------


def test_safety_net_holds_when_the_simulation_cannot_run(env_prefix, wheels, tmp_path):
    """The index is unreachable, so the guard cannot simulate; pip still finds needsnp in
    --find-links and would upgrade numpy to 2.0.0 for it. With the safety net it cannot."""
    cmd = f"pip install --index-url http://127.0.0.1:9/simple/ --retries 0 --timeout 1 --find-links '{wheels}' needsnp"
    env = activated_env(tmp_path, env_prefix)
    out = shell_run("bash", env_prefix, cmd, env)
    assert "could not simulate this command" in out.stderr
    assert out.returncode != 0
    assert "The user requested (constraint) numpy==1.26.4" in out.stdout + out.stderr
    assert installed_version(env_prefix, "numpy") == "1.26.4"
    assert installed_version(env_prefix, "needsnp") is None
    assert journal(tmp_path)[-1]["verdict"] == "unsimulated"

    # the control: the same command unguarded does replace numpy, so it was the net that held
    out = shell_run("bash", env_prefix, f"GUARD_DISABLE=1 {cmd}", env)
    assert out.returncode == 0, out.stderr
    assert "disabled by GUARD_DISABLE=1" in out.stderr
    assert installed_version(env_prefix, "numpy") == "2.0.0"
    assert journal(tmp_path)[-1]["verdict"] == "override"


def test_safety_net_holds_with_pip_isolated(env_prefix, wheels, tmp_path):
    """pip --isolated ignores PIP_* variables: the net then travels as -c on the command line."""
    cmd = (
        f"pip --isolated install --index-url http://127.0.0.1:9/simple/ --retries 0 --timeout 1 "
        f"--find-links '{wheels}' needsnp"
    )
    out = shell_run("bash", env_prefix, cmd, activated_env(tmp_path, env_prefix))
    assert out.returncode != 0
    assert "The user requested (constraint) numpy==1.26.4" in out.stdout + out.stderr
    assert installed_version(env_prefix, "numpy") == "1.26.4"


def test_safety_net_keeps_users_own_constraints(env_prefix, wheels, tmp_path):
    """pip's command line -c replaces configured constraints: the net is added as one more -c."""
    constraints = tmp_path / "mine.txt"
    constraints.write_text("richy==1.0.0\n")
    out = shell_run(
        "bash",
        env_prefix,
        f"pip install --index-url http://127.0.0.1:9/simple/ --retries 0 --timeout 1 "
        f"--find-links '{wheels}' -c '{constraints}' needsnp",
        activated_env(tmp_path, env_prefix),
    )
    assert out.returncode != 0
    assert installed_version(env_prefix, "numpy") == "1.26.4"


def test_guard_disable_flag_is_consumed_warned_and_journaled(env_prefix, wheels, tmp_path):
    out = shell_run(
        "zsh" if shutil.which("zsh") else "sh",
        env_prefix,
        f"pip install --guard-disable {local(wheels)} numpy==2.0.0",
        activated_env(tmp_path, env_prefix),
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("conda-pip-guard: warning: disabled by --guard-disable") == 1
    assert installed_version(env_prefix, "numpy") == "2.0.0"
    entry = journal(tmp_path)[-1]
    assert entry["verdict"] == "override" and "--guard-disable" not in entry["argv"]


# ---- the shim's own behaviour, with a fake real pip and a sentinel guard -------------------------


AWKWARD = ["a b", 'say "hi"', "it's", "*", "$HOME", "naïve ü 日本", "", "-", "--", "\\n", "x;y|z&"]


@pytest.fixture
def fake_pip(tmp_path, request) -> Path:
    """A directory with a "real pip" that records its argv, pid and GUARD_* variables as JSON.
    With ``env_prefix`` in the test, it is also that env's own ``pip``/``pip3`` (the shims and
    ``guard pip`` run the env's pip, never another one on PATH)."""
    d = tmp_path / "fakebin"
    d.mkdir()
    script = (
        f"#!{sys.executable}\nimport json, os, sys\n"
        "json.dump({'argv': sys.argv[1:], 'pid': os.getpid(),\n"
        "           'env': {k: v for k, v in os.environ.items() if k.startswith('GUARD_')}},\n"
        "          open(os.environ['ARGV_DUMP'], 'w'))\n"
    )
    dirs = [d]
    if "env_prefix" in request.fixturenames:
        dirs.append(request.getfixturevalue("env_prefix") / "bin")
    for where in dirs:
        for name in ("pip", "pip3"):
            (where / name).write_text(script)
            (where / name).chmod(0o755)
    return d


@pytest.fixture
def sentinel_guard(tmp_path) -> Path:
    g = tmp_path / "sentinel-guard"
    g.write_text(f"#!/bin/sh\necho called > '{tmp_path / 'guard-called'}'\nexit 99\n")
    g.chmod(0o755)
    return g


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("subcommand", ["show", "install"])
def test_arguments_reach_the_real_pip_byte_for_byte(shell, subcommand, env_prefix, fake_pip, tmp_path):
    env = activated_env(tmp_path, env_prefix, fake_pip)
    env["ARGV_DUMP"] = str(tmp_path / "argv.json")
    args = [subcommand, *AWKWARD]
    if subcommand == "install":
        args.insert(1, "--guard-disable")  # through guard pip to the real pip, no simulation
    quoted = " ".join("'" + a.replace("'", "'\"'\"'") + "'" for a in args)
    out = shell_run(shell, env_prefix, f"cd '{tmp_path}' && pip {quoted}", env)
    assert out.returncode == 0, out.stderr
    dump = json.loads((tmp_path / "argv.json").read_text())
    assert dump["argv"] == [a for a in args if a != "--guard-disable"]
    if subcommand == "install":
        assert dump["env"]["GUARD_ACTIVE"] == "1"
        assert "GUARD_REAL_PIP" not in dump["env"]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["list"],
        ["-v", "freeze"],
        ["--cache-dir", "install", "show", "x"],
        ["--python=/x", "show"],
        ["-qq", "download", "install"],
    ],
)
def test_pass_through_is_one_exec_and_never_starts_the_guard(
    shell, args, env_prefix, fake_pip, sentinel_guard, tmp_path
):
    env = activated_env(tmp_path, env_prefix, fake_pip)
    env.update(ARGV_DUMP=str(tmp_path / "argv.json"), GUARD_EXE=str(sentinel_guard))
    quoted = " ".join(f"'{a}'" for a in args)
    out = shell_run(shell, env_prefix, f"echo $$ > '{tmp_path / 'pid'}'; exec pip {quoted}", env)
    assert out.returncode == 0, out.stderr
    dump = json.loads((tmp_path / "argv.json").read_text())
    assert dump["argv"] == args
    # same process from the shell through the shim to the real pip: exec, no fork, no Python
    assert dump["pid"] == int((tmp_path / "pid").read_text())
    assert not (tmp_path / "guard-called").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["install", "x"],
        ["uninstall", "x"],
        ["-v", "install"],
        ["--log", "l", "install"],
        ["--verb", "list"],
        ["--pyth", "/x", "install"],
        ["list", "--guard-disable"],
        ["--timeout=3", "uninstall"],
        ["-x", "list"],
    ],
)
def test_install_uninstall_and_anything_unsure_go_to_the_guard(args, env_prefix, fake_pip, sentinel_guard, tmp_path):
    env = activated_env(tmp_path, env_prefix, fake_pip)
    env.update(ARGV_DUMP=str(tmp_path / "argv.json"), GUARD_EXE=str(sentinel_guard))
    out = shell_run("dash", env_prefix, "pip " + " ".join(f"'{a}'" for a in args), env)
    assert out.returncode == 99
    assert (tmp_path / "guard-called").exists()
    assert not (tmp_path / "argv.json").exists()


def test_shims_dir_twice_on_path_does_not_recurse(env_prefix, fake_pip, tmp_path):
    shims_dir = env_prefix / shims_mod.SHIMS_DIR
    env = activated_env(tmp_path, env_prefix)
    env["PATH"] = os.pathsep.join([str(shims_dir), str(shims_dir) + "/", str(shims_dir), str(fake_pip), env["PATH"]])
    env["ARGV_DUMP"] = str(tmp_path / "argv.json")
    out = subprocess.run(["pip", "list"], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "argv.json").read_text())["argv"] == ["list"]


def test_missing_guard_fails_closed_for_installs_only(env_prefix, fake_pip, tmp_path):
    env = activated_env(tmp_path, env_prefix, fake_pip)
    env.update(ARGV_DUMP=str(tmp_path / "argv.json"), GUARD_EXE=str(tmp_path / "no-such-guard"))
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "guard").exists())
    out = shell_run("dash", env_prefix, "pip install x", env)
    assert out.returncode == 3 and "cannot find the guard" in out.stderr
    assert not (tmp_path / "argv.json").exists()
    assert shell_run("dash", env_prefix, "pip list", env).returncode == 0
    out = shell_run("dash", env_prefix, "GUARD_DISABLE=1 pip install x", env)
    assert out.returncode == 0 and "runs unguarded" in out.stderr


# ---- activation, install, uninstall -----------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_activation_puts_shims_first_once_and_deactivation_restores_path_exactly(shell, env_prefix, tmp_path):
    """conda's order (conda/activate.py): activate exports PATH then sources activate.d;
    reactivate sources deactivate.d, re-exports the PATH it computed before, sources activate.d;
    deactivate exports PATH without the env's bin, then sources deactivate.d."""
    shims_dir = str(env_prefix / shims_mod.SHIMS_DIR)
    bin_dir = str(env_prefix / "bin")
    p0 = "/usr/local/bin:/usr/bin::/bin:/opt/with space"
    script = f"""
PATH='{p0}'; P0=$PATH
PATH={bin_dir}:$PATH; . '{env_prefix / ACTIVATE}'; echo "A=$PATH"
SAVED=$PATH; . '{env_prefix / DEACTIVATE}'; PATH=$SAVED; . '{env_prefix / ACTIVATE}'; echo "R=$PATH"
PATH=${{PATH#*{bin_dir}:}}; PATH={shims_dir}:$PATH; . '{env_prefix / DEACTIVATE}'; echo "D=$PATH"
"""
    out = subprocess.run([shell, "-c", script], capture_output=True, text=True, env={"HOME": str(tmp_path)})
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert lines["A"] == f"{shims_dir}:{bin_dir}:{p0}"
    assert lines["R"] == f"{shims_dir}:{bin_dir}:{p0}"
    assert lines["D"] == p0


def test_switching_envs_drops_the_previous_envs_shims_unless_stacked(env_prefix, tmp_path):
    other = "/envs/other/etc/conda-pip-guard/shims"
    shims_dir = str(env_prefix / shims_mod.SHIMS_DIR)
    script = f"""
PATH={other}:/envs/other/bin:/usr/bin; CONDA_SHLVL=2; . '{env_prefix / ACTIVATE}'; echo "S=$PATH"
PATH={other}:/envs/other/bin:/usr/bin; CONDA_STACKED_2=true; . '{env_prefix / ACTIVATE}'; echo "K=$PATH"
"""
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env={})
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert lines["S"] == f"{shims_dir}:/envs/other/bin:/usr/bin"
    assert lines["K"] == f"{shims_dir}:{other}:/envs/other/bin:/usr/bin"


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish not installed")
def test_fish_activation_round_trip(env_prefix):
    shims_dir = str(env_prefix / shims_mod.SHIMS_DIR)
    script = (
        f"set -gx PATH /usr/bin /bin; source '{env_prefix}/etc/conda/activate.d/conda-pip-guard.fish'; "
        f"echo A=(string join : $PATH); source '{env_prefix}/etc/conda/activate.d/conda-pip-guard.fish'; "
        f"echo B=(string join : $PATH); source '{env_prefix}/etc/conda/deactivate.d/conda-pip-guard.fish'; "
        "echo D=(string join : $PATH)"
    )
    out = subprocess.run(["fish", "--no-config", "-c", script], capture_output=True, text=True)
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert lines["A"] == lines["B"] == f"{shims_dir}:/usr/bin:/bin"
    assert lines["D"] == "/usr/bin:/bin"


@pytest.mark.skipif(shutil.which("tcsh") is None, reason="tcsh not installed")
def test_csh_activation_round_trip(env_prefix):
    shims_dir = str(env_prefix / shims_mod.SHIMS_DIR)
    script = (
        f"setenv PATH /usr/bin:/bin; source '{env_prefix}/etc/conda/activate.d/conda-pip-guard.csh'; "
        f"echo A=$PATH; source '{env_prefix}/etc/conda/activate.d/conda-pip-guard.csh'; echo B=$PATH; "
        f"source '{env_prefix}/etc/conda/deactivate.d/conda-pip-guard.csh'; echo D=$PATH"
    )
    out = subprocess.run(["tcsh", "-f", "-c", script], capture_output=True, text=True)
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert lines["A"] == lines["B"] == f"{shims_dir}:/usr/bin:/bin"
    assert lines["D"] == "/usr/bin:/bin"


def test_install_twice_then_uninstall_leaves_the_env_byte_identical(conda_env, wheels, tmp_path):
    prefix = conda_env("plain", with_pip=True)
    before = tree_hashes(prefix)
    env = _base_env(tmp_path / "home")
    cli = [GUARD_EXE, "shims"]
    first = subprocess.run([*cli, "install", "--prefix", str(prefix)], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([*cli, "install", "--prefix", str(prefix)], capture_output=True, text=True, env=env)
    assert "already up to date" in second.stdout
    status = subprocess.run([*cli, "status", "--prefix", str(prefix)], capture_output=True, text=True, env=env)
    assert status.returncode == 0, status.stdout
    assert {f"{PY_MAJOR_MINOR}"} <= {p.name[3:] for p in (prefix / shims_mod.SHIMS_DIR).glob("pip3.*")}
    # use it, so that anything a run leaves behind (bytecode caches) would show
    blocked = subprocess.run(
        [
            str(prefix / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--no-index",
            "--find-links",
            str(wheels),
            "numpy==2.0.0",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert blocked.returncode == 1
    out = subprocess.run([*cli, "uninstall", "--prefix", str(prefix)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    # running pip compiles pip's own modules (pip/**/__pycache__): that is pip's doing, not ours
    pip_pkg = f"{SITE_PACKAGES}/pip/"
    assert {
        k: v for k, v in tree_hashes(prefix).items() if not (k.startswith(pip_pkg) and "__pycache__" in k)
    } == before
    assert subprocess.run([*cli, "status", "--prefix", str(prefix)], capture_output=True, env=env).returncode == 1


def test_uninstall_never_touches_a_pep668_marker_it_did_not_write(conda_env, tmp_path):
    prefix = conda_env("plain", with_pip=True)
    marker = prefix / "lib" / f"python{PY_MAJOR_MINOR}" / "EXTERNALLY-MANAGED"
    marker.write_text("[externally-managed]\nError=conda-pypi placed this\n")
    shims_mod.install(prefix, guard_exe=GUARD_EXE)
    assert shims_mod.status(prefix, {}).externally_managed == (f"lib/python{PY_MAJOR_MINOR}/EXTERNALLY-MANAGED",)
    shims_mod.uninstall(prefix)
    assert marker.read_text().endswith("conda-pypi placed this\n")


def test_pth_hook_lets_other_python_starts_alone(env_prefix, tmp_path):
    pth = env_prefix / SITE_PACKAGES / shims_mod.PTH_NAME
    assert pth.read_text().count("\n") == 1 and pth.read_text().startswith("import sys;")
    env = _base_env(tmp_path / "home")
    out = subprocess.run(
        [str(env_prefix / "bin" / "python"), "-c", "import sys; print('pip' in sys.modules)", "install", "pip"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.stdout.strip() == "False" and out.returncode == 0


SENTINEL_HOOK = """import os
with open(os.environ["HOOK_MARK"], "a") as f:
    f.write("loaded\\n")


def run(guard_exe, prefix):
    with open(os.environ["HOOK_MARK"], "a") as f:
        f.write("run\\n")
    os._exit(0)
"""


def test_pth_hook_engages_only_for_pip_runs(env_prefix, tmp_path):
    """The .pth line loads the hook only for a `-m pip` run or the env's pip script: a script or
    module whose name merely contains `pip`, `-c`, and pip's name as a script's argument cost the
    line's string tests alone (the hook file here is a sentinel that records being loaded)."""
    (env_prefix / shims_mod.HOOK_FILE).write_text(SENTINEL_HOOK)
    work = tmp_path / "work"
    (work / "tools").mkdir(parents=True)
    (work / "pipeline.py").write_text("")
    (work / "tools" / "pip_check.py").write_text("")
    python = str(env_prefix / "bin" / "python")
    mark = tmp_path / "mark"
    env = {**_base_env(tmp_path / "home"), "HOOK_MARK": str(mark)}

    def marks(*args: str) -> list[str]:
        mark.unlink(missing_ok=True)
        subprocess.run(list(args), cwd=work, env=env, capture_output=True, timeout=120)
        return mark.read_text().split() if mark.exists() else []

    for argv in (
        [python, "pipeline.py"],
        [python, "tools/pip_check.py", "install"],
        [python, "-c", "import pipx", "pip", "install"],
        [python, "-m", "pipeline"],
        [python, "pipeline.py", "-m", "pip", "install"],
        [python, "-X", "utf8", "-m", "json.tool", "--help"],
    ):
        assert marks(*argv) == [], argv
    for argv in (
        [python, "-m", "pip", "install", "x"],
        [python, "-mpip", "install", "x"],
        [python, "-Im", "pip", "install", "x"],
        [python, "-X", "utf8", "-m", "pip.__main__", "install", "x"],
        [str(env_prefix / "bin" / "pip"), "install", "x"],
    ):
        assert marks(*argv) == ["loaded", "run"], argv


def test_pth_hook_keeps_its_bytecode_and_uninstall_removes_it(env_prefix, tmp_path):
    """The hook is loaded from a cached .pyc after the first pip start, not compiled at each; the
    cache is listed in the manifest, so uninstall removes it."""
    cache = env_prefix / shims_mod.hook_cache(PY_MAJOR_MINOR)
    env = _base_env(tmp_path / "home")
    out = subprocess.run(
        [str(env_prefix / "bin" / "python"), "-m", "pip", "--version"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert cache.is_file()
    assert shims_mod.hook_cache(PY_MAJOR_MINOR) in json.loads((env_prefix / shims_mod.MANIFEST).read_text())["files"]
    assert shims_mod.status(env_prefix, env).missing == ()
    assert shims_mod.hook_cache(PY_MAJOR_MINOR) in shims_mod.uninstall(env_prefix)
    assert not cache.exists() and not cache.parent.exists()


# ---- the parsing every layer shares ------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["install", "x"], "install"),
        (["-v", "-q", "install"], "install"),
        (["-vvq", "uninstall", "x"], "uninstall"),
        (["--python", "/p/bin/python", "install"], "install"),
        (["--pyth", "/p", "install"], "install"),  # optparse abbreviation: takes a value
        (["--log=x", "list"], "list"),
        (["--cache-dir", "install", "list"], "list"),
        (["--verb", "install"], "install"),
        (["--ver", "install"], UNSURE),  # ambiguous: --verbose, --version
        (["--no-such", "install"], UNSURE),
        (["-x", "install"], UNSURE),
        (["--verbose=1", "install"], UNSURE),
        (["--", "install"], "install"),
        ([], None),
        (["-v"], None),
    ],
)
def test_pip_subcommand_reads_general_options_like_pip(argv, expected):
    assert pip_subcommand(argv)[0] == expected


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["python", "-m", "pip", "install"], (3, "pip")),
        (["python", "-mpip", "install"], (2, "pip")),
        (["python", "-Im", "pip"], (3, "pip")),
        (["python", "-Impip"], (2, "pip")),
        (["python", "-X", "utf8", "-W", "ignore", "-m", "pip"], (7, "pip")),
        (["python", "-Xutf8", "-m", "pip"], (4, "pip")),
        (["python", "--check-hash-based-pycs", "never", "-m", "pip"], (5, "pip")),
        (["python", "-c", "-m pip"], None),
        (["python", "script.py", "-m", "pip"], None),
        (["python"], None),
    ],
)
def test_python_module_argv(argv, expected):
    assert python_module_argv(argv) == expected


def test_outside_a_conda_env_guard_pip_is_plain_pip(fake_pip, tmp_path):
    """No conda-meta: nothing is conda's to protect, so no simulation (the index here is dead)
    and the real pip gets the arguments unchanged."""
    import venv

    plain = tmp_path / "venv"
    venv.create(plain, with_pip=False)
    shutil.copy2(fake_pip / "pip", plain / "bin" / "pip")  # the venv's own pip
    env = {
        **_base_env(tmp_path / "home"),
        "ARGV_DUMP": str(tmp_path / "argv.json"),
        "GUARD_REAL_PIP": str(plain / "bin" / "pip"),
        "GUARD_PREFIX": str(plain),
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple/",
    }
    out = subprocess.run(
        [sys.executable, "-m", "guard", "pip", "install", "numpy==2.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert json.loads((tmp_path / "argv.json").read_text())["argv"] == ["install", "numpy==2.0.0"]


# ---- a guard that is gone, pip's --dry-run, counts, venvs --------------------------------------


def _not_bytecode(tree: dict[str, str]) -> dict[str, str]:
    """tree_hashes without site-packages/**/__pycache__: running the env's Python (the install's
    interpreter probe, pip, importing numpy) compiles those modules; that is not the guard's doing."""
    return {k: v for k, v in tree.items() if not (k.startswith(f"{SITE_PACKAGES}/") and "__pycache__" in k)}


def _without_guard_on_path(env: dict[str, str]) -> dict[str, str]:
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "guard").exists())
    return env


@pytest.mark.parametrize("how", ["deleted", "unreadable"])
def test_pth_line_never_raises_when_the_hook_file_is_gone(how, env_prefix, tmp_path):
    """The .pth stays while etc/conda-pip-guard/ is deleted (or its hook is not a readable file):
    every Python start whose command line mentions pip still starts quietly, pip included."""
    shutil.rmtree(env_prefix / shims_mod.GUARD_DIR)
    if how == "unreadable":
        (env_prefix / shims_mod.HOOK_FILE).mkdir(parents=True)  # open() fails with IsADirectoryError
    assert (env_prefix / SITE_PACKAGES / shims_mod.PTH_NAME).is_file()
    env = _base_env(tmp_path / "home")
    python = str(env_prefix / "bin" / "python")
    for cmd in (
        [python, "-m", "pip", "--version"],
        [python, "-c", "print('ok')", "pip"],
        [python, "-m", "pip", "list", "--disable-pip-version-check"],
    ):
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "Error processing line" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert "ok" in subprocess.run([python, "-c", "print('ok')", "pip"], capture_output=True, text=True, env=env).stdout


def _advice(stderr: str) -> str:
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if "To fix: reinstall conda-pip-guard" in line)
    return "\n".join(lines[start:])


def test_guard_gone_advice_names_every_file_and_following_it_removes_the_hooks(conda_env, wheels, tmp_path):
    """The guard executable is gone: the hook and the shims refuse the install, and both give the
    same advice, a `rm` of exactly the files `guard shims install` wrote (the .pth first), which,
    run as printed, leaves the env as it was (but for the empty directories install created)."""
    prefix = conda_env("plain", with_pip=True)
    before = _not_bytecode(tree_hashes(prefix))
    env = _base_env(tmp_path / "home")
    gone = tmp_path / "uninstalled" / "guard"
    out = subprocess.run(
        [GUARD_EXE, "shims", "install", "--prefix", str(prefix), "--guard-exe", str(gone)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    env = _without_guard_on_path(env)
    pth = prefix / SITE_PACKAGES / shims_mod.PTH_NAME

    hooked = subprocess.run(
        [
            str(prefix / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--no-index",
            "--find-links",
            str(wheels),
            "numpy==2.0.0",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert hooked.returncode == 3, hooked.stderr
    assert f"cannot find the guard ({gone}, nor guard on PATH)" in hooked.stderr
    assert "guard shims uninstall" not in hooked.stderr and "deleting" not in hooked.stderr
    advice = _advice(hooked.stderr)
    manifest = json.loads((prefix / shims_mod.MANIFEST).read_text())
    named = {str(prefix / rel) for rel in [*manifest["files"], shims_mod.MANIFEST]}
    assert advice.splitlines()[1].strip() == "rm -f -- \\"
    assert advice.splitlines()[2].strip() == f"'{pth}' \\"  # the .pth first
    assert {line.strip().rstrip(" \\").strip("'") for line in advice.splitlines()[2:]} == named
    assert installed_version(prefix, "numpy") == "1.26.4"

    shimmed = subprocess.run(
        [str(prefix / shims_mod.SHIMS_DIR / "pip"), "install", "x"],
        capture_output=True,
        text=True,
        env={**env, "PATH": f"{prefix / 'bin'}{os.pathsep}{env['PATH']}"},
    )
    assert shimmed.returncode == 3
    assert _advice(shimmed.stderr) == advice

    rm = "\n".join(line for line in advice.splitlines()[1:])
    assert subprocess.run(["sh", "-c", rm], capture_output=True).returncode == 0
    after = _not_bytecode(tree_hashes(prefix))
    created = set(after) - set(before)
    assert created and all(after[k].startswith("dir:") for k in created), sorted(created)
    assert set(after) >= set(before) and {k: after[k] for k in before} == before
    quiet = subprocess.run(
        [str(prefix / "bin" / "python"), "-m", "pip", "--version"], capture_output=True, text=True, env=env
    )
    assert quiet.returncode == 0 and quiet.stderr == ""


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["install", "--dry-run", "x"], True),
        (["install", "x", "--dry-run"], True),
        (["-v", "install", "--dry", "x"], True),  # optparse abbreviation, as pip reads it
        (["install", "--report", "-", "--dry-run", "x"], True),
        (["install", "x"], False),
        (["install", "-r", "--dry-run"], False),  # the requirements file's name
        (["install", "--", "--dry-run"], False),
        (["install", "--no-such-option", "--dry-run", "x"], True),  # pip rejects it, or a newer pip dry-runs
    ],
)
def test_is_dry_run_reads_the_install_options_like_pip(argv, expected):
    from guard.request.command import install_has_dry_run as is_dry_run

    assert is_dry_run(argv) is expected


@pytest.mark.parametrize(
    "how", ["pip install {local} numpy==2.0.0 --dry-run", "python -m pip install --dry {local} numpy==2.0.0"]
)
def test_dry_run_install_goes_straight_to_pip(how, env_prefix, wheels, tmp_path):
    """pip's --dry-run changes nothing: the guard neither simulates nor blocks it, pip reports."""
    before = numpy_state(env_prefix)
    out = shell_run(
        "dash" if shutil.which("dash") else "sh",
        env_prefix,
        how.format(local=local(wheels)),
        activated_env(tmp_path, env_prefix),
    )
    assert out.returncode == 0, out.stderr
    assert "Would install numpy-2.0.0" in out.stdout
    assert "conda-pip-guard" not in out.stderr
    assert numpy_state(env_prefix) == before and installed_version(env_prefix, "numpy") == "1.26.4"
    assert journal(tmp_path) == []
    # the same install without --dry-run is still blocked
    out = shell_run("sh", env_prefix, f"pip install {local(wheels)} numpy==2.0.0", activated_env(tmp_path, env_prefix))
    assert out.returncode == 1 and "conda-pip-guard: blocked." in out.stderr


def test_install_and_uninstall_count_the_same_files(conda_env, tmp_path):
    prefix = conda_env("plain", with_pip=True)
    before = _not_bytecode(tree_hashes(prefix))
    env = _base_env(tmp_path / "home")
    out = subprocess.run(
        [GUARD_EXE, "shims", "install", "--prefix", str(prefix)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    after = _not_bytecode(tree_hashes(prefix))
    new_files = [k for k in set(after) - set(before) if not after[k].startswith("dir:")]
    assert shims_mod.MANIFEST in new_files
    assert f"({len(new_files)} file(s) written)" in out.stdout, "\n".join(sorted(new_files))
    out = subprocess.run(
        [GUARD_EXE, "shims", "uninstall", "--prefix", str(prefix)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert f"removed {len(new_files)} file(s)" in out.stdout, out.stdout


def test_shims_install_refuses_a_plain_venv(tmp_path):
    """No conda-meta: nothing is conda's to protect (guard pip is plain pip there) and a venv's
    activate never runs etc/conda/activate.d, so install refuses in one line and writes nothing."""
    import venv

    plain = tmp_path / "venv"
    venv.create(plain, with_pip=False)
    before = tree_hashes(plain)
    out = subprocess.run(
        [GUARD_EXE, "shims", "install", "--prefix", str(plain)],
        capture_output=True,
        text=True,
        env=_base_env(tmp_path / "home"),
    )
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and "not a conda environment (no conda-meta/)" in out.stderr, out.stderr
    assert tree_hashes(plain) == before
    helped = subprocess.run([GUARD_EXE, "shims", "install", "--help"], capture_output=True, text=True)
    assert "without conda-meta/" in helped.stdout
