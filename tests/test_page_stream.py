"""Big index pages decoded as a stream (guard/index/page_decode.py): the links, rows, record
bytes and digest are exactly what decoding the whole page gave, errors included, while a big
page's decoded tree and all its rows are never held at once."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tracemalloc

import pytest

from guard.index.cache import EncodedRows, encode_rows
from guard.index.page_decode import decode_page
from guard.index.pages import (
    JSON_TYPE,
    AgainWhole,
    iter_html_links,
    iter_json_links,
    iter_rows,
    parse_html,
    parse_json,
    parse_json_whole,
    parse_rows,
)

BASE = "https://index.example.org/simple/demo/"


def _entry(i: int, sdists: int = 3, **extra: object) -> dict:
    name = f"demo-1.{i}-cp311-cp311-manylinux_2_17_x86_64.whl" if i % sdists else f"demo-1.{i}.tar.gz"
    return {
        "filename": name,
        "url": f"https://files.example.org/packages/{i:04x}/{name}",
        "hashes": {"sha256": f"{i:064x}"},
        "requires-python": ">=3.8" if i % 2 else None,
        "yanked": "broken" if i % 7 == 0 else (i % 5 == 0),
        "core-metadata": {"sha256": f"{i:064x}"} if i % 4 else False,
        **extra,
    }


def _page(files: object, **top: object) -> bytes:
    return json.dumps(
        {"meta": {"api-version": "1.1"}, "name": "demo", **top, "files": files, "versions": ["1.0"]}
    ).encode()


def _old(body: bytes) -> list | str:
    """What decoding the whole page gives: its links, or the error's type."""
    try:
        return parse_json_whole(json.loads(body).__class__ is dict and body.decode() or body.decode(), BASE)
    except (ValueError, RecursionError) as err:
        return type(err).__name__ if not isinstance(err, ValueError) else "ValueError"


def _new(body: bytes) -> list | str:
    try:
        return parse_json(body, BASE)
    except ValueError:
        return "ValueError"


PAGES = [
    _page([_entry(i) for i in range(40)]),
    _page([]),
    _page([_entry(1), "not a dict", 3, None, {"filename": "", "url": "x"}, _entry(2)]),
    json.dumps({"files": [_entry(1)]}, indent=3).encode(),  # whitespace everywhere
    b' \r\n{ "files" : [ ] , "meta" : { } } \n',
    b'{"files": [], "files": [{"filename": "demo-1.0.tar.gz", "url": "a/demo-1.0.tar.gz"}]}',  # last key wins
    b'{"files": {"filename": "demo-1.0.tar.gz"}}',  # not a list
    b'{"files": [1], "files": 2}',
    b'{"meta": {}}',
    b"[]",
    b"null",
    b"",
    b'{"files": [',
    b'{"files": [{}] ',
    b'{"files": [{}],}',
    b'{"files": [{},]}',
    b'{"files": [{}] "x": 1}',
    b'{"files": [{} {}]}',
    b"{files: []}",
    b'{"files" []}',
    b'{"files": []} x',
    b'{"files": [{"filename": "demo-1.0.tar.gz", "url": 3}]}',  # a url that is not a string
    b'{"files": [{"filename": "demo-1.0.tar.gz", "url": "u", "bad": "\x01"}]}',  # control character
    b'{"files": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",  # nested past the recursion limit
    '{"files": [{"filename": "demo-1.0.tar.gz", "url": "é/demo-1.0.tar.gz", "yanked": "ünï"}]}'.encode("utf-16"),
]


@pytest.mark.parametrize("body", PAGES, ids=range(len(PAGES)))
def test_links_streamed_from_a_json_page_are_the_links_of_the_whole_page(body):
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        expected: list | str = parse_json_whole(text, BASE)
    except (ValueError, RecursionError):
        expected = "ValueError"
    assert _new(body) == expected


def test_a_second_files_key_is_left_to_the_whole_page_decoder():
    text = PAGES[5].decode()
    with pytest.raises(AgainWhole):
        list(iter_json_links(text, BASE))
    assert [link[0] for link in parse_json(PAGES[5], BASE)] == ["demo-1.0.tar.gz"]


@pytest.mark.parametrize("rows", [0, 1, 511, 512, 513, 1500])
def test_rows_encoded_a_chunk_at_a_time_are_the_bytes_and_digest_of_the_whole_list(rows):
    links = parse_json(_page([_entry(i) for i in range(rows)]), BASE)
    all_rows = parse_rows(links, "demo")
    encoded = EncodedRows(keep=lambda row: row[3] is None)
    for row in iter_rows(iter(links), "demo"):
        encoded.add(row)
    digest = encoded.finish()
    assert (b"".join(encoded.pieces), digest) == encode_rows(all_rows)
    assert encoded.kept == [r for r in all_rows if r[3] is None]


def _html(anchors: list[str], base: str = "") -> str:
    return "<!DOCTYPE html><html><head>" + base + "</head><body>\n" + "\n".join(anchors) + "</body></html>"


