"""Property-based tests over every parser that reads outside input.

The contract under test is the same for each: whatever the input (near-valid text built from the
grammar's own pieces, arbitrary text, arbitrary bytes with invalid UTF-8 and NULs), the parser
gives a value or raises one of the guard's own errors (``GuardError`` and its subclasses, one
line), never another exception. A stray ``TypeError`` or ``UnicodeDecodeError`` would reach the
user as "internal error" or a traceback instead of ``guard: error: ...``.

Inputs come from real files on disk and from a real HTTP server on 127.0.0.1, through the same
public entry points the CLI uses. Each property runs a bounded number of examples (deadline off:
the shared CI machines are slow), so the whole file stays within a few tens of seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from guard.errors import GuardError
from guard.request.parse import parse_pip_argv

# GUARD_PROPERTY_EXAMPLES=2000 for a longer hunt (the default keeps the file to a few seconds)
_SCALE = int(os.environ.get("GUARD_PROPERTY_EXAMPLES", "60"))
FAST = settings(max_examples=_SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(
    max_examples=max(1, _SCALE // 2),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _one_line(err: GuardError) -> None:
    """The guard's errors are printed as one line after ``guard: error:``."""
    text = str(err).strip()
    assert text and "\n" not in text, repr(text)


# ---- the pieces requirement lines are made of ---------------------------------------------------

names = st.sampled_from(
    ["numpy", "torch", "Foo_Bar.baz", "a", "six", "x-y", "-bad", "_", "1", "ü", ""]
) | st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,8}\Z")
versions = st.sampled_from(
    ["1", "1.0", "2.0.0rc1", "1.*", "1!2.0", "v1", "1.0+local", "1.0.post1.dev2", "", "*", "1..0", "1.0-1", "ǅ"]
) | st.text("0123456789.*+abcrv!-", max_size=8)
operators = st.sampled_from(["==", "!=", "<=", ">=", "<", ">", "~=", "===", "=", "~", "<>", "=>", " ", ""])
markers = st.sampled_from(
    [
        'python_version < "3.8"',
        "sys_platform == 'linux'",
        'extra == "x"',
        "platform_machine=='x86_64' and os_name",
        'python_full_version >= "3.9.1" or implementation_name == "cpython"',
        "(",
        "garbage ~= 'x'",
        "",
    ]
)
extras = st.sampled_from(["", "[x]", "[a,b]", "[ ]", "[", "[a b]", "[.]"])
urls = st.sampled_from(
    [
        "https://example.invalid/pkg-1.0-py3-none-any.whl",
        "https://u:p@example.invalid/pkg-1.0.tar.gz",
        "file:///tmp/nowhere/x-1.0-py3-none-any.whl",
        "git+https://example.invalid/r.git@v1#egg=r",
        "./sub",
        ".",
        "../x-1.0-py3-none-any.whl",
        "x.whl",
        "file:",
        "http://[::1",
        "https://h/p#egg=",
        "hg+x",
        "https://h/a.zip#sha256=00",
        "svn+",
        "~/x",
        "C:\\x\\y.whl",
    ]
)
hashes = st.sampled_from(["--hash=sha256:" + "0" * 64, "--hash sha256:ab", "--hash=md5", "--hash=", "--hash=:x"])
options = st.sampled_from(
    [
        "-r other.txt",
        "-r",
        "-c c.txt",
        "--constraint=missing.txt",
        "-e .",
        "-e",
        "--editable=./sub",
        "-i https://example.invalid/simple",
        "--index-url=",
        "--extra-index-url x",
        "--no-index",
        "-f .",
        "--find-links=./sub",
        "--pre",
        "--prefer-binary",
        "--no-binary :all:",
        "--only-binary=:none:",
        "--only-binary",
        "--trusted-host h",
        "--config-settings k=v",
        "--use-feature=fast-deps",
        "--require-hashes",
        "-Z",
        "--global-option=x",
        "--install-option=y",
        "-h",
        "--help",
        "--",
        "-",
        "'unterminated",
        '"x',
        "--no-binary=a,b,:all:",
        "-r ${X}",
        "-r file:///nonexistent",
        "-r https://example.invalid/r.txt",
        "-r a\x00b",
        "-c \x00",
        "-f \x00",
        "-i file:///%00/",
        "-r sub",
        "-r .",
        "-e ./a\x00",
        "-f http://[::1",
    ]
)
requirement = st.one_of(
    st.builds(
        lambda n, e, o, v, m: f"{n}{e}{o}{v}" + (f"; {m}" if m else ""), names, extras, operators, versions, markers
    ),
    st.builds(lambda n, e, u, m: f"{n}{e} @ {u}" + (f" ; {m}" if m else ""), names, extras, urls, markers),
    urls,
)
fragment = st.one_of(
    requirement,
    options,
    hashes,
    st.sampled_from(["\\", "#", " # c", "${X}", "${MISSING}", "\t", "\r", "\f", "\x00", ";", "@"]),
    st.text(max_size=12),
)


@st.composite
def lines(draw) -> str:
    return " ".join(draw(st.lists(fragment, min_size=1, max_size=4)))


