"""The environment snapshot: real conda prefixes (py-rattler records over a venv) read into
conda-owned and pip-owned dists; damaged conda-meta files become warnings; the interpreter probe
agrees with packaging in this interpreter and is cached."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging import markers, tags

from guard.environment.conda_meta import load_paths_data, normalize_channel
from guard.environment.interpreter import find_interpreter, probe
from guard.environment.snapshot import default_prefix, snapshot
from guard.errors import EnvironmentReadError
from tests.support.conda_prefix import (
    PY_MAJOR_MINOR,
    PYTORCH_CHANNEL_ENV,
    SITE_PACKAGES,
    clean_pip_env,
    pip_install_into,
)
from tests.support.wheels import build_wheel

SHARED_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "conda-meta-examples"
posix_only = pytest.mark.skipif(os.name == "nt", reason="fake interpreters are shell scripts")


def importlib_view(prefix: Path) -> dict[str, tuple[str, str]]:
    """The oracle: what importlib.metadata in the prefix's own python finds first for each name."""
    code = (
        "import importlib.metadata as m, json, re\nseen = {}\n"
        "for d in m.distributions():\n"
        "    n = re.sub(r'[-_.]+', '-', d.metadata['Name']).lower()\n"
        "    seen.setdefault(n, (d.version, str(d._path)))\n"
        "print(json.dumps(seen))"
    )
    out = subprocess.run([str(prefix / "bin" / "python"), "-I", "-c", code], capture_output=True, text=True, check=True)
    return {name: tuple(v) for name, v in json.loads(out.stdout).items()}


# ---- ownership --------------------------------------------------------------------------------


def test_conda_owned_and_pip_owned_dists(ml_env: Path, tmp_path: Path) -> None:
    snap = snapshot(ml_env, cache_dir=tmp_path / "cache")
    assert snap.is_conda and snap.warnings == ()
    torch, numpy, six = snap.dists["torch"], snap.dists["numpy"], snap.dists["six"]
    assert (torch.owner, torch.version, torch.conda_record.name) == ("conda", "2.5.1", "pytorch")
    assert torch.conda_record.build.startswith("cuda126_mkl_") and torch.conda_record.build_number == 303
    assert "__cuda" in torch.conda_record.depends and "pytorch-cpu <0.0a0" in torch.conda_record.constrains
    assert torch.conda_record.requested_spec == "pytorch ==2.5.1 cuda*"
    assert torch.conda_record.dist_dirs == (f"{SITE_PACKAGES}/torch-2.5.1.dist-info",)
    assert torch.installer == "conda" and torch.requires_python == ">=3.8.0"
    assert 'opt-einsum>=3.3; extra == "opt-einsum"' in torch.requires_dist
    assert numpy.owner == "conda" and numpy.conda_record is snap.conda_records["numpy"]
    # noarch: python packages were relocated by rattler; ownership follows the final paths
    assert snap.dists["requests"].owner == "conda" and snap.conda_records["requests"].subdir == "noarch"
    assert (six.owner, six.installer, six.conda_record) == ("pip", "pip", None)
    # CUDA libraries are conda records with no Python dist
    assert snap.conda_records["cuda-cudart"].dist_dirs == ()
    assert "cuda-cudart" not in snap.dists
    # every dist the prefix's own importlib.metadata sees, with the same version and directory
    assert {n: (d.version, d.metadata_path) for n, d in snap.dists.items()} == importlib_view(ml_env)


def test_pip_installed_wheel_is_pip_owned_with_direct_url(ml_env: Path, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "wheels", "attrs", "24.2.0", requires_python=">=3.7")
    result = pip_install_into(ml_env, "--no-index", "--no-deps", str(wheel))
    assert result.returncode == 0, result.stderr
    attrs = snapshot(ml_env).dists["attrs"]
    assert (attrs.owner, attrs.installer, attrs.version, attrs.kind) == ("pip", "pip", "24.2.0", "dist-info")
    assert attrs.direct_url["url"] == wheel.as_uri()


