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

Layout: this module holds ``main`` and the direct findings; :mod:`guard.hooks.conda_side` reads
the conda side (environment.yml or a real environment), :mod:`guard.hooks.resolution` runs the
resolution check, :mod:`guard.hooks.findings` holds what is reported and where it points.

With ``--json`` the findings are one JSON object instead (schema:
``guard/data/schemas/check-requirements.schema.json``). The options are read by :func:`parse_args`
(:func:`main`, for tests and ``python -m``) and by the click command ``guard check-requirements``
(what pre-commit runs); both hand :class:`HookArgs` to :func:`run`.

Exit status: 0 nothing to fix (warnings and notes may be printed), 1 at least one error (or,
with ``--strict``, a skipped check), 2 usage error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from guard.errors import GuardError, IndexUnavailable, NeedsPipFallback, UsageError
from guard.hooks.conda_side import (
    ENV_FILE_NAMES,
    CondaSide,
    EnvFileError,
    conda_side_from_prefix,
    read_environment_file,
)
from guard.hooks.findings import Finding, Source
from guard.hooks.resolution import empty_snapshot, interpreter_for, resolution_findings
from guard.policy.conda import conda_forge_name
from guard.policy.names import is_pypi_cuda_wheel
from guard.policy.rules import Policy

EXIT_OK, EXIT_FINDINGS = 0, 1
SCHEMA = 1  # of --json (guard/data/schemas/check-requirements.schema.json)
_ENV_FILE = re.compile(r"\.ya?ml$", re.I)  # the hook's files: regex passes environment files only


# ---- one requirements source (a file, or an environment file's pip: section) --------------------


def pip_section_source(
    env_path: Path, shown: str, conda: CondaSide, entries: list[tuple[str, int]], tmpdir: str
) -> Source:
    """conda writes the ``pip:`` entries into a requirements file beside environment.yml and runs
    pip there; here the file lives in a temp dir, with nested ``-r``/``-c`` paths made absolute so
    that they still resolve against environment.yml's directory."""
    base = env_path.resolve().parent
    lines: list[str] = []
    line_map: dict[str, tuple[str, int]] = {}
    tmp = os.path.join(tmpdir, f"pip-section-{len(os.listdir(tmpdir))}.txt")
    for i, (text, line) in enumerate(entries, start=1):
        m = re.match(r"^(-r|-c|--requirement|--constraint)(=|\s+)?(\S+)$", text)
        if m and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", m.group(3)):
            text = f"{m.group(1)} {base / m.group(3)}"
        lines.append(text)
        line_map[f"{tmp}:{i}"] = (shown, line)
    Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Source(shown, conda, ["install", "-r", tmp], in_env_file=True, line_map=line_map)


# ---- the direct checks --------------------------------------------------------------------------


@dataclass
class Options:
    """One run of the hook: its environment and working directory, the cache, ``--index-url``,
    ``--suggest-conda``, and the shared policy that says which conda packages are protected."""

    environ: Mapping[str, str]
    cwd: str
    cache_dir: Path
    index_url: str | None
    suggest_conda: bool
    policy: Policy = field(default_factory=Policy)  # the shared rules: which conda packages are protected


def _parse_request(src: Source, opts: Options, interpreter):
    from guard.request.parse import parse_pip_argv
    from guard.request.pip_config import load_pip_config

    # an environment described by a file has no pip.conf of its own yet: os.devnull stands for
    # a prefix that holds none (the user's global/user files and PIP_* variables still apply)
    site_prefix = getattr(interpreter, "prefix", "") or os.devnull
    config = load_pip_config(site_prefix=site_prefix, environ=opts.environ)
    argv = list(src.argv) + (["--index-url", opts.index_url] if opts.index_url else [])
    request = parse_pip_argv(argv, config=config.values, environ=opts.environ, cwd=opts.cwd)
    return request, frozenset(config.get_list("constraint"))


def _items_of(request, src: Source, configured: frozenset) -> list:
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
        probes.update(
            {
                v,
                Version(".".join(map(str, rel[:2] + [rel[2] + 1]))),
                Version(".".join(map(str, [rel[0], rel[1] + 1, 0]))),
                Version(f"{rel[0] + 1}.0.0"),
                Version(f"{v.base_version}.post1"),
                Version(f"{v.base_version}.1"),
            }
        )
    return any(a.contains(v, prereleases=True) and b.contains(v, prereleases=True) for v in probes)