@st.composite
def requirement_files(draw) -> bytes:
    """A requirements file: near-valid lines (continuations, comments, ${VAR}), or any bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=200))
    text = "\n".join(draw(st.lists(lines(), max_size=6)))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "latin-1-ish", "coding"]))
    if encoding == "utf-16":
        return text.encode("utf-16")
    if encoding == "latin-1-ish":
        return text.encode("utf-8", "surrogatepass").replace(b"a", b"\xe9\xff", 1)
    if encoding == "coding":
        codec = draw(st.sampled_from(["latin-1", "ascii", "utf-8", "nonexistent-codec", "utf-16", "rot13", "idna"]))
        return f"# -*- coding: {codec} -*-\n".encode() + text.encode("utf-8", "surrogatepass")
    return text.encode("utf-8", "surrogatepass")


def _environ() -> dict[str, str]:
    return {"X": "other.txt", "HOME": "/nonexistent"}


# ---- pip options and requirement files (guard/request/) -------------------------------------------


@FAST
@given(main=requirement_files(), other=requirement_files(), command=st.sampled_from(["install", "uninstall"]))
@example(main=b"# -*- coding: nonexistent-codec -*-\nsix\n", other=b"", command="install")
@example(main=b"# coding: ascii\nsix\xff\n", other=b"", command="install")
@example(main=b"# coding: utf-16\nsix\n", other=b"", command="install")
def test_requirement_files_give_a_request_or_a_guard_error(main: bytes, other: bytes, command: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "req.txt").write_bytes(main)
        Path(tmp, "other.txt").write_bytes(other)
        Path(tmp, "c.txt").write_bytes(b"six==1.16.0\n")
        Path(tmp, "sub").mkdir()
        args = [command, "-r", "req.txt"] + (["-y"] if command == "uninstall" else [])
        try:
            parse_pip_argv(args, config={}, environ=_environ(), cwd=tmp)
        except GuardError as err:
            _one_line(err)


argv_words = st.one_of(
    requirement,
    options.flatmap(lambda o: st.just(o.split(" "))),
    hashes,
    st.sampled_from(
        [
            "--target",
            "--prefix",
            "--root",
            "--user",
            "--python",
            "--platform",
            "--python-version",
            "--abi",
            "--implementation",
            "--only-binary=:all:",
            "--no-deps",
            "--upgrade",
            "--upgrade-strategy",
            "eager",
            "-U",
            "--force-reinstall",
            "-I",
            "--dry-run",
            "--report",
            "-",
            "--timeout",
            "x",
            "--retries",
            "-1",
            "--proxy",
            "--cert",
            "--isolated",
            "--no-build-isolation",
            "--group",
            "pyproject.toml:dev",
            "--python-version=3.x",
            "--uploaded-prior-to",
            "2024-13-45",
            "-C",
            "k",
            "--progress-bar",
            "bogus",
            "-qqq",
            "-v",
            "--log",
            "--src",
            "--no-cache-dir",
            "false",
            "--exists-action",
            "q",
            "-b",
            "--requirement=",
            "--use-deprecated=x",
            "-V",
        ]
    ),
    st.text(max_size=10),
)


@FAST
@given(
    command=st.sampled_from(["install", "uninstall", "download", "", "instal"]),
    words=st.lists(argv_words, max_size=8),
    config=st.dictionaries(
        st.sampled_from(
            [
                "timeout",
                "retries",
                "no-index",
                "index-url",
                "no-cache-dir",
                "only-binary",
                "no-binary",
                "pre",
                "require-hashes",
                "progress-bar",
                "upgrade-strategy",
                "python-version",
                "verbose",
                "quiet",
                "target",
                "prefix",
                "user",
                "exists-action",
                "use-feature",
                "find-links",
                "disable-pip-version-check",
                "no-deps",
                "isolated",
                "constraint",
                "requirement",
            ]
        ),
        st.one_of(
            st.sampled_from(
                [
                    "",
                    "0",
                    "1",
                    "yes",
                    "no",
                    "true",
                    "maybe",
                    "-1",
                    "3.x",
                    ":all:",
                    "a b",
                    "1e9",
                    "nan",
                    "inf",
                    "eager",
                    "i",
                    "s w",
                ]
            ),
            st.text(max_size=8),
        ),
        max_size=4,
    ),
)
@example(command="install", words=["--timeout", "1e999999"], config={})
@example(command="install", words=["six"], config={"timeout": "nan"})
def test_pip_argv_gives_a_request_or_a_guard_error(command: str, words: list, config: dict) -> None:
    argv = [command] if command else []
    for w in words:
        argv.extend(w if isinstance(w, list) else [w])
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "other.txt").write_text("six\n")
        Path(tmp, "sub").mkdir()
        try:
            parse_pip_argv(argv, config=config, environ=_environ(), cwd=tmp)
        except GuardError as err:
            _one_line(err)


# ---- pip configuration files (guard/pip_config.py) ----------------------------------------------

config_lines = st.one_of(
    st.sampled_from(
        [
            "[global]",
            "[install]",
            "[global",
            "[]",
            "[:env:]",
            "index-url = https://example.invalid",
            "timeout=",
            "no-index = maybe",
            "  continued",
            "=x",
            "key",
            "; c",
            "# c",
            "[global]\n[global]",
            "a = 1\na = 2",
            "%(x)s = y",
            "trusted-host = a\n  b",
        ]
    ),
    st.text(max_size=20),
)


@FAST
@given(
    body=st.one_of(
        st.lists(config_lines, max_size=6).map(lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass")),
        st.binary(max_size=100),
    ),
    env=st.dictionaries(
        st.sampled_from(["PIP_TIMEOUT", "PIP_NO_INDEX", "PIP_INDEX_URL", "PIP_", "PIP_X_Y"]),
        st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=8),
        max_size=2,
    ),
    isolated=st.booleans(),
)
def test_pip_config_files_give_values_or_a_guard_error(body: bytes, env: dict, isolated: bool) -> None:
    from guard.request.pip_config import load_pip_config

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "pip.conf").write_bytes(body)
        environ = {"HOME": tmp, "XDG_CONFIG_DIRS": tmp, "PIP_CONFIG_FILE": str(Path(tmp, "pip.conf")), **env}
        try:
            config = load_pip_config(site_prefix=tmp, environ=environ, isolated=isolated)
            # the values become option defaults of pip's parser, with pip's option types
            parse_pip_argv(["install", "six"], config=config.values, environ=environ, cwd=tmp)
        except GuardError as err:
            _one_line(err)


# ---- the guard's own YAML configuration (guard/config.py) ---------------------------------------

yaml_docs = st.one_of(
    st.sampled_from(
        [
            "protect: [foo]",
            "unprotect: [numpy, 1]",
            "conda_owned: block",
            "on_block: redirect",
            "conda_owned: [x]",
            "protect: foo",
            "1: a\nx: b",
            "? [a]\n: b",
            "- a",
            "a",
            "~",
            "{",
            "protect: [&a a, *a]",
            "!!python/name:os",
            "null: 1\nprotect: []",
            "protect: [[x]]",
            "conda_owned: {}",
            "!!binary AAAA: 1\nz: 1",
            "[" * 200,
            "on_block: !!float nan",
            "protect: !!set {a, b}",
            "\ufeffprotect: [x]",
            'protect:\n  - "\\x00"',
        ]
    ),
    st.lists(
        st.sampled_from(
            [
                "protect:",
                "  - a",
                "unprotect: [b]",
                "conda_owned: warn",
                "x: 1",
                "\t",
                "- ",
                "on_block: block",
                "'",
                "&x",
                "*y",
                "%YAML 1.1",
                "---",
                "...",
            ]
        ),
        max_size=5,
    ).map("\n".join),
    st.text(max_size=30),
).map(lambda s: s.encode("utf-8", "surrogatepass")) | st.binary(max_size=60)


@FAST
@given(body=yaml_docs)
@example(body=b"1: a\nx: b\n")
@example(body=b"[" * 1200)  # past the recursion limit; the YAML scanner is slow on more
def test_guard_config_gives_a_policy_or_a_guard_error(body: bytes) -> None:
    from guard.policy.config import load_policy

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "guard.yaml").write_bytes(body)
        environ = {"HOME": tmp, "XDG_CONFIG_HOME": tmp, "GUARD_CONFIG": str(Path(tmp, "guard.yaml"))}
        try:
            load_policy(Path(tmp, "prefix"), environ)
        except GuardError as err:
            _one_line(err)


# ---- environment.yml and conda specs (guard/hooks/conda_side.py, guard/policy/conda.py) ---------

conda_specs = st.one_of(
    st.builds(
        lambda ch, n, sep, v, b: f"{ch}{n}{sep}{v}{b}",
        st.sampled_from(["", "conda-forge::", "pytorch::", "::", "a::b::"]),
        names,
        st.sampled_from(["", "=", "==", " ", ">=", "<", "!=", "~=", " == ", " >= "]),
        versions,
        st.sampled_from(["", "=cuda*", " py_0", "=", "[version='>=2.1']", "[build=cuda*]", "[", "[x=]"]),
    ),
    st.sampled_from(
        [
            "python=3.11",
            "python 3.8.5",
            "python>=3.9,<3.13",
            "pytorch[version='>=2.1', build=cuda*]",
            "cudatoolkit>=11.3,<12",
            "numpy 1.26.*",
            "pip",
            "a|b",
            "x=1|2",
            "x >=1,",
            "x ,",
            "x=*",
            "x ==1.*.*",
            "x !=*",
            "x=+",
            "x=1+",
            "x ===",
            "python=",
            "python >=abc",
        ]
    ),
    st.text(max_size=15),
)


@FAST
@given(spec=conda_specs)
@example(spec="x >=1,")
@example(spec="python >=3.x")
def test_conda_specs_give_a_dep_or_a_value_error(spec: str) -> None:
    """``parse_conda_spec`` documents ValueError (the hook turns it into a finding)."""
    from guard.hooks.conda_side import python_version_of as _python_version
    from guard.policy.conda import parse_conda_spec

    try:
        dep = parse_conda_spec(spec, 1)
    except ValueError as err:
        assert str(err) and "\n" not in str(err)
        return
    _python_version(dep)
    dep.cuda_build  # noqa: B018 - a property over the parsed build string


@FAST
@given(
    spec=st.one_of(
        st.builds(lambda o, v: f"{o}{v}", operators, versions),
        st.lists(st.builds(lambda o, v: f"{o}{v}", operators, versions), max_size=3).map(",".join),
        st.text(max_size=12),
    )
)
def test_conda_specs_of_pip_specifiers(spec: str) -> None:
    """``guard/policy/conda.py``: a PyPI specifier (from a requirement the user wrote) as a conda
    version spec, or NotExpressible (a ValueError the redirect explains)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from guard.policy.conda import NotExpressible, conda_version_spec, match_spec

    try:
        specifier = SpecifierSet(spec)
    except InvalidSpecifier:
        return
    try:
        conda_version_spec(specifier)
        match_spec("numpy", specifier, build="cuda*")
    except NotExpressible:
        pass


