"""PyPI requirements in conda's words: package names on conda-forge, version specifiers in
conda's match-spec syntax, and the CUDA/CPU variant a conda build string encodes. Pure: no I/O
beyond reading the package's own data file.

Name data: ``guard/data/pypi_to_conda.json`` (regenerate with ``scripts/build_name_data.py``;
its ``source`` field names the upstream mappings). A PyPI name is *redirectable* when conda-forge
ships that distribution.

Version syntax (conda's ``MatchSpec``, https://docs.conda.io/projects/conda-build/en/latest/
resources/package-spec.html): ``=2.0.0`` is a prefix match (2.0.0, 2.0.0.1, ...), so an exact PEP
440 pin stays ``==2.0.0``; ranges (``>=1.2,<2``) read the same; ``~=`` has no conda form and is
spelled out as a range.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Mapping

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


# ---- names -----------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _names() -> dict:
    data = json.loads(resources.files("guard").joinpath("data/pypi_to_conda.json").read_text(encoding="utf-8"))
    data["_same"] = frozenset(data["same_name"].split())
    return data


def conda_forge_name(pypi_name: str) -> str | None:
    """The conda-forge package that ships the PyPI project ``pypi_name`` (``torch`` ->
    ``pytorch``, ``opencv-python`` -> ``opencv``, ``pillow`` -> ``pillow``), or None when
    conda-forge ships no package for it (then it stays with pip)."""
    name = canonicalize_name(pypi_name)
    data = _names()
    if name in data["overrides"]:
        return data["overrides"][name]
    if name in data["renamed"]:
        return data["renamed"][name]
    return name if name in data["_same"] else None



# ---- versions --------------------------------------------------------------------------------


class NotExpressible(ValueError):
    """A PEP 440 specifier with no conda equivalent (``===`` on a non-version, a local version
    wildcard); the caller leaves that requirement with pip."""


def _tilde_range(version: str) -> str:
    """``~=1.4.2`` -> ``>=1.4.2,<1.5``; ``~=2.2`` -> ``>=2.2,<3`` (PEP 440 compatible release)."""
    v = Version(version)
    release = v.release
    if len(release) < 2:
        raise NotExpressible(f"~={version}")
    upper = list(release[:-1])
    upper[-1] += 1
    return f">={version},<{'.'.join(map(str, upper))}"


def conda_version_spec(specifier: SpecifierSet | str) -> str:
    """A PEP 440 specifier set as a conda version spec ('' for "any version").

    >>> conda_version_spec("==2.0.0"), conda_version_spec(">=1.2,<2"), conda_version_spec("~=1.4.2")
    ('==2.0.0', '>=1.2,<2', '>=1.4.2,<1.5')
    """
    spec = SpecifierSet(str(specifier)) if not isinstance(specifier, SpecifierSet) else specifier
    parts: list[str] = []
    order = {"==": 0, "===": 0, "~=": 1, ">=": 2, ">": 2, "<=": 3, "<": 3, "!=": 4}
    for s in sorted(spec, key=lambda s: (order.get(s.operator, 5), s.version)):
        op, ver = s.operator, s.version
        if op == "~=":
            parts.append(_tilde_range(ver))
            continue
        if "+" in ver:
            if ver.endswith("*"):
                raise NotExpressible(f"{op}{ver}")
            ver = ver.split("+", 1)[0]  # conda versions carry no PEP 440 local segment
        if op == "===":
            try:
                Version(ver)
            except InvalidVersion:
                raise NotExpressible(f"==={ver}") from None
            op = "=="
        if op == "==" and ver.endswith(".*"):
            parts.append(ver)  # conda's own wildcard: 2.0.* (same as =2.0)
        elif op == "!=" and ver.endswith(".*"):
            parts.append(f"!={ver}")
        else:
            parts.append(f"{op}{ver}")
    return ",".join(parts)


def match_spec(conda_name: str, specifier: SpecifierSet | str = "", build: str | None = None) -> str:
    """``name``, ``name ==2.0.0``, ``name >=1.2,<2``, ``name * cuda*``: conda's space-separated
    match-spec form (``conda install "pytorch >=2.6 cuda*"``), which every front end (conda,
    mamba, micromamba, pixi/rattler) parses the same way."""
    version = conda_version_spec(specifier)
    if build:
        return f"{conda_name} {version or '*'} {build}"
    return f"{conda_name} {version}" if version else conda_name


# ---- variants --------------------------------------------------------------------------------

_CF_CUDA = re.compile(r"^cuda(\d+)(?:_|py|$)")  # conda-forge: cuda126_mkl_py311_h..., cuda126py311h...
_PT_CUDA = re.compile(r"(?:^|_)cuda(\d+)\.(\d+)(?:_|$)")  # pytorch channel: py3.11_cuda11.8_cudnn8.7.0_0
_CF_CPU = re.compile(r"^cpu(?:_|py|$)")
_PT_CPU = re.compile(r"^py\d\.\d+_cpu_")
_CUDA_VERSION_DEP = re.compile(r"^cuda-version\s+>=?\s*(\d+)\.(\d+)")
_PYTORCH_CUDA_DEP = re.compile(r"^pytorch-cuda\s+>=?\s*(\d+)\.(\d+)")
_CUDATOOLKIT_DEP = re.compile(r"^cudatoolkit\s+>=?\s*(\d+)\.(\d+)")


def _field(record, key: str, default=None):
    if record is None:
        return default
    if isinstance(record, Mapping):
        return record.get(key, default)
    return getattr(record, key, default)


def _cuda_digits(digits: str) -> str:
    """``126`` -> ``12.6``, ``118`` -> ``11.8``, ``92`` -> ``9.2`` (conda-forge drops the dot)."""
    return f"{digits[:-1]}.{digits[-1]}"


def variant_of(record) -> str | None:
    """What a conda record's build says about CUDA: ``"CUDA 12.6"``, ``"CPU"``, or None (not a
    variant-built package, or unknown). Reads the build string first (torch_variants.md §1c:
    conda-forge ``cuda126_...``/``cpu_...``, pytorch channel ``py3.11_cuda11.8_cudnn..._0``/
    ``py3.11_cpu_0``), then ``depends`` (``cuda-version``, ``pytorch-cuda``, ``cudatoolkit``,
    ``pytorch-mutex 1.0 cuda|cpu``, ``__cuda``). ``record`` is a CondaRecord or a mapping."""
    build = str(_field(record, "build", "") or "")
    m = _CF_CUDA.match(build)
    if m:
        return f"CUDA {_cuda_digits(m.group(1))}"
    m = _PT_CUDA.search(build)
    if m:
        return f"CUDA {m.group(1)}.{m.group(2)}"
    if _CF_CPU.match(build) or _PT_CPU.match(build):
        return "CPU"
    depends = tuple(_field(record, "depends", ()) or ())
    for dep in depends:
        for pattern in (_CUDA_VERSION_DEP, _PYTORCH_CUDA_DEP, _CUDATOOLKIT_DEP):
            m = pattern.match(dep)
            if m:
                return f"CUDA {m.group(1)}.{m.group(2)}"
    if any(d.replace(" ", "") == "pytorch-mutex1.0cuda" for d in depends):
        return "CUDA"
    if any(d.replace(" ", "") == "pytorch-mutex1.0cpu" for d in depends):
        return "CPU"
    if any(d.split()[0] == "__cuda" for d in depends if d.strip()):
        return "CUDA"
    return None


def build_glob_for(variant: str | None) -> str | None:
    """The conda-forge build-string glob that keeps a variant: ``cuda*`` or ``cpu*``."""
    if variant is None:
        return None
    return "cuda*" if variant.startswith("CUDA") else "cpu*"
