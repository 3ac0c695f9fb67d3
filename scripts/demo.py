"""Show the guard at work on a real conda environment, offline.

There is no conda on a fresh machine, so the demo builds one the way the tests do: small conda
packages (python, numpy 1.26.4, a CUDA 12.6 build of pytorch 2.5.1, the CUDA runtime, ...) made
with conda-package-handling, indexed into a local channel and installed into a prefix by
py-rattler, the library behind pixi; the prefix gets genuine conda-meta records. A local package
index on 127.0.0.1 serves real PyPI metadata captured into tests/data/index, and pip's
configuration is isolated so nothing on this machine changes the answers.

    python scripts/demo.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.conda_prefix import (  # noqa: E402
    ML_CUDA_ENV,
    pip_install_into,
)
from tests.support.index_server import LocalIndex  # noqa: E402
from tests.support.wheels import build_wheel  # noqa: E402

STEPS = [
    ("a model library whose torch extra wants a newer torch", ["check", "--", "transformers[torch]"]),
    ("a numpy pin", ["check", "--", "numpy==2.0.0"]),
    ("something safe", ["check", "--", "rich"]),
    ("the same, for tools", ["check", "--json", "--", "numpy==2.0.0"]),
    ("why, and what to do instead", ["why", "torch", "--", "transformers[torch]"]),
    ("the env is healthy", ["doctor"]),
]
DAMAGED = [
    ("after an unguarded `pip install numpy==2.0.0`: drift between conda's records and site-packages", ["doctor"])
]


def main() -> int:
    ap = argparse.ArgumentParser(description="conda-pip-guard demo on a real (py-rattler built) conda env")
    ap.add_argument("--keep", type=Path, help="build the env here and keep it (default: a temp dir)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="guard-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"building a conda env with py-rattler in {work / 'env'} ...", flush=True)
    prefix = ML_CUDA_ENV.build(work / "env", with_pip=True)
    records = sorted(p.name for p in (prefix / "conda-meta").glob("*.json"))
    print(
        f"  {len(records)} conda records, e.g. "
        + ", ".join(r for r in records if r.startswith(("pytorch-2", "numpy", "cuda-cudart")))
    )
    home = work / "home"
    home.mkdir(exist_ok=True)
    with LocalIndex() as index:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_INDEX_URL": index.url,
            "CONDA_PREFIX": str(prefix),
        }
        worst = run_steps(STEPS, env)
        # Damage the env the way users do: pip replaces conda's numpy behind the guard's back
        # (a small real wheel, installed by the env's real pip), then let the doctor find it.
        wheel = build_wheel(work / "wheels", "numpy", "2.0.0")
        pip_install_into(
            prefix,
            "--no-deps",
            "--no-index",
            "--find-links",
            str(wheel.parent),
            "numpy==2.0.0",
            env={**env, "GUARD_DISABLE": "1"},
        )
        worst = max(worst, run_steps(DAMAGED, env, ok=(0, 1)))
    if args.keep:
        print(f"\nThe env stays in {work} for you to try more (CONDA_PREFIX={prefix}).")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        print("\n(The sample env was removed; pass --keep DIR to keep one and try more.)")
    return worst


def run_steps(steps, env, ok=(0, 1)) -> int:
    worst = 0
    for title, cmd in steps:
        print(f"\n# {title}\n$ guard {' '.join(shlex.quote(c) for c in cmd)}", flush=True)
        proc = subprocess.run([sys.executable, "-m", "guard", *cmd], env=env, text=True, capture_output=True)
        out = (proc.stdout + proc.stderr).rstrip()
        if cmd[:2] == ["check", "--json"]:
            out = "\n".join(out.splitlines()[:24]) + "\n  ..."
        print(out)
        print(f"(exit {proc.returncode})")
        if proc.returncode not in ok:
            worst = proc.returncode
    return worst


if __name__ == "__main__":
    sys.exit(main())
