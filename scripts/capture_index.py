#!/usr/bin/env python3
"""Capture real package metadata from a live simple index into ``tests/data/index/``.

The captured data is a *closed world*: every dependency of every kept version
(its markers evaluated for Linux x86_64 CPython 3.11) has its project captured
with at least the newest versions that satisfy it.  ``tests/support/index_server.py``
serves it over HTTP so that real pip and our resolver resolve the same commands
offline and deterministically.

Only metadata crosses the wire, never whole wheels: the core metadata of a wheel
comes from ``<wheel-url>.metadata`` (PEP 658, answered by some mirrors even when
their pages do not advertise it) and, when that is missing, from HTTP range
requests on the wheel's zip central directory (what pip's ``lazy_wheel`` does).
A version that has no usable wheel keeps its sdist, whose ``PKG-INFO`` is read
from the (small) downloaded archive.

Usage::

    python scripts/capture_index.py --index-url https://INDEX/simple/ [--keep 8] \
        [--also NAME==VERSION ...] [--requirements FILE ...] [REQUIREMENT ...]

Without REQUIREMENTs the seeds are ``DEFAULT_SEEDS`` (the commands the test suite
and the benchmarks resolve).  ``--requirements FILE`` adds the requirements of a
pip requirements file to the seeds (its pins kept like ``--also``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import gzip
import html
import html.parser
import io
import json
import re
import sys
import tarfile
import threading
import time
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import requests
from packaging import tags
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "index"

# One requirement set per pip command the tests, benchmarks and demo resolve.
DEFAULT_SEEDS: tuple[str, ...] = (
    "transformers",
    "transformers[torch]",
    "datasets",
    "diffusers",
    "accelerate",
    "gradio==4.44.1",
    "diffusers==0.30.0",
    "transformers==4.44.2",
    "opencv-python",
    "opencv-python-headless",
    "xformers",
    "torch",
    "torch==2.6.0",
    "torchvision",
    "torchaudio",
    "numpy==2.0.0",
    "numpy<2",
    "numpy>=1.26,<2",
    "scipy",
    "pandas",
    "scikit-learn",
    "timm",
    "sentence-transformers",
    "peft",
    "bitsandbytes",
    "einops",
    "safetensors",
    "rich",
    "tqdm",
    "requests",
    "nvidia-ml-py",
    "lightning",
    "triton",
)

# The interpreter the world is captured for: Linux x86_64, CPython 3.11.
PYTHON_VERSION = Version("3.11.11")
MARKER_ENV = {
    "implementation_name": "cpython",
    "implementation_version": str(PYTHON_VERSION),
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": str(PYTHON_VERSION),
    "python_version": "3.11",
    "sys_platform": "linux",
}
_LINUX_PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(40, 4, -1)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
    "linux_x86_64",
]
# Most preferred first, as pip orders them.
TARGET_TAGS: dict[tags.Tag, int] = {
    tag: rank
    for rank, tag in enumerate(
        list(tags.cpython_tags((3, 11), abis=["cp311"], platforms=_LINUX_PLATFORMS))
        + list(tags.compatible_tags((3, 11), "cp311", platforms=_LINUX_PLATFORMS))
    )
}
WHEELS_PER_VERSION = 3
NEWEST_PER_SPECIFIER = 3
NEWER_BUT_INCOMPATIBLE = 2  # versions newer than the newest usable one, excluded by requires-python
MAX_SDIST_BYTES = 30 * 1024 * 1024
RANGE_BLOCK = 256 * 1024
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


class CaptureError(Exception):
    """A file's metadata or a project's page could not be obtained."""


# --------------------------------------------------------------------------- HTTP


class Fetcher:
    """Thread-safe HTTP GETs with timeouts and bounded retries; counts bytes."""

    def __init__(self, retries: int = 4, timeout: float = 30.0) -> None:
        self._local = threading.local()
        self.retries = retries
        self.timeout = timeout
        self.bytes = 0
        self.requests = 0
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def get(self, url: str, headers: dict[str, str] | None = None, ok404: bool = False) -> requests.Response | None:
        """GET ``url``; ``None`` for a 404 when ``ok404``; raise CaptureError after the retries."""
        last: Exception | None = None
        for attempt in range(self.retries):
            try:
                resp = self._session().get(url, headers=headers or {}, timeout=self.timeout)
                with self._lock:
                    self.requests += 1
                    self.bytes += len(resp.content)
                if resp.status_code == 404 and ok404:
                    return None
                if resp.status_code in (200, 206):
                    return resp
                last = CaptureError(f"HTTP {resp.status_code} for {url}")
                if resp.status_code < 500 and resp.status_code != 429:
                    break
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.5 * 2**attempt)
        raise CaptureError(f"{url}: {last}")


class HttpRangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file, fetched in cached blocks by HTTP ranges."""

    def __init__(self, fetcher: Fetcher, url: str, size: int) -> None:
        self._fetcher, self._url, self._size = fetcher, url, size
        self._pos = 0
        self._blocks: dict[int, bytes] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _block(self, index: int) -> bytes:
        if index not in self._blocks:
            start = index * RANGE_BLOCK
            end = min(self._size, start + RANGE_BLOCK) - 1
            resp = self._fetcher.get(self._url, headers={"Range": f"bytes={start}-{end}"})
            assert resp is not None
            if resp.status_code != 206:
                raise CaptureError(f"{self._url}: the server ignored a range request")
            self._blocks[index] = resp.content
        return self._blocks[index]

    def readinto(self, buffer) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        done = 0
        while done < want:
            index, offset = divmod(self._pos, RANGE_BLOCK)
            chunk = self._block(index)[offset : offset + want - done]
            if not chunk:
                break
            buffer[done : done + len(chunk)] = chunk
            done += len(chunk)
            self._pos += len(chunk)
        return done


