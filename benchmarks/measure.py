"""What the benchmarks share: one child process measured (wall time, its own peak RSS, exit
code, the first line of what it said on failure, a timeout that is reported and not fatal), the
environment every tool runs in, and the checks that say in one line why a benchmark cannot run.

Peak memory comes from ``os.wait4`` on the child itself (``ru_maxrss`` of that one process),
not from ``RUSAGE_CHILDREN``, which is the largest of all children ever reaped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Run:
    """One measured command."""

    seconds: float
    peak_mib: float
    rc: int | None  # None: stopped at the timeout
    error: str = ""  # first line of stderr (else stdout) when rc is not 0 or 1
    cpu: float = 0.0  # user + system seconds of the child (all its threads): steadier than wall on a busy machine

    @property
    def timed_out(self) -> bool:
        return self.rc is None

    @property
    def ok(self) -> bool:
        """Answered: exit 0 (allow, resolved) or, for the guard, 1 (block)."""
        return self.rc in (0, 1)


# The child is started by this small launcher, not by the benchmark itself: Linux records the
# peak RSS of the memory a process had before its exec (fork or vfork shares or copies it), so a
# child forked straight from a benchmark holding py-rattler and an index server would report that
# benchmark's peak. The launcher (python -S, ~9 MiB) is the floor of every figure instead.
LAUNCHER = """
import json, os, signal, subprocess, sys, time
out, err, timeout, cmd = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
with open(out, "wb") as o, open(err, "wb") as e:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=o, stderr=e, start_new_session=True)
    rc = None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            rc = os.waitstatus_to_exitcode(status)
            break
        if time.perf_counter() - start > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            _, _, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.002)
    seconds = time.perf_counter() - start
    proc.returncode = -9 if rc is None else rc
print(json.dumps([seconds, usage.ru_maxrss, rc, usage.ru_utime + usage.ru_stime]))
"""


def measure(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 600.0) -> Run:
    """Run ``cmd`` once: its wall time and its own peak RSS (MiB), measured by the launcher."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        launcher = [sys.executable, "-S", "-c", LAUNCHER, str(out), str(err), str(timeout), *cmd]
        done = subprocess.run(launcher, env=env, cwd=cwd, capture_output=True, text=True)
        try:
            seconds, peak_kib, rc, cpu = json.loads(done.stdout)
        except ValueError:
            return Run(0.0, 0.0, -1, f"launcher failed: {(done.stderr.strip().splitlines() or ['?'])[-1][:160]}")
        error = ""
        if rc not in (0, 1):
            error = _first_line(err) or _first_line(out)
            if rc is None:
                error = f"timed out after {timeout:.0f} s" + (f" ({error})" if error else "")
    return Run(seconds, peak_kib / 1024, rc, error, cpu)


def _first_line(path: Path) -> str:
    """The first error line (``error: ...``, ``ERROR: ...``, ``guard: error: ...``), else the first line."""
    lines = [line.strip() for line in path.read_bytes().decode(errors="replace").splitlines() if line.strip()]
    for line in lines:
        if line.lower().startswith(("error", "guard: error")):
            return line[:160]
    return lines[0][:160] if lines else ""


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def base_env(work: Path, index_url: str) -> dict[str, str]:
    """Config-isolated for every tool, one index for all; byte-code cached for every tool, as on a
    user's machine (this sandbox sets PYTHONDONTWRITEBYTECODE, which would recompile every module
    on each run; the cache outlives the run, under .cache/); the machine's CA bundle (a
    TLS-inspecting proxy needs it) for every tool alike."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work / "home"),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_INDEX_URL": index_url,
        "UV_NO_CONFIG": "1",
        "UV_INDEX_URL": index_url,
        "UV_PYTHON_DOWNLOADS": "never",
        "PYTHONPYCACHEPREFIX": str(ROOT / ".cache" / "bench-pycache"),
    }
    env.update({k: os.environ[k] for k in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE") if k in os.environ})
    (work / "home").mkdir(parents=True, exist_ok=True)
    return env


def find_uv() -> str | None:
    """uv from PATH, else the one the test extras put beside this Python."""
    beside = Path(sys.executable).parent / "uv"
    return shutil.which("uv") or (str(beside) if beside.exists() else None)


def tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.stdout.strip() if out.returncode == 0 else "?"


def live_index_url() -> str:
    """The index pip uses by default, as the machine's pip defines it (no host is named here)."""
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


def index_problem(index_url: str, probe: str = "pip") -> str | None:
    """Why ``index_url`` cannot be used now (one line), or None when a project page answers."""
    url = index_url.rstrip("/") + f"/{probe}/"
    try:
        with urllib.request.urlopen(url, timeout=20) as resp:
            resp.read(1)
    except Exception as err:  # noqa: BLE001 - any failure is the one line we print
        return f"the index at {url} does not answer ({type(err).__name__}: {str(err)[:100]})"
    return None


def guard_cmd(guard_src: Path | None) -> tuple[list[str], dict[str, str]]:
    """How to start the guard: this checkout's (the venv's editable install), or the tree at
    ``guard_src`` (a before/after comparison in one run)."""
    extra = {"PYTHONPATH": str(guard_src)} if guard_src else {}
    return [sys.executable, "-m", "guard"], extra


def fmt_s(value: float | None, width: int = 7, digits: int = 2) -> str:
    return f"{value:{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


def add_common_arguments(ap: argparse.ArgumentParser) -> None:
    """The options every comparison script takes: another guard tree, a JSON copy of the numbers,
    and the reference pip."""
    ap.add_argument("--guard-src", type=Path, help="run the guard from this source tree instead of this checkout")
    ap.add_argument("--json", type=Path, help="also write every run's numbers here")
    ap.add_argument(
        "--pip",
        default=str(ROOT / ".cache" / "oracle-venv" / "bin" / "python"),
        help="python whose pip is the reference (default: the tests' pip 26.3 venv)",
    )
