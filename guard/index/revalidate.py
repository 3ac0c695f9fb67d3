"""Confirming the pages of a memoized verdict (the verdict cache's hot path): every page asked
again with a conditional request, in parallel. The lean path sends them with ``http.client``
and never imports ``requests`` (about 60-140 ms of imports); wherever it cannot tell, the full
page reader decides, as a simulation would."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from guard.index.cache import body_digest, rows_digest
from guard.index.page_fetch import PageReading
from guard.index.pages import ACCEPT, LINK_WIDTH, ROW_WIDTH, parse_rows
from guard.index.transport import OUT_OF_TIME, TransportError, verified_context


class PageRevalidation(PageReading):
    """``pages_unchanged`` for :class:`guard.index.client.IndexClient`."""

    def pages_unchanged(self, pages: Mapping[str, Any]) -> bool:
        """Whether every remote page of ``pages`` (an earlier client's ``pages_used``) still
        has the content it had, asked of the index now (conditional requests, in parallel; a
        304 costs one round trip). False when one changed or could not be confirmed."""
        try:
            items = [(str(url), str(v[0]), v[1]) for url, v in pages.items()]
        except (AttributeError, TypeError, IndexError, KeyError):
            return False
        lean = self._lean_revalidation(items)
        if lean is not None:
            return lean

        def revalidate(item: tuple[str, str, Any]) -> None:
            url, _digest, project = item
            if project is None:
                self._http_page(url, lambda links: links, LINK_WIDTH)
            else:
                self._http_page(url, lambda links: parse_rows(links, str(project)), ROW_WIDTH, str(project))

        self._parallel(revalidate, items)
        if self._offline or self._skipped:
            return False
        return all(self.pages_used.get(url, [None])[0] == digest for url, digest, _ in items)

    def _lean_revalidation(self, items: list[tuple[str, str, Any]]) -> bool | None:
        """The verdict cache's hot path: every page confirmed by a 304 to a conditional GET
        sent with ``http.client`` (importing ``requests`` costs more than the requests
        themselves). True when all answer 304 for the content remembered, False when one page
        is known to have changed or the deadline passed; None wherever this lean path cannot
        tell (a proxy, a client certificate, no validator, any other answer or error): then the
        full client decides, as a simulation would."""
        env_proxy = any(k.lower() in ("http_proxy", "https_proxy", "all_proxy") for k in os.environ)
        if self.settings.proxy or self.settings.client_cert or env_proxy or not items:
            return None
        requests_to_send = []
        for url, digest, _project in items:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return None
            key = hashlib.sha256(url.encode()).hexdigest()
            record = self._page_check(key)
            if record is None:
                return None
            if record["digest"] != digest:
                return False  # the page cache already holds other content
            validated = record.get("etag") or record.get("last_modified") or record.get("status") in (404, 410)
            if not (validated or isinstance(record.get("body"), str)):
                return None  # neither a validator nor the bytes' digest: only the full reader can tell
            requests_to_send.append((url, parts, key, record))

        import http.client

        local = threading.local()
        answers: dict[str, bool] = {}
        failed: list[str] = []
        # the CA bundle requests would verify with: the cert option, else REQUESTS_CA_BUNDLE or
        # CURL_CA_BUNDLE (requests' trust_env), else certifi's
        cert = self.settings.cert or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")

        def connection(parts: Any, timeout: float) -> Any:
            conns = local.__dict__.setdefault("conns", {})
            ident = (parts.scheme, parts.netloc)
            if ident not in conns:
                if parts.scheme == "https":
                    import ssl

                    if self._transport.is_trusted(parts.geturl()):
                        context = ssl._create_unverified_context()
                    elif cert:  # one context for the process: building one reads the whole bundle
                        context = verified_context(cert, lean=True)
                    else:  # requests' own default trust store
                        import certifi

                        context = verified_context(certifi.where(), lean=True)
                    conns[ident] = http.client.HTTPSConnection(
                        parts.hostname, parts.port, timeout=timeout, context=context
                    )
                else:
                    conns[ident] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            return conns[ident]

        def ask(entry: tuple[str, Any, str, dict[str, Any]]) -> None:
            url, parts, key, record = entry
            headers = {
                "Accept": ACCEPT,
                "Cache-Control": "max-age=0",
                "Accept-Encoding": "identity",
                "User-Agent": "conda-pip-guard (index client; requests)",
            }
            if record.get("etag"):
                headers["If-None-Match"] = record["etag"]
            if record.get("last_modified"):
                headers["If-Modified-Since"] = record["last_modified"]
            auth = self._transport.auth_for(url)
            if auth is not None:
                import base64

                headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn = connection(parts, max(0.05, min(self.settings.timeout, self._transport.remaining())))
            try:
                conn.request("GET", path or "/", headers=headers)
                response = conn.getresponse()
                body = response.read()
                self._count("requests")
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                import socket

                if isinstance(err, (ConnectionError, TimeoutError, socket.gaierror)):
                    failed.append(url)  # not reachable; anything else (TLS...): the full client asks
                return
            gone = response.status in (404, 410) and record.get("status") in (404, 410)
            if response.status == 304 or gone:  # still not there: as unchanged as a 304
                answers[url] = True
                self._note_seen(key)
            elif response.status == 200 and record.get("body") and _same_body(response, body, url, record["body"]):
                answers[url] = True  # an index without validators: the very bytes of the cached page
                self._note_seen(key)

        def all_of_them() -> None:
            self._parallel(ask, requests_to_send)
            for conn in local.__dict__.get("conns", {}).values():
                conn.close()

        try:
            self._transport.bounded(all_of_them)
        except TransportError as err:
            for _url, parts, _key, _record in requests_to_send:
                OUT_OF_TIME[(parts.netloc.rpartition("@")[2].lower(), self.settings)] = (time.monotonic(), str(err))
            return False
        if len(answers) == len(requests_to_send):
            self._count("pages_revalidated", len(answers))
            return True
        # an index that cannot be reached cannot confirm anything: a miss, and the simulation
        # answers from the cached pages with a warning (asking again with retries here first
        # would only double the wait)
        return False if failed else None

    def _page_check(self, key: str) -> dict[str, Any] | None:
        """What revalidating a cached page needs (its rows' digest, validators, status and the
        digest of its bytes), from a small record kept beside the page's (``checks``), which
        is valid while the page record's file is the one it was made from (size and mtime):
        loading a big page record (megabytes of rows) to read four fields would cost more than
        asking the index. None when the page is not cached."""
        path = self._cache._path("pages", key)
        if path is None:
            return None
        try:
            st = os.stat(path)  # before reading: a record replaced meanwhile is seen next time
        except OSError:
            return None
        made_from = [st.st_mtime_ns, st.st_size]
        check = self._cache.load("checks", key)
        if check is not None and check.get("page") == made_from and isinstance(check.get("digest"), str):
            return check
        record = self._cache.load("pages", key)
        if record is None or not isinstance(record.get("rows"), list):
            return None
        digest = record.get("digest") if isinstance(record.get("digest"), str) else rows_digest(record["rows"])
        check = {"page": made_from, "digest": digest}
        check.update({k: record[k] for k in ("etag", "last_modified", "status", "body") if record.get(k)})
        self._cache.store("checks", key, check)
        return check

    # ------------------------------------------------------------------ sources and pages


def _same_body(response: Any, body: bytes, url: str, expected: str) -> bool:
    """Whether a 200 answer holds the bytes the cached page was parsed from (their
    :func:`~guard.index.cache.body_digest`, as the full reader computes it)."""
    if (response.getheader("Content-Encoding") or "identity").strip().lower() != "identity":
        return False
    content_type = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
    return body_digest(content_type, url, body) == expected