# --------------------------------------------------------------------------- pages


@dataclass
class IndexFile:
    filename: str
    url: str
    sha256: str | None
    requires_python: str | None
    yanked: bool | str
    upload_time: str | None
    size: int | None


class _AnchorParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._current, self._text = dict(attrs), []

    def handle_data(self, data):
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


def parse_json_page(page_url: str, data: dict) -> list[IndexFile]:
    out = []
    for entry in data.get("files", []):
        out.append(
            IndexFile(
                filename=entry["filename"],
                url=urllib.parse.urljoin(page_url, entry["url"]),
                sha256=(entry.get("hashes") or {}).get("sha256"),
                requires_python=entry.get("requires-python"),
                yanked=entry.get("yanked", False),
                upload_time=entry.get("upload-time"),
                size=entry.get("size"),
            )
        )
    return out


def parse_html_page(page_url: str, text: str) -> list[IndexFile]:
    parser = _AnchorParser()
    parser.feed(text)
    out = []
    for attrs, label in parser.anchors:
        href = attrs.get("href") or ""
        url, _, fragment = urllib.parse.urljoin(page_url, href).partition("#")
        filename = urllib.parse.unquote(url.rsplit("/", 1)[-1]) or label
        sha256 = fragment[len("sha256=") :] if fragment.startswith("sha256=") else None
        yanked: bool | str = False
        if "data-yanked" in attrs:
            yanked = attrs["data-yanked"] or True
        out.append(
            IndexFile(
                filename=filename,
                url=url,
                sha256=sha256,
                requires_python=attrs.get("data-requires-python"),  # already unescaped
                yanked=yanked,
                upload_time=None,
                size=None,
            )
        )
    return out


def fetch_page(fetcher: Fetcher, index_url: str, name: str) -> list[IndexFile]:
    page_url = urllib.parse.urljoin(index_url, f"{name}/")
    resp = fetcher.get(page_url, headers={"Accept": f"{JSON_ACCEPT}, text/html;q=0.1"}, ok404=True)
    if resp is None:
        return []
    if resp.headers.get("Content-Type", "").split(";")[0].strip() == JSON_ACCEPT:
        return parse_json_page(resp.url, resp.json())
    return parse_html_page(resp.url, resp.text)


