"""conda-pip-guard: simulate ``pip install`` in a conda environment and stop it from replacing
what conda installed.

The pipeline, one module per stage:

    pip argv -> request (pip_args) -> environment snapshot (environment) -> resolution (index,
    provider, simulate) -> plan (simulate) -> verdict (policy) -> action (cli, action) + journal
"""

__version__ = "0.1.0"
