"""``guard shims``: make a plain ``pip install`` in an environment go through the guard.

What ``install(prefix)`` writes, all of it inside the prefix, and nothing anywhere else (the
user's shell rc files are never touched):

* ``etc/conda-pip-guard/shims/pip``, ``pip3``, ``pipX.Y`` (X.Y: the env's Python): POSIX sh
  scripts (``guard/data/shim-pip.sh``) that send ``install``/``uninstall`` to ``guard pip`` and
  exec the environment's own pip for everything else (``bin/pipX``, else ``bin/python -m pip``;
  never another pip on PATH, which would change another environment; none: exit 127), plus the
  ``.conda-pip-guard-shims`` marker that names the directory as the guard's;
* ``etc/conda-pip-guard/shims/uv`` (``guard/data/shim-uv.sh``): ``uv pip install|sync|uninstall``
  go to ``guard uv``; every other uv command execs the real uv (the first ``uv`` on PATH outside
  a guard shims directory, else the env's ``bin/uv``; none: exit 127);
* ``etc/conda/activate.d/conda-pip-guard.{sh,fish,csh}`` and the same in ``deactivate.d``:
  conda's own activation hooks, which put the shims directory first on PATH while the env is
  active and take it off again;
* ``etc/conda-pip-guard/pip_hook.py`` (a copy of ``guard/integrate/pip_hook.py``) and one line in the env's
  site-packages, ``conda-pip-guard.pth``, for ``python -m pip`` and Jupyter's ``%pip``;
* ``etc/conda-pip-guard/manifest.json``: what was written and which directories were created,
  so that ``uninstall`` removes exactly that and leaves the prefix as it was.

Why inside the prefix rather than in the package: the scripts name this env's Python version
(``pipX.Y``), its prefix and the guard executable found at install time, they go away with the env
(``conda env remove``), and the activation hooks conda runs must live there anyway.

Nothing here prints; the CLI (``guard.commands_shims``) does.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from guard.errors import UsageError
from guard.integrate import pip_hook

GUARD_DIR = "etc/conda-pip-guard"
SHIMS_DIR = f"{GUARD_DIR}/shims"
MARKER = ".conda-pip-guard-shims"
HOOK_FILE = f"{GUARD_DIR}/pip_hook.py"
MANIFEST = pip_hook.MANIFEST  # f"{GUARD_DIR}/manifest.json": the hook reads it without the guard
PTH_NAME = pip_hook.PTH_NAME
SCRIPT_NAME = "conda-pip-guard"
SHELLS = ("sh", "fish", "csh")
_DATA = Path(__file__).resolve().parents[1] / "data"
_MANIFEST_FORMAT = 1
UV_SHIM = f"{SHIMS_DIR}/uv"
# uv's global options (uv-cli's TopLevelArgs, GlobalArgs, CacheArgs; hidden ones and aliases too),
# which may come before and after `pip`: the uv shim skips them to find the command words
UV_VALUE_OPTIONS = (
    "--cache-dir", "--color", "--allow-insecure-host", "--trusted-host", "--preview-features",
    "--preview-feature", "--directory", "--project", "--config-file", "--python-preference",
    "--python-fetch",
)  # fmt: skip
UV_FLAG_OPTIONS = (
    "--quiet", "--verbose", "--no-cache", "--no-cache-dir", "--managed-python", "--no-managed-python",
    "--allow-python-downloads", "--no-python-downloads", "--no-color", "--native-tls", "--no-native-tls",
    "--system-certs", "--no-system-certs", "--offline", "--no-offline", "--preview", "--no-preview",
    "--isolated", "--show-settings", "--no-progress", "--no-installer-metadata", "--no-config", "--help",
    "--version",
)  # fmt: skip


@dataclass(frozen=True)
class InstallResult:
    prefix: Path
    written: tuple[str, ...]
    """Prefix-relative paths written now (new or changed), the manifest included: ``uninstall``
    removes as many."""
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    """Files of an earlier install that this one no longer writes (e.g. after a Python upgrade)."""
    guard_exe: str
    site_packages: str


@dataclass(frozen=True)
class ShimsStatus:
    prefix: Path
    installed: bool
    """A manifest is there."""
    missing: tuple[str, ...] = ()
    """Files the manifest lists that are gone."""
    outdated: tuple[str, ...] = ()
    """Files whose content differs from what ``install`` would write now."""
    on_path: bool = False
    """The shims directory is on ``$PATH`` in the calling environment."""
    guard_exe: str | None = None
    uv_shim: bool = False
    """The ``uv`` shim is there: ``uv pip install|sync|uninstall`` in the env go through the guard."""
    externally_managed: tuple[str, ...] = field(default_factory=tuple)
    """PEP 668 markers in the env (never written or removed by the guard)."""


def sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def csh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def default_guard_exe(environ=os.environ) -> str:
    """The absolute path of the ``guard`` executable to record in the shims and the hook."""
    candidates = []
    if environ.get("GUARD_EXE"):
        candidates.append(environ["GUARD_EXE"])
    if sys.argv and os.path.basename(sys.argv[0]) == "guard":
        candidates.append(sys.argv[0])
    candidates.append(os.path.join(os.path.dirname(sys.executable), "guard"))
    on_path = shutil.which("guard", path=environ.get("PATH"))
    if on_path:
        candidates.append(on_path)
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    raise UsageError("cannot find the guard executable to record in the shims; pass --guard-exe")


def _site_packages(prefix: Path, cache_dir: Path | None) -> tuple[str, str]:
    """(purelib, X.Y) of the env's interpreter."""
    from guard.environment.interpreter import find_interpreter, probe

    interp = probe(find_interpreter(prefix), cache_dir=cache_dir)
    version = ".".join(interp.version.split(".")[:2])
    return interp.purelib, version


