"""Issue 9, items 4 and 5: deadlines, freshness as pip's, and answers when the index is gone.

A real index on 127.0.0.1 (``LocalIndex``) that hangs, drip-feeds, answers 304 to everything,
cuts its answers short, publishes a release mid-test or disappears; the index client and
``guard check`` (a subprocess, on a real conda env) against it. Requirement files that are
devices, pipes or huge are refused with one line.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guard.errors import IndexUnavailable, RequirementsFileError
from guard.index.client import IndexClient
from guard.index.settings import IndexSettings
from tests.support.conda_prefix import ML_CUDA_ENV
from tests.support.guard_env import guard_environ
from tests.support.index_server import LocalIndex
from tests.support.wheels import build_wheel


def client(index_url, tmp_path: Path, *, extra=(), **settings) -> IndexClient:
    settings.setdefault("timeout", 5.0)
    settings.setdefault("retries", 0)
    return IndexClient(
        IndexSettings(index_url=index_url, extra_index_urls=tuple(extra), **settings), cache_dir=tmp_path / "cache"
    )


def dead_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}/simple/"


# --------------------------------------------------------------------------- deadlines


@pytest.mark.parametrize("fault", ["hang", "drip"])
def test_silent_or_dripping_index_ends_at_the_deadline(tmp_path, fault):
    # a byte every 0.2 s never trips a 5 s socket timeout: only the run's deadline ends it
    with LocalIndex() as index:
        index.set_fault(fault, delay=0.2)
        started = time.monotonic()
        with pytest.raises(IndexUnavailable) as err:
            client(index.url, tmp_path, deadline=1.5).project_files("six")
        elapsed = time.monotonic() - started
        index.set_fault(None)
    assert elapsed < 3, elapsed
    assert str(err.value) == f"{index.url}six/: no complete answer within the 1.5s deadline (GUARD_DEADLINE)"
    assert err.value.exit_code == 3


def test_answer_cut_short_is_index_unavailable(tmp_path):
    with LocalIndex() as index:
        index.set_fault("lie")
        with pytest.raises(IndexUnavailable) as err:
            client(index.url, tmp_path).project_files("six")
    assert "\n" not in str(err.value) and "/simple/six/" in str(err.value)


def test_304_without_a_cached_page_is_not_an_answer(tmp_path):
    with LocalIndex() as index:
        index.set_fault("304")
        with pytest.raises(IndexUnavailable, match=r"/simple/six/: HTTP 304"):
            client(index.url, tmp_path).project_files("six")


def test_retries_follow_pip(tmp_path):
    # pip retries 500 and 503 (urllib3 Retry, status_forcelist [500, 503, 520, 527]), not 404
    with LocalIndex() as index:
        index.set_fault("500")
        with pytest.raises(IndexUnavailable, match="HTTP 500 after 2 retries"):
            client(index.url, tmp_path, retries=2).project_files("six")
        assert len(index.requests) == 3
        index.set_fault("404")
        del index.requests[:]
        assert client(index.url, tmp_path, retries=2).project_files("six") == []
        assert len(index.requests) == 1


# --------------------------------------------------------------------------- freshness


def test_release_published_within_max_age_is_seen(tmp_path):
    wheels = tmp_path / "wheels"
    with LocalIndex(extra_wheels=[build_wheel(wheels, "zzprobe", "1.0")], cache_control="max-age=600") as index:
        assert [str(f.version) for f in client(index.url, tmp_path).project_files("zzprobe")] == ["1.0"]
        index.add_wheel(build_wheel(wheels, "zzprobe", "2.0"))
        again = client(index.url, tmp_path)
        assert sorted(str(f.version) for f in again.project_files("zzprobe")) == ["1.0", "2.0"]
        # unchanged since: one conditional request, answered 304 without a body
        third = client(index.url, tmp_path)
        third.project_files("zzprobe")
    assert third.stats.pages_revalidated == 1 and third.stats.requests == 1 and third.stats.pages_fetched == 0


def test_pages_unchanged_tells_a_changed_page(tmp_path):
    wheels = tmp_path / "wheels"
    with LocalIndex(extra_wheels=[build_wheel(wheels, "zzprobe", "1.0")]) as index:
        first = client(index.url, tmp_path)
        first.project_files("zzprobe")
        pages = dict(first.pages_used)
        assert list(pages) == [index.url + "zzprobe/"]
        assert client(index.url, tmp_path).pages_unchanged(pages)
        index.add_wheel(build_wheel(wheels, "zzprobe", "2.0"))
        assert not client(index.url, tmp_path).pages_unchanged(pages)
        index.set_fault("reset")
        assert not client(index.url, tmp_path).pages_unchanged(pages)  # cannot confirm: a miss


# --------------------------------------------------------------------------- offline, extra indexes


def test_unreachable_index_answers_from_cached_pages_with_their_age(tmp_path):
    with LocalIndex() as index:
        files = client(index.url, tmp_path).project_files("six")
        url = index.url
    # the index is gone now (and its max-age long past would not matter either)
    offline = client(url, tmp_path)
    assert offline.project_files("six") == files
    [warning] = offline.warnings
    assert warning.startswith(
        f"index {url.split('/')[2]} could not be reached (connection refused): answered from its cached pages, up to "
    )
    assert " s old" in warning and offline.fresh_until == 0 and offline.stats.pages_offline == 1


def test_unreachable_primary_index_with_a_working_extra_index(tmp_path):
    dead = dead_url()
    with LocalIndex() as index:
        c = client(dead, tmp_path, extra=[index.url])
        files = c.project_files("six")
    assert files and all(f.source == index.url for f in files)
    [warning] = c.warnings
    assert warning == (
        f"index {dead} could not be reached (connection refused): judged with the other "
        "indexes' pages, as pip goes on without it"
    )
    assert c.fresh_until == 0
    with pytest.raises(IndexUnavailable, match="connection refused"):  # no index answered: nothing to judge
        client(dead, tmp_path / "other", extra=[dead_url()]).project_files("six")


# --------------------------------------------------------------------------- guard check, end to end


@pytest.fixture(scope="module")
def prefix(tmp_path_factory, conda_channel_root):
    return ML_CUDA_ENV.build(tmp_path_factory.mktemp("fail-closed") / "env", channel_root=conda_channel_root)


guard_env = guard_environ


def check(prefix, env, *pip_args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "guard", "check", "--prefix", str(prefix), "--json", "--", *pip_args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(proc, code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    [line] = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return line


@pytest.mark.parametrize("fault", ["hang", "drip"])
def test_guard_check_on_a_silent_or_dripping_index_exits_3_at_the_deadline(prefix, tmp_path, fault):
    with LocalIndex() as index:
        index.set_fault(fault, delay=0.5)
        # this machine's pip timeout (180 s per socket operation) must not stretch the deadline
        env = guard_env(tmp_path, index.url, GUARD_DEADLINE="2", PIP_DEFAULT_TIMEOUT="180")
        started = time.monotonic()
        proc = check(prefix, env, "rich")
        elapsed = time.monotonic() - started
        index.set_fault(None)
    line = one_line_error(proc, 3)
    assert "127.0.0.1:" in line and "deadline" in line, line
    assert elapsed < 10, elapsed


def test_bad_deadline_is_a_usage_error(prefix, tmp_path):
    with LocalIndex() as index:
        line = one_line_error(check(prefix, guard_env(tmp_path, index.url, GUARD_DEADLINE="soon"), "rich"), 2)
    assert "GUARD_DEADLINE" in line


def proposed(proc, name: str) -> str | None:
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    return next((c["proposed"] for c in data["changes"] if c["name"] == name), None)


def test_guard_check_sees_a_release_published_within_max_age(prefix, tmp_path):
    wheels = tmp_path / "wheels"
    with LocalIndex(extra_wheels=[build_wheel(wheels, "zzprobe", "1.0")], cache_control="max-age=600") as index:
        env = guard_env(tmp_path, index.url)
        assert proposed(check(prefix, env, "zzprobe"), "zzprobe") == "1.0"
        seen = len(index.requests)
        assert proposed(check(prefix, env, "zzprobe"), "zzprobe") == "1.0"  # memoized verdict, revalidated
        assert [(m, p) for m, p, _ in index.requests[seen:]] == [("GET", "/simple/zzprobe/")]
        index.add_wheel(build_wheel(wheels, "zzprobe", "2.0"))
        assert proposed(check(prefix, env, "zzprobe"), "zzprobe") == "2.0"  # what pip would install now


def test_guard_check_offline_answers_from_cached_pages(prefix, tmp_path):
    with LocalIndex() as index:
        env = guard_env(tmp_path, index.url)
        assert check(prefix, env, "rich").returncode == 0
    started = time.monotonic()
    proc = check(prefix, {**env, "PIP_RETRIES": "0"}, "rich")  # the index is gone (and pip's retries: --retries 0)
    assert time.monotonic() - started < 10
    assert proc.returncode == 0, proc.stderr
    warnings = json.loads(proc.stdout)["warnings"]
    assert any("could not be reached" in w and "answered from its cached pages, up to" in w for w in warnings), warnings


def test_guard_check_with_unreachable_primary_and_working_extra_index(prefix, tmp_path):
    dead = dead_url()
    with LocalIndex() as index:
        proc = check(prefix, guard_env(tmp_path, dead, PIP_EXTRA_INDEX_URL=index.url, PIP_RETRIES="0"), "rich")
    assert proc.returncode == 0, proc.stderr
    warnings = json.loads(proc.stdout)["warnings"]
    assert any(w.startswith(f"index {dead} could not be reached") for w in warnings), warnings


# --------------------------------------------------------------------------- requirement files


@pytest.mark.parametrize("kind", ["device", "fifo", "huge"])
def test_requirement_file_that_is_no_bounded_file_is_refused(prefix, tmp_path, kind):
    if kind == "device":
        path = "/dev/zero"
    elif kind == "fifo":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)  # nobody writes: opening it for reading would wait forever
    else:
        path = str(tmp_path / "huge.txt")
        with open(path, "wb") as f:
            f.truncate(17 * 1024 * 1024)  # sparse: no disk needed
    with LocalIndex() as index:
        started = time.monotonic()
        proc = check(prefix, guard_env(tmp_path, index.url), "-r", path)
    line = one_line_error(proc, 2)
    assert path in line and ("not a regular file" in line if kind != "huge" else "limit" in line), line
    assert time.monotonic() - started < 30


def test_a_long_requirements_file_builds_its_line_parser_once(tmp_path, monkeypatch):
    from guard.request import reqfile
    from guard.request.parse import parse_pip_argv

    path = tmp_path / "many.txt"
    path.write_text(
        "".join(f"pkg{i}>=1.{i % 7}\n" for i in range(20_000)) + "extra-pkg --hash=sha256:" + "0" * 64 + "\n"
    )
    builds = []
    real = reqfile.build_parser
    monkeypatch.setattr(reqfile, "build_parser", lambda *a, **k: builds.append(a) or real(*a, **k))
    monkeypatch.setattr(reqfile, "_LINE_PARSERS", __import__("threading").local(), raising=False)
    started = time.monotonic()
    request = parse_pip_argv(["install", "-r", str(path)], config={}, environ={}, cwd=str(tmp_path))
    elapsed = time.monotonic() - started
    assert len(request.requirements) == 20_001
    assert request.requirements[-1].hashes and not request.requirements[0].hashes  # no option leaks between lines
    assert len(builds) <= 3, len(builds)  # the command's parsers, and one for the file's lines
    assert elapsed < 15, elapsed  # 1.5 s here; the old reader built a parser per line (6 s)


def test_requirement_file_bound_is_a_requirements_file_error(tmp_path):
    from guard.request.parse import parse_pip_argv

    with pytest.raises(RequirementsFileError, match="not a regular file"):
        parse_pip_argv(["install", "-r", "/dev/zero"], config={}, environ={}, cwd=str(tmp_path))


def test_revalidating_a_memoized_answer_is_one_conditional_request_per_page_without_requests(tmp_path):
    # the verdict cache's hot path: 304s confirm the pages; importing requests would cost more
    with LocalIndex() as index:
        first = client(index.url, tmp_path)
        first.prefetch_pages(["six", "idna", "rich"])
        script = (
            "import json, sys; from pathlib import Path; from guard.index.client import IndexClient; from guard.index.settings import IndexSettings\n"
            f"c = IndexClient(IndexSettings(index_url={index.url!r}), cache_dir=Path({str(tmp_path / 'cache')!r}))\n"
            f"print(c.pages_unchanged(json.loads({json.dumps(json.dumps(first.pages_used))})), 'requests' in sys.modules)\n"
        )
        seen = len(index.requests)
        out = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert out.stdout.split() == ["True", "False"], out.stderr
        assert sorted(p for _, p, _ in index.requests[seen:]) == ["/simple/idna/", "/simple/rich/", "/simple/six/"]


def test_offline_age_counts_from_the_last_confirmation(tmp_path):
    with LocalIndex() as index:
        client(index.url, tmp_path).project_files("six")
        for path in (tmp_path / "cache" / "pages-v1").rglob("*.json"):  # fetched two hours ago...
            record = json.loads(path.read_text())
            record["fetched"] -= 7200
            path.write_text(json.dumps(record))
        client(index.url, tmp_path).project_files("six")  # ...confirmed by a 304 just now
        url = index.url
    offline = client(url, tmp_path)
    offline.project_files("six")
    [warning] = offline.warnings
    assert " s old" in warning, warning


# --------------------------------------------------------------------------- huge requests


def test_twenty_thousand_identical_lines_are_answered_in_seconds(prefix, tmp_path):
    """Each copy of the same requirement used to cost the resolver a merge (274 s measured for
    20,000 lines of ``rich``); identical requirements are one root, as their criteria merge."""
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("rich\n" * 20_000)
    with LocalIndex() as index:
        started = time.monotonic()
        proc = check(prefix, guard_env(tmp_path, index.url), "-r", str(reqs))
        elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert proposed(proc, "rich") is not None
    assert elapsed < 30, elapsed


def test_the_deadline_bounds_the_resolver_too(prefix, tmp_path):
    """20,000 different specifiers: no index is slow, the resolver is; the run's deadline ends it
    with exit 3 and one line, as for an index that does not answer in time."""
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("".join(f"rich>=0.{i}\n" for i in range(20_000)))
    with LocalIndex() as index:
        started = time.monotonic()
        proc = check(prefix, guard_env(tmp_path, index.url, GUARD_DEADLINE="3"), "-r", str(reqs))
        elapsed = time.monotonic() - started
    line = one_line_error(proc, 3)
    assert "resolution did not finish within the 3s deadline (GUARD_DEADLINE)" in line, line
    assert elapsed < 20, elapsed
