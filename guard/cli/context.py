"""What every command shares: the ``--prefix`` option, and the :class:`Context` that finds the
environment a command works on, once.

The environment: ``--prefix``, else that of pip's own ``--python`` among the pip arguments (pip runs
there; ``guard check`` only), else the active conda env (:func:`guard.environment.snapshot.default_prefix`:
one line when there is none; a pyenv, system or venv ``python`` first on PATH is never taken for one).
``guard pip`` finds its own (:func:`guard.act.guarded_pip.target_prefix`, the hot path without click),
from the same ``PipCommand.python_prefix`` and ``default_prefix``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from guard.errors import GuardError

if TYPE_CHECKING:
    from guard.pipeline import check


def prefix_option(what: str = "The environment to judge", *, file_okay: bool = False) -> Callable:
    """``--prefix DIR``: ``what`` the command does with it starts the help line."""
    import click  # here: ``guard check``'s front (:mod:`guard.cli.check_run`) resolves a Context without click

    return click.option(
        "--prefix",
        type=click.Path(file_okay=file_okay, path_type=Path),
        default=None,
        help=f"{what} (default: $CONDA_PREFIX, else this Python's prefix).",
    )


def allow_build_option(f):
    import click

    return click.option(
        "--allow-build",
        is_flag=True,
        help="Let pip's own dry run build what only a build can describe (runs its setup.py or build "
        "backend); also allow_build: true in the configuration. Off by default.",
    )(f)


@dataclass(frozen=True)
class Context:
    """The environment one command works on, found once (:meth:`resolve`)."""

    given: Path
    """As named (``--prefix``) or found, not yet made absolute."""
    environ: Mapping[str, str]
    cwd: str

    @classmethod
    def resolve(
        cls,
        prefix: Path | None,
        pip_args: Sequence[str] = (),
        *,
        missing: Callable[[str], Exception] | None = None,
    ) -> Context:
        """``--prefix``, else pip's ``--python`` in ``pip_args``, else the active environment.
        No active one: ``EnvironmentReadError``; a prefix that is no directory: ``missing``
        (default ``click.UsageError``)."""
        environ = dict(os.environ)
        if prefix is None and pip_args:
            from guard.request.command import PipCommand

            prefix = PipCommand.parse(pip_args).python_prefix()
        if prefix is None:
            from guard.environment.snapshot import default_prefix

            prefix = default_prefix(environ)  # none active: EnvironmentReadError
        if not prefix.is_dir():
            if missing is None:
                import click

                missing = click.UsageError
            raise missing(f"--prefix {prefix}: no such directory")
        return cls(prefix, environ, os.getcwd())

    @property
    def is_active(self) -> bool:
        """Whether it is the active environment (``guard doctor`` names another one in its fixes);
        found when asked (with a ``--prefix``, finding the active one may search ``PATH``)."""
        from guard.environment.snapshot import default_prefix

        try:
            active = default_prefix(self.environ)
        except GuardError:
            return False
        return os.path.realpath(active) == os.path.realpath(self.given)

    @property
    def prefix(self) -> Path:
        """Absolute, symlinks kept (as the user names it in commands to run)."""
        return Path(os.path.abspath(self.given))

    @property
    def cache_dir(self) -> Path:
        from guard.pipeline.check import default_cache_dir

        return default_cache_dir(self.environ)

    def for_pipeline(self, allow_build: bool | None = None) -> check.Context:
        """The pipeline's context, the prefix resolved. ``allow_build``: the ``--allow-build`` flag
        of a command that simulates (builds are then allowed by it or by ``allow_build: true`` in
        the configuration); None for a command that simulates nothing (no configuration read)."""
        from guard.pipeline.check import Context as PipelineContext

        prefix = self.given.resolve()
        allowed = False
        if allow_build is not None:
            from guard.policy.config import build_allowed

            allowed = allow_build or build_allowed(prefix, self.environ)
        return PipelineContext(
            prefix=prefix, environ=self.environ, cwd=self.cwd, cache_dir=self.cache_dir, allow_build=allowed
        )
