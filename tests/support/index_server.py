"""A real package index on 127.0.0.1, serving the captured world in ``tests/data/index/``.

``LocalIndex`` is a PEP 503 / PEP 691 simple index over HTTP (``ThreadingHTTPServer`` on a free
port) that tests, benchmarks and the demo point real pip and our resolver at:

* ``/simple/`` lists the projects; ``/simple/<name>/`` lists a project's files, as PEP 691 JSON
  when the ``Accept`` header prefers ``application/vnd.pypi.simple.v1+json`` and as PEP 503 HTML
  otherwise, with ``requires-python``, ``yanked``, ``#sha256=`` hashes and, when
  ``advertise_metadata``, the PEP 658/714 ``core-metadata`` / ``data-dist-info-metadata`` hashes.
  Pages carry an ``ETag`` and ``Cache-Control``; ``If-None-Match`` answers 304.
  A non-normalized project name answers 301 to the normalized URL, like real indexes.
* ``<file>.metadata`` always answers with the file's core metadata (even when not advertised,
  like the mirror the data was captured from).
* Files: captured files have no bytes (404); real wheels given through ``add_wheel`` /
  ``extra_wheels`` are served with ``Accept-Ranges: bytes`` and honour single byte ranges.

Faults (``set_fault``) let tests see how clients behave when the index misbehaves.
"""

from __future__ import annotations

import email.parser
import gzip
import hashlib
import html
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "index"

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_V1_TYPE = "application/vnd.pypi.simple.v1+html"
FAULTS = (None, "404", "500", "garbage", "slow", "reset", "hang", "drip", "304", "lie")
FILE_CACHE_CONTROL = "max-age=31536000, immutable"


@dataclass(frozen=True)
class IndexedFile:
    """One file of a project page; ``path`` is None for captured files (metadata only)."""

    filename: str
    sha256: str | None
    requires_python: str | None
    yanked: bool | str
    upload_time: str | None
    size: int | None
    metadata: bytes
    path: Path | None = None

    @property
    def metadata_sha256(self) -> str:
        return hashlib.sha256(self.metadata).hexdigest()

    @property
    def version(self) -> str:
        if self.filename.endswith(".whl"):
            return str(parse_wheel_filename(self.filename)[1])
        return str(parse_sdist_filename(self.filename)[1])


def load_projects(data_dir: Path) -> dict[str, dict[str, IndexedFile]]:
    """Captured projects: normalized name -> filename -> file."""
    projects: dict[str, dict[str, IndexedFile]] = {}
    for path in sorted((data_dir / "projects").glob("*.json.gz")):
        data = json.loads(gzip.decompress(path.read_bytes()))
        files = projects.setdefault(canonicalize_name(data["name"]), {})
        for entry in data["files"]:
            files[entry["filename"]] = IndexedFile(
                filename=entry["filename"],
                sha256=(entry.get("hashes") or {}).get("sha256"),
                requires_python=entry.get("requires-python"),
                yanked=entry.get("yanked", False),
                upload_time=entry.get("upload-time"),
                size=entry.get("size"),
                metadata=entry["metadata"].encode("utf-8"),
            )
    return projects


def read_wheel(path: Path) -> tuple[str, IndexedFile]:
    """(normalized project name, file entry) for a real wheel on disk."""
    name = canonicalize_name(parse_wheel_filename(path.name)[0])
    with zipfile.ZipFile(path) as zf:
        candidates = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        if len(candidates) != 1:
            raise ValueError(f"{path.name}: expected one .dist-info/METADATA, found {len(candidates)}")
        metadata = zf.read(candidates[0])
    headers = email.parser.BytesHeaderParser().parsebytes(metadata)
    blob = path.read_bytes()
    return name, IndexedFile(
        filename=path.name,
        sha256=hashlib.sha256(blob).hexdigest(),
        requires_python=headers.get("Requires-Python"),
        yanked=False,
        upload_time=None,
        size=len(blob),
        metadata=metadata,
        path=path,
    )


