"""An sdist whose dependencies only a build can tell is built alone, not the whole command
(issue 14, point 4).

One sdist-only project anywhere in the graph used to hand the whole check to pip's own dry run.
Now the guard resolves the command itself and asks pip for that one sdist's metadata
(``pip install --dry-run --no-deps`` of that sdist: pip's own isolated metadata build), when
builds are allowed; cached by the sdist's sha256, so a new command over the same sdist builds
nothing. Not allowed: exit 3 naming the project and ``--allow-build``, nothing run (as before).

The index is a ``file://`` PEP 503 tree with sha256 fragments (what pip reads too); every sdist's
in-tree build backend appends to a marker file when it runs, so a test sees each build."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.support.conda_prefix import PLAIN_ENV
from tests.support.guard_env import isolated_environ
from tests.support.wheels import build_wheel

BUILD_SYSTEM = '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'


def backend(
    marker: Path, name: str, requires: list[str], *, extras=(), fail: str | None = None, hang: bool = False
) -> str:
    """An in-tree PEP 517 backend whose metadata hook appends a line to ``marker``, then writes
    METADATA with ``requires`` and ``extras`` (what only this build tells)."""
    lines = "".join(f"Provides-Extra: {e}\\n" for e in extras) + "".join(f"Requires-Dist: {r}\\n" for r in requires)
    body = (
        f"    raise RuntimeError({fail!r})\n"
        if fail
        else (
            f"    d = os.path.join(metadata_directory, '{name}-1.0.dist-info')\n"
            "    os.makedirs(d)\n"
            f"    open(os.path.join(d, 'METADATA'), 'w').write('Metadata-Version: 2.1\\nName: {name}\\n"
            f"Version: 1.0\\n{lines}')\n"
            f"    return '{name}-1.0.dist-info'\n"
        )
    )
    return (
        "import os, time\n"
        "def get_requires_for_build_wheel(config_settings=None):\n    return []\n"
        "def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):\n"
        f"    open({str(marker)!r}, 'a').write('{name}\\n')\n" + ("    time.sleep(600)\n" if hang else "") + body
    )


def write_sdist(files: Path, name: str, marker: Path, requires: list[str], **kw) -> Path:
    """``name-1.0.tar.gz``: a Metadata-Version 2.1 PKG-INFO (not reliable: PEP 643) and the backend."""
    files.mkdir(parents=True, exist_ok=True)
    path = files / f"{name}-1.0.tar.gz"
    members = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        "pyproject.toml": BUILD_SYSTEM + f'[project]\nname = "{name}"\nversion = "1.0"\ndynamic = ["dependencies"]\n',
        "backend.py": backend(marker, name, requires, **kw),
    }
    with tarfile.open(path, "w:gz") as tf:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-1.0/{member}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def file_index(root: Path, files: list[Path]) -> str:
    """A ``file://`` PEP 503 index of ``files``, each link with its sha256; returns its URL."""
    from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

    by_project: dict[str, list[Path]] = {}
    for f in files:
        name = parse_wheel_filename(f.name)[0] if f.name.endswith(".whl") else parse_sdist_filename(f.name)[0]
        by_project.setdefault(canonicalize_name(name), []).append(f)
    for project, paths in by_project.items():
        page = root / "simple" / project
        page.mkdir(parents=True, exist_ok=True)
        links = "".join(
            f'<a href="{p.resolve().as_uri()}#sha256={hashlib.sha256(p.read_bytes()).hexdigest()}">{p.name}</a>\n'
            for p in paths
        )
        (page / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    return (root / "simple").resolve().as_uri() + "/"


@pytest.fixture(scope="module")
def prefix(tmp_path_factory, conda_channel_root):
    """A real conda env (conda's numpy 1.26) with its own pip, which builds the sdist."""
    return PLAIN_ENV.build(
        tmp_path_factory.mktemp("sdist-build") / "env", with_pip=True, channel_root=conda_channel_root
    )


@pytest.fixture
def env(tmp_path):
    return isolated_environ(tmp_path)


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "BUILT"


def run_guard(*args, env, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "guard", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def builds(marker: Path) -> list[str]:
    return marker.read_text().split() if marker.exists() else []


def pip_dry_run(oracle_pip: Path, prefix: Path, args: list[str], env: dict) -> set:
    """What real pip (the oracle, 26.3) would install in ``prefix`` (it builds the sdist itself)."""
    python = prefix / "bin" / "python"
    proc = subprocess.run(
        [str(oracle_pip), "-m", "pip", "--python", str(python), "install", "--dry-run", "--report", "-", "-q", *args],
        env={**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return {(i["metadata"]["name"], i["metadata"]["version"]) for i in json.loads(proc.stdout)["install"]}


# ---- the scenario ---------------------------------------------------------------------------------


def test_an_sdist_deep_in_the_graph_is_built_alone(prefix, env, tmp_path, marker, oracle_pip):
    """app (a wheel) needs sdproj[fast], an sdist whose build says it needs numpy>=2 (conda's numpy
    is 1.26) and, for its extra, extra-dep: without --allow-build, exit 3 naming sdproj, nothing
    run; with it, the guard's own resolver answers (not pip's whole dry run), sdproj alone is
    built, and the numpy upgrade is seen (a block) exactly as real pip plans it. A new command over
    the same sdist builds nothing: the built metadata is cached under the sdist's sha256."""
    files = tmp_path / "files"
    index = file_index(
        tmp_path / "index",
        [
            build_wheel(files, "app", "1.0", requires_dist=["sdproj[fast]", "helper"]),
            build_wheel(files, "helper", "1.0"),
            build_wheel(files, "extra-dep", "1.0"),
            build_wheel(files, "numpy", "2.0.0"),
            write_sdist(
                files, "sdproj", marker, ["numpy>=2", "helper>=1", 'extra-dep; extra == "fast"'], extras=["fast"]
            ),
        ],
    )
    args = ["--index-url", index, "app"]
    refused = run_guard("check", "--prefix", str(prefix), "--", *args, env=env)
    assert refused.returncode == 3 and refused.stdout == "", refused.stderr
    lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "sdproj 1.0 is an sdist whose dependencies need a build" in lines[0], lines
    assert "nothing was run" in lines[0] and "--allow-build" in lines[0] and "allow_build: true" in lines[0]
    assert builds(marker) == []

    proc = run_guard("check", "--prefix", str(prefix), "--allow-build", "--json", "--", *args, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["simulation"]["path"] == "resolver", data["simulation"]
    changes = {(c["name"], c["proposed"]) for c in data["changes"]}
    assert changes == {("app", "1.0"), ("helper", "1.0"), ("sdproj", "1.0"), ("numpy", "2.0.0"), ("extra-dep", "1.0")}
    assert [r["name"] for r in data["reasons"]] == ["numpy"]
    assert builds(marker) == ["sdproj"]  # one build, of that one sdist
    # the verdict that needed the build is no answer for a run that may not build
    again_refused = run_guard("check", "--prefix", str(prefix), "--", *args, env=env)
    assert again_refused.returncode == 3, again_refused.stdout + again_refused.stderr

    again = run_guard(
        "check",
        "--prefix",
        str(prefix),
        "--allow-build",
        "--json",
        "--",
        "--index-url",
        index,
        "sdproj",
        env={**env, "GUARD_NO_VERDICT_CACHE": "1"},
    )
    assert again.returncode == 1, again.stdout + again.stderr
    assert {(c["name"], c["proposed"]) for c in json.loads(again.stdout)["changes"]} == {
        ("helper", "1.0"),
        ("sdproj", "1.0"),
        ("numpy", "2.0.0"),
    }
    assert builds(marker) == ["sdproj"]  # answered from the cache: nothing built again

    # real pip (which builds sdproj itself) plans the same
    assert pip_dry_run(oracle_pip, prefix, args, env) == changes


def test_hash_locked_requirements_with_an_sdist(prefix, env, tmp_path, marker, oracle_pip):
    """A lock file (``--hash`` on every line: pip requires hashes): pip still builds that one sdist
    to learn its dependencies, and so does the guard, which used to hand the whole command to pip."""
    files = tmp_path / "files"
    dists = {
        ("app", "1.0"): build_wheel(files, "app", "1.0", requires_dist=["sdproj"]),
        ("numpy", "2.0.0"): build_wheel(files, "numpy", "2.0.0"),
        ("sdproj", "1.0"): write_sdist(files, "sdproj", marker, ["numpy>=2"]),
    }
    index = file_index(tmp_path / "index", list(dists.values()))
    lock = tmp_path / "locked.txt"
    lock.write_text(
        "".join(
            f"{name}=={version} --hash=sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}\n"
            for (name, version), path in dists.items()
        )
    )
    args = ["--index-url", index, "-r", str(lock)]
    proc = run_guard("check", "--prefix", str(prefix), "--allow-build", "--json", "--", *args, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["simulation"]["path"] == "resolver", data["simulation"]
    changes = {(c["name"], c["proposed"]) for c in data["changes"]}
    assert changes == set(dists) and builds(marker) == ["sdproj"]
    assert pip_dry_run(oracle_pip, prefix, args, env) == changes


def test_a_failed_build_names_the_sdist_and_shows_pips_error(prefix, env, tmp_path, marker):
    files = tmp_path / "files"
    index = file_index(
        tmp_path / "index",
        [
            build_wheel(files, "app", "1.0", requires_dist=["failproj"]),
            write_sdist(files, "failproj", marker, [], fail="boom-from-the-backend"),
        ],
    )
    proc = run_guard("check", "--prefix", str(prefix), "--allow-build", "--", "--index-url", index, "app", env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("guard: error: building the metadata of failproj 1.0 (an sdist): pip --dry-run failed:")
    assert "RuntimeError: boom-from-the-backend" in lines[0]
    assert builds(marker) == ["failproj"]

    # guard pip is told before the build (it says so on stderr), and only that sdist is named
    from guard.errors import SimulationError
    from guard.pipeline.check import Context, simulate

    told: list[str] = []
    ctx = Context(
        prefix=prefix,
        environ=env,
        cwd=str(tmp_path),
        cache_dir=tmp_path / "cache2",
        allow_build=True,
        on_build=told.append,
    )
    with pytest.raises(SimulationError, match="building the metadata of failproj 1.0"):
        simulate(["install", "--index-url", index, "app"], ctx)
    assert told == ["failproj 1.0 is an sdist whose dependencies need a build"]


def test_a_build_that_hangs_ends_at_the_deadline(prefix, env, tmp_path, marker):
    files = tmp_path / "files"
    sd = write_sdist(files, "hangproj", marker, [], hang=True)
    index = file_index(tmp_path / "index", [sd])
    proc = run_guard(
        "check",
        "--prefix",
        str(prefix),
        "--allow-build",
        "--",
        "--index-url",
        index,
        "hangproj",
        env={**env, "GUARD_DEADLINE": "4"},
        timeout=60,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "building the metadata of hangproj 1.0" in proc.stderr and "GUARD_DEADLINE" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert builds(marker) == ["hangproj"]  # it really started, and was stopped with its process group
    leftover = subprocess.run(["pgrep", "-f", "hangproj"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", leftover.stdout


# ---- the pieces -----------------------------------------------------------------------------------


def _dist_file(name: str, sha: str = "ab" * 32):
    from packaging.version import Version

    from guard.models import DistFile

    return DistFile(
        project=name,
        filename=f"{name}-1.0.tar.gz",
        url=f"https://example.invalid/{name}-1.0.tar.gz",
        version=Version("1.0"),
        is_wheel=False,
        wheel_tags=frozenset(),
        requires_python=None,
        yanked=None,
        hashes={"sha256": sha},
        metadata_hashes=None,
        source="https://example.invalid/simple/",
    )


def _builder(tmp_path, *, allow: bool, markers=None, request=None):
    from guard.pipeline.sdist_build import SdistMetadataBuilder
    from guard.request.parse import parse_pip_argv

    return SdistMetadataBuilder(
        allow=allow,
        python=sys.executable,
        env_has_pip=True,
        environ={},
        cwd=str(tmp_path),
        request=request or parse_pip_argv(["install", "x"], config={}, environ={}, cwd=str(tmp_path)),
        markers=markers or {"python_version": "3.11"},
        cache_dir=tmp_path / "cache",
        deadline=60,
    )


def test_refused_without_running_anything(tmp_path):
    from guard.errors import BuildNotAllowed

    with pytest.raises(BuildNotAllowed, match=r"oldproj 1.0 is an sdist whose .*--allow-build"):
        _builder(tmp_path, allow=False)(
            _dist_file("oldproj"), "oldproj 1.0 is an sdist whose dependencies need a build"
        )


def test_built_metadata_is_cached_per_sdist_hash_and_interpreter(tmp_path):
    """A setup.py may pick its requirements by Python version: another interpreter, another entry."""
    from guard.index.cache import DiskCache

    record = {
        "metadata_version": "2.1",
        "name": "oldproj",
        "version": "1.0",
        "requires_dist": ["six"],
        "requires_python": None,
        "provides_extra": [],
        "dynamic": [],
        "built": True,
    }
    b311 = _builder(tmp_path, allow=True, markers={"python_version": "3.11"})
    key = b311._cache_key(_dist_file("oldproj"))
    DiskCache(tmp_path / "cache").store("built", key, record)
    assert b311(_dist_file("oldproj"), "why").requires_dist == ("six",)  # no pip run: it would fail here
    b312 = _builder(tmp_path, allow=True, markers={"python_version": "3.12"})
    assert b312._cache_key(_dist_file("oldproj")) != key
    assert _builder(tmp_path, allow=True)._cache_key(_dist_file("oldproj", sha="")) is None  # no hash: not cached


def test_pip_options_for_the_build_keep_pips_format_control(tmp_path):
    from guard.pipeline.sdist_build import pip_options_for_build
    from guard.request.parse import parse_pip_argv

    def options(*argv):
        return pip_options_for_build(parse_pip_argv(["install", *argv, "x"], config={}, environ={}, cwd=str(tmp_path)))

    assert options("--no-index", "--find-links", "/links", "--pre") == ["--no-index", "--find-links", "/links", "--pre"]
    assert options("-i", "https://i.invalid/simple", "--extra-index-url", "https://e.invalid/simple") == [
        "--index-url",
        "https://i.invalid/simple",
        "--extra-index-url",
        "https://e.invalid/simple",
    ]
    assert options("--only-binary", ":all:", "--no-binary", "setuptools") == [
        "--only-binary",
        ":all:",
        "--no-binary",
        "setuptools",
    ]
    assert options("--no-binary", ":all:", "--only-binary", "setuptools") == [
        "--no-binary",
        ":all:",
        "--only-binary",
        "setuptools",
    ]


def test_without_a_builder_the_whole_command_is_pips(tmp_path):
    """Callers that build nothing (the pre-commit hook) still get NeedsPipFallback for such an
    sdist, as before."""
    from guard.errors import NeedsBuild, NeedsPipFallback
    from guard.index.metadata import core_metadata_from_record

    with pytest.raises(NeedsBuild) as info:
        core_metadata_from_record({"needs_build": "oldproj 1.0 is an sdist whose ..."}, _dist_file("oldproj"))
    assert isinstance(info.value, NeedsPipFallback)
    wheel = _dist_file("w").__class__(**{**_dist_file("w").__dict__, "is_wheel": True})
    with pytest.raises(NeedsPipFallback) as info:
        core_metadata_from_record({"needs_build": "w-1.0.whl has no .dist-info/METADATA"}, wheel)
    assert not isinstance(info.value, NeedsBuild)  # a broken wheel is never "built"