env_yml_lines = st.sampled_from(
    [
        "name: x",
        "channels: [conda-forge]",
        "dependencies:",
        "  - python=3.11",
        "  - numpy 1.26.*",
        "  - pip:",
        "    - six==1.16.0",
        "    - -r other.txt",
        "    - [x]",
        "  - {a: b}",
        "  - pip: x",
        "  - [1]",
        "dependencies: 3",
        "dependencies: ~",
        "  - 1.5",
        "  - ",
        "    - ",
        "  - pip:\n    - {x: 1}",
        "- a",
        "? [a]\n: b",
        "dependencies: {",
        "  - 'x",
        "&a b: *a",
        "\t- x",
        "  - !!binary AAAA",
        "  - pytorch::pytorch=2.1=cuda*",
        "  - ::",
        "  - '[x'",
    ]
)


@FAST
@given(
    body=st.one_of(
        st.lists(env_yml_lines, max_size=8).map(lambda ls: "\n".join(ls).encode()),
        st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.binary(max_size=60),
    )
)
@example(body=b"dependencies:\n  - ? [a]\n    : b\n")
@example(body=b"? [a]\n: b\n")
@example(body=b"dependencies:\n  - " + b"[" * 1200)
def test_environment_files_give_a_conda_side_or_a_finding(body: bytes) -> None:
    """``read_environment_file`` documents ``_EnvFileError`` (a finding the hook prints)."""
    from guard.hooks.conda_side import EnvFileError as _EnvFileError
    from guard.hooks.conda_side import read_environment_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "environment.yml")
        path.write_bytes(body)
        try:
            side, _entries, findings = read_environment_file(path, "environment.yml")
        except _EnvFileError as err:
            assert "\n" not in err.finding.render()
            return
        side.python_version()
        side.provided  # noqa: B018
        for f in findings:
            assert "\n" not in f.render()


