"""The ``python -m pip`` hook: hands ``pip install``/``uninstall`` run by a Python to the guard.

Two lives, both standard library only (it runs in the *environment's* Python, which may be older
than the guard's and may not have the guard installed):

* ``guard shims install`` copies this file to ``$PREFIX/etc/conda-pip-guard/pip_hook.py`` and puts
  one line in the env's site-packages (``conda-pip-guard.pth``, see ``shims.pth_line``). At every
  start of that Python the line tests ``sys.argv`` (a ``-m`` run of a module named ``*pip``, or a
  script named ``pip*``: string tests, no import) and only then loads this file (its bytecode
  cached) and calls ``run``, which decides exactly and, for ``install``/``uninstall``,
  replaces the process by ``guard pip ARGS`` (``os.execv``): ``python -m pip``, ``-mpip``,
  ``-Im pip``, Jupyter's ``%pip`` (``sys.executable -m pip``) and the env's ``bin/pip*`` scripts
  run by path. ``$GUARD_ACTIVE=1`` (set by the guard for the pip it runs) turns it off.
* ``guard shims install`` reads its parsing tables and writes them into the sh shims, so that the
  hook and the shims find pip's subcommand the same way; the guard itself reads the command line
  with ``guard.request.command.PipCommand``, and ``tests/test_pip_command.py`` proves that it and
  ``pip_subcommand`` agree (the subcommand word and its position).
"""

from __future__ import annotations

import os
import sys

# pip's general options (pip/_internal/cli/cmdoptions.py general_group and the main parser,
# pip 23.x-26.x): none of the short ones takes a value. The guard reads the same table in
# guard/request/command.py (PipCommand); tests/test_pip_command.py proves that both agree.
VALUE_OPTIONS = (
    "--python",
    "--log",
    "--log-file",
    "--local-log",
    "--keyring-provider",
    "--proxy",
    "--retries",
    "--timeout",
    "--default-timeout",
    "--exists-action",
    "--trusted-host",
    "--cert",
    "--client-cert",
    "--cache-dir",
    "--use-feature",
    "--use-deprecated",
    "--resume-retries",
)
FLAG_OPTIONS = (
    "--help",
    "--version",
    "--debug",
    "--isolated",
    "--require-virtualenv",
    "--require-venv",
    "--verbose",
    "--quiet",
    "--no-input",
    "--no-proxy-env",
    "--no-cache-dir",
    "--disable-pip-version-check",
    "--no-color",
    "--no-python-version-warning",
)
SHORT_FLAGS = "hvVq"
GUARDED = ("install", "uninstall")
PTH_NAME = "conda-pip-guard.pth"
MANIFEST = "etc/conda-pip-guard/manifest.json"
"""Prefix-relative: what ``guard shims install`` wrote (``guard.shims`` uses the same names)."""
UNSURE = "?"
"""``pip_subcommand``'s answer when pip itself would reject the general options (unknown or
ambiguous): the guard then lets pip say so; the shims and the hook hand it to the guard."""


def _long_option(word: str) -> str | None:
    """optparse's reading of ``--name``: the option itself, or the one option it abbreviates."""
    if word in VALUE_OPTIONS or word in FLAG_OPTIONS:
        return word
    matches = [o for o in VALUE_OPTIONS + FLAG_OPTIONS if o.startswith(word)]
    return matches[0] if len(matches) == 1 else None


def pip_subcommand(args) -> tuple[str | None, dict]:
    """pip's subcommand word in ``args`` (pip's arguments) read the way pip's optparse reads its
    general options, abbreviations included, and the general options that take a value (by their
    full name). ``(None, ...)``: no subcommand; ``(UNSURE, ...)``: pip would reject the options."""
    index, values = _subcommand_position(args)
    if isinstance(index, int):
        return list(args)[index], values
    return index, values


def subcommand_index(args) -> int | None:
    """Where pip's subcommand word is in ``args`` (None: none, or pip would reject the options)."""
    index, _ = _subcommand_position(args)
    return index if isinstance(index, int) else None


def _subcommand_position(args) -> tuple[int | str | None, dict]:
    values: dict = {}
    args = list(args)
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            return (i + 1 if i + 1 < len(args) else None), values
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            option = _long_option(name)
            if option is None:
                return UNSURE, values
            if option in VALUE_OPTIONS:
                if not eq:
                    if i + 1 >= len(args):
                        return UNSURE, values
                    i += 1
                    value = args[i]
                values[option] = value
            elif eq:
                return UNSURE, values  # a flag given a value: pip's error
        elif word.startswith("-") and word != "-":
            if any(c not in SHORT_FLAGS for c in word[1:]):
                return UNSURE, values
        else:
            return i, values
        i += 1
    return None, values


# ---- the hook proper: runs in the environment's Python, from the .pth line ----------------------

# CPython's command-line options that take a value (they may be glued: -Wignore, -Xutf8)
_PY_VALUE_FLAGS = "WX"
_PY_LONG_VALUE = ("--check-hash-based-pycs",)


