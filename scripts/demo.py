"""Show the guard at work on a real conda environment, offline.

There is no conda on a fresh machine, so the demo builds one the way the tests do: small conda
packages (python, numpy 1.26.4, a CUDA 12.6 build of pytorch 2.5.1, the CUDA runtime, ...) made
with conda-package-handling, indexed into a local channel and installed into a prefix by
py-rattler, the library behind pixi; the prefix gets genuine conda-meta records. A local package
index on 127.0.0.1 serves real PyPI metadata captured into tests/data/index, and pip's
configuration is isolated so nothing on this machine changes the answers.

    python scripts/demo.py [--keep DIR]

With ``--keep DIR`` the env stays in DIR as it was built (healthy: the demo damages a copy of
its own) and the demo index keeps serving until Ctrl-C, with the commands to try more printed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
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
    ap.add_argument(
        "--keep",
        type=Path,
        help="build the env here and keep it healthy, and serve the demo index until Ctrl-C (default: a temp dir)",
    )
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
        # With --keep the env stays healthy: a second env of the same kind, built here, is damaged.
        scratch = Path(tempfile.mkdtemp(prefix="guard-demo-"))
        damaged = ML_CUDA_ENV.build(scratch / "env", with_pip=True) if args.keep else prefix
        wheel = build_wheel(scratch / "wheels", "numpy", "2.0.0")
        pip_install_into(
            damaged,
            "--no-deps",
            "--no-index",
            "--find-links",
            str(wheel.parent),
            "numpy==2.0.0",
            env={**env, "GUARD_DISABLE": "1"},
        )
        worst = max(worst, run_steps(DAMAGED, {**env, "CONDA_PREFIX": str(damaged)}, ok=(0, 1)))
        shutil.rmtree(scratch, ignore_errors=True)
        if args.keep:
            try_more(prefix, env)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
        print("\n(The sample env was removed; pass --keep DIR to keep one and try more.)")
    return worst


def try_more(prefix: Path, env: dict[str, str]) -> None:
    """Tell how to go on with the kept env, and serve the demo index until Ctrl-C."""
    guard = Path(sys.executable).parent / "guard"
    command = shlex.quote(str(guard)) if guard.exists() else f"{shlex.quote(sys.executable)} -m guard"
    names = ("CONDA_PREFIX", "PIP_INDEX_URL", "PIP_CONFIG_FILE")
    print(
        f"\nThe env stays in {prefix}, as it was built (the damage above was done to a copy).\n"
        "To try more, in another terminal while this one serves the demo index:\n"
        "  export " + " ".join(f"{k}={shlex.quote(env[k])}" for k in names) + "\n"
        f"  {command} check -- 'numpy<2' scikit-learn\n"
        f"  {command} why torch -- 'transformers[torch]'\n"
        f"Serving the demo index at {env['PIP_INDEX_URL']} until Ctrl-C ...",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nthe demo index stopped; run the demo with --keep again to serve it again", flush=True)


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