# --------------------------------------------------------------------------- files and metadata


def file_version(f: IndexFile, project: str | None = None) -> tuple[Version | None, bool]:
    """(version, is_wheel); version None when the filename is not a distribution of ``project``.

    Old uploads such as ``selenium-2.0-dev-9284.tar.gz`` parse as another name; they are skipped.
    """
    try:
        if f.filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(f.filename)
            is_wheel = True
        elif f.filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(f.filename)
            is_wheel = False
        else:
            return None, False
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None, False
    if project is not None and name != project:
        return None, False
    return version, is_wheel


def wheel_rank(filename: str) -> int | None:
    """pip's preference of a wheel for the target interpreter (lower is better); None = unusable."""
    ranks = [TARGET_TAGS[t] for t in parse_wheel_filename(filename)[3] if t in TARGET_TAGS]
    return min(ranks) if ranks else None


def python_ok(requires_python: str | None) -> bool:
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(PYTHON_VERSION, prereleases=True)
    except InvalidSpecifier:
        return True  # pip ignores an invalid requires-python too


def choose_files(files: list[IndexFile]) -> list[IndexFile]:
    """The files of one version a cp311 manylinux x86_64 interpreter could use."""
    wheels = sorted(
        ((rank, f) for f in files if f.filename.endswith(".whl") and (rank := wheel_rank(f.filename)) is not None),
        key=lambda pair: pair[0],
    )
    if wheels:
        return [f for _, f in wheels[:WHEELS_PER_VERSION]]
    sdists = [f for f in files if not f.filename.endswith(".whl")]
    return sdists[:1]


def strip_metadata(text: str) -> str:
    """The header block of a core metadata file, without the long description.

    Drops the body after the first blank line and any ``Description:`` header with its
    continuation lines; every other header is kept verbatim.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    in_description = False
    for line in lines:
        if line == "":
            break
        if line[:1] in (" ", "\t"):
            if not in_description:
                kept.append(line)
            continue
        in_description = line.lower().startswith("description:")
        if not in_description:
            kept.append(line)
    return "\n".join(kept) + "\n"


def _metadata_from_wheel_ranges(fetcher: Fetcher, f: IndexFile) -> str:
    size = f.size
    if size is None:
        head = fetcher.get(f.url, headers={"Range": "bytes=0-0"})
        assert head is not None
        size = int(head.headers["Content-Range"].rsplit("/", 1)[1])
    with zipfile.ZipFile(io.BufferedReader(HttpRangeFile(fetcher, f.url, size), buffer_size=RANGE_BLOCK)) as zf:
        names = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        if len(names) != 1:
            raise CaptureError(f"{f.filename}: {len(names)} METADATA files")
        return zf.read(names[0]).decode("utf-8")


def _requires_txt_to_requires_dist(requires_txt: str) -> list[str]:
    """setuptools' egg-info requires.txt sections as Requires-Dist values."""
    out, section = [], ""
    for raw in requires_txt.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        extra, _, marker = section.partition(":")
        conditions = []
        if marker:
            conditions.append(f"({marker})")
        if extra:
            conditions.append(f'extra == "{extra}"')
        out.append(line + ("; " + " and ".join(conditions) if conditions else ""))
    return out


def _metadata_from_sdist(fetcher: Fetcher, f: IndexFile) -> str:
    if f.size and f.size > MAX_SDIST_BYTES:
        raise CaptureError(f"{f.filename}: sdist too large ({f.size} bytes)")
    resp = fetcher.get(f.url)
    assert resp is not None
    blob = resp.content
    members: dict[str, bytes] = {}
    if f.filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            for n in zf.namelist():
                if n.count("/") <= 2 and n.endswith(("PKG-INFO", "requires.txt")):
                    members[n] = zf.read(n)
    else:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tf:
            for m in tf.getmembers():
                if m.isfile() and m.name.count("/") <= 2 and m.name.endswith(("PKG-INFO", "requires.txt")):
                    members[m.name] = tf.extractfile(m).read()  # type: ignore[union-attr]
    pkg_info = [n for n in members if n.count("/") == 1 and n.endswith("/PKG-INFO")]
    if not pkg_info:
        raise CaptureError(f"{f.filename}: no PKG-INFO")
    text = strip_metadata(members[pkg_info[0]].decode("utf-8", "replace"))
    if "\nRequires-Dist:" not in text:
        # Old setuptools sdists keep their dependencies in egg-info only.
        requires = [n for n in members if n.endswith(".egg-info/requires.txt")]
        if requires:
            extra = _requires_txt_to_requires_dist(members[requires[0]].decode("utf-8", "replace"))
            text += "".join(f"Requires-Dist: {r}\n" for r in extra)
    return text


