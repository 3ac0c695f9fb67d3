"""Benchmark: guard check -r FILE vs uv (and pip) dry runs on real requirements files.

``guard check -r FILE`` against ``uv pip install --dry-run -r FILE`` (and, with ``--with-pip``,
``pip install --dry-run --report``) on the index pip uses by default, cold and with metadata
cached: wall time, CPU time, peak RSS, exit code, the first line of any error; every run has a
timeout that is reported, not fatal.

Columns per file, the tools taking turns:

* ``cold``: empty caches (a fresh GUARD_CACHE_DIR, a fresh UV_CACHE_DIR);
* ``cached``: the same file again with what the cold run cached: the guard with
  ``GUARD_NO_VERDICT_CACHE=1`` (index pages and metadata cached, no verdict reuse), uv with its cache;
* ``pip``: pip's own cache kept between runs (``--with-pip``: on this machine's default index pip
  downloads whole wheels, minutes per file).

The files are public projects' own (``../shared/data/real-requirements/``, sources in its SOURCES.md,
and ``benchmarks/data/``); a fresh clone of this repository has no ``../shared``: then only the
committed file runs, or pass files or a directory.

    python benchmarks/bench_requirements.py                       # the default picks from ../shared
    python benchmarks/bench_requirements.py DIR --all             # every *.txt in DIR
    python benchmarks/bench_requirements.py FILE [FILE ...] --runs 3 --with-pip --timeout 900
    python benchmarks/bench_requirements.py --allow-build   # the guard may build an sdist's metadata,
                                                             # as uv and pip do by default

Default picks (lines as ``wc -l`` counts them; packages: what uv would install into the env):
groundingdino (10 lines, 43 packages), yolov5 (47 lines, 24 packages), chatglm3 (30 lines, 155
packages, vllm among them), sd-webui 1.3 (29 lines, 109 packages, 3 of them sdist-only here:
antlr4-python3-runtime 4.9.3, basicsr 1.4.2, jsonmerge 1.8.0), Open-Sora (16 lines, 135 packages, 3
sdist-only: colossalai 0.5.0, contexttimer 0.3.3, pandarallel 1.6.5), and, committed here in
``benchmarks/data/`` (sources in its SOURCES.md), Open WebUI's backend (89 lines, 68
requirements, 257 packages, 4 sdist-only: docx2txt 0.8, langdetect 1.0.9, peewee 3.17.6,
red-black-tree-mod 1.22): the largest real file found; there is no ~150-line one.
text-generation-webui (53 lines) is left out of the picks: its URL wheels are on github.com, which
this machine cannot reach, so every tool fails there (``--all`` includes it).
"""

from __future__ import annotations

import argparse
import json
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

