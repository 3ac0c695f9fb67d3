"""Package names and families: PEP 503 normalization, the protected torch stack and numpy, and
CUDA runtimes on the conda and PyPI sides. Data: ``guard/data/cuda.json`` (its ``source`` field
says where it comes from). PyPI and conda names translated into each other, and conda match
specs, are :mod:`guard.policy.conda`'s."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

_NAME_RUN = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """PEP 503 normalization (``packaging.utils.canonicalize_name``'s result, without the ~10 ms
    its import costs on the warm path of every guarded install)."""
    return _NAME_RUN.sub("-", name).lower()


#: Protected by default when conda owns them (PyPI project names).
DEFAULT_PROTECTED = frozenset({"torch", "torchvision", "torchaudio", "triton", "numpy"})


@cache
def _cuda_data() -> dict:
    return json.loads((Path(__file__).resolve().parents[1] / "data" / "cuda.json").read_text(encoding="utf-8"))


@cache
def conda_cuda_runtime_names() -> frozenset:
    """conda package names that make up a CUDA runtime (cudatoolkit, cuda-cudart, libcublas, ...)."""
    return frozenset(_cuda_data()["conda_cuda_runtime"])


@cache
def _wheel_pattern():
    return re.compile(_cuda_data()["pypi_cuda_wheel_pattern"])


def is_pypi_cuda_wheel(name: str) -> bool:
    """A PyPI distribution that ships CUDA runtime libraries (``nvidia-cublas-cu12``,
    ``nvidia-cudnn-cu13``, CUDA 13's unsuffixed ``nvidia-cublas``, ``cuda-toolkit``, ``triton``),
    not a pure-Python binding such as ``nvidia-ml-py``."""
    data = _cuda_data()
    name = canonical_name(name)
    if name in data["pypi_not_cuda_runtime"]:
        return False
    return name in data["pypi_cuda_wheel_extra"] or bool(_wheel_pattern().match(name))


def conda_equivalent_of_cuda_wheel(name: str) -> list[str]:
    """conda-forge packages shipping the same library as a PyPI CUDA wheel (may be empty)."""
    base = re.sub(r"-cu\d+$", "", canonical_name(name))
    return list(_cuda_data()["pypi_to_conda_forge"].get(base, []))


@cache
def known_pypi_cuda_wheels() -> tuple:
    """Every PyPI CUDA runtime wheel the reference data names: each ``nvidia-*`` project in its
    CUDA 11/12 suffixed and CUDA 13 unsuffixed forms, plus ``cuda-toolkit`` and the Triton
    wheels. What the safety net keeps out while conda provides the CUDA runtime."""
    data = _cuda_data()
    names = {n for base in data["pypi_to_conda_forge"] for n in (base, f"{base}-cu11", f"{base}-cu12", f"{base}-cu13")}
    names.update(data["pypi_cuda_wheel_extra"])
    return tuple(sorted(n for n in names if is_pypi_cuda_wheel(n)))