# ---- METADATA: local wheels and index metadata (guard/index/, guard/index/local_dist.py) --------

metadata_headers = st.sampled_from(
    [
        "Metadata-Version: 2.1",
        "Metadata-Version: 2.4",
        "Metadata-Version: x",
        "Name: pkg",
        "Name: other",
        "Name:",
        "Version: 1.0",
        "Version: 1..0",
        "Version:",
        "Requires-Dist: six>=1",
        "Requires-Dist: !!",
        "Requires-Dist: a; extra == 'x'",
        "Requires-Python: >=3.8",
        "Requires-Python: >>3",
        "Provides-Extra: x",
        "Dynamic: Requires-Dist",
        " folded",
        "\tfolded",
        "Name pkg",
        "",
        ": x",
        "Version: 1.0\r",
        "\x00",
    ]
)


@st.composite
def metadata_bodies(draw) -> bytes:
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=120))
    text = "\n".join(draw(st.lists(st.one_of(metadata_headers, st.text(max_size=12)), max_size=8)))
    return text.encode("utf-8", "surrogatepass")


@FAST
@given(body=metadata_bodies())
@example(body=b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Python: >>3\n")
def test_wheel_metadata_gives_metadata_or_a_guard_error(body: bytes) -> None:
    from guard.index.local_dist import wheel_metadata

    with tempfile.TemporaryDirectory() as tmp:
        wheel = Path(tmp, "pkg-1.0-py3-none-any.whl")
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr("pkg-1.0.dist-info/METADATA", body)
        try:
            meta = wheel_metadata(wheel)
        except GuardError as err:
            _one_line(err)
            return
        assert isinstance(meta.name, str) and isinstance(meta.version, str)


# ---- index pages and metadata over HTTP (guard/index.py) ----------------------------------------


class _Served:
    """What the one-off index answers: ``path -> (status, content type, body)``."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes]] = {}


@pytest.fixture(scope="module")
def index_server():
    served = _Served()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            status, ctype, body = served.routes.get(self.path, (404, "text/plain", b"not found"))
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _client(index_url: str):
    from guard.index.client import IndexClient
    from guard.index.settings import IndexSettings

    return IndexClient(IndexSettings(index_url=index_url, timeout=5.0, retries=0), cache_dir=None, max_workers=1)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-2, 2),
        st.floats(allow_nan=True),
        st.sampled_from(
            [
                "pkg-1.0-py3-none-any.whl",
                "pkg-1.0.tar.gz",
                "pkg-x.tar.gz",
                "other-1.0.tar.gz",
                "pkg-1.0-1-py3-none-any.whl",
                "https://h/pkg-1.0.tar.gz",
                "../pkg-1.0.zip",
                ">=3.8",
                ">>3",
                "sha256=00",
                "true",
                "false",
                "",
                "#",
                "http://[",
            ]
        ),
        st.text(max_size=6),
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "url",
                    "filename",
                    "hashes",
                    "requires-python",
                    "yanked",
                    "core-metadata",
                    "dist-info-metadata",
                    "sha256",
                    "files",
                    "meta",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@st.composite
def json_pages(draw) -> bytes:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(st.binary(max_size=80))
    if choice == 1:
        return json.dumps(draw(json_values)).encode()
    files = draw(
        st.lists(
            st.one_of(
                st.fixed_dictionaries(
                    {
                        "filename": st.sampled_from(["pkg-1.0-py3-none-any.whl", "pkg-1.0.tar.gz", "pkg-2.0.zip"]),
                        "url": st.sampled_from(
                            ["pkg-1.0-py3-none-any.whl", "/files/pkg-1.0.tar.gz", "https://h/p.whl"]
                        ),
                    },
                    optional={
                        "hashes": json_values,
                        "requires-python": json_values,
                        "yanked": json_values,
                        "core-metadata": json_values,
                        "dist-info-metadata": json_values,
                    },
                ),
                st.dictionaries(
                    st.sampled_from(["url", "filename", "hashes", "requires-python", "yanked"]), json_values, max_size=5
                ),
                json_values,
            ),
            max_size=4,
        )
    )
    return json.dumps({"meta": {"api-version": "1.0"}, "name": "pkg", "files": files}).encode()


_HTML_TYPE = "text/html"
_JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def _use_files(files) -> None:
    """What the resolver does with a page: read each file's fields, compare versions, parse
    Requires-Python."""
    from packaging.specifiers import SpecifierSet

    from guard.resolve.finder import TargetPython, applicable_files

    target = TargetPython.from_tags("3.11.4", ["py3-none-any", "py311-none-any"])
    applicable_files(files, SpecifierSet(""), target=target)
    applicable_files(files, SpecifierSet("==1.0"), target=target, hashes={"sha256": frozenset({"00"})})


@FEWER
@given(
    body=json_pages(), ctype=st.sampled_from([_JSON_TYPE, _JSON_TYPE, _HTML_TYPE, "", "text/plain", "application/json"])
)
@example(body=b'{"files": [{"filename": 1, "url": "x"}]}', ctype=_JSON_TYPE)
@example(body=b'{"files": [{"filename": "pkg-1.0.tar.gz", "url": 5}]}', ctype=_JSON_TYPE)
@example(body=b'{"files": [{"filename": "pkg-1.0.tar.gz", "url": "x", "requires-python": 3}]}', ctype=_JSON_TYPE)
@example(body=b'{"files": [{"filename": "pkg-1.0.tar.gz", "url": "x", "hashes": []}]}', ctype=_JSON_TYPE)
@example(body=b"[" * 100000, ctype=_JSON_TYPE)
def test_json_index_pages_give_files_or_a_guard_error(index_server, body: bytes, ctype: str) -> None:
    served, base = index_server
    served.routes = {"/simple/pkg/": (200, ctype, body)}
    with _client(base + "/simple") as client:
        try:
            files = client.project_files("pkg")
        except GuardError as err:
            _one_line(err)
            return
        _use_files(files)


html_pieces = st.sampled_from(
    [
        '<a href="pkg-1.0-py3-none-any.whl">x</a>',
        '<a href="pkg-1.0.tar.gz#sha256=00">',
        "<a>",
        '<a href="">',
        '<a href="http://[::1/pkg-1.0.tar.gz">',
        '<a href="pkg-1.0.tar.gz" data-requires-python="&gt;=3.8">',
        '<a href="pkg-1.0.tar.gz" data-requires-python=">>3">',
        '<a href="pkg-1.0.tar.gz" data-yanked>',
        '<a href="pkg-1.0.tar.gz" data-core-metadata="sha256=00">',
        '<a href="pkg-2.0.zip" data-dist-info-metadata>',
        '<base href="http://other.invalid/x/">',
        "<base href=>",
        '<a href="pkg-1.0-x-py3-none-any.whl">',
        '<a href="pkg-%zz.tar.gz">',
        "<!--",
        "<![CDATA[",
        "&#xffffff;",
        "&#0;",
        "<a href='pkg-1.0.tar.gz#md5=&'>",
        '<a href="pkg-1.0.tar.gz" data-requires-python="&#0;">',
        "<html>",
        "</a>",
        "<",
        "\x00",
    ]
)


@FEWER
@given(
    body=st.one_of(
        st.lists(st.one_of(html_pieces, st.text(max_size=8)), max_size=6).map(
            lambda p: "".join(p).encode("utf-8", "surrogatepass")
        ),
        st.binary(max_size=80),
    ),
    charset=st.sampled_from(
        [
            "",
            "; charset=utf-8",
            "; charset=latin-1",
            "; charset=bogus",
            "; charset=utf-16",
            '; charset=""',
            "; charset=idna",
        ]
    ),
)
def test_html_index_pages_give_files_or_a_guard_error(index_server, body: bytes, charset: str) -> None:
    served, base = index_server
    served.routes = {"/simple/pkg/": (200, _HTML_TYPE + charset, body)}
    with _client(base + "/simple") as client:
        try:
            files = client.project_files("pkg")
        except GuardError as err:
            _one_line(err)
            return
        _use_files(files)


@FAST
@given(body=st.one_of(st.lists(html_pieces, max_size=6).map(lambda p: "".join(p).encode()), st.binary(max_size=80)))
def test_file_index_pages_give_files_or_a_guard_error(body: bytes) -> None:
    """A ``file://`` index (a directory of PEP 503 pages on disk)."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "pkg").mkdir()
        Path(tmp, "pkg", "index.html").write_bytes(body)
        with _client(Path(tmp).as_uri()) as client:
            try:
                files = client.project_files("pkg")
            except GuardError as err:
                _one_line(err)
                return
            _use_files(files)


@FEWER
@given(body=metadata_bodies(), advertised=st.sampled_from(["true", '{"sha256": "00"}', '"sha256=00"', "false"]))
@example(body=b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Python: >>3\n", advertised="true")
@example(body=b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Dist: !!\n", advertised="true")
def test_index_metadata_gives_metadata_or_a_guard_error(index_server, body: bytes, advertised: str) -> None:
    """PEP 658 metadata files, advertised or probed, as the resolver reads them."""
    served, base = index_server
    page = (
        '{"meta": {"api-version": "1.1"}, "name": "pkg", "files": [{"filename": "pkg-1.0-py3-none-any.whl", '
        f'"url": "/files/pkg-1.0-py3-none-any.whl", "hashes": {{}}, "core-metadata": {advertised}}}]}}'
    )
    served.routes = {
        "/simple/pkg/": (200, _JSON_TYPE, page.encode()),
        "/files/pkg-1.0-py3-none-any.whl.metadata": (200, "application/octet-stream", body),
    }
    with _client(base + "/simple") as client:
        try:
            [f] = client.project_files("pkg")
            meta = client.metadata(f)
        except GuardError as err:
            _one_line(err)
            return
        assert isinstance(meta.name, str) and all(isinstance(r, str) for r in meta.requires_dist)


# ---- dist-info read from site-packages (guard/environment.py) ------------------------------------


@pytest.fixture(scope="module")
def plain_prefix(tmp_path_factory, conda_channel_root):
    from tests.support.conda_prefix import PLAIN_ENV

    root = tmp_path_factory.mktemp("props-env")
    prefix = PLAIN_ENV.build(root / "env", channel_root=conda_channel_root)
    return prefix, root / "cache"


dist_names = st.sampled_from(
    [
        "pkg-1.0.dist-info",
        "pkg.dist-info",
        "-.dist-info",
        ".dist-info",
        "pkg-1.0.egg-info",
        "Pkg_X-1.0-py3.11.egg-info",
        "six-9.9.dist-info",
        "ü-1.dist-info",
        "a-b-c.DIST-INFO",
    ]
)
member_bodies = st.one_of(
    metadata_bodies(),
    st.binary(max_size=60),
    st.sampled_from(
        [
            b"pip\n",
            b"conda",
            b"\xff\xfe",
            b"{}",
            b"[]",
            b'{"url": 1}',
            b"[" * 3000,
            b"[extra:python_version<'3']\nsix\n[:\nx@y\n",
        ]
    ),
)


@settings(FEWER, max_examples=max(1, _SCALE // 4))  # a snapshot reads the whole env: ~0.3 s each
@given(
    entry=dist_names,
    is_file=st.booleans(),
    members=st.dictionaries(
        st.sampled_from(
            [
                "METADATA",
                "PKG-INFO",
                "INSTALLER",
                "RECORD",
                "direct_url.json",
                "requires.txt",
                "REQUESTED",
                "top_level.txt",
            ]
        ),
        st.one_of(
            member_bodies,
            st.sampled_from(
                [b"a\x00b\n", b"\xff\n", b"x-y\n", b"../x\n", b"a\x00b/__init__.py,,\n", b"-c/__init__.py,,\n"]
            ),
        ),
        max_size=4,
    ),
)
@example(entry="pkg-1.0.dist-info", is_file=False, members={"direct_url.json": b"[" * 100000})
@example(entry="pkg-1.0.dist-info", is_file=False, members={"top_level.txt": b"\xff\n"})
@example(entry="pkg-1.0.dist-info", is_file=False, members={"top_level.txt": b"a\x00b\n"})
@example(entry="pkg-1.0.dist-info", is_file=False, members={"METADATA": b"Name: a\x00b\nVersion: 1\n"})
def test_site_packages_metadata_gives_a_snapshot_or_a_guard_error(plain_prefix, entry, is_file, members) -> None:
    from guard.doctor.evidence import module_name, probe_imports
    from guard.environment.snapshot import snapshot
    from tests.support.conda_prefix import SITE_PACKAGES

    prefix, cache = plain_prefix
    path = prefix / SITE_PACKAGES / entry
    if is_file:
        path.write_bytes(members.get("PKG-INFO", b""))
    else:
        path.mkdir()
        for name, body in members.items():
            (path / name).write_bytes(body)
    try:
        snap = snapshot(prefix, cache_dir=cache)
        for dist in snap.dists.values():
            assert isinstance(dist.name, str) and isinstance(dist.version, str)
            # guard doctor imports it by this name, passed in a subprocess's argv
            module = module_name(dist)
            assert isinstance(module, str) and module
            if "\0" in module:
                [result] = probe_imports(snap, [dist.name], gpu=False, timeout=30).values()
                assert result.error
    except GuardError as err:
        _one_line(err)
    finally:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


# ---- index options from the user, and distribution files on disk (guard/index.py) ----------------


def _zip_bytes(members: dict[str, bytes], method: int) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return buf.getvalue()


def _tar_bytes(members: dict[str, bytes], mode: str) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
    return buf.getvalue()


@st.composite
def archives(draw, kind: str) -> bytes:
    """A wheel or sdist: well formed, then maybe damaged (a slice overwritten, cut short)."""
    body = draw(metadata_bodies())
    if kind == "wheel":
        name = draw(
            st.sampled_from(
                [
                    "pkg-1.0.dist-info/METADATA",
                    "pkg-1.0.dist-info/RECORD",
                    "other.dist-info/METADATA",
                    "pkg-1.0.dist-info/METADATA/x",
                    "../pkg-1.0.dist-info/METADATA",
                ]
            )
        )
        method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
        data = _zip_bytes({name: body}, method)
    else:
        name = draw(st.sampled_from(["pkg-1.0/PKG-INFO", "PKG-INFO", "pkg-1.0/sub/PKG-INFO", "./pkg-1.0/PKG-INFO"]))
        data = _tar_bytes({name: body}, draw(st.sampled_from(["w:gz", "w:bz2", "w:xz", "w"])))
    damage = draw(st.sampled_from(["none", "overwrite", "truncate", "garbage"]))
    if damage == "overwrite" and data:
        at = draw(st.integers(0, len(data) - 1))
        patch = draw(st.binary(min_size=1, max_size=8))
        data = data[:at] + patch + data[at + len(patch) :]
    elif damage == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == "garbage":
        data = draw(st.binary(max_size=64))
    return data


@FEWER
@given(
    wheel=archives("wheel"),
    sdist=archives("sdist"),
    index=st.sampled_from(
        [
            "none",
            "file-index",
            "file:///%00/",
            "file:///a\x00b/",
            "https://[x/",
            "http://u:p@[::1/",
            "file:",
            "file:///nonexistent/",
        ]
    ),
    find_links=st.lists(
        st.sampled_from(
            [
                "links",
                "links/page.html",
                "\x00",
                "file:///%00",
                "http://[::1",
                "~/x",
                "file://host/x",
                "links/pkg-1.0-py3-none-any.whl",
                "git+https://h/r",
                "",
            ]
        ),
        max_size=2,
    ),
    page=st.lists(html_pieces, max_size=4).map("".join),
)
@example(wheel=b"", sdist=b"garbage", index="none", find_links=["links"], page="")
def test_local_sources_give_files_and_metadata_or_a_guard_error(wheel, sdist, index, find_links, page) -> None:
    """``-i``/``--find-links`` as the user wrote them (parse_pip_argv -> index settings ->
    IndexClient), over find-links directories and pages whose distribution files may be damaged."""
    from guard.index.client import IndexClient
    from guard.pipeline.check import index_settings

    with tempfile.TemporaryDirectory() as tmp:
        links = Path(tmp, "links")
        links.mkdir()
        Path(links, "pkg-1.0-py3-none-any.whl").write_bytes(wheel)
        Path(links, "pkg-1.0.tar.gz").write_bytes(sdist)
        Path(links, "pkg-2.0.zip").write_bytes(wheel)  # a zip sdist
        Path(links, "page.html").write_text(page, encoding="utf-8", errors="surrogatepass")
        Path(tmp, "simple", "pkg").mkdir(parents=True)
        Path(tmp, "simple", "pkg", "index.html").write_text(
            '<a href="../../links/pkg-1.0-py3-none-any.whl">w</a><a href="../../links/pkg-1.0.tar.gz">s</a>' + page,
            encoding="utf-8",
            errors="surrogatepass",
        )
        argv = ["install", "pkg"]
        if index == "none":
            argv.append("--no-index")
        else:
            argv += ["-i", Path(tmp, "simple").as_uri() if index == "file-index" else index]
        for location in find_links:
            argv += ["--find-links", location]
        try:
            request = parse_pip_argv(argv, config={}, environ={"HOME": tmp}, cwd=tmp)
            with IndexClient(index_settings(request, None), cache_dir=None, max_workers=1) as client:
                files = client.project_files("pkg")
                _use_files(files)
                for f in files:
                    try:
                        client.metadata(f)
                    except GuardError as err:
                        _one_line(err)
        except GuardError as err:
            _one_line(err)


# ---- a local project's pyproject.toml (guard/index/local_dist.py) -------------------------------

toml_values = st.one_of(
    st.sampled_from(
        [
            '"pkg"',
            '"1.0"',
            '"x"',
            '["six>=1", "a; python_version < \'3\'"]',
            "[1, 2]",
            '"six"',
            "1",
            "true",
            "{}",
            '{x = ["six"]}',
            '{x = "six"}',
            "{x = [1]}",
            '["version"]',
            '"version"',
            "[[1]]",
            '">=3.8"',
            '[">=3"]',
            '{name = "x"}',
            '"1..0"',
            '"a b"',
            "1979-05-27T07:32:00Z",
            "[]",
            '"\\u0000"',
        ]
    ),
    st.text(max_size=6).map(json.dumps),
)


@FAST
@given(
    keys=st.dictionaries(
        st.sampled_from(["name", "version", "dependencies", "optional-dependencies", "requires-python", "dynamic"]),
        toml_values,
        max_size=6,
    ),
    raw=st.one_of(st.none(), st.binary(max_size=40), st.sampled_from([b"[project", b"[project]\nname =", b"\xff"])),
)
@example(keys={"name": '"pkg"', "version": '"1.0"', "dynamic": '"version"'}, raw=None)
@example(keys={"name": '"pkg"', "version": '"1.0"', "optional-dependencies": '{x = "six"}'}, raw=None)
@example(keys={"name": '"pkg"', "version": '"1.0"', "optional-dependencies": "[]"}, raw=None)
@example(keys={"name": '"pkg"', "version": '"1.0"', "requires-python": "3"}, raw=None)
def test_project_pyproject_gives_metadata_or_a_guard_error(keys: dict, raw) -> None:
    """Static PEP 621 metadata of a local project: well-typed metadata, or a GuardError (a
    NeedsPipFallback when a build decides, a UsageError for a pyproject.toml pip rejects)."""
    from guard.index.local_dist import project_metadata

    body = raw if raw is not None else ("[project]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())).encode()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "pyproject.toml").write_bytes(body)
        try:
            meta = project_metadata(Path(tmp))
        except GuardError as err:
            _one_line(err)
            return
    assert isinstance(meta.name, str) and isinstance(meta.version, str)
    assert all(isinstance(r, str) for r in meta.requires_dist)
    assert meta.requires_python is None or isinstance(meta.requires_python, str)


@FAST
@given(wheel=archives("wheel"), sdist=archives("sdist"))
@example(wheel=b"", sdist=b"\x1f\x8b\x08")  # a gzip header cut short: tarfile's stream mode raised TypeError
def test_local_archives_give_metadata_or_a_guard_error(wheel: bytes, sdist: bytes) -> None:
    """``pip install ./pkg-1.0-py3-none-any.whl`` / ``./pkg-1.0.tar.gz``: the archive's own
    metadata, read and never executed, or a GuardError (damaged, or a build decides)."""
    from guard.index.local_dist import sdist_metadata, wheel_metadata

    with tempfile.TemporaryDirectory() as tmp:
        for name, body, read in (
            ("pkg-1.0-py3-none-any.whl", wheel, wheel_metadata),
            ("pkg-1.0.tar.gz", sdist, sdist_metadata),
        ):
            path = Path(tmp, name)
            path.write_bytes(body)
            try:
                meta = read(path)
            except GuardError as err:
                _one_line(err)
                continue
            assert isinstance(meta.name, str) and all(isinstance(r, str) for r in meta.requires_dist)


# ---- end to end: guard check over a requirements file, in process ------------------------------


@pytest.fixture(scope="module")
def local_wheels(tmp_path_factory):
    from tests.support.wheels import build_wheel

    links = tmp_path_factory.mktemp("props-links")
    build_wheel(links, "pkg", "1.0", requires_dist=["six>=1.0", 'other; extra == "x"'])
    build_wheel(links, "pkg", "2.0", requires_dist=["six>=99"], requires_python=">=3.8")
    build_wheel(links, "six", "1.16.0")
    build_wheel(links, "other", "0.1", requires_dist=["pkg<2"])
    return links


wheel_requirements = st.builds(
    lambda n, e, o, v, m: f"{n}{e}{o}{v}" + (f"; {m}" if m else ""),
    st.sampled_from(["pkg", "six", "other", "Six", "PKG", "missing"]),
    st.sampled_from(["", "[x]", "[y]"]),
    st.sampled_from(["", "==", ">=", "<", "!=", "~=", "==="]),
    st.sampled_from(["", "1.0", "2.0", "1.16.0", "1.*", "0"]),
    st.sampled_from(["", 'python_version >= "3"', 'extra == "x"', "os_name == 'nt'"]),
).map(lambda r: r if r[-1:].isalnum() or r.endswith(("]", "*", ")", "'", '"')) else r.rstrip("=<>!~"))
check_files = st.one_of(
    st.lists(
        st.one_of(
            wheel_requirements,
            st.sampled_from(
                [
                    "--pre",
                    "--prefer-binary",
                    "-c other.txt",
                    "--only-binary :all:",
                    "--no-binary :all:",
                    "-e ./sub",
                    "# c",
                    "six \\",
                    "--hash=sha256:" + "0" * 64,
                    "-r ${X}",
                    "--require-hashes",
                    "--no-deps",
                    "-f ./sub",
                ]
            ),
        ),
        max_size=5,
    ).map(lambda ls: "\n".join(ls).encode()),
    requirement_files(),
)
check_args = st.lists(
    st.sampled_from(
        [
            "pkg",
            "six==1.16.0",
            "-U",
            "--force-reinstall",
            "-I",
            "--no-deps",
            "--pre",
            "-c other.txt",
            "--user",
            "--target t",
            "--upgrade-strategy eager",
            "--only-binary :all:",
            "--ignore-installed",
            "--dry-run",
            "--root r",
            "--python-version 3.8",
            "--no-build-isolation",
            "--require-hashes",
        ]
    ),
    max_size=3,
).map(" ".join)


@settings(FEWER, max_examples=max(1, _SCALE // 4))  # a whole guard check each
@given(main=check_files, line=st.one_of(check_args, lines()))
@example(main=b"pkg[x]\nsix==1.16.0 --hash=sha256:00\n", line="-r other.txt")
def test_guard_check_gives_a_verdict_or_one_line(plain_prefix, local_wheels, main: bytes, line: str) -> None:
    """``guard check -- -r req.txt LINE`` offline (--no-index, a find-links directory of real
    wheels): a verdict or one ``guard: error:`` line with a documented exit code; never an internal
    error (GUARD_DEBUG=1 lets one escape here as the exception it is)."""
    import shlex
    from unittest import mock

    from guard.cli.main import main as cli_main

    prefix, _cache = plain_prefix
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "req.txt").write_bytes(main)
        Path(tmp, "other.txt").write_bytes(b"six\n")
        Path(tmp, "sub").mkdir()
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "PIP_CONFIG_FILE": os.devnull,
            "GUARD_CACHE_DIR": str(Path(tmp, "cache")),
            "XDG_CONFIG_HOME": tmp,
            "XDG_STATE_HOME": tmp,
            "GUARD_DEBUG": "1",
            "LANG": "C.UTF-8",
            "X": "other.txt",
        }
        argv = [
            "check",
            "--prefix",
            str(prefix),
            "--",
            "--no-index",
            "--find-links",
            str(local_wheels),
            "-r",
            "req.txt",
            *words,
        ]
        cwd = os.getcwd()
        with mock.patch.dict(os.environ, environ, clear=True):
            os.chdir(tmp)
            try:
                cli_main(argv)
                code = 0
            except SystemExit as done:
                code = done.code
            finally:
                os.chdir(cwd)
        assert code in (0, 1, 2, 3, None), code


env_pip_entries = st.one_of(
    wheel_requirements,
    st.sampled_from(
        [
            "-r other.txt",
            "-c other.txt",
            "--requirement=other.txt",
            "-r \\x00",
            "--index-url http://127.0.0.1:9/",
            "-e .",
            "\\ud800",
            "six \\\\",
            "# c",
            "--pre",
            "-r file:///nonexistent",
            "-r ../../../../etc/passwd-none",
        ]
    ),
    st.text(max_size=8),
)


@settings(FEWER, max_examples=max(1, _SCALE // 4))  # a hook run each
@given(
    deps=st.lists(
        st.one_of(conda_specs.map(json.dumps), st.sampled_from(['"python=3.11"', '"numpy=1.26"'])), max_size=3
    ),
    pip=st.lists(env_pip_entries.map(lambda e: json.dumps(e, ensure_ascii=True)), max_size=3),
    req=check_files,
)
@example(deps=['"python=3.11"'], pip=['"\\ud800"'], req=b"six\n")
def test_requirements_hook_gives_findings_never_an_exception(index_server, deps, pip, req) -> None:
    """The pre-commit hook over environment.yml (conda specs and a ``pip:`` section) and a
    requirements file: an exit status and finding lines; never an exception. (The index knows
    no project: resolution findings are about what cannot be found.)"""
    index_server[0].routes = {}
    from unittest import mock

    from guard.hooks.requirements import main as hook_main

    body = "dependencies:\n" + "".join(f"  - {d}\n" for d in deps)
    if pip:
        body += "  - pip:\n" + "".join(f"    - {p}\n" for p in pip)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "environment.yml").write_text(body, encoding="utf-8")
        Path(tmp, "requirements.txt").write_bytes(req)
        Path(tmp, "other.txt").write_text("six\n")
        environ = {
            "HOME": tmp,
            "PIP_CONFIG_FILE": os.devnull,
            "GUARD_CACHE_DIR": str(Path(tmp, "cache")),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        with mock.patch.dict(os.environ, environ, clear=True):
            code = hook_main(
                [
                    "--environment",
                    "environment.yml",
                    "--index-url",
                    index_server[1] + "/simple",
                    "requirements.txt",
                    "environment.yml",
                ],
                environ=environ,
                cwd=tmp,
            )
        assert code in (0, 1, 2, 3)
