"""conda package names -> PyPI project names (the reverse of the redirect's direction).

Data: ``guard/data/conda_to_pypi.json`` (its ``source`` and ``derivation`` fields say where it
comes from). A conda package has a PyPI name when it ships that Python distribution:

* ``renamed``: conda names that differ from the PyPI name (``pytorch`` -> ``torch``,
  ``matplotlib-base`` -> ``matplotlib``, ``torchtriton`` -> ``triton``);
* ``same_name``: conda-forge packages named exactly like the (normalized) PyPI dist they ship;
* ``cuda_runtime``: CUDA runtime/toolkit packages (``cudatoolkit``, ``cuda-cudart``,
  ``pytorch-cuda``...): no PyPI name, but they mean "conda provides CUDA here";
* ``not_python``: conda packages that are the environment itself (``python``, ``pip``,
  mutex packages).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources



@lru_cache(maxsize=None)
def _data() -> dict:
    data = json.loads(resources.files("guard").joinpath("data/conda_to_pypi.json").read_text(encoding="utf-8"))
    # the same-name list is shared with the redirect's names (one copy in the package)
    names = json.loads(resources.files("guard").joinpath("data/pypi_to_conda.json").read_text(encoding="utf-8"))
    data["_same_name"] = frozenset(names["same_name"].split())
    data["_cuda"] = frozenset(data["cuda_runtime"])
    data["_cuda_patterns"] = [re.compile(p) for p in data["cuda_runtime_patterns"]]
    return data


def _conda_key(conda_name: str) -> str:
    """conda names are lower-case and not normalized (``typing_extensions`` is its own name)."""
    return conda_name.strip().lower()


def is_conda_cuda_runtime(conda_name: str) -> bool:
    """A conda package that is (part of) a CUDA runtime or toolkit: ``cudatoolkit``,
    ``cuda-cudart``, ``libcublas``, ``cudnn``, ``nccl``, ``pytorch-cuda``, ``cuda-version``..."""
    name = _conda_key(conda_name)
    data = _data()
    return name in data["_cuda"] or any(p.match(name) for p in data["_cuda_patterns"])


def pypi_name_for_conda(conda_name: str) -> str | None:
    """The PyPI project (normalized) whose distribution the conda package ships, or None when it
    ships none that is known (CUDA runtimes, C libraries, ``python`` itself)."""
    name = _conda_key(conda_name)
    data = _data()
    if name in data["not_python"] or is_conda_cuda_runtime(name):
        return None
    if name in data["renamed"]:
        return data["renamed"][name]
    if name in data["_same_name"]:
        return name
    return None


def conda_forge_name_for_pypi(pypi_name: str) -> str | None:
    """The conda-forge package that ships the PyPI project ``pypi_name`` (None when none does).
    One mapping for the whole product: the redirect's (``guard.conda_specs``)."""
    from guard.policy.conda_specs import conda_forge_name

    return conda_forge_name(pypi_name)