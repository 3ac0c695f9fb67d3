"""Benchmark: ``guard check`` (cold and warm cache) against ``pip install --dry-run --report``
(pip 26.3, config-isolated) and ``uv pip install --dry-run`` (when ``uv`` is on PATH), side by
side in one run, on the same real conda env and commands. Also the guard's peak memory.

Guard columns: ``cold`` (empty caches), ``new`` (index pages and metadata cached, the verdict
cache off with ``GUARD_NO_VERDICT_CACHE=1``: what a command not asked before costs), ``warm`` (the
same command again: a verdict-cache hit, its pages revalidated).

    python benchmarks/bench_check.py                 # local index, PEP 658 metadata advertised
    python benchmarks/bench_check.py --mirror        # local index that advertises no metadata (like
                                                     # the mirror these machines use): the guard's
                                                     # path only; pip and uv would need the wheel
                                                     # files, which the captured index does not hold
    python benchmarks/bench_check.py --live          # the live index pip uses (pip downloads whole
                                                     # wheels there: slow, hundreds of MB)

Needs the test extras (py-rattler, conda-package-handling) and the oracle pip that the tests
create in .cache/oracle-venv (run the tests once, or pass --pip PYTHON).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.conda_prefix import ML_CUDA_ENV  # noqa: E402
from tests.support.index_server import LocalIndex  # noqa: E402

COMMANDS = [
    ["transformers[torch]"],
    ["diffusers==0.30.0", "transformers==4.44.2", "gradio==4.44.1"],
    ["opencv-python"],
    ["torch==2.6.0"],
    ["numpy==2.0.0"],
    ["rich"],
]
LIVE_COMMANDS = [["numpy==2.0.0"], ["rich"], ["opencv-python"], ["transformers"]]

MAXRSS = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
    "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def timed(cmd, env, cwd) -> tuple[float, int]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - t, proc.returncode


def peak_kib(cmd, env, cwd) -> int:
    out = subprocess.run([sys.executable, "-c", MAXRSS, *cmd], env=env, cwd=cwd, capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", action="store_true", help="local index without advertised PEP 658 metadata")
    ap.add_argument("--live", action="store_true", help="the live index pip uses by default")
    ap.add_argument(
        "--pip",
        default=str(ROOT / ".cache" / "oracle-venv" / "bin" / "python"),
        help="python whose pip is the reference (default: the tests' pip 26.3 venv)",
    )
    ap.add_argument("--warm-runs", type=int, default=5)
    ap.add_argument("--new-runs", type=int, default=3, help="runs of the metadata-cached, verdict-cache-off column")
    args = ap.parse_args()
    if not Path(args.pip).exists():
        print(f"no reference pip at {args.pip}: run the tests once (they create it) or pass --pip", file=sys.stderr)
        return 2
    guard = [sys.executable, "-m", "guard"]
    # uv from PATH, else the one the test extras put beside this Python
    beside = Path(sys.executable).parent / "uv"
    uv = shutil.which("uv") or (str(beside) if beside.exists() else None)
    work = Path(tempfile.mkdtemp(prefix="guard-bench-"))
    prefix = ML_CUDA_ENV.build(work / "env")
    home = work / "home"
    home.mkdir()
    # Config-isolated for every tool; byte-code caching on for every tool, as on a user's machine
    # (this sandbox sets PYTHONDONTWRITEBYTECODE, which would recompile every module each run).
    base_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "UV_NO_CONFIG": "1",
        "UV_CACHE_DIR": str(work / "uv-cache"),
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
    }
    # The machine's CA bundle (a TLS-inspecting proxy needs it) for every tool alike.
    base_env.update(
        {k: os.environ[k] for k in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE") if k in os.environ}
    )
    index = None
    if args.live:
        from pip._internal.models.index import PyPI  # the machine's pip default; never named here

        url, commands, label = PyPI.simple_url, LIVE_COMMANDS, "live index"
    else:
        index = LocalIndex(advertise_metadata=not args.mirror).start()
        url, commands = index.url, COMMANDS
        label = "local index, " + ("no PEP 658 advertised (mirror-like)" if args.mirror else "PEP 658 advertised")
    env = {**base_env, "PIP_INDEX_URL": url, "UV_INDEX_URL": url}
    python = str(prefix / "bin" / "python")
    print(
        f"# guard check vs pip {_pip_version(args.pip)} --dry-run"
        + (f" vs {_uv_version(uv)}" if uv else "")
        + f" ({label}; {os.cpu_count()} cores)"
    )
    header = (
        f"{'command':<58} {'pip':>7} {'uv':>7} {'cold':>7} {'new':>7} {'warm':>7} {'pip/warm':>9} {'uv/warm':>8} "
        f"{'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    ratios, uv_ratios, peaks = [], [], []
    try:
        for cmd in commands:
            shown = " ".join(cmd)
            timed([args.pip, "-m", "pip", "--version"], env, work)  # byte-compile pip once before timing
            t_pip, rc_pip = timed(
                [args.pip, "-m", "pip", "--python", python, "install", "--dry-run", "--report", os.devnull, "-q", *cmd],
                env,
                work,
            )
            t_uv, rc_uv = None, 0
            if uv:
                t_uv, rc_uv = timed([uv, "pip", "install", "--dry-run", "--python", python, *cmd], env, work)
            cache = work / f"cache-{len(ratios)}"
            genv = {**env, "GUARD_CACHE_DIR": str(cache)}
            check = guard + ["check", "--prefix", str(prefix), "--", *cmd]
            t_cold, rc = timed(check, genv, work)
            # metadata cached, verdict cache off: a new command
            t_new = statistics.median(
                timed(check, {**genv, "GUARD_NO_VERDICT_CACHE": "1"}, work)[0] for _ in range(args.new_runs)
            )
            warm = [timed(check, genv, work)[0] for _ in range(args.warm_runs)]
            t_warm = statistics.median(warm)
            peak = peak_kib(check, genv, work) / 1024
            # A failed run (pip and uv need wheel bytes that the captured index does not hold when
            # it advertises no metadata: --mirror) is shown but kept out of the ratios.
            if rc_uv != 0:
                t_uv = None
            peaks.append(peak)
            if rc_pip == 0:
                ratios.append(t_pip / t_warm)
            uv_col = f"{t_uv:7.2f}" if t_uv is not None else f"{'-':>7}"
            uv_ratio = f"{t_uv / t_warm:8.2f}" if t_uv is not None else f"{'-':>8}"
            if t_uv is not None:
                uv_ratios.append(t_uv / t_warm)
            verdict = {0: "allow", 1: "block"}.get(rc, f"exit {rc}")
            pip_col = f"{t_pip:7.2f}" if rc_pip == 0 else f"{'failed':>7}"
            pip_ratio = f"{t_pip / t_warm:9.1f}" if rc_pip == 0 else f"{'-':>9}"
            print(
                f"{shown[:48] + ' (' + verdict + ')':<58} {pip_col} {uv_col} {t_cold:7.2f} {t_new:7.2f} {t_warm:7.3f} "
                f"{pip_ratio} {uv_ratio} {peak:9.1f}" + ("" if rc_uv == 0 else "  (uv failed)")
            )
    finally:
        if index is not None:
            index.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("-" * len(header))
    pip_summary = (
        f"median pip/warm-guard ratio: {statistics.median(ratios):.1f}x, smallest {min(ratios):.1f}x (goal: >= 5x); "
        if ratios
        else "pip could not run here (no wheel files to read); "
    )
    print(
        pip_summary
        + (f"median uv/warm-guard ratio: {statistics.median(uv_ratios):.2f}; " if uv_ratios else "uv not installed; ")
        + f"largest guard peak memory: {max(peaks):.1f} MiB (goal: < 150 MiB)"
    )
    return 0


def _pip_version(python) -> str:
    out = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True)
    return out.stdout.split()[1] if out.returncode == 0 else "?"


def _uv_version(uv) -> str:
    out = subprocess.run([uv, "--version"], capture_output=True, text=True)
    return out.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