def test_links_streamed_from_an_html_page_are_the_links_of_the_whole_page():
    anchors = [
        f'<a href="../../files/demo-1.{i}.tar.gz#sha256={i:064x}" data-requires-python="&gt;=3.{i % 9}"'
        + (' data-yanked="bad &amp; old"' if i % 5 == 0 else "")
        + (' data-core-metadata="sha256=ab"' if i % 3 == 0 else "")
        + f">demo-1.{i}.tar.gz</a><br/>"
        for i in range(3000)  # past several of the parser's pieces, tags cut between them
    ]
    for page in (_html(anchors), _html(anchors, '<base href="https://mirror.example.org/x/">')):
        assert len(page) > 3 * 65536
        assert list(iter_html_links(page, BASE)) == parse_html(page, BASE)
    with pytest.raises(ValueError, match="not an HTML page"):
        list(iter_html_links("just text", BASE))


def test_a_base_after_links_is_applied_to_all_of_them_as_pip_does():
    page = _html([f'<a href="demo-1.{i}.tar.gz">x</a>' for i in range(3000)]) + '<base href="https://m.example.org/">'
    with pytest.raises(AgainWhole):
        list(iter_html_links(page, BASE))
    rows, pieces, digest = decode_page(
        "text/html", "text/html", [page.encode()], BASE, lambda x: iter_rows(x, "demo"), None
    )
    assert rows == parse_rows(parse_html(page, BASE), "demo")
    assert rows[0][1] == "https://m.example.org/demo-1.0.tar.gz"
    assert (b"".join(pieces), digest) == encode_rows(rows)


def test_a_big_page_is_never_held_decoded_whole():
    """A page of 20,000 files, none of them kept: decoding it peaks at about its text and its
    rows' JSON (decoding the whole page first peaked at several times its size)."""
    body = _page([_entry(i) for i in range(20_000)])
    links = parse_json(body, BASE)
    expected = encode_rows(parse_rows(links, "demo"))
    del links
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        kept, pieces, digest = decode_page(JSON_TYPE, "", [body], BASE, lambda x: iter_rows(x, "demo"), lambda r: False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept == [] and (b"".join(pieces), digest) == expected
    assert peak - base < 2.2 * len(body), (peak - base) / len(body)


ARENAS = """
import sys, threading
from guard.index.client import IndexClient
from guard.index.settings import IndexSettings
with IndexClient(IndexSettings(index_url="https://index.example.org/simple/"), cache_dir=None):
    pass
blocks = []
def work():
    blocks.append(bytes(200_000))  # malloc, not pymalloc: in the arena of this thread
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
import ctypes
ctypes.CDLL(None).malloc_stats()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or not platform.libc_ver()[0] == "glibc", reason="glibc")
def test_the_index_clients_threads_share_one_malloc_arena():
    """Freed page bodies are not kept resident once per thread (MALLOC_ARENA_MAX=1); a
    MALLOC_ARENA_MAX the user set is left alone."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    run = subprocess.run([sys.executable, "-c", ARENAS], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("Arena ") == 1, run.stderr
    env["MALLOC_ARENA_MAX"] = "4"
    run = subprocess.run([sys.executable, "-c", ARENAS], env=env, capture_output=True, text=True, timeout=60)
    assert run.stderr.count("Arena ") > 1, run.stderr


class _OnePageIndex:
    """An index on 127.0.0.1 answering ``/simple/demo/`` with a body rendered once, beforehand
    (so that measuring the client's memory does not count the server's), other projects empty."""

    def __init__(self, body: bytes) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                page = body if self.path.rstrip("/").endswith("/demo") else b'{"files": []}'
                self.send_response(200)
                self.send_header("Content-Type", JSON_TYPE)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple/"

    def __enter__(self) -> _OnePageIndex:
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_big_page_is_read_into_one_buffer_and_decoded_as_a_stream(tmp_path):
    """Fetching a page of 20,000 files peaks under three times its size (its bytes and its text,
    then its text and its rows' JSON; 2.4x here): not the decoded tree and every row beside
    them (5.9x before)."""
    from guard.index.client import IndexClient
    from guard.index.settings import IndexSettings

    body = _page([_entry(i, sdists=200) for i in range(20_000)])  # about what a big page offers here
    with _OnePageIndex(body) as index:
        settings = IndexSettings(index_url=index.url, timeout=20.0, retries=0)
        with IndexClient(settings, cache_dir=tmp_path / "cache", supported_tags=["py3-none-any"]) as client:
            assert client.project_files("other") == []  # imports and the connection, before measuring
            tracemalloc.start()
            try:
                base, _ = tracemalloc.get_traced_memory()
                files = client.project_files("demo")
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert sorted(f.filename for f in files) == sorted(
        e["filename"] for e in json.loads(body)["files"] if e["filename"].endswith(".tar.gz")
    )
    page = max((tmp_path / "cache" / "pages-v2").glob("*/*.json"), key=lambda p: p.stat().st_size)
    assert len(json.loads(page.read_bytes())["rows"]) == 20_000  # the record keeps every file
    assert peak - base < 3 * len(body), (peak - base) / len(body)