def python_module_argv(argv) -> tuple[int, str] | None:
    """For a Python command line (``sys.orig_argv``): ``(n, module)`` when it runs ``-m module``,
    ``n`` being how many leading words (interpreter, options, ``-m module``) come before the
    module's own arguments; None for a script, ``-c``, or no module."""
    i = 1
    while i < len(argv):
        word = argv[i]
        if word in _PY_LONG_VALUE:
            i += 2
            continue
        if not word.startswith("-") or word == "-" or word.startswith("--"):
            return None
        j = 1
        while j < len(word):
            c = word[j]
            if c == "c":
                return None
            if c == "m":
                if j + 1 < len(word):
                    return i + 1, word[j + 1 :]
                return (i + 2, argv[i + 1]) if i + 1 < len(argv) else None
            if c in _PY_VALUE_FLAGS:
                if j + 1 == len(word):
                    i += 1  # the value is the next word
                break
            j += 1
        i += 1
    return None


def _is_pip_script(path: str) -> bool:
    name = os.path.basename(path)
    return name.startswith("pip") and all(c.isdigit() or c == "." for c in name[3:])


def _command_line() -> list[str]:
    argv = getattr(sys, "orig_argv", None)
    if argv:
        return list(argv)
    try:  # Python < 3.10 (Linux): the process's own command line
        with open("/proc/self/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [os.fsdecode(a) for a in raw.split(b"\0")[:-1]]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def removal_advice(paths) -> str:
    """What to do when the guard executable is gone (the hook and the shims print it): reinstall
    it, or delete exactly the files ``guard shims install`` wrote, as one ``rm`` command to copy
    (absolute ``paths``, the ``.pth`` first: without it nothing is left that runs at a Python
    start). Works without the guard, unlike ``guard shims uninstall``."""
    paths = sorted(paths, key=lambda p: not p.endswith(".pth"))  # stable: the rest keep their order
    if not paths:
        return "  To fix: reinstall conda-pip-guard."
    lines = ["  To fix: reinstall conda-pip-guard, or remove its hooks from this environment:", "    rm -f -- \\"]
    lines += ["      " + _sh_quote(p) + (" \\" if i + 1 < len(paths) else "") for i, p in enumerate(paths)]
    return "\n".join(lines)


def installed_files(prefix: str) -> list[str]:
    """The absolute paths of the files ``guard shims install`` wrote in ``prefix``: those its
    manifest lists, and the manifest itself; without a readable manifest, those found by name."""
    import json

    try:
        with open(os.path.join(prefix, MANIFEST), encoding="utf-8") as f:
            rels = [r for r in json.load(f)["files"] if isinstance(r, str)]
        return [os.path.join(prefix, r) for r in rels + [MANIFEST]]
    except (OSError, ValueError, TypeError, KeyError):
        pass
    found = []
    for root, _dirs, names in os.walk(os.path.join(prefix, "etc", "conda-pip-guard")):
        found += [os.path.join(root, n) for n in sorted(names)]
    for stage in ("activate.d", "deactivate.d"):
        directory = os.path.join(prefix, "etc", "conda", stage)
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            names = []
        found += [os.path.join(directory, n) for n in names if n.startswith("conda-pip-guard.")]
    for entry in sys.path:
        pth = os.path.join(entry or ".", PTH_NAME)
        if os.path.isfile(pth) and pth not in found:
            found.append(pth)
    return found


def run(guard_exe: str, prefix: str) -> None:
    """Called at interpreter start (from the .pth line) when the command line may run pip.
    Returns at once unless this Python is about to run pip install/uninstall for ``prefix``."""
    if os.environ.get("GUARD_ACTIVE") == "1":
        return
    if os.path.realpath(sys.prefix) != os.path.realpath(prefix):
        return  # a venv made from this env's Python that reads its site-packages: not ours
    argv = _command_line()
    found = python_module_argv(argv)
    if found is not None and found[1] in ("pip", "pip.__main__"):
        n = found[0]
        pip_python = [sys.executable] + argv[1:n]
        real_pip = None
    elif found is None and len(argv) > 1 and _is_pip_script(argv[1]) and not argv[1].startswith("-"):
        n = 2
        pip_python = None
        real_pip = argv[1]
    else:
        return
    pip_args = argv[n:]
    command, _ = pip_subcommand(pip_args)
    if command not in GUARDED and command != UNSURE and "--guard-disable" not in pip_args:
        return
    if command == "install" and pip_args[pip_args.index("install") + 1 :][:1] == ["--dry-run"]:
        return  # the guard's own fallback asks pip for a dry run: it changes nothing
    env = dict(os.environ)
    env["GUARD_PREFIX"] = sys.prefix
    if real_pip is not None:
        env["GUARD_REAL_PIP"] = os.path.abspath(real_pip)
        env.pop("GUARD_PIP_PYTHON", None)
    else:
        import json

        env["GUARD_PIP_PYTHON"] = json.dumps(pip_python)
        env.pop("GUARD_REAL_PIP", None)
    exe = guard_exe if os.access(guard_exe, os.X_OK) else None
    if exe is None:
        import shutil

        exe = shutil.which("guard")
    if exe is None:
        if _truthy(os.environ.get("GUARD_DISABLE")):
            sys.stderr.write(
                f"conda-pip-guard: warning: the guard is not installed ({guard_exe}); "
                "GUARD_DISABLE=1: pip runs unguarded\n"
            )
            return
        sys.stderr.write(
            f"conda-pip-guard: cannot find the guard ({guard_exe}, nor guard on PATH): pip did not "
            "run.\n  GUARD_DISABLE=1 runs it unguarded.\n"
            f"{removal_advice(installed_files(prefix))}\n"
        )
        sys.stderr.flush()
        os._exit(3)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(exe, [exe, "pip"] + pip_args, env)
