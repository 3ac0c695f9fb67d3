"""Which accelerator a torch-family build targets, on both sides of a pip change: the conda
record being replaced and the wheel pip would install. Pure: no I/O.

* conda side: :func:`guard.policy.conda.variant_of` (build string, then ``depends``), e.g.
  ``"CUDA 11.8"`` / ``"CPU"``.
* wheel side (:func:`wheel_variant`), from what the plan knows before anything is downloaded
  (shared/data/torch_variants.md section 2):

  1. the version's local label: ``2.6.0+cpu`` -> ``CPU``, ``+cu118`` -> ``CUDA 11.8``,
     ``+rocm6.2`` -> ``ROCm`` (PyTorch's own wheel index);
  2. without a label (PyPI never carries one), the wheel's CUDA runtime dependencies as resolved
     for this platform: ``nvidia-*-cu12`` -> ``CUDA 12``, ``nvidia-*-cu11`` -> ``CUDA 11``, CUDA
     13's unsuffixed ``nvidia-*`` and ``cuda-toolkit ==13.x`` -> ``CUDA 13``;
  3. otherwise unknown (None): a label-less wheel without CUDA dependencies is not called a CPU
     build, since a locally built or vendored wheel may still link a system CUDA.

:func:`variant_change` says when the change replaces a CUDA build with a CPU (or ROCm) build, or
with a build for another CUDA major; both break ``torch.cuda`` against conda's CUDA runtime.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: The torch family: dists whose builds are made per accelerator.
VARIANT_FAMILY = ("torch", "torchvision", "torchaudio")

_LOCAL_CUDA = re.compile(r"^cu(\d+?)(\d)$")
_SUFFIXED = re.compile(r"^nvidia-[a-z0-9-]+-cu(\d+)$")
_TOOLKIT = re.compile(r"^cuda-toolkit\b.*?(?:==|~=|>=)\s*(\d+)\.")


def label_variant(version: str | None) -> str | None:
    """The variant a ``+label`` local version names, None without one (or an unknown label)."""
    local = (version or "").partition("+")[2].lower()
    m = _LOCAL_CUDA.match(local)
    if m:
        return f"CUDA {m.group(1)}.{m.group(2)}"
    if local == "cpu":
        return "CPU"
    if local.startswith("rocm"):
        return "ROCm"
    return None


def wheel_variant(version: str | None, requirements: Iterable[str]) -> str | None:
    """The variant of a proposed torch-family wheel: its local label, else its CUDA runtime
    requirements (``requirements``: the requirement strings the resolution followed from it)."""
    by_label = label_variant(version)
    if by_label is not None:
        return by_label
    majors = set()
    for text in requirements:
        req = text.strip().lower()
        name = re.split(r"[\s\[<>=!~;(]", req, maxsplit=1)[0].replace("_", "-")
        m = _SUFFIXED.match(name)
        if m:
            majors.add(m.group(1))
            continue
        m = _TOOLKIT.match(req)
        if m:
            majors.add(m.group(1))
        elif name.startswith("nvidia-") and name not in ("nvidia-ml-py",) and not name.startswith("nvidia-ml"):
            majors.add("13")  # CUDA 13 dropped the -cuXX suffix
    return f"CUDA {max(majors, key=int)}" if majors else None


def cuda_major(variant: str | None) -> str | None:
    """``"CUDA 11.8"`` -> ``"11"``; None for CPU/ROCm/unknown or a CUDA of unknown version."""
    if not variant or not variant.startswith("CUDA "):
        return None
    return variant[5:].split(".")[0]


def variant_change(conda: str | None, wheel: str | None) -> str | None:
    """``"cpu-over-cuda"`` when a CUDA build is replaced by a CPU or ROCm build, ``"cuda-major"``
    when by a build for another CUDA major; None when nothing is known or nothing changes."""
    if conda is None or wheel is None or not conda.startswith("CUDA"):
        return None
    if not wheel.startswith("CUDA"):
        return "cpu-over-cuda"
    old, new = cuda_major(conda), cuda_major(wheel)
    if old and new and old != new:
        return "cuda-major"
    return None
