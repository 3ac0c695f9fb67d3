"""What the requirements hook reports, and where it points: one ``Finding`` per output line, and
the ``Source`` whose lines the findings name (a requirements file, or the ``pip:`` section of an
environment file, which pip reads from a temporary copy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # conda_side reports its findings with Finding
    from guard.hooks.conda_side import CondaSide


@dataclass(frozen=True)
class Finding:
    """One line of output. ``severity``: ``error`` (fails the hook), ``warning``, ``note``
    (shown, never fail) or ``skipped`` (a check that could not run; fails only with --strict)."""

    path: str | None
    line: int | None
    message: str
    severity: str = "error"

    def render(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        label = f"{self.severity}: " if self.severity in ("warning", "note") else ""
        return f"{where}{label}{self.message}"


@dataclass
class Source:
    """Requirements to check against one conda side."""

    shown: str  # the file as the user sees it
    conda: CondaSide
    argv: list[str]  # pip install arguments that read it
    in_env_file: bool = False  # the pip: section of ``conda.source``
    line_map: dict[str, tuple[str, int]] = field(default_factory=dict)  # temp origin -> (file, line)
    constraint: bool = False

    def where(self, origin: str) -> tuple[str, int | None]:
        """The user's file and line of a requirement's ``origin`` (``file:line`` as pip's parser
        names it; a temporary copy's lines mapped back to environment.yml)."""
        if origin in self.line_map:
            return self.line_map[origin]
        path, _, line = origin.rpartition(":")
        if path and line.isdigit():
            return path, int(line)
        return origin, None

    def rewrite(self, message: str) -> str:
        """``message`` with every temporary copy's ``file:line`` replaced by the user's."""
        for origin, (path, line) in sorted(self.line_map.items(), key=lambda kv: -len(kv[0])):
            message = message.replace(origin, f"{path}:{line}")
        return message
