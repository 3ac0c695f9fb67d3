"""``guard check`` answered before click (:mod:`guard.cli.check_run`): it takes only the command
lines it reads exactly as click does, and for those it prints what click's command prints, with
the same exit status (an answer, a usage error, an environment error); it imports no click."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from guard.cli.check_run import CheckOptions, parse
from tests.support.conda_prefix import ML_CUDA_ENV
from tests.support.guard_env import guard_environ
from tests.support.index_server import LocalIndex


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--", "rich"], CheckOptions(None, False, False, False, ("rich",))),
        (["rich", "--json"], CheckOptions(None, False, False, False, ("rich", "--json"))),
        (
            ["--prefix", "/p", "--json", "-v", "--allow-build", "--installer", "pip", "--", "-r", "r.txt"],
            CheckOptions(Path("/p"), True, True, True, ("-r", "r.txt")),
        ),
        (
            ["--prefix=/p", "--verbose", "--installer=pip", "install", "x"],
            CheckOptions(Path("/p"), False, True, False, ("install", "x")),
        ),
        (["--prefix", "/a", "--prefix", "/b", "x"], CheckOptions(Path("/b"), False, False, False, ("x",))),
        (["--help"], None),
        (["-h", "--", "x"], None),
        (["--installer", "uv", "--", "install", "x"], None),
        (["--upgrade", "x"], None),  # click passes an unknown option on to pip: left to it
        (["-vv", "x"], None),
        (["--prefix"], None),
        (["--json"], None),  # nothing to check: click's message
        (["--prefix", "", "x"], None),
        (["--prefix", __file__, "x"], None),  # click.Path: "Directory ... is a file."
    ],
)
def test_what_the_front_takes_and_what_it_leaves_to_click(argv, expected):
    assert parse(argv) == expected


@pytest.fixture(scope="module")
def index():
    with LocalIndex() as idx:
        yield idx


@pytest.fixture(scope="module")
def prefix(tmp_path_factory, conda_channel_root):
    return ML_CUDA_ENV.build(tmp_path_factory.mktemp("front") / "env", channel_root=conda_channel_root)


FRONT = "import sys; from guard.entry import main; main(sys.argv[1:])"
CLICK = "import sys; from guard.cli.main import main; main(sys.argv[1:])"  # always click's command
NO_CLICK = (
    "import atexit, sys; atexit.register(lambda: print('click' in sys.modules, file=sys.stderr)); "
    "from guard.entry import main; main(sys.argv[1:])"
)


def run(code: str, args, env, cwd) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", code, "check", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_front_and_click_answer_alike(prefix, index, tmp_path):
    env = guard_environ(tmp_path, index.url, GUARD_NO_VERDICT_CACHE="1")
    (tmp_path / "empty").mkdir()
    (tmp_path / "req.txt").write_text("rich\ntorch >> 2\n")
    p = str(prefix)
    cases = [
        ["--prefix", p, "--", "rich"],  # allowed
        ["--prefix", p, "-v", "--", "numpy==2.0.0"],  # blocked
        ["--prefix", p, "--json", "--", "numpy==2.0.0"],
        ["--prefix", p, "--", "uninstall", "-y", "numpy"],
        ["--prefix", p, "--", "-r", "req.txt"],  # a bad line: one line, exit 2
        ["--prefix", p, "--", "--index-url"],  # pip's usage: exit 2
        ["--prefix", str(tmp_path / "nope"), "--", "rich"],  # usage error (see guard check --help)
        ["--prefix", str(tmp_path / "empty"), "--", "rich"],  # no interpreter: an environment error
    ]
    for args in cases:
        front = run(FRONT, args, env, tmp_path)
        assert front == run(CLICK, args, env, tmp_path), args
        assert front[0] in (0, 1, 2, 3) and "Traceback" not in front[2], (args, front)
    assert [run(FRONT, c, env, tmp_path)[0] for c in cases[:2]] == [0, 1]


def test_the_front_imports_no_click(prefix, index, tmp_path):
    env = guard_environ(tmp_path, index.url)
    code, out, err = run(NO_CLICK, ["--prefix", str(prefix), "--", "rich"], env, tmp_path)
    assert code == 0 and err.strip().splitlines()[-1] == "False", err
    code, out, err = run(NO_CLICK, ["--installer", "uv", "--help"], env, tmp_path)
    assert code == 0 and "--installer" in out and err.strip().splitlines()[-1] == "True"  # click's
