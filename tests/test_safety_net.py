"""The safety net's hole and the check after pip (issue 9, item 7), and doctor's fixes through the guard.

Scenarios in real conda prefixes (tests/support/conda_prefix.py) with the env's real pip, run
config-isolated; wheels are real (tests/support/wheels.py), served from a local --find-links dir.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from guard.act import verify
from guard.act.journal import read
from guard.environment.snapshot import snapshot
from guard.policy.rules import Policy
from tests.support.conda_prefix import ML_CUDA_ENV, PLAIN_ENV, SITE_PACKAGES, clean_pip_env, pip_install_into
from tests.support.wheels import build_wheel

REPO_ROOT = Path(__file__).resolve().parent.parent
DEAD_INDEX = "http://127.0.0.1:9/simple/"  # connection refused at once: the guard cannot simulate


def _env(tmp_path: Path, prefix: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = clean_pip_env(home)
    env.update(
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        GUARD_PREFIX=str(prefix),
        PYTHONPATH=str(REPO_ROOT),
        **extra,
    )
    return env


def guard_pip(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "guard", "pip", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


def files_of(prefix: Path, project: str) -> dict[str, str]:
    """sha256 (and inode) of every file of ``project``'s package and metadata directories."""
    site = prefix / SITE_PACKAGES
    out = {}
    for top in sorted(site.iterdir()):
        if top.name == project or top.name.startswith(f"{project}-"):
            for f in sorted(top.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    out[str(f.relative_to(site))] = f"{hashlib.sha256(f.read_bytes()).hexdigest()}:{f.stat().st_ino}"
    return out


def installer(prefix: Path, dist_info: str) -> str:
    return (prefix / SITE_PACKAGES / dist_info / "INSTALLER").read_text().strip()


# ---- the hole: what pip really does with a pin ---------------------------------------------------


def test_a_pin_does_not_stop_a_same_version_reinstall(conda_env, tmp_path: Path) -> None:
    """Why the net alone is not enough (measured with pip 23.2 here and 26.3): with
    ``numpy==1.26.4`` as a constraint, --force-reinstall and -I still replace conda's numpy."""
    prefix = conda_env(PLAIN_ENV, with_pip=True)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy", "1.26.4")
    pins = tmp_path / "pins.txt"
    pins.write_text("numpy==1.26.4\n")
    env = {**clean_pip_env(tmp_path), "PIP_CONSTRAINT": str(pins)}
    out = pip_install_into(
        prefix, "--no-index", "--find-links", str(wheels), "--force-reinstall", "numpy==1.26.4", env=env
    )
    assert out.returncode == 0, out.stderr
    assert installer(prefix, "numpy-1.26.4.dist-info") == "pip"


def test_blocked_same_version_reinstall_leaves_conda_files_untouched(conda_env, tmp_path: Path) -> None:
    """The simulation blocks it; had pip run anyway, the net would not have saved numpy."""
    prefix = conda_env(PLAIN_ENV, with_pip=True)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy", "1.26.4")
    before = files_of(prefix, "numpy")
    out = guard_pip(
        _env(tmp_path, prefix),
        "install",
        "--no-index",
        "--find-links",
        str(wheels),
        "--force-reinstall",
        "numpy==1.26.4",
    )
    assert files_of(prefix, "numpy") == before
    assert installer(prefix, "numpy-1.26.4.dist-info") == "conda"
    assert out.returncode == 1, out.stderr
    assert "pip would reinstall numpy 1.26.4" in out.stderr


def test_unsimulated_reinstall_is_refused_not_run_with_the_net(conda_env, tmp_path: Path) -> None:
    """The index is down, so nothing judges the command; pip itself would install the local wheel
    (find-links) over conda's numpy, pin or no pin. The guard refuses instead, naming the override."""
    prefix = conda_env(PLAIN_ENV, with_pip=True)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy", "1.26.4")
    before = files_of(prefix, "numpy")
    env = _env(tmp_path, prefix)
    for option in ("--force-reinstall", "-I", "--force"):
        out = guard_pip(
            env,
            "install",
            "--index-url",
            DEAD_INDEX,
            "--retries",
            "0",
            "--timeout",
            "1",
            "--find-links",
            str(wheels),
            option,
            "numpy==1.26.4",
        )
        assert out.returncode == 1, (option, out.stderr)
        assert "the safety net cannot stop pip from reinstalling" in out.stderr and "GUARD_DISABLE=1" in out.stderr
        assert files_of(prefix, "numpy") == before
    entries = read(prefix, env)
    assert entries[-1]["verdict"] == "block"
    assert entries[-1]["reasons"][0]["rule"] == "unsimulated-reinstall"


def test_cuda_wheels_alone_are_blocked_and_pip_does_not_run(conda_env, tmp_path: Path) -> None:
    """Nothing protected changes (the net pins nothing CUDA): the CUDA rule alone blocks."""
    prefix = conda_env(ML_CUDA_ENV, with_pip=True)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "nvidia-cublas-cu12", "12.6.4.1")
    out = guard_pip(
        _env(tmp_path, prefix), "install", "--no-index", "--find-links", str(wheels), "nvidia-cublas-cu12==12.6.4.1"
    )
    assert not list((prefix / SITE_PACKAGES).glob("nvidia_cublas_cu12-*"))
    assert out.returncode == 1, out.stderr
    assert "nvidia-cublas-cu12" in out.stderr and "beside conda's CUDA runtime" in out.stderr


