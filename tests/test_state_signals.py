"""State that never breaks an install, signals, secrets: real ``guard`` processes on a real conda
env (python + numpy from conda, pip hard-linked in), a real local index, real pip.

* SIGINT / SIGTERM sent to the process group of a ``guard check`` / ``guard pip`` that is
  mid-simulation (the index holds every answer back): one line, 130 / 143, no traceback, nothing
  written;
* a read-only, a full (tmpfs) and a damaged state directory: one warning line, pip still runs
  with the safety net, the journal records only what happened;
* torn, garbage and directory journals: appends stay whole lines, ``guard log`` skips and counts;
* every file the guard writes is private (0600 / 0700) and holds no credential;
* ``guard why`` without arguments explains the last block.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guard.act import journal
from guard.redact import redact, redact_argv
from tests.support.conda_prefix import PLAIN_ENV, SITE_PACKAGES, clean_pip_env
from tests.support.index_server import LocalIndex
from tests.support.wheels import build_wheel

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ---- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("wheels")
    return [build_wheel(out, "tinyextra", "0.3"), build_wheel(out, "tinyother", "1.0")]


@pytest.fixture(scope="module")
def index(wheels):
    with LocalIndex(extra_wheels=wheels) as idx:
        yield idx


@pytest.fixture(scope="module")
def silent_index():
    """An index that accepts every request and answers none for a minute."""
    with LocalIndex() as idx:
        idx.set_fault("slow", 60.0)
        yield idx
        idx.set_fault(None)


@pytest.fixture
def env_prefix(conda_env) -> Path:
    """A real conda env (python, numpy 1.26.4 from conda) with pip: the safety net pins numpy."""
    return conda_env(PLAIN_ENV, with_pip=True)


def guard_env(home: Path, index_url: str, prefix: Path | None = None) -> dict[str, str]:
    env = clean_pip_env(home)
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        XDG_STATE_HOME=str(home / "state"),
        XDG_CONFIG_HOME=str(home / "config"),
        GUARD_CACHE_DIR=str(home / "cache"),
        PIP_INDEX_URL=index_url,
    )
    if prefix is not None:
        env["GUARD_PREFIX"] = str(prefix)
    return env


def guard(*args: str, env, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "guard", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def guard_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith(("guard:", "conda-pip-guard:"))]


def installed(prefix: Path, name: str) -> bool:
    return any((prefix / SITE_PACKAGES).glob(f"{name}-*.dist-info"))


def conda_numpy_intact(prefix: Path) -> bool:
    return [p.name for p in (prefix / SITE_PACKAGES).glob("numpy-*.dist-info")] == ["numpy-1.26.4.dist-info"]


def leftovers(root: Path) -> list[str]:
    """Temporary files a write left behind."""
    return [str(p) for p in root.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".tmp-")]


@contextlib.contextmanager
def tmpfs(directory: Path, options: str):
    """A tiny tmpfs at ``directory`` (root only), unmounted afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)], capture_output=True, text=True
    )
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True)


def fill(directory: Path) -> None:
    """Fill the file system of ``directory`` to the last byte."""
    for name, chunk in (("filler", 4096), ("filler2", 1)):
        with contextlib.suppress(OSError):
            fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            finally:
                os.close(fd)


