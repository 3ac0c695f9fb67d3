"""What the conda plugin adds to a conda start that runs no guard command: ``conda --version``
with the plugin's entry point loaded vs hidden, side by side in one run (goal: at most 5 ms).

    python benchmarks/bench_conda_plugin.py [--repeat 20]

The conda is ``$GUARD_TEST_CONDA``, else ``/tmp/realconda/bin/conda`` (built by
``../shared/recipes/real-conda/setup.sh``); with neither, it says so and exits 2. conda-pip-guard
must be installed into the interpreter conda runs on (``python -m pip install -e .`` there).

Both sides start conda's own interpreter with the same small launcher, which wraps
``importlib.metadata.distributions`` (what conda's plugin manager iterates to load entry points,
``conda/plugins/manager.py::load_entrypoints``) and then runs conda's ``main``; on the "hidden" side
the wrapper leaves out conda-pip-guard's distribution, so conda never loads the plugin. The
difference is what the plugin costs: importing ``guard/conda_plugin/plugin.py`` and building its
hook objects (``conda --version`` builds the parser, which asks every plugin for its subcommands).
Run outside any checkout (a ``conda_pip_guard.egg-info`` in the working directory would be found
too). Runs alternate (with, hidden, with, ...) so that load on the machine hits both alike; medians.
Also, in conda's interpreter once conda's modules are loaded: the plugin module's import alone, and
the entry point's load plus every hook called once (the plugin's own work; on a loaded machine the
end-to-end difference above is mostly noise, and this row is the cost itself).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

LAUNCHER = r"""
import importlib.metadata as md, sys
hide = sys.argv.pop(1)
_all = md.distributions
def distributions(**kw):
    for d in _all(**kw):
        path = getattr(d, "_path", None)
        if not (hide and path is not None and path.name.startswith(hide)):
            yield d
md.distributions = distributions
from conda.cli.main import main
sys.argv[0] = "conda"
sys.exit(main())
"""
DIST_PREFIX = "conda_pip_guard"  # the metadata directory of the installed distribution (.dist-info, .egg-info)

IMPORT_ONLY = (
    "import time, conda.plugins.types, conda.plugins; t = time.perf_counter(); "
    "import guard.conda_plugin.plugin; print((time.perf_counter() - t) * 1000)"
)
# what conda does with the plugin at start, timed in conda's own interpreter once conda's modules are
# loaded: the entry point loaded, then every hook called once (conda --version calls fewer)
PLUGIN_WORK = """
import time, importlib.metadata as md
import conda.plugins.manager, conda.cli.conda_argparse, conda.common.configuration
(ep,) = [e for e in md.entry_points(group="conda") if e.name == "conda-pip-guard"]
t = time.perf_counter()
mod = ep.load()
list(mod.conda_subcommands())  # what conda --version asks of it (generate_parser)
t1 = time.perf_counter()
for name in ("health_checks", "pre_commands", "post_commands", "post_solves", "settings"):
    list(getattr(mod, "conda_" + name)())
t2 = time.perf_counter()
print((t1 - t) * 1000, (t2 - t) * 1000)
"""


def find_conda() -> str | None:
    conda = os.environ.get("GUARD_TEST_CONDA") or "/tmp/realconda/bin/conda"
    return shutil.which(conda) if conda else None


def conda_python(conda: str) -> str:
    """The interpreter conda runs on (``conda info --json``: ``sys.executable``)."""
    out = subprocess.run([conda, "info", "--json"], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)["sys.executable"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(python: str, hide: str, *args: str) -> tuple[float, float, str]:
    """One conda start: (wall seconds, CPU seconds, stdout). CPU time (user + system of the
    finished child, from ``getrusage``; runs are sequential) is what the start itself costs; wall
    time also holds the waits of a loaded machine."""
    cpu0, start = _children_cpu(), time.perf_counter()
    out = subprocess.run(
        [python, "-c", LAUNCHER, hide, *args], capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir()
    )
    elapsed, cpu = time.perf_counter() - start, _children_cpu() - cpu0
    if out.returncode != 0:
        raise SystemExit(f"conda {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    return elapsed, cpu, out.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    opts = parser.parse_args()
    conda = find_conda()
    if conda is None:
        print(
            "bench_conda_plugin: no conda: set GUARD_TEST_CONDA to a conda executable or build "
            "/tmp/realconda (../shared/recipes/real-conda/setup.sh)",
            file=sys.stderr,
        )
        return 2
    python = conda_python(conda)
    # the plugin is there on one side only (conda --help lists plugin subcommands)
    if "conda-pip-guard:" not in run(python, "", "--help")[2]:
        print(f"bench_conda_plugin: conda-pip-guard is not installed in {python}'s environment", file=sys.stderr)
        return 2
    assert "conda-pip-guard:" not in run(python, DIST_PREFIX, "--help")[2], "hiding the plugin did not work"
    for hide in ("", DIST_PREFIX):  # warm the file system cache, bytecode
        run(python, hide, "--version")
    rows: dict[str, tuple[list[float], list[float]]] = {"with": ([], []), "hidden": ([], [])}
    for _ in range(opts.repeat):
        for side, hide in (("with", ""), ("hidden", DIST_PREFIX)):
            wall, cpu, _ = run(python, hide, "--version")
            rows[side][0].append(wall * 1000)
            rows[side][1].append(cpu * 1000)
    imports = []
    for _ in range(max(5, opts.repeat // 2)):
        out = subprocess.run(
            [python, "-c", IMPORT_ONLY],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            cwd=tempfile.gettempdir(),
        )
        imports.append(float(out.stdout.strip()))
    work = []
    for _ in range(max(5, opts.repeat // 2)):
        out = subprocess.run(
            [python, "-c", PLUGIN_WORK],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            cwd=tempfile.gettempdir(),
        )
        work.append(tuple(float(x) for x in out.stdout.split()))
    med = {side: (statistics.median(w), statistics.median(c)) for side, (w, c) in rows.items()}
    low = {side: (min(w), min(c)) for side, (w, c) in rows.items()}
    print(f"conda: {conda} (Python: {python}); {opts.repeat} runs each, alternating; medians unless said")
    print(f"{'':<34} {'wall':>9} {'CPU':>9}")
    print(f"{'conda --version, plugin hidden':<34} {med['hidden'][0]:6.1f} ms {med['hidden'][1]:6.1f} ms")
    print(f"{'conda --version, plugin loaded':<34} {med['with'][0]:6.1f} ms {med['with'][1]:6.1f} ms")
    dw, dc = med["with"][0] - med["hidden"][0], med["with"][1] - med["hidden"][1]
    print(
        f"{'added by the plugin':<34} {dw:+6.1f} ms {dc:+6.1f} ms   (CPU ratio {med['with'][1] / med['hidden'][1]:.3f}; goal <= 5 ms)"
    )
    lw, lc = low["with"][0] - low["hidden"][0], low["with"][1] - low["hidden"][1]
    print(f"{'added, fastest runs (min - min)':<34} {lw:+6.1f} ms {lc:+6.1f} ms")
    print(
        f"{'import guard.conda_plugin.plugin':<34} {statistics.median(imports):6.2f} ms (in conda's Python, after conda's plugin types)"
    )
    print(
        f"{'entry point load + subcommands hook':<34} {statistics.median(w[0] for w in work):6.2f} ms "
        "(in conda's Python: the plugin's own work at conda --version)"
    )
    print(f"{'entry point load + all 6 hooks once':<34} {statistics.median(w[1] for w in work):6.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
