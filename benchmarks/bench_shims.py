"""What the shims and the ``python -m pip`` hook cost, side by side with bare pip, in one run.

    python benchmarks/bench_shims.py [--repeat 40] [--installs 5] [--uv-only]

Builds a real conda env with pip (the test suite's ``plain`` scenario, offline), runs
``guard shims install`` on it, and reports medians:

* ``pip --version`` and ``pip list`` through the shim vs the env's pip called directly;
* the shim alone, with a do-nothing "real pip" (an empty sh script): isolates the shim's own cost
  from pip's noise;
* ``uv --version`` through the ``uv`` shim vs the real uv (the test extras' ``uv``, beside this
  Python), and the uv shim alone with a do-nothing "real uv" (goal: at most 5 ms added);
* Python starts with and without ``conda-pip-guard.pth``: ``python -c pass``, ``python
  pipeline.py`` (a script whose name contains ``pip``: the hook must not engage) and ``python -m
  pip --version`` (the hook engages: loads its cached bytecode, finds no install, returns); and
  the .pth line itself, compiled and run in process as site.py does (what every non-pip start of
  the env's Python pays);
* an allowed ``pip install`` of a small local wheel through the guard vs bare pip (warm caches;
  the package is uninstalled between runs, untimed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guard.integrate import shims  # noqa: E402
from tests.support.conda_prefix import PLAIN_ENV, SITE_PACKAGES, clean_pip_env  # noqa: E402
from tests.support.wheels import build_wheel  # noqa: E402

GUARD_EXE = str(Path(sys.executable).parent / "guard")
REAL_UV = Path(sys.executable).parent / "uv"


def _run_ms(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - t0) * 1000
    if out.returncode != 0:
        raise SystemExit(f"{cmd} failed: {out.stderr.decode()[-500:]}")
    return elapsed


def paired_ms(bare, guarded, repeat: int, setup=None) -> tuple[float, float]:
    """Medians of ``bare`` and ``guarded`` (each a callable returning ms), run alternately so that
    drift in the machine's load hits both alike; one untimed warm-up of each first."""
    for f in (bare, guarded):
        if setup:
            setup()
        f()
    a, b = [], []
    for _ in range(repeat):
        if setup:
            setup()
        a.append(bare())
        if setup:
            setup()
        b.append(guarded())
    return statistics.median(a), statistics.median(b)


