"""An index sdist's static PKG-INFO (PEP 643) is read as the archive arrives, and only up to that
member (issue 14, point 4): setuptools writes it among the first members, so a large sdist costs
its first kilobytes, not its whole download; one that puts it last (hatchling, flit) is read to
the end, as before. A connection that breaks mid-stream is the index's failure, not a damaged
sdist."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from guard.errors import IndexUnavailable
from tests.test_index import client, html_page, static_server  # noqa: F401 - static_server is a fixture


def sdist_with_blob(name: str, pkg_info: str, *, blob: int, pkg_info_first: bool) -> bytes:
    """``name-1.0.tar.gz``: PKG-INFO and ``blob`` incompressible bytes, in the order asked."""
    members = [(f"{name}-1.0/PKG-INFO", pkg_info.encode()), (f"{name}-1.0/data.bin", os.urandom(blob))]
    if not pkg_info_first:
        members.reverse()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for member, data in members:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


STATIC = "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\nRequires-Dist: six>=1\n"


@pytest.mark.parametrize("first", [True, False], ids=["pkg-info-first", "pkg-info-last"])
def test_static_pkg_info_is_read_up_to_its_member(tmp_path, static_server, first):  # noqa: F811
    blob = sdist_with_blob("demo", STATIC, blob=4_000_000, pkg_info_first=first)
    server = static_server(
        {"/simple/demo/": html_page(['<a href="/f/demo-1.0.tar.gz">s</a>']), "/f/demo-1.0.tar.gz": blob}
    )
    c = client(server.base + "/simple/", tmp_path)
    [f] = c.project_files("demo")
    assert c.metadata(f).requires_dist == ("six>=1",)
    read = c.stats.as_dict()["bytes_downloaded"]
    if first:
        assert read < 300_000, read  # of 4 MB: the rest never read
    else:
        assert read >= len(blob) - 100_000, read


def test_a_truncated_stream_is_a_damaged_sdist_not_a_crash(tmp_path, static_server):  # noqa: F811
    blob = sdist_with_blob("demo", STATIC, blob=500_000, pkg_info_first=False)[:200_000]
    server = static_server(
        {"/simple/demo/": html_page(['<a href="/f/demo-1.0.tar.gz">s</a>']), "/f/demo-1.0.tar.gz": blob}
    )
    c = client(server.base + "/simple/", tmp_path)
    [f] = c.project_files("demo")
    with pytest.raises(IndexUnavailable, match="not a readable sdist"):
        c.metadata(f)


def test_chunk_stream_reads_forward_and_tells_a_broken_source():
    from guard.index.metadata import ChunkStream, StreamBroken

    stream = ChunkStream([b"abc", b"def", b"g"], 100, lambda: ValueError("too large"))
    assert stream.read(2) == b"ab" and stream.read(4) == b"cdef" and stream.read() == b"g" and stream.read(1) == b""
    assert stream.size == 7

    def broken():
        yield b"abc"
        raise ConnectionResetError("reset by peer")

    stream = ChunkStream(broken(), 100, lambda: ValueError("too large"))
    with pytest.raises(StreamBroken) as info:
        stream.read(10)
    assert isinstance(info.value.cause, ConnectionResetError) and not isinstance(info.value, OSError)
    with pytest.raises(ValueError, match="too large"):
        ChunkStream([b"x" * 60, b"x" * 60], 100, lambda: ValueError("too large")).read()
