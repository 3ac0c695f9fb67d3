"""The journal: one JSON line per guarded decision, per environment, append-only.

It lives in the user's state directory (``$XDG_STATE_HOME/conda-pip-guard/envs/<id>/``, default
``~/.local/state/...``), not inside the environment, so that the guard never adds files conda does
not know about. Writes take an exclusive ``flock`` so two guarded installs at once never
interleave lines; each entry is one ``os.write`` of a whole line in append mode, preceded by a
newline when the file's last line was torn, so a damaged line never swallows the next entry;
credentials are redacted (:mod:`guard.redact`) before anything is written; the state directory
is 0700 and its files 0600; the file is rotated (one ``.1`` generation) past ``MAX_BYTES``.
Reading skips lines that are not a journal entry and counts them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from guard.private_files import FILE_MODE, private_dir
from guard.redact import redact, scrub  # noqa: F401 - redact is re-exported for older callers

MAX_BYTES = 1_000_000


def state_dir(prefix: Path, environ: Mapping[str, str]) -> Path:
    """This environment's state directory (journal, remembered conda records):
    ``$XDG_STATE_HOME`` (else ``~/.local/state``, ``HOME`` from ``environ``)
    ``/conda-pip-guard/envs/<name>-<id>``, on every platform. Not ``platformdirs``: it reads the
    process environment only (callers and tests hand in theirs), and would move the journal on
    macOS and Windows, where ``guard why`` and ``guard doctor`` would no longer find it."""
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    base = Path(environ.get("XDG_STATE_HOME") or home / ".local" / "state") / "conda-pip-guard" / "envs"
    real = os.path.realpath(prefix)
    env_id = hashlib.sha256(real.encode()).hexdigest()[:16]
    return base / f"{Path(real).name or 'root'}-{env_id}"


def journal_path(prefix: Path, environ: Mapping[str, str]) -> Path:
    return state_dir(prefix, environ) / "journal.jsonl"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``<journal>.lock`` while the block runs. Not ``filelock``: its
    import costs 22-40 ms (measured, filelock 4.3) on every guarded ``pip install``, whose warm
    run takes about 60 ms; on POSIX it takes the same ``flock``. Where there is no ``fcntl``
    (Windows, which the shims do not serve) no lock is taken."""
    private_dir(path.parent)
    lock = path.with_suffix(".lock")
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: best effort without a lock
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def append(prefix: Path, environ: Mapping[str, str], entry: Mapping) -> Path:
    """Append one decision. ``entry`` is plain JSON data; ``time`` and ``prefix`` are added.
    Raises ``OSError`` when the journal cannot be written (read-only or full disk, a directory
    where the file should be); then nothing was written."""
    path = journal_path(prefix, environ)
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "prefix": redact(str(prefix)), **scrub(dict(entry))}
    line = (json.dumps(record, sort_keys=False, separators=(",", ":")) + "\n").encode("utf-8")
    with _locked(path):
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            size = 0
        if size and size + len(line) > MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
            size = 0
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE)
        try:
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a torn last line stays alone on its line
            written = os.write(fd, line)
            if written != len(line):  # a full disk took part of the line: cut it off again
                os.ftruncate(fd, size)
                raise OSError(28, "No space left on device")
        finally:
            os.close(fd)
    return path


@dataclass
class JournalRead:
    """What :func:`read_all` found: the entries, how many lines were skipped as unreadable, and
    the files that could not be read at all (one line each)."""

    entries: list = field(default_factory=list)
    skipped: int = 0
    problems: list = field(default_factory=list)


def _valid(entry) -> bool:
    """A journal entry as :func:`append` writes it: an object whose known fields have their types."""
    if not isinstance(entry, dict):
        return False
    argv = entry.get("argv", [])
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return False
    if not isinstance(entry.get("verdict", ""), (str, type(None))) or not isinstance(entry.get("time", ""), str):
        return False
    for key in ("reasons", "changes"):
        items = entry.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return False
    return True


def read_all(prefix: Path, environ: Mapping[str, str], limit: int | None = None) -> JournalRead:
    """The journal's entries, oldest first (the rotated generation included). Lines that are not
    a journal entry are skipped and counted; a journal that cannot be read (a directory, no
    permission) is a problem, not an error."""
    path = journal_path(prefix, environ)
    found = JournalRead()
    for p in (path.with_name(path.name + ".1"), path):
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            found.problems.append(f"cannot read the journal {p}: {exc.strerror or exc}")
            continue
        for line in data.decode("utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except (ValueError, RecursionError):
                entry = None
            if _valid(entry):
                found.entries.append(entry)
            else:
                found.skipped += 1
    if limit:
        found.entries = found.entries[-limit:]
    return found


def read(prefix: Path, environ: Mapping[str, str], limit: int | None = None) -> list[dict]:
    """The journal's readable entries, oldest first (see :func:`read_all`)."""
    return read_all(prefix, environ, limit).entries


def last_blocked(prefix: Path, environ: Mapping[str, str]) -> dict | None:
    for entry in reversed(read(prefix, environ)):
        if entry.get("verdict") == "block":
            return entry
    return None