def pth_line(hook: str, guard_exe: str, prefix: str) -> str:
    """The one line of ``conda-pip-guard.pth``, run at every start of the env's Python: a few
    string tests of ``sys.argv``, and only for a pip start the hook module is loaded and run.

    When site.py reads the .pth files, ``sys.argv`` is already set and ``sys.argv[0]`` is ``-m``
    for every module run (the module's name is not in it yet), ``-c`` for ``-c``, the script's
    path for a script. So the hook engages only for ``-m`` runs whose module word (the word of
    ``sys.orig_argv`` just before the module's own arguments: ``pip``, ``-mpip``, ``-Impip``,
    ``pip.__main__``) ends in ``pip``/``pip.__main__`` (before 3.10, no ``sys.orig_argv``: every
    ``-m`` run, which the hook then reads from ``/proc/self/cmdline``), and for scripts named
    ``pip``, ``pip3``, ``pipX.Y`` (the env's ``bin/pip*`` run by path). ``python pipeline.py``,
    ``python -c "import pipx"``, ``python -m pytest`` cost the string tests alone.

    The hook module is loaded with importlib's ``SourceFileLoader``, which keeps its bytecode in
    ``etc/conda-pip-guard/__pycache__`` (listed in the manifest: ``hook_cache``), instead of
    compiling its source at every pip start. The line never raises (site.py would print a
    traceback at every such start): a hook file that cannot be read (deleted with
    ``etc/conda-pip-guard/``, the .pth left behind) is skipped without a word. A .pth line is one
    statement line, so the ``try`` is a string of its own, exec'd in a fresh namespace only on
    the pip path."""
    body = (
        "try:\n    from importlib.machinery import SourceFileLoader\n"
        f"    c = SourceFileLoader('conda_pip_guard_hook', {hook!r}).get_code('conda_pip_guard_hook')\n"
        "except (OSError, ImportError):\n    c = None\n"
        f"if c is not None:\n    g = {{'__name__': 'conda_pip_guard_hook', '__file__': {hook!r}}}\n"
        f"    exec(c, g)\n    g['run']({guard_exe!r}, {prefix!r})\n"
    )
    run = f"exec({body!r}, {{}})"
    test = (
        "a = getattr(sys, 'argv', None) or ['']; o = getattr(sys, 'orig_argv', None); "
        "(a[0] == '-m' and (o is None or ''.join(o[-len(a):][:1]).endswith(('pip', 'pip.__main__'))) "
        "or os.path.basename(a[0]).rstrip('0123456789.') == 'pip')"
    )
    return f"import sys; import os; {test} and {run}\n"


def hook_cache(python_version: str) -> str:
    """Prefix-relative: where the env's (CPython) interpreter keeps the hook's bytecode, written at
    the first pip start, not by ``install``; the manifest lists it so that ``uninstall`` and the
    removal advice take it too, and ``status`` never calls it missing."""
    return f"{GUARD_DIR}/__pycache__/pip_hook.cpython-{python_version.replace('.', '')}.pyc"