def row(label: str, bare: float, guarded: float) -> str:
    return f"{label:<44} {bare:9.2f} {guarded:9.2f} {guarded - bare:+9.2f} {guarded / bare:7.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--installs", type=int, default=5)
    parser.add_argument("--uv-only", action="store_true", help="only the uv shim's rows")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-shims-"))
    try:
        prefix = PLAIN_ENV.build(root / "env", with_pip=True, channel_root=root / "channels")
        home = root / "home"
        env = clean_pip_env(home)
        env.update(XDG_CACHE_HOME=str(home / ".cache"), XDG_STATE_HOME=str(home / ".state"))
        shims.install(prefix, guard_exe=GUARD_EXE, cache_dir=home / ".cache" / "conda-pip-guard")
        shims_dir = prefix / shims.SHIMS_DIR
        bare_env = {**env, "PATH": f"{prefix / 'bin'}:{env['PATH']}"}
        shim_env = {**env, "PATH": f"{shims_dir}:{prefix / 'bin'}:{env['PATH']}"}
        r = args.repeat

        python = str(prefix / "bin" / "python")
        pth = prefix / SITE_PACKAGES / shims.PTH_NAME
        off = pth.with_name(pth.name + ".off")

        def bare(cmd, environ):
            """As if the guard were not installed: no shims on PATH, no .pth hook."""

            def run():
                pth.rename(off)
                try:
                    return _run_ms(cmd, environ)
                finally:
                    off.rename(pth)

            return run

        def guarded(cmd, environ):
            return lambda: _run_ms(cmd, environ)

        print(f"{'median of ' + str(r) + ' runs, ms':<44} {'bare':>9} {'guarded':>9} {'added':>9} {'ratio':>8}")
        uv_rows(root, env, shims_dir, r)
        if args.uv_only:
            return
        for sub in (["--version"], ["list"]):
            cmd = ["pip", *sub]
            print(
                row(
                    f"pip {' '.join(sub)} (shim vs env's pip)",
                    *paired_ms(bare(cmd, bare_env), guarded(cmd, shim_env), r),
                )
            )

        # the shim alone: the env's pip swapped for a do-nothing one (an empty sh script; the shim
        # execs only the env's own bin/pip), called directly vs through the shim
        real = prefix / "bin" / "pip"
        kept = real.with_name("pip.real")
        real.rename(kept)
        try:
            real.write_text("#!/bin/sh\nexit 0\n")
            real.chmod(0o755)
            cmd = ["pip", "list", "--format=json"]
            print(
                row(
                    "shim alone (no-op env pip, pip list)",
                    *paired_ms(guarded(cmd, bare_env), guarded(cmd, shim_env), r * 5),
                )
            )
        finally:
            real.unlink()
            kept.rename(real)

        # Python start, with and without the .pth hook
        (root / "pipeline.py").write_text("")
        for label, cmd, times in (
            ("python -c pass (.pth hook vs none)", [python, "-c", "pass"], 5),
            ("python pipeline.py (.pth hook vs none)", [python, str(root / "pipeline.py")], 5),
            ("python -m pip --version (.pth hook vs none)", [python, "-m", "pip", "--version"], 1),
        ):
            print(row(label, *paired_ms(bare(cmd, env), guarded(cmd, env), r * times)))
        line = pth.read_text()
        n = 20_000
        per_start_us = timeit.timeit(lambda: exec(line, {}), number=n) / n * 1e6  # compiled each time, as site.py does
        print(f"{'  the .pth line itself, in process':<44} {per_start_us:9.3f} us per non-pip Python start")

        # an allowed install of a small local wheel, warm caches
        wheels = root / "wheels"
        build_wheel(wheels, "richy", "1.0.0")
        cmd = ["pip", "install", "--no-index", "--find-links", str(wheels), "richy"]

        def remove():
            subprocess.run(
                [python, "-m", "pip", "uninstall", "-y", "-q", "richy"],
                env={**env, "GUARD_ACTIVE": "1"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        print(
            row(
                "pip install richy (allowed; guard vs bare)",
                *paired_ms(bare(cmd, bare_env), guarded(cmd, shim_env), args.installs, setup=remove),
            )
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def uv_rows(root: Path, env: dict, shims_dir: Path, r: int) -> None:
    """``uv --version`` through the uv shim vs the real uv; then the shim alone, with a do-nothing
    uv (an empty sh script) as the real one, called directly vs through the shim."""
    if not REAL_UV.is_file():
        print(f"{'uv --version (shim vs real uv)':<44} skipped: no {REAL_UV} (pip install -e .[test])")
    else:
        bare_env = {**env, "PATH": f"{REAL_UV.parent}:{env['PATH']}"}
        shim_env = {**env, "PATH": f"{shims_dir}:{REAL_UV.parent}:{env['PATH']}"}
        cmd = ["uv", "--version"]
        print(row("uv --version (shim vs real uv)", *paired_ms(_ms(cmd, bare_env), _ms(cmd, shim_env), r * 5)))
    noop = root / "noop-uv"
    noop.mkdir()
    (noop / "uv").write_text("#!/bin/sh\nexit 0\n")
    (noop / "uv").chmod(0o755)
    bare_env = {**env, "PATH": f"{noop}:{env['PATH']}"}
    shim_env = {**env, "PATH": f"{shims_dir}:{noop}:{env['PATH']}"}
    cmd = ["uv", "-q", "pip", "list"]
    print(row("uv shim alone (no-op uv, uv -q pip list)", *paired_ms(_ms(cmd, bare_env), _ms(cmd, shim_env), r * 5)))


def _ms(cmd: list[str], environ: dict):
    return lambda: _run_ms(cmd, environ)


if __name__ == "__main__":
    os.environ.pop("GUARD_ACTIVE", None)
    main()
