"""Benchmark: guard check vs uv and pip dry runs, interleaved, on one conda env and one index.

``guard check`` against ``uv pip install --dry-run`` and ``pip install --dry-run --report`` (pip
26.3), interleaved in one run on the same real conda env, the same index and the same commands;
medians of ``--runs`` rounds, and the guard's peak memory on its cold and new runs.

Columns, each measured ``--runs`` times, the tools taking turns inside every round:

* guard ``cold``: empty guard cache (a fresh GUARD_CACHE_DIR each run);
* guard ``new``: index pages and metadata cached by that cold run, the verdict cache off
  (``GUARD_NO_VERDICT_CACHE=1``): what a command not asked before costs;
* guard ``warm``: the same command again (a verdict-cache hit, its pages revalidated);
* ``uv cold``: a fresh UV_CACHE_DIR each run; ``uv warm``: one UV_CACHE_DIR filled before timing;
* ``pip``: pip's own HTTP cache kept between runs, as on a user's machine (``--no-pip``: left out).

Ratios against the issue's goals: cold <= 1.0x uv cold, new <= 0.5x uv warm, warm <= 0.1x uv warm,
and the peak RSS of a cold ``transformers[torch]`` <= 60 MB.

    python benchmarks/bench_check.py                      # local index on 127.0.0.1, PEP 658 advertised
    python benchmarks/bench_check.py --mirror             # local index without advertised metadata: the
                                                          # guard's path; pip and uv need wheel bytes
                                                          # the captured index does not hold
    python benchmarks/bench_check.py --live --no-pip      # the index pip uses by default (pip there
                                                          # downloads whole wheels: minutes per command)
    python benchmarks/bench_check.py --live --runs 1 --only 'transformers[torch]'
    python benchmarks/bench_check.py --guard-src /tmp/old-tree   # another tree of the guard (before/after)

The env is tests.support's ML_CUDA_ENV: conda-forge pytorch 2.5.1 (CUDA 12.6), numpy 1.26.4, Python
of this venv. Needs the test extras (py-rattler, conda-package-handling, uv) and, unless --no-pip,
the oracle pip the tests create in .cache/oracle-venv (run the tests once, or pass --pip PYTHON).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import (  # noqa: E402
    ROOT,
    Run,
    add_common_arguments,
    base_env,
    find_uv,
    fmt_s,
    guard_cmd,
    index_problem,
    live_index_url,
    measure,
    median,
    tool_version,
)

sys.path.insert(0, str(ROOT))

# The six commands of issue 14, on the local and on the live index alike.
COMMANDS = [
    ["numpy==2.0.0"],
    ["rich"],
    ["opencv-python"],
    ["torch==2.6.0"],
    ["transformers[torch]"],
    ["diffusers==0.30.0", "transformers==4.44.2", "gradio==4.44.1"],
]
PEAK_GOAL_MB = 60.0  # for transformers[torch] cold (MB = 10**6 bytes, as the issue writes it)
COLUMNS = ("cold", "new", "warm", "uv_cold", "uv_warm", "pip")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--mirror", action="store_true", help="local index without advertised PEP 658 metadata")
    where.add_argument("--live", action="store_true", help="the index pip uses by default on this machine")
    ap.add_argument("--runs", type=int, default=5, help="rounds; every column is the median of this many runs")
    ap.add_argument("--no-pip", action="store_true", help="leave pip out (on the live index it downloads wheels)")
    ap.add_argument("--only", action="append", default=[], help="only the commands containing this text")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run (reported, not fatal)")
    add_common_arguments(ap)
    args = ap.parse_args()
    if args.runs < 1:
        return _fail("--runs must be at least 1")
    uv = find_uv()
    if uv is None:
        return _fail("uv is not installed (not on PATH, not beside this Python): pip install uv, or the test extras")
    if not args.no_pip and not Path(args.pip).exists():
        return _fail(f"no reference pip at {args.pip}: run the tests once (they create it), pass --pip, or --no-pip")
    commands = [c for c in COMMANDS if not args.only or any(o in " ".join(c) for o in args.only)]
    if not commands:
        return _fail(f"no command matches {args.only}")

    from tests.support.conda_prefix import ML_CUDA_ENV
    from tests.support.index_server import LocalIndex

    work = Path(tempfile.mkdtemp(prefix="guard-bench-"))
    index = None
    try:
        if args.live:
            url, label = live_index_url(), "live index (pip's default)"
            problem = index_problem(url)
            if problem:
                return _fail(problem)
        else:
            index = LocalIndex(advertise_metadata=not args.mirror).start()
            url = index.url
            label = "local index, " + ("no PEP 658 advertised (mirror-like)" if args.mirror else "PEP 658 advertised")
        prefix = ML_CUDA_ENV.build(work / "env")
        env = base_env(work, url)
        guard, guard_extra = guard_cmd(args.guard_src)
        python = str(prefix / "bin" / "python")
        pip_version = "" if args.no_pip else tool_version([args.pip, "-m", "pip", "--version"]).split(" from ")[0]
        print(
            f"# guard check vs {tool_version([uv, '--version'])}"
            + (f" vs {pip_version}" if pip_version else " (pip left out: --no-pip)")
            + f"; {label}; env ML_CUDA_ENV (torch 2.5.1 CUDA 12.6, numpy 1.26.4); medians of {args.runs}"
            + f" interleaved runs; guard from {args.guard_src or ROOT}"
        )
        results = _measure_all(commands, args, env, guard, guard_extra, uv, python, prefix, work)
    finally:
        if index is not None:
            index.stop()
        shutil.rmtree(work, ignore_errors=True)
    _print_table(results, args)
    if args.json:
        args.json.write_text(json.dumps(_as_json(results), indent=1))
    return 0


def _measure_all(commands, args, env, guard, guard_extra, uv, python, prefix, work) -> dict:
    """Every column of every command, ``args.runs`` rounds, the tools interleaved in each round."""
    results: dict[str, dict[str, list[Run]]] = {" ".join(c): {k: [] for k in COLUMNS} for c in commands}
    peaks: dict[str, dict[str, list[float]]] = {" ".join(c): {"cold": [], "new": []} for c in commands}
    uv_install = [uv, "pip", "install", "--dry-run", "--python", python]
    pip_install = [args.pip, "-m", "pip", "--python", python, "install", "--dry-run", "--report", os.devnull, "-q"]
    uv_warm_cache = work / "uv-warm"
    pip_cache = work / "pip-cache"
    if not args.no_pip:
        measure([args.pip, "-m", "pip", "--version"], env, work)  # byte-compile pip before timing
    for cmd in commands:  # fill uv's warm cache (not timed)
        measure(uv_install + cmd, {**env, "UV_CACHE_DIR": str(uv_warm_cache)}, work, args.timeout)
    # byte-compile the guard's modules once, untimed (an installed guard has its .pyc files)
    throwaway = {**env, **guard_extra, "GUARD_CACHE_DIR": str(work / "guard-warmup")}
    measure(guard + ["check", "--prefix", str(prefix), "--", *commands[0]], throwaway, work, args.timeout)
    shutil.rmtree(work / "guard-warmup", ignore_errors=True)
    for round_ in range(args.runs):
        for cmd in commands:
            shown = " ".join(cmd)
            col = results[shown]
            cache = work / f"guard-{round_}-{abs(hash(shown))}"
            genv = {**env, **guard_extra, "GUARD_CACHE_DIR": str(cache)}
            check = guard + ["check", "--prefix", str(prefix), "--", *cmd]
            uv_cold_cache = work / f"uv-cold-{round_}"
            col["uv_cold"].append(
                measure(uv_install + cmd, {**env, "UV_CACHE_DIR": str(uv_cold_cache)}, work, args.timeout)
            )
            shutil.rmtree(uv_cold_cache, ignore_errors=True)
            col["cold"].append(measure(check, genv, work, args.timeout))
            col["uv_warm"].append(
                measure(uv_install + cmd, {**env, "UV_CACHE_DIR": str(uv_warm_cache)}, work, args.timeout)
            )
            col["new"].append(measure(check, {**genv, "GUARD_NO_VERDICT_CACHE": "1"}, work, args.timeout))
            col["warm"].append(measure(check, genv, work, args.timeout))
            if not args.no_pip:
                col["pip"].append(
                    measure(pip_install + cmd, {**env, "PIP_CACHE_DIR": str(pip_cache)}, work, args.timeout)
                )
            shutil.rmtree(cache, ignore_errors=True)
            peaks[shown]["cold"].append(col["cold"][-1].peak_mib)
            peaks[shown]["new"].append(col["new"][-1].peak_mib)
            print(f"  round {round_ + 1}/{args.runs}: {shown}: " + _one_round(col), file=sys.stderr, flush=True)
    return {"runs": results, "peaks": peaks}


def _one_round(col: dict[str, list[Run]]) -> str:
    return ", ".join(f"{k} {col[k][-1].seconds:.2f}s" for k in COLUMNS if col[k])


def _med(runs: list[Run], *, guard: bool, field: str = "seconds") -> float | None:
    """Median wall (or CPU) time when every run answered (exit 0/1 for the guard, 0 for uv and pip)."""
    good = [getattr(r, field) for r in runs if (r.ok if guard else r.rc == 0)]
    return median(good) if len(good) == len(runs) and good else None


def _answer(runs: list[Run], *, guard: bool) -> str:
    if not runs:
        return "-"
    rcs = {r.rc for r in runs}
    if guard:
        names = {0: "allow", 1: "block", 3: "exit 3", None: "timeout"}
        shown = "/".join(names.get(rc, f"exit {rc}") for rc in sorted(rcs, key=str))
        return shown
    return "ok" if rcs == {0} else "failed"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _print_table(data: dict, args) -> None:
    results, peaks = data["runs"], data["peaks"]
    print()
    print(
        "| command | guard cold | guard new | guard warm | uv cold | uv warm | pip | cold / uv cold | new / uv warm "
        "| warm / uv warm | peak cold MiB | peak new MiB | answer |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    ratio_cols: dict[str, list[float]] = {"cold": [], "new": [], "warm": []}
    errors: list[str] = []
    for shown, col in results.items():
        m = {k: _med(col[k], guard=k in ("cold", "new", "warm")) for k in COLUMNS}
        r_cold, r_new, r_warm = (
            _ratio(m["cold"], m["uv_cold"]),
            _ratio(m["new"], m["uv_warm"]),
            _ratio(m["warm"], m["uv_warm"]),
        )
        for key, value in (("cold", r_cold), ("new", r_new), ("warm", r_warm)):
            if value is not None:
                ratio_cols[key].append(value)
        answers = {k: _answer(col[k], guard=True) for k in ("cold", "new", "warm")}
        answer = answers["cold"] + (
            "" if len(set(answers.values())) == 1 else f" (new {answers['new']}, warm {answers['warm']}!)"
        )
        pip = fmt_s(m["pip"]).strip() if col["pip"] else "-"
        if col["pip"] and m["pip"] is None:
            pip = "failed"
        uv_note = "" if _answer(col["uv_cold"], guard=False) == "ok" else " (uv failed)"
        print(
            f"| {shown} | {fmt_s(m['cold']).strip()} | {fmt_s(m['new']).strip()} | {fmt_s(m['warm'], digits=3).strip()} "
            f"| {fmt_s(m['uv_cold']).strip()} | {fmt_s(m['uv_warm']).strip()} | {pip} | {_x(r_cold)} | {_x(r_new)} "
            f"| {_x(r_warm)} | {fmt_s(median(peaks[shown]['cold']), 0, 0).strip()} "
            f"| {fmt_s(median(peaks[shown]['new']), 0, 0).strip()} | {answer}{uv_note} |"
        )
        for k in COLUMNS:
            for r in col[k]:
                if r.error and f"{shown}: {k}: {r.error}" not in errors:
                    errors.append(f"{shown}: {k}: {r.error}")
    print()
    print("CPU seconds (user + system, all threads; steadier than wall time on a busy machine), medians:")
    print()
    print("| command | guard cold | guard new | guard warm | uv cold | uv warm | cold / uv cold | new / uv warm |")
    print("|---|---|---|---|---|---|---|---|")
    for shown, col in results.items():
        c = {k: _med(col[k], guard=k in ("cold", "new", "warm"), field="cpu") for k in COLUMNS}
        print(
            f"| {shown} | {fmt_s(c['cold']).strip()} | {fmt_s(c['new']).strip()} | {fmt_s(c['warm'], digits=3).strip()} "
            f"| {fmt_s(c['uv_cold']).strip()} | {fmt_s(c['uv_warm']).strip()} | {_x(_ratio(c['cold'], c['uv_cold']))} "
            f"| {_x(_ratio(c['new'], c['uv_warm']))} |"
        )
    print()
    for key, goal, against in (("cold", 1.0, "uv cold"), ("new", 0.5, "uv warm"), ("warm", 0.1, "uv warm")):
        vals = ratio_cols[key]
        if vals:
            met = sum(v <= goal for v in vals)
            print(
                f"guard {key} / {against}: {min(vals):.2f}x to {max(vals):.2f}x, median {median(vals):.2f}x; "
                f"goal <= {goal}x: met on {met} of {len(vals)}"
            )
    tp = peaks.get("transformers[torch]")
    if tp and tp["cold"]:
        mb = median(tp["cold"]) * 1.048576
        print(
            f"peak RSS, cold transformers[torch]: {median(tp['cold']):.0f} MiB = {mb:.0f} MB "
            f"(goal <= {PEAK_GOAL_MB:.0f} MB: {'met' if mb <= PEAK_GOAL_MB else 'missed'})"
        )
    if args.no_pip:
        print("pip left out (--no-pip)")
    for line in errors:
        print(f"error: {line}")


def _x(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "-"


def _as_json(data: dict) -> dict:
    return {
        shown: {
            k: [{"s": r.seconds, "peak_mib": r.peak_mib, "rc": r.rc, "error": r.error} for r in runs]
            for k, runs in col.items()
        }
        for shown, col in data["runs"].items()
    }


def _fail(message: str) -> int:
    print(f"bench_check: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
