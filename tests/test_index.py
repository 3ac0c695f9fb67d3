"""The index client against real servers on 127.0.0.1 (no HTTP mocks).

``LocalIndex`` (tests/support/index_server.py) plays a PEP 691/503 index with PEP 658 metadata;
``StaticServer`` below serves exact bytes when a scenario needs a server that behaves in one
particular way (no ``.metadata``, no byte ranges, HTML only, basic auth).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from guard.errors import IndexUnavailable, NeedsPipFallback
from guard.index.client import IndexClient
from guard.index.settings import IndexSettings
from guard.index.urls import redact_url
from guard.models import CoreMetadata, DistFile
from tests.support.index_server import LocalIndex
from tests.support.wheels import build_wheel

REPO_ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- a byte-exact server


class StaticServer:
    """Serves ``files`` (path -> bytes, or (content type, bytes)) on 127.0.0.1.

    ``ranges``: honour ``Range: bytes=...`` with 206 (else always 200 with the whole body);
    ``auth``: (user, password) required as HTTP basic auth. ``log`` holds
    ``(path, range header, bytes sent)`` for every request.
    """

    def __init__(self, files: dict[str, object], *, ranges: bool = True, auth: tuple[str, str] | None = None):
        self.files = files
        self.ranges = ranges
        self.auth = auth
        self.log: list[tuple[str, str | None, int]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                range_header = self.headers.get("Range")
                status, headers, body = outer._answer(path, range_header, self.headers.get("Authorization"))
                outer.log.append((path, range_header, len(body)))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def _answer(self, path: str, range_header: str | None, authorization: str | None):
        if self.auth is not None:
            expected = "Basic " + base64.b64encode(":".join(self.auth).encode()).decode()
            if authorization != expected:
                return 401, {"WWW-Authenticate": 'Basic realm="x"'}, b"auth\n"
        entry = self.files.get(path)
        if entry is None:
            return 404, {"Content-Type": "text/plain"}, b"not found\n"
        content_type, body = entry if isinstance(entry, tuple) else ("application/octet-stream", entry)
        headers = {"Content-Type": content_type}
        if self.ranges and range_header and range_header.startswith("bytes="):
            first, _, last = range_header[6:].partition("-")
            size = len(body)
            start, end = (
                (max(0, size - int(last)), size - 1)
                if first == ""
                else (int(first), min(int(last or size - 1), size - 1))
            )
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            return 206, headers, body[start : end + 1]
        return 200, headers, body

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def static_server():
    servers: list[StaticServer] = []

    def make(files, **kwargs) -> StaticServer:
        servers.append(StaticServer(files, **kwargs))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def client(index_url: str | None, tmp_path: Path, **settings) -> IndexClient:
    settings.setdefault("timeout", 5.0)
    settings.setdefault("retries", 1)
    return IndexClient(IndexSettings(index_url=index_url, **settings), cache_dir=tmp_path / "cache")


def padded_wheel(out_dir: Path, name: str, version: str, *, requires_dist=(), padding: int = 1_000_000) -> Path:
    """A real wheel with ``padding`` incompressible bytes before its .dist-info."""
    return build_wheel(
        out_dir, name, version, requires_dist=requires_dist,
        files={f"{name}/__init__.py": "", f"{name}/blob.bin": os.urandom(padding).hex()[:padding]},
    )  # fmt: skip


def html_page(links: list[str]) -> tuple[str, bytes]:
    return "text/html", ("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>").encode()


def sdist_bytes(name: str, version: str, pkg_info: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for member, text in ((f"{name}-{version}/PKG-INFO", pkg_info), (f"{name}-{version}/setup.py", "")):
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# --------------------------------------------------------------------------- pages


def test_json_page_gives_versions_tags_yanked_and_requires_python(tmp_path):
    with LocalIndex() as index:
        files = client(index.url, tmp_path).project_files("AioFiles")
        assert index.requests[0][0:2] == ("GET", "/simple/aiofiles/")
    by_name = {f.filename: f for f in files}
    yanked = by_name["aiofiles-23.2.0-py3-none-any.whl"]
    assert yanked.yanked == "Windows import issue"
    assert yanked.project == "aiofiles" and str(yanked.version) == "23.2.0" and yanked.is_wheel
    assert yanked.wheel_tags == frozenset({"py3-none-any"})
    assert yanked.url.startswith(index.url.replace("/simple/", "/files/"))
    assert len(yanked.hashes["sha256"]) == 64
    assert yanked.metadata_hashes is not None and "sha256" in yanked.metadata_hashes
    assert yanked.source == index.url
    assert dataclasses.replace(yanked) == yanked  # built from the cache exactly as __init__ would
    assert all(f.yanked is None for f in files if f is not yanked)


def test_json_page_yanked_without_reason_and_compressed_tags(tmp_path):
    with LocalIndex() as index:
        files = client(index.url, tmp_path).project_files("charset_normalizer")
    f = next(f for f in files if f.filename.startswith("charset_normalizer-3.4.8-cp311-cp311-manylinux2014"))
    assert f.yanked == ""
    assert {"cp311-cp311-manylinux2014_x86_64", "cp311-cp311-manylinux_2_28_x86_64"} <= f.wheel_tags


def test_html_page_base_relative_hrefs_fragments_and_escaped_attributes(tmp_path, static_server):
    page = html_page([
        '<base href="/pkgs/">',
        '<a href="demo-1.0-py3-none-any.whl#sha256=abc123" data-requires-python="&gt;=3.8, !=3.9.*" '
        'data-dist-info-metadata="sha256=def456">demo-1.0-py3-none-any.whl</a>',
        '<a href="sub/demo-0.9.tar.gz#md5=ffff" data-yanked="broken &amp; bad">x</a>',
        '<a href="demo-0.8.tar.gz" data-yanked>y</a>',
        '<a href="demo-1.1-py3-none-any.whl" data-core-metadata="true" data-dist-info-metadata="sha256=old">z</a>',
        '<a href="other-1.0-py3-none-any.whl">another project</a>',
        '<a href="demo-notaversion.tar.gz">unparsable</a>',
        '<a href="demo.exe">not a distribution</a>',
    ])  # fmt: skip
    server = static_server({"/simple/demo/": page})
    files = client(server.base + "/simple/", tmp_path).project_files("demo")
    by_name = {f.filename: f for f in files}
    assert sorted(by_name) == [
        "demo-0.8.tar.gz",
        "demo-0.9.tar.gz",
        "demo-1.0-py3-none-any.whl",
        "demo-1.1-py3-none-any.whl",
    ]
    wheel = by_name["demo-1.0-py3-none-any.whl"]
    assert wheel.url == server.base + "/pkgs/demo-1.0-py3-none-any.whl"
    assert wheel.hashes == {"sha256": "abc123"}
    assert wheel.requires_python == ">=3.8, !=3.9.*"
    assert wheel.metadata_hashes == {"sha256": "def456"}
    assert wheel.yanked is None
    sdist = by_name["demo-0.9.tar.gz"]
    assert (
        sdist.url == server.base + "/pkgs/sub/demo-0.9.tar.gz"
        and not sdist.is_wheel
        and sdist.wheel_tags == frozenset()
    )
    assert sdist.hashes == {"md5": "ffff"} and sdist.yanked == "broken & bad" and sdist.metadata_hashes is None
    assert by_name["demo-0.8.tar.gz"].yanked == ""
    assert by_name["demo-1.1-py3-none-any.whl"].metadata_hashes == {}  # PEP 714 name wins


def test_missing_project_is_empty_and_server_errors_are_index_unavailable(tmp_path):
    with LocalIndex() as index:
        assert client(index.url, tmp_path).project_files("no-such-project") == []
        index.set_fault("500")
        with pytest.raises(IndexUnavailable, match=r"/simple/six/: HTTP 500"):
            client(index.url, tmp_path).project_files("six")
        index.set_fault("garbage")
        with pytest.raises(IndexUnavailable, match="unparsable index page"):
            client(index.url, tmp_path).project_files("six")


def test_dead_index_fails_fast_with_one_line(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    started = time.monotonic()
    with pytest.raises(IndexUnavailable) as err:
        client(f"http://127.0.0.1:{port}/simple/", tmp_path).project_files("six")
    assert time.monotonic() - started < 3
    assert str(err.value) == f"http://127.0.0.1:{port}/simple/six/: connection refused"
    assert err.value.exit_code == 3


def test_slow_index_times_out_instead_of_hanging(tmp_path):
    with LocalIndex() as index:
        index.set_fault("slow", delay=3)
        started = time.monotonic()
        with pytest.raises(IndexUnavailable, match=r"no answer within 0.3s"):
            client(index.url, tmp_path, timeout=0.3, retries=0).project_files("six")
        assert time.monotonic() - started < 2


def test_connection_reset_is_index_unavailable(tmp_path):
    with LocalIndex() as index:
        index.set_fault("reset")
        with pytest.raises(IndexUnavailable) as err:
            client(index.url, tmp_path, retries=0).project_files("six")
    assert "\n" not in str(err.value)


def test_credentials_never_appear_in_errors_or_sources(tmp_path, static_server):
    server = static_server({}, auth=("alice", "s3cret"))
    url = server.base.replace("http://", "http://alice:s3cret@") + "/simple/"
    with pytest.raises(IndexUnavailable) as err:  # the page is missing: 404 is [], so break auth
        client(url.replace("s3cret", "wrong-s3cret"), tmp_path).project_files("demo")
    assert "s3cret" not in str(err.value) and "alice:****@" in str(err.value)
    assert "HTTP 401" in str(err.value)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(IndexUnavailable) as err:
        client(f"http://tok3n@127.0.0.1:{port}/simple/", tmp_path).project_files("demo")
    assert "tok3n" not in str(err.value) and "****@127.0.0.1" in str(err.value)
    assert redact_url("https://u:p%40ss@host/simple/") == "https://u:****@host/simple/"
    assert redact_url("/opt/wheels") == "/opt/wheels"


def test_basic_auth_from_url_is_used_and_kept_for_same_host_files(tmp_path, static_server):
    wheel = build_wheel(tmp_path / "w", "demo", "1.0", requires_dist=["six"])
    server = static_server(
        {"/simple/demo/": html_page(['<a href="../../f/demo-1.0-py3-none-any.whl">w</a>']),
         "/f/demo-1.0-py3-none-any.whl": wheel.read_bytes()},
        auth=("alice", "s3cret"),
    )  # fmt: skip
    url = server.base.replace("http://", "http://alice:s3cret@") + "/simple/"
    c = client(url, tmp_path)
    [f] = c.project_files("demo")
    assert f.url.startswith("http://alice:s3cret@127.0.0.1:") and "s3cret" not in f.source
    assert c.metadata(f).requires_dist == ("six",)
    cache_text = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    assert "s3cret" not in cache_text


def test_insecure_http_index_is_ignored_like_pip(tmp_path):
    c = client("http://index.example.invalid/simple/", tmp_path)
    assert c.project_files("six") == []
    assert c.stats.requests == 0


# --------------------------------------------------------------------------- metadata


def test_pep658_advertised_metadata_needs_one_small_request(tmp_path):
    wheel = padded_wheel(tmp_path / "w", "demo", "1.0", requires_dist=["six>=1.16", "numpy; extra == 'np'"])
    with LocalIndex(extra_wheels=[wheel]) as index:
        c = client(index.url, tmp_path)
        [f] = c.project_files("demo")
        before = len(index.requests)
        meta = c.metadata(f)
        assert [r[1] for r in index.requests[before:]] == ["/files/demo/demo-1.0-py3-none-any.whl.metadata"]
    assert meta == CoreMetadata("demo", "1.0", ("six>=1.16", "numpy; extra == 'np'"), None, (), ())
    assert c.stats.metadata_pep658 == 1


def test_unadvertised_metadata_file_is_used_when_the_mirror_has_it(tmp_path):
    with LocalIndex(advertise_metadata=False) as index:
        c = client(index.url, tmp_path)
        files = c.project_files("six")
        f = next(f for f in files if f.filename == "six-1.16.0-py2.py3-none-any.whl")
        assert f.metadata_hashes is None
        meta = c.metadata(f)
    assert (meta.name, meta.version, meta.requires_python) == ("six", "1.16.0", ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*")
    assert c.stats.metadata_url == 1 and c.stats.metadata_pep658 == 0


def test_without_metadata_file_a_few_range_requests_read_the_wheel(tmp_path, static_server):
    wheels = [padded_wheel(tmp_path / "w", "demo", v, requires_dist=[f"dep=={v}"]) for v in ("1.0", "2.0")]
    files = {"/simple/demo/": html_page([f'<a href="/f/{w.name}">{w.name}</a>' for w in wheels])}
    files.update({f"/f/{w.name}": w.read_bytes() for w in wheels})
    server = static_server(files)
    c = client(server.base + "/simple/", tmp_path)
    found = sorted(c.project_files("demo"), key=lambda f: f.version)
    server.log.clear()
    assert c.metadata(found[0]).requires_dist == ("dep==1.0",)
    probe, *ranged = server.log
    assert probe[0].endswith(".whl.metadata")  # tried once: 404
    assert 1 <= len(ranged) <= 3 and all(r[1] and r[1].startswith("bytes=") for r in ranged)
    assert sum(r[2] for r in ranged) < 80_000 < wheels[0].stat().st_size  # KiB, not the wheel
    server.log.clear()
    assert c.metadata(found[1]).requires_dist == ("dep==2.0",)
    assert not any(path.endswith(".metadata") for path, _, _ in server.log)  # host said no once
    assert c.stats.metadata_range == 2 and c.stats.metadata_whole == 0


def test_range_reads_a_directory_beyond_the_tail_and_metadata_stored_first(tmp_path, static_server):
    wheel = tmp_path / "big-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "big-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: big\nVersion: 1.0\nRequires-Dist: six\n"
        )
        zf.writestr("big/blob.bin", os.urandom(500_000), compress_type=zipfile.ZIP_STORED)
        for i in range(1500):  # a central directory larger than the 64 KiB tail
            zf.writestr(f"big/some/long/package/path/module_number_{i:06d}.py", b"")
    server = static_server({"/simple/big/": html_page([f'<a href="/f/{wheel.name}">w</a>']),
                            f"/f/{wheel.name}": wheel.read_bytes()})  # fmt: skip
    c = client(server.base + "/simple/", tmp_path)
    [f] = c.project_files("big")
    server.log.clear()
    assert c.metadata(f).requires_dist == ("six",)
    ranged = [entry for entry in server.log if entry[1]]
    assert len(ranged) == 3  # tail, the rest of the directory, the METADATA member
    assert sum(size for _, _, size in ranged) < 200_000 < wheel.stat().st_size


def test_metadata_written_last_is_read_without_the_big_directory(tmp_path, static_server):
    # as real wheels are written (torch: a 1.2 MB directory): .dist-info last, so its directory
    # entries are in the tail and the directory before it is never asked for
    wheel = tmp_path / "big-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big/blob.bin", os.urandom(500_000), compress_type=zipfile.ZIP_STORED)
        for i in range(1500):  # a central directory larger than the 64 KiB tail
            zf.writestr(f"big/some/long/package/path/module_number_{i:06d}.py", b"")
        zf.writestr(
            "big-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: big\nVersion: 1.0\nRequires-Dist: six\n"
        )
        zf.writestr("big-1.0.dist-info/RECORD", os.urandom(120_000).hex())  # METADATA not in the tail
    server = static_server({"/simple/big/": html_page([f'<a href="/f/{wheel.name}">w</a>']),
                            f"/f/{wheel.name}": wheel.read_bytes()})  # fmt: skip
    c = client(server.base + "/simple/", tmp_path)
    [f] = c.project_files("big")
    server.log.clear()
    assert c.metadata(f).requires_dist == ("six",)
    ranged = [entry for entry in server.log if entry[1]]
    assert len(ranged) == 2  # the tail (with the .dist-info entries), the METADATA member
    assert sum(size for _, _, size in ranged) < 70_000


def test_server_without_range_support_gets_a_whole_download(tmp_path, static_server):
    wheel = padded_wheel(tmp_path / "w", "demo", "1.0", requires_dist=["six"], padding=200_000)
    server = static_server(
        {"/simple/demo/": html_page([f'<a href="/f/{wheel.name}">w</a>']), f"/f/{wheel.name}": wheel.read_bytes()},
        ranges=False,
    )
    c = client(server.base + "/simple/", tmp_path)
    [f] = c.project_files("demo")
    assert c.metadata(f).requires_dist == ("six",)
    assert c.stats.metadata_whole == 1 and c.stats.metadata_range == 0
    assert [path for path, _, _ in server.log].count(f"/f/{wheel.name}") == 1


def test_advertised_metadata_with_a_wrong_hash_is_refused(tmp_path, static_server):
    body = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
    server = static_server({
        "/simple/demo/": html_page(['<a href="/f/demo-1.0-py3-none-any.whl" data-core-metadata="sha256=00ff">w</a>']),
        "/f/demo-1.0-py3-none-any.whl.metadata": body,
    })  # fmt: skip
    c = client(server.base + "/simple/", tmp_path)
    [f] = c.project_files("demo")
    with pytest.raises(IndexUnavailable, match="hash mismatch"):
        c.metadata(f)


@pytest.mark.parametrize(
    ("pkg_info", "expected"),
    [
        ("Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nRequires-Dist: six\nDynamic: Description\n", ("six",)),
        ("Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nDynamic: Requires-Dist\n", None),
        ("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: six\n", None),
    ],
    ids=["static-2.2", "dynamic-requires", "old-metadata-version"],
)
def test_sdist_pkg_info_is_used_only_when_static(tmp_path, static_server, pkg_info, expected):
    blob = sdist_bytes("demo", "1.0", pkg_info)
    server = static_server(
        {"/simple/demo/": html_page(['<a href="/f/demo-1.0.tar.gz">s</a>']), "/f/demo-1.0.tar.gz": blob}
    )
    c = client(server.base + "/simple/", tmp_path)
    [f] = c.project_files("demo")
    assert not f.is_wheel
    if expected is None:
        with pytest.raises(NeedsPipFallback, match="demo 1.0 is an sdist whose dependencies need a build"):
            c.metadata(f)
    else:
        assert c.metadata(f).requires_dist == expected
    # the verdict is cached too: a new client neither downloads nor changes its mind
    server.log.clear()
    again = client(server.base + "/simple/", tmp_path)
    [f] = again.project_files("demo")
    if expected is None:
        with pytest.raises(NeedsPipFallback):
            again.metadata(f)
    else:
        assert again.metadata(f).requires_dist == expected
    assert [path for path, _, _ in server.log] == ["/simple/demo/"]  # the page is revalidated, as pip does


# --------------------------------------------------------------------------- local sources


def test_file_index_tree_and_find_links_directory(tmp_path):
    # a file:// index as on this machine (<root>/<name>/index.html, files elsewhere)
    wheel = build_wheel(tmp_path / "files", "demo", "1.0", requires_dist=["six"], requires_python=">=3.8")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (tmp_path / "simple" / "demo").mkdir(parents=True)
    (tmp_path / "simple" / "demo" / "index.html").write_text(
        f'<html><body><a href="../../files/{wheel.name}#sha256={digest}" data-requires-python="&gt;=3.8">w</a></body></html>'
    )
    # a find-links directory: a wheel, a static sdist, another project
    links = tmp_path / "links"
    local_wheel = build_wheel(links, "demo", "2.0", requires_dist=["idna"])
    (links / "demo-0.5.tar.gz").write_bytes(
        sdist_bytes("demo", "0.5", "Metadata-Version: 2.4\nName: demo\nVersion: 0.5\nRequires-Dist: certifi\n")
    )
    build_wheel(links, "unrelated", "1.0")

    c = client((tmp_path / "simple").as_uri(), tmp_path, find_links=(str(links),))
    files = c.project_files("demo")
    # pip's order: find-links files (sorted by URL, reversed), then the index pages
    assert [f.filename for f in files] == [local_wheel.name, "demo-0.5.tar.gz", wheel.name]
    assert [f.source for f in files] == [str(links), str(links), (tmp_path / "simple").as_uri()]
    from_index = files[-1]
    assert from_index.url == wheel.as_uri()
    assert from_index.requires_python == ">=3.8" and from_index.hashes == {"sha256": digest}
    assert [c.metadata(f).requires_dist for f in files] == [("idna",), ("certifi",), ("six",)]
    assert c.stats.requests == 0 and c.stats.metadata_local == 3
    for entry in (tmp_path / "cache").rglob("*.json"):  # corrupt: parsed again, same answer
        record = json.loads(entry.read_text())
        entry.write_text(json.dumps({**record, "value": [[["x"]]]}) if "signature" in record else "{")
    assert client((tmp_path / "simple").as_uri(), tmp_path, find_links=(str(links),)).project_files("demo") == files
    only_links = client(None, tmp_path, no_index=True, find_links=(links.as_uri(),))
    assert [str(f.version) for f in only_links.project_files("unrelated")] == ["1.0"]


# --------------------------------------------------------------------------- cache


def test_cached_page_costs_one_conditional_request_and_metadata_none(tmp_path):
    # pip revalidates every index page (max-age=600 notwithstanding); the old client trusted
    # max-age and missed releases published within it. Metadata is content-addressed: no request.
    with LocalIndex() as index:
        first = client(index.url, tmp_path)
        f = next(f for f in first.project_files("six") if f.filename == "six-1.16.0-py2.py3-none-any.whl")
        meta = first.metadata(f)
        seen = len(index.requests)
        second = client(index.url, tmp_path)
        g = next(f for f in second.project_files("six") if f.filename == "six-1.16.0-py2.py3-none-any.whl")
        assert g == f and second.metadata(g) == meta
        assert [path for _, path, _ in index.requests[seen:]] == ["/simple/six/"]
    assert second.stats.pages_revalidated == 1 and second.stats.metadata_cache == 1 and second.stats.requests == 1


def test_trusting_max_age_answers_without_any_request_when_asked(tmp_path):
    with LocalIndex() as index:
        client(index.url, tmp_path).project_files("six")
        seen = len(index.requests)
        trusting = IndexClient(
            IndexSettings(index_url=index.url, timeout=5.0, retries=1), cache_dir=tmp_path / "cache", page_max_age=None
        )
        assert trusting.project_files("six")
        assert len(index.requests) == seen
    assert trusting.stats.pages_from_cache == 1 and trusting.stats.requests == 0


def test_warm_run_does_not_import_requests(tmp_path):
    with LocalIndex() as index:
        client(index.url, tmp_path).metadata(client(index.url, tmp_path).project_files("six")[-1])
        script = (
            "import sys; from pathlib import Path; from guard.index.client import IndexClient; from guard.index.settings import IndexSettings\n"
            f"c = IndexClient(IndexSettings(index_url={index.url!r}), cache_dir=Path({str(tmp_path / 'cache')!r}),"
            " page_max_age=None)\n"
            "c.metadata(c.project_files('six')[-1])\n"
            "print('requests' in sys.modules, c.stats.requests)\n"
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert out.stdout.split() == ["False", "0"], out.stderr


def test_stale_page_is_revalidated_with_etag(tmp_path):
    with LocalIndex(cache_control="max-age=0") as index:
        client(index.url, tmp_path).project_files("six")
        second = client(index.url, tmp_path)
        files = second.project_files("six")
        assert index.requests[-1][1] == "/simple/six/"
    assert len(files) > 1 and second.stats.pages_revalidated == 1 and second.stats.pages_fetched == 0


def test_no_cache_directive_always_revalidates(tmp_path):
    with LocalIndex(cache_control="no-cache") as index:
        client(index.url, tmp_path).project_files("six")
        second = client(index.url, tmp_path)
        second.project_files("six")
    assert second.stats.pages_revalidated == 1


def test_corrupt_cache_entries_are_ignored_and_refetched(tmp_path):
    with LocalIndex() as index:
        first = client(index.url, tmp_path)
        f = first.project_files("six")[-1]
        meta = first.metadata(f)
        for path in (tmp_path / "cache").rglob("*.json"):
            path.write_bytes(b'{"truncated": ')
        second = client(index.url, tmp_path)
        assert second.project_files("six")[-1] == f and second.metadata(f) == meta
    assert second.stats.pages_fetched == 1 and second.stats.metadata_cache == 0


def test_prefetch_fills_pages_and_metadata_in_parallel(tmp_path):
    names = ["six", "idna", "certifi", "click", "filelock", "no-such-project"]
    with LocalIndex() as index:
        c = client(index.url, tmp_path)
        c.prefetch_pages(names)
        fetched = len(index.requests)
        assert fetched == len(names)
        files = [c.project_files(n)[-1] for n in names[:-1]]
        c.prefetch_metadata(files)
        assert len(index.requests) == fetched + len(files)
        assert [c.metadata(f).name.lower() for f in files] == names[:-1]
        assert len(index.requests) == fetched + len(files)


def settings_from_pip_values(values, *, default_index):
    """Index settings built the one way the product builds them: pip's configuration values
    parsed with the command (the request stage), then ``guard.pipeline.check.index_settings``
    with an interpreter whose pip names ``default_index`` as its default."""
    from types import SimpleNamespace

    from guard.pipeline.check import index_settings
    from guard.request.parse import parse_pip_argv

    request = parse_pip_argv(["install", "x"], config=values, environ={}, cwd="/")
    snap = SimpleNamespace(interpreter=SimpleNamespace(pip_default_index=default_index))
    return index_settings(request, snap, environ={})


def test_distfile_is_hashable_and_settings_follow_pip_values():
    f = DistFile("a", "a-1.tar.gz", "https://h/a-1.tar.gz", __import__("packaging.version").version.Version("1"),
                 False, frozenset(), None, None, {"sha256": "x"}, None, "https://h/simple")  # fmt: skip
    assert {f: 1}[f] == 1
    settings = settings_from_pip_values(
        {"extra-index-url": "file:///a  https://b/simple\n", "timeout": "180", "trusted-host": "b", "no-index": "no"},
        default_index="https://default.invalid/simple",
    )
    assert settings.index_url == "https://default.invalid/simple"
    assert settings.extra_index_urls == ("file:///a", "https://b/simple")
    assert (settings.timeout, settings.retries, settings.trusted_hosts) == (180.0, 5, ("b",))
    assert (
        settings_from_pip_values(
            {"no-index": "yes", "index-url": "https://x"}, default_index="https://d.invalid/simple"
        ).index_url
        is None
    )


def test_cache_writes_are_atomic_under_concurrency(tmp_path):
    with LocalIndex(cache_control="max-age=0") as index:
        errors = []

        def run() -> None:
            try:
                for _ in range(3):
                    client(index.url, tmp_path).project_files("six")
            except Exception as err:  # pragma: no cover - the assertion shows it
                errors.append(err)

        threads = [threading.Thread(target=run) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    for path in (tmp_path / "cache").rglob("*.json"):
        json.loads(path.read_text())  # every entry whole
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_pages_without_validators_are_confirmed_by_their_bytes_without_requests(tmp_path, static_server):
    # an index that sends neither ETag nor Last-Modified (like the mirror these machines use)
    # answers in full; the verdict cache's lean path compares the bytes' digest, and reads a
    # small check record beside each page instead of the page's rows
    pages = {f"/simple/p{i}/": html_page([f'<a href="/f/p{i}-1.0-py3-none-any.whl">w</a>']) for i in range(3)}
    server = static_server(pages)
    first = client(server.base + "/simple/", tmp_path)
    first.prefetch_pages(["p0", "p1", "p2"])
    assert first.stats.pages_fetched == 3
    used = tmp_path / "used.json"
    used.write_text(json.dumps(first.pages_used))
    script = (
        "import json, sys; from pathlib import Path; from guard.index.client import IndexClient; from guard.index.settings import IndexSettings\n"
        f"c = IndexClient(IndexSettings(index_url={server.base + '/simple/'!r}), cache_dir=Path({str(tmp_path / 'cache')!r}))\n"
        f"print(c.pages_unchanged(json.loads(Path({str(used)!r}).read_text())), 'requests' in sys.modules)\n"
    )

    def lean() -> list[str]:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
        return out.stdout.split() or [out.stderr]

    assert lean() == ["True", "False"]
    assert len(list((tmp_path / "cache").glob("checks-v1/*/*.json"))) == 3
    assert lean() == ["True", "False"]  # from the check records now
    server.files["/simple/p1/"] = html_page(['<a href="/f/p1-2.0-py3-none-any.whl">w</a>'])
    assert lean() == ["False", "True"]  # other bytes: the full reader tells, and says changed
    # that reader rewrote p1's page record: its check record is made again from the new one
    again = client(server.base + "/simple/", tmp_path)
    again.prefetch_pages(["p0", "p1", "p2"])
    used.write_text(json.dumps(again.pages_used))
    assert lean() == ["True", "False"]
