"""The environment pip will write to is the one judged, and the pip that runs is that env's own.

Issue 9, item 2. Scenarios on real conda envs (py-rattler), real pip, wheels built here
(`--no-index --find-links`, nothing leaves the machine), pip config-isolated:

* pip's own `--prefix OTHER` writes into OTHER and uninstalls what it replaces from the env it
  runs in (pip 26 resolves against the running env: `req_install.check_if_exists` ->
  `should_reinstall`); `--root R` the same with files under R; `--target DIR` outside the env
  changes nothing there; `--target` into the env's own site-packages does; `--user` shadows;
* a `python` from pyenv, a system Python or a plain venv first on PATH is never "the environment";
* the shims and `guard pip` run the env's own pip (`bin/python -m pip` when there is no `pip`
  entry point), never the next pip on PATH, and refuse with one line when the env has none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from guard.environment.snapshot import default_prefix
from guard.errors import EnvironmentReadError
from tests.support.conda_prefix import PY_MAJOR_MINOR, SITE_PACKAGES, Scenario, clean_pip_env, python_packages
from tests.support.wheels import build_wheel

GUARD_EXE = str(Path(sys.executable).parent / "guard")
BARE = Scenario("bare", python_packages(), (f"python {PY_MAJOR_MINOR}.*",))
"""A conda env with python and nothing else: the env pip runs in, while another holds numpy."""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("wheels")
    build_wheel(d, "numpy", "2.0.0")
    build_wheel(d, "richy", "1.0.0")
    return d


def _env(home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = clean_pip_env(home)
    env.update(
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".state"),
        XDG_CONFIG_HOME=str(home / ".config"),
        GUARD_CACHE_DIR=str(home / "guard-cache"),
    )
    env.update(extra)
    return env


def guard(*args: str, env: dict, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "guard", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def local(wheels: Path) -> list[str]:
    return ["--no-index", "--find-links", str(wheels)]


def numpy_files(prefix: Path) -> dict[str, bytes]:
    site = prefix / SITE_PACKAGES
    return {str(p.relative_to(site)): p.read_bytes() for p in sorted(site.glob("numpy*/**/*")) if p.is_file()}


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ---- pip's --prefix, --root, --target, --user ------------------------------------------------


def test_pip_prefix_into_another_conda_env_is_judged_as_that_env(conda_env, wheels, tmp_path):
    running = conda_env(BARE)
    other = conda_env("plain")
    env = _env(tmp_path / "home")
    proc = guard(
        "check",
        "--prefix",
        str(running),
        "--json",
        "--",
        *local(wheels),
        "--prefix",
        str(other),
        "numpy==2.0.0",
        env=env,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    [reason] = data["reasons"]
    assert reason["rule"] == "protected-conda-package"
    assert reason["message"].startswith(f"in {other}: pip would upgrade numpy 1.26.4 -> 2.0.0 (conda: numpy 1.26.4")
    # the same command into a directory that is no conda env: nothing protected there
    proc = guard(
        "check",
        "--prefix",
        str(running),
        "--",
        *local(wheels),
        "--prefix",
        str(tmp_path / "elsewhere"),
        "numpy==2.0.0",
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_guard_pip_with_prefix_of_another_env_leaves_its_numpy_alone(conda_env, wheels, tmp_path):
    running = conda_env(BARE, with_pip=True)
    other = conda_env("plain")
    before = numpy_files(other)
    env = _env(tmp_path / "home", GUARD_PREFIX=str(running))
    proc = subprocess.run(
        [GUARD_EXE, "pip", "install", *local(wheels), "--prefix", str(other), "numpy==2.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "conda-pip-guard: blocked." in proc.stderr and f"in {other}: pip would upgrade numpy" in proc.stderr
    assert "instead: conda install" not in proc.stderr  # a redirect would name the running env, not OTHER
    assert numpy_files(other) == before


def test_pip_root_removes_what_it_replaces_from_the_running_env(conda_env, wheels, tmp_path):
    """pip --root resolves against the running env and uninstalls from it what it replaces (checked
    with real pip in this repository's notes): a protected conda numpy would be removed."""
    prefix = conda_env("plain")
    env = _env(tmp_path / "home")
    proc = guard(
        "check",
        "--prefix",
        str(prefix),
        "--json",
        "--",
        *local(wheels),
        "--root",
        str(tmp_path / "r"),
        "numpy==2.0.0",
        env=env,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert [(c["name"], c["action"]) for c in data["changes"]] == [("numpy", "remove")]
    assert data["reasons"][0]["message"].startswith("pip would remove numpy 1.26.4")
    proc = guard(
        "check", "--prefix", str(prefix), "--", *local(wheels), "--root", str(tmp_path / "r"), "richy", env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_target_into_the_envs_own_site_packages_is_judged_in_place(conda_env, wheels, tmp_path):
    prefix = conda_env("plain")
    env = _env(tmp_path / "home")
    proc = guard(
        "check",
        "--prefix",
        str(prefix),
        "--",
        *local(wheels),
        "--no-deps",
        "--target",
        str(prefix / SITE_PACKAGES),
        "numpy==2.0.0",
        env=env,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "pip would upgrade numpy 1.26.4 -> 2.0.0" in proc.stdout


def test_cross_platform_target_outside_the_env_is_allowed_without_asking_pip(conda_env, tmp_path):
    """`--platform`/`--python-version` into a directory: nothing in the env changes. The index is
    dead, so any simulation attempt would fail: the answer must not need one."""
    prefix = conda_env("plain")
    env = _env(tmp_path / "home", PIP_INDEX_URL="http://127.0.0.1:9/simple/")
    proc = guard(
        "check",
        "--prefix",
        str(prefix),
        "--",
        "--target",
        str(tmp_path / "lambda"),
        "--platform",
        "manylinux2014_aarch64",
        "--python-version",
        "3.9",
        "--only-binary=:all:",
        "numpy==2.0.0",
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "outside the environment" in proc.stdout


def test_user_install_shadowing_conda_numpy_is_blocked(conda_env, wheels, tmp_path):
    prefix = conda_env("plain")
    env = _env(tmp_path / "home")
    proc = guard("check", "--prefix", str(prefix), "--", *local(wheels), "--user", "numpy==2.0.0", env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "pip would upgrade numpy 1.26.4 -> 2.0.0" in proc.stdout


def test_pip_python_option_names_the_env_judged(conda_env, wheels, tmp_path):
    running = conda_env(BARE)
    other = conda_env("plain")
    env = _env(tmp_path / "home", CONDA_PREFIX=str(running))
    proc = guard(
        "check", "--", "--python", str(other / "bin" / "python"), "install", *local(wheels), "numpy==2.0.0", env=env
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "pip would upgrade numpy 1.26.4 -> 2.0.0" in proc.stdout
    proc = guard(
        "check",
        "--prefix",
        str(running),
        "--",
        "--python",
        str(other / "bin" / "python"),
        "install",
        "numpy==2.0.0",
        env=env,
    )
    assert proc.returncode == 2 and "--python runs pip in" in one_line_error(proc)


# ---- which environment is active ----------------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="POSIX PATH layout")
@pytest.mark.parametrize("layout", ["pyenv", "system", "venv"])
def test_a_non_conda_python_first_on_path_is_never_the_environment(layout, tmp_path):
    root = {
        "pyenv": tmp_path / ".pyenv" / "shims",
        "system": tmp_path / "usr" / "bin",
        "venv": tmp_path / "venv" / "bin",
    }[layout]
    root.mkdir(parents=True)
    for name in ("python", "python3"):
        (root / name).write_text('#!/bin/sh\nexec /usr/bin/env -i python3 "$@"\n')
        (root / name).chmod(0o755)
    if layout == "venv":
        (root.parent / "pyvenv.cfg").write_text("home = /usr/bin\n")
    with pytest.raises(EnvironmentReadError, match=f"the python on PATH, {root}/python3, is not in a conda"):
        default_prefix({"PATH": str(root)})
    env = {"PATH": f"{root}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path), "PIP_CONFIG_FILE": os.devnull}
    proc = guard("check", "--", "numpy==2.0.0", env=env)
    assert proc.returncode == 2
    assert "no conda environment is active" in one_line_error(proc)
    proc = guard("pip", "install", "numpy==2.0.0", env=env)  # no pip of another env runs either
    assert proc.returncode == 2 and "no conda environment is active" in one_line_error(proc)
    # a conda env's python (conda-meta beside bin) is one
    (root.parent / "conda-meta").mkdir()
    assert default_prefix({"PATH": str(root)}) == root.parent


# ---- the pip that runs is the env's own -------------------------------------------------------------


@pytest.fixture
def foreign_pip(tmp_path) -> Path:
    """A pip of another environment (`/usr/bin/pip`, `~/.local/bin/pip`) that records being run."""
    d = tmp_path / "foreign-bin"
    d.mkdir()
    for name in ("pip", "pip3", f"pip{PY_MAJOR_MINOR}"):
        (d / name).write_text(f"#!/bin/sh\necho ran > '{tmp_path / 'foreign-ran'}'\nexit 0\n")
        (d / name).chmod(0o755)
    return d


def test_shim_runs_the_envs_python_m_pip_when_it_has_no_pip_entry_point(conda_env, wheels, foreign_pip, tmp_path):
    prefix = conda_env("plain", with_pip=True)
    home = tmp_path / "home"
    assert (
        subprocess.run(
            [GUARD_EXE, "shims", "install", "--prefix", str(prefix)], env=_env(home), capture_output=True, text=True
        ).returncode
        == 0
    )
    for name in ("pip", f"pip{PY_MAJOR_MINOR}"):
        (prefix / "bin" / name).unlink()  # only pip3 is left
    shims = prefix / "etc" / "conda-pip-guard" / "shims"
    env = _env(home, CONDA_PREFIX=str(prefix))
    env["PATH"] = os.pathsep.join([str(shims), str(foreign_pip), str(prefix / "bin"), env["PATH"]])
    out = subprocess.run(
        ["pip", "install", *local(wheels), "richy"], env=env, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "foreign-ran").exists()
    assert list((prefix / SITE_PACKAGES).glob("richy-1.0.0.dist-info"))
    out = subprocess.run(["pip", "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and str(prefix) in out.stdout and not (tmp_path / "foreign-ran").exists()
    # the hand-over a shim of the old kind made (a foreign pip as GUARD_REAL_PIP) is not obeyed
    env = _env(home, GUARD_PREFIX=str(prefix), GUARD_REAL_PIP=str(foreign_pip / "pip"))
    out = subprocess.run(
        [GUARD_EXE, "pip", "install", "--guard-disable", *local(wheels), "richy"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "foreign-ran").exists()


def test_an_env_without_pip_is_refused_in_one_line(conda_env, foreign_pip, tmp_path):
    prefix = conda_env("plain")  # no pip at all
    env = _env(tmp_path / "home", GUARD_PREFIX=str(prefix), GUARD_REAL_PIP=str(foreign_pip / "pip"))
    env["PATH"] = os.pathsep.join([str(foreign_pip), env["PATH"]])
    out = subprocess.run([GUARD_EXE, "pip", "install", "richy"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 127
    assert "has no pip" in one_line_error(out)
    assert not (tmp_path / "foreign-ran").exists()


# ---- guard pip: the pip it runs writes where the verdict looked -----------------------------------


def test_guard_pip_cross_platform_target_runs_pip_without_the_safety_net(conda_env, wheels, tmp_path):
    """The net pins conda's numpy 1.26.4: given to a --target install, it would make pip refuse the
    numpy it is free to put in that directory."""
    prefix = conda_env("plain", with_pip=True)
    before = numpy_files(prefix)
    target = tmp_path / "lambda"
    env = _env(tmp_path / "home", GUARD_PREFIX=str(prefix))
    proc = subprocess.run(
        [
            GUARD_EXE,
            "pip",
            "install",
            *local(wheels),
            "--target",
            str(target),
            "--platform",
            "manylinux2014_aarch64",
            "--python-version",
            "3.9",
            "--only-binary=:all:",
            "numpy==2.0.0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "numpy-2.0.0.dist-info").is_dir()
    assert numpy_files(prefix) == before


def test_guard_pip_in_a_non_conda_env_still_judges_a_prefix_into_a_conda_env(conda_env, wheels, tmp_path):
    running = conda_env(BARE, with_pip=True)
    import shutil

    shutil.rmtree(running / "conda-meta")  # a plain environment with pip, nothing conda's in it
    other = conda_env("plain")
    before = numpy_files(other)
    env = _env(tmp_path / "home", GUARD_PREFIX=str(running))
    proc = subprocess.run(
        [GUARD_EXE, "pip", "install", *local(wheels), "--prefix", str(other), "numpy==2.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"in {other}: pip would upgrade numpy" in proc.stderr
    assert numpy_files(other) == before


def test_real_pip_command_is_always_the_envs_own(tmp_path):
    from guard.act.action import NoPipError, real_pip_command

    prefix, elsewhere = tmp_path / "env", tmp_path / "usr" / "bin"
    (prefix / "bin").mkdir(parents=True)
    elsewhere.mkdir(parents=True)
    for exe in (prefix / "bin" / "python", elsewhere / "pip", elsewhere / "python3"):
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    foreign = {
        "GUARD_REAL_PIP": str(elsewhere / "pip"),
        "GUARD_PIP_PYTHON": json.dumps([str(elsewhere / "python3"), "-m", "pip"]),
    }
    with pytest.raises(NoPipError, match="has no pip"):
        real_pip_command(prefix, foreign)  # no pip in the env: nothing else runs in its place
    site = prefix / "lib" / f"python{PY_MAJOR_MINOR}" / "site-packages" / "pip"
    site.mkdir(parents=True)
    (site / "__main__.py").write_text("")
    assert real_pip_command(prefix, foreign) == [str(prefix / "bin" / "python"), "-m", "pip"]
    (prefix / "bin" / "pip3").write_text("#!/bin/sh\n")
    (prefix / "bin" / "pip3").chmod(0o755)
    assert real_pip_command(prefix, foreign) == [str(prefix / "bin" / "pip3")]
    # the hook's python -m pip and the shim's script are used when they are the env's
    hooked = [str(prefix / "bin" / "python"), "-X", "utf8", "-m", "pip"]
    assert real_pip_command(prefix, {"GUARD_PIP_PYTHON": json.dumps(hooked)}) == hooked
    (elsewhere / "python-link").symlink_to(prefix / "bin" / "python")
    linked = [str(elsewhere / "python-link"), "-m", "pip"]
    assert real_pip_command(prefix, {"GUARD_PIP_PYTHON": json.dumps(linked)}) == linked
    assert real_pip_command(prefix, {"GUARD_REAL_PIP": str(prefix / "bin" / "pip3")}) == [str(prefix / "bin" / "pip3")]
