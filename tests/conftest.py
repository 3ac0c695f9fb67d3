"""Shared fixtures: real conda environments (built offline with py-rattler), the oracle pip, and a
config-isolated environment for running pip."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Callable

import pytest

from tests.support.conda_prefix import ML_CUDA_ENV, SCENARIOS, Scenario, clean_pip_env

REPO_ROOT = Path(__file__).resolve().parent.parent
ORACLE_PIP_VERSION = "26.3"


# --------------------------------------------------------------------------------------------------
# Real conda environments


@pytest.fixture(scope="session")
def conda_channel_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this session's local conda channels and package cache live; each channel set is built
    there on first use and reused by every later prefix."""
    return tmp_path_factory.mktemp("conda-channels")


CondaEnvFactory = Callable[..., Path]


@pytest.fixture
def conda_env(tmp_path: Path, conda_channel_root: Path) -> CondaEnvFactory:
    """``conda_env(scenario=ML_CUDA_ENV, with_pip=False) -> Path``: a fresh real conda prefix in
    tmp_path. ``scenario`` is a ``Scenario`` or the name of a standard one (``"ml-cuda"``,
    ``"pytorch-channel"``, ``"cpu"``, ``"plain"``)."""

    def make(scenario: Scenario | str = ML_CUDA_ENV, with_pip: bool = False) -> Path:
        if isinstance(scenario, str):
            scenario = SCENARIOS[scenario]
        dest = tmp_path / scenario.name
        n = 1
        while dest.exists():
            n += 1
            dest = tmp_path / f"{scenario.name}-{n}"
        return scenario.build(dest, with_pip=with_pip, channel_root=conda_channel_root)

    return make


@pytest.fixture
def ml_env(conda_env: CondaEnvFactory) -> Path:
    """The standard CUDA ML environment (conda-forge pytorch 2.5.1 cuda126, numpy 1.26.4, ... and
    six 1.16.0 installed by pip)."""
    return conda_env(ML_CUDA_ENV)


# --------------------------------------------------------------------------------------------------
# Running real pip


@pytest.fixture
def pip_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment for running pip: PIP_CONFIG_FILE=/dev/null, PATH, HOME in tmp_path, LANG and
    nothing else from os.environ (this machine's pip config adds a torch cap, find-links and extra
    indexes through /etc/xdg/pip and PIP_* variables)."""
    home = tmp_path / "pip-home"
    home.mkdir(exist_ok=True)
    return clean_pip_env(home)


def _pip_version(python: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(python), "-m", "pip", "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_pip_env(Path("/nonexistent")),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.split()[1] if out.returncode == 0 and out.stdout.startswith("pip ") else None


@pytest.fixture(scope="session")
def oracle_pip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a venv whose pip is the oracle version (26.3), made once under
    ``<repo>/.cache/oracle-venv`` and reused across sessions. Run it as
    ``[oracle_pip, "-m", "pip", "--python", prefix / "bin" / "python", ...]`` with ``pip_env``.
    Tests using it are skipped when pip 26.3 cannot be installed (no route to PyPI)."""
    venv_dir = REPO_ROOT / ".cache" / "oracle-venv"
    python = venv_dir / "bin" / "python"
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(venv_dir.parent / "oracle-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _pip_version(python) == ORACLE_PIP_VERSION:
            return python
        shutil.rmtree(venv_dir, ignore_errors=True)
        venv.create(venv_dir, with_pip=False)
        home = tmp_path_factory.mktemp("oracle-pip-home")
        out = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "install", f"pip=={ORACLE_PIP_VERSION}"],
            capture_output=True,
            text=True,
            timeout=300,
            env=clean_pip_env(home),
        )
        if out.returncode != 0 or _pip_version(python) != ORACLE_PIP_VERSION:
            shutil.rmtree(venv_dir, ignore_errors=True)
            last = (out.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"oracle pip {ORACLE_PIP_VERSION} could not be installed from PyPI: {last}")
    return python
