"""Core metadata of one file, fastest first: the cache, PEP 658 ``<file>.metadata``
(advertised, or probed once per host when not advertised), HTTP range requests on the wheel's
zip directory, and as a last resort the whole file (capped); local files are read in place."""

from __future__ import annotations

import hashlib
import os
import re
import struct
from typing import Any

from guard.errors import IndexUnavailable, NeedsPipFallback
from guard.index.cache import valid_metadata_record
from guard.index.metadata import (
    ChunkStream,
    StreamBroken,
    metadata_from_wheel_file,
    metadata_matches,
    parse_metadata_fields,
    pkg_info_from_sdist,
    sdist_check,
)
from guard.index.pages import HASH_NAMES
from guard.index.rangezip import RangeNotSupported, RangeReader, zip_member_by_range, zlib_error
from guard.index.state import ClientState
from guard.index.transport import TransportError, describe_error
from guard.index.urls import is_file_url, netloc, redact_url, split_auth, url_to_path
from guard.models import DistFile

_MAX_WHEEL_DOWNLOAD = 2 * 1024**3  # whole-wheel fallback cap (servers without Range)
_MAX_SDIST_DOWNLOAD = 256 * 1024**2
_HEX = re.compile(r"[0-9a-fA-F]+")


class MetadataReading(ClientState):
    """Core metadata of index and local files, for :class:`guard.index.client.IndexClient`."""

    _no_metadata_probe: set[str]  # hosts where an unadvertised .metadata 404s

    @staticmethod
    def _metadata_key(f: DistFile) -> str:
        """Content address when the index gives a sha256 (valid forever); else the URL, plus
        size and mtime for a local file that could be rebuilt in place."""
        digest = f.hashes.get("sha256")
        if digest and len(digest) == 64 and _HEX.fullmatch(digest):
            return "sha256-" + digest.lower()
        identity = split_auth(f.url)[0]
        if is_file_url(f.url):
            try:
                st = os.stat(url_to_path(f.url))
                identity += f"#{st.st_size}-{st.st_mtime_ns}"
            except OSError:
                pass
        return "url-" + hashlib.sha256(identity.encode()).hexdigest()

    def _load_metadata(self, f: DistFile, key: str) -> dict[str, Any]:
        cached = self._cache.load("metadata", key)
        if cached is not None and valid_metadata_record(cached):
            self._count("metadata_cache")
            return cached
        record = self._fetch_metadata(f)
        self._cache.store("metadata", key, record)
        return record

    def _fetch_metadata(self, f: DistFile) -> dict[str, Any]:
        """A metadata record: the parsed fields, or ``{"needs_build": reason}`` for an sdist
        whose dependencies are dynamic (cached too, so the sdist is not downloaded again)."""
        try:
            meta = self._metadata_fields(f)
        except NeedsPipFallback as err:
            return {"needs_build": str(err)}
        if not f.is_wheel:
            try:
                sdist_check(meta, f)
            except NeedsPipFallback as err:
                if not meta.get("metadata_file"):
                    return {"needs_build": str(err)}
                # pip 26.3 takes an advertised metadata file for any distribution, sdists too,
                # with no Metadata-Version or Dynamic check
                # (operations/prepare.py: _fetch_metadata_using_link_data_attr)
                meta = {**meta, "build_needed": str(err)}
        return meta

    def _metadata_fields(self, f: DistFile) -> dict[str, Any]:
        if is_file_url(f.url):
            return self._local_metadata(f)
        shown = redact_url(f.url)
        host = netloc(f.url)
        # Not advertised: probe wheels only (PyPI and its mirrors serve it for wheels), and
        # stop probing a host once it said no.
        if f.metadata_hashes is not None or (f.is_wheel and host not in self._no_metadata_probe):
            meta = self._pep658(f, advertised=f.metadata_hashes is not None)
            if meta is not None:
                return meta
        if not f.is_wheel:
            return self._sdist_download(f)
        try:
            reader = RangeReader(lambda r: self._range_get(f, r), f.url)
            data = zip_member_by_range(reader, f.project)
        except RangeNotSupported as whole:
            return self._whole_wheel(f, whole.response)
        except TransportError as err:
            raise IndexUnavailable(f"{shown}: {err}") from None
        except (ValueError, struct.error, zlib_error()):
            # An unusual zip (huge comment, odd compression): read the whole file instead.
            return self._whole_wheel(f, self._get_ok(f, stream=True))
        if data is None:
            raise NeedsPipFallback(f"{f.filename} has no .dist-info/METADATA")
        self._count("metadata_range")
        return self._checked(data, f, shown)

    def _checked(self, data: bytes, f: DistFile, shown: str) -> dict[str, Any]:
        try:
            meta = parse_metadata_fields(data)
        except ValueError as err:
            raise IndexUnavailable(f"{shown}: unreadable metadata ({err})") from None
        if not metadata_matches(meta, f):
            raise IndexUnavailable(
                f"{shown}: metadata says {meta['name']} {meta['version']}, not {f.project} {f.version}"
            )
        return meta

    def _pep658(self, f: DistFile, *, advertised: bool) -> dict[str, Any] | None:
        """``<url>.metadata``: verified against advertised hashes, or, when not advertised,
        accepted only if it parses and names this very file. None to try the next way."""
        shown = redact_url(f.url)
        try:
            response = self._transport.get(f.url + ".metadata")
        except TransportError as err:
            if advertised:
                raise IndexUnavailable(f"{shown}.metadata: {err}") from None
            return None
        if response.status_code != 200:
            if response.status_code >= 500 and advertised:
                raise IndexUnavailable(f"{shown}.metadata: HTTP {response.status_code}")
            if not advertised:
                with self._lock:
                    self._no_metadata_probe.add(netloc(f.url))
            return None
        data = response.content
        if advertised:
            for name, expected in (f.metadata_hashes or {}).items():
                if name in HASH_NAMES and hashlib.new(name, data).hexdigest() != expected.lower():
                    raise IndexUnavailable(f"{shown}.metadata: hash mismatch ({name})")
            meta = {**self._checked(data, f, shown + ".metadata"), "metadata_file": True}
            self._count("metadata_pep658")
            return meta
        probed: dict[str, Any] | None
        try:
            probed = parse_metadata_fields(data)
        except ValueError:
            probed = None
        if probed is None or not metadata_matches(probed, f):
            with self._lock:
                self._no_metadata_probe.add(netloc(f.url))
            return None
        self._count("metadata_url")
        return probed

    def _range_get(self, f: DistFile, byte_range: str) -> Any:
        # identity: a compressed answer would make byte offsets meaningless
        response = self._transport.get(f.url, headers={"Range": byte_range, "Accept-Encoding": "identity"}, stream=True)
        if response.status_code == 206:
            self._transport.read_body(response)
        elif response.status_code != 200:
            response.close()
            raise IndexUnavailable(f"{redact_url(f.url)}: HTTP {response.status_code}")
        return response

    def _get_ok(self, f: DistFile, *, stream: bool) -> Any:
        """GET the file itself; IndexUnavailable unless it answers 200."""
        try:
            response = self._transport.get(f.url, stream=stream)
        except TransportError as err:
            raise IndexUnavailable(f"{redact_url(f.url)}: {err}") from None
        if response.status_code != 200:
            response.close()
            raise IndexUnavailable(f"{redact_url(f.url)}: HTTP {response.status_code}")
        return response

    def _download(self, f: DistFile, response: Any, cap: int) -> Any:
        """Stream a 200 answer into a temporary file, at most ``cap`` bytes."""
        import tempfile

        import requests

        spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)

        def copy() -> int:
            size = 0
            for chunk in response.iter_content(chunk_size=1024 * 1024):
                size += len(chunk)
                if size > cap:
                    raise NeedsPipFallback(f"{f.filename} is too large to inspect without range requests")
                spool.write(chunk)
            return size

        try:
            size = self._transport.bounded(copy)
        except requests.exceptions.RequestException as err:
            spool.close()
            raise IndexUnavailable(f"{redact_url(f.url)}: {describe_error(err, self.settings.timeout)}") from None
        except TransportError as err:
            spool.close()
            raise IndexUnavailable(f"{redact_url(f.url)}: {err}") from None
        except BaseException:
            spool.close()
            raise
        finally:
            response.close()
        self._count("bytes_downloaded", size)
        spool.seek(0)
        return spool

    def _whole_wheel(self, f: DistFile, response: Any) -> dict[str, Any]:
        spool = self._download(f, response, _MAX_WHEEL_DOWNLOAD)
        with spool:
            data = metadata_from_wheel_file(spool, f)
        self._count("metadata_whole")
        return self._checked(data, f, redact_url(f.url))

    def _sdist_download(self, f: DistFile) -> dict[str, Any]:
        shown = redact_url(f.url)
        response = self._get_ok(f, stream=True)
        if f.filename.lower().endswith(".zip"):
            spool = self._download(f, response, _MAX_SDIST_DOWNLOAD)
            with spool:
                data = pkg_info_from_sdist(spool, f)
        else:
            data = self._pkg_info_streamed(f, response)
        self._count("metadata_whole")
        return self._checked(data, f, shown)

    def _pkg_info_streamed(self, f: DistFile, response: Any) -> bytes:
        """A ``.tar.gz`` sdist read as it arrives, only up to its PKG-INFO (the rest is never
        downloaded), within the run's deadline."""
        import requests

        stream = ChunkStream(
            response.iter_content(chunk_size=64 * 1024),
            _MAX_SDIST_DOWNLOAD,
            lambda: NeedsPipFallback(f"{f.filename} is too large to inspect"),
        )
        try:
            return self._transport.bounded(lambda: pkg_info_from_sdist(stream, f))
        except StreamBroken as err:
            cause = err.cause
            reason = (
                describe_error(cause, self.settings.timeout) if isinstance(cause, requests.RequestException) else cause
            )
            raise IndexUnavailable(f"{redact_url(f.url)}: {reason}") from None
        except TransportError as err:
            raise IndexUnavailable(f"{redact_url(f.url)}: {err}") from None
        finally:
            response.close()
            self._count("bytes_downloaded", stream.size)

    def _local_metadata(self, f: DistFile) -> dict[str, Any]:
        path = url_to_path(f.url)
        shown = redact_url(f.url)
        sidecar = path + ".metadata"
        if os.path.isfile(sidecar):
            try:
                with open(sidecar, "rb") as fh:
                    meta = parse_metadata_fields(fh.read())
                if metadata_matches(meta, f):
                    self._count("metadata_local")
                    return meta
            except (OSError, ValueError):
                pass
        try:
            with open(path, "rb") as fh:
                data = metadata_from_wheel_file(fh, f) if f.is_wheel else pkg_info_from_sdist(fh, f)
        except FileNotFoundError:
            raise IndexUnavailable(f"{shown}: file not found") from None
        self._count("metadata_local")
        return self._checked(data, f, shown)