def _render(template: str, **values: str) -> str:
    text = (_DATA / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def planned_files(
    prefix: Path, guard_exe: str, site_packages: str, python_version: str
) -> dict[str, tuple[bytes, int]]:
    """Prefix-relative path -> (content, mode) of everything ``install`` writes."""
    prefix_s = str(prefix)
    shims_dir = str(prefix / SHIMS_DIR)
    files: dict[str, tuple[bytes, int]] = {}
    shim_names = ("pip", "pip3", f"pip{python_version}")
    for name in shim_names:
        files[f"{SHIMS_DIR}/{name}"] = (b"", 0o755)  # rendered below, once every path is known
    files[UV_SHIM] = (b"", 0o755)
    files[f"{SHIMS_DIR}/{MARKER}"] = (
        b"conda-pip-guard shims: the uv shim skips every directory with this file on PATH\n",
        0o644,
    )
    quote = {"sh": sh_quote, "fish": fish_quote, "csh": csh_quote}
    for shell in SHELLS:
        for stage in ("activate", "deactivate"):
            text = _render(f"{stage}.{shell}", SHIMS_DIR=quote[shell](shims_dir))
            files[f"etc/conda/{stage}.d/{SCRIPT_NAME}.{shell}"] = (text.encode("utf-8"), 0o644)
    hook_path = str(prefix / HOOK_FILE)
    files[HOOK_FILE] = (Path(pip_hook.__file__).read_bytes(), 0o644)
    site_rel = os.path.relpath(site_packages, prefix)
    if site_rel.startswith(".."):
        raise UsageError(f"the env's site-packages {site_packages} is outside {prefix}")
    files[f"{site_rel}/{PTH_NAME}"] = (pth_line(hook_path, guard_exe, prefix_s).encode("utf-8"), 0o644)
    # what the shims advise when the guard is gone: exactly these files and the manifest
    cache = hook_cache(python_version)
    advice = pip_hook.removal_advice([str(prefix / rel) for rel in [*sorted([*files, cache]), MANIFEST]])
    for name in shim_names:
        text = _render(
            "shim-pip.sh",
            NAME=name,
            PREFIX=sh_quote(prefix_s),
            GUARD_EXE=sh_quote(guard_exe),
            VALUE_OPTIONS="|".join(pip_hook.VALUE_OPTIONS),
            FLAG_OPTIONS="|".join(pip_hook.FLAG_OPTIONS),
            SHORT_FLAGS=pip_hook.SHORT_FLAGS,
            REMOVAL_ADVICE=sh_quote(advice),
        )
        files[f"{SHIMS_DIR}/{name}"] = (text.encode("utf-8"), 0o755)
    text = _render(
        "shim-uv.sh",
        PREFIX=sh_quote(prefix_s),
        SHIMS_DIR=sh_quote(shims_dir),
        GUARD_EXE=sh_quote(guard_exe),
        VALUE_OPTIONS="|".join(UV_VALUE_OPTIONS),
        FLAG_OPTIONS="|".join(UV_FLAG_OPTIONS),
        REMOVAL_ADVICE=sh_quote(advice),
    )
    files[UV_SHIM] = (text.encode("utf-8"), 0o755)
    return files


def _read_manifest(prefix: Path) -> dict | None:
    from guard.boundedjson import loads_bounded, read_bounded  # damaged: no manifest, never a RecursionError

    try:
        data = loads_bounded(read_bounded(prefix / MANIFEST))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list) or not isinstance(data.get("dirs"), list):
        return None
    return data


