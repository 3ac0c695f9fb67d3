"""CUDA-exact redirects and the CPU-over-CUDA reason (issue 13, point 3), on real conda prefixes
(conda-forge's CUDA 12.6 pytorch, the pytorch channel's CUDA 11.8 pytorch) with torch wheels
from a local --find-links directory (no index):

* ``guard check`` names a CPU wheel (``torch-2.6.0+cpu``) over conda's CUDA build, and a wheel for
  another CUDA major (``+cu126`` over CUDA 11.8, or a label-less wheel requiring
  ``nvidia-*-cu12``), as ``cuda-variant-change``, which blocks even with ``unprotect: [torch]``;
* the redirect pins the env's CUDA the way its records were built, and moves torchvision along;
* the runner checks the env after conda exited 0 and says what it found (a fake conda front end
  writes the right records, or the wrong ones).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from guard.act.redirect import run_redirect
from guard.cli.main import cli
from guard.explain.redirect import plan_redirect
from guard.pipeline.check import Context, load_snapshot, simulate
from guard.policy.variants import variant_change, wheel_variant
from tests.support.conda_prefix import ML_CUDA_ENV, PY_MAJOR_MINOR, PYTORCH_CHANNEL_ENV
from tests.support.fake_conda import install_fake_conda
from tests.support.wheels import build_wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("torch-wheels")
    build_wheel(out, "torch", "2.6.0+cpu")
    build_wheel(out, "torch", "2.6.0+cu126")
    build_wheel(out, "torch", "2.6.0+cu124")
    build_wheel(out, "torch", "2.4.0")
    build_wheel(out, "torch", "2.7.0", requires_dist=["nvidia-cublas-cu12==12.6.4.1"])
    build_wheel(out, "nvidia-cublas-cu12", "12.6.4.1")
    return out


@pytest.fixture(scope="module")
def ml_prefix(tmp_path_factory, conda_channel_root) -> Path:
    return ML_CUDA_ENV.build(tmp_path_factory.mktemp("ml") / "env", channel_root=conda_channel_root)


@pytest.fixture(scope="module")
def pt_prefix(tmp_path_factory, conda_channel_root) -> Path:
    return PYTORCH_CHANNEL_ENV.build(tmp_path_factory.mktemp("pt") / "env", channel_root=conda_channel_root)


def environ(home: Path, path_prefix: str = "") -> dict:
    return {
        "PATH": path_prefix + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "GUARD_CACHE_DIR": str(home / "cache"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }


def check(prefix: Path, wheels: Path, home: Path, *reqs: str):
    env = environ(home)
    ctx = Context(prefix=prefix, environ=env, cwd=str(prefix), cache_dir=Path(env["GUARD_CACHE_DIR"]))
    argv = ["install", "--no-index", "--find-links", str(wheels), *reqs]
    snap = load_snapshot(ctx)
    return simulate(argv, ctx, snap=snap, use_cache=False), snap, ctx, argv


def build_of(snap, name: str) -> str:
    return snap.conda_records[name].build


# ---- the reason --------------------------------------------------------------------------------


def test_cpu_wheel_over_conda_cuda_build_is_its_own_reason(ml_prefix, wheels, tmp_path):
    result, snap, _ctx, _argv = check(ml_prefix, wheels, tmp_path, "torch==2.6.0+cpu")
    reasons = [(r.name, r.rule, r.message) for r in result.verdict.reasons]
    assert reasons == [
        (
            "torch",
            "cuda-variant-change",
            "pip would upgrade torch 2.5.1 -> 2.6.0+cpu: a CPU build over conda's CUDA 12.6 build "
            f"(version label +cpu) (conda: pytorch 2.5.1 {build_of(snap, 'pytorch')}, channel conda-forge)",
        )
    ]
    assert result.verdict.verdict == "block" and "torch" in result.verdict.protected


def test_cpu_over_cuda_blocks_even_with_torch_unprotected(ml_prefix, wheels, tmp_path, monkeypatch):
    config = tmp_path / "guard.yaml"
    config.write_text("unprotect: [torch]\n")
    env = {**environ(tmp_path), "GUARD_CONFIG": str(config)}
    for k in [k for k in os.environ if k.startswith(("PIP_", "CONDA", "GUARD", "MAMBA", "XDG_"))]:
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    args = ["check", "--prefix", str(ml_prefix), "--json", "--", "install", "--no-index", "--find-links"]
    res = CliRunner().invoke(cli, [*args, str(wheels), "torch==2.6.0+cpu"], catch_exceptions=False)
    assert res.exit_code == 1, res.output
    data = json.loads(res.output)
    assert [(r["name"], r["rule"]) for r in data["reasons"]] == [("torch", "cuda-variant-change")]
    # a same-major CUDA wheel with torch unprotected stays a warning, as before
    res = CliRunner().invoke(cli, [*args, str(wheels), "torch==2.6.0+cu124"], catch_exceptions=False)
    assert res.exit_code == 0, res.output


def test_cuda_major_change_by_label_and_by_nvidia_wheels(pt_prefix, wheels, tmp_path):
    result, snap, _ctx, _argv = check(pt_prefix, wheels, tmp_path, "torch==2.6.0+cu126")
    build = build_of(snap, "pytorch")
    assert build == f"py{PY_MAJOR_MINOR}_cuda11.8_cudnn8.7.0_0"
    assert [(r.rule, r.message) for r in result.verdict.reasons] == [
        (
            "cuda-variant-change",
            "pip would upgrade torch 2.1.2 -> 2.6.0+cu126: a CUDA 12.6 build over conda's CUDA 11.8 build, "
            f"another CUDA major (version label +cu126) (conda: pytorch 2.1.2 {build}, channel pytorch)",
        )
    ]
    # PyPI torch carries no label: its nvidia-*-cu12 requirements say CUDA 12
    result, *_ = check(pt_prefix, wheels, tmp_path, "torch==2.7.0")
    assert [(r.name, r.rule) for r in result.verdict.reasons][0] == ("torch", "cuda-variant-change")
    assert result.verdict.reasons[0].message.startswith(
        "pip would upgrade torch 2.1.2 -> 2.7.0: a CUDA 12 build over conda's CUDA 11.8 build, another CUDA "
        "major (it requires CUDA 12 runtime wheels) (conda: pytorch 2.1.2 "
    )
    # a label-less wheel that requires no CUDA wheels is not judged a CPU build: a plain block
    result, *_ = check(pt_prefix, wheels, tmp_path, "torch==2.4.0")
    assert [r.rule for r in result.verdict.reasons] == ["protected-conda-package"]


def test_wheel_variants_from_labels_and_requirements():
    assert wheel_variant("2.6.0+cpu", ()) == "CPU"
    assert wheel_variant("2.1.0+cu118", ()) == "CUDA 11.8"
    assert wheel_variant("2.5.1+rocm6.2", ()) == "ROCm"
    assert wheel_variant("2.9.0", ["nvidia-cublas-cu12==12.8.4.1", "triton==3.5.0"]) == "CUDA 12"
    assert wheel_variant("2.15.0", ["cuda-toolkit[cublas,cudart]==13.2.2"]) == "CUDA 13"
    assert wheel_variant("2.12.0", ["nvidia-cublas>=13.1.0.3,<=13.1.1.3"]) == "CUDA 13"
    assert wheel_variant("2.6.0", ["filelock", "nvidia-ml-py"]) is None
    assert variant_change("CUDA 12.6", "CUDA 12.4") is None
    assert variant_change("CUDA 11.8", "CUDA 12") == "cuda-major"
    assert variant_change("CUDA 12.6", "ROCm") == "cpu-over-cuda"
    assert variant_change("CPU", "CUDA 12.6") is None


# ---- the redirect ------------------------------------------------------------------------------


def test_redirect_pins_conda_forge_cuda_and_moves_torchvision(ml_prefix, wheels, tmp_path):
    result, snap, _ctx, argv = check(ml_prefix, wheels, tmp_path, "torch==2.4.0")
    plan = plan_redirect(result, snap, argv)
    assert plan is not None
    assert plan.conda_argv(None, ml_prefix, yes=False) == [
        "conda",
        "install",
        "--prefix",
        str(ml_prefix),
        "-c",
        "conda-forge",
        "pytorch ==2.4.0 cuda126*",
        "torchvision * cuda126*",
    ]
    assert plan.shown_conda(None, ml_prefix) == (
        f'conda install --prefix {ml_prefix} -c conda-forge "pytorch ==2.4.0 cuda126*" "torchvision * cuda126*"'
    )
    assert "torchvision 0.20.1 moves with pytorch (same channel, conda-forge): conda picks the version that " in (
        " ".join(plan.notes)
    )


def test_redirect_for_a_pytorch_channel_env_names_pytorch_cuda(pt_prefix, wheels, tmp_path):
    result, snap, _ctx, argv = check(pt_prefix, wheels, tmp_path, "torch==2.4.0")
    plan = plan_redirect(result, snap, argv)
    assert plan is not None
    assert plan.shown_conda(None, pt_prefix) == (
        f"conda install --prefix {pt_prefix} -c pytorch -c nvidia -c conda-forge "
        '"pytorch ==2.4.0 *_cuda11.8_*" "pytorch-cuda 11.8.*"'
    )


# ---- the runner checks what conda did ---------------------------------------------------------------


def _record_like(prefix: Path, name: str, version: str, build: str) -> dict:
    old = next(p for p in (prefix / "conda-meta").glob(f"{name}-*.json") if json.loads(p.read_text())["name"] == name)
    rec = json.loads(old.read_text())
    rec.update(version=version, build=build, fn=f"{name}-{version}-{build}.conda")
    return rec


@pytest.mark.parametrize("right", [True, False], ids=["right-records", "wrong-records"])
def test_runner_verifies_the_env_after_conda(conda_env, conda_channel_root, wheels, tmp_path, right):
    prefix = conda_env(ML_CUDA_ENV)
    install_fake_conda(tmp_path / "bin", tmp_path / "no-channel", tmp_path / "no-cache")
    result, snap, ctx, argv = check(prefix, wheels, tmp_path, "torch==2.4.0")
    py = build_of(snap, "pytorch").split("_")[2]
    torch_build = f"cuda126_mkl_{py}_h0a1b2c3_300" if right else f"cpu_mkl_{py}_h0a1b2c3_100"
    records = [
        _record_like(prefix, "pytorch", "2.4.0", torch_build),
        _record_like(prefix, "torchvision", "0.19.1", f"cuda126_{py}_h4d5e6f7_0"),
    ]
    (tmp_path / "records.json").write_text(json.dumps(records))
    env = {
        **environ(tmp_path, f"{tmp_path / 'bin'}{os.pathsep}"),
        "FAKE_CONDA_RECORDS": str(tmp_path / "records.json"),
    }
    ctx = Context(prefix=prefix, environ=env, cwd=str(prefix), cache_dir=ctx.cache_dir)
    said: list[str] = []
    rc = run_redirect(result, snap, ctx, yes=True, pip_argv=argv, echo=said.append)
    if right:
        assert rc == 0
        assert said[-1] == (
            f"conda-pip-guard: step 1 done, verified in conda-meta: pytorch 2.4.0 {torch_build} (CUDA 12.6), "
            f"torchvision 0.19.1 cuda126_{py}_h4d5e6f7_0 (CUDA 12.6)"
        )
    else:
        assert rc == 1
        assert said[-1] == (
            "conda-pip-guard: step 1 not verified: conda exited 0, but the env's records do not hold what was "
            f"asked: pytorch is 2.4.0 {torch_build} (CPU), asked pytorch ==2.4.0 cuda126* (CUDA 12.6)"
        )
    # what the runner journaled (a `verify` step when the records were wrong) is what `guard log
    # --json` documents in its schema
    jsonschema = pytest.importorskip("jsonschema")
    from importlib import resources

    logged = CliRunner().invoke(cli, ["log", "--prefix", str(prefix), "--json"], env=env)
    assert logged.exit_code == 0, logged.output
    entries = json.loads(logged.stdout)
    assert any(e.get("step") == ("conda" if right else "verify") for e in entries), entries
    schema = json.loads(resources.files("guard").joinpath("data", "schemas", "log.schema.json").read_text("utf-8"))
    jsonschema.validate(entries, schema)
