"""Added latency of a guarded ``uv pip install`` over bare uv (issue 11; goal <= 100 ms).

    python benchmarks/bench_uv.py [--repeat 15]

Builds the test suite's CUDA ML conda env (offline; protected conda packages, so the guarded run
pays for uv's dry run, the snapshot, the verdict, the safety net and the check after), and a
small real wheel in a ``--find-links`` directory. Both runs use the same real uv (``.venv/bin/uv``)
with ``--no-index --find-links`` on a warm uv cache (one untimed install first); the package is
uninstalled between runs, untimed. Reports medians: bare ``uv pip install``, ``guard uv pip
install`` (what the uv shim runs), and the difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.conda_prefix import ML_CUDA_ENV, clean_pip_env  # noqa: E402
from tests.support.wheels import build_wheel  # noqa: E402

GUARD_EXE = str(Path(sys.executable).parent / "guard")
UV = str(Path(sys.executable).parent / "uv")


def _timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-uv-") as tmp:
        root = Path(tmp)
        prefix = ML_CUDA_ENV.build(root / "env", with_pip=True)  # conda envs with python have pip
        wheels = root / "wheels"
        build_wheel(wheels, "benchuvpkg", "1.0")
        home = root / "home"
        home.mkdir()
        env = clean_pip_env(home)
        env.update(
            UV_NO_CONFIG="1",
            UV_CACHE_DIR=str(root / "uv-cache"),
            XDG_STATE_HOME=str(home / "state"),
            XDG_CACHE_HOME=str(home / "cache"),
            CONDA_PREFIX=str(prefix),
            GUARD_PREFIX=str(prefix),
            GUARD_REAL_UV=UV,
        )
        install = ["pip", "install", "--no-index", "--find-links", str(wheels), "benchuvpkg"]
        uninstall = [UV, "pip", "uninstall", "benchuvpkg"]
        subprocess.run([UV, *install], env=env, check=True, capture_output=True)  # warm uv's cache
        subprocess.run(uninstall, env=env, check=True, capture_output=True)
        bare, guarded = [], []
        for _ in range(args.repeat):
            bare.append(_timed([UV, *install], env))
            subprocess.run(uninstall, env=env, check=True, capture_output=True)
            guarded.append(_timed([GUARD_EXE, "uv", *install], env))
            subprocess.run(uninstall, env=env, check=True, capture_output=True)
        b, g = statistics.median(bare) * 1000, statistics.median(guarded) * 1000
        print(
            f"uv {subprocess.run([UV, '--version'], capture_output=True, text=True).stdout.strip()}, {os.cpu_count()} CPUs"
        )
        print(f"bare    uv pip install (small wheel, warm cache): {b:7.1f} ms (median of {args.repeat})")
        print(f"guarded guard uv pip install:                     {g:7.1f} ms")
        print(f"added by the guard:                               {g - b:7.1f} ms (goal <= 100 ms)")


if __name__ == "__main__":
    main()
