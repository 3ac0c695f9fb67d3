"""HTTP transport of the index client: one ``requests.Session`` with pip's retries and timeout,
created on first use (so cache hits never import ``requests``), bounded by the run's deadline;
failures become :class:`TransportError` with a short, URL-free reason."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, Callable
from urllib.parse import urlsplit

from guard.index.settings import IndexSettings
from guard.index.urls import netloc, scrub, split_auth


class TransportError(Exception):
    """A request failed before an HTTP status; ``str()`` is a short reason without URLs.
    ``slow``: it failed by running out of time (a timeout or the deadline), not at once."""

    def __init__(self, reason: str, *, slow: bool = False) -> None:
        super().__init__(reason)
        self.slow = slow


# Indexes that ran out of time in this process: (host, settings) -> (monotonic time, reason).
# Until a deadline's length has passed they are not waited for again, so a silent index costs
# one deadline per run, not one per client (the verdict cache's revalidation, then the
# simulation) nor one per page asked after the first.
OUT_OF_TIME: dict[tuple[str, Any], tuple[float, str]] = {}


class Transport:
    """One ``requests.Session``, created on first use so that cache hits never import requests."""

    def __init__(self, settings: IndexSettings, max_workers: int, count: Callable[[str, int], None]) -> None:
        self._settings = settings
        self._deadline_at = time.monotonic() + settings.deadline
        self._max_workers = max_workers
        self._count = count
        self._lock = threading.Lock()
        self._session: Any = None
        self._auth: dict[str, tuple[str, str]] = {}
        self._trusted = {h.lower() for h in settings.trusted_hosts}
        for url in (settings.index_url or "", *settings.extra_index_urls, *settings.find_links):
            try:
                _plain, auth = split_auth(url)
            except ValueError as err:  # urlsplit: "Invalid IPv6 URL"; every later urlsplit of it too
                from guard.errors import UsageError

                raise UsageError(f"invalid index or find-links URL {scrub(url)!r} ({err})") from None
            if auth is not None:
                self._auth.setdefault(netloc(url), auth)

    def auth_for(self, url: str) -> tuple[str, str] | None:
        return self._auth.get(netloc(url)) if self._auth else None

    def is_trusted(self, url: str) -> bool:
        host = netloc(url)
        return host in self._trusted or host.rsplit(":", 1)[0] in self._trusted

    def is_secure_origin(self, url: str) -> bool:
        """pip's rule: https, file, localhost, or a --trusted-host; other http is ignored."""
        scheme = url.split(":", 1)[0].lower()
        if scheme in ("https", "file"):
            return True
        host = (urlsplit(url).hostname or "").lower()
        if host in ("localhost", "::1") or host.startswith("127."):
            return True
        return self.is_trusted(url)

    def _get_session(self) -> Any:
        with self._lock:
            if self._session is None:
                import requests
                from requests.adapters import HTTPAdapter
                from urllib3.util.retry import Retry

                # pip's PipSession: Retry(total=retries, status_forcelist=[500, 503, 520, 527],
                # backoff_factor=0.25): connect and read errors and those statuses are retried,
                # waiting 0, 0.5, 1, 2, 4 s... between tries. The run's deadline bounds it all.
                retry = Retry(
                    total=self._settings.retries,
                    status_forcelist=(500, 503, 520, 527),
                    backoff_factor=0.25,
                    raise_on_status=False,
                    respect_retry_after_header=False,  # never sleep for a server's whim
                )
                adapter = _shared_tls_adapter(HTTPAdapter)(
                    pool_connections=self._max_workers, pool_maxsize=self._max_workers + 2, max_retries=retry
                )
                session = requests.Session()
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.headers["User-Agent"] = "conda-pip-guard (index client; requests)"
                if self._settings.proxy:
                    session.proxies = {"http": self._settings.proxy, "https": self._settings.proxy}
                if self._settings.client_cert:
                    session.cert = self._settings.client_cert
                self._session = session
            return self._session

    def remaining(self) -> float:
        """Seconds left of the run's deadline; TransportError once it has passed."""
        left = self._deadline_at - time.monotonic()
        if left <= 0:
            raise TransportError(self._deadline_reason(), slow=True)
        return left

    def _deadline_reason(self) -> str:
        return f"no complete answer within the {self._settings.deadline:g}s deadline (GUARD_DEADLINE)"

    def bounded(self, work: Callable[[], Any]) -> Any:
        """``work()`` (blocking network I/O) finished before the run's deadline, else
        TransportError. It runs in a daemon thread the caller stops waiting for at the
        deadline: a socket timeout is per operation, so only a clock outside the read ends an
        index that sends a byte every few seconds. An abandoned request ends by itself at its
        next socket timeout (capped to what was left), or with the process."""
        left = self.remaining()
        slot = Slot()

        def run() -> None:
            try:
                slot.value = work()
            except BaseException as err:  # re-raised in the caller
                slot.error = err
            finally:
                slot.done.set()

        threading.Thread(target=run, name="guard-index-request", daemon=True).start()
        if not slot.done.wait(left):
            raise TransportError(self._deadline_reason(), slow=True)
        return slot.result()

    def get(self, url: str, headers: Mapping[str, str] | None = None, stream: bool = False) -> Any:
        """GET with pip's retries and timeout, within the run's deadline; raises
        TransportError (no URL in it) on failure."""
        session = self._get_session()
        import requests

        plain, inline_auth = split_auth(url)
        auth = inline_auth or self.auth_for(plain)
        verify: Any = False if self.is_trusted(plain) else (self._settings.cert or True)
        timeout = self._settings.timeout
        per_op = max(0.05, min(timeout, self.remaining()))
        self._count("requests", 1)

        def request() -> Any:
            response = session.get(
                plain, headers=dict(headers or {}), auth=auth, verify=verify,
                timeout=(per_op, per_op), stream=stream, allow_redirects=True,
            )  # fmt: skip
            if not stream:
                self._count("bytes_downloaded", len(response.content))
            return response

        try:
            return self.bounded(request)
        except requests.exceptions.RequestException as err:
            slow = isinstance(err, requests.exceptions.Timeout) or "timed out" in str(err)
            raise TransportError(describe_error(err, timeout), slow=slow) from None

    def read_body(self, response: Any, *, into_buffer: bool = False) -> Any:
        """The body of a streamed response (``get(..., stream=True)``), counted; TransportError
        if the connection fails or the deadline passes (the reader is then abandoned, as
        :meth:`bounded` says: closing the response under it would wait for its socket timeout).
        ``into_buffer``: read chunk by chunk into one growing ``bytearray`` (``.content`` joins a
        list of chunks beside its result: a big page twice over), leaving ``response.content``
        unread; else ``response.content`` (what a range read's caller reads again)."""
        import requests

        def read() -> Any:
            if not into_buffer:
                return response.content
            buf = bytearray()
            for chunk in response.iter_content(1 << 16):
                buf += chunk
            return buf

        try:
            data = self.bounded(read)
        except requests.exceptions.RequestException as err:
            response.close()
            slow = isinstance(err, requests.exceptions.Timeout) or "timed out" in str(err)
            raise TransportError(describe_error(err, self._settings.timeout), slow=slow) from None
        self._count("bytes_downloaded", len(data))
        return data

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


