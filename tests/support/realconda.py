"""The real conda CLI for the tests marked ``realconda`` (issue 12: the conda plugin).

``GUARD_TEST_CONDA`` names a conda executable (conda 25.x; ``../shared/recipes/real-conda/`` builds
conda 25.11.1 from its source, offline, as ``/tmp/realconda/bin/conda``). Unset: every ``realconda``
test skips with that reason, which is what CI sees (conda is not on the package index).

What this module does for a test, and nothing else:

* :func:`locate` asks that conda for its own interpreter (``conda info --json``: ``sys.executable``)
  and finds the channel configuration to start from: ``GUARD_TEST_CONDARC`` if set, else the
  ``condarc`` beside the recipe's ``bin/`` (``/tmp/realconda/condarc``: a local ``file://`` channel
  answering to ``conda-forge``, offline, classic solver).
* :func:`ensure_plugin` makes conda load this checkout's plugin: conda reads entry points of group
  ``conda`` from the interpreter it runs on, so the project must be installed there (editable, from
  this checkout). Idempotent: it installs only when the installed distribution is not an editable
  install of this checkout, or its entry points differ from ``pyproject.toml``'s (an editable
  install freezes them), or a runtime dependency is missing. It uses that interpreter's pip with
  the machine's own pip configuration (the build needs setuptools>=77 from an index). When that
  cannot work, or ``GUARD_TEST_CONDA_INSTALL=0`` (a conda of your own that tests must not change),
  it raises the reason the tests skip with.
* :class:`Conda` runs that conda with a configuration of the test's own: ``CONDARC`` (a copy of the
  channel configuration with ``envs_dirs`` and ``pkgs_dirs`` under the test's directory), ``HOME``
  (where ``conda config --set`` writes ``~/.condarc``), the guard's cache, no ``CONDA_*`` or ``PIP_*``
  variable of the caller (pip config-isolated), and a timeout on every command.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ENV_VAR = "GUARD_TEST_CONDA"
CONDARC_VAR = "GUARD_TEST_CONDARC"
INSTALL_VAR = "GUARD_TEST_CONDA_INSTALL"
"""``0``: never pip-install into conda's interpreter (a conda of your own); skip instead."""
REPO_ROOT = Path(__file__).resolve().parents[2]
DIST_NAME = "conda-pip-guard"
CONDA_TIMEOUT = 180
"""Seconds any one conda command may take (a create takes ~4 s here; the machine is shared)."""
INSTALL_TIMEOUT = 600
SKIP_UNSET = (
    f"{ENV_VAR} is not set: these tests run the real conda CLI (point it at a conda 25.x executable, "
    "e.g. /tmp/realconda/bin/conda built by ../shared/recipes/real-conda/setup.sh)"
)
# minimal on purpose: no conda env's bin, no guard shims directory of the caller's shell
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


class RealCondaUnavailable(Exception):
    """The real conda cannot be used; the message is the reason the tests skip with."""


@dataclass(frozen=True)
class CondaInstall:
    """A conda executable and what the tests need to know about it."""

    exe: str
    python: str
    """The interpreter conda runs on (conda loads its plugins from there)."""
    version: str
    base_condarc: Path
    """The channel configuration every test's own ``CONDARC`` is copied from."""


@dataclass(frozen=True)
class Result:
    """One finished conda (or pip, guard) command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:  # the assertion message: the command and everything it printed
        return f"$ {' '.join(self.args)}\nexit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def run(
    args: Sequence[str | os.PathLike[str]],
    env: Mapping[str, str],
    *,
    timeout: float = CONDA_TIMEOUT,
    cwd: Path | None = None,
) -> Result:
    argv = tuple(str(a) for a in args)
    try:
        out = subprocess.run(
            argv, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"$ {' '.join(argv)}\ntimed out after {timeout} s\n{exc.stdout!r}\n{exc.stderr!r}"
        ) from None
    return Result(argv, out.returncode, out.stdout, out.stderr)


def _bare_env(home: Path) -> dict[str, str]:
    return {"PATH": BASE_PATH, "HOME": str(home), "LANG": "C.UTF-8"}


def locate(environ: Mapping[str, str] = os.environ) -> CondaInstall:
    """The conda named by ``GUARD_TEST_CONDA``; raises :class:`RealCondaUnavailable` (unset) or
    ``AssertionError`` (set to something that is not a working conda: a setup error to see, not
    to skip)."""
    exe = environ.get(ENV_VAR, "").strip()
    if not exe:
        raise RealCondaUnavailable(SKIP_UNSET)
    assert os.path.isfile(exe) and os.access(exe, os.X_OK), f"{ENV_VAR}={exe} is not an executable file"
    home = Path("/nonexistent-realconda-home")
    info = run([exe, "info", "--json"], {**_bare_env(home), "CONDARC": os.devnull}, timeout=120)
    assert info.returncode == 0, f"{ENV_VAR}={exe}: conda info --json failed\n{info}"
    data = json.loads(info.stdout)
    if environ.get(CONDARC_VAR):
        condarc = Path(environ[CONDARC_VAR])
    else:
        condarc = Path(exe).resolve().parent.parent / "condarc"
    if not condarc.is_file():
        raise RealCondaUnavailable(
            f"no channel configuration for {exe}: set {CONDARC_VAR} to a condarc with a local channel "
            "answering to conda-forge (python 3.11, pip, numpy 1.26.4 and 2.0.0), as "
            "../shared/recipes/real-conda/setup.sh writes beside bin/conda"
        )
    return CondaInstall(exe=exe, python=data["sys.executable"], version=data["conda_version"], base_condarc=condarc)


# --------------------------------------------------------------------------------------------------
# The plugin in conda's interpreter

_PROBE = r"""
import importlib.metadata as md, importlib.util, json, sys
out = {"dist": None, "entry_points": [], "missing": []}
try:
    d = md.distribution(sys.argv[1])