def direct_findings(items, src: Source, markers, opts: Options) -> list[Finding]:
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
            if opts.policy.is_protected(name):
                if src.in_env_file:
                    msg = f"{lead}{name} is a conda package in this environment ({conda.ref(dep)})"
                else:
                    msg = (
                        f"{lead}{name} is provided by conda ({conda.ref(dep)}) - remove it here or {conda.change_hint}"
                    )
                findings.append(Finding(path, line, msg))
            elif item.requirement is not None and not _overlap(item.requirement.specifier, dep.specifier):
                findings.append(
                    Finding(
                        path,
                        line,
                        f"{lead}{name} is provided by conda ({conda.ref(dep)}) in "
                        f"another version; pip would replace conda's {name}",
                        "warning",
                    )
                )
            continue
        if cuda is not None and is_pypi_cuda_wheel(name):
            findings.append(
                Finding(
                    path,
                    line,
                    f"{lead}{name} is a CUDA runtime wheel and conda provides CUDA "
                    f"here ({conda.ref(cuda)}) - remove it here",
                )
            )
            continue
        if opts.suggest_conda and not src.constraint:
            cf = conda_forge_name(name)
            if cf is not None and not is_pypi_cuda_wheel(name):
                findings.append(
                    Finding(
                        path, line, f"{text}: conda-forge ships {name} as {cf}; it could move into {env_target}", "note"
                    )
                )
    return findings


# ---- orchestration ----------------------------------------------------------------------------


def _is_env_file(name: str) -> bool:
    return bool(_ENV_FILE.search(os.path.basename(name)))


