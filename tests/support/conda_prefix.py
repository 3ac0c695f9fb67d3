"""Real conda environments for tests, built offline.

Conda packages are made with conda-package-handling, indexed into local ``file://`` channels with
``rattler.index.index_fs``, solved and installed into a prefix by py-rattler (the conda library behind
pixi). The ``conda-meta/*.json`` records are therefore genuine: rattler writes ``files``,
``paths_data``, ``channel``, ``url`` and ``requested_specs`` exactly as it does for pixi users.

The prefix is laid over a venv made from the interpreter running the tests, so it is also a working
Python environment: ``prefix/bin/python -c "import torch"`` imports the stub modules the conda packages
ship, and real pip pointed at it with ``--python`` sees the dists with the right versions.

Only the *content* of the conda packages is fake (tiny stub modules, empty shared libraries); names,
versions, build strings, ``depends``/``constrains`` and the dist metadata follow real conda-forge,
pytorch-channel and nvidia-channel packages (see shared/data/torch_variants.md).

Speed: each set of channels is built once per content hash under a root directory (the session tmp dir
in the test suite), extracted packages are shared through one rattler package cache, solutions are
memoised, and ``with_pip=True`` hard-links pip from a template venv instead of running ensurepip.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import csv
import dataclasses
import ensurepip
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import conda_package_handling.api as cph
import rattler
from packaging.requirements import Requirement
from rattler.index import index_fs

PY_MAJOR_MINOR = f"{sys.version_info.major}.{sys.version_info.minor}"
PY_NODOT = f"{sys.version_info.major}{sys.version_info.minor}"
PY_VERSION = f"{PY_MAJOR_MINOR}.{sys.version_info.micro}"
SITE_PACKAGES = f"lib/python{PY_MAJOR_MINOR}/site-packages"
"""Where Python packages land in a prefix: matches the venv's interpreter."""

PLATFORM = "linux-64"

# Bump when the package layout written below changes, so that a reused channel root is not stale.
_LAYOUT_VERSION = "1"


# --------------------------------------------------------------------------------------------------
# Declarations


@dataclass(frozen=True)
class Dist:
    """A Python distribution shipped inside a conda package (or left in site-packages by pip).

    ``style`` is ``"dist-info"`` (what ``pip install .`` leaves, conda-forge) or ``"egg-info"`` (a
    directory with ``PKG-INFO`` and ``requires.txt``, as the pytorch channel ships torch).
    ``installer`` is the content of the ``INSTALLER`` file (``None``: no such file). ``modules`` are the
    top-level import packages written, each an ``__init__.py`` that sets ``__version__``; the default
    is the project name lower-cased with ``-`` turned into ``_``.
    """

    project: str
    version: str
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    style: str = "dist-info"
    installer: str | None = "conda"
    modules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.style not in ("dist-info", "egg-info"):
            raise ValueError(f"Dist.style must be 'dist-info' or 'egg-info', not {self.style!r}")

    @property
    def top_level(self) -> tuple[str, ...]:
        return self.modules or (self.project.lower().replace("-", "_").replace(".", "_"),)

    @property
    def metadata_dir(self) -> str:
        """The name of the metadata directory in site-packages (``numpy-1.26.4.dist-info``)."""
        stem = re.sub(r"[-_.]+", "_", self.project)
        if self.style == "egg-info":
            return f"{stem}-{self.version}-py{PY_MAJOR_MINOR}.egg-info"
        return f"{stem}-{self.version}.dist-info"


@dataclass(frozen=True)
class CondaPkg:
    """One conda package. ``subdir="noarch"`` with a ``dist`` makes a ``noarch: python`` package (files
    under ``site-packages/``, relocated by the installer); without one a ``noarch: generic`` package.
    ``extra_files`` are prefix-relative paths (package-relative for noarch) -> content, e.g.
    ``{"lib/libcudart.so.12": b"..."}`` so that CUDA packages own real files."""

    name: str
    version: str
    build: str
    depends: tuple[str, ...] = ()
    constrains: tuple[str, ...] = ()
    dist: Dist | None = None
    channel: str = "conda-forge"
    subdir: str = PLATFORM
    extra_files: Mapping[str, bytes] = field(default_factory=dict)
    track_features: str = ""

    def __post_init__(self) -> None:
        # a frozen dataclass with a dict field is unhashable; keep the mapping but freeze its order
        object.__setattr__(self, "extra_files", dict(sorted(self.extra_files.items())))

    def __hash__(self) -> int:
        return hash(_fingerprint(self))

    @property
    def build_number(self) -> int:
        tail = self.build.rsplit("_", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.build}.conda"

    @property
    def noarch(self) -> str | None:
        if self.subdir != "noarch":
            return None
        return "python" if self.dist is not None else "generic"


