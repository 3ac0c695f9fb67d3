"""Time ``guard.environment.snapshot`` on a 600-package conda-like prefix.

    python benchmarks/bench_snapshot.py [--packages 600] [--big 5] [--repeat 20]

The prefix is a venv (a real interpreter whose site-packages is inside the prefix) with
conda-meta records and site-packages metadata written as plain files: realistic sizes, not a
working conda env (the tests use real ones). ``--big`` records get torch-sized ``files`` and
``paths_data`` lists (15,000 entries each). Reports: interpreter probe cold/warm, snapshot cold
(empty cache), warm (cache filled) and uncached (``cache_dir=None``, probe still cached), and
whether cold <= 200 ms and warm <= 30 ms (issue 14's goals for 600 packages). In-process: the
Python start and the guard's imports are ``bench_startup.py``'s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guard.environment.interpreter import find_interpreter, probe  # noqa: E402
from guard.environment.snapshot import snapshot  # noqa: E402

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
SITE = f"lib/{PY}/site-packages"
COLD_GOAL, WARM_GOAL = 0.200, 0.030  # seconds, issue 14
DESCRIPTION = "A long description paragraph that real METADATA files carry after the headers.\n" * 120


def build_prefix(root: Path, packages: int, big: int) -> Path:
    prefix = root / "prefix"
    venv.create(prefix, with_pip=False, symlinks=True)
    meta = prefix / "conda-meta"
    meta.mkdir()
    site = prefix / SITE
    for i in range(packages):
        name, version = f"pkg{i:04d}", f"1.{i}.0"
        conda_owned = i % 6 != 0  # every sixth is pip-installed
        dist_info = f"{name}-{version}.dist-info"
        d = site / dist_info
        d.mkdir(parents=True)
        requires = "".join(f"Requires-Dist: pkg{j:04d}>=1.0\n" for j in range(max(0, i - 5), i))
        (d / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: package {i}\n"
            f"Requires-Python: >=3.9\n{requires}\n{DESCRIPTION}"
        )
        (d / "INSTALLER").write_text("conda" if conda_owned else "pip\n")
        (d / "RECORD").write_text("")
        if not conda_owned:
            continue
        n_files = 15000 if i < big else 40
        files = [f"{SITE}/{name}/mod{k}.py" for k in range(n_files)]
        files += [f"{SITE}/{dist_info}/{f}" for f in ("INSTALLER", "METADATA", "RECORD")]
        record = {
            "name": name,
            "version": version,
            "build": "py311h1234567_0",
            "build_number": 0,
            "channel": "https://conda.anaconda.org/conda-forge/linux-64",
            "subdir": "linux-64",
            "depends": [f"pkg{j:04d} >=1.0" for j in range(max(0, i - 5), i)] + ["python >=3.11,<3.12.0a0"],
            "constrains": [],
            "files": files,
            "requested_spec": None,
            "paths_data": {
                "paths_version": 1,
                "paths": [
                    {
                        "_path": f,
                        "path_type": "hardlink",
                        "sha256": "0" * 64,
                        "sha256_in_prefix": "0" * 64,
                        "size_in_bytes": 1234,
                    }
                    for f in files
                ],
            },
            "url": f"https://conda.anaconda.org/conda-forge/linux-64/{name}-{version}-py311h1234567_0.conda",
        }
        (meta / f"{name}-{version}-py311h1234567_0.json").write_text(json.dumps(record, indent=2))
    return prefix


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=600)
    parser.add_argument("--big", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prefix = build_prefix(root, args.packages, args.big)
        # A real env's files were written long before a check; the snapshot re-reads files changed in
        # the last 2 s (a write in progress), so a prefix measured at once would look half cold.
        time.sleep(2.5)
        python = find_interpreter(prefix)
        ms = lambda s: f"{s * 1000:8.2f} ms"  # noqa: E731

        cold_probe, _ = timed(lambda: probe(python, cache_dir=None), 3)
        probe(python, cache_dir=root / "cache")
        warm_probe, _ = timed(lambda: probe(python, cache_dir=root / "cache"), args.repeat)

        cold_times = []
        for n in range(3):
            start = time.perf_counter()
            snapshot(prefix, cache_dir=root / f"cold{n}")  # probe not cached either: a first run
            cold_times.append(time.perf_counter() - start)
        warm, snap = timed(lambda: snapshot(prefix, cache_dir=root / "cache"), args.repeat)
        uncached, _ = timed(lambda: _snapshot_probe_cached_only(prefix, root / "cache"), 3)

        owned = sum(d.owner == "conda" for d in snap.dists.values())
        print(
            f"prefix: {len(snap.conda_records)} conda records ({args.big} with 15,000 files), "
            f"{len(snap.dists)} dists ({owned} conda-owned), {len(snap.warnings)} warnings"
        )
        print(f"probe    cold {ms(cold_probe)}   warm {ms(warm_probe)}")
        print(f"snapshot cold {ms(statistics.median(cold_times))}   warm {ms(warm)}   records uncached {ms(uncached)}")
        cold = statistics.median(cold_times)
        print(
            f"goals (issue 14, {args.packages} packages): cold <= {COLD_GOAL * 1000:.0f} ms "
            f"{'met' if cold <= COLD_GOAL else 'missed'}, warm <= {WARM_GOAL * 1000:.0f} ms "
            f"{'met' if warm <= WARM_GOAL else 'missed'}"
        )


def _snapshot_probe_cached_only(prefix: Path, cache: Path):
    """conda-meta parsed every time (no record cache), interpreter probe cached."""
    import guard.environment.interpreter as interpreter  # snapshot() imports probe from here per call

    real_probe = interpreter.probe
    interpreter.probe = lambda python, cache_dir: real_probe(python, cache_dir=cache)  # type: ignore[assignment]
    try:
        return snapshot(prefix, cache_dir=None)
    finally:
        interpreter.probe = real_probe


if __name__ == "__main__":
    main()