def _preferred_type(accept: str | None) -> str:
    """The page type the ``Accept`` header prefers: JSON_TYPE, HTML_V1_TYPE or text/html."""
    best, best_q = "text/html", 0.0
    for part in (accept or "").split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        candidate = {
            JSON_TYPE: JSON_TYPE,
            "application/vnd.pypi.simple.latest+json": JSON_TYPE,
            HTML_V1_TYPE: HTML_V1_TYPE,
            "application/vnd.pypi.simple.latest+html": HTML_V1_TYPE,
            "text/html": "text/html",
            "*/*": "text/html",
        }.get(media)
        if candidate and q > best_q:
            best, best_q = candidate, q
    return best


def _parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """(first, last) inclusive for a single ``bytes=`` range; None to ignore; "unsatisfiable"."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or match.group(1) == match.group(2) == "":
        return None  # multiple or malformed ranges: answer with the whole file
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end


class LocalIndex:
    """A simple index on 127.0.0.1 serving captured metadata and real test wheels.

    Use as a context manager (or ``start()`` / ``stop()``). ``url`` is the index URL with a
    trailing slash, ``requests`` the (method, path, Range header) of every request received.
    """

    def __init__(
        self,
        data_dir: Path = DEFAULT_DATA_DIR,
        *,
        advertise_metadata: bool = True,
        extra_wheels: Iterable[Path] = (),
        cache_control: str = "max-age=600",
    ) -> None:
        self.data_dir = Path(data_dir)
        self.advertise_metadata = advertise_metadata
        self.cache_control = cache_control
        self.requests: list[tuple[str, str, str | None]] = []
        self.url = ""
        self._lock = threading.Lock()
        self._projects = load_projects(self.data_dir)
        self._fault: str | None = None
        self._delay = 0.0
        self._in_flight = 0
        self.peak_in_flight = 0  # the most requests it was answering at once
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for wheel in extra_wheels:
            self.add_wheel(wheel)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalIndex:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.index = self
        self._server = server
        # a short poll interval keeps stop() quick (shutdown waits for the next poll)
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="LocalIndex", daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> LocalIndex:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ------------------------------------------------------------------ test controls

    def set_fault(self, kind: str | None, delay: float = 0.0) -> None:
        """Make every following request misbehave until ``set_fault(None)``.

        ``"404"`` / ``"500"``: that status; ``"garbage"``: 200 with a body no client can use;
        ``"slow"``: sleep ``delay`` seconds, then answer normally; ``"reset"``: close the
        connection (TCP reset) without answering; ``"hang"``: read the request and say nothing
        (a silent index); ``"drip"``: send the headers of a large answer, then one byte every
        ``delay`` seconds (no socket timeout ever fires); ``"304"``: answer ``304 Not Modified``
        to everything, conditional or not (a broken cache on the way); ``"lie"``: promise a
        ``Content-Length`` and close the connection after half of it. ``"hang"`` and ``"drip"``
        last until the fault is changed or the server stops.
        """
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {FAULTS}")
        with self._lock:
            self._fault, self._delay = kind, delay

    def add_wheel(self, path: Path) -> None:
        """Serve a real wheel under its project (created when new), replacing a same-named file."""
        name, entry = read_wheel(Path(path))
        with self._lock:
            self._projects.setdefault(name, {})[entry.filename] = entry

    def project_names(self) -> list[str]:
        with self._lock:
            return sorted(self._projects)

    def files(self, project: str) -> list[IndexedFile]:
        """A snapshot of a project's files (empty when unknown)."""
        with self._lock:
            return list(self._projects.get(canonicalize_name(project), {}).values())

    # ------------------------------------------------------------------ rendering

    def _file_url(self, project: str, filename: str) -> str:
        return f"../../files/{project}/{urllib.parse.quote(filename)}"

    def _sorted_files(self, project: str) -> list[IndexedFile]:
        return sorted(self.files(project), key=lambda f: f.filename)

    def render_project(self, project: str, media_type: str) -> bytes:
        files = self._sorted_files(project)
        if media_type == JSON_TYPE:
            entries = []
            for f in files:
                entry: dict = {
                    "filename": f.filename,
                    "url": self._file_url(project, f.filename),
                    "hashes": {"sha256": f.sha256} if f.sha256 else {},
                    "requires-python": f.requires_python,
                    "yanked": f.yanked,
                    "size": f.size,
                }
                if f.upload_time:
                    entry["upload-time"] = f.upload_time
                if self.advertise_metadata:
                    entry["core-metadata"] = {"sha256": f.metadata_sha256}
                    entry["dist-info-metadata"] = {"sha256": f.metadata_sha256}
                entries.append(entry)
            versions = sorted({f.version for f in files}, key=Version)
            page = {"meta": {"api-version": "1.1"}, "name": project, "versions": versions, "files": entries}
            return json.dumps(page, indent=1).encode()
        lines = [
            "<!DOCTYPE html>",
            "<html>",
            '<head><meta name="pypi:repository-version" content="1.1">'
            f"<title>Links for {html.escape(project)}</title></head>",
            "<body>",
            f"<h1>Links for {html.escape(project)}</h1>",
        ]
        for f in files:
            href = self._file_url(project, f.filename) + (f"#sha256={f.sha256}" if f.sha256 else "")
            attrs = [f'href="{html.escape(href)}"']
            if f.requires_python:
                attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
            if f.yanked is not False:
                reason = f.yanked if isinstance(f.yanked, str) else ""
                attrs.append(f'data-yanked="{html.escape(reason)}"')
            if self.advertise_metadata:
                attrs.append(f'data-core-metadata="sha256={f.metadata_sha256}"')
                attrs.append(f'data-dist-info-metadata="sha256={f.metadata_sha256}"')
            lines.append(f"<a {' '.join(attrs)}>{html.escape(f.filename)}</a><br/>")
        lines += ["</body>", "</html>", ""]
        return "\n".join(lines).encode()

    def render_root(self, media_type: str) -> bytes:
        names = self.project_names()
        if media_type == JSON_TYPE:
            page = {"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]}
            return json.dumps(page, indent=1).encode()
        links = "\n".join(f'<a href="{n}/">{n}</a><br/>' for n in names)
        return (
            '<!DOCTYPE html>\n<html>\n<head><meta name="pypi:repository-version" content="1.1">'
            f"<title>Simple index</title></head>\n<body>\n{links}\n</body>\n</html>\n"
        ).encode()

    def lookup(self, project: str, filename: str) -> IndexedFile | None:
        with self._lock:
            return self._projects.get(project, {}).get(filename)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the SYNs of a client opening 16 connections at
    # once, which then wait 1 s to retry: no real index does that
    request_queue_size = 128
    index: LocalIndex

    def handle_error(self, request, client_address) -> None:
        """Clients that hang up mid-answer are normal in fault tests: no traceback on stderr."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY the body waits for the client's
    # delayed ACK (40 ms) on every reused keep-alive connection, which no real index does.
    disable_nagle_algorithm = True
    server: _Server
    server_version = "LocalIndex/1"

    def log_message(self, format, *args) -> None:  # quiet: tests read LocalIndex.requests
        pass

    def do_GET(self) -> None:
        self._counted(send_body=True)

    def do_HEAD(self) -> None:
        self._counted(send_body=False)

    def _counted(self, send_body: bool) -> None:
        index = self.server.index
        with index._lock:
            index._in_flight += 1
            index.peak_in_flight = max(index.peak_in_flight, index._in_flight)
        try:
            self._handle(send_body)
        finally:
            with index._lock:
                index._in_flight -= 1

    # ------------------------------------------------------------------ plumbing

    def _handle(self, send_body: bool) -> None:
        index = self.server.index
        with index._lock:
            index.requests.append((self.command, self.path, self.headers.get("Range")))
            fault, delay = index._fault, index._delay
        if fault == "slow":
            time.sleep(delay)
        elif fault == "reset":
            self._reset()
            return
        elif fault == "hang":
            self._stall(fault, lambda: None)
            return
        elif fault == "drip":
            self.send_response(200)
            self.send_header("Content-Type", JSON_TYPE)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.flush()
            self._stall(fault, lambda: (self.wfile.write(b" "), self.wfile.flush()), max(delay, 0.01))
            return
        elif fault == "304":
            self._send(304, b"", None, send_body=False, extra={"ETag": '"anything"'})
            return
        elif fault == "lie":
            media = _preferred_type(self.headers.get("Accept"))
            body = index.render_project("six", media) if "six" in index.project_names() else b"{}" * 100
            self.send_response(200)
            self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        elif fault in ("404", "500"):
            self._send(int(fault), b"fault\n", "text/plain", send_body=send_body)
            return
        elif fault == "garbage":
            accept = _preferred_type(self.headers.get("Accept"))
            self._send(200, b"\x00\xffnot an index page {{{ <a href=", accept, send_body=send_body)
            return
        path = urllib.parse.urlsplit(self.path).path
        try:
            self._route(urllib.parse.unquote(path), send_body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, path: str, send_body: bool) -> None:
        index = self.server.index
        if path in ("/simple", "/simple/"):
            if path == "/simple":
                return self._redirect("/simple/")
            media = _preferred_type(self.headers.get("Accept"))
            return self._send_page(index.render_root(media), media, send_body)
        match = re.fullmatch(r"/simple/([^/]+)(/?)", path)
        if match:
            name, slash = match.groups()
            normalized = canonicalize_name(name)
            if name != normalized or not slash:
                return self._redirect(f"/simple/{normalized}/")
            if normalized not in index.project_names():
                return self._send(404, b"no such project\n", "text/plain", send_body=send_body)
            media = _preferred_type(self.headers.get("Accept"))
            return self._send_page(index.render_project(normalized, media), media, send_body)
        match = re.fullmatch(r"/files/([^/]+)/([^/]+)", path)
        if match:
            project, filename = match.groups()
            if filename.endswith(".metadata"):
                entry = index.lookup(project, filename[: -len(".metadata")])
                if entry is None:
                    return self._send(404, b"no such file\n", "text/plain", send_body=send_body)
                return self._send(
                    200,
                    entry.metadata,
                    "application/octet-stream",
                    send_body=send_body,
                    extra={"Cache-Control": FILE_CACHE_CONTROL},
                )
            entry = index.lookup(project, filename)
            if entry is None or entry.path is None:
                return self._send(404, b"no bytes for this file\n", "text/plain", send_body=send_body)
            return self._send_file(entry.path, send_body)
        return self._send(404, b"not found\n", "text/plain", send_body=send_body)

    def _send_page(self, body: bytes, media: str, send_body: bool) -> None:
        index = self.server.index
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": index.cache_control, "Vary": "Accept"}
        wanted = [t.strip().removeprefix("W/") for t in (self.headers.get("If-None-Match") or "").split(",")]
        if etag in wanted or "*" in wanted:
            return self._send(304, b"", None, send_body=False, extra=headers)
        content_type = media if media != "text/html" else "text/html; charset=utf-8"
        self._send(200, body, content_type, send_body=send_body, extra=headers)

    def _send_file(self, path: Path, send_body: bool) -> None:
        blob = path.read_bytes()
        size = len(blob)
        headers = {"Accept-Ranges": "bytes", "Cache-Control": FILE_CACHE_CONTROL}
        range_header = self.headers.get("Range")
        if range_header:
            span = _parse_range(range_header, size)
            if span == "unsatisfiable":
                headers["Content-Range"] = f"bytes */{size}"
                return self._send(416, b"", None, send_body=False, extra=headers)
            if span is not None:
                first, last = span
                headers["Content-Range"] = f"bytes {first}-{last}/{size}"
                part = blob[first : last + 1]
                return self._send(206, part, "application/octet-stream", send_body=send_body, extra=headers)
        self._send(200, blob, "application/octet-stream", send_body=send_body, extra=headers)

    def _redirect(self, location: str) -> None:
        self._send(301, b"", None, send_body=False, extra={"Location": location})

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        *,
        send_body: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)) if status != 304 else "0")
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)

    def _stall(self, fault: str, tick, every: float = 0.05) -> None:
        """Call ``tick`` every ``every`` seconds while ``fault`` is set and the server runs."""
        index = self.server.index
        self.close_connection = True
        try:
            while index._fault == fault and index._server is not None:
                time.sleep(every)
                if index._fault == fault:
                    tick()
        except OSError:  # the client gave up
            pass

    def _reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), answering nothing."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
