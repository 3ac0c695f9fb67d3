"""Before ``conda env create/update -f environment.yml``: the requirements hook's check of the
file's ``pip:`` section against its own conda dependencies (:func:`guard.hooks.requirements.check`,
what ``guard check-requirements environment.yml`` reports). An error there (pip would replace a
protected package the conda section installs, a CUDA runtime wheel beside conda's CUDA, a
resolution that needs another version of a conda package) refuses the command before conda
starts: nothing is created. Warnings and skipped checks are printed and conda goes on.

Runs whenever the plugin is installed (it only reads a file), whatever ``pip_guard`` says;
``GUARD_DISABLE=1`` skips it, with one warning line. A file that is absent, unreadable, no YAML
or no environment.yml at all (``-f requirements.txt``) is left to conda, which reports it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

RUN_FOR = frozenset({"env_create", "env_update"})


@dataclass(frozen=True)
class Outcome:
    """What the check says: ``refusal`` (the message of the error to raise) or None, and the
    lines to print on stderr either way."""

    refusal: str | None
    lines: tuple[str, ...] = ()


def check_environment_file(env_file: str, environ: Mapping[str, str], cwd: str, argv: Sequence[str] = ()) -> Outcome:
    """The pre-command decision for ``env_file`` (as given to ``-f``, relative to ``cwd``).
    ``argv``: conda's command line, repeated in the override hint."""
    from guard.act.action import is_disabled
    from guard.hooks.conda_side import EnvFileError, read_environment_file
    from guard.hooks.requirements import Options, check
    from guard.pipeline.check import default_cache_dir

    path = Path(cwd, env_file)
    if not env_file.lower().endswith((".yml", ".yaml")) or not path.is_file():
        return Outcome(None)
    if is_disabled(environ):
        return Outcome(
            None, (f"conda-pip-guard: warning: GUARD_DISABLE is set: {env_file}'s pip: section not checked",)
        )
    try:
        _, entries, file_problems = read_environment_file(path, env_file)
    except EnvFileError:
        return Outcome(None)  # conda reads the file next and says what is wrong with it
    if not entries:
        return Outcome(None)
    opts = Options(environ=environ, cwd=cwd, cache_dir=default_cache_dir(environ), index_url=None, suggest_conda=False)
    # the findings about the pip: section; what is wrong with the file itself is conda's to report
    findings = [f for f in check([env_file], environment=None, prefix=None, opts=opts) if f not in file_problems]
    errors = [f for f in findings if f.severity == "error"]
    others = tuple(f"conda-pip-guard: {f.render()}" for f in findings if f.severity != "error")
    if not errors:
        return Outcome(None, others)
    command = " ".join(shlex.quote(a) for a in (argv or ("conda", "env", "create", "-f", env_file)))
    lines = [f"conda-pip-guard: refused: the pip: section of {env_file} fights its conda dependencies:"]
    lines += [f"  {f.render()}" for f in errors]
    lines += [
        "Nothing was created or changed. Drop these from pip: (conda installs them) or move them to the",
        "conda dependencies; details: guard check-requirements " + shlex.quote(env_file),
        f"Override (pip may replace conda's packages): GUARD_DISABLE=1 {command}",
    ]
    return Outcome("\n".join(lines), others)


def conda_argv(argv: Sequence[str]) -> list[str]:
    """``sys.argv`` as the user typed it (``conda`` for the executable's path)."""
    words = list(argv)
    if words:
        words[0] = os.path.basename(words[0]) or "conda"
    return words
