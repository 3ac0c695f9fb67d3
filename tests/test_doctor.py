"""``guard doctor`` and ``guard status`` on real conda prefixes (py-rattler) damaged the way users
damage them: real pip installs of small real wheels over conda's packages, an edited file, a
removed metadata directory, a record conda deleted after the guard remembered it. Each finding is
asserted, and the pip part of its fix is run for real where it can run here (the conda part needs
conda and a channel holding the package, which this machine does not have)."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from guard.act import remembered
from guard.cli.main import cli
from guard.doctor.diagnose import diagnose
from guard.doctor.evidence import collect_evidence, gpu_present, probe_imports, read_version_file
from guard.doctor.models import VersionFile
from guard.doctor.status import ACTIVATE_SCRIPT
from guard.doctor.variants import conda_variant, installed_variant
from guard.environment.conda_meta import CondaRecord
from guard.environment.snapshot import snapshot
from guard.policy.config import load_policy
from tests.support.conda_prefix import (
    CPU_ENV,
    ML_CUDA_ENV,
    PLAIN_ENV,
    PY_MAJOR_MINOR,
    PYTORCH_CHANNEL_ENV,
    SITE_PACKAGES,
    Dist,
    clean_pip_env,
    pip_install_into,
    write_pip_installed_dist,
)
from tests.support.wheels import build_wheel

PT_BUILD = f"py{PY_MAJOR_MINOR}_cuda11.8_cudnn8.7.0_0"


# ---- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def guard_env(tmp_path: Path) -> dict[str, str | None]:
    """The environment the guard runs in: its state, cache and config under tmp_path, no active env."""
    home = tmp_path / "guard-home"
    return {
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "GUARD_CACHE_DIR": None,
        "GUARD_CONFIG": None,
        "CONDA_PREFIX": None,
        "VIRTUAL_ENV": None,
        "PYTHONPATH": None,
    }


def guard(env: dict, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def doctor(env: dict, prefix: Path, *flags: str) -> tuple[int, dict]:
    code, out, err = guard(env, "doctor", "--prefix", str(prefix), "--json", *flags)
    assert err == "", err
    report = json.loads(out)
    assert report["schema"] == 1 and report["prefix"] == str(prefix)
    for f in report["findings"]:
        assert set(f) == {"severity", "kind", "name", "message", "evidence", "fix"}
        assert f["severity"] in ("problem", "warning")
    assert code == (1 if any(f["severity"] == "problem" for f in report["findings"]) else 0)
    return code, report


def by_kind(report: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in report["findings"]:
        out.setdefault(f["kind"], []).append(f)
    return out


def channel_of(prefix: Path, conda_name: str) -> str:
    return snapshot(prefix).conda_records[conda_name].channel


def run_pip_part(fix: str, prefix: Path, tmp_path: Path) -> None:
    """Run the first step of a fix (``<python> -m pip uninstall -y ...``) exactly as printed."""
    step = fix.split(" && ")[0]
    argv = shlex.split(step.removeprefix("GUARD_DISABLE=1 "))  # the guard's override: no guard runs here
    assert argv[:3] == [str(prefix / "bin" / "python3"), "-m", "pip"] and argv[3:5] == ["uninstall", "-y"], step
    home = tmp_path / "fix-home"
    home.mkdir(exist_ok=True)
    out = subprocess.run(argv, env=clean_pip_env(home), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def torch_wheel(out_dir: Path, version: str, cuda: str | None) -> Path:
    """A torch wheel as PyPI builds it: ``torch/version.py`` says which CUDA, if any."""
    return build_wheel(
        out_dir,
        "torch",
        version,
        files={
            "torch/__init__.py": f"__version__ = {version!r}\n",
            "torch/version.py": f"__version__ = {version!r}\ndebug = False\ncuda: Optional[str] = {cuda!r}\nhip = None\n",
        },
    )


def pip_install(prefix: Path, wheels: Path, *reqs: str) -> None:
    out = pip_install_into(prefix, "--no-index", "--find-links", str(wheels), "--no-deps", *reqs)
    assert out.returncode == 0, out.stderr


# ---- healthy ------------------------------------------------------------------------------------


def test_healthy_env_has_no_finding_and_exit_0(conda_env, guard_env) -> None:
    prefix = conda_env(ML_CUDA_ENV)
    code, out, err = guard(guard_env, "doctor", "--prefix", str(prefix))
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "OK       4 protected packages intact (numpy 1.26.4, torch 2.5.1, torchvision 0.20.1, triton 3.1.0)"
    )
    code, report = doctor(guard_env, prefix, "--deep", "--import")
    assert code == 0 and report["findings"] == []
    assert [o["name"] for o in report["ok"]] == ["numpy", "torch", "torchvision", "triton"]
    assert report["checked"]["deep"] and report["checked"]["import"] and report["checked"]["files_checked"] > 100
    # the fixtures' stub torch has only __version__ and torch/version.py: the probe copes
    if gpu_present() is None:
        assert any("no NVIDIA GPU" in n for n in report["notes"])


# ---- drift: pip replaced conda's dist -----------------------------------------------------------


def test_pip_cpu_torch_over_conda_cuda_torch_is_drift(conda_env, guard_env, tmp_path: Path) -> None:
    prefix = conda_env(PYTORCH_CHANNEL_ENV, with_pip=True)
    torch_wheel(tmp_path / "wheels", "2.6.0", None)
    pip_install(prefix, tmp_path / "wheels", "torch==2.6.0")

    code, report = doctor(guard_env, prefix, "--import")
    assert code == 1
    (drift,) = by_kind(report)["drift"]
    assert drift["name"] == "torch" and drift["severity"] == "problem"
    assert drift["message"] == (
        "torch: conda-meta records pytorch 2.1.2 (CUDA 11.8 build) but site-packages holds "
        "torch 2.6.0 (CPU build) installed by pip"
    )
    channel = channel_of(prefix, "pytorch")
    assert channel.startswith("file://") and channel.endswith("/pytorch")
    assert drift["fix"] == (
        f"{prefix}/bin/python3 -m pip uninstall -y torch && conda install -p {prefix} "
        f'--force-reinstall -c {channel} "pytorch=2.1.2={PT_BUILD}"'
    )
    assert drift["evidence"]["installed_variant"] == {"kind": "cpu", "cuda": None}
    assert drift["evidence"]["conda_variant"] == {"kind": "cuda", "cuda": "11.8"}
    # --import: "conda list says 2.1.2, import gives 2.6.0" joins the same finding
    assert drift["evidence"]["import"]["version"] == "2.6.0"
    assert "variant-mismatch" not in by_kind(report) and "import-mismatch" not in by_kind(report)

    run_pip_part(drift["fix"], prefix, tmp_path)
    code, report = doctor(guard_env, prefix)
    kinds = by_kind(report)
    assert "drift" not in kinds
    (gone,) = kinds["metadata-gone"]  # what is left needs the conda part of the fix
    assert gone["fix"] == f'conda install -p {prefix} --force-reinstall -c {channel} "pytorch=2.1.2={PT_BUILD}"'


def test_pip_cuda_torch_in_cpu_env_names_both_builds(conda_env, guard_env, tmp_path: Path) -> None:
    prefix = conda_env(CPU_ENV)
    torch_wheel(tmp_path / "wheels", "2.6.0", "12.4")
    pip_install(prefix, tmp_path / "wheels", "torch==2.6.0")
    code, report = doctor(guard_env, prefix)
    (drift,) = by_kind(report)["drift"]
    assert drift["message"] == (
        "torch: conda-meta records pytorch 2.5.1 (CPU build) but site-packages holds "
        "torch 2.6.0 (CUDA 12.4 build) installed by pip"
    )


def test_pip_numpy_over_conda_numpy_and_unsatisfied_requirement(conda_env, guard_env, tmp_path: Path) -> None:
    prefix = conda_env(ML_CUDA_ENV, with_pip=True)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy", "2.0.0")
    build_wheel(
        wheels, "torchmetrics", "1.6.0", requires_dist=["torch>=2.6", "numpy>1.20", 'torch<1; python_version < "3"']
    )
    pip_install(prefix, wheels, "numpy==2.0.0", "torchmetrics==1.6.0")

    code, report = doctor(guard_env, prefix)
    kinds = by_kind(report)
    (drift,) = kinds["drift"]
    assert drift["message"] == (
        "numpy: conda-meta records numpy 1.26.4 but site-packages holds numpy 2.0.0 installed by pip"
    )
    (unsat,) = kinds["unsatisfied"]
    build = snapshot(prefix).conda_records["pytorch"].build
    assert unsat["message"] == (
        f"torchmetrics 1.6.0 (pip) requires torch>=2.6, but torch is 2.5.1 from conda "
        f"(pytorch 2.5.1 {build}, {channel_of(prefix, 'pytorch')})"
    )
    assert unsat["fix"] == f"{prefix}/bin/python3 -m pip uninstall -y torchmetrics"

    run_pip_part(unsat["fix"], prefix, tmp_path)
    run_pip_part(drift["fix"], prefix, tmp_path)
    _, after = doctor(guard_env, prefix)
    assert len(after["findings"]) < len(report["findings"])
    assert [f["kind"] for f in after["findings"]] == ["metadata-gone"]


def test_pip_reinstall_of_the_same_version_is_replaced(conda_env, guard_env, tmp_path: Path) -> None:
    prefix = conda_env(PLAIN_ENV, with_pip=True)
    build_wheel(tmp_path / "wheels", "numpy", "1.26.4")
    pip_install(prefix, tmp_path / "wheels", "--force-reinstall", "numpy==1.26.4")
    code, report = doctor(guard_env, prefix)
    (f,) = report["findings"]
    assert (code, f["kind"], f["name"]) == (1, "replaced", "numpy")
    assert f["message"].startswith("numpy: pip reinstalled numpy 1.26.4 over conda's numpy 1.26.4 (")
    run_pip_part(f["fix"], prefix, tmp_path)
    _, report = doctor(guard_env, prefix)
    assert [f["kind"] for f in report["findings"]] == ["metadata-gone"]


def test_damaged_record_is_a_note(conda_env, guard_env) -> None:
    prefix = conda_env(PLAIN_ENV)
    record = next((prefix / "conda-meta").glob("numpy-*.json"))
    record.write_text(record.read_text()[:100])
    code, out, _ = guard(guard_env, "doctor", "--prefix", str(prefix))
    notes = [line for line in out.splitlines() if line.startswith("NOTE")]
    assert code == 0 and any(f"{record}: not valid JSON" in n for n in notes)
    assert any("says INSTALLER=conda, but no conda-meta record lists it" in n for n in notes)


# ---- CUDA wheels --------------------------------------------------------------------------------


def test_nvidia_wheels_beside_conda_cuda_runtime(conda_env, guard_env, tmp_path: Path) -> None:
    prefix = conda_env(ML_CUDA_ENV, with_pip=True)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "nvidia-cublas-cu12", "12.6.4.1", tag="py3-none-manylinux2014_x86_64")
    build_wheel(wheels, "nvidia-cuda-runtime-cu12", "12.6.77", tag="py3-none-manylinux2014_x86_64")
    build_wheel(wheels, "nvidia-ml-py", "12.560.30")  # bindings, not a CUDA runtime
    pip_install(prefix, wheels, "nvidia-cublas-cu12", "nvidia-cuda-runtime-cu12", "nvidia-ml-py")

    # the active environment: fix commands are plain `pip ...`
    active = {**guard_env, "CONDA_PREFIX": str(prefix), "PATH": f"{prefix}/bin{os.pathsep}{os.environ['PATH']}"}
    code, out, _ = guard(active, "doctor")
    assert code == 1
    assert out.splitlines()[:2] == [
        "PROBLEM  2 nvidia-*-cu12 wheels (pip) beside conda's CUDA 12.6 runtime (cuda-cudart 12.6.77)",
        "         fix: pip uninstall -y nvidia-cublas-cu12 nvidia-cuda-runtime-cu12",
    ]
    fix = out.splitlines()[1].split("fix: ", 1)[1]
    home = tmp_path / "fix-home"
    home.mkdir()
    ran = subprocess.run(
        fix,
        shell=True,
        env={**clean_pip_env(home), "PATH": active["PATH"]},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    code, report = doctor(guard_env, prefix)
    assert code == 0 and report["findings"] == []


# ---- conda-owned files and metadata -------------------------------------------------------------


def test_edited_files_are_warnings_protected_always_others_with_deep(conda_env, guard_env) -> None:
    prefix = conda_env(ML_CUDA_ENV)
    site = prefix / SITE_PACKAGES
    (site / "numpy" / "__init__.py").write_text("__version__ = '1.26.4'  # patched by hand\n")
    (site / "requests" / "__init__.py").write_text("__version__ = 'patched'\n")
    (prefix / "lib" / "libcublas.so.12").write_bytes(b"something else\n")

    code, out, _ = guard(guard_env, "doctor", "--prefix", str(prefix))
    assert code == 0  # warnings alone
    assert out.splitlines()[0] == (
        "WARNING  numpy 1.26.4 (conda) files altered: 1 of 6 files differ from conda-meta's sha256"
    )
    assert "requests" not in out and "libcublas" not in out

    code, report = doctor(guard_env, prefix, "--deep")
    altered = {f["name"]: f for f in by_kind(report)["files-altered"]}
    assert set(altered) == {"numpy", "requests", "libcublas"}
    assert altered["libcublas"]["evidence"]["differing"] == ["lib/libcublas.so.12"]
    assert altered["libcublas"]["fix"].endswith('"libcublas=12.6.4.1=h5888daf_0"')
    # the hash cache does not hide a later edit, nor a repair
    (site / "numpy" / "__init__.py").write_text("__version__ = '1.26.4'\n")
    _, report = doctor(guard_env, prefix)
    assert report["findings"] == []


def test_cpu_version_py_under_conda_cuda_torch_is_variant_mismatch(conda_env, guard_env) -> None:
    prefix = conda_env(ML_CUDA_ENV)
    version_py = prefix / SITE_PACKAGES / "torch" / "version.py"
    version_py.write_text("__version__ = '2.5.1'\ndebug = False\ncuda = None\nhip = None\n")
    code, report = doctor(guard_env, prefix)
    (f,) = report["findings"]
    assert (code, f["kind"]) == (1, "variant-mismatch")
    assert f["message"] == (
        f"torch: a CPU build is installed ({version_py} says cuda = None) where conda's "
        "pytorch 2.5.1 is a CUDA 12.6 build"
    )
    assert f["evidence"]["files"] == {"differing": 1, "missing": 0}  # the hash check joins the finding
    assert f["fix"].startswith(f"conda install -p {prefix} --force-reinstall -c ")


def test_removed_metadata_dir_and_duplicate_metadata(conda_env, guard_env) -> None:
    prefix = conda_env(ML_CUDA_ENV)
    site = prefix / SITE_PACKAGES
    shutil.rmtree(site / "torchvision-0.20.1.dist-info")
    write_pip_installed_dist(prefix, Dist("numpy", "2.0.0", installer="pip"))  # conda's numpy-1.26.4.dist-info stays

    code, report = doctor(guard_env, prefix)
    kinds = by_kind(report)
    (gone,) = kinds["metadata-gone"]
    assert gone["message"] == (
        "torchvision: conda-meta records torchvision 0.20.1 (CUDA 12.6 build), but its "
        "metadata torchvision-0.20.1.dist-info is gone and no torchvision is installed "
        "(removed by pip uninstall?)"
    )
    (dup,) = kinds["duplicate-metadata"]
    assert dup["name"] == "numpy" and dup["severity"] == "problem"
    assert {(m["version"], m["owner"]) for m in dup["evidence"]["metadata"]} == {("1.26.4", "conda"), ("2.0.0", "pip")}
    assert "files-altered" not in kinds and dup["evidence"]["files"]["differing"] == 1  # numpy/__init__.py


# ---- remembered records ---------------------------------------------------------------------------


def test_record_conda_deleted_is_reported_from_the_remembered_copy(conda_env, guard_env, tmp_path: Path) -> None:
    prefix = conda_env(ML_CUDA_ENV, with_pip=True)
    environ = {k: v for k, v in guard_env.items() if v is not None}
    policy, _ = load_policy(prefix, environ)
    stored = remembered.remember(snapshot(prefix), policy, prefix, environ)
    assert stored == remembered.path(prefix, environ)
    assert set(remembered.load(prefix, environ)) == {"numpy", "pytorch", "torchvision", "triton"}

    torch_wheel(tmp_path / "wheels", "2.6.0", "12.4")
    pip_install(prefix, tmp_path / "wheels", "torch==2.6.0")
    record = next((prefix / "conda-meta").glob("pytorch-2.5.1-*.json"))
    build = record.name[len("pytorch-2.5.1-") : -len(".json")]
    channel = channel_of(prefix, "pytorch")
    record.unlink()  # what conda does once the anchor dist-info is gone
    # a later guarded install remembers again: the deleted record is kept
    remembered.remember(snapshot(prefix), policy, prefix, environ)
    assert "pytorch" in remembered.load(prefix, environ)

    code, report = doctor(guard_env, prefix)
    (gone,) = by_kind(report)["record-gone"]
    assert gone["message"] == (
        "torch: conda had pytorch 2.5.1 (CUDA 12.6 build) here; its record is gone and "
        "site-packages holds torch 2.6.0 (CUDA 12.4 build) installed by pip"
    )
    assert gone["fix"] == (
        f"{prefix}/bin/python3 -m pip uninstall -y torch && conda install -p {prefix} "
        f'--force-reinstall -c {channel} "pytorch=2.5.1={build}"'
    )
    run_pip_part(gone["fix"], prefix, tmp_path)
    _, report = doctor(guard_env, prefix)
    (gone,) = report["findings"]
    assert (gone["kind"], gone["severity"]) == ("record-gone", "warning")

    # conda's own history showing the removal ends the memory
    (prefix / "conda-meta" / "history").write_text(
        f"==> 2026-11-22 <==\n# cmd: conda remove pytorch\n-conda-forge/linux-64::pytorch-2.5.1-{build}\n"
    )
    _, report = doctor(guard_env, prefix)
    assert report["findings"] == []
    remembered.remember(snapshot(prefix), policy, prefix, environ)
    assert "pytorch" not in remembered.load(prefix, environ)


# ---- --import -----------------------------------------------------------------------------------


def test_import_reports_shadowing_and_broken_imports(conda_env, guard_env, tmp_path: Path) -> None:
    prefix = conda_env(ML_CUDA_ENV)
    shadow = tmp_path / "shadow" / "numpy"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("print('noise on stdout')\n__version__ = '2.2.0'\n")
    (prefix / SITE_PACKAGES / "triton" / "__init__.py").write_text(
        "raise ImportError('libcuda.so.1: cannot open shared object file')\n"
    )

    code, report = doctor({**guard_env, "PYTHONPATH": str(tmp_path / "shadow")}, prefix, "--import")
    kinds = by_kind(report)
    (shadowed,) = kinds["import-shadowed"]
    assert shadowed["message"].startswith(f"numpy: `import numpy` loads {shadow.resolve() / '__init__.py'}, outside")
    (mismatch,) = kinds["import-mismatch"]
    assert mismatch["message"].startswith("numpy: conda list says numpy 1.26.4, `import numpy` gives 2.2.0")
    (failed,) = kinds["import-failed"]
    assert failed["message"] == (
        "triton: `import triton` fails in the environment's Python: "
        "ImportError: libcuda.so.1: cannot open shared object file"
    )
    assert code == 1


def test_cuda_unavailable_with_a_gpu(conda_env, guard_env) -> None:
    """No GPU here: the probe is asked as if there were one, and the finding comes from diagnose."""
    prefix = conda_env(ML_CUDA_ENV)
    (prefix / SITE_PACKAGES / "torch" / "__init__.py").write_text(
        "import types\n__version__ = '2.5.1'\ncuda = types.SimpleNamespace(is_available=lambda: False)\n"
    )
    snap = snapshot(prefix)
    (result,) = probe_imports(snap, ["torch"], gpu=True).values()
    assert (result.version, result.cuda, result.cuda_available, result.error) == ("2.5.1", "12.6", False, None)
    policy, _ = load_policy(prefix, {})
    evidence = collect_evidence(snap, policy)
    report = diagnose(snap, policy, {}, dataclasses.replace(evidence, imports={"torch": result}, gpu="/dev/nvidia0"))
    (f,) = [f for f in report.findings if f.kind == "cuda-unavailable"]
    assert f.message == (
        "torch: torch.cuda.is_available() is False in the environment's Python, though a GPU is "
        "present (/dev/nvidia0) and conda's pytorch is a CUDA 12.6 build"
    )
    assert report.exit_code == 1 and not any("no NVIDIA GPU" in n for n in report.notes)


# ---- status -------------------------------------------------------------------------------------


def test_status_text_and_json(conda_env, guard_env, tmp_path: Path) -> None:
    prefix = conda_env(ML_CUDA_ENV)
    code, out, _ = guard(guard_env, "status", "--prefix", str(prefix))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"environment  {prefix} (conda, Python {'.'.join(map(str, sys.version_info[:3]))})"
    torch_line = next(line for line in lines if line.lstrip().startswith("torch "))
    assert "conda" in torch_line and "CUDA 12.6 build" in torch_line and "cuda126_mkl_" in torch_line
    assert (
        "shims        not installed" in lines and "pip hook     not installed (guards python -m pip and %pip)" in lines
    )
    assert "config       none (defaults)" in lines

    # shims, the python -m pip guard, a config file and remembered records, all by their files
    (prefix / ACTIVATE_SCRIPT).parent.mkdir(parents=True)
    (prefix / ACTIVATE_SCRIPT).write_text("# guard shims\n")
    (prefix / SITE_PACKAGES / "conda-pip-guard.pth").write_text("import os\n")
    (prefix / "etc" / "guard.yaml").write_text("protect: [pillow]\n")
    environ = {k: v for k, v in guard_env.items() if v is not None}
    remembered.remember(snapshot(prefix), load_policy(prefix, environ)[0], prefix, environ)
    code, out, _ = guard(guard_env, "status", "--prefix", str(prefix), "--json")
    data = json.loads(out)
    assert data["schema"] == 1 and data["conda"] is True
    assert data["shims"] == {"installed": True, "path": str(prefix / ACTIVATE_SCRIPT)}
    assert data["pip_guard"] == {"installed": True, "paths": [str(prefix / SITE_PACKAGES / "conda-pip-guard.pth")]}
    assert data["config_files"] == [str(prefix / "etc" / "guard.yaml")]
    by_name = {p["name"]: p for p in data["protected"]}
    assert set(by_name) == {"numpy", "pillow", "torch", "torchvision", "triton"}
    assert by_name["torch"]["conda"]["build"].startswith("cuda126_")
    assert by_name["torch"]["variant"] == "CUDA 12.6 build" and by_name["pillow"]["owner"] == "conda"
    assert data["remembered"]["records"] == 5
    assert data["cuda_runtime"]["name"] == "cuda-cudart"


def test_status_of_plain_env(conda_env, guard_env) -> None:
    prefix = conda_env(PLAIN_ENV)
    code, out, _ = guard(guard_env, "status", "--prefix", str(prefix))
    assert code == 0 and "CUDA         no conda CUDA runtime" in out.splitlines()


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["doctor", "status"])
def test_bad_prefix_is_one_line_and_exit_2(guard_env, tmp_path: Path, command: str) -> None:
    code, out, err = guard(guard_env, command, "--prefix", str(tmp_path / "missing"))
    assert (code, out) == (2, "") and err == f"guard: error: --prefix {tmp_path / 'missing'}: no such directory\n"
    (tmp_path / "empty").mkdir()
    code, out, err = guard(guard_env, command, "--prefix", str(tmp_path / "empty"))
    assert code == 2 and len(err.splitlines()) == 1 and "no Python interpreter" in err


# ---- variants (pure) ----------------------------------------------------------------------------


def _record(build: str, depends=(), constrains=()) -> CondaRecord:
    return CondaRecord(
        "pytorch",
        "2.5.1",
        build,
        0,
        "conda-forge",
        "https://conda.anaconda.org/conda-forge",
        "linux-64",
        tuple(depends),
        tuple(constrains),
        "/x.json",
        (),
        None,
    )


@pytest.mark.parametrize(
    "build, depends, constrains, expected",
    [
        ("cuda129_mkl_py313_h7947483_302", (), (), ("cuda", "12.9")),
        ("cuda130_generic_py313_h0_200", (), (), ("cuda", "13.0")),
        ("cuda118_py311h0047a46_300", (), (), ("cuda", "11.8")),
        ("cuda112py39h4de5995_1", (), (), ("cuda", "11.2")),
        ("cpu_generic_py313_h1ee2325_2", (), (), ("cpu", None)),
        ("cpu_py310h32957a8_0", (), (), ("cpu", None)),
        ("py3.9_cuda11.3_cudnn8.2.0_0", (), (), ("cuda", "11.3")),
        ("py3.9_cpu_0", (), (), ("cpu", None)),
        ("h123_0", ("pytorch-mutex 1.0 cuda", "pytorch-cuda >=11.8,<11.9"), (), ("cuda", "11.8")),
        ("h123_0", ("__cuda", "cuda-version >=12.6,<13"), (), ("cuda", "12.6")),
        ("h123_0", ("pytorch-mutex 1.0 cpu",), (), ("cpu", None)),
        ("h123_0", (), ("pytorch-gpu <0.0a0",), ("cpu", None)),
        ("py311h64a7726_0", ("python >=3.11",), (), None),
    ],
)
def test_conda_variant(build, depends, constrains, expected) -> None:
    v = conda_variant(_record(build, depends, constrains))
    assert (None if v is None else (v.kind, v.cuda)) == expected


def test_installed_variant_and_version_file(tmp_path: Path) -> None:
    assert installed_variant("2.1.0+cu118", None).describe() == "CUDA 11.8 build"
    assert installed_variant("2.10.0+cu130", None).describe() == "CUDA 13.0 build"
    assert installed_variant("2.9.0+cpu", None).describe() == "CPU build"
    assert installed_variant("2.9.0", None) is None
    path = tmp_path / "version.py"
    path.write_text(
        "from typing import Optional\n__version__ = '2.9.0+cu128'\ndebug = False\n"
        "cuda: Optional[str] = '12.8'\ngit_version = 'abc'\nhip: Optional[str] = None\n"
    )
    vf = read_version_file(path)
    assert vf == VersionFile(str(path), "2.9.0+cu128", "12.8", None)
    assert installed_variant("2.9.0", vf).describe() == "CUDA 12.8 build"
    assert read_version_file(tmp_path / "absent.py") is None