@dataclass(frozen=True)
class Scenario:
    """A conda environment to build: the packages available, the specs the user asked for, and the
    dists pip left in site-packages afterwards (INSTALLER ``pip``, no conda record)."""

    name: str
    packages: tuple[CondaPkg, ...]
    specs: tuple[str, ...]
    pip_dists: tuple[Dist, ...] = ()

    def build(self, dest: Path, *, with_pip: bool = False, channel_root: Path | None = None) -> Path:
        prefix = build_prefix(dest, self.packages, self.specs, with_pip=with_pip, channel_root=channel_root)
        for dist in self.pip_dists:
            write_pip_installed_dist(prefix, dist)
        return prefix

    def with_packages(self, *packages: CondaPkg, specs: Sequence[str] = ()) -> Scenario:
        """This scenario with more packages (replacing any with the same channel, subdir and file name)
        and more specs."""
        new = {(p.channel, p.subdir, p.filename) for p in packages}
        kept = tuple(p for p in self.packages if (p.channel, p.subdir, p.filename) not in new)
        return dataclasses.replace(self, packages=kept + packages, specs=self.specs + tuple(specs))


def _fingerprint(obj: object) -> str:
    return hashlib.sha256(repr(obj).encode()).hexdigest()


# --------------------------------------------------------------------------------------------------
# Writing dists


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _extras(requires_dist: Iterable[str]) -> list[str]:
    found: dict[str, None] = {}
    for req in requires_dist:
        for extra in re.findall(r"""extra\s*==\s*["']([^"']+)["']""", req):
            found[extra] = None
    return list(found)


def _metadata_text(dist: Dist, *, egg: bool = False) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {dist.project}",
        f"Version: {dist.version}",
        f"Summary: {dist.project} (test stand-in)",
    ]
    if dist.requires_python:
        lines.append(f"Requires-Python: {dist.requires_python}")
    lines += [f"Provides-Extra: {e}" for e in _extras(dist.requires_dist)]
    if not egg:  # setuptools' egg-info keeps dependencies in requires.txt only
        lines += [f"Requires-Dist: {r}" for r in dist.requires_dist]
    return "\n".join(lines) + "\n"


def _requires_txt(requires_dist: Iterable[str]) -> str:
    """Requires-Dist -> setuptools' requires.txt: plain lines, then ``[extra]`` / ``[:marker]`` sections."""
    sections: dict[str, list[str]] = {"": []}
    for line in requires_dist:
        req = Requirement(line)
        bare = req.name + (f"[{','.join(sorted(req.extras))}]" if req.extras else "") + str(req.specifier)
        section = ""
        if req.marker is not None:
            marker = str(req.marker)
            m = re.fullmatch(r"""extra == ["']([^"']+)["']""", marker)
            section = m.group(1) if m else f":{marker}"
        sections.setdefault(section, []).append(bare)
    out = "".join(f"{r}\n" for r in sections.pop(""))
    for name, reqs in sections.items():
        out += f"\n[{name}]\n" + "".join(f"{r}\n" for r in reqs)
    return out


def dist_files(dist: Dist, *, installer_newline: bool) -> dict[str, bytes]:
    """The files of ``dist`` relative to site-packages. conda-build writes ``INSTALLER`` as ``conda``
    with no newline (the real records show 5 bytes); pip writes ``pip\\n``."""
    files: dict[str, bytes] = {}
    for mod in dist.top_level:
        files[f"{mod}/__init__.py"] = f"__version__ = {dist.version!r}\n".encode()
    meta = dist.metadata_dir
    if dist.installer is not None:
        files[f"{meta}/INSTALLER"] = (dist.installer + ("\n" if installer_newline else "")).encode()
    if dist.style == "egg-info":
        files[f"{meta}/PKG-INFO"] = _metadata_text(dist, egg=True).encode()
        if dist.requires_dist:
            files[f"{meta}/requires.txt"] = _requires_txt(dist.requires_dist).encode()
        files[f"{meta}/top_level.txt"] = "".join(f"{m}\n" for m in dist.top_level).encode()
        files[f"{meta}/dependency_links.txt"] = b"\n"
        files[f"{meta}/SOURCES.txt"] = "".join(f"{p}\n" for p in sorted(files)).encode()
        return files
    files[f"{meta}/METADATA"] = _metadata_text(dist).encode()
    files[f"{meta}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: conda-pip-guard tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{meta}/REQUESTED"] = b""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for path, data in sorted(files.items()):
        writer.writerow([path, _record_hash(data), len(data)])
    writer.writerow([f"{meta}/RECORD", "", ""])
    files[f"{meta}/RECORD"] = out.getvalue().encode()
    return files


def write_pip_installed_dist(prefix: Path, dist: Dist) -> None:
    """Leave ``dist`` in the prefix's site-packages as ``pip install`` would (dist-info with RECORD,
    INSTALLER ``pip``), with no conda record owning it."""
    site = Path(prefix) / SITE_PACKAGES
    for rel, data in dist_files(dist, installer_newline=True).items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# --------------------------------------------------------------------------------------------------
# Building packages and channels


def _package_files(pkg: CondaPkg) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if pkg.dist is not None:
        site = "site-packages" if pkg.noarch == "python" else SITE_PACKAGES
        files.update({f"{site}/{rel}": data for rel, data in dist_files(pkg.dist, installer_newline=False).items()})
    files.update(pkg.extra_files)
    return files


