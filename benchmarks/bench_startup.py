"""Benchmark: ``guard --version`` against a bare Python start (``python -c pass`` and
``python -S -c pass``), medians of ``--repeat`` runs taken in turns. Goal (issue 14): ``guard
--version`` <= 1.5x ``python -c pass``.

    python benchmarks/bench_startup.py [--repeat 40] [--guard-src TREE]

Both the console script (``.venv/bin/guard``, what users run) and ``python -m guard`` are timed;
byte-code is cached (a first untimed run of each), as on a user's machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import ROOT  # noqa: E402

GOAL = 1.5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--guard-src", type=Path, help="run the guard from this source tree instead of this checkout")
    args = ap.parse_args()
    python = sys.executable
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONPYCACHEPREFIX": str(ROOT / ".cache" / "bench-pycache")}
    if args.guard_src:
        env["PYTHONPATH"] = str(args.guard_src)
    script = Path(python).parent / "guard"
    rows = [
        ("python -c pass", [python, "-c", "pass"]),
        ("python -S -c pass", [python, "-S", "-c", "pass"]),
        ("python -m guard --version", [python, "-m", "guard", "--version"]),
    ]
    if script.exists() and not args.guard_src:
        rows.append(("guard --version (console script)", [str(script), "--version"]))
    times: dict[str, list[float]] = {name: [] for name, _ in rows}
    for _, cmd in rows:  # untimed: byte-compile, warm the page cache
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    for _ in range(args.repeat):
        for name, cmd in rows:
            start = time.perf_counter()
            proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times[name].append(time.perf_counter() - start)
            if proc.returncode != 0:
                print(f"bench_startup: {' '.join(cmd)} exited {proc.returncode}", file=sys.stderr)
                return 2
    bare = statistics.median(times["python -c pass"])
    print(f"# medians of {args.repeat} runs in turns; {python}")
    print("| command | ms | / python -c pass |")
    print("|---|---|---|")
    for name, _ in rows:
        m = statistics.median(times[name])
        print(f"| {name} | {m * 1000:.1f} | {m / bare:.2f}x |")
    worst = max(statistics.median(times[n]) for n, _ in rows if "guard" in n) / bare
    print(f"\nguard --version / python -c pass: {worst:.2f}x (goal <= {GOAL}x: {'met' if worst <= GOAL else 'missed'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
