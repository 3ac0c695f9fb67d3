"""conda-pip-guard: simulate ``pip install`` in a conda environment and stop it from replacing
what conda installed.

The pipeline, one package per stage:

    pip argv -> request (guard.request) -> environment snapshot (guard.environment) -> resolution
    (guard.index, guard.resolve) -> plan (guard.resolve) -> verdict (guard.policy) -> action
    (guard.act) + journal, wired by guard.pipeline; faces in guard.cli, guard.integrate, guard.hooks
"""

__version__ = "0.1.0"