# TLS contexts of this process, one per CA location, client certificate and flavour
_CONTEXTS: dict[tuple[str, Any, bool], Any] = {}
_CONTEXTS_LOCK = threading.Lock()


def verified_context(ca: str, client_cert: str | tuple[str, str] | None = None, *, lean: bool = False) -> Any:
    """The process's one verifying TLS context for the CA bundle (file or directory) ``ca`` and
    ``client_cert``. Building a context reads the whole bundle (25-55 ms of CPU for a system
    bundle), which urllib3 would otherwise do for every new connection and the lean
    revalidation for every thread. ``lean``: built with the ``ssl`` module alone (the verdict
    cache's path imports neither requests nor urllib3); else as urllib3 builds its own.
    Contexts are safe to share between threads; an unreadable ``ca`` raises (ssl.SSLError,
    OSError) and is not remembered."""
    key = (ca, client_cert, lean)
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(key)
        if context is None:
            import os
            import ssl

            cafile, capath = (None, ca) if os.path.isdir(ca) else (ca, None)
            if lean:
                context = ssl.create_default_context(cafile=cafile, capath=capath)
            else:
                from urllib3.util.ssl_ import create_urllib3_context

                context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                context.load_verify_locations(cafile=cafile, capath=capath)
            if isinstance(client_cert, tuple):
                context.load_cert_chain(client_cert[0], client_cert[1])
            elif client_cert:
                context.load_cert_chain(client_cert)
            _CONTEXTS[key] = context
    return context


