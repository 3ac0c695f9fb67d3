"""One root exception for everything this package raises on purpose.

Each subclass belongs to one boundary and carries the exit code the CLI uses for it, so that the
CLI can turn any of them into one line on stderr and a documented exit status.
"""

from __future__ import annotations


class GuardError(Exception):
    """Root of all errors raised by conda-pip-guard on purpose. ``str(err)`` is one line."""

    exit_code = 2


class UsageError(GuardError):
    """The command line or an input file is malformed (exit 2)."""

    exit_code = 2


class RequirementsFileError(UsageError):
    """A requirements or constraints file is missing or has a line pip would reject (exit 2)."""


class EnvironmentReadError(GuardError):
    """The target environment cannot be read (no interpreter, unreadable site-packages) (exit 2)."""

    exit_code = 2


class IndexUnavailable(GuardError):
    """The package index could not answer (unreachable, HTTP error, garbage, timeout) (exit 3)."""

    exit_code = 3


class ResolutionImpossible(GuardError):
    """No set of versions satisfies the request; pip would fail too (exit 3: nothing to judge)."""

    exit_code = 3


class SimulationError(GuardError):
    """The simulation could not be made exact and the pip fallback failed too (exit 3)."""

    exit_code = 3


class NeedsPipFallback(GuardError):
    """The fast path cannot be exact here (dynamic metadata, VCS URL, an option it does not
    model); the caller falls back to pip's own ``--dry-run --report``. ``str(err)`` says why."""

    exit_code = 3


class NeedsBuild(NeedsPipFallback):
    """An sdist from an index whose dependencies only a build can tell (its PKG-INFO is not
    reliable, PEP 643). The resolver asks for that one distribution's metadata to be built (when
    builds are allowed) rather than handing the whole command to pip; a caller that builds
    nothing treats it as :class:`NeedsPipFallback`. ``str(err)`` says why."""


class BuildNotAllowed(SimulationError):
    """Only pip's own dry run could tell (it runs package build code: ``setup.py``, a build
    backend) and building was not allowed (``--allow-build``, ``allow_build: true``) (exit 3)."""

    exit_code = 3
