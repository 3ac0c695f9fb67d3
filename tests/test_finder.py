"""The finder's work per project is per distinct value, not per file: a big page repeats a few
tag sets and Requires-Python strings over thousands of files (regex: 9,089 files), and the
target's tag table and each Requires-Python string are consulted once per distinct one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from guard.index.pages import expand_tags
from guard.models import DistFile
from guard.resolve import finder
from guard.resolve.finder import ProjectFinder, TargetPython, applicable_files, usable_files

TAGS = ["cp311-cp311-manylinux_2_17_x86_64", "cp311-abi3-manylinux_2_17_x86_64", "py3-none-any"]


class CountingTags(Mapping):
    """A target's tag priorities that count how often they are looked at."""

    def __init__(self, tags: list[str]) -> None:
        self._ranks = {t: i for i, t in enumerate(tags)}
        self.lookups = 0

    def __getitem__(self, tag: str) -> int:
        self.lookups += 1
        return self._ranks[tag]

    def __contains__(self, tag: object) -> bool:
        self.lookups += 1
        return tag in self._ranks

    def __iter__(self) -> Iterator[str]:
        return iter(self._ranks)

    def __len__(self) -> int:
        return len(self._ranks)


def _page(versions: int) -> list[DistFile]:
    """A page as the index client makes it: one shared frozenset per distinct tag set."""
    files = []
    for i in range(versions):
        v = f"1.{i}"
        for tag, python in [
            ("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", ">=3.8"),
            ("cp311-cp311-win_amd64", ">=3.8"),
            ("cp312-cp312-manylinux_2_17_x86_64", ">=3.12"),
            ("py3-none-any", ">=3.8"),
            (None, None),
        ]:
            name = f"demo-{v}-{tag}.whl" if tag else f"demo-{v}.tar.gz"
            files.append(
                DistFile(
                    project="demo",
                    filename=name,
                    url=f"https://files.example.org/{name}",
                    version=Version(v),
                    is_wheel=tag is not None,
                    wheel_tags=expand_tags(tag) or frozenset() if tag else frozenset(),
                    requires_python=python,
                    yanked=None,
                    hashes={},
                    metadata_hashes=None,
                    source="https://pypi.example.org/simple/",
                )
            )
    return files


def test_tag_table_is_consulted_per_distinct_tag_set_not_per_file():
    tags = CountingTags(TAGS)
    target = TargetPython(Version("3.11.7"), tags)
    usable = usable_files(_page(400), target=target)
    assert len(usable) == 400 * 3  # the cp311 wheel, the pure wheel and the sdist of each version
    assert tags.lookups < 50  # 4 distinct tag sets (2,000 files)


def test_requires_python_parsed_once_per_distinct_string(monkeypatch):
    finder._requires_python_admits.cache_clear()
    asked: list[str] = []
    real = finder.requires_python_ok

    def counting(requires_python, python):
        asked.append(requires_python)
        return real(requires_python, python)

    monkeypatch.setattr(finder, "requires_python_ok", counting)
    target = TargetPython.from_tags("3.11.7", TAGS)
    best = applicable_files(_page(300), SpecifierSet(), target=target)
    assert len(best) == 300
    assert sorted(asked) == [">=3.8"]  # ">=3.12" files are wheels for another interpreter


def test_project_finder_answers_each_question_once():
    calls: list[str] = []

    def project_files(name: str) -> list[DistFile]:
        calls.append(name)
        return _page(20)

    found = ProjectFinder(project_files, target=TargetPython.from_tags("3.11.7", TAGS))
    first = found.applicable("demo", SpecifierSet(">=1.5"))
    assert found.applicable("demo", SpecifierSet(">=1.5")) is first
    assert [str(f.version) for f in found.applicable("demo", SpecifierSet("<1.2"))] == ["1.1", "1.0"]
    assert calls == ["demo"]
    assert first[0].filename == "demo-1.19-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
