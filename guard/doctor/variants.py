"""Which accelerator a torch-family build targets: from a conda record (build string, then
``depends``/``constrains``) and from an installed dist (``version.py``, then the local version)."""

from __future__ import annotations

import re

from guard.doctor.models import Variant, VersionFile
from guard.environment.conda_meta import CondaRecord

#: Dists whose ``<module>/version.py`` says which CUDA (or none) they were built for.
VARIANT_DISTS = ("torch", "torchvision", "torchaudio")


_CF_CUDA = re.compile(r"(?:^|_)cuda(\d+)(\d)(?=_|py|$)")  # conda-forge: cuda126_mkl_py311_h..., cuda118py310h...
_PT_CUDA = re.compile(r"_cuda(\d+\.\d+)_cudnn")  # pytorch channel: py3.11_cuda11.8_cudnn8.7.0_0
_CPU_BUILD = re.compile(r"(?:^|_)cpu(?:_|$)")  # cpu_mkl_py311_h..., py3.11_cpu_0
_DEP_CUDA_VERSION = re.compile(r"^(?:cuda-version|pytorch-cuda|cudatoolkit)\s+[>=~]*\s*(\d+\.\d+)")
_LOCAL_CUDA = re.compile(r"^cu(\d+?)(\d)$")


def conda_variant(record: CondaRecord) -> Variant | None:
    """The variant a conda record of the torch family was built for (shared/data/torch_variants.md
    section 1c): the build string first, then ``depends``/``constrains``. None for records
    without variants (numpy)."""
    cuda = None
    for dep in record.depends:
        m = _DEP_CUDA_VERSION.match(dep)
        if m:
            cuda = m.group(1)
            break
    m = _CF_CUDA.search(record.build)
    if m:
        return Variant("cuda", f"{m.group(1)}.{m.group(2)}")
    m = _PT_CUDA.search(record.build)
    if m:
        return Variant("cuda", m.group(1))
    if _CPU_BUILD.search(record.build):
        return Variant("cpu")
    deps = {" ".join(d.split()) for d in record.depends}
    constrains = {" ".join(c.split()) for c in record.constrains}
    if (
        "pytorch-mutex 1.0 cuda" in deps
        or "__cuda" in {d.split()[0] for d in deps if d}
        or constrains & {"pytorch-cpu <0.0a0", "pytorch-cpu ==99999999", "cpuonly <0"}
    ):
        return Variant("cuda", cuda)
    if "pytorch-mutex 1.0 cpu" in deps or constrains & {"pytorch-gpu <0.0a0", "pytorch-gpu ==99999999"}:
        return Variant("cpu")
    return None


def installed_variant(version: str | None, version_file: VersionFile | None) -> Variant | None:
    """The variant of an installed torch-family dist: ``version.py``'s ``cuda``/``hip`` (what
    ``torch.version.cuda`` returns), else the ``+cpu``/``+cuXYZ`` local version (PyTorch's wheel
    index). None when neither says."""
    if version_file is not None:
        if version_file.cuda:
            return Variant("cuda", major_minor(version_file.cuda))
        if version_file.hip:
            return Variant("rocm")
        return Variant("cpu")
    local = (version or "").partition("+")[2].lower()
    m = _LOCAL_CUDA.match(local)
    if m:
        return Variant("cuda", f"{m.group(1)}.{m.group(2)}")
    if local == "cpu":
        return Variant("cpu")
    if local.startswith("rocm"):
        return Variant("rocm")
    return None


def major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])