# ---- the check after pip -------------------------------------------------------------------------


def test_verify_sees_changed_gone_and_rewritten_files(conda_env) -> None:
    prefix = conda_env(PLAIN_ENV)
    snap = snapshot(prefix)
    init = prefix / SITE_PACKAGES / "numpy" / "__init__.py"
    original = init.read_bytes()

    watched = verify.baseline(prefix, snap.conda_records.values(), Policy())
    assert [w.name for w in watched] == ["numpy"] and watched[0].files
    assert verify.check(watched) == []
    init.unlink()
    init.write_bytes(original)  # a new inode with conda's bytes: no damage
    assert verify.check(watched) == []

    watched = verify.baseline(prefix, snap.conda_records.values(), Policy())
    init.write_bytes(b"# pip's numpy\n")
    (damage,) = verify.check(watched)
    assert (damage.name, damage.version) == ("numpy", "1.26.4")
    assert damage.what.startswith("1 of ") and "numpy/__init__.py" in damage.what
    assert verify.pip_installed(damage) is None  # conda's INSTALLER: conda's reinstall alone repairs it

    (prefix / SITE_PACKAGES / "numpy-1.26.4.dist-info" / "INSTALLER").unlink()
    assert "1 files are gone" in verify.check(watched)[0].what
    os.rename(prefix / SITE_PACKAGES / "numpy-1.26.4.dist-info", prefix / SITE_PACKAGES / "moved")
    assert verify.check(watched)[0].what == "its metadata directory numpy-1.26.4.dist-info is gone"


def test_verify_ignores_damage_that_was_there_before(conda_env) -> None:
    prefix = conda_env(PLAIN_ENV)
    (prefix / SITE_PACKAGES / "numpy" / "__init__.py").write_bytes(b"# edited long ago\n")
    watched = verify.baseline(prefix, snapshot(prefix).conda_records.values(), Policy())
    assert verify.check(watched) == []


def test_allowed_install_that_rewrites_conda_files_is_reported_damaged(conda_env, tmp_path: Path) -> None:
    """A wheel of another project that ships numpy/__init__.py: the plan (a new pip package) is
    allowed and the net cannot see it; the check after pip does."""
    prefix = conda_env(PLAIN_ENV, with_pip=True)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy-shadow", "1.0", files={"numpy/__init__.py": "# not conda's numpy\n"})
    env = _env(tmp_path, prefix)
    out = guard_pip(env, "install", "--no-index", "--find-links", str(wheels), "numpy-shadow==1.0")
    assert out.returncode == verify.EXIT_DAMAGED == 4, out.stderr
    rec = snapshot(prefix).conda_records["numpy"]
    assert "DAMAGED: pip changed conda's protected packages" in out.stderr
    assert f"numpy 1.26.4 (conda: numpy 1.26.4 {rec.build}" in out.stderr
    repair = f'conda install -p {prefix} --force-reinstall -c {shlex.quote(rec.channel)} "numpy=1.26.4={rec.build}"'
    assert f"  repair: {repair}\n" in out.stderr
    entry = read(prefix, env)[-1]
    assert entry["verdict"] == "damaged" and entry["repair"] == repair and entry["pip_status"] == 0
    assert entry["damage"][0]["name"] == "numpy"


def test_allowed_install_that_leaves_conda_alone_passes_pip_status_through(conda_env, tmp_path: Path) -> None:
    prefix = conda_env(PLAIN_ENV, with_pip=True)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "harmless", "1.0")
    env = _env(tmp_path, prefix)
    out = guard_pip(env, "install", "--no-index", "--find-links", str(wheels), "harmless==1.0")
    assert out.returncode == 0, out.stderr
    assert "DAMAGED" not in out.stderr and "Successfully installed harmless-1.0" in out.stdout
    removed = guard_pip(env, "uninstall", "-y", "harmless")  # uninstalls run as a child and are checked too
    assert removed.returncode == 0 and "DAMAGED" not in removed.stderr
    assert not list((prefix / SITE_PACKAGES).glob("harmless-*"))


# ---- doctor's fixes pass the guard ---------------------------------------------------------------


