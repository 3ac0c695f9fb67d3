"""The index transport over real TLS on 127.0.0.1: a throwaway CA and server certificate made
with the ``openssl`` command, a real HTTPS server, no mocks. Building a TLS context reads the
whole CA bundle (25-55 ms of CPU for a system bundle); the transport builds one per CA location
and client certificate for the process, not one per connection, and still verifies."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from guard.index.settings import IndexSettings
from guard.index.transport import Transport, TransportError

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(directory: Path, name: str, subject: str, extensions: str) -> None:
    """``name.key`` and ``name.pem`` signed by ``ca`` in ``directory``."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=directory)
    (directory / f"{name}.ext").write_text(extensions)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=directory)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A CA, a server certificate for localhost and 127.0.0.1, a client certificate, and a
    second CA that signed neither."""
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-x509", "-days", "2"]
    _openssl("req", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=guard test CA", cwd=d)
    _openssl("req", *ec, "-keyout", "other.key", "-out", "other.pem", "-subj", "/CN=another CA", cwd=d)
    _issue(d, "server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _issue(d, "client", "/CN=guard client", "extendedKeyUsage=clientAuth\n")
    return d


class _Server:
    """HTTPS on 127.0.0.1 answering every GET with 200 ``ok``; ``client_ca``: a client
    certificate signed by it is required."""

    def __init__(self, pki: Path, client_ca: Path | None = None) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/simple/"):  # an index page with a validator
                    if self.headers.get("If-None-Match") == '"v1"':
                        self.send_response(304)
                        self.send_header("ETag", '"v1"')
                        self.end_headers()
                        return
                    name = self.path.strip("/").split("/")[-1]
                    body = f'<a href="/f/{name}-1.0-py3-none-any.whl">w</a>'.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("ETag", '"v1"')
                else:
                    body = b"ok"
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki / "server.pem", pki / "server.key")
        if client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(client_ca)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(pki):
    s = _Server(pki)
    yield s
    s.close()


def _transport(**settings: object) -> Transport:
    return Transport(IndexSettings(index_url=None, timeout=5, retries=0, **settings), 4, lambda _c, _n=1: None)


def _context_of(response) -> ssl.SSLContext:
    return response.raw.connection.sock.context


def test_connections_share_one_verified_context_per_ca(pki, server):
    t = _transport(cert=str(pki / "ca.pem"))
    # two hosts: two connection pools, two connections, two TLS handshakes
    first = t.get(f"https://127.0.0.1:{server.port}/a", stream=True)
    second = t.get(f"https://localhost:{server.port}/b", stream=True)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.raw.connection is not second.raw.connection
    shared = _context_of(first)
    assert _context_of(second) is shared  # the bundle was read once, not per connection
    assert shared.verify_mode == ssl.CERT_REQUIRED
    first.close(), second.close()
    t.close()
    again = _transport(cert=str(pki / "ca.pem"))  # a later client of the same run: the same context
    response = again.get(f"https://localhost:{server.port}/c", stream=True)
    assert _context_of(response) is shared
    response.close()
    again.close()


def test_a_certificate_from_another_ca_is_still_refused(pki, server):
    t = _transport(cert=str(pki / "other.pem"))
    with pytest.raises(TransportError, match="certificate verify failed"):
        t.get(f"https://127.0.0.1:{server.port}/a")
    t.close()


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_a_trusted_host_is_not_verified(pki, server):
    t = _transport(cert=str(pki / "other.pem"), trusted_hosts=("127.0.0.1",))
    assert t.get(f"https://127.0.0.1:{server.port}/a").status_code == 200
    t.close()


def test_the_client_certificate_goes_into_the_shared_context(pki):
    s = _Server(pki, client_ca=pki / "ca.pem")
    try:
        both = str(pki / "client-both.pem")
        Path(both).write_text((pki / "client.pem").read_text() + (pki / "client.key").read_text())
        t = _transport(cert=str(pki / "ca.pem"), client_cert=both)
        assert t.get(f"https://127.0.0.1:{s.port}/a").status_code == 200
        t.close()
        without = _transport(cert=str(pki / "ca.pem"))
        with pytest.raises(TransportError):
            without.get(f"https://127.0.0.1:{s.port}/a")
        without.close()
    finally:
        s.close()


def test_revalidation_without_requests_shares_one_context_too(pki, server, tmp_path):
    # the verdict cache's hot path (http.client, one connection per thread and host)
    from guard.index import transport
    from guard.index.client import IndexClient

    settings = IndexSettings(index_url=f"https://localhost:{server.port}/simple/", cert=str(pki / "ca.pem"))
    names = [f"p{i}" for i in range(12)]
    with IndexClient(settings, cache_dir=tmp_path / "cache", max_workers=4) as first:
        first.prefetch_pages(names)
        assert first.stats.pages_fetched == len(names)
        used = dict(first.pages_used)
    with IndexClient(settings, cache_dir=tmp_path / "cache", max_workers=4) as second:
        assert second.pages_unchanged(used)
        assert second.stats.pages_revalidated == len(names) and second.stats.pages_fetched == 0
    lean = [key for key in transport._CONTEXTS if key[0] == str(pki / "ca.pem") and key[2]]
    assert len(lean) == 1  # one context for every thread of the lean path


def test_revalidation_without_requests_trusts_what_requests_trusts(pki, server, tmp_path, monkeypatch):
    # no cert option: requests verifies with REQUESTS_CA_BUNDLE (a TLS-inspecting proxy's CA
    # lives there on machines like these); the lean path must too, not certifi's bundle
    from guard.index import transport
    from guard.index.client import IndexClient

    ca = tmp_path / "bundle.pem"
    ca.write_bytes((pki / "ca.pem").read_bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    settings = IndexSettings(index_url=f"https://localhost:{server.port}/simple/")
    with IndexClient(settings, cache_dir=tmp_path / "cache", max_workers=2) as first:
        first.prefetch_pages(["a", "b"])
        used = dict(first.pages_used)
    with IndexClient(settings, cache_dir=tmp_path / "cache", max_workers=2) as second:
        assert second._lean_revalidation([(url, v[0], v[1]) for url, v in used.items()]) is True
    assert (str(ca), None, True) in transport._CONTEXTS


class _ConnectProxy:
    """An HTTP proxy on 127.0.0.1 that only tunnels (CONNECT), as pip's --proxy is used for
    HTTPS indexes; ``tunnels`` lists the ``host:port`` of each tunnel it opened."""

    def __init__(self) -> None:
        import socket

        self.tunnels: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    break
                head += chunk
            target = head.split(b" ", 2)[1].decode()
            self.tunnels.append(target)
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()

    def close(self) -> None:
        self.sock.close()


def test_a_proxy_tunnel_uses_the_shared_verified_context(pki, server):
    proxy = _ConnectProxy()
    try:
        t = _transport(cert=str(pki / "ca.pem"), proxy=f"http://127.0.0.1:{proxy.port}")
        first = t.get(f"https://localhost:{server.port}/a", stream=True)
        assert first.status_code == 200 and proxy.tunnels == [f"localhost:{server.port}"]
        assert _context_of(first) is transport_context(str(pki / "ca.pem"))
        first.close()
        t.close()
        other = _transport(cert=str(pki / "other.pem"), proxy=f"http://127.0.0.1:{proxy.port}")
        with pytest.raises(TransportError, match="certificate verify failed"):
            other.get(f"https://localhost:{server.port}/b")  # still verified through the tunnel
        other.close()
    finally:
        proxy.close()


def transport_context(ca: str) -> ssl.SSLContext:
    from guard.index.transport import verified_context

    return verified_context(ca)
