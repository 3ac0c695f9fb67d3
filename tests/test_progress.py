"""Progress on long waits (issue 13, point 2): ``guard check``, ``guard why`` and ``guard pip`` on a
real terminal (a pseudo-terminal from ``os.openpty``) against a slow local index show one line on
stderr, redrawn in place and erased before the answer; into a pipe, with ``--json``, or on a
``TERM=dumb`` terminal nothing is redrawn."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from guard.act.progress import QuietProgress, TerminalProgress, progress_on_stderr
from guard.index.state import IndexStats
from tests.support.conda_prefix import ML_CUDA_ENV, SITE_PACKAGES, clean_pip_env
from tests.support.index_server import LocalIndex

REPO_ROOT = Path(__file__).resolve().parent.parent
SLOW = 0.4  # seconds per index request: a cold check of numpy==2.0.0 then takes well over a second


@pytest.fixture(scope="module")
def index():
    with LocalIndex() as idx:
        yield idx


@pytest.fixture(scope="module")
def prefix(tmp_path_factory, conda_channel_root):
    return ML_CUDA_ENV.build(
        tmp_path_factory.mktemp("progress") / "env", with_pip=True, channel_root=conda_channel_root
    )


@pytest.fixture
def slow_index(index):
    index.set_fault("slow", SLOW)
    yield index
    index.set_fault(None)


def _env(tmp_path: Path, index: LocalIndex, prefix: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = clean_pip_env(home)
    env.pop("TERM", None)
    env.update(
        PIP_INDEX_URL=index.url,
        GUARD_CACHE_DIR=str(tmp_path / f"cache-{time.monotonic_ns()}"),  # cold: every run asks the index
        XDG_STATE_HOME=str(home / "state"),
        GUARD_PREFIX=str(prefix),
        PYTHONPATH=str(REPO_ROOT),
        **extra,
    )
    return env


def run(args: list[str], env: dict[str, str], *, tty: bool = True) -> tuple[int, str, str, float]:
    """``python -m guard ARGS`` with stderr on a pseudo-terminal (200 columns) when ``tty``, else a
    pipe; stdout always a pipe. Returns the exit status, stdout, stderr as the terminal received
    it (every byte), and the seconds it took."""
    cmd = [sys.executable, "-m", "guard", *args]
    start = time.monotonic()
    if not tty:
        done = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr, time.monotonic() - start
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # the bytes as written: no \n -> \r\n on the way
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    received = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            received += chunk
        elif proc.poll() is not None and not select.select([master], [], [], 0)[0]:
            break
    os.close(master)
    assert proc.stdout is not None
    stdout = proc.stdout.read().decode()
    proc.stdout.close()
    code = proc.wait(timeout=120)
    return code, stdout, received.decode(), time.monotonic() - start


def screen(raw: str) -> list[str]:
    """What a terminal shows after ``raw``: each row, a carriage return moving back to column 0."""
    rows = []
    for line in raw.split("\n"):
        row: list[str] = []
        col = 0
        for ch in line:
            if ch == "\r":
                col = 0
                continue
            if col < len(row):
                row[col] = ch
            else:
                row.append(ch)
            col += 1
        rows.append("".join(row).rstrip())
    return rows


def test_guard_check_on_a_terminal_shows_progress_and_erases_it(prefix, slow_index, tmp_path):
    code, out, err, took = run(
        ["check", "--prefix", str(prefix), "--", "numpy==2.0.0"], _env(tmp_path, slow_index, prefix)
    )
    assert took > 1.0
    assert code == 1, (out, err)
    assert "BLOCK  pip would upgrade numpy 1.26.4 -> 2.0.0" in out
    assert "guard: simulating: resolving, " in err and " index page" in err and " metadata file" in err
    assert "\r" in err and "\x1b" not in err  # redrawn in place, no escape sequences
    assert all(not row for row in screen(err)), repr(err)  # erased: the terminal shows nothing of it
    assert err.endswith("\r")  # the last thing written is the erasure


def test_no_progress_into_a_pipe_or_with_json(prefix, slow_index, tmp_path):
    args = ["check", "--prefix", str(prefix), "--", "numpy==2.0.0"]
    code, _, err, took = run(args, _env(tmp_path, slow_index, prefix), tty=False)
    assert code == 1 and took > 1.0 and err == ""
    code, out, err, took = run(args[:3] + ["--json"] + args[3:], _env(tmp_path, slow_index, prefix))
    assert code == 1 and took > 1.0 and out.startswith("{")
    assert err == ""
    code, _, err, _ = run(args, _env(tmp_path, slow_index, prefix, NO_COLOR="1"))  # the same run on a terminal
    assert "guard: simulating: resolving, " in err and "\x1b" not in err


def test_dumb_terminal_gets_one_line_at_the_end_and_no_carriage_return(prefix, slow_index, tmp_path):
    code, out, err, took = run(
        ["check", "--prefix", str(prefix), "--", "numpy==2.0.0"], _env(tmp_path, slow_index, prefix, TERM="dumb")
    )
    assert code == 1 and took > 1.0, (out, err)
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("guard: simulating: done in "), err
    assert "index page" in lines[0] and "metadata file" in lines[0]


def test_guard_why_on_a_terminal_shows_progress_and_erases_it(prefix, slow_index, tmp_path):
    code, out, err, _ = run(
        ["why", "--prefix", str(prefix), "--no-alternative", "numpy", "--", "numpy==2.0.0"],
        _env(tmp_path, slow_index, prefix),
    )
    assert code == 0, (out, err)
    assert "numpy" in out
    assert "guard: simulating: resolving, " in err
    assert all(not row for row in screen(err)), repr(err)


def test_guard_pip_says_it_simulates_before_pip_and_erases_it_before_the_block(prefix, slow_index, tmp_path):
    before = sorted(p.name for p in (prefix / SITE_PACKAGES).glob("numpy-*"))
    code, out, err, took = run(["pip", "install", "numpy==2.0.0"], _env(tmp_path, slow_index, prefix))
    assert code == 1 and took > 1.0, (out, err)
    assert "conda-pip-guard: simulating before pip runs: resolving, " in err
    rows = screen(err)
    assert "pip would upgrade numpy 1.26.4 -> 2.0.0" in err
    # the block starts on a clean row: the progress line was erased before it was written
    block_row = next(r for r in rows if "numpy 1.26.4 -> 2.0.0" in r)
    assert "simulating" not in block_row and not any("simulating" in r for r in rows), rows
    assert sorted(p.name for p in (prefix / SITE_PACKAGES).glob("numpy-*")) == before  # pip did not run


# ---- the reporter itself: what the faces rely on -------------------------------------------------


class FakeTerminal:
    """A stream that says it is a terminal and keeps what is written."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_a_quick_answer_shows_nothing_and_leaves_no_thread_behind():
    stream = FakeTerminal()
    progress = progress_on_stderr("guard: simulating", {}, stream=stream)
    assert isinstance(progress, TerminalProgress)
    with progress:
        progress.stage("resolving", IndexStats())
    time.sleep(0.05)
    assert stream.written == []
    import threading

    assert not any(t.name == "guard-progress" and t.is_alive() for t in threading.enumerate())


