"""Real, installable wheels built in tests (no build backend, no network).

``build_wheel`` writes a wheel that pip installs for real: ``METADATA``, ``WHEEL`` and a
``RECORD`` with the sha256 and size of every file (PEP 427 / PEP 376). The archive is
deterministic: the same arguments give the same bytes, hence the same hash.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Iterable
from pathlib import Path

from packaging.tags import parse_tag
from packaging.utils import canonicalize_name
from packaging.version import Version

_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(
    out_dir: Path,
    name: str,
    version: str,
    *,
    requires_dist: Iterable[str] = (),
    requires_python: str | None = None,
    files: dict[str, str] | None = None,
    tag: str = "py3-none-any",
) -> Path:
    """Write ``<name>-<version>-<tag>.whl`` into ``out_dir`` and return its path.

    ``files`` maps archive paths to text contents; by default the wheel holds one module,
    ``<name>/__init__.py`` defining ``__version__``. ``tag`` may be compressed
    (``py2.py3-none-any``); a wheel whose tags are not all ``none-any`` is marked platlib.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    project = canonicalize_name(name).replace("-", "_")
    version = str(Version(version))
    dist_info = f"{project}-{version}.dist-info"
    if files is None:
        files = {f"{project}/__init__.py": f'__version__ = "{version}"\n'}

    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        metadata.append(f"Requires-Python: {requires_python}")
    metadata += [f"Requires-Dist: {req}" for req in requires_dist]
    tags = sorted(str(t) for t in parse_tag(tag))
    purelib = all(t.endswith("-none-any") for t in tags)
    wheel = [
        "Wheel-Version: 1.0",
        "Generator: tests.support.wheels",
        f"Root-Is-Purelib: {'true' if purelib else 'false'}",
        *(f"Tag: {t}" for t in tags),
    ]
    contents: dict[str, bytes] = {path: text.encode() for path, text in files.items()}
    contents[f"{dist_info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    contents[f"{dist_info}/WHEEL"] = ("\n".join(wheel) + "\n").encode()
    record_path = f"{dist_info}/RECORD"
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in contents.items())
    contents[record_path] = (record + f"{record_path},,\n").encode()

    target = out_dir / f"{project}-{version}-{tag}.whl"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in contents.items():
            info = zipfile.ZipInfo(path, date_time=_DATE_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return target