SHARED = ROOT.parent / "shared" / "data" / "real-requirements"
KEPT = Path(__file__).resolve().parent / "data"  # real files committed with the benchmarks
KEPT_FILES = ("openwebui-backend-requirements.txt",)
PICKS = (
    "groundingdino-requirements.txt",
    "yolov5-requirements.txt",
    "chatglm3-requirements.txt",
    "sd-webui-requirements_versions.txt",
    "opensora-requirements.txt",
)
COLUMNS = ("cold", "cached", "uv_cold", "uv_cached", "pip")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path, help=f"requirements files or directories (default: {SHARED})")
    ap.add_argument("--all", action="store_true", help="every *.txt of a directory, not only the default picks")
    ap.add_argument("--runs", type=int, default=1, help="rounds (medians)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run (reported, not fatal)")
    ap.add_argument("--with-pip", action="store_true", help="also pip --dry-run (downloads wheels here: slow)")
    ap.add_argument(
        "--allow-build",
        action="store_true",
        help="guard check --allow-build: an sdist-only project's metadata may be built (uv and pip build by default)",
    )
    ap.add_argument("--index-url", help="another index (default: the one pip uses by default)")
    add_common_arguments(ap)
    args = ap.parse_args()
    files, problem = _files(args.paths, args.all)
    if problem:
        return _fail(problem)
    uv = find_uv()
    if uv is None:
        return _fail("uv is not installed (not on PATH, not beside this Python): pip install uv, or the test extras")
    if args.with_pip and not Path(args.pip).exists():
        return _fail(f"no reference pip at {args.pip}: run the tests once (they create it) or pass --pip")
    url = args.index_url or live_index_url()
    problem = index_problem(url)
    if problem:
        return _fail(problem)

    from tests.support.conda_prefix import ML_CUDA_ENV

    work = Path(tempfile.mkdtemp(prefix="guard-bench-req-"))
    try:
        prefix = ML_CUDA_ENV.build(work / "env")
        env = base_env(work, url)
        guard, guard_extra = guard_cmd(args.guard_src)
        python = str(prefix / "bin" / "python")
        print(
            f"# guard check -r vs {tool_version([uv, '--version'])}"
            + (" vs " + tool_version([args.pip, "-m", "pip", "--version"]).split(" from ")[0] if args.with_pip else "")
            + f"; {'the index pip uses by default' if not args.index_url else 'index given'}; env ML_CUDA_ENV"
            + f" (torch 2.5.1 CUDA 12.6, numpy 1.26.4); {args.runs} round(s); timeout {args.timeout:.0f} s per run"
            + (
                "; guard check --allow-build"
                if args.allow_build
                else "; guard without --allow-build (exit 3 at an sdist)"
            )
        )
        # byte-compile the guard's modules once, untimed (an installed guard has its .pyc files)
        measure(guard + ["--version"], {**env, **guard_extra}, work, args.timeout)
        results = {f: {k: [] for k in COLUMNS} for f in files}
        for round_ in range(args.runs):
            for f in files:
                _one_file(f, results[f], args, env, guard, guard_extra, uv, python, prefix, work, round_)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _print_table(results, args)
    if args.json:
        args.json.write_text(
            json.dumps(
                {str(f): {k: [vars(r) for r in runs] for k, runs in col.items()} for f, col in results.items()},
                indent=1,
            )
        )
    return 0


def _files(paths: list[Path], every: bool) -> tuple[list[Path], str | None]:
    if not paths:
        kept = [KEPT / name for name in KEPT_FILES]
        if not SHARED.is_dir():
            print(
                f"bench_requirements: {SHARED} is absent (a fresh clone has no ../shared): only "
                f"{', '.join(k.name for k in kept)}; pass requirements files or a directory for more",
                file=sys.stderr,
            )
            return kept, None
        picks, problem = _files([SHARED], every)
        return picks + kept, problem
    files: list[Path] = []
    for p in (path.resolve() for path in paths):  # the tools run in a scratch directory
        if p.is_dir():
            chosen = sorted(p.glob("*.txt")) if every else [p / name for name in PICKS if (p / name).is_file()]
            if not chosen:
                return [], f"{p}: no requirements files there" + (
                    "" if every else f" (none of {', '.join(PICKS)}; try --all)"
                )
            files.extend(chosen)
        elif p.is_file():
            files.append(p)
        else:
            return [], f"{p}: no such file or directory"
    return files, None


def _one_file(path, col, args, env, guard, guard_extra, uv, python, prefix, work, round_) -> None:
    guard_cache = work / f"guard-{round_}-{path.stem}"
    uv_cache = work / f"uv-{round_}-{path.stem}"
    genv = {**env, **guard_extra, "GUARD_CACHE_DIR": str(guard_cache)}
    uenv = {**env, "UV_CACHE_DIR": str(uv_cache)}
    check = guard + ["check", *(["--allow-build"] if args.allow_build else []), "--prefix", str(prefix)]
    check += ["--", "-r", str(path)]
    uv_run = [uv, "pip", "install", "--dry-run", "--python", python, "-r", str(path)]
    col["uv_cold"].append(measure(uv_run, uenv, work, args.timeout))
    col["cold"].append(measure(check, genv, work, args.timeout))
    col["uv_cached"].append(measure(uv_run, uenv, work, args.timeout))
    col["cached"].append(measure(check, {**genv, "GUARD_NO_VERDICT_CACHE": "1"}, work, args.timeout))
    if args.with_pip:
        pip_run = [args.pip, "-m", "pip", "--python", python, "install", "--dry-run", "--report", "/dev/null", "-q"]
        col["pip"].append(
            measure(pip_run + ["-r", str(path)], {**env, "PIP_CACHE_DIR": str(work / "pip")}, work, args.timeout)
        )
    shutil.rmtree(guard_cache, ignore_errors=True)
    shutil.rmtree(uv_cache, ignore_errors=True)
    shown = ", ".join(f"{k} {_cell(col[k][-1])}" for k in COLUMNS if col[k])
    print(f"  round {round_ + 1}: {path.name}: {shown}", file=sys.stderr, flush=True)


