"""The snapshot's cache of what each dist's files hold (:mod:`guard.environment.dist_cache`): a
warm snapshot opens no metadata file and answers exactly as a cold one, and follows every change
of a dist's files (an edit in place of the same size, a file removed or added, a directory
removed); files changed a moment ago are read again."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from guard.environment import dist_cache
from guard.environment.snapshot import snapshot
from tests.support.conda_prefix import SITE_PACKAGES


def _dist(site: Path, name: str, version: str, *, direct_url: str | None = None) -> Path:
    d = site / f"{name}-{version}.dist-info"
    d.mkdir()
    (d / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: six\n\nbody\n"
    )
    (d / "INSTALLER").write_text("pip\n")
    if direct_url is not None:
        (d / "direct_url.json").write_text(direct_url)
    return d


def test_warm_snapshot_reads_no_dist_files_and_follows_their_changes(conda_env, tmp_path, mocker, monkeypatch):
    monkeypatch.setattr(dist_cache, "_SETTLE_NS", 0)  # the test's files are all new
    prefix = conda_env("plain")
    site = prefix / SITE_PACKAGES
    demo = _dist(site, "demo", "1.0.0", direct_url='{"url": "file:///w/demo-1.0.0-py3-none-any.whl"}')
    odd = _dist(site, "odd", "2.0", direct_url="null")  # not an object: a warning, kept warm too
    gone = _dist(site, "gone", "3.0")
    cache = tmp_path / "cache"
    cold = snapshot(prefix, cache_dir=cache)
    read = mocker.spy(sys.modules["guard.environment.site_packages"], "read_raw")

    def read_again() -> set[str]:
        # (a conda package's files are hard links into the package cache: another env made from
        # it changes their ctime, and they are read again, which other tests may cause any time)
        names = {Path(c.args[2][0]).parent.name for c in read.call_args_list}
        read.reset_mock()
        return names

    warm = snapshot(prefix, cache_dir=cache)
    assert not read_again() & {"demo-1.0.0.dist-info", "odd-2.0.dist-info", "gone-3.0.dist-info"}
    assert warm == cold and f"{odd / 'direct_url.json'}: not a JSON object; ignored" in warm.warnings
    assert warm.dists["demo"].direct_url["url"].endswith("demo-1.0.0-py3-none-any.whl")
    assert warm.dists["numpy"].owner == "conda" and warm.dists["demo"].owner == "pip"

    (demo / "METADATA").write_text((demo / "METADATA").read_text().replace("1.0.0", "1.0.1"))  # same size
    (odd / "direct_url.json").unlink()
    (site / "numpy-1.26.4.dist-info" / "direct_url.json").write_text('{"url": "file:///n.whl"}')
    shutil.rmtree(gone)
    snap = snapshot(prefix, cache_dir=cache)
    assert read_again() >= {"demo-1.0.0.dist-info", "numpy-1.26.4.dist-info", "odd-2.0.dist-info"}
    assert snap.dists["demo"].version == "1.0.1" and "gone" not in snap.dists
    assert snap.dists["numpy"].direct_url["url"] == "file:///n.whl"
    assert not any("not a JSON object" in w for w in snap.warnings)
    assert snapshot(prefix, cache_dir=cache) == snap
    assert not read_again() & {"demo-1.0.0.dist-info", "odd-2.0.dist-info"}


def test_files_changed_a_moment_ago_are_read_again(conda_env, tmp_path, mocker, monkeypatch):
    monkeypatch.setattr(dist_cache, "_SETTLE_NS", 10**18)  # every file changed "a moment ago"
    prefix = conda_env("plain")
    _dist(prefix / SITE_PACKAGES, "demo", "1.0.0")
    cache = tmp_path / "cache"
    snapshot(prefix, cache_dir=cache)
    read = mocker.spy(sys.modules["guard.environment.site_packages"], "read_raw")
    warm = snapshot(prefix, cache_dir=cache)
    assert read.call_count >= len(warm.dists) > 1
    assert any(Path(c.args[2][0]).parent.name == "demo-1.0.0.dist-info" for c in read.call_args_list)
