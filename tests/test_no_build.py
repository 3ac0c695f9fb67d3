"""No package code unless asked (issue 9, item 3).

``guard check``, ``guard why`` and the pre-commit hook never build anything by default: a
``setup.py`` project, a pyproject.toml project with dynamic dependencies and an sdist whose
PKG-INFO cannot be trusted (PEP 643) all end in exit 3 with one line naming the project and the
way to allow a build; no marker file appears. An sdist with static metadata (Metadata-Version 2.2+,
Requires-Dist not Dynamic) is judged from its PKG-INFO without running anything. With
``--allow-build`` (or ``allow_build: true``) pip's own dry run may build, through the env's pip or,
when the env has none, the guard's own pip with ``--python``; its failure shows pip's real error.
``guard pip`` lets pip build (it is about to run that code anyway) and says so on stderr first.

Every project here writes a marker file from its build code (setup.py, an in-tree build backend);
everything is offline (``--no-index --find-links DIR``)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from tests.support.conda_prefix import PLAIN_ENV
from tests.support.guard_env import isolated_environ
from tests.support.wheels import build_wheel


@pytest.fixture(scope="module")
def prefix(tmp_path_factory, conda_channel_root):
    """A real conda env with its own pip (the one that would build)."""
    return PLAIN_ENV.build(tmp_path_factory.mktemp("nobuild") / "env", with_pip=True, channel_root=conda_channel_root)


@pytest.fixture(scope="module")
def bare_prefix(tmp_path_factory, conda_channel_root):
    """A real conda env without pip."""
    return PLAIN_ENV.build(tmp_path_factory.mktemp("nobuild-bare") / "env", channel_root=conda_channel_root)


@pytest.fixture
def env(tmp_path):
    return isolated_environ(tmp_path)


def run_guard(*args, env, cwd=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "guard", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


# ---- projects whose build code writes a marker ------------------------------------------------


def backend_source(marker: Path, name: str, *, fail: str | None = None) -> str:
    """An in-tree PEP 517 backend: importing it (= building) writes ``marker``."""
    prepare = (
        f"    raise RuntimeError({fail!r})\n"
        if fail
        else f"    d = os.path.join(metadata_directory, '{name}-1.0.dist-info')\n"
        "    os.makedirs(d)\n"
        f"    open(os.path.join(d, 'METADATA'), 'w').write('Metadata-Version: 2.1\\nName: {name}\\n"
        "Version: 1.0\\n')\n"
        f"    return '{name}-1.0.dist-info'\n"
    )
    return (
        f"import os\nopen({str(marker)!r}, 'a').write('built\\n')\n"
        "def get_requires_for_build_wheel(config_settings=None):\n    return []\n"
        "def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):\n"
        + prepare
        + "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n"
        "    raise RuntimeError('no wheels here')\n"
    )


BUILD_SYSTEM = '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'


def dynamic_project(root: Path, marker: Path, name: str = "dynproj", fail: str | None = None) -> Path:
    proj = root / name
    proj.mkdir(parents=True)
    (proj / "pyproject.toml").write_text(
        BUILD_SYSTEM + f'[project]\nname = "{name}"\nversion = "1.0"\ndynamic = ["dependencies"]\n'
    )
    (proj / "backend.py").write_text(backend_source(marker, name, fail=fail))
    return proj


def setup_py_project(root: Path, marker: Path) -> Path:
    proj = root / "setupproj"
    proj.mkdir(parents=True)
    (proj / "setup.py").write_text(f"open({str(marker)!r}, 'a').write('setup.py ran\\n')\n")
    return proj


def build_tools(links: Path) -> None:
    """Stand-ins for setuptools and wheel in the find-links dir, so that pip's isolated build of a
    setup.py project really happens offline: their backend runs setup.py, as setuptools does."""
    legacy = textwrap.dedent("""\
        import os, runpy, types
        def _prepare(metadata_directory, config_settings=None):
            runpy.run_path('setup.py')
            d = os.path.join(metadata_directory, 'setupproj-1.0.dist-info')
            os.makedirs(d)
            open(os.path.join(d, 'METADATA'), 'w').write('Metadata-Version: 2.1\\nName: setupproj\\nVersion: 1.0\\n')
            return 'setupproj-1.0.dist-info'
        __legacy__ = types.SimpleNamespace(get_requires_for_build_wheel=lambda config_settings=None: [],
                                           prepare_metadata_for_build_wheel=_prepare)
        """)
    build_wheel(links, "setuptools", "99.0", files={"setuptools/__init__.py": "", "setuptools/build_meta.py": legacy})
    build_wheel(links, "wheel", "99.0")


def sdist(links: Path, name: str, pkg_info: str, marker: Path) -> Path:
    """``name-1.0.tar.gz`` with ``pkg_info`` as its PKG-INFO and a building backend."""
    links.mkdir(parents=True, exist_ok=True)
    path = links / f"{name}-1.0.tar.gz"
    members = {
        "PKG-INFO": pkg_info,
        "pyproject.toml": BUILD_SYSTEM + f'[project]\nname = "{name}"\nversion = "1.0"\ndynamic = ["dependencies"]\n',
        "backend.py": backend_source(marker, name),
    }
    with tarfile.open(path, "w:gz") as tf:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-1.0/{member}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def links(tmp_path):
    d = tmp_path / "links"
    d.mkdir()
    build_tools(d)
    return d


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "MARKER"


def assert_refused(proc, marker: Path, *fragments: str) -> None:
    assert not marker.exists(), "package code ran: " + marker.read_text()
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("guard: error: cannot judge this without pip's own dry run, which may run package code")
    assert "nothing was run" in lines[0] and "--allow-build" in lines[0] and "allow_build: true" in lines[0]
    for f in fragments:
        assert f in lines[0], lines[0]


# ---- by default nothing is built ---------------------------------------------------------------


def test_setup_py_project_is_not_built(prefix, env, tmp_path, links, marker):
    proj = setup_py_project(tmp_path, marker)
    proc = run_guard(
        "check", "--prefix", str(prefix), "--", "--no-index", "--find-links", str(links), str(proj), env=env
    )
    assert_refused(proc, marker, "setupproj", "setup.py")


def test_dynamic_pyproject_project_is_not_built(prefix, env, tmp_path, links, marker):
    proj = dynamic_project(tmp_path, marker)
    proc = run_guard(
        "check", "--prefix", str(prefix), "--", "--no-index", "--find-links", str(links), str(proj), env=env
    )
    assert_refused(proc, marker, "dynproj", "dependencies is dynamic")


@pytest.mark.parametrize(
    "pkg_info",
    [
        "Metadata-Version: 2.1\nName: sdproj\nVersion: 1.0\n",
        "Metadata-Version: 2.2\nName: sdproj\nVersion: 1.0\nDynamic: Requires-Dist\n",
    ],
    ids=["metadata-2.1", "requires-dist-dynamic"],
)
def test_sdist_without_reliable_metadata_is_not_built(prefix, env, tmp_path, links, marker, pkg_info):
    sdist(links, "sdproj", pkg_info, marker)
    proc = run_guard(
        "check", "--prefix", str(prefix), "--", "--no-index", "--find-links", str(links), "sdproj", env=env
    )
    assert_refused(proc, marker, "sdproj 1.0 is an sdist whose dependencies need a build")


def test_sdist_with_static_metadata_is_judged_from_pkg_info(prefix, env, tmp_path, links, marker):
    """PEP 643: Metadata-Version 2.2+, Requires-Dist not Dynamic: judged, nothing built; its
    dependency on numpy 2 is seen (a block) without running the sdist's backend."""
    build_wheel(links, "numpy", "2.0.0")
    sdist(
        links,
        "stproj",
        "Metadata-Version: 2.2\nName: stproj\nVersion: 1.0\nDynamic: Summary\nRequires-Dist: numpy>=2\n",
        marker,
    )
    proc = run_guard(
        "check", "--prefix", str(prefix), "--json", "--", "--no-index", "--find-links", str(links), "stproj", env=env
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["simulation"]["path"] == "resolver"
    assert {c["name"]: c["proposed"] for c in data["changes"]} == {"stproj": "1.0", "numpy": "2.0.0"}
    assert not marker.exists()


def test_local_sdist_archive_is_judged_from_its_static_pkg_info(prefix, env, tmp_path, links, marker):
    """A local ``x-1.0.tar.gz`` with static PKG-INFO: judged from it (not built); one whose
    PKG-INFO is not reliable: refused without a build."""
    build_wheel(links, "numpy", "2.0.0")
    archives = tmp_path / "archives"
    static = sdist(
        archives, "stproj", "Metadata-Version: 2.4\nName: stproj\nVersion: 1.0\nRequires-Dist: numpy>=2\n", marker
    )
    proc = run_guard(
        "check", "--prefix", str(prefix), "--json", "--", "--no-index", "--find-links", str(links), str(static), env=env
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["simulation"]["path"] == "resolver" and data["reasons"][0]["name"] == "numpy"
    assert data["reasons"][0]["chain"][0].endswith("stproj-1.0.tar.gz")
    dynamic = sdist(archives, "sdproj", "Metadata-Version: 2.1\nName: sdproj\nVersion: 1.0\n", marker)
    proc = run_guard(
        "check", "--prefix", str(prefix), "--", "--no-index", "--find-links", str(links), str(dynamic), env=env
    )
    assert_refused(proc, marker, "sdproj 1.0 is an sdist whose dependencies need a build")
    broken = archives / "broken-1.0.tar.gz"
    broken.write_bytes(b"not a tarball")
    proc = run_guard("check", "--prefix", str(prefix), "--", "--no-index", str(broken), env=env)
    assert proc.returncode == 2 and "broken-1.0.tar.gz: not a readable sdist" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_sdist_url_is_judged_from_its_static_pkg_info(prefix, env, tmp_path, links, marker):
    """``name @ https://.../name-1.0.tar.gz``: the sdist is downloaded and only its PKG-INFO read."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    sdist(served, "stproj", "Metadata-Version: 2.2\nName: stproj\nVersion: 1.0\nRequires-Dist: numpy>=2\n", marker)
    sdist(served, "sdproj", "Metadata-Version: 2.1\nName: sdproj\nVersion: 1.0\n", marker)
    build_wheel(links, "numpy", "2.0.0")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        proc = run_guard(
            "check",
            "--prefix",
            str(prefix),
            "--json",
            "--",
            "--no-index",
            "--find-links",
            str(links),
            f"stproj @ {base}/stproj-1.0.tar.gz",
            env=env,
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert json.loads(proc.stdout)["simulation"]["path"] == "resolver"
        proc = run_guard(
            "check",
            "--prefix",
            str(prefix),
            "--",
            "--no-index",
            "--find-links",
            str(links),
            f"sdproj @ {base}/sdproj-1.0.tar.gz",
            env=env,
        )
        assert_refused(proc, marker, "sdproj 1.0 is an sdist whose dependencies need a build")
    finally:
        server.shutdown()
        server.server_close()


def test_static_local_project_is_judged_without_a_build(prefix, env, tmp_path, links, marker):
    proj = tmp_path / "static"
    proj.mkdir()
    (proj / "pyproject.toml").write_text(
        BUILD_SYSTEM + '[project]\nname = "static"\nversion = "1.0"\ndependencies = []\n'
    )
    (proj / "backend.py").write_text(backend_source(marker, "static"))
    proc = run_guard(
        "check", "--prefix", str(prefix), "--json", "--", "--no-index", "--find-links", str(links), str(proj), env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["simulation"]["path"] == "resolver"
    assert not marker.exists()


def test_guard_why_does_not_build(prefix, env, tmp_path, links, marker):
    proj = dynamic_project(tmp_path, marker)
    proc = run_guard(
        "why", "--prefix", str(prefix), "numpy", "--", "--no-index", "--find-links", str(links), str(proj), env=env
    )
    assert_refused(proc, marker, "dynproj")


def test_pre_commit_hook_does_not_build(env, tmp_path, links, marker, capsys):
    """The hook on a pull request's requirements file never builds: an sdist without static
    metadata is a skipped check that says why (a failure with --strict); local projects (a
    setup.py, a dynamic pyproject.toml) are not resolved by the hook at all."""
    from guard.hooks.requirements import main

    setup_py_project(tmp_path, marker)
    dynamic_project(tmp_path, marker)
    sdist(links, "sdproj", "Metadata-Version: 2.1\nName: sdproj\nVersion: 1.0\n", marker)
    conda_yml = tmp_path / "environment.yml"
    conda_yml.write_text("name: t\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - numpy=1.26\n")
    req = tmp_path / "requirements.txt"
    req.write_text(f"--no-index\n--find-links {links}\n./setupproj\n./dynproj\nsdproj\n")
    assert main([str(req), "--strict", "--environment", str(conda_yml)], environ=env, cwd=str(tmp_path)) == 1
    out = capsys.readouterr().out
    assert "skipped: cannot simulate exactly without running package code, which the hook never does" in out
    assert "sdproj 1.0 is an sdist whose dependencies need a build" in out, out
    assert not marker.exists(), marker.read_text()


# ---- asked for: --allow-build, allow_build: true -----------------------------------------------


def test_allow_build_lets_pips_dry_run_build(prefix, env, tmp_path, links, marker):
    proj = dynamic_project(tmp_path, marker)
    proc = run_guard(
        "check",
        "--prefix",
        str(prefix),
        "--allow-build",
        "--json",
        "--",
        "--no-index",
        "--find-links",
        str(links),
        str(proj),
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert (
        data["simulation"]["path"] == "pip-report"
        and "dependencies is dynamic" in data["simulation"]["fallback_reason"]
    )
    assert [c["name"] for c in data["changes"]] == ["dynproj"]
    assert marker.exists()


def test_allow_build_in_the_config(prefix, env, tmp_path, links, marker):
    proj = setup_py_project(tmp_path, marker)
    config = tmp_path / "guard.yaml"
    config.write_text("allow_build: true\n")
    proc = run_guard(
        "check",
        "--prefix",
        str(prefix),
        "--",
        "--no-index",
        "--find-links",
        str(links),
        str(proj),
        env={**env, "GUARD_CONFIG": str(config)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert marker.read_text() == "setup.py ran\n"
    config.write_text("allow_build: sometimes\n")
    proc = run_guard("check", "--prefix", str(prefix), "--", "rich", env={**env, "GUARD_CONFIG": str(config)})
    assert proc.returncode == 2 and "allow_build must be true or false" in proc.stderr, proc.stderr


def test_env_without_pip_uses_the_guards_own_pip(bare_prefix, env, tmp_path, links, marker):
    """No pip in the env: the guard's own pip runs the dry run for the env's interpreter (--python)."""
    proj = dynamic_project(tmp_path, marker)
    proc = run_guard(
        "check",
        "--prefix",
        str(bare_prefix),
        "--allow-build",
        "--json",
        "--",
        "--no-index",
        "--find-links",
        str(links),
        str(proj),
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["simulation"]["path"] == "pip-report" and [c["name"] for c in data["changes"]] == ["dynproj"]
    assert marker.exists()


def test_failed_build_shows_pips_real_error(prefix, env, tmp_path, links, marker):
    proj = dynamic_project(tmp_path, marker, name="failproj", fail="boom-from-the-backend")
    proc = run_guard(
        "check",
        "--prefix",
        str(prefix),
        "--allow-build",
        "--",
        "--no-index",
        "--find-links",
        str(links),
        str(proj),
        env=env,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("guard: error: pip --dry-run failed: "), proc.stderr
    assert "RuntimeError: boom-from-the-backend" in lines[0] and "did not run successfully" in lines[0]
    assert "note: This error originates from a subprocess" not in lines[0]


def test_guard_pip_says_it_lets_pip_build(prefix, env, tmp_path, links, marker):
    """guard pip may build (pip is about to anyway), and says so on stderr before it does."""
    proj = dynamic_project(tmp_path, marker)
    proc = run_guard(
        "pip",
        "install",
        "--no-index",
        "--find-links",
        str(links),
        str(proj),
        env={**env, "CONDA_PREFIX": str(prefix), "PATH": f"{prefix / 'bin'}:{env['PATH']}"},
    )
    notes = [ln for ln in proc.stderr.splitlines() if "builds it now" in ln]
    assert len(notes) == 1, proc.stderr
    assert notes[0].startswith("conda-pip-guard: note: ") and "dynproj" in notes[0]
    assert marker.exists()


# ---- pip's error, on one line ------------------------------------------------------------------

PIP_BUILD_FAILURE = """\
  error: subprocess-exited-with-error

  \u00d7 Preparing metadata (pyproject.toml) did not run successfully.
  \u2502 exit code: 1
  \u2570\u2500> [6 lines of output]
      Traceback (most recent call last):
        File "backend.py", line 5, in prepare_metadata_for_build_wheel
      RuntimeError: boom
      [end of output]

  note: This error originates from a subprocess, and is likely not a problem with pip.
error: metadata-generation-failed

\u00d7 Encountered error while generating package metadata.
\u2570\u2500> See above for output.

note: This is an issue with the package mentioned above, not pip.
hint: See above for details.
"""


def test_pip_error_summary_keeps_the_real_error():
    from guard.pipeline.pip_report import pip_error_summary

    text = pip_error_summary(PIP_BUILD_FAILURE)
    assert text.split(" | ") == [
        "error: subprocess-exited-with-error",
        "\u00d7 Preparing metadata (pyproject.toml) did not run successfully.",
        "RuntimeError: boom",
        "error: metadata-generation-failed",
        "\u00d7 Encountered error while generating package metadata.",
    ]
    assert pip_error_summary(
        "ERROR: Could not find a version that satisfies the requirement zz (from versions: none)\n"
        "ERROR: No matching distribution found for zz\n"
    ) == (
        "ERROR: Could not find a version that satisfies the requirement zz (from versions: none) | "
        "ERROR: No matching distribution found for zz"
    )
    assert pip_error_summary("", "", 2) == "exit status 2"


def test_a_build_that_hangs_ends_at_the_deadline(prefix, env, tmp_path, links, marker):
    """pip's dry run is bounded by the run's one deadline (GUARD_DEADLINE), builds included: a
    backend that never returns ends in exit 3 naming the deadline, and no process is left behind."""
    proj = dynamic_project(tmp_path, marker)
    backend = proj / "backend.py"
    backend.write_text(
        "import time\n"
        + backend.read_text().replace(
            "def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):\n",
            "def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):\n    time.sleep(600)\n",
        )
    )
    proc = run_guard(
        "check",
        "--prefix",
        str(prefix),
        "--allow-build",
        "--",
        "--no-index",
        "--find-links",
        str(links),
        str(proj),
        env={**env, "GUARD_DEADLINE": "4"},
        timeout=60,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "deadline" in proc.stderr and "GUARD_DEADLINE" in proc.stderr and "Traceback" not in proc.stderr
    assert marker.exists()  # the build really started (and was stopped)
    leftover = subprocess.run(["pgrep", "-f", str(proj)], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", leftover.stdout


def test_pip_crash_summary_names_the_cause():
    """pip's own crash ("ERROR: Exception:" and a traceback) is summarised with the exception that
    caused it, not the bare headline."""
    from guard.pipeline.pip_report import pip_error_summary

    stderr = (
        "ERROR: Exception:\nTraceback (most recent call last):\n"
        '  File "/x/pip/_internal/cli/base_command.py", line 105, in _run_wrapper\n'
        "    status = _inner_run()\n"
        "ModuleNotFoundError: No module named 'setuptools'\n"
    )
    assert pip_error_summary(stderr) == "ERROR: Exception: | ModuleNotFoundError: No module named 'setuptools'"