def fetch_metadata(fetcher: Fetcher, f: IndexFile) -> tuple[str, str]:
    """(stripped core metadata, how it was obtained)."""
    if f.filename.endswith(".whl"):
        resp = fetcher.get(f.url + ".metadata", ok404=True)
        if resp is not None:
            return strip_metadata(resp.content.decode("utf-8")), "pep658"
        return strip_metadata(_metadata_from_wheel_ranges(fetcher, f)), "wheel-ranges"
    return _metadata_from_sdist(fetcher, f), "sdist-pkg-info"


def requires_dist(metadata: str) -> list[Requirement]:
    out = []
    for line in metadata.split("\n"):
        if line.lower().startswith("requires-dist:"):
            try:
                out.append(Requirement(line.split(":", 1)[1].strip()))
            except InvalidRequirement:
                print(f"  warning: unparsable Requires-Dist {line!r}", file=sys.stderr)
    return out


def applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**MARKER_ENV, "extra": e}) for e in {"", *extras})


# --------------------------------------------------------------------------- the world


@dataclass
class Project:
    name: NormalizedName
    files: list[IndexFile] | None = None  # None until the page is fetched
    specifiers: set[str] = field(default_factory=set)
    extras: set[str] = field(default_factory=set)
    pins: set[Version] = field(default_factory=set)
    kept: dict[Version, list[IndexFile]] = field(default_factory=dict)
    metadata: dict[str, tuple[str, str]] = field(default_factory=dict)  # filename -> (text, source)
    failed: set[str] = field(default_factory=set)
    followed: set[tuple[Version, frozenset[str]]] = field(default_factory=set)

    def by_version(self) -> dict[Version, list[IndexFile]]:
        out: dict[Version, list[IndexFile]] = {}
        for f in self.files or []:
            version, _ = file_version(f, self.name)
            if version is not None:
                out.setdefault(version, []).append(f)
        return out

    def select(self, keep: int) -> dict[Version, list[IndexFile]]:
        """The versions to keep and, for each, the files to keep."""
        chosen = {v: choose_files(fs) for v, fs in self.by_version().items()}
        chosen = {v: fs for v, fs in chosen.items() if fs}
        usable = sorted((v for v, fs in chosen.items() if any(python_ok(f.requires_python) for f in fs)), reverse=True)
        finals = [v for v in usable if not v.is_prerelease and not v.is_devrelease]
        unyanked = [v for v in finals if not all(f.yanked for f in chosen[v])]
        selected: set[Version] = set(unyanked[:keep])
        if selected:
            # yanked releases inside the window stay: pip must skip them
            oldest = min(selected)
            selected.update([v for v in finals if v >= oldest and v not in selected][:2])
            newest = max(selected)
            newer = sorted(
                (
                    v
                    for v in chosen
                    if v > newest
                    and v not in usable
                    and not v.is_prerelease
                    and not v.is_devrelease
                    and all(f.filename.endswith(".whl") for f in chosen[v])
                ),
                reverse=True,
            )
            selected.update(newer[:NEWER_BUT_INCOMPATIBLE])
        installable = [v for v in usable if not all(f.yanked for f in chosen[v])]
        for spec in self.specifiers:
            # pip's rule: prereleases only when the specifier asks for them or nothing else matches
            selected.update(list(SpecifierSet(spec).filter(installable))[:NEWEST_PER_SPECIFIER])
        selected.update(v for v in self.pins if v in chosen)
        return {v: chosen[v] for v in selected}


