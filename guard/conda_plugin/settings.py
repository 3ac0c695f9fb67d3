"""The plugin's two conda settings, read by conda as ``context.plugins.<name>`` (``.condarc``:
``plugins: {pip_guard: auto}``; ``conda config --set plugins.pip_guard auto``; environment:
``CONDA_PLUGINS_PIP_GUARD=auto``). Pure data and validation: conda reads the values, the hooks
ask :mod:`guard.conda_plugin.conda_context` for them.

- ``pip_guard``: ``off`` (default) or ``auto``. ``auto``: after ``conda create``, ``install``,
  ``update``, ``env create`` and ``env update`` the target environment gets the guard's shims
  (idempotent) and the guard's remembered protected records are refreshed.
- ``pip_guard_overwrites``: ``warn`` (default) or ``refuse``. What the post-solve hook does when
  conda's planned transaction would overwrite or remove distributions that pip installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    allowed: tuple[str, ...]
    description: str

    def validate(self, value: object) -> bool | str:
        """conda's ``Parameter(validation=...)`` contract: True when valid, else a message
        (conda shows it as ``Parameter <name> = <value> declared in <source> is invalid.`` and the
        message)."""
        if isinstance(value, str) and value.strip().lower() in self.allowed:
            return True
        return f"{self.name} must be one of {', '.join(self.allowed)} (conda-pip-guard), not {value!r}"

    def read(self, value: object) -> str:
        """``value`` as one of :attr:`allowed`; raises :class:`BadSetting` (one line) otherwise."""
        verdict = self.validate(value)
        if verdict is not True:
            raise BadSetting(f"plugins.{verdict}")
        return str(value).strip().lower()


class BadSetting(ValueError):
    """A setting's value is none of its allowed values (``str(err)`` is one line)."""


PIP_GUARD = Setting(
    "pip_guard",
    "off",
    ("off", "auto"),
    "conda-pip-guard: 'auto' guards pip in every environment conda creates, installs into or "
    "updates (installs the guard's pip shims there); 'off' (default) leaves environments alone.",
)
PIP_GUARD_OVERWRITES = Setting(
    "pip_guard_overwrites",
    "warn",
    ("warn", "refuse"),
    "conda-pip-guard: when conda would overwrite or remove distributions that pip installed: "
    "'warn' (default) names them and goes on; 'refuse' stops conda before anything changes.",
)
SETTINGS: Mapping[str, Setting] = {s.name: s for s in (PIP_GUARD, PIP_GUARD_OVERWRITES)}

ENABLE_COMMAND = "conda config --set plugins.pip_guard auto"
DISABLE_COMMAND = "conda config --set plugins.pip_guard off"
REFUSE_COMMAND = "conda config --set plugins.pip_guard_overwrites refuse"


def validation_of(name: str) -> Callable[[object], bool | str]:
    return SETTINGS[name].validate
