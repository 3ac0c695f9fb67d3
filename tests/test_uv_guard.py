"""``guard uv`` (issue 11): uv pip install/sync/uninstall judged from uv's own dry run.

Real uv (``.venv/bin/uv``) against the local test index and real conda prefixes; uv's own
configuration is cut off (``UV_NO_CONFIG=1``, cache in tmp). Real wheels come from a
``--find-links`` directory (tests/support/wheels.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from guard.act.journal import read
from guard.environment.snapshot import snapshot
from guard.pipeline.uv_report import parse_uv_dry_run
from guard.request.uv_command import UvCommand
from tests.support.conda_prefix import SITE_PACKAGES, clean_pip_env
from tests.support.index_server import LocalIndex
from tests.support.wheels import build_wheel

REPO_ROOT = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).parent / "uv"
SCHEMA = json.loads((REPO_ROOT / "guard/data/schemas/check.schema.json").read_text())

pytestmark = pytest.mark.skipif(not UV.exists(), reason="uv is in the test extras (.venv/bin/uv)")


@pytest.fixture(scope="module")
def index():
    with LocalIndex() as idx:
        yield idx


def _env(tmp_path: Path, prefix: Path, index_url: str, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = clean_pip_env(home)
    env.update(
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        UV_NO_CONFIG="1",
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        UV_INDEX_URL=index_url,
        UV_PYTHON_DOWNLOADS="never",
        GUARD_PREFIX=str(prefix),
        CONDA_PREFIX=str(prefix),  # an activated env: what uv itself targets
        GUARD_REAL_UV=str(UV),
        PYTHONPATH=str(REPO_ROOT),
    )
    env.update(extra)
    return env


def guard(env: dict, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "guard", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or REPO_ROOT,
    )


def tree_hash(root: Path, prefix: str = "") -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob(f"{prefix}*"))
        if f.is_file() and "__pycache__" not in f.parts
    }


def numpy_state(prefix: Path) -> tuple[dict, dict]:
    return tree_hash(prefix / SITE_PACKAGES, "numpy"), tree_hash(prefix / "conda-meta")


# ---- blocked, allowed, passed through -------------------------------------------------------------


def test_blocked_install_leaves_numpy_and_conda_meta_untouched(ml_env: Path, tmp_path: Path, index) -> None:
    env = _env(tmp_path, ml_env, index.url)
    before = numpy_state(ml_env)
    proc = guard(env, "uv", "pip", "install", "numpy==2.0.0")
    assert proc.returncode == 1, proc.stderr
    assert "uv would upgrade numpy 1.26.4 -> 2.0.0 (conda: numpy 1.26.4" in proc.stderr
    assert "requested: numpy==2.0.0" in proc.stderr
    assert "override: GUARD_DISABLE=1 uv pip ..." in proc.stderr
    assert "pip would" not in proc.stderr
    assert numpy_state(ml_env) == before
    entry = read(ml_env, env)[-1]
    assert entry["argv"] == ["uv", "pip", "install", "numpy==2.0.0"] and entry["verdict"] == "block"


def test_sync_without_torch_is_blocked(ml_env: Path, tmp_path: Path, index) -> None:
    env = _env(tmp_path, ml_env, index.url)
    req = tmp_path / "requirements.txt"
    req.write_text("numpy==1.26.4\nsix==1.16.0\n")
    torch_before = tree_hash(ml_env / SITE_PACKAGES, "torch")
    proc = guard(env, "uv", "pip", "sync", str(req))
    assert proc.returncode == 1, proc.stderr
    assert "uv would remove torch 2.5.1 (conda: pytorch 2.5.1" in proc.stderr
    assert "chain: from uv's dry run" in proc.stderr
    assert tree_hash(ml_env / SITE_PACKAGES, "torch") == torch_before


def test_allowed_install_really_installs_with_the_safety_net(ml_env: Path, tmp_path: Path, index) -> None:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "tinyuvpkg", "1.0")
    env = _env(tmp_path, ml_env, index.url)
    proc = guard(env, "uv", "pip", "install", "tinyuvpkg", "--find-links", str(wheels))
    assert proc.returncode == 0, proc.stderr
    assert (ml_env / SITE_PACKAGES / "tinyuvpkg-1.0.dist-info").is_dir()
    entry = read(ml_env, env)[-1]
    assert entry["argv"][:3] == ["uv", "pip", "install"] and entry["verdict"] == "allow"
    assert [c["name"] for c in entry["changes"]] == ["tinyuvpkg"]


def test_unsimulated_install_runs_with_the_net_and_reinstall_is_refused(ml_env: Path, tmp_path: Path, index) -> None:
    """uv's dry run does not finish within the deadline (a uv whose dry run hangs): uv runs with
    conda's packages pinned, so numpy 2.0.0 from find-links cannot land; ``--reinstall`` (which no
    pin stops) does not run."""
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy", "2.0.0")
    slow_uv = tmp_path / "slow-uv"
    slow_uv.write_text(f'#!/bin/sh\ncase " $* " in *" --dry-run "*) sleep 30;; esac\nexec "{UV}" "$@"\n')
    slow_uv.chmod(0o755)
    env = _env(tmp_path, ml_env, index.url, GUARD_DEADLINE="0.5", GUARD_REAL_UV=str(slow_uv))
    before = numpy_state(ml_env)
    proc = guard(env, "uv", "pip", "install", "--no-index", "--find-links", str(wheels), "numpy==2.0.0")
    assert "could not simulate this command (uv --dry-run did not finish within the 0.5s deadline" in proc.stderr
    assert proc.returncode != 0, proc.stderr  # uv itself refuses: numpy==1.26.4 is pinned
    assert numpy_state(ml_env) == before
    assert read(ml_env, env)[-1]["verdict"] == "unsimulated"
    proc = guard(env, "uv", "pip", "install", "--reinstall", "numpy==1.26.4")
    assert proc.returncode == 1 and "--reinstall with no simulation" in proc.stderr
    assert numpy_state(ml_env) == before


def test_override_runs_uv_unguarded_and_is_journaled(ml_env: Path, tmp_path: Path, index) -> None:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "tinyuvpkg", "1.0")
    env = _env(tmp_path, ml_env, index.url, GUARD_DISABLE="1")
    proc = guard(env, "uv", "pip", "install", "tinyuvpkg", "--find-links", str(wheels))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("disabled by GUARD_DISABLE=1: uv runs unguarded") == 1
    assert read(ml_env, env)[-1]["verdict"] == "override"


def test_python_aimed_at_another_venv_is_not_judged(ml_env: Path, tmp_path: Path, index) -> None:
    venv = tmp_path / "other-venv"
    subprocess.run([str(UV), "venv", "-q", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    env = _env(tmp_path, ml_env, index.url)
    # numpy 2.0.0 would be blocked in the conda env; into the venv it is uv's business alone
    proc = guard(env, "uv", "pip", "install", "--dry-run", "--python", str(venv / "bin/python"), "numpy==2.0.0")
    assert proc.returncode == 0, proc.stderr
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "tinyuvpkg", "1.0")
    proc = guard(env, "uv", "pip", "install", "--python", str(venv / "bin/python"), "tinyuvpkg", "-f", str(wheels))
    assert proc.returncode == 0, proc.stderr
    assert list(venv.glob("lib/python*/site-packages/tinyuvpkg-1.0.dist-info"))
    assert read(ml_env, env) == []  # nothing judged in the conda env
    venv_env = {**env, "VIRTUAL_ENV": str(venv)}
    proc = guard(venv_env, "uv", "pip", "uninstall", "tinyuvpkg")
    assert proc.returncode == 0 and read(ml_env, env) == []


def test_check_installer_uv_json(ml_env: Path, tmp_path: Path, index) -> None:
    env = _env(tmp_path, ml_env, index.url)
    proc = guard(env, "check", "--json", "--installer", "uv", "--prefix", str(ml_env), "--", "install", "numpy==2.0.0")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    jsonschema.validate(out, SCHEMA)
    assert out["installer"] == "uv" and out["simulation"]["path"] == "uv-dry-run"
    assert [(c["name"], c["action"], c["protected"]) for c in out["changes"]] == [("numpy", "upgrade", True)]
    text = guard(env, "check", "--installer", "uv", "--prefix", str(ml_env), "--", "numpy==2.0.0")
    assert text.returncode == 1 and text.stdout.startswith("BLOCK  uv would upgrade numpy")


def test_pip_check_json_says_installer_pip(ml_env: Path, tmp_path: Path, index) -> None:
    env = _env(tmp_path, ml_env, index.url)
    proc = guard(env, "check", "--json", "--prefix", str(ml_env), "--", "--index-url", index.url, "six")
    out = json.loads(proc.stdout)
    jsonschema.validate(out, SCHEMA)
    assert out["installer"] == "pip"


# ---- differential: the guard's plan is uv's own dry run ----------------------------------------------

_UV_LINE = re.compile(r"^ ([+-]) (\S+)==(\S+)$")


def _uv_own_changes(env: dict, prefix: Path, args: list[str]) -> dict[str, tuple]:
    proc = subprocess.run(
        [str(UV), "pip", *args, "--dry-run", "--python", str(prefix / "bin/python")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seen: dict[str, list] = {}
    for line in proc.stderr.splitlines():
        m = _UV_LINE.match(line)
        if m:
            slot = seen.setdefault(m.group(2).lower(), [None, None])
            slot[0 if m.group(1) == "-" else 1] = m.group(3)
    return {name: tuple(v) for name, v in seen.items()}


@pytest.mark.parametrize(
    "args",
    [
        ["install", "numpy==2.0.0"],
        ["install", "requests", "urllib3==1.26.20"],
        ["uninstall", "six", "tqdm"],
        ["sync", "REQ"],
    ],
    ids=["upgrade", "downgrade-and-keep", "uninstall", "sync"],
)
def test_guard_plan_equals_uvs_own_dry_run(ml_env: Path, tmp_path: Path, index, args) -> None:
    req = tmp_path / "req.txt"
    req.write_text("numpy==1.26.4\nsix\ntorch==2.5.1\n")
    args = [str(req) if a == "REQ" else a for a in args]
    env = _env(tmp_path, ml_env, index.url)
    own = _uv_own_changes(env, ml_env, args)
    proc = guard(env, "check", "--json", "--installer", "uv", "--prefix", str(ml_env), "--", *args)
    assert proc.returncode in (0, 1), proc.stderr
    plan = {c["name"]: (c["installed"], c["proposed"]) for c in json.loads(proc.stdout)["changes"]}
    assert plan == own and own


# ---- units: uv's words, uv's output ----------------------------------------------------------------------


def test_uv_command_reading() -> None:
    cmd = UvCommand.parse(["--cache-dir", "/c", "pip", "install", "-c", "c.txt", "--python=/e/bin/python", "a>=1"])
    assert cmd.subcommand == "install" and cmd.guarded and cmd.cli_constraint
    assert cmd.python == "/e/bin/python" and cmd.requested_names() == ("a",)
    assert cmd.with_options_after_subcommand(["--dry-run"])[:5] == ["--cache-dir", "/c", "pip", "install", "--dry-run"]
    for passed in (["--version"], ["pip", "list"], ["run", "x.py"], ["pip", "install", "--dry-run", "a"]):
        assert not UvCommand.parse(passed).guarded
    assert UvCommand.parse(["pip", "sync", "r.txt", "--reinstall"]).reinstall == "--reinstall"


def test_parse_uv_dry_run_actions(ml_env: Path) -> None:
    snap = snapshot(ml_env)
    text = (
        "Would uninstall 2 packages\nWould install 3 packages\n"
        " - numpy==1.26.4\n + numpy==2.0.0\n - idna==3.10\n + idna==3.7\n ~ six==1.16.0\n"
        " + tinyuvpkg @ file:///w/tinyuvpkg-1.0-py3-none-any.whl\n - tqdm==4.67.1\n"
    )
    plan = parse_uv_dry_run(text, snap, command="install", requested=[("numpy", "numpy>=2")])
    got = {c.name: (c.action, c.installed, c.proposed, c.owner) for c in plan.changes}
    assert got == {
        "numpy": ("upgrade", "1.26.4", "2.0.0", "conda"),
        "idna": ("downgrade", "3.10", "3.7", "conda"),
        "six": ("reinstall", "1.16.0", "1.16.0", "pip"),
        "tinyuvpkg": ("install", None, "1.0", None),
        "tqdm": ("remove", "4.67.1", None, "conda"),
    }
    assert plan.change_for("numpy").conda_record["name"] == "numpy"
    assert plan.requested == ("numpy",) and plan.edges[0].requirement == "numpy>=2"


def test_no_real_uv_is_one_line_and_127(ml_env: Path, tmp_path: Path, index) -> None:
    env = _env(tmp_path, ml_env, index.url, GUARD_REAL_UV=str(tmp_path / "missing-uv"))
    proc = guard(env, "uv", "pip", "install", "six")
    assert proc.returncode == 127
    assert proc.stderr.count("\n") == 1 and "is not an executable: nothing runs" in proc.stderr
