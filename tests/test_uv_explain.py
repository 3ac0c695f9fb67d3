"""uv blocks explained (issue 11): chains from the guard's own graph with uv's versions pinned,
``guard why`` re-simulating with uv, the conda redirect for uv.

Real uv (``.venv/bin/uv``) against the local test index and real conda prefixes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.index_server import LocalIndex
from tests.support.wheels import build_wheel
from tests.test_json_schemas import assert_valid
from tests.test_uv_guard import UV, _env, guard

pytestmark = pytest.mark.skipif(not UV.exists(), reason="uv is in the test extras (.venv/bin/uv)")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    wheels = tmp_path_factory.mktemp("wheels")
    with LocalIndex(extra_wheels=[build_wheel(wheels, "tinyextra", "0.3")]) as idx:
        yield idx


def test_chain_for_an_unnamed_package_comes_from_the_guards_graph(ml_env: Path, tmp_path: Path, index) -> None:
    env = _env(tmp_path, ml_env, index.url)
    proc = guard(env, "check", "--installer", "uv", "--prefix", str(ml_env), "--", "install", "transformers[torch]")
    assert proc.returncode == 1, proc.stderr
    print(proc.stdout)
    assert "transformers[torch] 5.23.0 requires torch>=2.6" in proc.stdout
    assert "chain: from uv's dry run" not in proc.stdout


def test_chains_stay_uvs_when_the_guard_cannot_pin_uvs_versions(ml_env: Path, tmp_path: Path, index) -> None:
    from guard.environment.snapshot import snapshot
    from guard.pipeline.uv_report import CHAIN_NOTE, parse_uv_dry_run, with_guard_chains
    from guard.policy.config import load_policy
    from guard.request.uv_command import UvCommand

    env = _env(tmp_path, ml_env, index.url)
    snap = snapshot(ml_env)
    cmd = UvCommand.parse(["pip", "install", "transformers[torch]"])
    # a torch version the index does not have: the guard's resolution disagrees, nothing changes
    plan = parse_uv_dry_run(
        " + transformers==5.23.0\n + torch==9.9.9\n", snap, command="install", requested=cmd.requested()
    )
    policy, _ = load_policy(ml_env, env)
    kept = with_guard_chains(
        plan, cmd, snap, policy, prefix=ml_env, environ=env, cwd=tmp_path, cache_dir=tmp_path / "c"
    )
    assert kept == plan and CHAIN_NOTE in (kept.fallback_reason or "")
    argv = ["pip", "sync", "--index-url=http://x/simple", "r.txt"]
    assert pip_argv(argv, env) == ["install", "--index-url", "http://x/simple", "-r", "r.txt"]


def pip_argv(argv: list[str], env: dict) -> list[str] | None:
    from guard.pipeline.uv_report import pip_argv_for_uv
    from guard.request.uv_command import UvCommand

    return pip_argv_for_uv(UvCommand.parse(argv), env)


# ---- guard why on a uv block ---------------------------------------------------------------------------


def test_why_resimulates_the_last_uv_block_with_uv(ml_env: Path, tmp_path: Path, index) -> None:
    env = _env(tmp_path, ml_env, index.url)
    blocked = guard(env, "uv", "pip", "install", "numpy==2.0.0")
    assert blocked.returncode == 1, blocked.stderr
    out = guard(env, "why", "--json", "--prefix", str(ml_env))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert_valid("why", data)
    assert data["command"] == ["uv", "pip", "install", "numpy==2.0.0"]
    assert data["simulation"]["path"] == "uv-dry-run" and "time" in data
    assert [b["name"] for b in data["blocked"]] == ["numpy"]
    assert data["redirect"]["conda_specs"] == ["numpy ==2.0.0"] and data["redirect"]["pip_command"] is None
    text = guard(env, "why", "--prefix", str(ml_env), "numpy")
    assert "uv pip install numpy==2.0.0 would replace it with numpy 2.0.0" in text.stdout, text.stdout


def test_why_installer_uv_simulates_the_given_args_with_uv(ml_env: Path, tmp_path: Path, index) -> None:
    env = _env(tmp_path, ml_env, index.url)
    out = guard(
        env, "why", "--json", "--installer", "uv", "--prefix", str(ml_env), "torch", "--", "transformers[torch]"
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert_valid("why", data)
    assert data["command"] == ["uv", "pip", "install", "transformers[torch]"]
    assert data["simulation"]["path"] == "uv-dry-run"
    (torch,) = [b for b in data["blocked"] if b["name"] == "torch"]
    assert [e["requirement"] for e in torch["paths"][0]] == ["transformers[torch]", "torch>=2.6"]


# ---- the conda redirect for uv ---------------------------------------------------------------------------


def test_blocked_uv_install_says_what_to_type_instead(ml_env: Path, tmp_path: Path, index) -> None:
    env = _env(tmp_path, ml_env, index.url)
    proc = guard(env, "uv", "pip", "install", "numpy==2.0.0", "tinyextra")
    assert proc.returncode == 1, proc.stderr
    (line,) = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip().startswith("instead: ")]
    assert f"install --prefix {ml_env} -c conda-forge " in line
    assert line.endswith('"numpy ==2.0.0" && uv pip install tinyextra'), line


def test_uv_redirect_runs_conda_then_the_guarded_uv(conda_env, conda_channel_root, tmp_path: Path, index) -> None:
    import os

    from guard.act.journal import read
    from tests.support.conda_prefix import PLAIN_ENV, SITE_PACKAGES, Channel
    from tests.support.fake_conda import install_fake_conda
    from tests.test_why_redirect import NUMPY_2

    prefix = conda_env(PLAIN_ENV)
    channel = Channel(conda_channel_root, (*PLAIN_ENV.packages, NUMPY_2))
    install_fake_conda(tmp_path / "bin", channel.path, channel.package_cache)
    env = _env(tmp_path, prefix, index.url)
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    proc = guard(env, "uv", "pip", "install", "numpy==2.0.0", "tinyextra", "--guard-redirect", "--guard-yes")
    assert proc.returncode == 0, proc.stderr
    calls = [json.loads(line) for line in (tmp_path / "bin" / "conda-calls.jsonl").read_text().splitlines()]
    assert calls == [["install", "--prefix", str(prefix), "-c", "conda-forge", "-y", "numpy ==2.0.0"]]
    assert list((prefix / "conda-meta").glob("numpy-2.0.0-*.json"))
    assert (prefix / SITE_PACKAGES / "tinyextra-0.3.dist-info").is_dir()  # uv installed the rest
    steps = [e for e in read(prefix, env) if e.get("verdict") == "redirect"]
    assert [(s["step"], s["outcome"]) for s in steps] == [("conda", "ok"), ("pip", "ok")]
    assert steps[1]["argv"][:2] == ["uv", "pip"] and steps[1]["executed"] == "uv pip install tinyextra"