def test_pytorch_channel_egg_info_torch_is_owned_through_files(conda_env, tmp_path: Path) -> None:
    prefix = conda_env(PYTORCH_CHANNEL_ENV)
    snap = snapshot(prefix, cache_dir=tmp_path / "cache")
    torch = snap.dists["torch"]
    egg = f"torch-2.1.2-py{PY_MAJOR_MINOR}.egg-info"
    assert (torch.kind, torch.version, torch.installer, torch.owner) == ("egg-info", "2.1.2", None, "conda")
    assert torch.metadata_path == str(prefix / SITE_PACKAGES / egg)
    assert torch.conda_record.name == "pytorch" and torch.conda_record.dist_dirs == (f"{SITE_PACKAGES}/{egg}",)
    assert torch.conda_record.channel.startswith("file://") and torch.conda_record.channel.endswith("/pytorch")
    assert snap.conda_records["cuda-cudart"].channel.endswith("/nvidia")
    # requires.txt converted exactly as importlib.metadata converts it
    assert list(torch.requires_dist) == importlib.metadata.PathDistribution(Path(torch.metadata_path)).requires
    assert 'opt-einsum>=3.3; extra == "opt-einsum"' in torch.requires_dist
    # the conda name differs from the Python name: torchtriton ships triton
    assert snap.dists["triton"].conda_record.name == "torchtriton"


def test_egg_info_file_owned_and_requires_txt_sections(conda_env, tmp_path: Path) -> None:
    prefix = conda_env("plain")
    site = prefix / SITE_PACKAGES
    # an egg-info *file* (distutils style) listed by a record, and an egg-info dir with marker sections
    (site / f"six-1.16.0-py{PY_MAJOR_MINOR}.egg-info").write_text("Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n")
    egg = site / "demo-1.0-py3.11.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\nlong text\nName: wrong\n")
    (egg / "requires.txt").write_text(
        'filelock\nfoo @ https://example.invalid/foo.zip\n\n[dev]\npytest>=7\n\n[:sys_platform == "win32"]\n'
        'colorama\n\n[gpu:platform_machine == "x86_64"]\ntriton==2.1.0\n'
    )
    _add_record(prefix, "six", "1.16.0", files=[f"{SITE_PACKAGES}/six-1.16.0-py{PY_MAJOR_MINOR}.egg-info"])
    snap = snapshot(prefix)
    assert snap.dists["six"].owner == "conda" and snap.dists["six"].kind == "egg-info"
    demo = snap.dists["demo"]
    assert demo.owner == "pip" and demo.version == "1.0"
    assert (
        list(demo.requires_dist)
        == importlib.metadata.PathDistribution(egg).requires
        == [
            "filelock",
            "foo @ https://example.invalid/foo.zip ",
            'pytest>=7; extra == "dev"',
            'colorama; sys_platform == "win32"',
            'triton==2.1.0; (platform_machine == "x86_64") and extra == "gpu"',
        ]
    )


def test_installer_conda_without_record_and_stale_record_warn(conda_env) -> None:
    prefix = conda_env("plain")
    site = prefix / SITE_PACKAGES
    shutil.rmtree(site / "numpy-1.26.4.dist-info")  # as if something replaced it outside conda
    stray = site / "stray-1.0.dist-info"
    stray.mkdir()
    (stray / "METADATA").write_text("Metadata-Version: 2.1\nName: stray\nVersion: 1.0\n")
    (stray / "INSTALLER").write_text("conda")
    snap = snapshot(prefix)
    assert "numpy" not in snap.dists and "numpy" in snap.conda_records
    assert snap.dists["stray"].owner == "pip"
    assert any("stray-1.0.dist-info" in w and "INSTALLER=conda" in w for w in snap.warnings)
    assert any("numpy-1.26.4" in w and "is gone" in w for w in snap.warnings)


