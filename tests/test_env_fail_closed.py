"""Fail closed on a damaged environment (issue 9, item 1).

Real conda prefixes (tests/support/conda_prefix.py) damaged on purpose: a self-referential
symlink in site-packages, an invalid byte in numpy's conda-meta record, a conda-meta file nested
100,000 brackets deep, broken links, a conda-meta that is a link loop. What cannot be read and
could hide a protected distribution makes every install and uninstall a block that names the
file, the problem and the override; what can only hide unprotected names is a warning; nothing is
ever an internal error. Wheels come from a local --find-links directory (no index), pip runs
config-isolated. The last part is a property test over the conda-meta JSON reader.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from guard.boundedjson import JSONInputError, loads_bounded, nesting_depth
from guard.environment.conda_meta import _extract_record, read_conda_meta
from guard.environment.snapshot import snapshot
from guard.errors import GuardError
from guard.models import Anomaly, Plan
from guard.policy.rules import Policy, evaluate
from tests.support.conda_prefix import SITE_PACKAGES, clean_pip_env
from tests.support.wheels import build_wheel

REPO_ROOT = Path(__file__).resolve().parent.parent
OVERRIDE = "GUARD_DISABLE=1"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    build_wheel(out, "numpy", "2.0.0")
    build_wheel(out, "rich", "13.0.0")
    return out


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = clean_pip_env(home)
    env.update(
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


def guard(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "guard", *args],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


def check(tmp_path: Path, prefix: Path, wheels: Path, *pip_args: str, json_out: bool = False):
    """``guard check --prefix PREFIX -- PIP_ARGS``; an install reads only the local wheels."""
    args = list(pip_args)
    if args[0] == "install":
        args[1:1] = ["--no-index", "--find-links", str(wheels)]
    return guard(tmp_path, "check", "--prefix", str(prefix), *(["--json"] if json_out else []), "--", *args)


def assert_no_crash(proc: subprocess.CompletedProcess) -> None:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "internal error" not in out and "RecursionError" not in out, out


def numpy_record(prefix: Path) -> Path:
    return next((prefix / "conda-meta").glob("numpy-1.26.4-*.json"))


# ---- the three failures -------------------------------------------------------------------


def test_self_referential_symlink_in_site_packages_hides_nothing(conda_env, tmp_path, wheels):
    """Before: os.scandir's is_dir() raised ELOOP, the whole of site-packages read as empty, and
    numpy==2.0.0 was allowed. Now only the loop itself is reported (its name is not protected)."""
    prefix = conda_env("plain")
    loop = prefix / SITE_PACKAGES / "loop-c.dist-info"
    loop.symlink_to("loop-c.dist-info")
    snap = snapshot(prefix)
    assert snap.dists["numpy"].owner == "conda"
    [anomaly] = snap.anomalies
    assert anomaly == Anomaly(str(loop), anomaly.problem, ("loop", "loop-c")) and "symbolic links" in anomaly.problem

    proc = check(tmp_path, prefix, wheels, "install", "numpy==2.0.0")
    assert_no_crash(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "BLOCK  pip would upgrade numpy 1.26.4 -> 2.0.0" in proc.stdout
    assert f"WARN   {loop}: cannot read: Too many levels of symbolic links" in proc.stdout
    allowed = check(tmp_path, prefix, wheels, "install", "rich")
    assert allowed.returncode == 0 and f"WARN   {loop}" in allowed.stdout, allowed.stdout + allowed.stderr


def test_invalid_byte_in_numpys_record_blocks_with_the_file_and_the_override(conda_env, tmp_path, wheels):
    """Before: a warning, numpy read as pip's, ALLOW. Now numpy is unknown, treated as
    protected: any install or uninstall is blocked, naming the file and the problem (also where
    the same command was allowed, and its verdict memoized, before the damage)."""
    prefix = conda_env("plain")
    assert check(tmp_path, prefix, wheels, "install", "rich").returncode == 0  # an allowed verdict, cached
    record = numpy_record(prefix)
    with open(record, "r+b") as f:  # damaged in place: conda-meta/ keeps its mtime
        f.seek(40)
        f.write(b"\xff")
    for args in (("install", "numpy==2.0.0"), ("install", "rich"), ("uninstall", "-y", "numpy")):
        proc = check(tmp_path, prefix, wheels, *args)
        assert_no_crash(proc)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert f"BLOCK  {record}: not valid UTF-8 (byte 40: b'\\xff')" in proc.stdout, proc.stdout
        assert "could hide protected numpy" in proc.stdout and OVERRIDE in proc.stdout
        assert f"WARN   {record}" not in proc.stdout  # said once, as the reason
    data = json.loads(check(tmp_path, prefix, wheels, "install", "rich", json_out=True).stdout)
    assert data["verdict"] == "block"
    rules = {(r["name"], r["rule"]) for r in data["reasons"]}
    # the record, and numpy's dist-info that says INSTALLER=conda with no record listing it
    assert rules == {("numpy", "unreadable-environment")} and len(data["reasons"]) == 2
    assert any(str(record) in r["message"] for r in data["reasons"])
    why = guard(
        tmp_path,
        "why",
        "numpy",
        "--prefix",
        str(prefix),
        "--",
        "install",
        "--no-index",
        "--find-links",
        str(wheels),
        "rich",
    )
    assert_no_crash(why)
    assert "is blocked: the environment cannot be read safely:" in why.stdout and "None" not in why.stdout, why.stdout
    assert "it is treated as protected" in why.stdout.splitlines()[0]


def test_guard_pip_does_not_install_over_numpy_with_a_damaged_record(conda_env, tmp_path, wheels):
    """Before: ``guard pip`` really installed numpy 2.0.0 over conda's. Now nothing runs."""
    prefix = conda_env("plain", with_pip=True)
    record = numpy_record(prefix)
    record.write_bytes(record.read_bytes().replace(b'"numpy"', b'"numpy\xff"', 1))
    env = {**_env(tmp_path), "GUARD_PREFIX": str(prefix)}
    proc = subprocess.run(
        [sys.executable, "-m", "guard", "pip", "install", "--no-index", "--find-links", str(wheels), "numpy==2.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert_no_crash(proc)
    assert proc.returncode == 1 and "conda-pip-guard: blocked." in proc.stderr, proc.stderr
    assert str(record) in proc.stderr and "not valid UTF-8" in proc.stderr and OVERRIDE in proc.stderr
    site = prefix / SITE_PACKAGES
    assert (site / "numpy-1.26.4.dist-info").is_dir() and not list(site.glob("numpy-2*"))
    # unsimulated (the index is dead): the safety net cannot pin what was not read, so pip does not run
    dead = {**env, "PIP_INDEX_URL": "http://127.0.0.1:9/simple/"}
    proc = subprocess.run(
        [sys.executable, "-m", "guard", "pip", "install", "rich"],
        env=dead,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 1 and "conda-pip-guard: blocked." in proc.stderr, proc.stderr
    assert "Collecting" not in proc.stdout + proc.stderr  # pip never ran


def test_deeply_nested_unrelated_record_is_a_warning_not_an_internal_error(conda_env, tmp_path, wheels):
    """Before: "internal error: RecursionError" on every command. Now one warning line; nested
    JSON whose file name says nothing about the package it holds blocks (it could be numpy)."""
    prefix = conda_env("plain")
    deep = prefix / "conda-meta" / "zlib-1.3-0.json"
    deep.write_bytes(b"[" * 100_000)
    proc = check(tmp_path, prefix, wheels, "install", "rich")
    assert_no_crash(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"WARN   {deep}: nested more than 256 levels deep; not parsed" in proc.stdout
    blocked = check(tmp_path, prefix, wheels, "install", "numpy==2.0.0")
    assert blocked.returncode == 1 and "pip would upgrade numpy" in blocked.stdout
    for command in (("status", "--prefix", str(prefix)), ("doctor", "--prefix", str(prefix))):
        proc = guard(tmp_path, *command)
        assert_no_crash(proc)
        assert proc.returncode in (0, 1) and str(deep) in proc.stdout, (command, proc.stdout, proc.stderr)

    unnamed = prefix / "conda-meta" / "garbage.json"
    unnamed.write_bytes(b'{"a": ' + b"[" * 100_000)
    proc = check(tmp_path, prefix, wheels, "install", "rich")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"BLOCK  {unnamed}: nested more than 256 levels deep" in proc.stdout
    assert "could hide any package" in proc.stdout
    status = guard(tmp_path, "status", "--prefix", str(prefix))
    assert (
        status.returncode == 0
        and f"{unnamed}: nested more than 256 levels deep; not parsed (could hide" in status.stdout
    ), status.stdout


# ---- more ways to hide a protected distribution ----------------------------------------------------


def test_broken_link_as_numpys_metadata_directory_blocks(conda_env, tmp_path, wheels):
    prefix = conda_env("plain")
    dist_info = prefix / SITE_PACKAGES / "numpy-1.26.4.dist-info"
    dist_info.rename(prefix / "moved-away")
    dist_info.symlink_to(prefix / "moved-away-gone")
    snap = snapshot(prefix)
    assert "numpy" not in snap.dists
    assert [(a.path, a.names[0]) for a in snap.anomalies] == [(str(dist_info), "numpy")]
    assert "a symbolic link to nothing" in snap.anomalies[0].problem
    proc = check(tmp_path, prefix, wheels, "install", "numpy==2.0.0")
    assert proc.returncode == 1 and f"BLOCK  {dist_info}: cannot read: a symbolic link to nothing" in proc.stdout


def test_conda_meta_that_is_a_link_loop_blocks_everything(conda_env, tmp_path, wheels):
    """Before: conda-meta/ "did not exist", so the env was not conda's: everything allowed."""
    prefix = conda_env("plain")
    meta = prefix / "conda-meta"
    meta.rename(prefix / "conda-meta.orig")
    meta.symlink_to("conda-meta")
    snap = snapshot(prefix)
    # the directory, and numpy's dist-info that says INSTALLER=conda with no record listing it
    assert snap.is_conda and [a.names for a in snap.anomalies] == [(), ("numpy",)]
    proc = check(tmp_path, prefix, wheels, "install", "rich")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"BLOCK  {meta}: cannot list the directory: Too many levels of symbolic links" in proc.stdout


def test_metadata_that_names_another_project_blocks(conda_env, tmp_path, wheels):
    """numpy's directory whose METADATA says ``Name: other``: pip would not see numpy at all."""
    prefix = conda_env("plain")
    metadata = prefix / SITE_PACKAGES / "numpy-1.26.4.dist-info" / "METADATA"
    metadata.write_text(metadata.read_text().replace("Name: numpy", "Name: other", 1))
    proc = check(tmp_path, prefix, wheels, "install", "numpy==2.0.0")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "its metadata names 'other', its directory name 'numpy'" in proc.stdout


def test_pytorch_record_unreadable_hides_torch(tmp_path):
    """The file name's conda name is mapped to the PyPI name it ships: pytorch -> torch."""
    meta = tmp_path / "conda-meta"
    meta.mkdir()
    (meta / "pytorch-2.5.1-cuda126_mkl_py311_0.json").write_bytes(b'{"name": "pytorch", ')
    (meta / "zlib-1.3-0.json").write_bytes(b"\x00\x01")
    records, anomalies = read_conda_meta(tmp_path)
    assert records == []
    by_file = {Path(a.path).name: a for a in anomalies}
    assert by_file["pytorch-2.5.1-cuda126_mkl_py311_0.json"].names == ("pytorch", "torch")
    assert by_file["zlib-1.3-0.json"].names == ("zlib",)
    from guard.act.action import safety_constraints_from_conda_meta

    # the safety net's fallback pins torch from the file name when the record cannot be read
    assert safety_constraints_from_conda_meta(tmp_path, Policy()) == ["torch==2.5.1"]


def test_policy_blocks_protected_or_unknown_names_and_warns_for_the_rest():
    class Snap:
        conda_records: dict = {}
        anomalies = (Anomaly("/p/conda-meta/zlib-1.3-0.json", "empty file", ("zlib",)),)

    plan = Plan("install", ())
    assert evaluate(plan, Snap(), Policy()).verdict == "allow"  # the snapshot's warning says it
    Snap.anomalies += (Anomaly("/p/conda-meta/jax-0.4-0.json", "empty file", ("jax",)),)
    assert evaluate(plan, Snap(), Policy()).verdict == "allow"
    verdict = evaluate(plan, Snap(), Policy(protected=frozenset({"jax"})))
    assert verdict.verdict == "block" and [r.name for r in verdict.reasons] == ["jax"]
    Snap.anomalies = (Anomaly("/p/lib/site-packages", "cannot list the site directory: Permission denied"),)
    [reason] = evaluate(plan, Snap(), Policy()).reasons
    assert reason.rule == "unreadable-environment" and reason.name == "site-packages"
    assert reason.message.startswith("/p/lib/site-packages: cannot list") and OVERRIDE in reason.message
    Snap.is_conda = False  # a plain venv: nothing there is conda's to protect
    assert evaluate(plan, Snap(), Policy()).verdict == "allow"


def test_a_warm_snapshot_still_reports_the_damage(conda_env, tmp_path):
    prefix = conda_env("plain")
    record = numpy_record(prefix)
    record.write_bytes(record.read_bytes()[:-5])
    cold = snapshot(prefix, cache_dir=tmp_path / "cache")
    warm = snapshot(prefix, cache_dir=tmp_path / "cache")
    assert cold.anomalies == warm.anomalies and {a.names for a in warm.anomalies} == {("numpy",)}


# ---- the bounded JSON reader --------------------------------------------------------------------


def test_nesting_depth_ignores_brackets_in_strings():
    assert nesting_depth('{"a": "[[[[", "b": [1, {"c": "\\"]]"}]}') == 3
    assert nesting_depth("3") == 0 and nesting_depth('"[[["') == 0
    assert nesting_depth("[[]" * 300 + "]" * 300) > 256
    assert nesting_depth("[]" * 100_000) == 1
    with pytest.raises(JSONInputError, match="nested more than 256"):
        loads_bounded('{"a": ' + "[" * 300 + "]" * 300 + "}")
    assert loads_bounded(b'\xef\xbb\xbf{"a": [[1]]}') == {"a": [[1]]}  # a BOM, as json.loads(bytes) accepts


json_pieces = st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        '"',
        "\\",
        ",",
        ":",
        " ",
        '"name"',
        '"numpy"',
        '"version"',
        '"1.0"',
        '"files"',
        '"depends"',
        "1",
        "-0",
        "1e999",
        "null",
        "true",
        "\\ud800",
        '"\\u0000"',
        "9" * 40,
    ]
)
near_json = st.lists(json_pieces, max_size=60).map("".join).map(str.encode)
records = st.fixed_dictionaries(
    {
        "name": st.one_of(st.text(max_size=8), st.integers(), st.none()),
        "version": st.one_of(st.text(max_size=8), st.floats()),
        "build": st.one_of(st.text(max_size=8), st.integers(), st.lists(st.integers(), max_size=2)),
        "build_number": st.one_of(st.integers(), st.floats(), st.text(max_size=3)),
    },
    optional={
        "files": st.one_of(st.lists(st.text(max_size=30), max_size=4), st.text(max_size=5)),
        "depends": st.lists(st.one_of(st.text(max_size=10), st.integers()), max_size=3),
        "channel": st.one_of(st.text(max_size=20), st.integers()),
        "url": st.one_of(st.text(max_size=20), st.none()),
        "requested_specs": st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3),
    },
).map(lambda d: json.dumps(d).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(st.binary(max_size=300), near_json, records))
@example(raw=b"[" * 100_000)
@example(raw=b'{"name": "x", "version": "1", "files": ["' + b"\xff" * 3 + b'"]}')
@example(raw=b'{"name": "\\ud800", "version": "1"}')
@example(raw=b'{"name": "a", "version": "1", "build_number": 1e999, "build": [1]}')
def test_any_bytes_give_a_record_or_the_guards_own_error(raw: bytes) -> None:
    """Any bytes as a conda-meta record: a record, or a problem the guard names; never another
    exception (no RecursionError, UnicodeDecodeError, TypeError...)."""
    try:
        value = loads_bounded(raw)
    except GuardError as exc:
        assert "\n" not in str(exc)
    else:
        json.dumps(value)  # a plain JSON value
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "conda-meta" / "pkg-1.0-0.json"
        path.parent.mkdir()
        path.write_bytes(raw)
        extracted = _extract_record(path)
        assert set(extracted) in ({"record"}, {"problem"})
        if "problem" in extracted:
            assert isinstance(extracted["problem"], str) and "\n" not in extracted["problem"]
        else:
            fields = extracted["record"]
            assert all(isinstance(fields[k], str) and fields[k].isprintable() for k in ("name", "version", "build"))
            json.dumps(fields).encode("utf-8")  # cacheable, printable
        records_, anomalies = read_conda_meta(Path(d))
        assert len(records_) + len(anomalies) == 1
        assert all(a.names == ("pkg",) and "\n" not in a.message for a in anomalies)


@pytest.mark.skipif(
    os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root reads files whatever their mode"
)
def test_unreadable_numpy_record_blocks(conda_env, tmp_path, wheels):  # pragma: no cover - not as root
    prefix = conda_env("plain")
    record = numpy_record(prefix)
    record.chmod(0)
    try:
        proc = check(tmp_path, prefix, wheels, "install", "rich")
    finally:
        record.chmod(0o644)
    assert proc.returncode == 1 and f"BLOCK  {record}: cannot read: Permission denied" in proc.stdout


def test_deeply_nested_state_files_are_misses_not_internal_errors(conda_env, tmp_path, wheels):
    """The guard's own caches (interpreter probe, conda-meta extraction, memoized verdicts) and
    the shims' manifest, each replaced by 100,000 brackets: read as absent, never RecursionError."""
    prefix = conda_env("plain")
    first = check(tmp_path, prefix, wheels, "install", "rich")
    assert first.returncode == 0, first.stdout + first.stderr
    state = [p for p in (tmp_path / "home").rglob("*.json") if p.is_file()]
    assert len(state) >= 3  # at least the probe, the record cache and the verdict
    for p in state:
        p.write_bytes(b"[" * 100_000)
    (prefix / "etc" / "conda-pip-guard").mkdir(parents=True, exist_ok=True)
    (prefix / "etc" / "conda-pip-guard" / "manifest.json").write_bytes(b"[" * 100_000)
    for args in (
        ("check", "--prefix", str(prefix), "--", "install", "--no-index", "--find-links", str(wheels), "rich"),
        ("status", "--prefix", str(prefix)),
        ("doctor", "--prefix", str(prefix)),
        ("shims", "status", "--prefix", str(prefix)),
    ):
        proc = guard(tmp_path, *args)
        assert_no_crash(proc)
        assert proc.returncode in (0, 1), (args, proc.stdout, proc.stderr)
