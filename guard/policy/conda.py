"""PyPI and conda, each in the other's words: package names in both directions, version specs in
both directions (a PyPI specifier as a conda match spec for the redirect, a conda match spec as
written in ``environment.yml`` read into a PyPI specifier for the requirements hook), and the
CUDA/CPU variant a conda build string encodes. Pure: no I/O beyond reading the package's own data
files.

Name data:

* ``guard/data/pypi_to_conda.json`` (PyPI -> conda-forge; regenerate with
  ``scripts/build_name_data.py``; its ``source`` field names the upstream mappings). A PyPI name
  is *redirectable* when conda-forge ships that distribution.
* ``guard/data/conda_to_pypi.json`` (conda -> PyPI; its ``source`` and ``derivation`` fields say
  where it comes from). A conda package has a PyPI name when it ships that Python distribution:
  ``renamed`` (``pytorch`` -> ``torch``, ``matplotlib-base`` -> ``matplotlib``, ``torchtriton``
  -> ``triton``); the same-name list shared with ``pypi_to_conda.json``; ``cuda_runtime``
  (``cudatoolkit``, ``cuda-cudart``, ``pytorch-cuda``...: no PyPI name, but they mean "conda
  provides CUDA here"); ``not_python`` (``python``, ``pip``, mutex packages: the environment
  itself).

Version syntax (conda's ``MatchSpec``, https://docs.conda.io/projects/conda-build/en/latest/
resources/package-spec.html): ``=2.0.0`` is a prefix match (2.0.0, 2.0.0.1, ...), so an exact PEP
440 pin stays ``==2.0.0``; ranges (``>=1.2,<2``) read the same; ``~=`` has no conda form and is
spelled out as a range.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

# ---- names -----------------------------------------------------------------------------------


@cache
def _pypi_to_conda() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("guard").joinpath("data/pypi_to_conda.json").read_text(encoding="utf-8")
    )
    data["_same"] = frozenset(data["same_name"].split())
    return data


@cache
def _conda_to_pypi() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("guard").joinpath("data/conda_to_pypi.json").read_text(encoding="utf-8")
    )
    data["_cuda"] = frozenset(data["cuda_runtime"])
    data["_cuda_patterns"] = [re.compile(p) for p in data["cuda_runtime_patterns"]]
    return data


def conda_forge_name(pypi_name: str) -> str | None:
    """The conda-forge package that ships the PyPI project ``pypi_name`` (``torch`` ->
    ``pytorch``, ``opencv-python`` -> ``opencv``, ``pillow`` -> ``pillow``), or None when
    conda-forge ships no package for it (then it stays with pip). One mapping for the whole
    product: the redirect's and the requirements hook's suggestions."""
    name = canonicalize_name(pypi_name)
    data = _pypi_to_conda()
    if name in data["overrides"]:
        return str(data["overrides"][name])
    if name in data["renamed"]:
        return str(data["renamed"][name])
    return name if name in data["_same"] else None


def _conda_key(conda_name: str) -> str:
    """conda names are lower-case and not normalized (``typing_extensions`` is its own name)."""
    return conda_name.strip().lower()


def is_conda_cuda_runtime(conda_name: str) -> bool:
    """A conda package that is (part of) a CUDA runtime or toolkit: ``cudatoolkit``,
    ``cuda-cudart``, ``libcublas``, ``cudnn``, ``nccl``, ``pytorch-cuda``, ``cuda-version``..."""
    name = _conda_key(conda_name)
    data = _conda_to_pypi()
    return name in data["_cuda"] or any(p.match(name) for p in data["_cuda_patterns"])


def pypi_name_for_conda(conda_name: str) -> str | None:
    """The PyPI project (normalized) whose distribution the conda package ships, or None when it
    ships none that is known (CUDA runtimes, C libraries, ``python`` itself)."""
    name = _conda_key(conda_name)
    data = _conda_to_pypi()
    if name in data["not_python"] or is_conda_cuda_runtime(name):
        return None
    if name in data["renamed"]:
        return str(data["renamed"][name])
    # the same-name list is shared with the redirect's names (one copy in the package)
    if name in _pypi_to_conda()["_same"]:
        return name
    return None


# ---- PyPI specifiers in conda's syntax (the redirect) ----------------------------------------


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


# ---- conda match specs read as PyPI specifiers (environment.yml) ------------------------------


@dataclass(frozen=True)
class CondaSpec:
    """One conda package as a match spec names it, with its version spec as a PyPI specifier."""

    name: str  # conda name, lower-case
    text: str  # as written (or "name version build" for an installed record)
    line: int | None  # where it was written (environment.yml), None when not from a file
    version: str | None  # conda version spec as written
    build: str | None
    specifier: SpecifierSet  # PyPI equivalent; empty when none or not expressible
    pypi_name: str | None
    cuda_runtime: bool

    @property
    def cuda_build(self) -> bool:
        """A GPU build: ``pytorch=2.1=cuda*``, ``pytorch-gpu``."""
        return "cuda" in (self.build or "").lower() or self.name == "pytorch-gpu"


_NAME = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(.*)$", re.S)
_OP = re.compile(r"^(==|!=|>=|<=|~=|>|<|=)?\s*(.+)$")


def parse_conda_spec(text: str, line: int | None = None) -> CondaSpec:
    """A conda MatchSpec as written in ``dependencies:`` (``pytorch=2.1``, ``numpy 1.26.*``,
    ``pytorch::pytorch=2.1=cuda*``, ``cudatoolkit>=11.3,<12``, ``pytorch[version='>=2.1']``).
    Raises ValueError (one line) when there is no package name."""
    s = text.strip()
    if "::" in s:
        s = s.split("::", 1)[1]
    brackets: dict[str, str] = {}
    m = re.match(r"^([^\[]*)\[(.*)\]\s*$", s)
    if m:
        s = m.group(1).strip()
        for key, value in re.findall(r"(\w+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^,\s]+)", m.group(2)):
            brackets[key.lower()] = value.strip("'\"")
    m = _NAME.match(s)
    if not m:
        raise ValueError(f"not a conda package spec: {text!r}")
    name, rest = m.group(1).lower(), m.group(2).strip()
    version: str | None = None
    build: str | None = None
    if rest.startswith("=") and not rest.startswith("=="):
        # name=version[=build]: conda's fuzzy form, "=2.1" means 2.1.*
        version, _, build = rest[1:].partition("=")
        version, build = version.strip() or None, build.strip() or None
    elif rest:
        tokens = rest.split()
        if len(tokens) > 1 and tokens[0] in ("==", "!=", ">=", "<=", ">", "<", "~="):
            tokens = [tokens[0] + tokens[1], *tokens[2:]]
        version = tokens[0]
        build = tokens[1] if len(tokens) > 1 else None
    version = brackets.get("version", version)
    build = brackets.get("build", build)
    return CondaSpec(
        name=name,
        text=text.strip(),
        line=line,
        version=version,
        build=build,
        specifier=conda_version_to_specifier(version) if version else SpecifierSet(),
        pypi_name=pypi_name_for_conda(name),
        cuda_runtime=is_conda_cuda_runtime(name),
    )


def conda_version_to_specifier(version: str) -> SpecifierSet:
    """A conda version spec as a PyPI specifier: ``2.1`` and ``2.1.*`` -> ``==2.1.*`` (conda's
    fuzzy match), ``==2.1`` -> ``==2.1``, ``>=2.1,<2.3`` as is. Returns an empty set (no
    constraint) for what PEP 440 cannot say (``2.1|2.2``, conda-only version strings)."""
    if "|" in version:
        return SpecifierSet()
    specs = []
    for part in version.split(","):
        part = part.strip()
        if not part:
            continue
        m = _OP.match(part)
        if m is None:  # a line break inside the version (a quoted YAML scalar): no PEP 440 form
            return SpecifierSet()
        op, ver = (m.group(1) or "="), m.group(2).strip()
        star = ver.endswith("*")
        base = ver.rstrip("*").rstrip(".")
        if op == "=" or (op == "==" and star):
            specs.append(f"=={base}" if "+" in base else f"=={base}.*")
        elif op == "!=" and star:
            specs.append(f"!={base}.*")
        else:
            specs.append(f"{op}{base}")
    try:
        return SpecifierSet(",".join(specs))
    except InvalidSpecifier:
        return SpecifierSet()


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
