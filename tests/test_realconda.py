"""The conda plugin (issue 12) in the real conda CLI: conda 25.x started as a program, loading the
plugin through its entry point from the interpreter it runs on, over a local offline channel.

Each scenario: an env made by ``conda create`` from the local channel (``conda-forge``: python 3.11,
pip, numpy 1.26.4 and 2.0.0), a conda command (``conda guard``, ``conda doctor``, ``conda config
--set plugins.pip_guard auto`` then ``conda create``, ``conda env create -f``, ``conda install``
over what pip installed) and what it printed, its exit status and what is on disk afterwards. pip
reads wheels built here (``--no-index --find-links``), so nothing leaves the machine.

Runs when ``GUARD_TEST_CONDA`` names a conda executable (``/tmp/realconda/bin/conda`` from
``../shared/recipes/real-conda/setup.sh``); skips with that reason otherwise (CI: conda is not on the
package index). ``tests/support/realconda.py`` installs this checkout into conda's interpreter when
it is not there yet and gives every test its own ``CONDARC``, ``HOME`` and caches.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.realconda import (
    Conda,
    CondaInstall,
    RealCondaUnavailable,
    Result,
    conda_record,
    dist_infos,
    ensure_plugin,
    locate,
    run,
    tree_digest,
)
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.realconda

PY = "python=3.11"
SP = "lib/python3.11/site-packages"
DRIFT_CHECK = "conda-pip-guard:"  # how the health check's lines begin (after conda's ✅/❌)


# ---- the real conda, configured per test ---------------------------------------------------------


@pytest.fixture(scope="session")
def conda_install(tmp_path_factory: pytest.TempPathFactory) -> CondaInstall:
    try:
        install = locate()
        ensure_plugin(install, tmp_path_factory.mktemp("realconda-probe"))
    except RealCondaUnavailable as exc:
        pytest.skip(str(exc))
    return install


@pytest.fixture(scope="session")
def pkgs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One package cache for the session: conda extracts each channel package once."""
    return tmp_path_factory.mktemp("realconda-pkgs")