def _doctor(env: dict, prefix: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "guard", "doctor", "--prefix", str(prefix), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    return json.loads(out.stdout)


def _pip_part_through_guard(fix: str, prefix: Path, env: dict) -> subprocess.CompletedProcess:
    """The fix's first step, exactly as printed, with its pip run through ``guard pip``."""
    argv = shlex.split(fix.split(" && ")[0])
    assignments = dict(a.split("=", 1) for a in argv if "=" in a and not a.startswith("-") and a == argv[0])
    argv = argv[len(assignments) :]
    assert argv[:3] == [str(prefix / "bin" / "python3"), "-m", "pip"], fix
    return guard_pip({**env, **assignments}, *argv[3:])


def test_doctor_fix_for_a_same_version_reinstall_passes_the_guard(conda_env, tmp_path: Path) -> None:
    prefix = conda_env(PLAIN_ENV, with_pip=True)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy", "1.26.4")
    out = pip_install_into(prefix, "--no-index", "--find-links", str(wheels), "--force-reinstall", "numpy==1.26.4")
    assert out.returncode == 0, out.stderr
    env = _env(tmp_path, prefix)
    (finding,) = _doctor(env, prefix)["findings"]
    assert finding["kind"] == "replaced"
    assert finding["fix"].startswith(f"GUARD_DISABLE=1 {prefix}/bin/python3 -m pip uninstall -y numpy && conda install")
    blocked = guard_pip(env, "uninstall", "-y", "numpy")  # why the fix names the override
    assert blocked.returncode == 1
    done = _pip_part_through_guard(finding["fix"], prefix, env)
    assert done.returncode == 0, done.stderr
    assert not (prefix / SITE_PACKAGES / "numpy-1.26.4.dist-info").exists()
    assert [f["kind"] for f in _doctor(env, prefix)["findings"]] == ["metadata-gone"]


def test_doctor_fix_for_pip_numpy_over_conda_passes_the_guard_without_override(conda_env, tmp_path: Path) -> None:
    prefix = conda_env(PLAIN_ENV, with_pip=True)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy", "2.0.0")
    out = pip_install_into(prefix, "--no-index", "--find-links", str(wheels), "numpy==2.0.0")
    assert out.returncode == 0, out.stderr
    env = _env(tmp_path, prefix)
    (finding,) = _doctor(env, prefix)["findings"]
    assert finding["kind"] == "drift" and finding["fix"].startswith(f"{prefix}/bin/python3 -m pip uninstall -y numpy")
    done = _pip_part_through_guard(finding["fix"], prefix, env)
    assert done.returncode == 0, done.stderr
    assert not (prefix / SITE_PACKAGES / "numpy-2.0.0.dist-info").exists()


# ---- pip runs as a child: signals and exit status --------------------------------------------------


def test_sigterm_reaches_pip_and_its_end_is_passed_through(conda_env, tmp_path: Path) -> None:
    """pip is a child now (the check after it needs the guard alive): a SIGTERM sent to the guard
    alone is passed on, and pip's death by it is the guard's exit status 143, as a shell says."""
    import signal
    import time

    prefix = conda_env(PLAIN_ENV)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "harmless", "1.0")
    started = tmp_path / "pip-started"
    fake_pip = prefix / "bin" / "pip"  # the env's pip entry point: the process edge stands in here
    fake_pip.write_text(
        f"#!{sys.executable}\nimport pathlib, time\npathlib.Path({str(started)!r}).write_text('1')\ntime.sleep(60)\n"
    )
    fake_pip.chmod(0o755)
    proc = subprocess.Popen(
        [sys.executable, "-m", "guard", "pip", "install", "--no-index", "--find-links", str(wheels), "harmless==1.0"],
        env=_env(tmp_path, prefix),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), proc.communicate(timeout=5)
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "DAMAGED" not in err


def test_unsimulated_install_cannot_add_cuda_wheels_beside_condas_runtime(conda_env, tmp_path: Path) -> None:
    """The index is down, so nothing judges the command and pip runs with the net alone: the net
    keeps the known PyPI CUDA wheels out (``name<0``) while conda provides the CUDA runtime, so the
    CUDA rule holds even unsimulated; pip's own resolution fails and nothing is installed."""
    prefix = conda_env(ML_CUDA_ENV, with_pip=True)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "nvidia-cublas-cu12", "12.6.4.1")
    build_wheel(wheels, "richy", "1.0")
    env = _env(tmp_path, prefix)
    out = guard_pip(
        env,
        "install",
        "--index-url",
        DEAD_INDEX,
        "--retries",
        "0",
        "--timeout",
        "1",
        "--find-links",
        str(wheels),
        "nvidia-cublas-cu12",
    )
    assert out.returncode != 0, out.stderr
    assert "could not simulate" in out.stderr
    assert not list((prefix / SITE_PACKAGES).glob("nvidia_cublas_cu12-*"))
    # an unrelated package still goes through on the same unsimulated path
    ok = guard_pip(
        env,
        "install",
        "--index-url",
        DEAD_INDEX,
        "--retries",
        "0",
        "--timeout",
        "1",
        "--find-links",
        str(wheels),
        "richy",
    )
    assert ok.returncode == 0, ok.stderr
    assert list((prefix / SITE_PACKAGES).glob("richy-1.0.dist-info"))
