"""A failed resolution explained as pip's ResolutionImpossible is, but better: who requires what
(with the file and line, or the command line, each requirement of the request came from), each
``-c`` constraint with its file (and the pip config that named it), and the versions each side
allows; core metadata the index serves broken is reported as broken, never as a conflict.

Real failures: ``guard check`` / ``guard why`` (subprocesses) on a real conda env (numpy 1.26.4,
transformers absent) against the local index; real pip 26.3 says the same thing in its words."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.conda_prefix import ML_CUDA_ENV
from tests.support.guard_env import guard_environ
from tests.support.index_server import LocalIndex
from tests.support.wheels import build_wheel


@pytest.fixture(scope="module")
def index():
    with LocalIndex() as idx:
        yield idx


@pytest.fixture(scope="module")
def prefix(tmp_path_factory, conda_channel_root):
    return ML_CUDA_ENV.build(tmp_path_factory.mktemp("conflicts") / "env", channel_root=conda_channel_root)


@pytest.fixture
def env(tmp_path, index):
    return guard_environ(tmp_path, index.url)


def guard(env, *args, cwd=None):
    proc = subprocess.run(
        [sys.executable, "-m", "guard", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc


def error_line(proc) -> str:
    """The one line on stderr of a run that failed with exit 3 (nothing to judge)."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 3 and len(lines) == 1, (proc.returncode, proc.stdout, proc.stderr)
    return lines[0]