except md.PackageNotFoundError:
    pass
else:
    out["dist"] = d.read_text("direct_url.json")
    out["entry_points"] = sorted([e.group, e.name, e.value] for e in d.entry_points)
for mod in sys.argv[2:]:
    if importlib.util.find_spec(mod) is None:
        out["missing"].append(mod)
print(json.dumps(out))
"""
# import name of each runtime dependency in pyproject.toml
_IMPORT_NAMES = {"pyyaml": "yaml"}


def _project() -> dict:
    import tomllib  # Python 3.11+; only reached when GUARD_TEST_CONDA is set

    with open(REPO_ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


def expected_entry_points() -> list[list[str]]:
    """``[group, name, value]`` of every entry point ``pyproject.toml`` declares, sorted."""
    project = _project()
    eps = [["console_scripts", k, v] for k, v in project.get("scripts", {}).items()]
    for group, items in project.get("entry-points", {}).items():
        eps += [[group, k, v] for k, v in items.items()]
    return sorted(eps)


def _runtime_deps() -> dict[str, str]:
    """{import name: requirement} of the project's runtime dependencies."""
    deps = {}
    for req in _project().get("dependencies", []):
        name = re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].strip().lower()
        deps[_IMPORT_NAMES.get(name, name.replace("-", "_"))] = req
    return deps


def _plugin_state(python: str, home: Path) -> dict:
    # not run in the checkout: its conda_pip_guard.egg-info (setuptools' build leftover) would be found first
    probe = run([python, "-c", _PROBE, DIST_NAME, *_runtime_deps()], _bare_env(home), timeout=60, cwd=home)
    assert probe.returncode == 0, f"cannot probe conda's interpreter\n{probe}"
    return json.loads(probe.stdout)


def _is_this_checkout(direct_url: str | None) -> bool:
    if not direct_url:
        return False
    data = json.loads(direct_url)
    return data.get("dir_info", {}).get("editable", False) and data.get("url") == REPO_ROOT.as_uri()


