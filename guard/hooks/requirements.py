"""pre-commit hook ``guard-requirements``: requirements that would fight the conda environment.

Teams keep ``environment.yml`` (conda: python, pytorch, CUDA, numpy) beside ``requirements.txt``
(pip extras). This hook reads the conda side from the environment file (``--environment``;
default: ``environment.yml``/``.yaml`` at the repository root) or from a real environment
(``--prefix``), and reports, one line per finding (``file:line: message``):

(a) a requirement naming a package conda provides there (an error for the protected torch
    family, numpy and CUDA runtime wheels; a warning when another conda package would be
    replaced because the versions do not overlap);
(b) a requirement whose resolution needs a version of a conda-provided package that the
    environment does not allow: the requirements are resolved with the simulator's resolver,
    conda's packages held to their specs (``held=``) and offered as already provided (their own
    dependencies are conda's business); when that is impossible but the free resolution works,
    the edge of the free resolution that excludes conda's versions is reported with its chain;
    also CUDA runtime wheels the resolution would add beside conda's CUDA;
(c) the same for the ``pip:`` section of the environment file itself;
(d) with ``--suggest-conda``: packages conda-forge ships that could move into environment.yml.

Checks (a), (c)'s direct part and (d) need no network. Resolution checks need the index that
pip would use (the user's pip configuration, ``PIP_*`` variables, ``--index-url``); when it is
unreachable they print one ``skipped: index unreachable`` line and do not fail the hook unless
``--strict``.

Exit status: 0 nothing to fix (warnings and notes may be printed), 1 at least one error (or,
with ``--strict``, a skipped check).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from guard.policy.conda_names import conda_forge_name_for_pypi, is_conda_cuda_runtime, pypi_name_for_conda
from guard.errors import GuardError, IndexUnavailable, NeedsPipFallback, ResolutionImpossible
from guard.policy.names import DEFAULT_PROTECTED, is_pypi_cuda_wheel

EXIT_OK, EXIT_FINDINGS = 0, 1
ENV_FILE_NAMES = ("environment.yml", "environment.yaml")
_ENV_FILE = re.compile(r"\.ya?ml$", re.I)  # the hook's files: regex passes environment files only


# ---- findings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One line of output. ``severity``: ``error`` (fails the hook), ``warning``, ``note``
    (shown, never fail) or ``skipped`` (a check that could not run; fails only with --strict)."""

    path: str | None
    line: int | None
    message: str
    severity: str = "error"

    def render(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        label = f"{self.severity}: " if self.severity in ("warning", "note") else ""
        return f"{where}{label}{self.message}"


class _EnvFileError(Exception):
    def __init__(self, finding: Finding):
        super().__init__(finding.message)
        self.finding = finding


# ---- the conda side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CondaDep:
    """One conda package of the environment, with its version spec as a PyPI specifier."""

    name: str  # conda name, lower-case
    text: str  # as written (or "name version build" for a real environment)
    line: int | None
    version: str | None  # conda version spec as written
    build: str | None
    specifier: SpecifierSet  # PyPI equivalent; empty when none or not expressible
    pypi_name: str | None
    cuda_runtime: bool

    @property
    def cuda_build(self) -> bool:
        """A GPU build: ``pytorch=2.1=cuda*``, ``pytorch-gpu``."""
        return "cuda" in (self.build or "").lower() or self.name == "pytorch-gpu"


@dataclass(frozen=True)
class CondaSide:
    """What conda provides in the environment the requirements are checked against."""

    source: str  # the environment file as shown, or "conda env PREFIX"
    deps: tuple[CondaDep, ...]
    is_file: bool = True
    interpreter: object | None = None  # a real environment's Interpreter

    def ref(self, dep: CondaDep) -> str:
        """``environment.yml:7 pytorch=2.1`` or ``pytorch 2.1.2 cuda... in conda env /x``."""
        if self.is_file:
            return f"{self.source}:{dep.line} {dep.text}"
        return f"{dep.text} in {self.source}"

    def pins(self, dep: CondaDep) -> str:
        if self.is_file:
            return f"{self.source}:{dep.line} pins {dep.text}"
        return f"{self.source} has {dep.text}"

    @property
    def change_hint(self) -> str:
        return f"change {self.source}" if self.is_file else "change the conda environment"

    def provided(self) -> dict[str, CondaDep]:
        """PyPI name -> the conda package that provides it (first mention wins)."""
        out: dict[str, CondaDep] = {}
        for dep in self.deps:
            if dep.pypi_name and dep.pypi_name not in out:
                out[dep.pypi_name] = dep
        return out

    def cuda(self) -> CondaDep | None:
        """The first conda package that means "conda provides CUDA here"."""
        for dep in self.deps:
            if dep.cuda_runtime or dep.cuda_build:
                return dep
        return None

    def python_version(self) -> str | None:
        for dep in self.deps:
            if dep.name == "python":
                return _python_version(dep)
        return None


def _python_version(dep: CondaDep) -> str | None:
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


_NAME = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(.*)$", re.S)
_OP = re.compile(r"^(==|!=|>=|<=|~=|>|<|=)?\s*(.+)$")


def parse_conda_spec(text: str, line: int | None) -> CondaDep:
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
    pypi = pypi_name_for_conda(name)
    return CondaDep(
        name=name,
        text=text.strip(),
        line=line,
        version=version,
        build=build,
        specifier=conda_version_to_specifier(version) if version else SpecifierSet(),
        pypi_name=pypi,
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


def read_environment_file(path: Path, shown: str) -> tuple[CondaSide, list[tuple[str, int]], list[Finding]]:
    """The conda packages of an environment file, its ``pip:`` entries ``(text, line)``, and the
    findings about lines it cannot use. Raises _EnvFileError when the file cannot be used at all
    (unreadable, invalid YAML, not a mapping)."""
    import yaml

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _EnvFileError(Finding(shown, None, f"cannot read ({reason})")) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:  # the composer recurses once per nesting level
        raise _EnvFileError(Finding(shown, 1, "invalid YAML (nested too deeply)")) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else 1
        raise _EnvFileError(Finding(shown, line, f"invalid YAML ({problem})")) from None
    deps: list[CondaDep] = []
    pip_entries: list[tuple[str, int]] = []
    findings: list[Finding] = []
    if root is None:
        return CondaSide(shown, ()), [], []
    if not isinstance(root, yaml.MappingNode):
        raise _EnvFileError(Finding(shown, root.start_mark.line + 1, "not a conda environment file (expected a mapping)"))
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
                        findings.append(Finding(shown, k.start_mark.line + 1,
                                                f"unsupported dependencies entry {k.value!r} (only pip: is)", "warning"))
                    elif not isinstance(v, yaml.SequenceNode):
                        findings.append(Finding(shown, v.start_mark.line + 1, "pip: expected a list"))
                    else:
                        for entry in v.value:
                            if isinstance(entry, yaml.ScalarNode) and any(
                                    "\ud800" <= c <= "\udfff" for c in str(entry.value)):  # "\ud800" in YAML
                                findings.append(Finding(shown, entry.start_mark.line + 1,
                                                        "pip: entry is not valid text (a lone surrogate)"))
                            elif isinstance(entry, yaml.ScalarNode):
                                pip_entries.append((" ".join(str(entry.value).split()), entry.start_mark.line + 1))
                            else:
                                findings.append(Finding(shown, entry.start_mark.line + 1,
                                                        "pip: each entry must be a string"))
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
        deps.append(CondaDep(
            name=rec.name, text=f"{rec.name} {rec.version} {rec.build}".strip(), line=None, version=rec.version,
            build=rec.build, specifier=spec, pypi_name=pypi_name_for_conda(rec.name),
            cuda_runtime=is_conda_cuda_runtime(rec.name),
        ))
    return CondaSide(f"conda env {snap.prefix}", tuple(deps), is_file=False, interpreter=snap.interpreter)


# ---- the environment the resolver sees ---------------------------------------------------------


def interpreter_for(python_version: str | None, label: str):
    """Markers and wheel tags of the Python an environment file asks for: the running
    interpreter's platform, with the Python version replaced (``python=3.8.5`` -> cp38 tags,
    ``python_version == "3.8"``). ``None`` keeps the running Python."""
    from packaging import tags
    from packaging.markers import default_environment

    from guard.pipeline.check import own_pip_default_index
    from guard.environment.interpreter import Interpreter

    running = ".".join(map(str, sys.version_info[:3]))
    full = running
    if python_version:
        parts = python_version.split(".")
        if len(parts) >= 3:
            full = python_version
        elif parts[:2] != running.split(".")[:2]:
            full = f"{parts[0]}.{parts[1]}.0"
    major, minor = (int(p) for p in full.split(".")[:2])
    markers = dict(default_environment())
    markers.update(python_version=f"{major}.{minor}", python_full_version=full, implementation_name="cpython",
                   implementation_version=full, platform_python_implementation="CPython")
    version = (major, minor)
    tag_list = [str(t) for t in tags.cpython_tags(version)]
    tag_list += [str(t) for t in tags.compatible_tags(version, f"cp{major}{minor}")]
    return Interpreter(
        executable=f"python{major}.{minor} ({label})", version=full, implementation="cpython",
        markers=MappingProxyType(markers), tags=tuple(dict.fromkeys(tag_list)), prefix="", base_prefix="",
        purelib="", platlib="", user_site=None, site_dirs=(), pip_version=None, pip_default_index=own_pip_default_index(),
    )


def empty_snapshot(interpreter, label: str):
    """An environment with nothing installed by pip: conda's packages enter as holds."""
    from guard.environment.snapshot import EnvironmentSnapshot

    return EnvironmentSnapshot(prefix=label, interpreter=interpreter, dists=MappingProxyType({}),
                               duplicates=MappingProxyType({}), conda_records=MappingProxyType({}), is_conda=True,
                               warnings=())


class CondaProvidedSource:
    """The index as pip sees it in the conda environment: a project conda provides is offered
    without dependencies and for any platform (conda installed it; pip only checks its version),
    at the versions the index knows plus those the conda spec names."""

    def __init__(self, source, provided: Mapping[str, SpecifierSet]):
        self._source = source
        self._provided = dict(provided)
        self._versions: dict[str, list[Version]] = {}

    def versions(self, name: str) -> list[Version]:
        if name not in self._versions:
            found = {f.version for f in self._source.project_files(name)}
            for spec in self._provided.get(name, SpecifierSet()):
                if spec.operator in ("==", "===", ">=", "<=", "~="):
                    try:
                        found.add(Version(spec.version.rstrip("*").rstrip(".")))
                    except InvalidVersion:
                        pass
            self._versions[name] = sorted(found)
        return self._versions[name]

    def project_files(self, name: str) -> list:
        if name not in self._provided:
            return self._source.project_files(name)
        from guard.index.client import DistFile

        out = []
        for v in self.versions(name):
            filename = f"{name.replace('-', '_')}-{v}-py3-none-any.whl"
            out.append(DistFile(project=name, filename=filename, url=f"conda:///{name}/{v}", version=v, is_wheel=True,
                                wheel_tags=frozenset(["py3-none-any"]), requires_python=None, yanked=None,
                                hashes={}, metadata_hashes=None, source="conda"))
        return out

    def metadata(self, f):
        if f.source != "conda":
            return self._source.metadata(f)
        from guard.index.client import CoreMetadata

        return CoreMetadata(name=f.project, version=str(f.version), requires_dist=(), requires_python=None,
                            provides_extra=())


# ---- one requirements source (a file, or an environment file's pip: section) --------------------


@dataclass
class _Source:
    """Requirements to check against one conda side."""

    shown: str  # the file as the user sees it
    conda: CondaSide
    argv: list[str]  # pip install arguments that read it
    in_env_file: bool = False  # the pip: section of ``conda.source``
    line_map: dict[str, tuple[str, int]] = field(default_factory=dict)  # temp origin -> (file, line)
    constraint: bool = False

    def where(self, origin: str) -> tuple[str, int | None]:
        if origin in self.line_map:
            return self.line_map[origin]
        path, _, line = origin.rpartition(":")
        if path and line.isdigit():
            return path, int(line)
        return origin, None

    def rewrite(self, message: str) -> str:
        for origin, (path, line) in sorted(self.line_map.items(), key=lambda kv: -len(kv[0])):
            message = message.replace(origin, f"{path}:{line}")
        return message


def _pip_section_source(env_path: Path, shown: str, conda: CondaSide, entries: list[tuple[str, int]],
                        tmpdir: str) -> _Source:
    """conda writes the ``pip:`` entries into a requirements file beside environment.yml and runs
    pip there; here the file lives in a temp dir, with nested ``-r``/``-c`` paths made absolute so
    that they still resolve against environment.yml's directory."""
    base = env_path.resolve().parent
    lines, line_map = [], {}
    tmp = os.path.join(tmpdir, f"pip-section-{len(os.listdir(tmpdir))}.txt")
    for i, (text, line) in enumerate(entries, start=1):
        m = re.match(r"^(-r|-c|--requirement|--constraint)(=|\s+)?(\S+)$", text)
        if m and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", m.group(3)):
            text = f"{m.group(1)} {base / m.group(3)}"
        lines.append(text)
        line_map[f"{tmp}:{i}"] = (shown, line)
    Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return _Source(shown, conda, ["install", "-r", tmp], in_env_file=True, line_map=line_map)


# ---- the checks -------------------------------------------------------------------------------


@dataclass
class _Options:
    environ: Mapping[str, str]
    cwd: str
    cache_dir: Path
    index_url: str | None
    suggest_conda: bool
    protected: frozenset = DEFAULT_PROTECTED


def _parse_request(src: _Source, opts: _Options, interpreter):
    from guard.request.pip_args import parse_pip_argv
    from guard.request.pip_config import load_pip_config

    # an environment described by a file has no pip.conf of its own yet: os.devnull stands for
    # a prefix that holds none (the user's global/user files and PIP_* variables still apply)
    site_prefix = getattr(interpreter, "prefix", "") or os.devnull
    config = load_pip_config(site_prefix=site_prefix, environ=opts.environ)
    argv = list(src.argv) + (["--index-url", opts.index_url] if opts.index_url else [])
    request = parse_pip_argv(argv, config=config.values, environ=opts.environ, cwd=opts.cwd)
    return request, frozenset(config.get_list("constraint"))


def _items_of(request, src: _Source, configured: frozenset) -> list:
    """The source's own lines (a constraints file is read as ``-r`` too: ``-c`` alone is not an
    install pip accepts); the pip configuration's ``constraint`` files are not among them."""
    return [i for i in request.requirements if src.where(i.origin)[0] not in configured]


def _applies(item, markers) -> bool:
    req = item.requirement
    if req is None or req.marker is None:
        return True
    try:
        return req.marker.evaluate({**markers, "extra": ""})
    except Exception:  # noqa: BLE001 - a marker pip would reject is reported by pip itself
        return True


def _overlap(a: SpecifierSet, b: SpecifierSet, known: Iterable[Version] = ()) -> bool:
    """Whether some version satisfies both (probing the versions the specifiers name, their
    neighbours, and ``known``)."""
    if not a or not b:
        return True
    probes = set(known)
    for spec in list(a) + list(b):
        try:
            v = Version(spec.version.rstrip("*").rstrip("."))
        except InvalidVersion:
            continue
        rel = list(v.release) + [0] * (3 - len(v.release))
        probes.update({v, Version(".".join(map(str, rel[:2] + [rel[2] + 1]))),
                       Version(".".join(map(str, [rel[0], rel[1] + 1, 0]))), Version(f"{rel[0] + 1}.0.0"),
                       Version(f"{v.base_version}.post1"), Version(f"{v.base_version}.1")})
    return any(a.contains(v, prereleases=True) and b.contains(v, prereleases=True) for v in probes)


def direct_findings(items, src: _Source, markers, opts: _Options) -> list[Finding]:
    """(a)/(c): requirements that name what conda provides, CUDA wheels beside conda's CUDA;
    (d) with --suggest-conda."""
    conda = src.conda
    provided = conda.provided()
    cuda = conda.cuda()
    env_target = conda.source if conda.is_file else "the conda environment"
    findings = []
    seen = set()
    for item in items:
        name = item.name
        if name is None or not _applies(item, markers):
            continue
        path, line = src.where(item.origin)
        if (path, line, name) in seen:
            continue
        seen.add((path, line, name))
        text = item.text
        if src.in_env_file:
            lead = f"pip: {text} - "
        else:
            lead = "" if canonicalize_name(text) == name else f"{text}: "
        dep = provided.get(name)
        if dep is not None:
            if name in opts.protected:
                if src.in_env_file:
                    msg = f"{lead}{name} is a conda package in this environment ({conda.ref(dep)})"
                else:
                    msg = f"{lead}{name} is provided by conda ({conda.ref(dep)}) - remove it here or {conda.change_hint}"
                findings.append(Finding(path, line, msg))
            elif item.requirement is not None and not _overlap(item.requirement.specifier, dep.specifier):
                findings.append(Finding(path, line, f"{lead}{name} is provided by conda ({conda.ref(dep)}) in "
                                                    f"another version; pip would replace conda's {name}", "warning"))
            continue
        if cuda is not None and is_pypi_cuda_wheel(name):
            findings.append(Finding(path, line, f"{lead}{name} is a CUDA runtime wheel and conda provides CUDA "
                                                f"here ({conda.ref(cuda)}) - remove it here"))
            continue
        if opts.suggest_conda and not src.constraint:
            cf = conda_forge_name_for_pypi(name)
            if cf is not None and not is_pypi_cuda_wheel(name):
                findings.append(Finding(path, line, f"{text}: conda-forge ships {name} as {cf}; it could move into "
                                                    f"{env_target}", "note"))
    return findings


def _project(label: str) -> str:
    return label.split("==")[0].split("[")[0]


def _identifier(label: str) -> str:
    return label.split("==")[0]


def _chain_up(edges, start_label: str) -> tuple[list[str], str | None]:
    """Labels from the user's requirement down to ``start_label`` and the project the user
    named (breadth-first over the free resolution's edges)."""
    parents: dict[str, list] = {}
    for e in edges:
        parents.setdefault(e.child, []).append(e)
    queue = [(start_label, [start_label])]
    seen = {_project(start_label)}
    while queue:
        label, path = queue.pop(0)
        for e in parents.get(_project(label), ()):
            if e.parent is None:
                return path, e.child
            up = _project(e.parent)
            if up not in seen:
                seen.add(up)
                queue.append((e.parent, [e.parent, *path]))
    return [start_label], None


def resolution_findings(request, items, src: _Source, snap, client, opts: _Options) -> list[Finding]:
    """(b)/(c): resolve with conda's packages held; explain an impossible held resolution with
    the free one; report CUDA wheels the held resolution would add beside conda's CUDA."""
    from guard.resolve.simulate import simulate_install

    conda = src.conda
    provided = conda.provided()
    held = {name: dep.specifier for name, dep in provided.items() if dep.specifier}
    source = CondaProvidedSource(client, {name: dep.specifier for name, dep in provided.items()})
    # requirements that name conda's packages are reported by the direct check; leave them out
    # so that the resolution shows what else would fight conda
    cuda = conda.cuda()
    keep = tuple(i for i in request.requirements
                 if i.kind == "named" and not i.editable and i.requirement is not None and not i.requirement.url
                 and i.name not in provided and not (cuda is not None and is_pypi_cuda_wheel(i.name))
                 and i in items)
    if not keep:
        return []
    request = replace(request, requirements=keep,
                      unmodeled=tuple(u for u in request.unmodeled if not u.startswith("vcs ")))
    first_path, first_line = src.where(keep[0].origin)
    lead = "pip: " if src.in_env_file else ""
    try:
        plan, _ = simulate_install(request, snap, source, held=held)
    except ResolutionImpossible as held_error:
        try:
            free_plan, _ = simulate_install(request, snap, source)
        except ResolutionImpossible as free_error:
            return [Finding(first_path, first_line if src.in_env_file else None,
                            f"{lead}cannot be resolved for python {snap.interpreter.version} even without conda's "
                            f"pins: {free_error}")]
        return _explain(free_plan, keep, src, provided, held, source, opts, str(held_error))
    return _cuda_findings(plan, keep, src, provided)


def _explain(free_plan, keep, src: _Source, provided, held, source, opts: _Options, held_error: str) -> list[Finding]:
    conda = src.conda
    lead = "pip: " if src.in_env_file else ""
    findings, seen = [], set()
    for e in free_plan.edges:
        if e.parent is None or e.child not in held:
            continue
        try:
            spec = Requirement(e.requirement).specifier
        except InvalidRequirement:
            continue
        dep = provided[e.child]
        if any(dep.specifier.contains(v, prereleases=True) and spec.contains(v, prereleases=True)
               for v in source.versions(e.child)):
            continue
        chain, root = _chain_up(free_plan.edges, e.parent)
        item = next((i for i in keep if i.name == root), keep[0])
        path, line = src.where(item.origin)
        key = (path, line, e.parent, e.requirement)
        if key in seen:
            continue
        seen.add(key)
        parent = e.parent
        via_ids = [_identifier(label) for label in chain]
        via = f" (via {' -> '.join(via_ids)})" if len(via_ids) > 1 or "[" in via_ids[0] else ""
        version = parent.split("==", 1)[1] if "==" in parent else ""
        msg = f"{lead}{_project(parent)}=={version} needs {e.requirement}{via}; {conda.pins(dep)}"
        findings.append(Finding(path, line, msg, "error" if e.child in opts.protected else "warning"))
    if not findings:
        path, line = src.where(keep[0].origin)
        refs = ", ".join(conda.ref(provided[n]) for n in held)
        findings.append(Finding(path, line if src.in_env_file else None,
                                f"{lead}cannot be installed beside conda's packages ({refs}): {held_error}"))
    return findings


def _cuda_findings(plan, keep, src: _Source, provided) -> list[Finding]:
    conda = src.conda
    cuda = conda.cuda()
    if cuda is None:
        return []
    lead = "pip: " if src.in_env_file else ""
    findings = []
    for change in plan.changes:
        if change.action != "install" or change.name in provided or not is_pypi_cuda_wheel(change.name):
            continue
        edge = next((e for e in plan.edges if e.child == change.name and e.parent is not None), None)
        if edge is None:
            continue  # named by the user: the direct check reports it
        chain, root = _chain_up(plan.edges, edge.parent)
        item = next((i for i in keep if i.name == root), keep[0])
        path, line = src.where(item.origin)
        via_ids = [_identifier(label) for label in chain]
        via = f" (via {' -> '.join(via_ids)})" if len(via_ids) > 1 or "[" in via_ids[0] else ""
        findings.append(Finding(path, line, f"{lead}{_project(edge.parent)}=={edge.parent.split('==', 1)[-1]} needs "
                                            f"{edge.requirement}{via}: a CUDA runtime wheel beside conda's CUDA "
                                            f"({conda.ref(cuda)})"))
    return findings


# ---- orchestration ----------------------------------------------------------------------------


def _is_env_file(name: str) -> bool:
    return bool(_ENV_FILE.search(os.path.basename(name)))


def repo_root(cwd: str) -> Path:
    """The git toplevel of ``cwd``, else ``cwd``."""
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True,
                             timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    return Path(cwd)


def _shown(path: Path, cwd: str) -> str:
    try:
        return os.path.relpath(path, cwd) if Path(os.path.abspath(path)).is_relative_to(cwd) else str(path)
    except ValueError:
        return str(path)


def check(filenames: Sequence[str], *, environment: str | None, prefix: str | None, opts: _Options,
          strict: bool = False) -> list[Finding]:
    """Every finding for ``filenames`` (requirements files, constraints files, environment files)."""
    findings: list[Finding] = []
    tmpdir = tempfile.mkdtemp(prefix="guard-hook-")
    try:
        sources, env_findings = _sources(filenames, environment, prefix, opts, tmpdir)
        findings += env_findings
        findings += _run_sources(sources, opts)
        # the files in the order given, then files they named (nested -r, the environment file)
        order = {name: i for i, name in enumerate(dict.fromkeys([*filenames, *(f.path for f in findings if f.path)]))}
        findings.sort(key=lambda f: (f.path is None, order.get(f.path, 0), f.line or 0))
    finally:
        import shutil

        shutil.rmtree(tmpdir, ignore_errors=True)
    return findings


def _sources(filenames, environment, prefix, opts: _Options, tmpdir: str) -> tuple[list[_Source], list[Finding]]:
    findings: list[Finding] = []
    env_files = [f for f in filenames if _is_env_file(f)]
    req_files = [f for f in filenames if not _is_env_file(f)]
    parsed: dict[str, tuple[CondaSide, list] | None] = {}

    def load_env(path: Path, shown: str):
        if shown not in parsed:
            try:
                side, entries, problems = read_environment_file(path, shown)
                parsed[shown] = (side, entries)
                findings.extend(problems)
            except _EnvFileError as err:
                parsed[shown] = None
                findings.append(err.finding)
        return parsed[shown]

    sources: list[_Source] = []
    for name in env_files:
        got = load_env(Path(opts.cwd, name), name)
        if got is not None and got[1]:
            sources.append(_pip_section_source(Path(opts.cwd, name), name, got[0], got[1], tmpdir))
    if not req_files:
        return sources, findings

    conda: CondaSide | None = None
    if prefix is not None:
        conda = conda_side_from_prefix(Path(prefix), opts.cache_dir)
    else:
        if environment is not None:
            env_path = Path(opts.cwd, environment)
            if not env_path.is_file():
                findings.append(Finding(environment, None, "no such environment file (--environment)"))
                return sources, findings
        else:
            root = repo_root(opts.cwd)
            env_path = next((root / n for n in ENV_FILE_NAMES if (root / n).is_file()), None)
            if env_path is None:
                for name in req_files:
                    findings.append(Finding(name, None, f"no environment.yml at {_shown(root, opts.cwd)} to check "
                                                        f"against (give --environment FILE or --prefix)", "note"))
                return sources, findings
        got = load_env(env_path, _shown(env_path, opts.cwd))
        if got is None:
            return sources, findings
        conda = got[0]
    for name in req_files:
        constraint = "constraint" in os.path.basename(name).lower()
        sources.append(_Source(name, conda, ["install", "-r", name], constraint=constraint))
    return sources, findings


def _run_sources(sources: list[_Source], opts: _Options) -> list[Finding]:
    from guard.pipeline.check import index_settings
    from guard.index.client import IndexClient

    findings: list[Finding] = []
    skipped: str | None = None
    for src in sources:
        interpreter = src.conda.interpreter or interpreter_for(src.conda.python_version(), src.conda.source)
        try:
            request, configured = _parse_request(src, opts, interpreter)
        except GuardError as err:
            path, line = None, None
            message = src.rewrite(str(err))
            m = re.match(r"^(.+?):(\d+): (.*)$", message)
            if m:
                path, line, message = m.group(1), int(m.group(2)), m.group(3)
            findings.append(Finding(path or src.shown, line, message))
            continue
        if not hasattr(request, "requirements"):
            continue
        items = _items_of(request, src, configured)
        findings += direct_findings(items, src, interpreter.markers, opts)
        if src.constraint or skipped is not None:
            continue
        snap = empty_snapshot(interpreter, src.conda.source)
        try:
            with IndexClient(index_settings(request, snap), cache_dir=opts.cache_dir / "http") as client:
                findings += resolution_findings(request, items, src, snap, client, opts)
        except IndexUnavailable as err:
            skipped = str(err)
        except NeedsPipFallback as why:
            # only pip's own dry run could tell, and it may run package code: a hook never runs it
            findings.append(Finding(src.shown, None, f"skipped: cannot simulate exactly without running package "
                                                     f"code, which the hook never does ({why})", "skipped"))
        except GuardError as err:
            findings.append(Finding(src.shown, None, src.rewrite(str(err))))
    if skipped is not None:
        findings.append(Finding(None, None, f"skipped: index unreachable ({skipped}); resolution checks not run",
                                "skipped"))
    return findings


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as the one line every guard command prints (exit 2)."""

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"guard: error: {message} (see guard check-requirements --help)\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="guard check-requirements",
        description="Check requirements files and environment.yml pip: sections against the conda environment.",
    )
    p.add_argument("filenames", nargs="*", help="requirements*.txt, *.in, constraints files, environment.yml")
    side = p.add_mutually_exclusive_group()
    side.add_argument("--environment", metavar="FILE",
                      help="the conda environment file (default: environment.yml/.yaml at the repository root)")
    side.add_argument("--prefix", metavar="DIR", help="check against a real conda environment instead")
    p.add_argument("--index-url", metavar="URL", help="the package index (default: from pip's configuration)")
    p.add_argument("--suggest-conda", action="store_true",
                   help="also note packages conda-forge ships that could move into environment.yml")
    p.add_argument("--strict", action="store_true", help="fail when a check is skipped (index unreachable)")
    return p


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None,
         cwd: str | None = None) -> int:
    """Entry point (``guard check-requirements``, pre-commit hook ``guard-requirements``).
    Prints one line per finding; returns 1 when any is an error (or skipped, with --strict)."""
    from guard.pipeline.check import default_cache_dir

    args = _parser().parse_args(argv)
    environ = dict(os.environ if environ is None else environ)
    cwd = os.path.abspath(cwd or os.getcwd())
    opts = _Options(environ=environ, cwd=cwd, cache_dir=default_cache_dir(environ), index_url=args.index_url,
                    suggest_conda=args.suggest_conda)
    try:
        findings = check(args.filenames, environment=args.environment, prefix=args.prefix, opts=opts)
    except GuardError as err:  # a real environment that cannot be read, a broken pip configuration
        sys.stderr.write(f"guard: error: {err}\n")
        return err.exit_code
    for finding in findings:
        print(finding.render())
    failing = {"error", "skipped"} if args.strict else {"error"}
    return EXIT_FINDINGS if any(f.severity in failing for f in findings) else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
