"""The environment a test runs ``guard`` in: config-isolated, against the local test index."""

from __future__ import annotations

import os
from pathlib import Path


def guard_environ(tmp_path: Path, index_url: str, **extra: str) -> dict[str, str]:
    """A clean environment for a ``guard`` subprocess: this machine's ``PATH``, ``HOME`` and the
    guard's caches under ``tmp_path`` (``home``, ``cache``), no pip configuration (this machine's
    global and user files add indexes and find-links), ``index_url`` as pip's index; ``extra``
    added last."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": index_url,
        "GUARD_CACHE_DIR": str(tmp_path / "cache"),
        **extra,
    }


def isolated_environ(tmp_path: Path) -> dict[str, str]:
    """A clean environment for a ``guard`` subprocess with no index of its own (the command names
    one): ``HOME`` and the XDG config and state directories made under ``tmp_path/home``, the
    guard's cache in ``tmp_path/cache``, no pip configuration."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".state"),
        "PIP_CONFIG_FILE": os.devnull,
        "GUARD_CACHE_DIR": str(tmp_path / "cache"),
    }