def test_a_verdict_from_the_cache_costs_no_thread_and_no_import():
    """The pipeline reports no stage when the verdict cache answers: no thread starts and
    ``threading`` (1.3 ms of imports, absent from a warm ``guard pip``) is not imported."""
    code = (
        "import sys\n"
        "from guard.act.progress import TerminalProgress\n"
        "with TerminalProgress(sys.stderr, 'guard: simulating', delay=0.0):\n"
        "    pass\n"
        "print('threading' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert (out.stdout, out.stderr) == ("False\n", "")


def test_output_while_the_line_shows_is_written_on_a_clean_row():
    stream = FakeTerminal()
    stats = IndexStats()
    with TerminalProgress(stream, "guard: simulating", delay=0.0, interval=0.01) as progress:
        progress.stage("resolving", stats)
        stats.pages_fetched, stats.metadata_pep658 = 3, 1
        time.sleep(0.1)
        progress.interrupting(lambda: stream.write("note: building\n"))()
        time.sleep(0.05)
    text = "".join(stream.written)
    assert "guard: simulating: resolving, 3 index pages, 1 metadata file, " in text
    before, _, after = text.partition("note: building\n")
    assert screen(before) == [""] and screen(after) == [""]  # erased before the note and at the end


def test_not_a_terminal_or_disabled_is_quiet():
    class Pipe(FakeTerminal):
        def isatty(self) -> bool:
            return False

    assert type(progress_on_stderr("x", {}, stream=Pipe())) is QuietProgress
    assert type(progress_on_stderr("x", {}, enabled=False, stream=FakeTerminal())) is QuietProgress
