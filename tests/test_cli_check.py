"""``guard check`` end to end, as a user runs it (a subprocess), on a real conda env: the verdicts
of the issue, the JSON contract, and bad input of every kind -> one line, the documented exit
code, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.conda_prefix import ML_CUDA_ENV
from tests.support.guard_env import guard_environ
from tests.support.index_server import LocalIndex


@pytest.fixture(scope="module")
def index():
    with LocalIndex() as idx:
        yield idx


@pytest.fixture(scope="module")
def prefix(tmp_path_factory, conda_channel_root):
    return ML_CUDA_ENV.build(tmp_path_factory.mktemp("cli") / "env", channel_root=conda_channel_root)


@pytest.fixture
def env(tmp_path, index):
    return guard_environ(tmp_path, index.url)


def guard(*args, env, cwd=None, prefix=None):
    cmd = [sys.executable, "-m", "guard", *args]
    if prefix is not None:
        cmd[3:3] = ["--prefix", str(prefix)] if args and args[0] in ("check",) else []
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def check(prefix, env, *pip_args, json_out=False, cwd=None):
    args = ["check", "--prefix", str(prefix)] + (["--json"] if json_out else []) + ["--", *pip_args]
    return subprocess.run(
        [sys.executable, "-m", "guard", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(proc, code, *fragments):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_the_issue_example_blocks_torch_and_cuda_wheels(prefix, env):
    proc = check(prefix, env, "transformers[torch]")
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "BLOCK  pip would upgrade torch 2.5.1 -> " in out
    assert "(conda: pytorch 2.5.1 cuda126_mkl_py311_" in out and "channel conda-forge)" in out
    assert "transformers[torch] " in out and "requires torch>=" in out
    assert "CUDA wheels beside conda's CUDA runtime (cuda-cudart 12.6.77)" in out


def test_json_contract(prefix, env):
    proc = check(prefix, env, "numpy==2.0.0", json_out=True)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["schema"] == 1 and data["verdict"] == "block" and data["prefix"] == str(prefix.resolve())
    assert data["simulation"]["path"] == "resolver"
    [change] = data["changes"]
    assert change == {
        "name": "numpy",
        "installed": "1.26.4",
        "proposed": "2.0.0",
        "action": "upgrade",
        "owner": "conda",
        "conda_record": {
            "name": "numpy",
            "version": "1.26.4",
            "build": change["conda_record"]["build"],
            "channel": change["conda_record"]["channel"],
        },
        "protected": True,
    }
    [reason] = data["reasons"]
    assert reason["rule"] == "protected-conda-package" and reason["chain"] == ["numpy==2.0.0"]


def test_allowed_install_and_pip_owned_change(prefix, env):
    proc = check(prefix, env, "rich", json_out=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["verdict"] == "allow" and {c["name"] for c in data["changes"]} >= {"rich"}
    assert all(c["owner"] is None and c["action"] == "install" for c in data["changes"])
    # six is pip-owned in this env: replacing it is allowed
    proc = check(prefix, env, "six==1.17.0")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_uninstall_of_protected_conda_package_is_blocked(prefix, env):
    proc = check(prefix, env, "uninstall", "-y", "numpy", json_out=True)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["command"] == "uninstall" and data["changes"][0]["action"] == "remove"
    assert check(prefix, env, "uninstall", "-y", "six").returncode == 0


def test_verdict_cache_is_invalidated_by_a_changed_requirements_file(prefix, env, tmp_path):
    req = tmp_path / "req.txt"
    req.write_text("rich\n")
    assert check(prefix, env, "-r", str(req)).returncode == 0
    assert check(prefix, env, "-r", str(req)).returncode == 0
    req.write_text("numpy==2.0.0\n")
    assert check(prefix, env, "-r", str(req)).returncode == 1


# ---- bad input: one line, the right exit code, no traceback ---------------------------------


@pytest.mark.parametrize(
    "pip_args, code, fragment",
    [
        (["--no-such-option", "rich"], 2, "no such option: --no-such-option"),
        (["torch=2.0"], 2, "torch=2.0"),
        (["-r", "missing-requirements.txt"], 2, "missing-requirements.txt"),
        (["-c", "missing-constraints.txt", "rich"], 2, "missing-constraints.txt"),
        (["--upgrade-strategy", "sometimes", "rich"], 2, "sometimes"),
        (["-r"], 2, "-r option requires"),
        (["no-such-project-anywhere-xyz"], 3, "no-such-project-anywhere-xyz"),
        (["numpy==99.0"], 3, "numpy"),
        (["./no/such/dir/"], 2, "no/such/dir"),
        (["nothere-1.0-py3-none-any.whl"], 2, "nothere-1.0-py3-none-any.whl"),
    ],
    ids=[
        "unknown-option",
        "bad-requirement",
        "missing-r-file",
        "missing-c-file",
        "bad-strategy",
        "missing-value",
        "unknown-project",
        "impossible-version",
        "missing-dir",
        "missing-wheel",
    ],
)
def test_bad_input(prefix, env, tmp_path, pip_args, code, fragment):
    proc = check(prefix, env, *pip_args, cwd=tmp_path)
    assert_one_line_error(proc, code, fragment)


def test_bad_requirement_line_in_a_file(prefix, env, tmp_path):
    (tmp_path / "req.txt").write_text("rich\n# fine\ntorch >> 2\n")
    proc = check(prefix, env, "-r", "req.txt", cwd=tmp_path)
    assert_one_line_error(proc, 2, "req.txt:3")


def test_missing_prefix_and_not_an_env(env, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "guard", "check", "--prefix", str(tmp_path / "nope"), "--", "rich"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = check(tmp_path / "empty", env, "rich")
    assert_one_line_error(proc, 2, "python")


def test_corrupt_conda_meta_is_a_warning_not_a_crash(tmp_path, conda_channel_root, env):
    prefix = ML_CUDA_ENV.build(tmp_path / "env", channel_root=conda_channel_root)
    (prefix / "conda-meta" / "broken-1.0-0.json").write_text('{"name": "broken", "version": ')
    (prefix / "conda-meta" / "list-1.0-0.json").write_text("[1, 2, 3]")
    proc = check(prefix, env, "rich")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "broken-1.0-0.json" in proc.stdout and "list-1.0-0.json" in proc.stdout


@pytest.mark.parametrize("fault", ["404", "500", "garbage", "reset", "slow"])
def test_index_faults(prefix, env, tmp_path, fault):
    with LocalIndex() as idx:
        idx.set_fault(fault, delay=5.0)
        e = {
            **env,
            "PIP_INDEX_URL": idx.url,
            "PIP_TIMEOUT": "1",
            "PIP_RETRIES": "0",
            "GUARD_CACHE_DIR": str(tmp_path / f"cache-{fault}"),
        }
        proc = check(prefix, e, "rich")
    assert_one_line_error(proc, 3)
    if fault == "slow":
        assert "no answer within 1s" in proc.stderr


def free_port() -> int:
    """A local port nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_index_is_quick_and_clear(prefix, env, tmp_path):
    port = free_port()
    e = {**env, "PIP_INDEX_URL": f"http://127.0.0.1:{port}/simple/", "PIP_RETRIES": "0"}
    proc = check(prefix, e, "rich")
    assert_one_line_error(proc, 3, f"127.0.0.1:{port}")


