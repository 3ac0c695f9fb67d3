"""The test environments are real: rattler's conda-meta records own the dists, the prefix's python
imports them, and real pip sees them with the versions the records say."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.conda_prefix import (
    CPU_ENV,
    ML_CUDA_ENV,
    PLAIN_ENV,
    PY_MAJOR_MINOR,
    PY_NODOT,
    PYTORCH_CHANNEL_ENV,
    SITE_PACKAGES,
    CondaPkg,
    Dist,
    Scenario,
    build_prefix,
    pip_install_into,
    run_pip,
)
from tests.support.wheels import build_wheel


def records(prefix: Path) -> dict[str, dict]:
    return {rec["name"]: rec for rec in (json.loads(p.read_text()) for p in (prefix / "conda-meta").glob("*.json"))}


def oracle_list(oracle_pip: Path, prefix: Path, env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run(
        [str(oracle_pip), "-m", "pip", "--python", str(prefix / "bin" / "python"), "list", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return {d["name"].lower(): d["version"] for d in json.loads(out.stdout)}


def test_records_own_the_dist_metadata_dirs(ml_env: Path) -> None:
    recs = records(ml_env)
    torch = recs["pytorch"]
    assert torch["build"].startswith(f"cuda126_mkl_py{PY_NODOT}_") and torch["build_number"] == 303
    assert "__cuda" in torch["depends"] and "pytorch-cpu <0.0a0" in torch["constrains"]
    assert f"{SITE_PACKAGES}/torch-2.5.1.dist-info/METADATA" in torch["files"]
    assert f"{SITE_PACKAGES}/numpy-1.26.4.dist-info/RECORD" in recs["numpy"]["files"]
    # noarch: python packages are relocated into the venv's site-packages
    assert f"{SITE_PACKAGES}/requests-2.32.3.dist-info/METADATA" in recs["requests"]["files"]
    assert recs["requests"]["noarch"] == "python"
    assert "lib/libcudart.so.12" in recs["cuda-cudart"]["files"]
    assert recs["numpy"]["channel"].endswith("/conda-forge/")
    assert recs["pytorch"]["requested_specs"] == ["pytorch ==2.5.1 cuda*"]
    assert recs["python"]["files"] == []
    # conda-build writes INSTALLER as 5 bytes: "conda"
    assert (ml_env / SITE_PACKAGES / "torch-2.5.1.dist-info" / "INSTALLER").read_bytes() == b"conda"
    # the pip-installed dist is in site-packages but in no record
    assert (ml_env / SITE_PACKAGES / "six-1.16.0.dist-info" / "INSTALLER").read_text() == "pip\n"
    assert not any("six" in f for rec in recs.values() for f in rec["files"])


def test_pytorch_channel_ships_torch_as_egg_info(conda_env) -> None:
    prefix = conda_env(PYTORCH_CHANNEL_ENV)
    recs = records(prefix)
    assert recs["pytorch"]["build"] == f"py{PY_MAJOR_MINOR}_cuda11.8_cudnn8.7.0_0"
    assert recs["pytorch"]["channel"].endswith("/pytorch/")
    assert recs["cuda-cudart"]["channel"].endswith("/nvidia/") and recs["cuda-cudart"]["version"] == "11.8.89"
    assert recs["pytorch-mutex"]["build"] == "cuda"
    egg = f"{SITE_PACKAGES}/torch-2.1.2-py{PY_MAJOR_MINOR}.egg-info"
    assert f"{egg}/PKG-INFO" in recs["pytorch"]["files"]
    out = subprocess.run(
        [
            str(prefix / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('torch')); print(m.requires('torch'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    version, requires = out.stdout.splitlines()
    assert version == "2.1.2" and "'sympy'" in requires and 'opt-einsum>=3.3; extra == "opt-einsum"' in requires


def test_prefix_python_imports_the_stub_modules(ml_env: Path) -> None:
    out = subprocess.run(
        [
            str(ml_env / "bin" / "python"),
            "-c",
            "import numpy, torch, torch.version, PIL, yaml; print(torch.__version__, torch.version.cuda, numpy.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["2.5.1", "12.6", "1.26.4"]


@pytest.mark.parametrize("scenario", [ML_CUDA_ENV, PYTORCH_CHANNEL_ENV, CPU_ENV, PLAIN_ENV], ids=lambda s: s.name)
def test_real_pip_sees_what_the_records_say(scenario: Scenario, conda_env, oracle_pip: Path, pip_env) -> None:
    prefix = conda_env(scenario)
    seen = oracle_list(oracle_pip, prefix, pip_env)
    expected = {
        p.dist.project.lower(): p.dist.version
        for p in scenario.packages
        if p.dist is not None and p.name in records(prefix)
    }
    expected.update({d.project.lower(): d.version for d in scenario.pip_dists})
    assert seen == expected  # no pip: with_pip defaults to False


def test_with_pip_gives_the_prefix_its_own_pip(conda_env) -> None:
    prefix = conda_env(PLAIN_ENV, with_pip=True)
    for cmd in ([prefix / "bin" / "python", "-m", "pip", "--version"], [prefix / "bin" / "pip", "--version"]):
        out = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, check=True)
        assert f"{prefix / SITE_PACKAGES / 'pip'}" in out.stdout


def test_pip_env_hides_this_machines_pip_config(oracle_pip: Path, pip_env) -> None:
    out = subprocess.run(
        [str(oracle_pip), "-m", "pip", "config", "list"], capture_output=True, text=True, env=pip_env, check=True
    )
    # only what pip_env sets itself: no site/global file (/etc/xdg/pip), no PIP_* from this machine
    assert out.stdout.splitlines() == [
        ":env:.config-file='/dev/null'",
        ":env:.disable-pip-version-check='1'",
        ":env:.no-input='1'",
    ]
    assert set(pip_env) == {"PATH", "HOME", "LANG", "PIP_CONFIG_FILE", "PIP_DISABLE_PIP_VERSION_CHECK", "PIP_NO_INPUT"}


def test_pip_installs_a_built_wheel_over_a_conda_dist(conda_env, tmp_path: Path) -> None:
    prefix = conda_env(PLAIN_ENV)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy", "2.1.3", requires_python=">=3.10")
    build_wheel(wheels, "guard-demo", "1.0", requires_dist=("numpy>=2",))
    out = pip_install_into(prefix, "--no-index", "--find-links", str(wheels), "guard-demo")
    assert out.returncode == 0, out.stderr
    listed = json.loads(run_pip(prefix, "list", "--format", "json").stdout)
    assert {d["name"]: d["version"] for d in listed} == {"guard-demo": "1.0", "numpy": "2.1.3"}
    # pip removed the conda-owned dist-info: the record now points at files that are gone
    assert not (prefix / SITE_PACKAGES / "numpy-1.26.4.dist-info").exists()
    assert f"{SITE_PACKAGES}/numpy-1.26.4.dist-info/RECORD" in records(prefix)["numpy"]["files"]


def test_build_prefix_accepts_ad_hoc_packages(tmp_path: Path, conda_channel_root: Path) -> None:
    pkgs = (
        *PLAIN_ENV.packages,
        CondaPkg(
            "tiny",
            "0.1",
            "pyhd8ed1ab_0",
            depends=("python >=3.9",),
            dist=Dist("tiny", "0.1", installer=None),
            subdir="noarch",
        ),
    )
    prefix = build_prefix(tmp_path / "p", pkgs, [f"python {PY_MAJOR_MINOR}.*", "tiny"], channel_root=conda_channel_root)
    assert not (prefix / SITE_PACKAGES / "tiny-0.1.dist-info" / "INSTALLER").exists()
    assert (prefix / SITE_PACKAGES / "tiny" / "__init__.py").read_text() == "__version__ = '0.1'\n"
    assert "numpy" not in records(prefix)
