"""Files and directories the guard writes for itself (state, caches): private to the user
(directories 0700, files 0600, whatever the umask), and written whole or not at all.

A write that fails (read-only or full disk) raises ``OSError`` and leaves nothing behind, not even
a temporary file; the caller decides whether that matters.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700; an existing directory that the user
    owns is made 0700 too when it is the guard's own (``conda-pip-guard`` in its path)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            pass
        else:
            os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{path}: not a directory")
    if st.st_mode & 0o077 and st.st_uid == os.getuid() and "conda-pip-guard" in str(path):
        try:
            os.chmod(path, DIR_MODE)
        except OSError:
            pass
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a temporary file in the same directory, then
    ``os.replace``) with mode 0600. On any failure, or an interrupt, nothing is left behind."""
    import tempfile

    path = Path(path)
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def user_temp_dir() -> Path:
    """A directory in the system's temp directory that only this user can use, for what the
    state directory could not take: ``$TMPDIR/conda-pip-guard-<uid>``, checked to be a real
    directory owned by this user with no access for others (else a fresh ``mkdtemp``)."""
    import tempfile

    base = Path(tempfile.gettempdir()) / f"conda-pip-guard-{os.getuid()}"
    try:
        os.mkdir(base, DIR_MODE)
    except FileExistsError:
        pass
    except OSError:
        return Path(tempfile.mkdtemp(prefix="conda-pip-guard-"))
    try:
        st = os.lstat(base)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077:
            return base
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="conda-pip-guard-"))
