"""The conda side of the requirements hook: what conda provides in the environment the
requirements are checked against, read from an environment file (``environment.yml``: its
``dependencies:`` as conda match specs, and its ``pip:`` entries) or from a real environment
(``--prefix``: each conda package held to its installed version).

Match specs are read by :func:`guard.policy.conda.parse_conda_spec`, the product's one reader of
conda's syntax. A file that cannot be used at all is an :class:`EnvFileError` carrying its one
finding; a line that cannot be used is a finding and the rest of the file is still read.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from guard.environment.interpreter import Interpreter
from guard.hooks.findings import Finding
from guard.policy.conda import CondaSpec, is_conda_cuda_runtime, parse_conda_spec, pypi_name_for_conda

ENV_FILE_NAMES = ("environment.yml", "environment.yaml")


class EnvFileError(Exception):
    """An environment file that cannot be used at all (unreadable, invalid YAML, not a mapping);
    ``finding`` is the one line the hook prints about it."""

    def __init__(self, finding: Finding):
        super().__init__(finding.message)
        self.finding = finding


@dataclass(frozen=True)
class CondaSide:
    """What conda provides in the environment the requirements are checked against."""

    source: str  # the environment file as shown, or "conda env PREFIX"
    deps: tuple[CondaSpec, ...]
    is_file: bool = True
    interpreter: Interpreter | None = None  # a real environment's

    def ref(self, dep: CondaSpec) -> str:
        """``environment.yml:7 pytorch=2.1`` or ``pytorch 2.1.2 cuda... in conda env /x``."""
        if self.is_file:
            return f"{self.source}:{dep.line} {dep.text}"
        return f"{dep.text} in {self.source}"

    def pins(self, dep: CondaSpec) -> str:
        """``environment.yml:7 pins pytorch=2.1`` or ``conda env /x has pytorch 2.1.2 ...``."""
        if self.is_file:
            return f"{self.source}:{dep.line} pins {dep.text}"
        return f"{self.source} has {dep.text}"

    @property
    def change_hint(self) -> str:
        return f"change {self.source}" if self.is_file else "change the conda environment"

    def provided(self) -> dict[str, CondaSpec]:
        """PyPI name -> the conda package that provides it (first mention wins)."""
        out: dict[str, CondaSpec] = {}
        for dep in self.deps:
            if dep.pypi_name and dep.pypi_name not in out:
                out[dep.pypi_name] = dep
        return out

    def cuda(self) -> CondaSpec | None:
        """The first conda package that means "conda provides CUDA here"."""
        for dep in self.deps:
            if dep.cuda_runtime or dep.cuda_build:
                return dep
        return None

    def python_version(self) -> str | None:
        """The Python the environment's ``python`` spec selects (:func:`python_version_of`)."""
        for dep in self.deps:
            if dep.name == "python":
                return python_version_of(dep)
        return None


def python_version_of(dep: CondaSpec) -> str | None:
    """The Python a ``python`` spec selects: the version written (``3.8.5``, ``3.11``), else the
    running Python when it fits a range, else the range's lower bound."""
    if not dep.version:
        return None
    m = re.fullmatch(r"=?=?\s*(\d+\.\d+(?:\.\d+)?)(?:\.?\*)?", dep.version.strip())
    if m:
        return m.group(1)
    running = ".".join(map(str, sys.version_info[:3]))
    if dep.specifier and dep.specifier.contains(running):
        return running
    m = re.search(r">=?\s*(\d+\.\d+(?:\.\d+)?)", dep.version)
    return m.group(1) if m else None


def read_environment_file(path: Path, shown: str) -> tuple[CondaSide, list[tuple[str, int]], list[Finding]]:
    """The conda packages of an environment file, its ``pip:`` entries ``(text, line)``, and the
    findings about lines it cannot use. Raises EnvFileError when the file cannot be used at all
    (unreadable, invalid YAML, not a mapping)."""
    import yaml

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise EnvFileError(Finding(shown, None, f"cannot read ({reason})")) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:  # the composer recurses once per nesting level
        raise EnvFileError(Finding(shown, 1, "invalid YAML (nested too deeply)")) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else 1
        raise EnvFileError(Finding(shown, line, f"invalid YAML ({problem})")) from None
    deps: list[CondaSpec] = []
    pip_entries: list[tuple[str, int]] = []
    findings: list[Finding] = []
    if root is None:
        return CondaSide(shown, ()), [], []
    if not isinstance(root, yaml.MappingNode):
        raise EnvFileError(
            Finding(shown, root.start_mark.line + 1, "not a conda environment file (expected a mapping)")
        )
    for key, value in root.value:
        if getattr(key, "value", None) != "dependencies":
            continue
        if isinstance(value, yaml.ScalarNode) and value.value in ("", "~", "null"):
            continue
        if not isinstance(value, yaml.SequenceNode):
            findings.append(Finding(shown, value.start_mark.line + 1, "dependencies: expected a list"))
            continue
        for item in value.value:
            line = item.start_mark.line + 1
            if isinstance(item, yaml.ScalarNode):
                try:
                    deps.append(parse_conda_spec(str(item.value), line))
                except ValueError as exc:
                    findings.append(Finding(shown, line, str(exc)))
            elif isinstance(item, yaml.MappingNode):
                for k, v in item.value:
                    if getattr(k, "value", None) != "pip":
                        findings.append(
                            Finding(
                                shown,
                                k.start_mark.line + 1,
                                f"unsupported dependencies entry {k.value!r} (only pip: is)",
                                "warning",
                            )
                        )
                    elif not isinstance(v, yaml.SequenceNode):
                        findings.append(Finding(shown, v.start_mark.line + 1, "pip: expected a list"))
                    else:
                        for entry in v.value:
                            if isinstance(entry, yaml.ScalarNode) and any(
                                "\ud800" <= c <= "\udfff" for c in str(entry.value)
                            ):  # "\ud800" in YAML
                                findings.append(
                                    Finding(
                                        shown,
                                        entry.start_mark.line + 1,
                                        "pip: entry is not valid text (a lone surrogate)",
                                    )
                                )
                            elif isinstance(entry, yaml.ScalarNode):
                                pip_entries.append((" ".join(str(entry.value).split()), entry.start_mark.line + 1))
                            else:
                                findings.append(
                                    Finding(shown, entry.start_mark.line + 1, "pip: each entry must be a string")
                                )
            else:
                findings.append(Finding(shown, line, "dependencies: each entry must be a string or pip:"))
    return CondaSide(shown, tuple(deps)), pip_entries, findings


def conda_side_from_prefix(prefix: Path, cache_dir: Path | None) -> CondaSide:
    """The conda packages of a real environment, each held to its installed version."""
    from guard.environment.snapshot import snapshot

    snap = snapshot(prefix, cache_dir=cache_dir)
    deps = []
    for rec in sorted(snap.conda_records.values(), key=lambda r: r.name):
        try:
            spec = SpecifierSet(f"=={Version(rec.version)}")
        except InvalidVersion:
            spec = SpecifierSet()
        deps.append(
            CondaSpec(
                name=rec.name,
                text=f"{rec.name} {rec.version} {rec.build}".strip(),
                line=None,
                version=rec.version,
                build=rec.build,
                specifier=spec,
                pypi_name=pypi_name_for_conda(rec.name),
                cuda_runtime=is_conda_cuda_runtime(rec.name),
            )
        )
    return CondaSide(f"conda env {snap.prefix}", tuple(deps), is_file=False, interpreter=snap.interpreter)