@pytest.fixture(scope="session")
def session_conda(conda_install: CondaInstall, pkgs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Conda:
    """A conda with default settings (``pip_guard`` unset, i.e. off), for the envs that tests only read."""
    return Conda(
        conda_install, tmp_path_factory.mktemp("realconda-session"), pkgs_dir, (tmp_path_factory.getbasetemp(),)
    )


@pytest.fixture
def conda(
    conda_install: CondaInstall, pkgs_dir: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Conda:
    """A conda with a configuration of this test's own (``CONDARC``, ``HOME``, guard cache in tmp_path)."""
    return Conda(conda_install, tmp_path / "conda", pkgs_dir, (tmp_path, tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels pip installs here: numpy 2.0.0 and 1.26.4 (named like the channel's conda numpy),
    ``richy``, which no conda package provides, and a CUDA 12 runtime wheel (the channel's is 11.8)."""
    d = tmp_path_factory.mktemp("realconda-wheels")
    build_wheel(d, "numpy", "2.0.0")
    build_wheel(d, "numpy", "1.26.4")
    build_wheel(d, "richy", "1.0.0")
    build_wheel(d, "nvidia-cuda-runtime-cu12", "12.4.127")
    return d


@pytest.fixture(scope="session")
def numpy_env(session_conda: Conda) -> Path:
    """``conda create -n guarded python=3.11 pip numpy=1.26.4`` (read only by the tests using it)."""
    prefix = session_conda.envs_dir / "guarded"
    session_conda.ok("create", "-y", "-q", "-n", "guarded", PY, "pip", "numpy=1.26.4")
    assert conda_record(prefix, "numpy")["version"] == "1.26.4"
    return prefix


def pip_in(conda: Conda, prefix: Path, wheels: Path, *args: str, **env: str) -> Result:
    """The env's own pip (config-isolated, offline: the wheels built here only)."""
    out = conda.run_in(
        prefix, "python", "-m", "pip", "install", "-q", "--no-index", "--find-links", wheels, *args, env=env
    )
    assert out.returncode == 0, str(out)
    return out


def lines_with(conda: Conda, out: Result, *words: str) -> list[str]:
    """The lines ``out`` printed that hold every word (case-insensitive), paths under the pytest
    directory hidden (test names in them hold such words)."""
    return [line for line in conda.said(out).splitlines() if all(w.lower() in line.lower() for w in words)]


# ---- 1. conda guard ------------------------------------------------------------------------------


def test_conda_guard_status_targets_the_prefix(session_conda: Conda, numpy_env: Path) -> None:
    out = session_conda.ok("guard", "-p", numpy_env, "status", "--json")
    status = json.loads(out.stdout)
    assert status["prefix"] == str(numpy_env)
    assert [(p["name"], p["version"], p["owner"]) for p in status["protected"]] == [("numpy", "1.26.4", "conda")]
    # the same answer as the guard's own CLI run on that prefix
    plain = session_conda.guard(numpy_env, "status", "--json")
    assert plain.returncode == 0, str(plain)
    assert json.loads(plain.stdout)["protected"] == status["protected"]


def test_conda_guard_by_name_and_active_env(session_conda: Conda, numpy_env: Path) -> None:
    by_name = session_conda.ok("guard", "-n", "guarded", "status", "--json")
    assert json.loads(by_name.stdout)["prefix"] == str(numpy_env)
    # no -n/-p: conda's target prefix, i.e. the active env (what `conda activate guarded` exports)
    active = {"CONDA_PREFIX": str(numpy_env), "CONDA_DEFAULT_ENV": "guarded", "CONDA_SHLVL": "1"}
    by_activation = session_conda.ok("guard", "status", "--json", env=active)
    assert json.loads(by_activation.stdout)["prefix"] == str(numpy_env)
    # an env conda does not know: the guard's one-line usage error, no traceback
    unknown = session_conda("guard", "-n", "no-such-env", "status")
    assert unknown.returncode == 2, str(unknown)
    assert lines_with(session_conda, unknown, "guard: error:", "no-such-env"), str(unknown)
    assert "Traceback" not in unknown.output, str(unknown)
    # the env given twice (conda's -n and the guard's own --prefix): one error, not a guess
    twice = session_conda("guard", "-n", "guarded", "status", "--prefix", numpy_env)
    assert twice.returncode == 2, str(twice)
    assert lines_with(session_conda, twice, "guard: error:"), str(twice)


def test_conda_guard_check_blocks_with_guards_exit_code(session_conda: Conda, numpy_env: Path, wheels: Path) -> None:
    pip_args = ("--no-index", "--find-links", str(wheels))
    blocked = session_conda("guard", "-p", numpy_env, "check", "--", *pip_args, "numpy==2.0.0")
    assert blocked.returncode == 1, str(blocked)
    assert lines_with(session_conda, blocked, "BLOCK", "numpy 1.26.4 -> 2.0.0"), str(blocked)
    allowed = session_conda("guard", "-p", numpy_env, "check", "--", *pip_args, "richy==1.0.0")
    assert allowed.returncode == 0, str(allowed)
    assert not lines_with(session_conda, allowed, "BLOCK"), str(allowed)
    # bad input: the guard's own usage error (exit 2), one line, no traceback
    bad = session_conda("guard", "-p", numpy_env, "check", "--no-such-option")
    assert bad.returncode == 2, str(bad)
    assert "Traceback" not in bad.output, str(bad)


def test_conda_guard_why(session_conda: Conda, numpy_env: Path, wheels: Path) -> None:
    out = session_conda.ok(
        "guard", "-p", numpy_env, "why", "numpy", "--", "--no-index", "--find-links", wheels, "numpy==2.0.0"
    )
    assert "numpy 1.26.4 is protected: conda installed it" in out.stdout, str(out)
    assert lines_with(session_conda, out, "GUARD_DISABLE=1"), str(out)


def test_conda_guard_help_lists_guard_commands(session_conda: Conda) -> None:
    out = session_conda.ok("guard", "--help")
    for command in ("check", "why", "status", "doctor"):
        assert command in out.stdout, str(out)


# ---- 2. conda doctor ----------------------------------------------------------------------------


def test_conda_doctor_clean_env_has_pip_drift_ok(session_conda: Conda, numpy_env: Path) -> None:
    out = session_conda.ok("doctor", "-p", numpy_env)
    ours = lines_with(session_conda, out, DRIFT_CHECK)
    assert ours, str(out)
    assert any("✅" in line for line in ours), str(out)
    assert not any("❌" in line for line in ours), str(out)


def test_conda_doctor_reports_drift_and_fix(conda: Conda, wheels: Path, tmp_path: Path) -> None:
    prefix = conda.create(tmp_path / "drift", PY, "pip", "numpy=1.26.4", "pytorch=2.1.2", "cuda-cudart")
    # pip replaces conda's numpy and adds a CUDA 12 runtime wheel beside conda's CUDA 11.8 (the guard
    # switched off for this one command, as a user would)
    pip_in(
        conda, prefix, wheels, "--no-deps", "--force-reinstall", "numpy==2.0.0", "nvidia-cuda-runtime-cu12",
        GUARD_DISABLE="1",
    )  # fmt: skip
    assert dist_infos(prefix, "numpy") == {"numpy-2.0.0.dist-info": "pip"}
    assert dist_infos(prefix, "nvidia_cuda_runtime_cu12") == {"nvidia_cuda_runtime_cu12-12.4.127.dist-info": "pip"}
    out = conda.ok("doctor", "-p", prefix)
    ours = lines_with(conda, out, DRIFT_CHECK)
    assert len(ours) == 1 and "❌" in ours[0], str(out)
    assert lines_with(conda, out, "numpy", "1.26.4", "2.0.0"), str(out)
    assert lines_with(conda, out, "cu12", "CUDA 11.8"), str(out)
    # the fix commands, as `guard doctor` gives them: one per problem
    fixes = [line.split("fix:", 1)[1].strip() for line in out.output.splitlines() if line.strip().startswith("fix:")]
    assert len(fixes) == 2, str(out)
    assert [f for f in fixes if "pip uninstall -y numpy" in f and "conda install" in f], str(out)
    assert [f for f in fixes if f.endswith("pip uninstall -y nvidia-cuda-runtime-cu12")], str(out)

    # the other direction on that env: conda removing its numpy would delete pip's files
    removal = conda.ok("remove", "-y", "-q", "--dry-run", "-p", prefix, "numpy")
    assert lines_with(conda, removal, "numpy 2.0.0", "pip"), str(removal)

    # the fixes, run as printed (conda from PATH), heal the env: the check is green again
    path = f"{Path(conda.install.exe).parent}:{conda.environ['PATH']}"
    for fix in fixes:
        healed = run(["sh", "-c", fix], {**conda.environ, "PATH": path})
        assert healed.returncode == 0, str(healed)
        assert not lines_with(conda, healed, "conda-pip-guard: warning"), str(healed)
    assert dist_infos(prefix, "numpy") == {"numpy-1.26.4.dist-info": "conda"}
    assert dist_infos(prefix, "nvidia_cuda_runtime_cu12") == {}
    again = conda.ok("doctor", "-p", prefix)
    ours = lines_with(conda, again, DRIFT_CHECK)
    assert len(ours) == 1 and "✅" in ours[0], str(again)

    # and `conda guard -p ENV pip install` is the guarded pip of that env: blocked, nothing changed
    blocked = conda("guard", "-p", prefix, "pip", "install", "--no-index", "--find-links", wheels, "numpy==2.0.0")
    assert blocked.returncode == 1, str(blocked)
    assert lines_with(conda, blocked, "blocked"), str(blocked)
    assert lines_with(conda, blocked, "numpy 1.26.4 -> 2.0.0"), str(blocked)
    assert dist_infos(prefix, "numpy") == {"numpy-1.26.4.dist-info": "conda"}


# ---- 3. pip_guard: auto ---------------------------------------------------------------------------


def shims_status(conda: Conda, prefix: Path) -> Result:
    return conda.guard(prefix, "shims", "status")


def guard_files(prefix: Path) -> dict[str, bytes]:
    """What `guard shims install` writes: its own directory and conda's activation hooks for it."""
    files = tree_digest(prefix / "etc" / "conda-pip-guard")
    for d in ("activate.d", "deactivate.d"):
        files.update({f"{d}/{k}": v for k, v in tree_digest(prefix / "etc" / "conda" / d).items()})
    return files


def test_pip_guard_setting_is_one_conda_config_command(conda: Conda) -> None:
    conda.ok("config", "--set", "plugins.pip_guard", "auto")
    assert yaml.safe_load(conda.user_condarc.read_text())["plugins"]["pip_guard"] == "auto"
    shown = conda.ok("config", "--show", "plugins.pip_guard", "--json")
    assert json.loads(shown.stdout)["plugins"]["pip_guard"] == "auto", str(shown)
    conda.ok("config", "--set", "plugins.pip_guard", "off")
    shown = conda.ok("config", "--show", "plugins.pip_guard", "--json")
    assert json.loads(shown.stdout)["plugins"]["pip_guard"] == "off", str(shown)


def test_pip_guard_default_off_installs_nothing(session_conda: Conda, numpy_env: Path) -> None:
    shown = session_conda.ok("config", "--show", "plugins.pip_guard", "--json")
    assert json.loads(shown.stdout)["plugins"]["pip_guard"] == "off", str(shown)
    assert not (numpy_env / "etc" / "conda-pip-guard").exists()
    assert shims_status(session_conda, numpy_env).returncode == 1


def test_pip_guard_auto_shims_every_env_idempotently(conda: Conda, tmp_path: Path, wheels: Path) -> None:
    conda.ok("config", "--set", "plugins.pip_guard", "auto")
    prefix = tmp_path / "auto"
    created = conda.ok("create", "-y", "-q", "-p", prefix, PY, "pip")
    assert len(lines_with(conda, created, "conda-pip-guard:", "guarded now")) == 1, str(created)
    st = shims_status(conda, prefix)
    assert st.returncode == 0, str(st)
    shim = prefix / "etc" / "conda-pip-guard" / "shims" / "pip"
    assert shim.is_file()
    first = guard_files(prefix)

    # conda changes the env: the shims stay as they are (silently), the remembered records follow conda
    installed = conda.ok("install", "-y", "-q", "-p", prefix, "numpy=1.26.4")
    assert not lines_with(conda, installed, "conda-pip-guard"), str(installed)
    assert shims_status(conda, prefix).returncode == 0
    assert guard_files(prefix) == first
    status = json.loads(conda.ok("guard", "-p", prefix, "status", "--json").stdout)
    assert status["shims"]["installed"] is True
    remembered = json.loads(Path(status["remembered"]["path"]).read_text())
    assert remembered["records"]["numpy"]["version"] == "1.26.4", remembered

    # and pip in that env is guarded: the shim, as an activated shell finds it first on PATH
    path = f"{shim.parent}:{prefix / 'bin'}:{conda.environ['PATH']}"
    blocked = run(
        [shim, "install", "--no-index", "--find-links", wheels, "numpy==2.0.0"],
        {**conda.environ, "PATH": path, "CONDA_PREFIX": str(prefix)},
    )
    assert blocked.returncode == 1, str(blocked)
    assert dist_infos(prefix, "numpy") == {"numpy-1.26.4.dist-info": "conda"}

    # created again over the same prefix: shims again, the same files
    conda.create(prefix, PY, "pip")
    assert shims_status(conda, prefix).returncode == 0
    assert guard_files(prefix) == first


# ---- 4. conda env create -f with a fighting pip section -----------------------------------------


def write_env_file(path: Path, conda_deps: list, pip_lines: list[str] | None) -> Path:
    deps: list = list(conda_deps)
    if pip_lines is not None:
        deps.append({"pip": pip_lines})
    path.write_text(yaml.safe_dump({"channels": ["conda-forge"], "dependencies": deps}, sort_keys=False))
    return path


def test_env_create_refuses_pip_section_replacing_conda(conda: Conda, tmp_path: Path, wheels: Path) -> None:
    env_file = write_env_file(
        tmp_path / "environment.yml",
        [PY, "pip", "numpy=1.26.4"],
        ["--no-index", f"--find-links {wheels}", "numpy==2.0.0"],
    )
    prefix = tmp_path / "fight"
    out = conda("env", "create", "-q", "-p", prefix, "-f", env_file)
    assert out.returncode != 0, str(out)
    assert "Traceback" not in out.output, str(out)
    assert lines_with(conda, out, "numpy==2.0.0", "numpy=1.26.4"), str(out)  # the pip line and conda's pin
    assert lines_with(conda, out, "GUARD_DISABLE=1"), str(out)
    assert not prefix.exists(), str(out)

    # the override: the same file, created as written (pip replaces conda's numpy)
    forced = conda.ok("env", "create", "-q", "-p", prefix, "-f", env_file, env={"GUARD_DISABLE": "1"})
    assert len(lines_with(conda, forced, "conda-pip-guard:", "GUARD_DISABLE")) == 1, str(forced)
    assert dist_infos(prefix, "numpy") == {"numpy-2.0.0.dist-info": "pip"}

    # conda env update with that file is checked the same way, before conda changes anything
    before = tree_digest(prefix / "conda-meta"), tree_digest(prefix / SP)
    update = conda("env", "update", "-q", "-p", prefix, "-f", env_file)
    assert update.returncode != 0, str(update)
    assert lines_with(conda, update, "numpy==2.0.0", "numpy=1.26.4"), str(update)
    assert (tree_digest(prefix / "conda-meta"), tree_digest(prefix / SP)) == before


def test_env_create_clean_file_is_created_and_guarded(conda: Conda, tmp_path: Path, wheels: Path) -> None:
    env_file = write_env_file(
        tmp_path / "environment.yml",
        [PY, "pip", "numpy=1.26.4"],
        ["--no-index", f"--find-links {wheels}", "richy==1.0.0"],
    )
    prefix = tmp_path / "clean"
    # pip_guard auto, set the other way conda reads settings: CONDA_PLUGINS_PIP_GUARD
    out = conda.ok("env", "create", "-q", "-p", prefix, "-f", env_file, env={"CONDA_PLUGINS_PIP_GUARD": "auto"})
    assert not lines_with(conda, out, "GUARD_DISABLE"), str(out)
    assert conda_record(prefix, "numpy")["version"] == "1.26.4"
    assert dist_infos(prefix, "richy") == {"richy-1.0.0.dist-info": "pip"}
    # pip_guard auto: `conda env create` leaves the env guarded too
    assert shims_status(conda, prefix).returncode == 0


# ---- 5. post-solve: conda over what pip installed -----------------------------------------------


def test_post_solve_over_what_pip_installed_refuse_then_warn(conda: Conda, tmp_path: Path, wheels: Path) -> None:
    # python and pip from conda; numpy 1.26.4 and richy from pip (no conda record for either)
    prefix = conda.create(tmp_path / "env", PY, "pip")
    pip_in(conda, prefix, wheels, "numpy==1.26.4", "richy==1.0.0")
    assert dist_infos(prefix, "numpy") == {"numpy-1.26.4.dist-info": "pip"}
    assert conda_record(prefix, "numpy") is None

    # refuse: conda's numpy over pip's is stopped before conda changes anything
    conda.ok("config", "--set", "plugins.pip_guard_overwrites", "refuse")
    before = tree_digest(prefix / SP), tree_digest(prefix / "conda-meta")
    refused = conda("install", "-y", "-q", "-p", prefix, "numpy=2.0.0")
    assert refused.returncode != 0, str(refused)
    assert "Traceback" not in refused.output, str(refused)
    # conda's own output never says "numpy 1.26.4" here (it plans numpy-2.0.0): the plugin does
    assert lines_with(conda, refused, "numpy 1.26.4", "pip"), str(refused)
    assert (tree_digest(prefix / SP), tree_digest(prefix / "conda-meta")) == before

    # refuse is about pip's dists only: a plan that touches none of them goes ahead, silently
    other = conda.ok("install", "-y", "-q", "-p", prefix, "cuda-version")
    assert not lines_with(conda, other, "pip"), str(other)
    assert conda_record(prefix, "cuda-version") is not None

    # warn (the default): the same plan goes ahead, with a warning naming pip's numpy
    conda.ok("config", "--set", "plugins.pip_guard_overwrites", "warn")
    warned = conda.ok("install", "-y", "-q", "-p", prefix, "numpy=2.0.0")
    assert lines_with(conda, warned, "numpy 1.26.4", "pip"), str(warned)
    assert not lines_with(conda, warned, "richy"), str(warned)  # pip's other dist: conda does not touch it
    assert conda_record(prefix, "numpy")["version"] == "2.0.0"