class World:
    def __init__(self, fetcher: Fetcher, index_url: str, keep: int, jobs: int) -> None:
        self.fetcher, self.index_url, self.keep, self.jobs = fetcher, index_url, keep, jobs
        self.projects: dict[NormalizedName, Project] = {}

    def index_hosts(self) -> set[str]:
        """The hosts of the index and of its files, as seen in this run."""
        urls = [self.index_url] + [f.url for p in self.projects.values() for f in p.files or []]
        hosts = {urllib.parse.urlsplit(u).hostname or "" for u in urls} - {""}
        hosts = {h for h in hosts if re.search(r"[a-z]", h, re.IGNORECASE)}  # not 127.0.0.1 and friends
        # "files.example.org" and "example.org" both go: redact the registrable part too
        return hosts | {".".join(h.split(".")[-2:]) for h in hosts if h.count(".") >= 1}

    def add(self, req: Requirement, pin: bool = False) -> None:
        name = canonicalize_name(req.name)
        project = self.projects.setdefault(name, Project(name))
        project.specifiers.add(str(req.specifier))
        project.extras.update(canonicalize_name(e) for e in req.extras)
        if pin:
            for spec in req.specifier:
                # a wildcard (``==1.13.*``) is kept by the per-specifier rule instead
                if spec.operator in ("==", "===") and not spec.version.endswith(".*"):
                    project.pins.add(Version(spec.version))

    def run(self) -> None:
        with concurrent.futures.ThreadPoolExecutor(self.jobs) as pool:
            for round_no in range(1, 100):
                pages = [p for p in self.projects.values() if p.files is None]
                fetched = pool.map(lambda p: fetch_page(self.fetcher, self.index_url, p.name), pages)
                for project, files in zip(pages, fetched):
                    project.files = files
                    if not files:
                        print(f"  warning: {project.name}: no such project", file=sys.stderr)
                todo: list[tuple[Project, IndexFile]] = []
                for project in self.projects.values():
                    project.kept = project.select(self.keep)
                    for files in project.kept.values():
                        todo.extend(
                            (project, f)
                            for f in files
                            if f.filename not in project.metadata and f.filename not in project.failed
                        )
                results = pool.map(lambda pf: self._metadata(pf[1]), todo)
                for (project, f), result in zip(todo, results):
                    if isinstance(result, Exception):
                        print(f"  warning: {f.filename}: {result}", file=sys.stderr)
                        project.failed.add(f.filename)
                    else:
                        project.metadata[f.filename] = result
                changed = self._follow()
                print(
                    f"round {round_no}: {len(self.projects)} projects, {len(pages)} pages, "
                    f"{len(todo)} metadata files fetched",
                    file=sys.stderr,
                )
                if not changed and not todo and not pages:
                    return
        raise CaptureError("the world did not close in 100 rounds")

    def _metadata(self, f: IndexFile) -> tuple[str, str] | Exception:
        try:
            return fetch_metadata(self.fetcher, f)
        except Exception as exc:  # reported per file; the world is captured without it
            return exc

    def _follow(self) -> bool:
        """Enqueue the dependencies of every kept version; True when the worklist grew."""
        before = self._fingerprint()
        for project in list(self.projects.values()):
            extras = frozenset(project.extras)
            for version, files in project.kept.items():
                if (version, extras) in project.followed:
                    continue
                texts = [project.metadata[f.filename][0] for f in files if f.filename in project.metadata]
                if not texts:
                    continue
                for text in texts:
                    for req in requires_dist(text):
                        if applies(req, set(extras)):
                            self.add(req)
                project.followed.add((version, extras))
        return self._fingerprint() != before

    def _fingerprint(self) -> tuple:
        return tuple((n, len(p.specifiers), len(p.extras)) for n, p in sorted(self.projects.items()))