def test_credentials_never_printed(prefix, env, tmp_path):
    port = free_port()
    e = {**env, "PIP_INDEX_URL": f"http://alice:s3cret@127.0.0.1:{port}/simple/", "PIP_RETRIES": "0"}
    proc = check(prefix, e, "rich")
    assert proc.returncode == 3 and "s3cret" not in proc.stderr + proc.stdout


def test_local_wheel_and_static_project_take_the_fast_path(prefix, env, tmp_path):
    from tests.support.wheels import build_wheel

    wheel = build_wheel(tmp_path, "localpkg", "1.0", requires_dist=["numpy>=2"])
    proc = check(prefix, env, str(wheel), json_out=True)
    data = json.loads(proc.stdout)
    assert proc.returncode == 1 and data["simulation"]["path"] == "resolver"
    assert {c["name"] for c in data["changes"]} == {"localpkg", "numpy"}
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "0.1"\ndependencies = ["rich"]\n')
    proc = check(prefix, env, str(project), json_out=True)
    assert proc.returncode == 0 and json.loads(proc.stdout)["simulation"]["path"] == "resolver"


def test_no_matching_distribution_is_not_called_a_conflict(prefix, env):
    proc = check(prefix, env, "numpy>=99")
    assert_one_line_error(proc, 3, "no matching distribution for numpy>=99", "2.4.6")
    proc = check(prefix, env, "transformers==4.44.2", "tokenizers==0.22.1")
    assert_one_line_error(proc, 3, "conflicting requirements", "tokenizers<0.20,>=0.19")


def test_target_directory_changes_nothing_in_the_env(prefix, env, tmp_path):
    proc = check(prefix, env, "--target", str(tmp_path / "t"), "--no-deps", "torch==2.6.0", json_out=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["changes"] == [
        {
            "name": "torch",
            "installed": None,
            "proposed": "2.6.0",
            "action": "install",
            "owner": None,
            "conda_record": None,
            "protected": False,
        }
    ]
    assert any("--target" in w for w in data["warnings"])


def test_a_plain_venv_is_said_to_be_no_conda_env(env, tmp_path):
    import venv

    venv.create(tmp_path / "venv", with_pip=False)
    proc = check(tmp_path / "venv", env, "--no-deps", "rich")
    assert proc.returncode == 0 and "is not a conda environment" in proc.stdout


def test_blocked_uninstall_says_nothing_was_removed(prefix, env):
    from guard.explain.render import block_text
    from guard.pipeline.check import Context, simulate

    ctx = Context(prefix=prefix, environ=env, cwd=str(prefix), cache_dir=Path(env["GUARD_CACHE_DIR"]))
    text = block_text(simulate(["uninstall", "-y", "numpy"], ctx))
    assert "Nothing was removed." in text and "installed" not in text.split("Nothing")[1]


def test_verdict_cache_sees_a_file_that_only_includes_others(prefix, env, tmp_path):
    (tmp_path / "a.txt").write_text("rich\n")
    (tmp_path / "b.txt").write_text("numpy==2.0.0\n")
    top = tmp_path / "top.txt"
    top.write_text("-r a.txt\n")
    assert check(prefix, env, "-r", str(top)).returncode == 0
    top.write_text("-r b.txt\n")
    assert check(prefix, env, "-r", str(top)).returncode == 1
