"""Time ``guard doctor`` on a 600-package conda-like prefix.

    python benchmarks/bench_doctor.py [--packages 600] [--torch-files 15000] [--big 2] [--repeat 5]

The prefix is a venv (a real interpreter whose site-packages is inside the prefix) with
conda-meta records, site-packages metadata and every file the records list written as plain
files, with true sha256 values in ``paths_data``: realistic counts, not a working conda env (the
tests use real ones). torch gets ``--torch-files`` files (a real pytorch has about 15,000), numpy
1,200; ``--big`` non-protected records (libtorch-like) get 15,000 files each; the others 40.

Reports the doctor pipeline in-process (snapshot with a warm cache, policy, evidence, diagnosis,
text) cold (empty hash cache), warm, and with ``--deep``; then the whole ``guard doctor``
command as a subprocess (interpreter start and imports included).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guard.act import remembered  # noqa: E402
from guard.doctor.diagnose import diagnose  # noqa: E402
from guard.doctor.evidence import collect_evidence  # noqa: E402
from guard.doctor.render import report_text  # noqa: E402
from guard.environment.snapshot import snapshot  # noqa: E402
from guard.policy.config import load_policy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_snapshot import timed  # noqa: E402  (median of repeated runs, shared by the benchmarks)

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
SITE = f"lib/{PY}/site-packages"


def _write(prefix: Path, rel: str, data: bytes) -> dict:
    path = prefix / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {
        "_path": rel,
        "path_type": "hardlink",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_in_bytes": len(data),
    }


def _package(
    prefix: Path, name: str, dist: str | None, version: str, build: str, n_files: int, depends: list[str]
) -> None:
    paths = []
    if dist is not None:
        module = dist.replace("-", "_")
        for k in range(n_files):
            body = f"# {name} module {k}\n".encode() + b"x = 1\n" * (20 + k % 200)
            paths.append(_write(prefix, f"{SITE}/{module}/mod{k}.py", body))
        dist_info = f"{SITE}/{module}-{version}.dist-info"
        paths.append(
            _write(
                prefix, f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n\n".encode()
            )
        )
        paths.append(_write(prefix, f"{dist_info}/INSTALLER", b"conda"))
        paths.append(_write(prefix, f"{dist_info}/RECORD", b""))
    else:
        for k in range(n_files):
            paths.append(_write(prefix, f"lib/{name}/part{k}.bin", f"{name} {k}\n".encode() * 50))
    record = {
        "name": name,
        "version": version,
        "build": build,
        "build_number": 0,
        "channel": "https://conda.anaconda.org/conda-forge/linux-64",
        "subdir": "linux-64",
        "depends": depends,
        "constrains": [],
        "files": [p["_path"] for p in paths],
        "requested_spec": None,
        "paths_data": {"paths_version": 1, "paths": paths},
    }
    (prefix / "conda-meta" / f"{name}-{version}-{build}.json").write_text(json.dumps(record, indent=2))


def build_prefix(root: Path, packages: int, torch_files: int, big: int) -> Path:
    prefix = root / "prefix"
    venv.create(prefix, with_pip=False, symlinks=True)
    (prefix / "conda-meta").mkdir()
    _package(
        prefix,
        "pytorch",
        "torch",
        "2.5.1",
        "cuda126_mkl_py311_h1e7bc52_303",
        torch_files,
        ["__cuda", "cuda-version >=12.6,<13", "libtorch 2.5.1"],
    )
    _package(prefix, "numpy", "numpy", "1.26.4", "py311h64a7726_0", 1200, [])
    _package(prefix, "cuda-cudart", None, "12.6.77", "h5888daf_0", 5, [])
    for i in range(big):
        _package(prefix, f"libbig{i}", None, "2.5.1", "cuda126_mkl_h95e6c2d_303", 15000, [])
    for i in range(packages - 3 - big):
        name = f"pkg{i:04d}"
        if i % 6 == 0:  # every sixth is pip-installed: metadata only, no record
            d = prefix / SITE / f"{name}-1.{i}.0.dist-info"
            d.mkdir(parents=True)
            (d / "METADATA").write_text(
                f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.{i}.0\nRequires-Dist: numpy>=1.20\n\n"
            )
            (d / "INSTALLER").write_text("pip\n")
            continue
        _package(prefix, name, name, f"1.{i}.0", "pyhd8ed1ab_0", 40, ["python >=3.9"])
    return prefix


def run_doctor(prefix: Path, cache: Path, environ: dict, deep: bool) -> tuple[str, int]:
    policy, _ = load_policy(prefix, environ)
    snap = snapshot(prefix, cache_dir=cache)
    evidence = collect_evidence(snap, policy, deep=deep, cache_dir=cache, environ=environ)
    report = diagnose(snap, policy, remembered.load(prefix, environ), evidence)
    return report_text(report), report.checked["files_checked"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=600)
    parser.add_argument("--torch-files", type=int, default=15000)
    parser.add_argument("--big", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        prefix = build_prefix(root, args.packages, args.torch_files, args.big)
        built = time.perf_counter() - start
        environ = {"HOME": str(root / "home"), "PATH": os.environ.get("PATH", "")}
        warm_cache = root / "cache"
        snapshot(prefix, cache_dir=warm_cache)  # the interpreter probe and record extraction, cached

        def cold(deep: bool) -> tuple[str, int]:
            cache = root / f"cold-{time.perf_counter_ns()}"
            snapshot(prefix, cache_dir=cache)  # warm snapshot, empty hash cache
            start = time.perf_counter()
            out = run_doctor(prefix, cache, environ, deep)
            return time.perf_counter() - start, out

        ms = lambda s: f"{s * 1000:8.1f} ms"  # noqa: E731
        cold_s, (text, checked) = cold(False)
        run_doctor(prefix, warm_cache, environ, False)
        warm_s, _ = timed(lambda: run_doctor(prefix, warm_cache, environ, False), args.repeat)
        deep_cold_s, (_, deep_checked) = cold(True)
        run_doctor(prefix, warm_cache, environ, True)
        deep_warm_s, _ = timed(lambda: run_doctor(prefix, warm_cache, environ, True), args.repeat)

        env = {**environ, "XDG_CACHE_HOME": str(root / "cli-cache"), "XDG_STATE_HOME": str(root / "state")}
        cmd = [sys.executable, "-m", "guard", "doctor", "--prefix", str(prefix)]
        subprocess.run(cmd, env=env, capture_output=True, check=False)  # fill the CLI's caches
        cli_s, proc = timed(
            lambda: subprocess.run(cmd, env=env, capture_output=True, text=True, check=False), args.repeat
        )

        snap = snapshot(prefix, cache_dir=warm_cache)
        print(f"prefix: {len(snap.conda_records)} conda records, {len(snap.dists)} dists; built in {built:.1f} s")
        print(f"doctor          cold {ms(cold_s)}   warm {ms(warm_s)}   ({checked:,} protected files hashed)")
        print(f"doctor --deep   cold {ms(deep_cold_s)}   warm {ms(deep_warm_s)}   ({deep_checked:,} files hashed)")
        print(f"guard doctor (subprocess, warm caches) {ms(cli_s)}   exit {proc.returncode}")
        print("output:", text.splitlines()[0] if text else "")


if __name__ == "__main__":
    main()