def requirements_file_seeds(path: Path) -> list[Requirement]:
    """The named requirements of a pip requirements file, for seeding the world.

    Continuation lines are joined and comments dropped as pip does; option lines, URLs,
    paths and editables name nothing an index serves and are skipped, and so are
    requirements whose markers do not apply to the target interpreter. Nested ``-r``
    files are followed.
    """
    text = path.read_text(encoding="utf-8")
    logical = re.sub(r"\\\r?\n", " ", text).splitlines()
    out: list[Requirement] = []
    for raw in logical:
        line = re.sub(r"(^|\s+)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("-"):
            nested = re.fullmatch(r"(?:-r|--requirement)[\s=]+(\S+)", line)
            if nested:
                out.extend(requirements_file_seeds(path.parent / nested.group(1)))
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue  # a path or an archive URL
        if req.url is None and applies(req, set()):
            out.append(req)
    return out


# --------------------------------------------------------------------------- storage


REDACTED_HOST = "index.invalid"


def redact(text: str, hosts: set[str]) -> str:
    """Replace the index's host names (metadata may link to the index) with REDACTED_HOST.

    Nothing committed names a package-index host; the hosts come from the run, not from here.
    """
    for host in sorted(hosts, key=len, reverse=True):
        text = re.sub(re.escape(host), REDACTED_HOST, text, flags=re.IGNORECASE)
    return text


def write_world(world: World, out: Path) -> tuple[int, int, int]:
    """Write one gzipped JSON per project; returns (projects, versions, files)."""
    hosts = world.index_hosts()
    projects_dir = out / "projects"
    if projects_dir.exists():
        for old in projects_dir.glob("*.json.gz"):
            old.unlink()
    projects_dir.mkdir(parents=True, exist_ok=True)
    n_projects = n_versions = n_files = 0
    for name, project in sorted(world.projects.items()):
        entries = []
        for version in sorted(project.kept):
            for f in project.kept[version]:
                if f.filename not in project.metadata:
                    continue
                text, source = project.metadata[f.filename]
                entries.append(
                    {
                        "filename": f.filename,
                        "url": f"../../files/{name}/{urllib.parse.quote(f.filename)}",
                        "hashes": {"sha256": f.sha256} if f.sha256 else {},
                        "requires-python": f.requires_python,
                        "yanked": redact(f.yanked, hosts) if isinstance(f.yanked, str) else f.yanked,
                        "upload-time": f.upload_time,
                        "size": f.size,
                        "metadata-source": source,
                        "metadata": redact(text, hosts),
                    }
                )
        if not entries:
            continue
        n_projects += 1
        n_versions += len({v for v in project.kept if any(f.filename in project.metadata for f in project.kept[v])})
        n_files += len(entries)
        payload = json.dumps({"name": name, "files": entries}, indent=1, sort_keys=True).encode()
        # mtime=0: re-running the capture on unchanged data yields identical bytes
        (projects_dir / f"{name}.json.gz").write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    return n_projects, n_versions, n_files


def unsatisfiable(world: World) -> list[str]:
    """``"<file>: <requirement>"`` for each dependency (no extras) no captured version satisfies.

    The world is closed, so these are holes of the source index itself (a mirror lagging behind
    the uploads a dependency was built against); resolvers must backtrack around them.
    """
    versions = {
        name: {file_version(f, name)[0] for fs in p.kept.values() for f in fs if f.filename in p.metadata}
        for name, p in world.projects.items()
    }
    out = []
    for project in world.projects.values():
        for files in project.kept.values():
            for f in files:
                if f.filename not in project.metadata:
                    continue
                for req in requires_dist(project.metadata[f.filename][0]):
                    if not applies(req, set()):
                        continue
                    have = versions.get(canonicalize_name(req.name), set())
                    if not any(v is not None and req.specifier.contains(v, prereleases=True) for v in have):
                        out.append(f"{f.filename}: {req}")
    return sorted(out)


def write_source(out: Path, argv: list[str], stats: tuple[int, int, int], elapsed: float) -> None:
    projects, versions, files = stats
    index_arg = "--index-url https://<the public PyPI index>/simple/"
    shown = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--index-url":
            skip = True
            continue
        if arg.startswith("--index-url="):
            continue
        shown.append(arg)
    command = " ".join(["python scripts/capture_index.py", index_arg, *shown])
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    (out / "SOURCE.md").write_text(
        f"""# Captured package index

Real metadata captured from the public PyPI index on {when} by

```
{command}
```

({elapsed:.0f} s; {projects} projects, {versions} versions, {files} files.)

What is here: a closed world for Linux x86_64 CPython 3.11 grown from the seeds in
`scripts/capture_index.py` (`DEFAULT_SEEDS`, or the requirements given, plus those of each
`--requirements` file): per project the newest 8 final releases that
install on CPython 3.11, the newest 3 satisfying every specifier any kept version (or seed)
asks of it, the pinned versions, yanked releases inside that window and up to 2 newer
releases excluded by `requires-python`. Per kept version only the files a cp311 manylinux
x86_64 interpreter could use (its best wheels; the sdist only when no wheel fits).

`projects/<name>.json.gz` holds, per file: filename, a relative URL the local server
serves, the real sha256 of the file, requires-python, yanked (false or the reason),
upload time, size, and its core metadata. The long description (`Description:` header and
the body after the headers) is stripped; every other header is verbatim except that
the index's own host names (in project URLs) read `index.invalid`. The local server
computes the `.metadata` hash from the text it serves. `metadata-source` says how the
metadata was read: `pep658` (`<file>.metadata`), `wheel-ranges` (the wheel's METADATA
read by HTTP range requests) or `sdist-pkg-info` (PKG-INFO of the sdist; for old
setuptools sdists whose PKG-INFO has no `Requires-Dist`, the lines are derived from the
egg-info `requires.txt`).

`unsatisfiable.json` lists the dependencies (extras not requested) that no captured version
satisfies because the source index had no such version when captured; a resolver meeting one
must backtrack, as pip does.

The file bytes themselves are not captured: the local server answers 404 for them.
Serve it with `tests/support/index_server.py` (`LocalIndex`).
"""
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requirements", nargs="*", help="seed requirements (default: DEFAULT_SEEDS)")
    parser.add_argument("--index-url", required=True, help="a PEP 503/691 simple index, e.g. https://HOST/simple/")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", type=int, default=8, help="newest final releases kept per project")
    parser.add_argument("--also", action="append", default=[], metavar="NAME==VERSION", help="extra pinned versions")
    parser.add_argument(
        "--requirements",
        dest="requirements_files",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a pip requirements file whose requirements are added to the seeds",
    )
    parser.add_argument("--jobs", type=int, default=16)
    args = parser.parse_args(argv)
    index_url = args.index_url if args.index_url.endswith("/") else args.index_url + "/"

    started = time.monotonic()
    fetcher = Fetcher()
    world = World(fetcher, index_url, args.keep, args.jobs)
    for text in args.requirements or DEFAULT_SEEDS:
        world.add(Requirement(text), pin=True)
    for text in args.also:
        world.add(Requirement(text), pin=True)
    for path in args.requirements_files:
        for req in requirements_file_seeds(path):
            world.add(req, pin=True)
    world.run()
    args.out.mkdir(parents=True, exist_ok=True)
    stats = write_world(world, args.out)
    holes = unsatisfiable(world)
    (args.out / "unsatisfiable.json").write_text(json.dumps(holes, indent=1) + "\n")
    elapsed = time.monotonic() - started
    write_source(args.out, argv, stats, elapsed)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    failed = sum(len(p.failed) for p in world.projects.values())
    print(
        f"captured {stats[0]} projects, {stats[1]} versions, {stats[2]} files "
        f"({failed} files without metadata, {len(holes)} dependencies the index cannot satisfy) in {elapsed:.0f} s; "
        f"{fetcher.requests} requests, {fetcher.bytes / 1e6:.1f} MB fetched, {size / 1e6:.2f} MB written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