def _build_package(pkg: CondaPkg, out_dir: Path, work: Path) -> Path:
    root = work / pkg.filename[: -len(".conda")]
    info = root / "info"
    info.mkdir(parents=True)
    files = _package_files(pkg)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    index: dict[str, object] = {
        "name": pkg.name,
        "version": pkg.version,
        "build": pkg.build,
        "build_number": pkg.build_number,
        "depends": list(pkg.depends),
        "constrains": list(pkg.constrains),
        "license": "BSD-3-Clause",
        "subdir": pkg.subdir,
        "timestamp": 1730000000000,
    }
    if pkg.noarch:
        index["noarch"] = pkg.noarch
    else:
        index.update(platform="linux", arch="x86_64")
    if pkg.track_features:
        index["track_features"] = pkg.track_features
    (info / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True))
    (info / "files").write_text("".join(f"{p}\n" for p in sorted(files)))
    paths = [
        {"_path": p, "path_type": "hardlink", "sha256": hashlib.sha256(d).hexdigest(), "size_in_bytes": len(d)}
        for p, d in sorted(files.items())
    ]
    (info / "paths.json").write_text(json.dumps({"paths": paths, "paths_version": 1}, indent=2))
    if pkg.noarch == "python":
        (info / "link.json").write_text(json.dumps({"noarch": {"type": "python"}, "package_metadata_version": 1}))
    everything = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    out_dir.mkdir(parents=True, exist_ok=True)
    cph.create(str(root), everything, pkg.filename, out_folder=str(out_dir))
    return out_dir / pkg.filename


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Channel:
    """Local ``file://`` conda channels holding ``packages``: one directory per channel name
    (``conda-forge``, ``pytorch``, ``nvidia``), each with ``linux-64/`` and ``noarch/`` indexed by rattler.

    Built once: the directory is ``root/<content hash of the package list>``, reused when it exists.
    Built archives are also cached one by one under ``root/_packages`` so that channel sets sharing
    packages do not rebuild them. Channel order (for strict priority) is the order in which channel
    names first appear in ``packages``.
    """

    def __init__(self, root: Path, packages: Iterable[CondaPkg]) -> None:
        self.packages = tuple(dict.fromkeys(packages))  # identical duplicates are harmless
        files = [(p.channel, p.subdir, p.filename) for p in self.packages]
        clashes = sorted({"/".join(f) for f in files if files.count(f) > 1})
        if clashes:
            raise ValueError(f"different packages declared under the same file name: {', '.join(clashes)}")
        self.root = Path(root)
        self.key = _fingerprint((_LAYOUT_VERSION, PY_VERSION, sorted(map(repr, self.packages))))[:16]
        self.path = self.root / self.key
        self.names: tuple[str, ...] = tuple(dict.fromkeys(p.channel for p in self.packages))
        with _locked(self.root / f"{self.key}.lock"):
            if not (self.path / ".complete").exists():
                self._build()

    @property
    def package_cache(self) -> Path:
        """The rattler package cache (extracted packages) shared by every prefix installed from here.
        One per channel set: rattler finds cached packages by file name, and two sets may hold different
        packages under one name."""
        return self.path / "_pkgs"

    def url(self, name: str) -> str:
        return (self.path / name).as_uri() + "/"

    def rattler_channels(self) -> list[rattler.Channel]:
        return [rattler.Channel(self.url(name)) for name in self.names]

    def _build(self) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)
        store = self.root / "_packages"
        with tempfile.TemporaryDirectory(dir=self.root) as work:
            for pkg in self.packages:
                cached = store / _fingerprint((_LAYOUT_VERSION, PY_VERSION, repr(pkg)))[:16] / pkg.filename
                if not cached.exists():
                    built = _build_package(pkg, Path(work) / "out", Path(work) / "stage")
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(built, cached)
                target = self.path / pkg.channel / pkg.subdir / pkg.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(cached, target)
        for name in self.names:
            for subdir in (PLATFORM, "noarch"):  # both must exist, even empty, for the solver
                (self.path / name / subdir).mkdir(parents=True, exist_ok=True)

        async def index_all() -> None:
            await asyncio.gather(*(index_fs(self.path / name, force=True, write_shards=False) for name in self.names))

        asyncio.run(index_all())
        (self.path / ".complete").touch()


# --------------------------------------------------------------------------------------------------
# Building prefixes

DEFAULT_VIRTUAL_PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("__unix", "0", "0"),
    ("__linux", "6.5", "0"),
    ("__glibc", "2.35", "0"),
    ("__archspec", "1", "x86_64_v3"),
    ("__cuda", "12.6", "0"),
)
"""What a linux-64 machine with a CUDA 12.6 driver reports; CUDA builds depend on ``__cuda``."""

# Copy files into prefixes: with hard links (rattler's default) a test that edits a prefix file in place
# would edit the shared package cache and every other prefix. The files are tiny; copying costs nothing.
_COPY_FILES = rattler.Config.from_toml(
    "allow-hard-links = false\nallow-symbolic-links = false\nallow-ref-links = false\n"
)