def test_duplicates_follow_sys_path_order(conda_env, tmp_path: Path) -> None:
    prefix = conda_env("plain")
    # a second numpy in a directory that a .pth file puts on sys.path after site-packages, and a
    # leftover metadata dir of another version beside the first
    extra = prefix / "extra"
    wheel = build_wheel(tmp_path / "wheels", "numpy", "2.1.0")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--target", str(extra), str(wheel)],
        capture_output=True,
        text=True,
        env=clean_pip_env(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    (prefix / SITE_PACKAGES / "extra.pth").write_text(f"import os\n# a comment\n{extra}\n")
    snap = snapshot(prefix)
    assert snap.dists["numpy"].version == "1.26.4" and snap.dists["numpy"].owner == "conda"
    assert [d.version for d in snap.duplicates["numpy"]] == ["1.26.4", "2.1.0"]
    assert snap.duplicates["numpy"][1].owner == "pip" and snap.duplicates["numpy"][1].site_dir == str(extra)
    assert any(w.startswith("numpy has 2 metadata directories") for w in snap.warnings)
    assert {n: (d.version, d.metadata_path) for n, d in snap.dists.items()} == importlib_view(prefix)


# ---- conda-meta records -----------------------------------------------------------------------


def _add_record(prefix: Path, name: str, version: str, *, files=(), **extra) -> Path:
    record = {
        "name": name,
        "version": version,
        "build": "0",
        "build_number": 0,
        "depends": [],
        "channel": "https://conda.anaconda.org/conda-forge/linux-64",
        "subdir": "linux-64",
        "files": list(files),
        **extra,
    }
    path = prefix / "conda-meta" / f"{name}-{version}-0.json"
    path.write_text(json.dumps(record))
    return path


DAMAGED = {
    "truncated-1.0-0.json": '{"name": "truncated", "version": "1.0", "files": ["lib/py',
    "empty-1.0-0.json": "",
    "list-1.0-0.json": '["not", "a", "record"]',
    "noname-1.0-0.json": '{"version": "1.0", "build": "0"}',
    "badfiles-1.0-0.json": '{"name": "badfiles", "version": "1.0", "files": "lib/x"}',
    "baddepends-1.0-0.json": '{"name": "baddepends", "version": "1.0", "depends": [1, 2]}',
}


def test_damaged_conda_meta_files_become_warnings(conda_env, tmp_path: Path) -> None:
    prefix = conda_env("plain")
    meta = prefix / "conda-meta"
    for name, text in DAMAGED.items():
        (meta / name).write_text(text)
    (meta / "history").write_text("==> 2025-03-14 13:51:04 <==\n")  # not a record: ignored
    for cache in (tmp_path / "cache", tmp_path / "cache", None):  # cold, warm (cached warnings), uncached
        snap = snapshot(prefix, cache_dir=cache)
        assert snap.dists["numpy"].owner == "conda"
        assert set(snap.conda_records) == {"python", "python_abi", "numpy"}
        for name in DAMAGED:
            assert sum(str(meta / name) in w for w in snap.warnings) == 1, name
        assert all("\n" not in w for w in snap.warnings)
    assert any("empty file" in w for w in snap.warnings)
    assert any("truncated?" in w for w in snap.warnings)
    assert any("not a JSON object but list" in w for w in snap.warnings)


def test_record_cache_follows_file_changes(conda_env, tmp_path: Path, mocker) -> None:
    prefix = conda_env("plain")
    cache = tmp_path / "cache"
    cold = snapshot(prefix, cache_dir=cache)
    extract = mocker.spy(sys.modules["guard.environment.conda_meta"], "_extract_record")
    warm = snapshot(prefix, cache_dir=cache)
    assert extract.call_count == 0
    assert warm.conda_records == cold.conda_records and warm.dists == cold.dists
    # a record rewritten (another size and mtime) is read again; a removed one disappears
    path = next((prefix / "conda-meta").glob("numpy-*.json"))
    data = json.loads(path.read_text())
    data["requested_spec"] = "numpy >=1.26"
    path.write_text(json.dumps(data))
    (next((prefix / "conda-meta").glob("python_abi-*.json"))).unlink()
    snap = snapshot(prefix, cache_dir=cache)
    assert extract.call_count == 1
    assert snap.conda_records["numpy"].requested_spec == "numpy >=1.26" and "python_abi" not in snap.conda_records


@pytest.mark.skipif(not SHARED_EXAMPLES.is_dir(), reason="shared/data/conda-meta-examples not beside the project")
def test_real_records_of_conda_micromamba_and_pixi(conda_env) -> None:
    prefix = conda_env("plain")
    meta = prefix / "conda-meta"
    for path in meta.glob("*.json"):
        path.unlink()
    for example in SHARED_EXAMPLES.glob("*.json"):
        shutil.copy(example, meta / example.name.split("__", 1)[1])
    snap = snapshot(prefix)
    pip, python, requests = snap.conda_records["pip"], snap.conda_records["python"], snap.conda_records["requests"]
    numpy, gpu = snap.conda_records["numpy"], snap.conda_records["pytorch-gpu"]
    # conda/micromamba write .../conda-forge/<subdir>, pixi/rattler .../conda-forge/
    assert {r.channel for r in snap.conda_records.values()} == {"conda-forge"}
    assert {r.channel_url for r in snap.conda_records.values()} == {"https://conda.anaconda.org/conda-forge"}
    assert (pip.subdir, pip.requested_spec, python.requested_spec, requests.requested_spec) == (
        "noarch",
        "pip",
        "python=3.13",
        None,
    )
    assert pip.dist_dirs == ("lib/python3.13t/site-packages/pip-25.0.1.dist-info",)
    assert requests.dist_dirs == ("Lib/site-packages/requests-2.28.2.dist-info",)  # Windows separators
    assert requests.constrains == ("chardet >=3.0.2,<6",)
    assert (numpy.subdir, numpy.build, numpy.dist_dirs) == (
        "osx-arm64",
        "py311h7125741_0",
        ("lib/python3.11/site-packages/numpy-1.26.4.dist-info",),
    )
    assert (gpu.build_number, gpu.depends, gpu.dist_dirs) == (304, ("pytorch 2.7.1 cuda*_mkl*304",), ())
    # the prefix's numpy dist-info is at the path the pixi record lists; pip's and requests' are not here
    assert snap.dists["numpy"].conda_record is numpy
    assert sorted(w.split(" lists ")[1].split(",")[0] for w in snap.warnings if "is gone" in w) == [
        "Lib/site-packages/requests-2.28.2.dist-info",
        "lib/python3.13t/site-packages/pip-25.0.1.dist-info",
    ]


@pytest.mark.parametrize(
    "raw, expected",
    [
        (
            "https://conda.anaconda.org/conda-forge/linux-64",
            ("conda-forge", "https://conda.anaconda.org/conda-forge", "linux-64"),
        ),
        ("https://conda.anaconda.org/conda-forge/", ("conda-forge", "https://conda.anaconda.org/conda-forge", "")),
        ("https://conda.anaconda.org/pytorch/noarch", ("pytorch", "https://conda.anaconda.org/pytorch", "noarch")),
        (
            "https://conda.anaconda.org/nvidia/label/cuda-11.8.0/linux-64",
            ("nvidia/label/cuda-11.8.0", "https://conda.anaconda.org/nvidia/label/cuda-11.8.0", "linux-64"),
        ),
        (
            "https://conda.anaconda.org/t/tk-123-abc/my-org/win-64",
            ("my-org", "https://conda.anaconda.org/my-org", "win-64"),
        ),
        (
            "https://repo.anaconda.com/pkgs/main/linux-64",
            ("pkgs/main", "https://repo.anaconda.com/pkgs/main", "linux-64"),
        ),
        ("file:///tmp/channels/pytorch/", ("file:///tmp/channels/pytorch", "file:///tmp/channels/pytorch", "")),
        (
            "https://mirror.example.org/conda-forge/osx-arm64",
            ("https://mirror.example.org/conda-forge", "https://mirror.example.org/conda-forge", "osx-arm64"),
        ),
        ("conda-forge", ("conda-forge", "conda-forge", "")),
        ("pypi", ("pypi", "pypi", "")),
        ("", ("", "", "")),
    ],
)
def test_normalize_channel(raw: str, expected: tuple[str, str, str]) -> None:
    assert normalize_channel(raw) == expected


def test_load_paths_data_matches_the_files_on_disk(ml_env: Path) -> None:
    snap = snapshot(ml_env)
    for name in ("pytorch", "requests", "cuda-cudart"):  # compiled, noarch: python, CUDA library
        entries = load_paths_data(snap.conda_records[name])
        assert entries
        for entry in entries:
            data = (ml_env / entry["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() in (entry["sha256"], entry["sha256_in_prefix"])
            assert len(data) == entry["size_in_bytes"]


# ---- interpreter ------------------------------------------------------------------------------


def test_probe_agrees_with_packaging_in_this_interpreter(ml_env: Path, tmp_path: Path) -> None:
    # the prefix's venv is made from the interpreter running the tests
    interp = probe(find_interpreter(ml_env), cache_dir=tmp_path / "cache")
    assert dict(interp.markers) == markers.default_environment()
    assert list(interp.tags) == [str(t) for t in tags.sys_tags()]
    assert interp.tags[0].startswith(f"cp{sys.version_info.major}{sys.version_info.minor}-")
    assert interp.version == interp.markers["python_full_version"] == ".".join(map(str, sys.version_info[:3]))
    assert interp.implementation == sys.implementation.name
    assert Path(interp.prefix) == ml_env and interp.base_prefix == sys.base_prefix
    assert Path(interp.purelib) == ml_env / SITE_PACKAGES
    assert interp.site_dirs[0] == interp.purelib and interp.user_site is None  # a venv hides the user site
    assert interp.pip_version is None  # the prefix has no pip


def test_probe_reports_the_targets_pip(conda_env, tmp_path: Path) -> None:
    prefix = conda_env("plain", with_pip=True)
    interp = probe(find_interpreter(prefix), cache_dir=None)
    meta = next((prefix / SITE_PACKAGES).glob("pip-*.dist-info"))
    assert interp.pip_version == meta.name[len("pip-") : -len(".dist-info")]
    assert interp.pip_default_index and interp.pip_default_index.endswith("/simple")


def test_probe_is_cached_until_the_interpreter_or_its_pip_changes(conda_env, tmp_path: Path, mocker) -> None:
    prefix = conda_env("plain")
    python = find_interpreter(prefix)
    cache = tmp_path / "cache"
    first = probe(python, cache_dir=cache)
    run = mocker.patch(
        "guard.environment.interpreter.subprocess.run", side_effect=AssertionError("no subprocess when warm")
    )
    assert probe(python, cache_dir=cache) == first
    assert run.call_count == 0
    mocker.stopall()
    spy = mocker.spy(sys.modules["guard.environment.interpreter"].subprocess, "run")
    # pip appearing in site-packages changes the answer: probed again
    (prefix / SITE_PACKAGES / "pip").mkdir()
    (prefix / SITE_PACKAGES / "pip" / "__init__.py").write_text("__version__ = '99.0'\n")
    assert probe(python, cache_dir=cache).pip_version is None  # no pip._internal: not a usable pip
    assert spy.call_count == 1
    probe(python, cache_dir=cache)
    assert spy.call_count == 1
    # another interpreter at the same path (new mtime): probed again
    st = os.stat(os.path.realpath(python))
    os.utime(os.path.realpath(python), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    try:
        probe(python, cache_dir=cache)
    finally:
        os.utime(os.path.realpath(python), ns=(st.st_atime_ns, st.st_mtime_ns))
    assert spy.call_count == 2


def test_prefix_without_python_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "conda-meta").mkdir()
    with pytest.raises(EnvironmentReadError) as err:
        snapshot(tmp_path)
    assert "no Python interpreter in" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(EnvironmentReadError, match="does not exist"):
        snapshot(tmp_path / "missing")


@posix_only
@pytest.mark.parametrize(
    "script, message",
    [
        (
            "echo 'Traceback ...' >&2; echo 'SyntaxError: bad' >&2; exit 1",
            "failed to describe itself: SyntaxError: bad",
        ),
        ("echo not json", "answered the probe with garbage"),
        ("exec sleep 5", "did not answer within 0.5 s"),
    ],
)
def test_broken_interpreter_is_a_one_line_error(tmp_path: Path, script: str, message: str) -> None:
    python = tmp_path / "bin" / "python3"
    python.parent.mkdir()
    python.write_text(f"#!/bin/sh\n{script}\n")
    python.chmod(0o755)
    with pytest.raises(EnvironmentReadError) as err:
        probe(find_interpreter(tmp_path), cache_dir=tmp_path / "cache", timeout=0.5)
    assert message in str(err.value) and "\n" not in str(err.value)


# ---- which environment ------------------------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="POSIX PATH layout")
def test_default_prefix(tmp_path: Path) -> None:
    conda, venv_dir = tmp_path / "conda", tmp_path / "venv"
    path = lambda *dirs: os.pathsep.join(str(d) for d in dirs)  # noqa: E731
    assert default_prefix({"CONDA_PREFIX": str(conda), "PATH": path(conda / "bin", "/usr/bin")}) == conda
    # a venv activated on top of the conda env: pip comes from the venv
    both = {"CONDA_PREFIX": str(conda), "VIRTUAL_ENV": str(venv_dir)}
    assert default_prefix({**both, "PATH": path(venv_dir / "bin", conda / "bin")}) == venv_dir
    assert default_prefix({**both, "PATH": path(conda / "bin", venv_dir / "bin")}) == conda
    assert default_prefix({**both, "PATH": "/usr/bin"}) == conda
    # nothing active: the prefix of the python on PATH, when it is a conda env (tests/test_target_env.py)
    (tmp_path / "env" / "bin").mkdir(parents=True)
    (tmp_path / "env" / "conda-meta").mkdir()
    (tmp_path / "env" / "bin" / "python3").symlink_to(sys.executable)
    assert default_prefix({"PATH": path(tmp_path / "env" / "bin")}) == tmp_path / "env"
    with pytest.raises(EnvironmentReadError):
        default_prefix({"PATH": str(tmp_path / "nothing")})