def ensure_plugin(install: CondaInstall, scratch: Path, environ: Mapping[str, str] = os.environ) -> None:
    """Make ``install``'s interpreter hold this checkout, editable, with the entry points of
    ``pyproject.toml`` and the runtime dependencies; raises :class:`RealCondaUnavailable` with pip's
    last line when that cannot be done (e.g. no index for the build backend)."""
    scratch.mkdir(parents=True, exist_ok=True)
    lock_path = REPO_ROOT / ".cache" / "realconda-plugin.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = _plugin_state(install.python, scratch)
        if (
            _is_this_checkout(state["dist"])
            and state["entry_points"] == expected_entry_points()
            and not state["missing"]
        ):
            return
        if environ.get(INSTALL_VAR) == "0":
            raise RealCondaUnavailable(
                f"{install.python} (conda's interpreter) does not hold this checkout's plugin as pyproject.toml "
                f"declares it, and {INSTALL_VAR}=0 forbids installing it: pip install -e {REPO_ROOT} there"
            )
        # the machine's own pip configuration (HOME, PIP_*) stays: the build backend comes from an index
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "GUARD_", "VIRTUAL_ENV"))}
        pip = [install.python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        steps = []
        if not (_is_this_checkout(state["dist"]) and state["entry_points"] == expected_entry_points()):
            steps.append([*pip, "--no-deps", "-e", str(REPO_ROOT)])
        if state["missing"]:
            steps.append([*pip, *(_runtime_deps()[m] for m in state["missing"])])
        for step in steps:
            out = run(step, env, timeout=INSTALL_TIMEOUT, cwd=scratch)
            if out.returncode != 0:
                last = (out.stderr.strip().splitlines() or ["no output"])[-1]
                raise RealCondaUnavailable(f"cannot install the plugin into conda's interpreter: {last}")
        state = _plugin_state(install.python, scratch)
        assert _is_this_checkout(state["dist"]), f"after pip install -e, {install.python} does not hold {REPO_ROOT}"
        assert state["entry_points"] == expected_entry_points(), state
        assert not state["missing"], state


# --------------------------------------------------------------------------------------------------
# Running conda with the test's own configuration


@dataclass
class Conda:
    """A conda with a configuration of its own under ``root``: ``root/condarc`` (``CONDARC``),
    ``root/home`` (``HOME``: ``conda config --set`` writes ``root/home/.condarc``), ``root/envs``
    (``-n NAME``), the guard's cache in ``root/guard-cache``; ``pkgs_dir`` may be shared."""

    install: CondaInstall
    root: Path
    pkgs_dir: Path
    scrub: tuple[Path, ...] = ()
    """Directories whose paths :meth:`said` hides (the test's and pytest's base directory: test
    names in them would otherwise put words like ``pip`` and ``numpy`` into every line that shows
    a path)."""
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.envs_dir.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load(self.install.base_condarc.read_text()) or {}
        config["envs_dirs"] = [str(self.envs_dir)]
        config["pkgs_dirs"] = [str(self.pkgs_dir)]
        self.condarc.write_text(yaml.safe_dump(config, sort_keys=False))

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def condarc(self) -> Path:
        return self.root / "condarc"

    @property
    def envs_dir(self) -> Path:
        return self.root / "envs"

    @property
    def user_condarc(self) -> Path:
        return self.home / ".condarc"

    @property
    def environ(self) -> dict[str, str]:
        """The environment of every command: nothing of the caller's conda, pip or guard setup."""
        return {
            **_bare_env(self.home),
            "CONDARC": str(self.condarc),
            "CONDA_PKGS_DIRS": str(self.pkgs_dir),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_STATE_HOME": str(self.home / ".state"),
            "GUARD_CACHE_DIR": str(self.root / "guard-cache"),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            **self.extra_env,
        }

    def __call__(
        self, *args: str | os.PathLike[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Result:
        """``conda ARGS...`` (exit status not checked)."""
        return run([self.install.exe, *args], {**self.environ, **(env or {})}, cwd=cwd or self.root)

    def ok(
        self, *args: str | os.PathLike[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Result:
        """``conda ARGS...``, which must exit 0."""
        out = self(*args, env=env, cwd=cwd)
        assert out.returncode == 0, str(out)
        return out

    def create(self, prefix: Path, *specs: str) -> Path:
        """``conda create -y -p PREFIX SPECS...`` from the local channel; returns ``prefix``."""
        self.ok("create", "-y", "-q", "-p", prefix, *specs)
        assert (prefix / "conda-meta" / "history").is_file()
        return prefix

    def run_in(self, prefix: Path, *args: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Result:
        """A program of the env (``bin/<args[0]>``) with the same isolated environment."""
        return run([str(prefix / "bin" / str(args[0])), *args[1:]], {**self.environ, **(env or {})}, cwd=self.root)

    def said(self, result: Result) -> str:
        """Everything ``result`` printed, each of ``scrub`` shown as ``<tmp>`` (the longest first)."""
        text = result.output
        for path in sorted(map(str, self.scrub), key=len, reverse=True):
            text = text.replace(path, "<tmp>")
        return text

    def guard(self, prefix: Path, *args: str | os.PathLike[str]) -> Result:
        """The plain ``guard`` CLI of conda's interpreter (the reference the plugin is compared to)."""
        guard_exe = Path(self.install.python).parent / "guard"
        return run([guard_exe, *args, "--prefix", prefix] if args else [guard_exe], self.environ, cwd=self.root)


def conda_record(prefix: Path, name: str) -> dict | None:
    """The ``conda-meta`` record of ``name`` in ``prefix``, or None."""
    for path in (prefix / "conda-meta").glob(f"{name}-*.json"):
        record = json.loads(path.read_text())
        if record.get("name") == name:
            return record
    return None


def dist_infos(prefix: Path, name: str) -> dict[str, str]:
    """{dist-info directory name: its INSTALLER} for project ``name`` in the env's site-packages."""
    found = {}
    for sp in prefix.glob("lib/python3*/site-packages"):
        for d in sp.glob(f"{name}-*.dist-info"):
            installer = d / "INSTALLER"
            found[d.name] = installer.read_text().strip() if installer.is_file() else ""
    return found


def tree_digest(root: Path) -> dict[str, bytes]:
    """{relative path: bytes} of every file under ``root`` (to see that nothing changed)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