_default_root: Path | None = None
_solutions: dict[tuple, list[rattler.RepoDataRecord]] = {}


def default_channel_root() -> Path:
    """A per-process directory for channels when the caller gives none (removed at exit)."""
    global _default_root
    if _default_root is None:
        _default_root = Path(tempfile.mkdtemp(prefix="guard-conda-channels-"))
        atexit.register(shutil.rmtree, _default_root, True)
    return _default_root


def _virtual_packages(spec: Sequence[tuple[str, str, str]]) -> list[rattler.GenericVirtualPackage]:
    return [
        rattler.GenericVirtualPackage(rattler.PackageName(n), rattler.Version(v), rattler.BuildString(b))
        for n, v, b in spec
    ]


def _solve(channel: Channel, specs: Sequence[str], virtual: Sequence[tuple[str, str, str]]) -> list:
    key = (str(channel.path), tuple(specs), tuple(virtual))
    if key not in _solutions:
        _solutions[key] = asyncio.run(
            rattler.solve(
                channel.rattler_channels(),
                list(specs),
                platforms=[PLATFORM, "noarch"],
                virtual_packages=_virtual_packages(virtual),
                channel_relations="disabled",
            )
        )
    return _solutions[key]


def _pip_template(root: Path) -> Path:
    """A site-packages holding pip (the wheel bundled with ensurepip, unpacked: 20x faster than running
    ensurepip), made once per channel root; prefixes borrow it."""
    template = root / "_pip-template"
    with _locked(root / "_pip-template.lock"):
        if not (template / ".complete").exists():
            if template.exists():
                shutil.rmtree(template)
            bundled = sorted((Path(ensurepip.__file__).parent / "_bundled").glob("pip-*.whl"))
            if bundled:
                with zipfile.ZipFile(bundled[-1]) as whl:
                    whl.extractall(template)
                dist_info = next(template.glob("pip-*.dist-info"))
                (dist_info / "INSTALLER").write_text("pip\n")
            else:  # a distribution's python without bundled wheels: let ensurepip find them
                venv.create(template / "venv", with_pip=True)
                for entry in (template / "venv" / SITE_PACKAGES).iterdir():
                    if _is_pip(entry.name):
                        shutil.move(str(entry), template / entry.name)
                shutil.rmtree(template / "venv")
            (template / ".complete").touch()
    return template


def _is_pip(name: str) -> bool:
    return name == "pip" or (name.startswith("pip-") and name.endswith(".dist-info"))


def _link_tree(src: Path, dst: Path) -> None:
    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, copy_function=link, ignore=shutil.ignore_patterns("__pycache__"))


def _add_pip(prefix: Path, root: Path) -> None:
    site = prefix / SITE_PACKAGES
    for entry in _pip_template(root).iterdir():
        if _is_pip(entry.name):
            _link_tree(entry, site / entry.name)
    script = (
        f"#!{prefix / 'bin' / 'python'}\nimport re\nimport sys\nfrom pip._internal.cli.main import main\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        "    sys.exit(main())\n"
    )
    for name in ("pip", "pip3", f"pip{PY_MAJOR_MINOR}"):
        path = prefix / "bin" / name
        path.write_text(script)
        path.chmod(0o755)


def build_prefix(
    dest: Path,
    packages: Iterable[CondaPkg],
    specs: Sequence[str],
    *,
    with_pip: bool = False,
    channel_root: Path | None = None,
    virtual_packages: Sequence[tuple[str, str, str]] = DEFAULT_VIRTUAL_PACKAGES,
) -> Path:
    """Solve ``specs`` against the channels holding ``packages`` and install the result into ``dest``,
    a new venv (with pip when ``with_pip``). Returns ``dest``.

    The records name the requested specs (``requested_specs``) as pixi's do. Channels are built under
    ``channel_root`` (default: a per-process tmp dir) once per package list.
    """
    dest = Path(dest)
    root = Path(channel_root) if channel_root is not None else default_channel_root()
    channel = Channel(root, packages)
    records = _solve(channel, specs, virtual_packages)
    venv.create(dest, with_pip=False, symlinks=True)
    if with_pip:
        _add_pip(dest, root)
    asyncio.run(
        rattler.install(
            records,
            dest,
            cache_dir=channel.package_cache,
            show_progress=False,
            config=_COPY_FILES,
            # py-rattler 0.28 forwards this list to Rust unwrapped, so it must hold the inner objects
            requested_specs=[rattler.MatchSpec(s)._match_spec for s in specs],
        )
    )
    return dest


# --------------------------------------------------------------------------------------------------
# Running real pip against a prefix