def repo_root(cwd: str) -> Path:
    """The git toplevel of ``cwd``, else ``cwd``."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
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


def check(
    filenames: Sequence[str], *, environment: str | None, prefix: str | None, opts: Options, strict: bool = False
) -> list[Finding]:
    """Every finding for ``filenames`` (requirements files, constraints files, environment files)."""
    findings: list[Finding] = []
    tmpdir = tempfile.mkdtemp(prefix="guard-hook-")
    try:
        sources, env_findings = _sources(filenames, environment, prefix, opts, tmpdir)
        findings += env_findings
        findings += _run_sources(sources, opts)
        # the files in the order given, then files they named (nested -r, the environment file)
        named = dict.fromkeys([*filenames, *(f.path for f in findings if f.path)])
        order: dict[str | None, int] = {name: i for i, name in enumerate(named)}
        findings.sort(key=lambda f: (f.path is None, order.get(f.path, 0), f.line or 0))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return findings


def _sources(filenames, environment, prefix, opts: Options, tmpdir: str) -> tuple[list[Source], list[Finding]]:
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
            except EnvFileError as err:
                parsed[shown] = None
                findings.append(err.finding)
        return parsed[shown]

    sources: list[Source] = []
    for name in env_files:
        got = load_env(Path(opts.cwd, name), name)
        if got is not None and got[1]:
            sources.append(pip_section_source(Path(opts.cwd, name), name, got[0], got[1], tmpdir))
    if not req_files:
        return sources, findings

    conda: CondaSide | None = None
    env_path: Path | None
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
                    findings.append(
                        Finding(
                            name,
                            None,
                            f"no environment.yml at {_shown(root, opts.cwd)} to check "
                            f"against (give --environment FILE or --prefix)",
                            "note",
                        )
                    )
                return sources, findings
        got = load_env(env_path, _shown(env_path, opts.cwd))
        if got is None:
            return sources, findings
        conda = got[0]
    for name in req_files:
        constraint = "constraint" in os.path.basename(name).lower()
        sources.append(Source(name, conda, ["install", "-r", name], constraint=constraint))
    return sources, findings


def _run_sources(sources: list[Source], opts: Options) -> list[Finding]:
    from guard.index.client import IndexClient
    from guard.pipeline.check import index_settings

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
                findings += resolution_findings(request, items, src, snap, client, opts.policy)
        except IndexUnavailable as err:
            skipped = str(err)
        except NeedsPipFallback as why:
            # only pip's own dry run could tell, and it may run package code: a hook never runs it
            findings.append(
                Finding(
                    src.shown,
                    None,
                    f"skipped: cannot simulate exactly without running package code, which the hook never does ({why})",
                    "skipped",
                )
            )
        except GuardError as err:
            findings.append(Finding(src.shown, None, src.rewrite(str(err))))
    if skipped is not None:
        findings.append(
            Finding(None, None, f"skipped: index unreachable ({skipped}); resolution checks not run", "skipped")
        )
    return findings


@dataclass(frozen=True)
class HookArgs:
    """One invocation of the hook, as ``guard check-requirements`` (click) or :func:`main` read it."""

    filenames: tuple[str, ...] = ()
    environment: str | None = None  # the conda environment file (default: environment.yml at the repository root)
    prefix: str | None = None  # a real conda environment instead
    index_url: str | None = None
    suggest_conda: bool = False
    strict: bool = False  # a skipped check (index unreachable) fails the hook
    as_json: bool = False


# the options of ``guard check-requirements`` (guard/cli/hooks.py declares the same for click and
# its --help; tests/test_help.py holds the two together): option -> HookArgs field
VALUE_OPTIONS = {"--environment": "environment", "--prefix": "prefix", "--index-url": "index_url"}
FLAG_OPTIONS = {"--suggest-conda": "suggest_conda", "--strict": "strict", "--json": "as_json"}


def parse_args(argv: Sequence[str]) -> HookArgs:
    """``argv`` as pre-commit passes it (options and file names in any order, ``--opt=value`` or
    ``--opt value``, ``--`` ends the options). A usage error raises :class:`UsageError`."""
    values: dict = {}
    files: list[str] = []
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--":
            files += words
            break
        name, eq, value = word.partition("=")
        if name in VALUE_OPTIONS:
            if not eq:
                if not words:
                    raise UsageError(f"option {name} requires an argument")
                value = words.pop(0)
            values[VALUE_OPTIONS[name]] = value
        elif word in FLAG_OPTIONS:
            values[FLAG_OPTIONS[word]] = True
        elif word.startswith("-") and word != "-":
            raise UsageError(f"no such option: {name}")
        else:
            files.append(word)
    return HookArgs(filenames=tuple(files), **values)


def run(args: HookArgs, *, environ: Mapping[str, str], cwd: str) -> tuple[int, str]:
    """The hook's exit status and what it prints on stdout (one line per finding, or one JSON
    object with ``--json``: ``guard/data/schemas/check-requirements.schema.json``). Raises
    :class:`GuardError` for what is no finding: ``--environment`` with ``--prefix``, a real
    environment that cannot be read, a broken pip configuration."""
    from guard.pipeline.check import default_cache_dir

    if args.environment is not None and args.prefix is not None:
        raise UsageError("--environment and --prefix cannot be combined: the conda side is one or the other")
    opts = Options(
        environ=environ,
        cwd=cwd,
        cache_dir=default_cache_dir(environ),
        index_url=args.index_url,
        suggest_conda=args.suggest_conda,
    )
    findings = check(args.filenames, environment=args.environment, prefix=args.prefix, opts=opts)
    failing = {"error", "skipped"} if args.strict else {"error"}
    code = EXIT_FINDINGS if any(f.severity in failing for f in findings) else EXIT_OK
    return code, findings_json(findings) if args.as_json else "\n".join(f.render() for f in findings)


def findings_json(findings: Sequence[Finding]) -> str:
    """Schema 1 of ``check-requirements --json``: ``{"schema": 1, "findings": [...]}``."""
    items = [{"path": f.path, "line": f.line, "severity": f.severity, "message": f.message} for f in findings]
    return json.dumps({"schema": SCHEMA, "findings": items}, indent=2)


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None, cwd: str | None = None) -> int:
    """Entry point of tests and of ``python -m guard.hooks.requirements`` (pre-commit runs
    ``guard check-requirements``, the click command over the same :func:`run`). Prints one line
    per finding; returns 1 when any is an error (or skipped, with --strict), 2 for a usage error."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        code, out = run(
            args, environ=dict(os.environ if environ is None else environ), cwd=os.path.abspath(cwd or os.getcwd())
        )
    except UsageError as err:
        sys.stderr.write(f"guard: error: {err} (see guard check-requirements --help)\n")
        return err.exit_code
    except GuardError as err:  # a real environment that cannot be read, a broken pip configuration
        sys.stderr.write(f"guard: error: {err}\n")
        return err.exit_code
    if out:
        print(out)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
