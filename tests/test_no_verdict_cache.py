"""``GUARD_NO_VERDICT_CACHE=1``: the verdict cache neither read nor written, the index caches kept
(the benchmarks' "metadata cached, new command" column); the answer is the same."""

from __future__ import annotations

import json
import subprocess
import sys

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
    return ML_CUDA_ENV.build(tmp_path_factory.mktemp("nvc") / "env", channel_root=conda_channel_root)


def check(prefix, env):
    return subprocess.run(
        [sys.executable, "-m", "guard", "check", "--json", "--prefix", str(prefix), "--", "rich"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_switch_skips_only_the_verdict_cache(prefix, index, tmp_path):
    cache = tmp_path / "cache"
    env = guard_environ(tmp_path, index.url)
    first = check(prefix, {**env, "GUARD_NO_VERDICT_CACHE": "1"})
    assert first.returncode == 0, first.stderr
    assert not list(cache.glob("verdicts/*.json"))  # nothing memoized
    assert list(cache.glob("http/**/*.json"))  # the index's caches are kept
    memoized = check(prefix, env)
    assert memoized.returncode == 0 and list(cache.glob("verdicts/*.json"))
    again = check(prefix, {**env, "GUARD_NO_VERDICT_CACHE": "1"})
    assert json.loads(again.stdout)["verdict"] == json.loads(first.stdout)["verdict"]
    assert json.loads(again.stdout)["changes"] == json.loads(first.stdout)["changes"]