def _cell(r: Run) -> str:
    return f"{r.seconds:.1f}s/cpu {r.cpu:.1f}s/{r.peak_mib:.0f}MiB/" + ("timeout" if r.timed_out else f"exit {r.rc}")


def _summary(runs: list[Run]) -> tuple[str, str, str]:
    """(median seconds, median peak MiB, exit codes) of one column; a timeout shows as '> N s'."""
    if not runs:
        return "-", "-", "-"
    secs = median([r.seconds for r in runs])
    timed_out = any(r.timed_out for r in runs)
    shown = (">" if timed_out else "") + fmt_s(secs, 0, 1).strip()
    rcs = "/".join(sorted({"timeout" if r.timed_out else str(r.rc) for r in runs}))
    return shown, fmt_s(median([r.peak_mib for r in runs]), 0, 0).strip(), rcs


def _ratio(guard: list[Run], uv: list[Run]) -> str:
    """guard / uv median wall time, when the guard answered (exit 0/1) and uv resolved (exit 0)."""
    if not guard or not uv or not all(r.ok for r in guard) or not all(r.rc == 0 for r in uv):
        return "-"
    return f"{median([r.seconds for r in guard]) / median([r.seconds for r in uv]):.2f}x"


def _print_table(results: dict, args) -> None:
    print()
    head = (
        "| file (lines) | guard cold s | MiB | exit | guard cached s | MiB | exit | uv cold s | MiB | exit "
        "| uv cached s | exit | cold / uv cold | cached / uv cached |"
    )
    sep = "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    if args.with_pip:
        head += " pip s | MiB | exit |"
        sep += "---|---|---|"
    print(head)
    print(sep)
    errors = []
    for path, col in results.items():
        lines = len(path.read_text(errors="replace").splitlines())
        cells = [_summary(col[k]) for k in ("cold", "cached", "uv_cold")]
        uv_cached = _summary(col["uv_cached"])
        row = f"| {path.name} ({lines}) | " + " | ".join(" | ".join(c) for c in cells)
        row += f" | {uv_cached[0]} | {uv_cached[2]} | {_ratio(col['cold'], col['uv_cold'])} "
        row += f"| {_ratio(col['cached'], col['uv_cached'])} |"
        if args.with_pip:
            row += " " + " | ".join(_summary(col["pip"])) + " |"
        print(row)
        for k in COLUMNS:
            for r in col[k]:
                note = f"{path.name}: {k}: {r.error}"
                if r.error and note not in errors:
                    errors.append(note)
    print()
    print("CPU seconds (user + system, all threads), medians: steadier than wall time on a busy machine")
    print()
    print("| file | guard cold | guard cached | uv cold | uv cached |" + (" pip |" if args.with_pip else ""))
    print("|---|---|---|---|---|" + ("---|" if args.with_pip else ""))
    for path, col in results.items():
        cpu = [fmt_s(median([r.cpu for r in col[k]]), 0, 1).strip() if col[k] else "-" for k in COLUMNS]
        print(f"| {path.name} | " + " | ".join(cpu[:4]) + " |" + (f" {cpu[4]} |" if args.with_pip else ""))
    print()
    print("guard exit: 0 allow, 1 block, 2 error, 3 cannot judge (fail closed); uv/pip exit 0: resolved")
    for note in errors:
        print(f"error: {note}")


def _fail(message: str) -> int:
    print(f"bench_requirements: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