def _write_atomic(path: Path, content: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(content)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _mkdirs(prefix: Path, rel_dir: str, created: list[str]) -> None:
    parts = Path(rel_dir).parts
    for i in range(1, len(parts) + 1):
        rel = "/".join(parts[:i])
        d = prefix / rel
        if not d.is_dir():
            d.mkdir()
            created.append(rel)


def install(prefix: Path, *, guard_exe: str | None = None, cache_dir: Path | None = None) -> InstallResult:
    """Write the shims, activation hooks and ``python -m pip`` hook into ``prefix``. Idempotent:
    a second call rewrites only what changed (and removes what an earlier install wrote that is no
    longer wanted), and keeps the record of the directories the first one created."""
    prefix = Path(os.path.abspath(prefix))
    if not prefix.is_dir():
        raise UsageError(f"environment {prefix} does not exist")
    if not (prefix / "conda-meta").is_dir():
        # guard pip runs plain pip there (nothing is conda's), and a venv's activate script never
        # runs etc/conda/activate.d: the shims would only cost time
        raise UsageError(
            f"{prefix} is not a conda environment (no conda-meta/): nothing there is conda's to "
            "protect, and a venv's activate never runs conda's activation hooks; nothing was written"
        )
    guard_exe = os.path.abspath(guard_exe) if guard_exe else default_guard_exe()
    site_packages, version = _site_packages(prefix, cache_dir)
    files = planned_files(prefix, guard_exe, site_packages, version)
    old = _read_manifest(prefix) or {"files": [], "dirs": []}
    created: list[str] = list(old["dirs"])
    written, unchanged = [], []
    for rel in sorted(files):
        content, mode = files[rel]
        path = prefix / rel
        _mkdirs(prefix, os.path.dirname(rel), created)
        try:
            same = path.read_bytes() == content and (path.stat().st_mode & 0o777) == mode
        except OSError:
            same = False
        if same:
            unchanged.append(rel)
        else:
            _write_atomic(path, content, mode)
            written.append(rel)
    removed = []
    cache = hook_cache(version)
    for rel in old["files"]:
        if rel not in files and rel not in (cache, MANIFEST):
            _remove_file(prefix, rel)
            removed.append(rel)
    listed = sorted([*files, cache])  # the hook's bytecode, written by its first pip start
    manifest = {"format": _MANIFEST_FORMAT, "guard_exe": guard_exe, "files": listed, "dirs": created}
    content = (json.dumps(manifest, indent=1) + "\n").encode("utf-8")
    try:
        same = (prefix / MANIFEST).read_bytes() == content
    except OSError:
        same = False
    if same:
        unchanged.append(MANIFEST)
    else:  # counted like every other file: uninstall removes it too
        _write_atomic(prefix / MANIFEST, content, 0o644)
        written.append(MANIFEST)
    _remember(prefix, cache_dir)
    return InstallResult(prefix, tuple(written), tuple(unchanged), tuple(removed), guard_exe, site_packages)


def _remember(prefix: Path, cache_dir: Path | None) -> None:
    """Keep a copy of the env's protected conda records (``guard.remembered``, when present), so
    that ``guard doctor`` can tell later what conda had installed."""
    try:
        from guard.act import remembered
        from guard.environment.snapshot import snapshot
        from guard.policy.config import load_policy

        environ = dict(os.environ)
        policy, _ = load_policy(prefix, environ)
        remembered.remember(snapshot(prefix, cache_dir=cache_dir), policy, prefix, environ)
    except Exception:  # noqa: BLE001 - remembering is a convenience; installing the shims is not
        pass


def _remove_file(prefix: Path, rel: str) -> None:
    path = prefix / rel
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    if rel.endswith(".py"):  # the hook's bytecode of another Python version than the manifest names
        cache = path.parent / "__pycache__"
        for pyc in cache.glob(f"{path.stem}.*.pyc") if cache.is_dir() else ():
            pyc.unlink()


def uninstall(prefix: Path) -> tuple[str, ...]:
    """Remove everything ``install`` wrote and every directory it created (when empty), so that
    the prefix is as it was before. Returns the removed paths; ``()`` when nothing was installed."""
    prefix = Path(os.path.abspath(prefix))
    manifest = _read_manifest(prefix)
    if manifest is None:
        return ()
    removed = []
    for rel in manifest["files"]:
        if (prefix / rel).exists() or (prefix / rel).is_symlink():
            removed.append(rel)
        _remove_file(prefix, rel)
    (prefix / MANIFEST).unlink(missing_ok=True)
    removed.append(MANIFEST)
    for rel in sorted(manifest["dirs"], key=lambda r: r.count("/"), reverse=True):
        d = prefix / rel
        cache = d / "__pycache__"
        if cache.is_dir() and not any(cache.iterdir()):
            cache.rmdir()
        try:
            d.rmdir()
        except OSError:
            pass  # not empty: something else put files there since
    return tuple(removed)


def status(prefix: Path, environ, *, cache_dir: Path | None = None) -> ShimsStatus:
    """What is installed in ``prefix`` and whether it is what ``install`` would write now."""
    prefix = Path(os.path.abspath(prefix))
    markers = tuple(sorted(str(p.relative_to(prefix)) for p in prefix.glob("lib/python*/EXTERNALLY-MANAGED")))
    shims_dir = prefix / SHIMS_DIR
    on_path = any(os.path.abspath(p or ".") == str(shims_dir) for p in environ.get("PATH", "").split(os.pathsep))
    manifest = _read_manifest(prefix)
    if manifest is None:
        return ShimsStatus(prefix, False, on_path=on_path, externally_managed=markers)
    missing = tuple(
        rel for rel in manifest["files"] if not (prefix / rel).exists() and "/__pycache__/" not in rel
    )  # the hook's bytecode: written at its first pip start, when the env's dir is writable
    outdated = []
    guard_exe = manifest.get("guard_exe")
    try:
        site_packages, version = _site_packages(prefix, cache_dir)
        wanted = planned_files(prefix, guard_exe or default_guard_exe(environ), site_packages, version)
    except Exception:  # noqa: BLE001 - status reports; it must not fail on a broken env
        wanted = {}
    for rel, (content, _mode) in wanted.items():
        path = prefix / rel
        if rel not in missing and (not path.exists() or path.read_bytes() != content):
            outdated.append(rel)
    uv_shim = (prefix / UV_SHIM).is_file()
    return ShimsStatus(prefix, True, missing, tuple(outdated), on_path, guard_exe, uv_shim, markers)