def oracle(oracle_pip, prefix, env, *pip_args, cwd=None):
    """Real pip's dry run of the same install, same config, same index."""
    python = str(prefix / "bin" / "python")
    cmd = [str(oracle_pip), "-m", "pip", "--python", python, "install", "--dry-run", *pip_args]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_constraint_from_pip_config_is_named_with_the_config_file(prefix, env, tmp_path, oracle_pip):
    """The issue's example: ``numpy<2`` in a constraint file the user's pip config names. Before:
    "no matching distribution ... (versions usable here: 2.3.1 ...)", naming neither."""
    (tmp_path / "c.txt").write_text("numpy<2\n")
    conf = tmp_path / "pip.conf"
    conf.write_text("[install]\nconstraint = c.txt\n")
    env = {**env, "PIP_CONFIG_FILE": str(conf)}
    line = error_line(guard(env, "check", "--prefix", str(prefix), "--", "numpy==2.0.0", cwd=tmp_path))
    assert line == (
        "guard: error: pip would fail: no matching distribution for numpy==2.0.0 (command line): "
        f"the constraint numpy<2 (c.txt:1, via pip config {conf}) removes 2.0.0; "
        "it allows 1.20.1 ... 1.26.4 (8 versions)"
    )
    # the same file named by PIP_CONSTRAINT
    env2 = {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_CONSTRAINT": "c.txt"}
    line = error_line(guard(env2, "check", "--prefix", str(prefix), "--", "numpy==2.0.0", cwd=tmp_path))
    assert "the constraint numpy<2 (c.txt:1, via PIP_CONSTRAINT) removes 2.0.0" in line
    pip = oracle(oracle_pip, prefix, env, "numpy==2.0.0", cwd=tmp_path)
    assert pip.returncode == 1 and "ResolutionImpossible" in pip.stderr
    assert "The user requested numpy==2.0.0" in pip.stdout
    assert "The user requested (constraint) numpy<2" in pip.stdout


def test_two_requirements_in_conflict_name_each_side_and_the_versions_it_allows(prefix, env, tmp_path, oracle_pip):
    """transformers 4.44.2 requires tokenizers<0.20,>=0.19; the request also asks 0.22.1."""
    argv = ["transformers==4.44.2", "tokenizers==0.22.1"]
    line = error_line(guard(env, "check", "--prefix", str(prefix), "--", *argv))
    assert line == (
        "guard: error: pip would fail: conflicting requirements for tokenizers: "
        "the request (command line) requires tokenizers==0.22.1 [0.22.1]; "
        "transformers 4.44.2 (command line) requires tokenizers<0.20,>=0.19 [0.19.0, 0.19.1]; "
        "no version satisfies both"
    )
    pip = oracle(oracle_pip, prefix, env, *argv)
    assert pip.returncode == 1 and "ResolutionImpossible" in pip.stderr
    assert "transformers 4.44.2 depends on tokenizers<0.20 and >=0.19" in pip.stdout

    # from a requirements file: each requirement says its file and line
    (tmp_path / "requirements.txt").write_text(
        "transformers==4.44.2\n# pinned for the tokenizer fix\ntokenizers==0.22.1\n"
    )
    line = error_line(guard(env, "check", "--prefix", str(prefix), "--", "-r", "requirements.txt", cwd=tmp_path))
    assert line == (
        "guard: error: pip would fail: conflicting requirements for tokenizers: "
        "the request (requirements.txt:3) requires tokenizers==0.22.1 [0.22.1]; "
        "transformers 4.44.2 (requirements.txt:1) requires tokenizers<0.20,>=0.19 [0.19.0, 0.19.1]; "
        "no version satisfies both"
    )


def test_a_dependency_that_a_constraint_empties_names_who_requires_it(prefix, env, tmp_path):
    (tmp_path / "constraints.txt").write_text("numpy<2\ntokenizers>=0.20\n")
    argv = ["-c", "constraints.txt", "transformers==4.44.2"]
    line = error_line(guard(env, "check", "--prefix", str(prefix), "--", *argv, cwd=tmp_path))
    assert line == (
        "guard: error: pip would fail: no matching distribution for tokenizers<0.20,>=0.19 "
        "(required by transformers 4.44.2, command line): the constraint tokenizers>=0.20 (constraints.txt:2) "
        "removes 0.19.0, 0.19.1; it allows 0.20.1 ... 0.23.3 (11 versions)"
    )


def test_no_version_at_all_stays_no_matching_distribution(prefix, env):
    line = error_line(guard(env, "check", "--prefix", str(prefix), "--", "numpy>=99"))
    assert line.startswith("guard: error: pip would fail: no matching distribution for numpy>=99 (command line); ")
    assert line.endswith("versions usable here: 2.2.4, 2.2.5, 2.2.6, 2.3.3, 2.3.4, 2.3.5, 2.4.1, 2.4.2, 2.4.3, 2.4.4, 2.4.5, 2.4.6")  # fmt: skip


def test_versions_for_another_python_are_named_as_pip_names_them(prefix, env, oracle_pip):
    """networkx 3.7 needs Python >=3.12; the env runs 3.11."""
    line = error_line(guard(env, "check", "--prefix", str(prefix), "--", "networkx>=3.7"))
    assert line == (
        "guard: error: pip would fail: no matching distribution for networkx>=3.7 (command line); "
        "versions usable here: 3.2.1, 3.3, 3.4, 3.4.1, 3.4.2, 3.5, 3.6, 3.6.1; 3.7 need another Python (Requires-Python)"
    )
    pip = oracle(oracle_pip, prefix, env, "networkx>=3.7")
    assert "Ignored the following versions that require a different python version: 3.7 Requires-Python" in pip.stderr
    assert "(from versions: 3.2.1, 3.3, 3.4, 3.4.1, 3.4.2, 3.5, 3.6, 3.6.1)" in pip.stderr


def test_why_says_which_held_version_leaves_no_resolution(prefix, env):
    """``guard why``'s alternative search holds conda's numpy: the reason names that hold, not a
    list of versions (before: "...: versions usable here: 2.3.1, ...")."""
    proc = guard(env, "why", "--prefix", str(prefix), "numpy", "--", "numpy>=2")
    assert proc.returncode == 0, proc.stderr
    assert (
        "not possible: no resolution keeps conda's numpy 1.26.4: no matching distribution for numpy>=2 "
        "(command line): the constraint numpy==1.26.4 (conda's version, held) removes 2.0.0 ... 2.4.6 "
        "(18 versions); it allows 1.26.4\n"
    ) in proc.stdout


def non_utf8_wheel(tmp_path: Path) -> Path:
    """A real wheel whose METADATA holds one Latin-1 byte (é) in a Requires-Dist."""
    built = build_wheel(tmp_path / "built", "latin1pkg", "1.0", requires_dist=["six", "cafe-lib"])
    bad = tmp_path / built.name
    with zipfile.ZipFile(built) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith(".dist-info/METADATA"):
                data = data.replace(b"cafe-lib", b"caf\xe9-lib")
            zout.writestr(info, data)
    return bad


def test_non_utf8_metadata_is_reported_as_such_not_as_a_conflict(prefix, env, tmp_path, oracle_pip):
    """Decoded with replacement, the Requires-Dist did not parse, the version was skipped and the
    failure read "conflicting requirements (the request requires latin1pkg)"."""
    with LocalIndex(extra_wheels=[non_utf8_wheel(tmp_path)]) as idx:
        host = idx.url.split("//", 1)[1].split("/", 1)[0]
        with_credentials = idx.url.replace("//", "//alice:s3cret@", 1)
        env = {**env, "PIP_INDEX_URL": with_credentials}
        line = error_line(guard(env, "check", "--prefix", str(prefix), "--", "latin1pkg"))
        assert line == (
            f"guard: error: http://****@{host}/files/latin1pkg/latin1pkg-1.0-py3-none-any.whl.metadata: "
            "unreadable metadata (not UTF-8: byte 0xe9 at offset 88)"
        )
        pip = oracle(oracle_pip, prefix, env, "latin1pkg")
    assert pip.returncode != 0 and "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9" in pip.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        # every version of conflicted requires pypinned>=2: one side, each version named once
        (
            ["pypinned==1.0", "conflicted"],
            "pip would fail: conflicting requirements for pypinned: the request (command line) requires "
            "pypinned==1.0 [1.0]; conflicted 1.0, 2.0 (command line) requires pypinned>=2 [2.0]; "
            "no version satisfies both",
        ),
        # the only matching version has a Requires-Dist that does not parse: not a conflict
        (
            ["badmeta==1.1"],
            "pip would fail: no matching distribution for badmeta==1.1 (command line): 1.1 could not be used "
            "(invalid metadata or unmet dependencies)",
        ),
    ],
)
def test_scenario_messages(argv, message):
    """The resolver scenarios' in-memory index (tests/test_resolver_scenarios.py)."""
    from guard.errors import ResolutionImpossible
    from tests.test_resolver_scenarios import run

    with pytest.raises(ResolutionImpossible) as excinfo:
        run(argv)
    assert str(excinfo.value) == message
