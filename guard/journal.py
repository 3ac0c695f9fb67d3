"""The journal: one JSON line per guarded decision, per environment, append-only.

It lives in the user's state directory (``$XDG_STATE_HOME/conda-pip-guard/envs/<id>/``, default
``~/.local/state/...``), not inside the environment, so that the guard never adds files conda does
not know about. Writes take an exclusive ``flock`` so two guarded installs at once never
interleave lines; credentials in URLs are redacted before anything is written; the file is
rotated (one ``.1`` generation) past ``MAX_BYTES``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

MAX_BYTES = 1_000_000

_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<cred>[^/@\s:]+(?::[^/@\s]*)?)@")
_SECRET_OPTION = re.compile(r"(?i)(--?(?:password|token|auth)[^=\s]*[=\s])\S+")


def redact(text: str) -> str:
    """``https://user:secret@host/`` -> ``https://****@host/`` (pip's own redaction style)."""
    return _SECRET_OPTION.sub(r"\1****", _CREDENTIALS.sub(r"\g<scheme>****@", text))


def state_dir(prefix: Path, environ: Mapping[str, str]) -> Path:
    """This environment's state directory (journal, remembered conda records)."""
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    base = Path(environ.get("XDG_STATE_HOME") or home / ".local" / "state") / "conda-pip-guard" / "envs"
    real = os.path.realpath(prefix)
    env_id = hashlib.sha256(real.encode()).hexdigest()[:16]
    return base / f"{Path(real).name or 'root'}-{env_id}"


def journal_path(prefix: Path, environ: Mapping[str, str]) -> Path:
    return state_dir(prefix, environ) / "journal.jsonl"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_suffix(".lock")
    with open(lock, "a") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: best effort without a lock
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _scrub(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    return value


def append(prefix: Path, environ: Mapping[str, str], entry: Mapping) -> Path:
    """Append one decision. ``entry`` is plain JSON data; ``time`` and ``prefix`` are added."""
    path = journal_path(prefix, environ)
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "prefix": str(prefix), **_scrub(dict(entry))}
    line = json.dumps(record, sort_keys=False, separators=(",", ":")) + "\n"
    with _locked(path):
        if path.exists() and path.stat().st_size + len(line) > MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    return path


def read(prefix: Path, environ: Mapping[str, str], limit: int | None = None) -> list[dict]:
    """The journal's entries, oldest first (the rotated generation included); unreadable lines
    are skipped."""
    path = journal_path(prefix, environ)
    entries = []
    for p in (path.with_name(path.name + ".1"), path):
        if not p.exists():
            continue
        for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
    return entries[-limit:] if limit else entries


def last_blocked(prefix: Path, environ: Mapping[str, str]) -> dict | None:
    for entry in reversed(read(prefix, environ)):
        if entry.get("verdict") == "block":
            return entry
    return None
