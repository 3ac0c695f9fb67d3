"""The local index serves the captured world the way a real index does.

Real pip (the oracle) resolves against it from metadata alone; the protocol details our index
client relies on (PEP 691 JSON, PEP 503 HTML, PEP 658 metadata, redirects, ETags, byte ranges)
and the faults tests inject are checked here over real HTTP.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
import subprocess
import sys
import time
import urllib.parse
import venv

import pytest
import requests
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.index_server import DEFAULT_DATA_DIR, JSON_TYPE, LocalIndex, load_projects
from tests.support.wheels import build_wheel

JSON_ACCEPT = {"Accept": JSON_TYPE}
# What pip 26 sends for a project page.
PIP_ACCEPT = {"Accept": f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"}
LINUX_CP311 = {
    "implementation_name": "cpython",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.11.11",
    "python_version": "3.11",
    "sys_platform": "linux",
    "extra": "",
}


@pytest.fixture
def index():
    with LocalIndex() as served:
        yield served


def project_page(index: LocalIndex, name: str, **headers) -> requests.Response:
    return requests.get(index.url + f"{name}/", headers=headers, timeout=10)


def file_url(index: LocalIndex, project: str, href: str) -> str:
    return urllib.parse.urljoin(index.url + f"{project}/", href)


# ---------------------------------------------------------------------------------------------
# the oracle: real pip resolves from captured metadata only


def test_pip_resolves_transformers_from_captured_metadata(index, oracle_pip, pip_env):
    out = subprocess.run(
        [
            str(oracle_pip),
            "-m",
            "pip",
            "--python",
            sys.executable,
            "install",
            "--dry-run",
            "--report",
            "-",
            "--quiet",
            "--ignore-installed",
            "-i",
            index.url,
            "transformers",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=pip_env,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    installed = {canonicalize_name(item["metadata"]["name"]): item for item in report["install"]}
    newest = max(Version(f.version) for f in index.files("transformers") if not f.yanked)
    assert installed["transformers"]["metadata"]["version"] == str(newest)
    assert {"huggingface-hub", "tokenizers", "numpy", "safetensors"} <= set(installed)
    # every pick came from this index; no file body was fetched, only pages and .metadata
    assert all(item["download_info"]["url"].startswith(index.url.removesuffix("simple/")) for item in report["install"])
    paths = [path for _, path, _ in index.requests]
    assert not [p for p in paths if p.startswith("/files/") and not p.endswith(".metadata")]
    assert any(p.endswith(".whl.metadata") for p in paths)


def test_pip_installs_an_added_wheel(tmp_path, oracle_pip, pip_env):
    wheel = build_wheel(
        tmp_path / "wheels",
        "Guard-Demo",
        "1.2",
        requires_python=">=3.8",
        files={"guard_demo/__init__.py": "VALUE = 42\n"},
    )
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    with LocalIndex(extra_wheels=[wheel]) as index:
        out = subprocess.run(
            [
                str(oracle_pip),
                "-m",
                "pip",
                "--python",
                str(target / "bin" / "python"),
                "install",
                "--quiet",
                "-i",
                index.url,
                "guard-demo",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=pip_env,
        )
    assert out.returncode == 0, out.stderr
    check = subprocess.run(
        [str(target / "bin" / "python"), "-c", "import guard_demo; print(guard_demo.VALUE)"],
        capture_output=True,
        text=True,
    )
    assert check.stdout.strip() == "42"


# ---------------------------------------------------------------------------------------------
# pages


def test_json_page_follows_pep_691_and_advertises_metadata(index):
    resp = project_page(index, "numpy", **PIP_ACCEPT)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == JSON_TYPE
    page = resp.json()
    assert page["meta"]["api-version"] == "1.1"
    assert page["name"] == "numpy"
    assert {"2.0.0", "1.26.4"} <= set(page["versions"])
    by_name = {f["filename"]: f for f in page["files"]}
    yanked = [f for f in page["files"] if f["yanked"]]
    assert yanked and all(isinstance(f["yanked"], (str, bool)) for f in yanked)
    entry = next(f for name, f in by_name.items() if name.startswith("numpy-2.0.0-cp311-"))
    assert entry["requires-python"] == ">=3.9"
    assert re.fullmatch(r"[0-9a-f]{64}", entry["hashes"]["sha256"])
    assert entry["core-metadata"] == entry["dist-info-metadata"]
    metadata = requests.get(file_url(index, "numpy", entry["url"]) + ".metadata", timeout=10)
    assert metadata.status_code == 200
    assert hashlib.sha256(metadata.content).hexdigest() == entry["core-metadata"]["sha256"]
    assert metadata.content.startswith(b"Metadata-Version: ")
    assert b"\nName: numpy\nVersion: 2.0.0\n" in metadata.content


def test_html_page_follows_pep_503(index):
    resp = project_page(index, "aiofiles")  # no Accept header: HTML
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    text = resp.text
    assert 'data-requires-python="&gt;=3.7,&lt;4.0"' in text
    assert 'data-yanked="Windows import issue"' in text
    anchors = re.findall(r'<a href="([^"]+)"([^>]*)>([^<]+)</a>', text)
    assert anchors
    for href, attrs, filename in anchors:
        href = html.unescape(href)
        assert href.split("#")[0].endswith("/" + urllib.parse.quote(filename))
        assert re.search(r"#sha256=[0-9a-f]{64}$", href)
        digest = re.search(r'data-core-metadata="sha256=([0-9a-f]{64})"', attrs).group(1)
        assert f'data-dist-info-metadata="sha256={digest}"' in attrs
    href, _, _ = anchors[-1]
    served = requests.get(file_url(index, "aiofiles", html.unescape(href).split("#")[0]) + ".metadata", timeout=10)
    assert hashlib.sha256(served.content).hexdigest() in anchors[-1][1]


def test_metadata_answers_even_when_not_advertised():
    with LocalIndex(advertise_metadata=False) as index:
        page = project_page(index, "einops", **JSON_ACCEPT).json()
        assert all("core-metadata" not in f and "dist-info-metadata" not in f for f in page["files"])
        assert "data-core-metadata" not in project_page(index, "einops").text
        served = requests.get(file_url(index, "einops", page["files"][-1]["url"]) + ".metadata", timeout=10)
        assert served.status_code == 200 and b"Name: einops" in served.content


def test_root_lists_projects(index):
    names = [p["name"] for p in requests.get(index.url, headers=JSON_ACCEPT, timeout=10).json()["projects"]]
    assert {"torch", "numpy", "transformers", "nvidia-cublas-cu12"} <= set(names)
    assert '<a href="torch/">torch</a>' in requests.get(index.url, timeout=10).text


def test_non_normalized_names_redirect_to_the_normalized_page(index):
    for asked in ("PyYAML/", "Typing_Extensions/", "torch"):
        resp = requests.get(index.url + asked, allow_redirects=False, timeout=10)
        assert resp.status_code == 301
        assert resp.headers["Location"] == f"/simple/{canonicalize_name(asked.rstrip('/'))}/"
    assert requests.get(index.url + "PyYAML", headers=JSON_ACCEPT, timeout=10).json()["name"] == "pyyaml"


def test_etag_and_if_none_match(index):
    first = project_page(index, "torch", **JSON_ACCEPT)
    assert first.headers["Cache-Control"] == "max-age=600"
    etag = first.headers["ETag"]
    again = project_page(index, "torch", **JSON_ACCEPT, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    # the HTML representation is another resource version
    assert project_page(index, "torch", **{"If-None-Match": etag}).status_code == 200
    with LocalIndex(cache_control="no-cache") as other:
        assert project_page(other, "torch").headers["Cache-Control"] == "no-cache"


def test_unknown_things_answer_404(index):
    assert project_page(index, "no-such-project-here").status_code == 404
    entry = project_page(index, "einops", **JSON_ACCEPT).json()["files"][0]
    assert requests.get(file_url(index, "einops", entry["url"]), timeout=10).status_code == 404  # no bytes
    assert requests.get(index.url.replace("/simple/", "/files/einops/nope.whl.metadata"), timeout=10).status_code == 404


# ---------------------------------------------------------------------------------------------
# real wheels: pages and byte ranges


def test_added_wheel_is_listed_and_served_with_ranges(index, tmp_path):
    wheel = build_wheel(tmp_path, "fresh-project", "0.1", requires_dist=["numpy>=1.26"], requires_python=">=3.10")
    blob = wheel.read_bytes()
    etag_before = project_page(index, "numpy", **JSON_ACCEPT).headers["ETag"]
    index.add_wheel(wheel)
    root = requests.get(index.url, headers=JSON_ACCEPT, timeout=10).json()
    assert "fresh-project" in [p["name"] for p in root["projects"]]
    (entry,) = project_page(index, "Fresh_Project", **JSON_ACCEPT).json()["files"]
    assert entry["filename"] == wheel.name
    assert entry["hashes"]["sha256"] == hashlib.sha256(blob).hexdigest()
    assert entry["requires-python"] == ">=3.10" and entry["size"] == len(blob)
    url = file_url(index, "fresh-project", entry["url"])

    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200 and whole.content == blob and whole.headers["Accept-Ranges"] == "bytes"
    head = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=10)
    assert head.status_code == 206 and head.content == blob[:10]
    assert head.headers["Content-Range"] == f"bytes 0-9/{len(blob)}"
    tail = requests.get(url, headers={"Range": "bytes=-22"}, timeout=10)
    assert tail.status_code == 206 and tail.content == blob[-22:]
    assert tail.headers["Content-Range"] == f"bytes {len(blob) - 22}-{len(blob) - 1}/{len(blob)}"
    open_ended = requests.get(url, headers={"Range": f"bytes={len(blob) - 5}-"}, timeout=10)
    assert open_ended.content == blob[-5:]
    beyond = requests.get(url, headers={"Range": f"bytes={len(blob)}-"}, timeout=10)
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(blob)}"
    assert requests.head(url, timeout=10).headers["Content-Length"] == str(len(blob))

    metadata = requests.get(url + ".metadata", timeout=10).content
    assert hashlib.sha256(metadata).hexdigest() == entry["core-metadata"]["sha256"]
    assert b"Requires-Dist: numpy>=1.26" in metadata
    assert ("GET", urllib.parse.urlsplit(url).path, "bytes=-22") in index.requests
    assert project_page(index, "numpy", **JSON_ACCEPT).headers["ETag"] == etag_before


def test_added_wheel_joins_an_existing_project(tmp_path):
    wheel = build_wheel(tmp_path, "einops", "99.0")
    with LocalIndex(extra_wheels=[wheel]) as index:
        files = project_page(index, "einops", **JSON_ACCEPT).json()["files"]
        assert wheel.name in [f["filename"] for f in files] and len(files) > 1
        assert "99.0" in project_page(index, "einops", **JSON_ACCEPT).json()["versions"]


# ---------------------------------------------------------------------------------------------
# faults


@pytest.mark.parametrize("kind, status", [("404", 404), ("500", 500)])
def test_status_faults(index, kind, status):
    index.set_fault(kind)
    assert project_page(index, "torch", **JSON_ACCEPT).status_code == status
    index.set_fault(None)
    assert project_page(index, "torch", **JSON_ACCEPT).status_code == 200


def test_garbage_fault_answers_200_with_an_unusable_body(index):
    index.set_fault("garbage")
    resp = project_page(index, "torch", **JSON_ACCEPT)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == JSON_TYPE
    with pytest.raises(ValueError):
        resp.json()


def test_slow_fault_delays_the_answer(index):
    index.set_fault("slow", delay=0.3)
    started = time.monotonic()
    assert project_page(index, "einops").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_reset_fault_drops_the_connection(index):
    index.set_fault("reset")
    with pytest.raises(requests.ConnectionError):
        project_page(index, "einops")
    index.set_fault(None)
    assert project_page(index, "einops").status_code == 200


def test_unknown_fault_is_refused(index):
    with pytest.raises(ValueError):
        index.set_fault("teapot")


def test_requests_are_logged_with_their_range_header(index):
    project_page(index, "einops", Range="bytes=0-1")
    requests.head(index.url, timeout=10)
    assert index.requests == [("GET", "/simple/einops/", "bytes=0-1"), ("HEAD", "/simple/", None)]


# ---------------------------------------------------------------------------------------------
# the captured data


def test_captured_world_is_closed_for_linux_cp311():
    """Every dependency of every captured file (markers true on Linux x86_64 CPython 3.11, no extras;
    Requires-Dist lines that do not parse are skipped, as the capture skips them)
    has its project captured with a version that satisfies it, except the holes of the source index
    the capture recorded."""
    projects = load_projects(DEFAULT_DATA_DIR)
    versions = {name: {Version(f.version) for f in files.values()} for name, files in projects.items()}
    missing = []
    for files in projects.values():
        for f in files.values():
            for line in f.metadata.decode().splitlines():
                if not line.startswith("Requires-Dist:"):
                    continue
                try:
                    req = Requirement(line.split(":", 1)[1].strip())
                except InvalidRequirement:
                    continue  # real, invalid metadata (torchsde 0.2.5): pip ignores that version
                if req.marker is not None and not Marker(str(req.marker)).evaluate(LINUX_CP311):
                    continue
                dep = canonicalize_name(req.name)
                if not any(req.specifier.contains(v, prereleases=True) for v in versions.get(dep, ())):
                    missing.append(f"{f.filename}: {req}")
    recorded = json.loads((DEFAULT_DATA_DIR / "unsatisfiable.json").read_text())
    assert sorted(missing) == recorded


def test_captured_urls_are_relative_and_metadata_is_stripped():
    for files in load_projects(DEFAULT_DATA_DIR).values():
        for f in files.values():
            text = f.metadata.decode()
            assert text.startswith("Metadata-Version: ") and "\n\n" not in text, f.filename
            assert not re.search(r"^Description:", text, re.MULTILINE), f.filename
    for path in (DEFAULT_DATA_DIR / "projects").glob("*.json.gz"):
        for entry in json.loads(gzip.decompress(path.read_bytes()))["files"]:
            assert entry["url"].startswith("../../files/"), entry["url"]