def _shared_tls_adapter(base: Any) -> Any:
    """``requests``' HTTPAdapter, except that a verified HTTPS connection uses the process's
    shared context for its CA location (:func:`verified_context`) instead of a new context
    that loads the bundle again. The CA location is requests' own choice, made as before
    (``verify``: the cert option, else REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, else certifi); an
    unverified connection (a trusted host) is left as requests makes it."""

    class SharedTLSAdapter(base):
        def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
            if host_params.get("scheme") == "https" and verify is not False:
                from requests.utils import DEFAULT_CA_BUNDLE_PATH

                ca = verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH
                for name in ("ca_certs", "ca_cert_dir", "cert_file", "key_file"):
                    pool_kwargs.pop(name, None)
                pool_kwargs["ssl_context"] = verified_context(ca, cert)
            return host_params, pool_kwargs

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            super().cert_verify(conn, url, verify, cert)  # its checks and messages, as before
            if url.lower().startswith("https") and verify and getattr(conn, "conn_kw", {}).get("ssl_context"):
                # already in the shared context: urllib3 would load them again per connection
                conn.ca_certs = conn.ca_cert_dir = conn.cert_file = conn.key_file = None

    return SharedTLSAdapter


def describe_error(err: BaseException, timeout: float) -> str:
    """A short, URL-free reason for a requests exception."""
    import requests

    text = str(err)
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return f"timed out connecting (timeout {timeout:g}s)"
    if isinstance(err, requests.exceptions.ReadTimeout) or "Read timed out" in text:
        return f"no answer within {timeout:g}s"
    if isinstance(err, requests.exceptions.SSLError):
        return "TLS error" + (": certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in text else "")
    if isinstance(err, requests.exceptions.ProxyError):
        return "proxy error"
    if isinstance(err, requests.exceptions.ConnectionError):
        for needle, reason in (
            ("Connection refused", "connection refused"),
            ("NameResolutionError", "DNS lookup failed"),
            ("Name or service not known", "DNS lookup failed"),
            ("nodename nor servname", "DNS lookup failed"),
            ("Temporary failure in name resolution", "DNS lookup failed"),
            ("timed out", f"timed out (timeout {timeout:g}s)"),
            ("reset", "connection reset"),
            ("RemoteDisconnected", "connection closed without an answer"),
            ("aborted", "connection aborted"),
            ("too many 5", "server errors after retries"),
        ):
            if needle in text:
                return reason
        return "connection failed"
    if isinstance(err, requests.exceptions.ChunkedEncodingError):
        return "connection broken mid-answer"
    return scrub(type(err).__name__)


class Slot:
    """A single-flight result: the first caller computes, the others wait for it.
    ``claimed``: someone computes it (False while it waits in a fetch queue with its ``job``)."""

    __slots__ = ("done", "value", "error", "claimed", "job")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.claimed = True
        self.job: Callable[[], Any] | None = None

    def run(self, job: Callable[[], Any]) -> None:
        """Compute it with ``job`` (once: the caller claimed it) and wake the waiters."""
        try:
            self.value = job()
        except BaseException as err:  # waiters re-raise the same error
            self.error = err
        finally:
            self.job = None
            self.done.set()

    def result(self) -> Any:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value


# --------------------------------------------------------------------------- the client
