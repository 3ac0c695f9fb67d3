"""Index and file URLs: credentials split off and redacted as pip shows them, ``file:`` URLs and
local paths. Pure string work; nothing here touches the network or the disk."""

from __future__ import annotations

import os
import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def redact_url(url: str) -> str:
    """``url`` with its password (or a lone token) replaced by ``****``, as pip shows URLs."""
    if "@" not in url or "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    shown = f"{user}:****" if has_password else "****"
    return urlunsplit(parts._replace(netloc=f"{shown}@{hostport}"))


def scrub(text: str) -> str:
    """Remove anything that looks like URL credentials from free text."""
    return re.sub(r"(://)[^/@\s]+@", r"\1****@", text)


def split_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), (unquote(user), unquote(password))


def netloc(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2].lower()


def is_file_url(url: str) -> bool:
    return url[:5].lower() == "file:"


def url_to_path(url: str) -> str:
    return unquote(urlsplit(url).path)


def path_to_url(path: str) -> str:
    # urllib.request.pathname2url, without importing urllib.request (~13 ms) on POSIX
    return "file://" + quote(os.path.abspath(path))