# ---- signals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "pip"])
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_simulation_is_one_line_and_128_plus_signal(
    command, signum, code, env_prefix, silent_index, tmp_path
):
    home = tmp_path / "home"
    env = guard_env(home, silent_index.url, env_prefix)
    args = (
        ["check", "--prefix", str(env_prefix), "--", "numpy==2.0.0"]
        if command == "check"
        else ["pip", "install", "numpy==2.0.0"]
    )
    seen = len(silent_index.requests)
    proc = subprocess.Popen(
        [sys.executable, "-m", "guard", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(silent_index.requests) == seen:  # mid-simulation: waiting on the index
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the guard never asked the index"
            time.sleep(0.05)
        time.sleep(0.3)
        started = time.monotonic()
        os.killpg(proc.pid, signum)  # as a terminal's Ctrl-C does: the whole process group
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert time.monotonic() - started < 5
    assert proc.returncode == code, (proc.returncode, err)
    assert "Traceback" not in err + out
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("guard: "), err
    assert ("interrupted" if signum == signal.SIGINT else "terminated") in lines[0]
    assert journal.read(env_prefix, env) == []  # nothing was decided, nothing is recorded
    assert leftovers(home) == []
    assert conda_numpy_intact(env_prefix)


# ---- state directories that cannot be written ----------------------------------------------------


def _state_dir(prefix: Path, env: dict) -> Path:
    return journal.state_dir(prefix, env)


def _assert_installed_with_net(proc, prefix: Path, warning: str) -> Path:
    """pip ran (tinyextra installed), with the safety net, after exactly one warning line."""
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    ours = guard_lines(proc.stderr)
    assert len(ours) == 1 and warning in ours[0], proc.stderr
    assert installed(prefix, "tinyextra")
    assert conda_numpy_intact(prefix)
    net = Path(ours[0].rsplit("safety net from ", 1)[1].strip())
    assert "numpy==1.26.4" in net.read_text().splitlines()
    assert stat.S_IMODE(net.stat().st_mode) == 0o600
    return net


def test_read_only_state_dir_warns_once_and_pip_still_runs_with_the_net(env_prefix, index, tmp_path):
    home = tmp_path / "home"
    env = guard_env(home, index.url, env_prefix)
    state = home / "state"
    if IS_ROOT:
        ctx = tmpfs(state, "ro,size=64k")
    else:
        state.mkdir(parents=True)
        state.chmod(0o500)
        ctx = contextlib.nullcontext(state)
    with ctx:
        proc = guard("pip", "install", "tinyextra", env=env)
        net = _assert_installed_with_net(proc, env_prefix, "cannot write the guard's state")
        assert "Read-only file system" in proc.stderr or "Permission denied" in proc.stderr
        assert not net.is_relative_to(state)
        assert not journal.journal_path(env_prefix, env).exists()
    if not IS_ROOT:
        state.chmod(0o700)


def test_full_state_dir_warns_once_pip_still_runs_and_nothing_is_half_written(env_prefix, index, tmp_path):
    if not IS_ROOT:
        pytest.skip("a full file system needs a tmpfs, which only root can mount here")
    home = tmp_path / "home"
    env = guard_env(home, index.url, env_prefix)
    state = home / "state"
    with tmpfs(state, "size=64k"):
        # an earlier decision is in the journal, then the disk fills up
        journal.append(env_prefix, env, {"argv": ["pip", "install", "x"], "verdict": "block"})
        before = journal.journal_path(env_prefix, env).read_bytes()
        fill(state)
        proc = guard("pip", "install", "tinyextra", env=env)
        _assert_installed_with_net(proc, env_prefix, "No space left on device")
        assert leftovers(state) == []
        # whole lines only: the earlier entry, then the allow when the last page still held it
        after = journal.journal_path(env_prefix, env).read_bytes()
        assert after.startswith(before) and after.endswith(b"\n")
        found = journal.read_all(env_prefix, env)
        assert found.skipped == 0 and [e["verdict"] for e in found.entries] in (["block"], ["block", "allow"])


def test_safety_file_that_cannot_be_replaced_never_leaves_an_allow_without_pip(env_prefix, index, tmp_path):
    """The state directory works but its safety-constraints.txt is a directory: the net goes to a
    private temp file, pip runs, and the journal's ``allow`` is true."""
    home = tmp_path / "home"
    env = guard_env(home, index.url, env_prefix)
    (_state_dir(env_prefix, env) / "safety-constraints.txt").mkdir(parents=True)
    proc = guard("pip", "install", "tinyextra", env=env)
    _assert_installed_with_net(proc, env_prefix, "cannot write the guard's state")
    assert [e["verdict"] for e in journal.read(env_prefix, env)] == ["allow"]


# ---- the journal ---------------------------------------------------------------------------------


def test_a_torn_last_line_never_swallows_the_next_entry(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    prefix = tmp_path / "env"
    prefix.mkdir()
    journal.append(prefix, env, {"argv": ["pip", "install", "a"], "verdict": "allow"})
    path = journal.journal_path(prefix, env)
    with open(path, "ab") as fh:  # a writer killed mid-line (another tool, an old version)
        fh.write(b'{"time":"2026-01-01T00:00:00+0000","argv":["pip","inst')
    journal.append(
        prefix, env, {"argv": ["pip", "install", "numpy==2.0.0"], "verdict": "block", "reasons": [{"name": "numpy"}]}
    )
    found = journal.read_all(prefix, env)
    assert [e["verdict"] for e in found.entries] == ["allow", "block"]
    assert found.skipped == 1
    assert path.read_bytes().endswith(b"\n")
    assert journal.last_blocked(prefix, env)["argv"] == ["pip", "install", "numpy==2.0.0"]


GARBAGE = [
    b"42",
    b"[1, 2]",
    b'"text"',
    b"null",
    b'{"argv": 5}',
    b'{"reasons": [1]}',
    b'{"changes": "x"}',
    b"\xff\xfe\x00 not json",
    b"[" * 100_000,
    b'{"verdict": ["block"]}',
]


def test_guard_log_skips_unreadable_lines_and_says_how_many(tmp_path):
    env = {**clean_pip_env(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    prefix = tmp_path / "env"
    prefix.mkdir()
    journal.append(prefix, env, {"argv": ["pip", "install", "a"], "verdict": "allow"})
    path = journal.journal_path(prefix, env)
    with open(path, "ab") as fh:
        fh.write(b"\n".join(GARBAGE) + b"\n")
    journal.append(prefix, env, {"argv": ["pip", "install", "b"], "verdict": "block"})
    for args in (["log"], ["log", "--json"], ["log", "-n", "1"]):
        proc = guard(*args, "--prefix", str(prefix), env=env)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.splitlines() == [f"guard: warning: skipped {len(GARBAGE)} unreadable journal lines"]
    proc = guard("log", "--json", "--prefix", str(prefix), env=env)
    assert [e["argv"] for e in json.loads(proc.stdout)] == [["pip", "install", "a"], ["pip", "install", "b"]]


def test_a_journal_that_is_a_directory_is_one_warning_not_a_crash(env_prefix, index, tmp_path):
    home = tmp_path / "home"
    env = guard_env(home, index.url, env_prefix)
    journal.journal_path(env_prefix, env).mkdir(parents=True)
    proc = guard("log", "--prefix", str(env_prefix), env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("guard: warning: cannot read the journal")
    proc = guard("pip", "install", "tinyextra", env=env)  # the install is not held up by it
    assert proc.returncode == 0, proc.stderr
    ours = guard_lines(proc.stderr)
    assert len(ours) == 1 and "not in the journal" in ours[0], proc.stderr
    assert installed(env_prefix, "tinyextra")


# ---- private files, no credentials ---------------------------------------------------------------


def test_redaction():
    assert redact("https://user:secret@host/simple") == "https://****@host/simple"
    assert redact("x @ https://tok3n@host/a.whl") == "x @ https://****@host/a.whl"
    assert redact("user:pass@proxy:3128") == "****@proxy:3128"
    assert redact("--proxy=user:pass@proxy:3128") == "--proxy=****@proxy:3128"
    assert redact("pip install x --proxy tok3n@proxy:3128") == "pip install x --proxy ****@proxy:3128"
    assert redact("name @ file:///tmp/x.whl") == "name @ file:///tmp/x.whl"
    assert redact("numpy>=1.2,<2; python_version>='3.8'") == "numpy>=1.2,<2; python_version>='3.8'"
    assert redact_argv(["--proxy", "tok3n@proxy:3128", "x"]) == ["--proxy", "****@proxy:3128", "x"]
    assert redact_argv(["--proxy", "http://u:p@proxy:3128"]) == ["--proxy", "http://****@proxy:3128"]
    assert redact_argv(["--prox=u:p@proxy"]) == ["--prox=****@proxy"]
    for text in ("https://u:p@h/ x", "a:b@c", "--proxy u:p@h"):
        assert redact(redact(text)) == redact(text)


def _all_files(root: Path):
    return [p for p in root.rglob("*") if not p.is_symlink()]


def _assert_private_and_clean(root: Path, *secrets: str) -> None:
    paths = _all_files(root)
    assert any(p.is_file() for p in paths), f"nothing was written under {root}"
    for p in paths:
        mode = stat.S_IMODE(p.stat().st_mode)
        if p.is_dir():
            assert mode == 0o700, (str(p), oct(mode))
        else:
            assert mode == 0o600, (str(p), oct(mode))
            data = p.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"{secret} in {p}"


def test_files_the_guard_writes_are_private_and_hold_no_credential(env_prefix, index, wheels, tmp_path):
    home = tmp_path / "home"
    host = index.url.split("//", 1)[1].split("/", 1)[0]
    env = guard_env(home, f"http://alice:pw5ecret@{host}/simple/", env_prefix)
    wheel_url = f"http://bob:t0kensecret@{host}/files/tinyother/{wheels[1].name}"
    shown = []

    def run(*args, code):
        proc = guard(*args, env=env)
        assert proc.returncode == code, proc.stderr
        # what pip itself prints when it runs is pip's (it shows the URL as typed, once)
        shown.append(proc.stderr if args[0] == "pip" and code == 0 else proc.stdout + proc.stderr)

    run("check", "--prefix", str(env_prefix), "--json", "--", f"tinyother @ {wheel_url}", code=0)
    run("check", "--prefix", str(env_prefix), "--json", "--", f"tinyother @ {wheel_url}", code=0)  # cached
    run("check", "--prefix", str(env_prefix), "--", "numpy==2.0.0", code=1)
    # allowed installs (state: journal, safety net, remembered records), then a blocked one
    run("pip", "install", "tinyextra", code=0)
    run("pip", "install", f"tinyother @ {wheel_url}", code=0)
    run(
        "pip",
        "install",
        "numpy==2.0.0",
        f"tinyextra @ http://bob:t0kensecret@{host}/files/tinyextra/{wheels[0].name}",
        code=1,
    )
    # a scheme-less proxy with credentials (uninstall: no network needed)
    run("pip", "uninstall", "-y", "--proxy", "carol:pr0xysecret@127.0.0.1:9", "tinyextra", code=0)
    run("why", "--prefix", str(env_prefix), "--no-alternative", code=0)
    run("why", "--prefix", str(env_prefix), "--no-alternative", "numpy", "--", f"tinyother @ {wheel_url}", code=0)
    run("log", "--prefix", str(env_prefix), code=0)
    secrets = ("pw5ecret", "t0kensecret", "pr0xysecret")
    for out in shown:
        assert not any(s in out for s in secrets), out
    assert (home / "cache" / "verdicts").is_dir()
    _assert_private_and_clean(home / "cache", *secrets)
    _assert_private_and_clean(home / "state" / "conda-pip-guard", *secrets)
    entries = journal.read(env_prefix, env)
    assert [e["verdict"] for e in entries] == ["allow", "allow", "block", "allow"]
    assert entries[-1]["argv"][3:5] == ["--proxy", "****@127.0.0.1:9"]


# ---- guard why, no arguments ---------------------------------------------------------------------


def test_why_without_arguments_explains_the_last_block(env_prefix, index, tmp_path):
    env = guard_env(tmp_path / "home", index.url, env_prefix)
    proc = guard("why", "--prefix", str(env_prefix), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "No blocked command in this environment's journal." in proc.stdout
    assert guard("pip", "install", "numpy==2.0.0", env=env).returncode == 1
    proc = guard("why", "--prefix", str(env_prefix), "--no-alternative", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "pip install numpy==2.0.0 would replace it with numpy 2.0.0" in proc.stdout
    proc = guard("why", "--prefix", str(env_prefix), "--json", "--no-alternative", env=env)
    assert proc.returncode == 0, proc.stderr
    expl = json.loads(proc.stdout)
    assert expl["package"] == "numpy" and expl["command"] == ["pip", "install", "numpy==2.0.0"]
