"""Index pages decoded once into compact rows: wheel names parsed as packaging parses them (each
part checked once however many files repeat it), URLs joined as urljoin joins them, rows stored
with the wheel's compressed tag set (not its expansion), and only the wheels the target
interpreter supports made into files when the client is told its tags.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urljoin

import pytest
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion

from guard.index.client import IndexClient
from guard.index.pages import _join, expand_tags, parse_filename, parse_rows
from guard.index.settings import IndexSettings
from guard.index.urls import path_to_url
from tests.support.index_server import LocalIndex

WHEEL_NAMES = [
    "demo-1.0-py3-none-any.whl",
    "demo-1.0-py2.py3-none-any.whl",
    "Demo-1.0.post1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "demo-1.0-1-cp311-cp311-win_amd64.whl",  # build tag
    "demo-1.0-1abc-cp311-abi3-macosx_11_0_arm64.whl",
    "demo-1.0-x1-py3-none-any.whl",  # build tag not starting with a digit
    "demo-1.0-py3-none.whl",  # too few parts
    "demo-1.0-1-2-py3-none-any.whl",  # too many parts
    "demo-notaversion-py3-none-any.whl",
    "demo-1.0-py3-none-.whl",  # empty platform
    "demo-1.0-3py-none-any.whl",  # interpreter not an identifier
    "demo-1.0-py3..py2-none-any.whl",  # empty member of a compressed set
    "de__mo-1.0-py3-none-any.whl",  # invalid name
    "other-1.0-py3-none-any.whl",  # another project
    "demo_-1.0-py3-none-any.whl",
    "demo-1.0RC1-py3-none-any.whl",  # normalized to 1.0rc1
]


@pytest.mark.parametrize("filename", WHEEL_NAMES)
def test_wheel_names_parse_as_packaging_parses_them(filename):
    try:
        name, version, _build, tags = parse_wheel_filename(filename)
        expected = (str(version), frozenset(str(t) for t in tags)) if name == "demo" else None
    except (InvalidWheelFilename, InvalidVersion):
        expected = None
    parsed = parse_filename(filename, "demo")
    got = None if parsed is None else (parsed[0], expand_tags(parsed[1]) if parsed[1] else None)
    assert got == expected


def test_a_row_keeps_the_compressed_tag_set_and_expands_it_once():
    version, tag = parse_filename("demo-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "demo")
    assert (version, tag) == ("2.0", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64")
    assert expand_tags(tag) == {"cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"}
    assert expand_tags(tag) is expand_tags(tag)  # one frozenset shared by every file that has it
    assert parse_filename("demo-2.0.tar.gz", "demo") == ("2.0", None)


@pytest.mark.parametrize(
    "href",
    [
        "https://files.example.org/packages/ab/cd/demo-1.0.tar.gz",
        "https://files.example.org/packages/demo-1.0.tar.gz#sha256=abc",
        "https://files.example.org/packages/demo-1.0.tar.gz#",
        "https://files.example.org/a/../demo-1.0.tar.gz",
        "https://files.example.org/demo-1.0.tar.gz?x=1#sha256=abc",
        "https://files.example.org/demo;p-1.0.tar.gz",
        "https://user:pw@files.example.org:8443/demo-1.0.tar.gz",
        "http://files.example.org/demo-1.0.tar.gz",
        "HTTPS://files.example.org/demo-1.0.tar.gz",
        "https://files.example.org/de\tmo-1.0.tar.gz",
        "https://files.example.org/demo-1.0.tar.gz#sha256=a\nb",
        "https://[::1]/demo-1.0.tar.gz",
        "../../packages/demo-1.0.tar.gz#md5=ff",
        "/packages/demo-1.0.tar.gz",
        "//files.example.org/demo-1.0.tar.gz",
        "demo-1.0.tar.gz",
        "file:///srv/demo-1.0.tar.gz",
    ],
)
@pytest.mark.parametrize("base", ["https://pypi.example.org/simple/demo/", "http://localhost:8080/simple/demo/"])
def test_urls_are_joined_as_urljoin_joins_them(href, base):
    url, _, fragment = urljoin(base, href).partition("#")
    assert _join(base, href) == (url, fragment)


def _local_index(root: Path, filenames: list[str]) -> str:
    page = root / "simple" / "demo"
    page.mkdir(parents=True)
    anchors = "".join(f'<a href="../../files/{n}">{n}</a>' for n in filenames)
    (page / "index.html").write_text(f"<html><body>{anchors}</body></html>")
    return path_to_url(str(root / "simple"))


MIXED = [
    "demo-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "demo-2.0-cp311-cp311-win_amd64.whl",
    "demo-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
    "demo-2.0-cp37-abi3-macosx_11_0_arm64.whl",
    "demo-2.0.tar.gz",
    "demo-1.0-py3-none-any.whl",
    "demo-1.0.zip",
]


def test_only_wheels_for_the_target_are_made_into_files(tmp_path):
    url = _local_index(tmp_path, MIXED)
    target = ["cp311-cp311-manylinux_2_17_x86_64", "cp311-abi3-manylinux_2_17_x86_64", "py3-none-any"]
    settings = IndexSettings(index_url=url)
    with IndexClient(settings, cache_dir=tmp_path / "cache", supported_tags=target) as client:
        offered = sorted(f.filename for f in client.project_files("demo"))
    assert offered == sorted(
        [
            "demo-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "demo-2.0.tar.gz",  # sdists always
            "demo-1.0-py3-none-any.whl",
            "demo-1.0.zip",
        ]
    )
    # the page cache is the same for every interpreter: another client, told nothing, sees all
    with IndexClient(settings, cache_dir=tmp_path / "cache") as client:
        assert sorted(f.filename for f in client.project_files("demo")) == sorted(MIXED)


def test_remote_page_is_cached_with_compressed_tags_and_filtered_when_read(tmp_path):
    with LocalIndex() as index:
        settings = IndexSettings(index_url=index.url, timeout=5.0, retries=1)
        with IndexClient(settings, cache_dir=tmp_path / "cache") as client:
            everything = client.project_files("charset-normalizer")
        cached = [json.loads(p.read_text()) for p in (tmp_path / "cache" / "pages-v2").glob("*/*.json")]
        with IndexClient(
            settings, cache_dir=tmp_path / "cache", supported_tags=["cp311-cp311-manylinux2014_x86_64"]
        ) as client:
            cp311 = client.project_files("charset-normalizer")
    [record] = cached
    assert all(isinstance(row[3], str) or row[3] is None for row in record["rows"])
    assert "cp37-abi3-manylinux1_x86_64.manylinux_2_28_x86_64.manylinux_2_5_x86_64" in {r[3] for r in record["rows"]}
    assert {f.filename for f in cp311} == {f.filename for f in everything if "-cp311-cp311-" in f.filename}
    assert any(f.yanked is not None for f in cp311)  # yanked files stay (pip offers them to == pins)
    assert len(cp311) < len(everything)


class _NoValidatorIndex:
    """A PEP 691 index on 127.0.0.1 that sends no ETag or Last-Modified (like the mirror these
    machines use): every request is answered with the whole page."""

    def __init__(self, filenames: list[str]) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.filenames = list(filenames)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                files = [{"filename": n, "url": f"/files/{n}", "hashes": {}} for n in outer.filenames]
                body = json.dumps({"meta": {"api-version": "1.0"}, "name": "demo", "files": files}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple/"

    def __enter__(self) -> _NoValidatorIndex:
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("supported_tags", [None, ["py3-none-any"]])
def test_the_same_page_without_validators_is_not_parsed_or_written_again(tmp_path, supported_tags):
    with _NoValidatorIndex(["demo-1.0.tar.gz", "demo-1.0-py3-none-any.whl"]) as index:
        settings = IndexSettings(index_url=index.url, timeout=5.0, retries=0)

        def read() -> tuple[list[str], list]:
            with IndexClient(settings, cache_dir=tmp_path / "cache", supported_tags=supported_tags) as client:
                files = sorted(f.filename for f in client.project_files("demo"))
                return files, list(client.pages_used.values())

        first, used = read()
        [page] = (tmp_path / "cache" / "pages-v2").glob("*/*.json")
        os.utime(page, ns=(1_000_000_000, 1_000_000_000))
        again, used_again = read()
        assert (again, used_again) == (first, used)
        assert page.stat().st_mtime_ns == 1_000_000_000  # the same bytes: the cached rows served
        assert list((tmp_path / "cache" / "seen-v1").glob("*/*.json"))  # confirmed now, for its age

        index.filenames.append("demo-2.0.tar.gz")  # the page changed: read and written again
        changed, used_changed = read()
    assert changed == sorted([*first, "demo-2.0.tar.gz"])
    assert used_changed[0][0] != used[0][0]  # another digest: a memoized verdict is not reused
    assert page.stat().st_mtime_ns != 1_000_000_000


def test_rows_made_while_consuming_links_are_the_same_rows():
    links = [
        [n, f"https://files.example.org/{n}", None, None, {}, None]
        for n in ["demo-1.0.tar.gz", "other-1.0.tar.gz", "demo-1.0-py3-none-any.whl", "demo-x.zip", "demo-2.0.zip"]
    ]
    kept = [list(link) for link in links]
    rows = parse_rows(links, "demo", consume=True)
    assert links == []  # freed as read
    assert rows == parse_rows(kept, "demo")
    assert [r[0] for r in rows] == ["demo-1.0.tar.gz", "demo-1.0-py3-none-any.whl", "demo-2.0.zip"]


def test_an_interpreter_reads_its_view_of_a_page_not_the_whole_page(tmp_path):
    """The page's record keeps every file (pages-v2); each interpreter reads a view with only
    the rows it can use (pageview-v1), while the page's file is the one it was made from."""
    cp311 = ["cp311-cp311-manylinux2014_x86_64"]
    with LocalIndex() as index:
        settings = IndexSettings(index_url=index.url, timeout=5.0, retries=1)

        def files(tags):
            with IndexClient(settings, cache_dir=tmp_path / "cache", supported_tags=tags) as client:
                return sorted(f.filename for f in client.project_files("charset-normalizer"))

        first = files(cp311)
        [page] = (tmp_path / "cache" / "pages-v2").glob("*/*.json")
        [view] = (tmp_path / "cache" / "pageview-v1").glob("*/*.json")
        rows = json.loads(page.read_text())["rows"]
        viewed = json.loads(view.read_text())
        assert sorted(r[0] for r in viewed["rows"]) == first and len(viewed["rows"]) < len(rows)
        assert viewed["digest"] == json.loads(page.read_text())["digest"]  # what a memoized verdict checks

        # while the page's file is the one the view was made from, the view answers (the 304
        # revalidates it): the page's record is not read (here: not even readable)
        st = page.stat()
        page.write_bytes(b" " * st.st_size)
        os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert files(cp311) == first
        assert page.read_bytes() == b" " * st.st_size  # not fetched in full and written again

        # another interpreter: the page is read again in full, written, and every view is stale
        everything = files(None)
        assert len(everything) > len(first)
        assert files(cp311) == first
        assert files(["py3-none-any"]) == sorted(f for f in everything if f.endswith("-py3-none-any.whl"))