def clean_pip_env(home: Path) -> dict[str, str]:
    """An environment for running pip that this machine's pip configuration cannot reach: no config
    files (``PIP_CONFIG_FILE=/dev/null``; /etc/xdg/pip adds a torch cap, find-links and extra indexes
    here), no ``PIP_*`` variable from os.environ, ``HOME`` in ``home``. Only PATH and LANG are kept."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }


def pip_command(prefix: Path, python: str | os.PathLike[str] | None = None) -> list[str]:
    """The command line that runs pip on ``prefix``: ``python``'s pip with ``--python`` when given, else
    the prefix's own pip when it has one, else this interpreter's pip with ``--python``."""
    target = str(Path(prefix) / "bin" / "python")
    if python is not None:
        return [str(python), "-m", "pip", "--python", target]
    if (Path(prefix) / SITE_PACKAGES / "pip").is_dir():
        return [target, "-m", "pip"]
    return [sys.executable, "-m", "pip", "--python", target]


def run_pip(
    prefix: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    python: str | os.PathLike[str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run real pip with ``args`` on ``prefix``, config-isolated (see ``clean_pip_env``; ``env`` replaces
    it whole when given). Output is captured as text; the exit status is not checked."""
    with tempfile.TemporaryDirectory(prefix="pip-home-") as home:
        return subprocess.run(
            [*pip_command(prefix, python), *args],
            env=dict(env) if env is not None else clean_pip_env(Path(home)),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def pip_install_into(
    prefix: Path,
    *args: str,
    index_url: str | None = None,
    env: Mapping[str, str] | None = None,
    python: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``pip install [--index-url URL] ARGS`` into ``prefix`` with real pip (see ``run_pip``)."""
    index = ["--index-url", index_url] if index_url else []
    return run_pip(prefix, "install", *index, *args, env=env, python=python)


# --------------------------------------------------------------------------------------------------
# Standard scenarios. Versions are real (conda-forge / pytorch / nvidia channels and PyPI, late 2024),
# build strings follow each channel's template (shared/data/torch_variants.md); hashes are made up.

_PY = f"py{PY_NODOT}"
_PYTHON_DEP = f"python >={PY_MAJOR_MINOR},<{sys.version_info.major}.{sys.version_info.minor + 1}.0a0"
_PYTHON_ABI_DEP = f"python_abi {PY_MAJOR_MINOR}.* *_cp{PY_NODOT}"
_NOARCH_PYTHON_DEP = "python >=3.9"


def _lib(*names: str) -> dict[str, bytes]:
    """Stand-ins for shared libraries, so CUDA packages own real files."""
    return {f"lib/{n}": b"\x7fELF stand-in for " + n.encode() + b"\n" for n in names}


def python_packages() -> tuple[CondaPkg, ...]:
    """``python`` (the record that says "python is here"; the interpreter is the venv's) and ``python_abi``."""
    return (
        CondaPkg(
            "python", PY_VERSION, "hab00c5b_0_cpython", depends=(f"python_abi {PY_MAJOR_MINOR}.* *_cp{PY_NODOT}",)
        ),
        CondaPkg("python_abi", PY_MAJOR_MINOR, f"5_cp{PY_NODOT}", constrains=(f"python {PY_MAJOR_MINOR}.* *_cpython",)),
    )


def _noarch(name: str, version: str, build: str, dist: Dist, *depends: str) -> CondaPkg:
    return CondaPkg(name, version, build, depends=(_NOARCH_PYTHON_DEP, *depends), dist=dist, subdir="noarch")


def _compiled(name: str, version: str, build: str, dist: Dist, *depends: str, channel: str = "conda-forge") -> CondaPkg:
    return CondaPkg(name, version, build, depends=(_PYTHON_DEP, _PYTHON_ABI_DEP, *depends), dist=dist, channel=channel)


NUMPY = _compiled("numpy", "1.26.4", f"{_PY}h64a7726_0", Dist("numpy", "1.26.4", requires_python=">=3.9"))


def python_deps_packages() -> tuple[CondaPkg, ...]:
    """The pure-Python stack around torch, as conda-forge packages carrying their dists."""
    return (
        _noarch("filelock", "3.16.1", "pyhd8ed1ab_0", Dist("filelock", "3.16.1", requires_python=">=3.8")),
        _noarch(
            "typing_extensions", "4.12.2", "pyha770c72_0", Dist("typing_extensions", "4.12.2", requires_python=">=3.8")
        ),
        # conda-forge's typing-extensions is a metapackage over typing_extensions
        CondaPkg(
            "typing-extensions",
            "4.12.2",
            "hd8ed1ab_0",
            depends=("typing_extensions ==4.12.2 pyha770c72_0",),
            subdir="noarch",
        ),
        _noarch(
            "mpmath",
            "1.3.0",
            "pyhd8ed1ab_0",
            Dist(
                "mpmath",
                "1.3.0",
                requires_dist=(
                    'pytest>=4.6; extra == "develop"',
                    'gmpy2>=2.1.0a4; platform_python_implementation != "PyPy" and extra == "gmpy"',
                ),
            ),
        ),
        _noarch(
            "sympy",
            "1.13.1",
            "pypyh2585a3b_103",
            Dist(
                "sympy",
                "1.13.1",
                requires_python=">=3.8",
                requires_dist=(
                    "mpmath<1.4,>=1.1.0",
                    'pytest>=7.1.0; extra == "dev"',
                    'hypothesis>=6.70.0; extra == "dev"',
                ),
            ),
            "mpmath >=0.19,<1.4",
        ),
        _noarch(
            "networkx",
            "3.4.2",
            "pyh267e887_2",
            Dist("networkx", "3.4.2", requires_python=">=3.10", requires_dist=('numpy>=1.24; extra == "default"',)),
        ),
        _compiled("markupsafe", "3.0.2", f"{_PY}h9ecbd09_1", Dist("MarkupSafe", "3.0.2", requires_python=">=3.9")),
        _noarch(
            "jinja2",
            "3.1.4",
            "pyhd8ed1ab_0",
            Dist(
                "Jinja2",
                "3.1.4",
                requires_python=">=3.7",
                requires_dist=("MarkupSafe>=2.0", 'Babel>=2.7; extra == "i18n"'),
            ),
            "markupsafe >=2.0",
        ),
        _noarch("fsspec", "2024.10.0", "pyhff2d567_0", Dist("fsspec", "2024.10.0", requires_python=">=3.8")),
        _compiled(
            "pillow", "11.0.0", f"{_PY}h49e9ac3_0", Dist("pillow", "11.0.0", requires_python=">=3.9", modules=("PIL",))
        ),
        _noarch("packaging", "24.2", "pyhff2d567_1", Dist("packaging", "24.2", requires_python=">=3.8")),
        _compiled(
            "pyyaml",
            "6.0.2",
            f"{_PY}h9ecbd09_1",
            Dist("PyYAML", "6.0.2", requires_python=">=3.8", modules=("yaml",)),
            "yaml >=0.2.5,<0.3.0a0",
        ),
        CondaPkg("yaml", "0.2.5", "h7f98852_2", extra_files=_lib("libyaml-0.so.2")),
        _noarch("certifi", "2024.8.30", "pyhd8ed1ab_0", Dist("certifi", "2024.8.30", requires_python=">=3.6")),
        _noarch(
            "charset-normalizer",
            "3.4.0",
            "pyhd8ed1ab_0",
            Dist("charset-normalizer", "3.4.0", requires_python=">=3.7.0"),
        ),
        _noarch("idna", "3.10", "pyhd8ed1ab_0", Dist("idna", "3.10", requires_python=">=3.6")),
        _noarch(
            "urllib3",
            "2.2.3",
            "pyhd8ed1ab_0",
            Dist(
                "urllib3",
                "2.2.3",
                requires_python=">=3.8",
                requires_dist=(
                    'brotli>=1.0.9; platform_python_implementation == "CPython" and extra == "brotli"',
                    'pysocks!=1.5.7,<2.0,>=1.5.6; extra == "socks"',
                ),
            ),
        ),
        _noarch(
            "requests",
            "2.32.3",
            "pyhd8ed1ab_0",
            Dist(
                "requests",
                "2.32.3",
                requires_python=">=3.8",
                requires_dist=(
                    "charset-normalizer<4,>=2",
                    "idna<4,>=2.5",
                    "urllib3<3,>=1.21.1",
                    "certifi>=2017.4.17",
                    'PySocks!=1.5.7,>=1.5.6; extra == "socks"',
                    'chardet<6,>=3.0.2; extra == "use-chardet-on-py3"',
                ),
            ),
            "certifi >=2017.4.17",
            "charset-normalizer >=2,<4",
            "idna >=2.5,<4",
            "urllib3 >=1.21.1,<3",
        ),
        _noarch(
            "tqdm",
            "4.67.1",
            "pyhd8ed1ab_0",
            Dist(
                "tqdm",
                "4.67.1",
                requires_python=">=3.7",
                requires_dist=('colorama; platform_system == "Windows"', 'ipywidgets>=6; extra == "notebook"'),
            ),
        ),
        _compiled("regex", "2024.11.6", f"{_PY}h9ecbd09_0", Dist("regex", "2024.11.6", requires_python=">=3.8")),
    )


TORCH_251_REQUIRES = (
    # what setup.py of a source build writes (conda-forge): no nvidia-* wheels, no triton pin
    "filelock",
    "typing-extensions>=4.8.0",
    'setuptools; python_version >= "3.12"',
    'sympy==1.13.1; python_version >= "3.9"',
    "networkx",
    "jinja2",
    "fsspec",
    'opt-einsum>=3.3; extra == "opt-einsum"',
    'optree>=0.12.0; extra == "optree"',
)
_TORCH_PY_DEPENDS = (
    "filelock",
    "fsspec",
    "jinja2",
    "networkx",
    "numpy >=1.19,<3",
    "sympy >=1.13.1,!=1.13.2",
    "typing_extensions >=4.10.0",
)


def _torch_files(version: str, cuda: str | None) -> dict[str, bytes]:
    """torch/version.py as a build writes it: how an installed torch tells CUDA from CPU without import."""
    return {
        f"{SITE_PACKAGES}/torch/version.py": f"__version__ = {version!r}\ndebug = False\ncuda = {cuda!r}\nhip = None\n".encode()
    }


def ml_cuda_packages() -> tuple[CondaPkg, ...]:
    """conda-forge's CUDA 12.6 build of pytorch 2.5.1 with torchvision, triton and the CUDA libraries."""
    cuda = ("__cuda", "cuda-version >=12.6,<13")
    return (
        *python_packages(),
        NUMPY,
        *python_deps_packages(),
        CondaPkg(
            "cuda-version", "12.6", "h7480c83_3", constrains=("cudatoolkit 12.6|12.6.*", "__cuda >=12"), subdir="noarch"
        ),
        CondaPkg(
            "cuda-cudart",
            "12.6.77",
            "h5888daf_0",
            depends=("cuda-version >=12.6,<12.7.0a0",),
            extra_files=_lib("libcudart.so.12"),
        ),
        CondaPkg(
            "libcublas",
            "12.6.4.1",
            "h5888daf_0",
            depends=("cuda-version >=12.6,<12.7.0a0",),
            extra_files=_lib("libcublas.so.12", "libcublasLt.so.12"),
        ),
        CondaPkg(
            "cudnn",
            "9.3.0.75",
            "h93bb076_0",
            depends=("cuda-version >=12,<13.0a0", "libcublas"),
            extra_files=_lib("libcudnn.so.9"),
        ),
        CondaPkg(
            "nccl", "2.23.4.1", "h03a54cd_3", depends=("cuda-version >=12.6,<13.0a0",), extra_files=_lib("libnccl.so.2")
        ),
        CondaPkg(
            "libtorch",
            "2.5.1",
            "cuda126_mkl_h95e6c2d_303",
            depends=(
                *cuda,
                "cuda-cudart >=12.6.77,<13.0a0",
                "cudnn >=9.3.0.75,<10.0a0",
                "libcublas >=12.6.4.1,<13.0a0",
                "nccl >=2.23.4.1,<3.0a0",
            ),
            constrains=("pytorch-cpu <0.0a0", "pytorch-gpu 2.5.1"),
            extra_files=_lib("libtorch_cuda.so", "libtorch_cpu.so"),
        ),
        _compiled(
            "triton",
            "3.1.0",
            f"cuda126{_PY}h8da5aae_1",
            Dist(
                "triton",
                "3.1.0",
                requires_dist=("filelock", 'cmake>=3.20; extra == "build"', 'pytest; extra == "tests"'),
            ),
            *cuda,
            "filelock",
        ),
        CondaPkg(
            "pytorch",
            "2.5.1",
            f"cuda126_mkl_{_PY}_h1e7bc52_303",
            depends=(
                _PYTHON_DEP,
                _PYTHON_ABI_DEP,
                *cuda,
                "cuda-cudart >=12.6.77,<13.0a0",
                "cudnn >=9.3.0.75,<10.0a0",
                "libcublas >=12.6.4.1,<13.0a0",
                "nccl >=2.23.4.1,<3.0a0",
                "libtorch 2.5.1 cuda126_mkl_h95e6c2d_303",
                "triton 3.1.0.*",
                *_TORCH_PY_DEPENDS,
            ),
            constrains=("pytorch-cpu <0.0a0", "pytorch-gpu 2.5.1"),
            dist=Dist("torch", "2.5.1", requires_dist=TORCH_251_REQUIRES, requires_python=">=3.8.0"),
            extra_files=_torch_files("2.5.1", "12.6"),
        ),
        CondaPkg("pytorch-gpu", "2.5.1", "cuda126_mkl_h7dd5b6c_303", depends=("pytorch 2.5.1 cuda*_mkl*303",)),
        _compiled(
            "torchvision",
            "0.20.1",
            f"cuda126_{_PY}_h7e1c7a2_3",
            Dist(
                "torchvision",
                "0.20.1",
                requires_python=">=3.8",
                requires_dist=("numpy", "torch==2.5.1", "pillow!=8.3.*,>=5.3.0", 'scipy; extra == "scipy"'),
            ),
            *cuda,
            "numpy >=1.19,<3",
            "pillow >=5.3.0,!=8.3.*",
            "pytorch * cuda*",
            "pytorch >=2.5.1,<2.6.0a0",
        ),
    )


SIX_PIP_INSTALLED = Dist("six", "1.16.0", requires_python=">=2.7, !=3.0.*, !=3.1.*, !=3.2.*", installer="pip")


def ml_cuda_env(*, pip_dists: tuple[Dist, ...] = (SIX_PIP_INSTALLED,)) -> Scenario:
    return Scenario(
        "ml-cuda",
        ml_cuda_packages(),
        (
            f"python {PY_MAJOR_MINOR}.*",
            "numpy ==1.26.4",
            "pytorch-gpu ==2.5.1",
            "pytorch ==2.5.1 cuda*",
            "torchvision ==0.20.1",
            "pillow",
            "packaging",
            "pyyaml",
            "requests",
            "tqdm",
            "regex",
        ),
        pip_dists,
    )


def pytorch_channel_packages() -> tuple[CondaPkg, ...]:
    """pytorch 2.1.2 from the pytorch channel (torch as egg-info), CUDA 11.8 runtime from nvidia."""
    nvidia = {"channel": "nvidia"}
    return (
        CondaPkg(
            "pytorch",
            "2.1.2",
            f"py{PY_MAJOR_MINOR}_cuda11.8_cudnn8.7.0_0",
            channel="pytorch",
            depends=(
                _PYTHON_DEP,
                "blas * mkl",
                "filelock",
                "jinja2",
                "mkl >=2018",
                "networkx",
                "pytorch-cuda >=11.8,<11.9",
                "pytorch-mutex 1.0 cuda",
                "pyyaml",
                "sympy",
                "torchtriton 2.1.0",
                "typing_extensions",
            ),
            constrains=("cpuonly <0",),
            dist=Dist(
                "torch",
                "2.1.2",
                style="egg-info",
                installer=None,
                requires_python=">=3.8.0",
                requires_dist=(
                    "filelock",
                    "typing-extensions",
                    "sympy",
                    "networkx",
                    "jinja2",
                    "fsspec",
                    'opt-einsum>=3.3; extra == "opt-einsum"',
                ),
            ),
            extra_files=_torch_files("2.1.2", "11.8"),
        ),
        CondaPkg("pytorch-mutex", "1.0", "cuda", channel="pytorch", subdir="noarch"),
        CondaPkg(
            "pytorch-cuda",
            "11.8",
            "h7e8668a_5",
            channel="pytorch",
            depends=("cuda-cudart >=11.8,<11.9", "cuda-runtime >=11.8,<11.9", "libcublas >=11.11.3.6,<11.11.3.7"),
        ),
        _compiled(
            "torchtriton",
            "2.1.0",
            f"py{PY_NODOT}",
            Dist("triton", "2.1.0", requires_dist=("filelock",)),
            "filelock",
            channel="pytorch",
        ),
        CondaPkg("cuda-runtime", "11.8.0", "0", depends=("cuda-libraries >=11.8.0",), **nvidia),
        CondaPkg("cuda-libraries", "11.8.0", "0", depends=("cuda-cudart >=11.8.89", "libcublas >=11.11.3.6"), **nvidia),
        CondaPkg("cuda-cudart", "11.8.89", "0", extra_files=_lib("libcudart.so.11.0"), **nvidia),
        CondaPkg("libcublas", "11.11.3.6", "0", extra_files=_lib("libcublas.so.11"), **nvidia),
        CondaPkg("blas", "1.0", "mkl", channel="pytorch"),
        CondaPkg("mkl", "2023.1.0", "h213fc3f_46344", extra_files=_lib("libmkl_core.so.2")),
        *python_packages(),
        NUMPY,
        *python_deps_packages(),
    )


def pytorch_channel_env() -> Scenario:
    return Scenario(
        "pytorch-channel",
        pytorch_channel_packages(),
        (f"python {PY_MAJOR_MINOR}.*", "pytorch ==2.1.2", "pytorch-cuda ==11.8", "numpy ==1.26.4"),
    )


def cpu_packages() -> tuple[CondaPkg, ...]:
    """conda-forge's CPU build of pytorch 2.5.1 (mkl)."""
    return (
        *python_packages(),
        NUMPY,
        *python_deps_packages(),
        CondaPkg(
            "libtorch",
            "2.5.1",
            "cpu_mkl_h0ac4b26_103",
            constrains=("pytorch-gpu <0.0a0", "pytorch-cpu 2.5.1"),
            extra_files=_lib("libtorch_cpu.so"),
        ),
        CondaPkg(
            "pytorch",
            "2.5.1",
            f"cpu_mkl_{_PY}_h0a0a9a3_103",
            depends=(_PYTHON_DEP, _PYTHON_ABI_DEP, "libtorch 2.5.1 cpu_mkl_h0ac4b26_103", *_TORCH_PY_DEPENDS),
            constrains=("pytorch-gpu <0.0a0", "pytorch-cpu 2.5.1"),
            dist=Dist("torch", "2.5.1", requires_dist=TORCH_251_REQUIRES, requires_python=">=3.8.0"),
            extra_files=_torch_files("2.5.1", None),
        ),
        CondaPkg("pytorch-cpu", "2.5.1", "cpu_mkl_h8e9f5a6_103", depends=("pytorch 2.5.1 cpu_mkl*103",)),
    )


def cpu_env() -> Scenario:
    return Scenario("cpu", cpu_packages(), (f"python {PY_MAJOR_MINOR}.*", "numpy ==1.26.4", "pytorch-cpu ==2.5.1"))


def plain_env() -> Scenario:
    return Scenario("plain", (*python_packages(), NUMPY), (f"python {PY_MAJOR_MINOR}.*", "numpy ==1.26.4"))


ML_CUDA_ENV = ml_cuda_env()
PYTORCH_CHANNEL_ENV = pytorch_channel_env()
CPU_ENV = cpu_env()
PLAIN_ENV = plain_env()
SCENARIOS: dict[str, Scenario] = {s.name: s for s in (ML_CUDA_ENV, PYTORCH_CHANNEL_ENV, CPU_ENV, PLAIN_ENV)}
