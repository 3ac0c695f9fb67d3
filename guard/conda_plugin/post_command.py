"""After ``conda create/install/update`` and ``conda env create/update``, with ``pip_guard: auto``:
the target environment gets the guard's shims (:func:`guard.integrate.shims.install`, idempotent:
an environment that has them is left as it is) and the guard's remembered protected records are
refreshed (``shims.install`` remembers them, :mod:`guard.act.remembered`), since conda just
changed what conda owns there.

Never fails conda's command: whatever goes wrong is one warning line (conda has finished its work
when this runs). An environment without ``conda-meta/`` or without Python is skipped silently: no
pip can change it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from guard.conda_plugin.settings import DISABLE_COMMAND

RUN_FOR = frozenset({"create", "install", "update", "env_create", "env_update"})
"""conda's names of these commands as ``invoke_post_commands`` passes them (25.11.1:
``conda/cli/conda_argparse.py::do_call``, the module name of ``args.func`` less ``main_``)."""


def guard_environment(prefix: Path, environ: Mapping[str, str]) -> list[str]:
    """Install (or keep) the shims in ``prefix`` and refresh the remembered records; the lines
    to print on stderr (none when the environment was already guarded)."""
    from guard.environment.interpreter import find_interpreter
    from guard.errors import GuardError
    from guard.integrate.shims import install
    from guard.pipeline.check import default_cache_dir

    prefix = Path(os.path.abspath(prefix))
    if not (prefix / "conda-meta").is_dir():
        return []
    try:
        find_interpreter(prefix)
    except GuardError:
        return []
    try:
        result = install(prefix, cache_dir=default_cache_dir(environ))
    except (GuardError, OSError) as err:
        return [f"conda-pip-guard: warning: pip is not guarded in {prefix}: {err}"]
    if not result.written:
        return []
    return [
        f"conda-pip-guard: pip install in {prefix} is guarded now (shims installed; re-activate the "
        f"environment to use them; off: {DISABLE_COMMAND}, then conda guard -p {prefix} shims uninstall)"
    ]
