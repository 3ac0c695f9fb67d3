"""The Request stage: a pip command line (and the files it names) -> what pip 26.x would read.

Each table row is a scenario: the argv after ``pip``, the configuration and files around it, and
what pip would make of it. Expected values were checked against pip 26.3's own parser; the last
tests run the real pip on this machine as an oracle where its output is version-stable.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from guard.errors import GuardError, RequirementsFileError, UsageError
from guard.request.command import uses_isolated_config
from guard.request.model import InstallRequest, OtherCommand, UninstallRequest
from guard.request.options import OPTION_EFFECTS
from guard.request.parse import parse_pip_argv

DATA = Path(__file__).parent / "data" / "reqfiles"


def install(*argv: str, config=None, environ=None, cwd=None) -> InstallRequest:
    request = parse_pip_argv(["install", *argv], config=config or {}, environ=environ or {}, cwd=cwd or "/")
    assert isinstance(request, InstallRequest)
    return request


def write(root: Path, files: dict[str, str]) -> Path:
    """Create ``files`` (relative path -> text; a trailing ``/`` makes a directory) under root."""
    for rel, text in files.items():
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# ------------------------------------------------------------------------------------------------
# Options that set a field

OPTION_FIELDS = [
    (["-U", "x"], {"upgrade": True, "upgrade_strategy": "only-if-needed"}),
    (["--upgrade", "--upgrade-strategy", "eager", "x"], {"upgrade": True, "upgrade_strategy": "eager"}),
    (["--upgrade-strategy=eager", "x"], {"upgrade": False, "upgrade_strategy": "eager"}),
    (["--force-reinstall", "x"], {"force_reinstall": True}),
    (["-I", "x"], {"ignore_installed": True}),
    (["--ignore-installed", "x"], {"ignore_installed": True}),
    (["--no-deps", "x"], {"no_deps": True}),
    (["--no-dependencies", "x"], {"no_deps": True}),
    (["--pre", "x"], {"pre": True, "all_releases": frozenset({":all:"})}),
    (["--all-releases", ":all:", "x"], {"pre": True}),
    (["-i", "https://mirror/simple", "x"], {"index_url": "https://mirror/simple"}),
    (["--pypi-url", "https://mirror/simple", "x"], {"index_url": "https://mirror/simple"}),
    (["--index-url=https://mirror/simple", "x"], {"index_urls": ("https://mirror/simple",)}),
    (
        ["--extra-index-url", "https://a", "--extra-index-url", "https://b", "x"],
        {"extra_index_urls": ("https://a", "https://b"), "index_urls": (None, "https://a", "https://b")},
    ),
    (
        ["--no-index", "-f", "https://links/", "x"],
        {"no_index": True, "index_urls": (), "find_links": ("https://links/",)},
    ),
    (["-f", "wheels", "x"], {"find_links": ("/work/wheels",)}),
    (["--only-binary", ":all:", "x"], {"only_binary": frozenset({":all:"})}),
    (["--only-binary", "Torch,numpy", "x"], {"only_binary": frozenset({"torch", "numpy"})}),
    (
        ["--only-binary", ":all:", "--no-binary", "Foo_Bar", "x"],
        {"only_binary": frozenset({":all:"}), "no_binary": frozenset({"foo-bar"})},
    ),
    (["--no-binary", "a", "--only-binary", "a", "x"], {"only_binary": frozenset({"a"}), "no_binary": frozenset()}),
    (
        ["--no-binary", ":all:", "--only-binary", ":all:", "x"],
        {"only_binary": frozenset({":all:"}), "no_binary": frozenset()},
    ),
    (["--only-binary", ":all:,:none:,a", "x"], {"only_binary": frozenset({"a"})}),
    (["--only-binary", "a", "--only-binary", ":none:", "x"], {"only_binary": frozenset()}),
    (["--prefer-binary", "x"], {"prefer_binary": True}),
    (["--ignore-requires-python", "x"], {"ignore_requires_python": True}),
    (["--require-hashes", "x"], {"require_hashes": True}),
    (["--user", "x"], {"user": True}),
    (["--user", "--no-user", "x"], {"user": False}),
    (["-t", "out", "x"], {"target": "/work/out"}),
    (["--target=/abs/out", "x"], {"target": "/abs/out"}),
    (["--prefix", "/opt/p", "--root", "r", "x"], {"prefix": "/opt/p", "root": "/work/r"}),
    (["--dry-run", "x"], {"dry_run": True}),
    (["--isolated", "x"], {"isolated": True}),
    (["--cert", "/c.pem", "--client-cert", "/k.pem", "x"], {"cert": "/c.pem", "client_cert": "/k.pem"}),
    (["--trusted-host", "h1", "--trusted-host", "h2:8080", "x"], {"trusted_hosts": ("h1", "h2:8080")}),
    (["--proxy", "http://p:3128", "x"], {"proxy": "http://p:3128"}),
    (["--timeout", "3.5", "--retries", "2", "x"], {"timeout": 3.5, "retries": 2}),
    (["--default-timeout=7", "x"], {"timeout": 7.0}),
    (["x"], {"timeout": None, "retries": None, "index_url": None, "index_urls": (None,), "unmodeled": ()}),
    # the ones pip treats as a change of target, recorded and unmodeled
    (["--python-version", "3.10", "--no-deps", "--dry-run", "x"], {"python_version": "3.10"}),
    (
        [
            "--platform",
            "linux_x86_64",
            "--platform",
            "any",
            "--abi",
            "cp310",
            "--implementation",
            "cp",
            "--only-binary=:all:",
            "--target",
            "/t",
            "x",
        ],
        {"platforms": ("linux_x86_64", "any"), "abis": ("cp310",), "implementation": "cp"},
    ),
]


@pytest.mark.parametrize("argv, fields", OPTION_FIELDS, ids=[" ".join(a) for a, _ in OPTION_FIELDS])
def test_option_sets_field(argv, fields):
    request = install(*argv, cwd="/work")
    for name, value in fields.items():
        assert getattr(request, name) == value, name


# ------------------------------------------------------------------------------------------------
# optparse spelling: clustered short options, abbreviations, --opt=value, --

SPELLINGS = [
    (["-Ur", "req.txt"], {"upgrade": True, "names": ["six"]}),
    (["-rreq.txt"], {"names": ["six"]}),
    (["-qqUI", "x"], {"upgrade": True, "ignore_installed": True}),
    (["-Uqr", "req.txt"], {"upgrade": True, "names": ["six"]}),
    (["--upgrade-s", "eager", "x"], {"upgrade_strategy": "eager"}),
    (["--force", "x"], {"force_reinstall": True}),
    (["--ignore-i", "x"], {"ignore_installed": True}),
    (["--requirement=req.txt"], {"names": ["six"]}),
    (["--no-deps", "--", "-U"], None),  # after "--" everything is a requirement: invalid here
    (["x", "--pre", "y"], {"pre": True, "names": ["x", "y"]}),  # options and arguments interleave
    (["-e.", "x"], {"names": ["x", None]}),
]


@pytest.mark.parametrize("argv, expected", SPELLINGS, ids=[" ".join(a) for a, _ in SPELLINGS])
def test_optparse_spellings(tmp_path, argv, expected):
    write(tmp_path, {"req.txt": "six\n", "pyproject.toml": "[project]\nname='p'\nversion='1'\n"})
    if expected is None:
        with pytest.raises(UsageError, match="invalid requirement: '-U'"):
            install(*argv, cwd=str(tmp_path))
        return
    request = install(*argv, cwd=str(tmp_path))
    names = expected.pop("names", None)
    if names is not None:
        assert [i.name for i in request.requirements] == names
    for name, value in expected.items():
        assert getattr(request, name) == value


# ------------------------------------------------------------------------------------------------
# Harmless and unmodeled options

HARMLESS = [
    ["-q", "-q", "-v"],
    ["--log", "/tmp/pip.log"],
    ["--no-color"],
    ["--progress-bar", "off"],
    ["--no-input"],
    ["--disable-pip-version-check"],
    ["--cache-dir", "/tmp/c"],
    ["--no-cache-dir"],
    ["--root-user-action", "ignore"],
    ["--report", "-"],
    ["--no-warn-script-location"],
    ["--no-warn-conflicts"],
    ["--no-compile"],
    ["--compile"],
    ["--exists-action", "w"],
    ["--src", "/tmp/src"],
    ["--keyring-provider", "disabled"],
    ["--use-pep517"],
    ["--check-build-dependencies"],
    ["--break-system-packages"],
    ["--no-clean"],
    ["--debug"],
    ["--require-venv"],
    ["--no-proxy-env"],
    ["--resume-retries", "3"],
    ["--no-python-version-warning"],
    ["--refresh-package", "a,b"],
    ["--use-feature", "truststore"],
    ["--use-deprecated", "legacy-certs"],
    ["--build-constraint", "req.txt"],
]


@pytest.mark.parametrize("options", HARMLESS, ids=[" ".join(o) for o in HARMLESS])
def test_harmless_options_are_accepted_and_change_nothing(tmp_path, options):
    write(tmp_path, {"req.txt": "six\n"})
    request = install(*options, "x", cwd=str(tmp_path))
    baseline = install("x", cwd=str(tmp_path))
    assert request.unmodeled == ()
    assert request.requirements == baseline.requirements


UNMODELED = [
    (["--no-build-isolation", "x"], "--no-build-isolation"),
    (["-C", "key=value", "x"], "--config-settings"),
    (["--config-settings", "a=1", "--config-settings=a=2", "x"], "--config-settings"),
    (["--use-feature", "fast-deps", "x"], "--use-feature=fast-deps"),
    (["--use-deprecated", "legacy-resolver", "x"], "--use-deprecated=legacy-resolver"),
    (["--group", "dev"], "--group"),
    (["--only-deps", "x"], "--only-deps"),
    (["--requirements-from-script", "s.py"], "--requirements-from-script"),
    (["--uploaded-prior-to", "P7D", "x"], "--uploaded-prior-to"),
    (["--uploaded-prior-to", "2024-01-01T00:00:00Z", "x"], "--uploaded-prior-to"),
    (["--python-version", "311", "--no-deps", "--dry-run", "x"], "--python-version"),
    (["--all-releases", "torch", "x"], "pre-release control"),
    (["--only-final", ":all:", "x"], "pre-release control"),
    (["-r", "https://example.com/req.txt"], "remote requirements file https://example.com/req.txt"),
    (["-r", "pylock.toml"], "pylock.toml"),
    (["git+https://github.com/a/b.git#egg=b"], "vcs requirement git+https://github.com/a/b.git#egg=b"),
    (["b @ git+https://github.com/a/b.git"], "vcs requirement"),
    (["-e", "git+https://github.com/a/b.git#egg=b"], "vcs requirement"),
]


@pytest.mark.parametrize("argv, reason", UNMODELED, ids=[" ".join(a) for a, _ in UNMODELED])
def test_unmodeled_options_are_recorded(argv, reason):
    request = install(*argv)
    assert any(reason in r for r in request.unmodeled), request.unmodeled


def test_python_before_the_command_is_unmodeled_and_after_it_an_error():
    request = parse_pip_argv(["--python", "/envs/other/bin/python", "install", "x"], cwd="/")
    assert request.unmodeled == ("option --python /envs/other/bin/python (pip runs in another interpreter)",)
    with pytest.raises(UsageError, match="^The --python option must be placed before the pip subcommand name$"):
        install("--python", "/usr/bin/python3", "x")


def test_every_install_and_uninstall_option_is_classified():
    # pip 26.3 `pip install --help` and `pip uninstall --help`, every option string
    pip_26_3 = """-r --requirement -c --constraint --build-constraint --requirements-from-script --no-deps
    --no-dependencies --only-deps --only-dependencies -e --editable --dry-run -t --target --platform
    --python-version --implementation --abi --user --no-user --root --prefix --src --source --source-dir
    --source-directory -U --upgrade --upgrade-strategy --force-reinstall -I --ignore-installed
    --ignore-requires-python --no-build-isolation --use-pep517 --check-build-dependencies
    --break-system-packages -C --config-settings --compile --no-compile --no-warn-script-location
    --no-warn-conflicts --require-hashes --no-require-hashes --progress-bar --root-user-action --report
    --group --no-clean --pre --all-releases --only-final --no-binary --only-binary --prefer-binary -i
    --index-url --pypi-url --extra-index-url --no-index --refresh-package -f --find-links
    --uploaded-prior-to -h --help --debug --isolated --require-virtualenv --require-venv --python -v
    --verbose -q --quiet --log --log-file --local-log --no-input --keyring-provider --proxy --no-proxy-env
    --retries --timeout --default-timeout --exists-action --trusted-host --cert --client-cert --cache-dir
    --no-cache-dir --disable-pip-version-check --no-color --no-python-version-warning --use-feature
    --use-deprecated --resume-retries -y --yes""".split()
    assert sorted(OPTION_EFFECTS) == sorted(pip_26_3)
    assert set(OPTION_EFFECTS.values()) == {"modeled", "harmless", "unmodeled"}


# ------------------------------------------------------------------------------------------------
# Configuration defaults (pip's ConfigOptionParser._update_defaults)

CONFIG = [
    # append options: the command line ADDS to the configured list
    ({"find-links": "/cfg1 /cfg2"}, ["-f", "/cli"], {"find_links": ("/cfg1", "/cfg2", "/cli")}),
    (
        {"extra-index-url": "https://c1 https://c2"},
        ["--extra-index-url", "https://cli"],
        {"extra_index_urls": ("https://c1", "https://c2", "https://cli")},
    ),
    ({"trusted-host": "a b"}, [], {"trusted_hosts": ("a", "b")}),
    # single-valued options: the command line replaces
    ({"index-url": "https://cfg/simple"}, [], {"index_url": "https://cfg/simple"}),
    ({"index-url": "https://cfg/simple"}, ["-i", "https://cli/simple"], {"index_url": "https://cli/simple"}),
    ({"upgrade-strategy": "eager", "upgrade": "yes"}, [], {"upgrade": True, "upgrade_strategy": "eager"}),
    ({"upgrade-strategy": "eager"}, ["--upgrade-strategy", "only-if-needed"], {"upgrade_strategy": "only-if-needed"}),
    ({"timeout": "60", "retries": "1"}, [], {"timeout": 60.0, "retries": 1}),
    # booleans: strtobool
    ({"pre": "true"}, [], {"pre": True}),
    ({"pre": "on"}, [], {"pre": True}),
    ({"pre": "0"}, [], {"pre": False}),
    ({"no-deps": "yes"}, [], {"no_deps": True}),
    ({"user": "no"}, [], {"user": False}),
    ({"pre": ""}, [], {"pre": False}),  # empty values are dropped
    ({"no-index": "1", "find-links": "/w"}, [], {"no_index": True, "find_links": ("/w",)}),
    # store_false options take the converted value as is (pip's quirk)
    ({"no-build-isolation": "no"}, [], {"unmodeled": ("option --no-build-isolation (builds see the environment)",)}),
    ({"no-build-isolation": "yes"}, [], {"unmodeled": ()}),
    ({"no-user": "1"}, [], {"user": True}),
    # callback options run their callback; the command line continues from there
    (
        {"only-binary": ":all:"},
        ["--no-binary", "foo"],
        {"only_binary": frozenset({":all:"}), "no_binary": frozenset({"foo"})},
    ),
    ({"no-binary": "a,b"}, ["--no-binary", ":none:"], {"no_binary": frozenset()}),
    # keys that are not options of `pip install` are ignored
    ({"yes": "1", "format": "json", "no-such-thing": "x"}, [], {"unmodeled": ()}),
    (
        {"python": "/other/python"},
        [],
        {"unmodeled": ("option --python /other/python (pip runs in another interpreter)",)},
    ),
]


@pytest.mark.parametrize("config, argv, fields", CONFIG, ids=[str(c) + " " + " ".join(a) for c, a, _ in CONFIG])
def test_configuration_gives_defaults(config, argv, fields):
    request = install(*argv, "x", config=config)
    for name, value in fields.items():
        assert getattr(request, name) == value, name


def test_configured_constraint_files_add_to_command_line_ones(tmp_path):
    write(tmp_path, {"c1.txt": "urllib3<2\n", "c2.txt": "idna<4\n"})
    request = install("-c", "c2.txt", "requests", config={"constraint": "c1.txt"}, cwd=str(tmp_path))
    assert [str(c.requirement) for c in request.constraints] == ["urllib3<2", "idna<4"]
    assert all(not c.user_supplied for c in request.constraints)


CONFIG_ERRORS = [
    (
        {"pre": "maybe"},
        "maybe is not a valid value for pre option, please specify a boolean value like yes/no, "
        "true/false or 1/0 instead.",
    ),
    (
        {"upgrade-strategy": "bad"},
        "An error occurred during configuration: option upgrade-strategy: invalid choice: "
        "'bad' (choose from 'only-if-needed', 'eager')",
    ),
    ({"retries": "abc"}, "An error occurred during configuration: option retries: invalid integer value: 'abc'"),
    (
        {"quiet": "x"},
        "x is not a valid value for quiet option, please instead specify either a non-negative integer "
        "or a boolean value like yes/no or false/true which is equivalent to 1/0.",
    ),
]


@pytest.mark.parametrize("config, message", CONFIG_ERRORS, ids=[str(c) for c, _ in CONFIG_ERRORS])
def test_bad_configuration_value(config, message):
    with pytest.raises(UsageError) as exc:
        install("x", config=config)
    assert str(exc.value) == message


def test_isolated_mode_is_the_exact_option_string():
    assert uses_isolated_config(["-q", "--isolated", "install", "x"])
    assert not uses_isolated_config(["--isol", "install", "x"])  # optparse accepts it; pip's config check does not


# ------------------------------------------------------------------------------------------------
# Requirement strings: named, URL, path, VCS, editable


def test_named_requirement_keeps_extras_and_markers():
    (item,) = install('Requests[Socks,security]>=2.31; python_version >= "3.8"').requirements
    assert (item.kind, item.name, item.url, item.path, item.origin) == ("named", "requests", None, None, "command line")
    assert str(item.requirement.specifier) == ">=2.31"
    assert item.requirement.extras == {"Socks", "security"} and item.extras == {"Socks", "security"}
    assert item.marker == 'python_version >= "3.8"' and str(item.requirement.marker) == item.marker


REQUIREMENT_STRINGS = [
    # text, expected (kind, name, requirement, url-or-path)
    (
        "pkg @ https://f.example/pkg-1.0-py3-none-any.whl",
        (
            "named",
            "pkg",
            "pkg @ https://f.example/pkg-1.0-py3-none-any.whl",
            "https://f.example/pkg-1.0-py3-none-any.whl",
        ),
    ),
    (
        "https://f.example/Foo_Bar-2.0-cp311-cp311-linux_x86_64.whl",
        ("url", "foo-bar", "foo-bar==2.0", "https://f.example/Foo_Bar-2.0-cp311-cp311-linux_x86_64.whl"),
    ),
    ("https://f.example/tool-1.0.tar.gz", ("url", None, None, "https://f.example/tool-1.0.tar.gz")),
    (
        "https://f.example/tool-1.0.tar.gz#egg=tool",
        ("url", "tool", "tool", "https://f.example/tool-1.0.tar.gz#egg=tool"),
    ),
    ("git+https://g.example/r.git@v1#egg=r", ("vcs", "r", "r", "git+https://g.example/r.git@v1#egg=r")),
    ("hg+https://g.example/r", ("vcs", None, None, "hg+https://g.example/r")),
    ("r @ svn+https://g.example/r", ("vcs", "r", "r @ svn+https://g.example/r", "svn+https://g.example/r")),
    # local things, relative to cwd
    (".", ("path", None, None, "{cwd}")),
    ("./proj", ("path", None, None, "{cwd}/proj")),
    ("proj/", ("path", None, None, "{cwd}/proj")),
    ("proj", ("named", "proj", "proj", None)),  # no separator, no leading dot: a name, even though the dir exists
    ("dist/Demo-1.0-py3-none-any.whl", ("path", "demo", "demo==1.0", "{cwd}/dist/Demo-1.0-py3-none-any.whl")),
    ("Demo-1.0-py3-none-any.whl", ("path", "demo", "demo==1.0", "{cwd}/Demo-1.0-py3-none-any.whl")),  # archive name
    ("missing-2.0-py3-none-any.whl", ("path", "missing", "missing==2.0", "{cwd}/missing-2.0-py3-none-any.whl")),
    ("pkg-1.0.tar.gz", ("path", None, None, "{cwd}/pkg-1.0.tar.gz")),
    ("file://{cwd}/proj", ("path", None, None, "{cwd}/proj")),
    ("file:../{base}/proj", ("path", None, None, "{cwd}/proj")),
]


@pytest.mark.parametrize("text, expected", REQUIREMENT_STRINGS, ids=[t for t, _ in REQUIREMENT_STRINGS])
def test_requirement_string_kinds(tmp_path, text, expected):
    write(
        tmp_path,
        {
            "pyproject.toml": "",
            "proj/pyproject.toml": "",
            "dist/Demo-1.0-py3-none-any.whl": "",
            "Demo-1.0-py3-none-any.whl": "",
            "pkg-1.0.tar.gz": "",
        },
    )
    cwd = str(tmp_path)
    text = text.format(cwd=cwd, base=tmp_path.name)
    kind, name, requirement, location = expected
    (item,) = install(text, cwd=cwd).requirements
    assert (item.kind, item.name) == (kind, name)
    assert (str(item.requirement) if item.requirement else None) == requirement
    if location is None:
        assert item.url is None and item.path is None
    elif kind == "path":
        assert item.path == location.format(cwd=cwd)
        assert item.url == Path(item.path).as_uri()
    else:
        assert item.url == location


def test_local_path_keeps_extras_and_marker(tmp_path):
    write(tmp_path, {"proj/setup.py": ""})
    (item,) = install('./proj[gpu,cli] ; sys_platform == "linux"', cwd=str(tmp_path)).requirements
    assert (item.kind, item.path, item.requirement) == ("path", str(tmp_path / "proj"), None)
    assert item.extras == {"gpu", "cli"} and item.marker == 'sys_platform == "linux"'


EDITABLES = [
    (["-e", "."], ("path", None, "{cwd}")),
    (["-e", "./proj[dev]"], ("path", None, "{cwd}/proj")),
    (["--editable=proj"], ("path", None, "{cwd}/proj")),
    (["-e", "git+https://g.example/r.git#egg=r"], ("vcs", "r", None)),
    (["-e", "git://g.example/r.git#egg=r"], ("vcs", "r", None)),  # pip adds the "git+"
    (["-e", "r @ git+https://g.example/r.git"], ("vcs", "r", None)),
]


@pytest.mark.parametrize("argv, expected", EDITABLES, ids=[" ".join(a) for a, _ in EDITABLES])
def test_editables(tmp_path, argv, expected):
    write(tmp_path, {"pyproject.toml": "", "proj/pyproject.toml": ""})
    kind, name, path = expected
    (item,) = install(*argv, cwd=str(tmp_path)).requirements
    assert item.editable and (item.kind, item.name) == (kind, name)
    assert item.path == (path.format(cwd=tmp_path) if path else None)
    if argv[-1].endswith("[dev]"):
        assert item.extras == {"dev"}
    if kind == "vcs":
        assert item.url.startswith("git+")


# ------------------------------------------------------------------------------------------------
# Requirement files


def test_everything_file():
    request = install("-r", "everything.txt", cwd=str(DATA), environ={"EXTRA_PACKAGE": "rich"})
    rows = [(i.origin, i.kind, i.name, i.editable) for i in request.requirements]
    assert rows == [
        ("everything.txt:9", "named", "numpy", False),
        ("everything.txt:12", "named", "requests", False),
        ("everything.txt:13", "named", "six", False),
        ("everything.txt:14", "named", "pkg", False),
        ("everything.txt:15", "url", "tool", False),
        ("everything.txt:16", "path", None, False),
        ("everything.txt:17", "path", None, True),
        ("everything.txt:18", "vcs", "repo", True),
        ("everything.txt:19", "named", "rich", False),
        ("shared.txt:1", "named", "idna", False),  # -r ../shared.txt from nested/inner.txt
    ]
    numpy = request.requirements[0]
    assert numpy.text == "numpy==1.26.4"  # continuation joined, options stripped
    assert numpy.hashes == ("sha256:" + "1" * 64, "sha256:" + "2" * 64)
    assert request.requirements[2].text == "six==1.16.0"
    assert request.requirements[4].url.endswith("#egg=tool")  # "#" without whitespace before it is no comment
    assert request.requirements[5].path == str(DATA / "project")
    (constraint,) = request.constraints
    assert (constraint.origin, str(constraint.requirement), constraint.user_supplied) == (
        "nested/constraints.txt:1",
        "urllib3<2",
        False,
    )
    assert request.index_url == "https://mirror.example/simple"
    assert request.extra_index_urls == ("https://extra.example/simple",)
    assert request.find_links == (str(DATA / "wheels"),)  # relative to the file, since it exists there
    assert request.trusted_hosts == ("extra.example",)
    assert request.only_binary == {"torch", "numpy"} and request.prefer_binary
    assert request.require_hashes  # implied by --hash
    assert request.unmodeled == (
        "vcs requirement git+https://github.com/example/repo.git@v1.0#egg=repo (everything.txt:18)",
    )


def test_paths_inside_requirement_files_are_relative_to_cwd_not_the_file(tmp_path):
    write(tmp_path, {"sub/req.txt": "./proj\n", "sub/proj/pyproject.toml": "", "proj/pyproject.toml": ""})
    (item,) = install("-r", "sub/req.txt", cwd=str(tmp_path)).requirements
    assert item.path == str(tmp_path / "proj")


def test_find_links_in_a_file_fall_back_to_cwd_when_not_next_to_the_file(tmp_path):
    write(tmp_path, {"sub/req.txt": "-f wheels\n--find-links https://links.example/\nx\n", "wheels/": ""})
    request = install("-r", "sub/req.txt", cwd=str(tmp_path))
    assert request.find_links == (str(tmp_path / "wheels"), "https://links.example/")


REQ_FILES = [
    # files, argv, check(request)
    ({"r.txt": "a \\\n  >=1 \\\n  ,<2\n"}, ["-r", "r.txt"], lambda r: str(r.requirements[0].requirement) == "a<2,>=1"),
    (
        {"r.txt": "a \\\n# comment ends the continuation\nb\n"},
        ["-r", "r.txt"],
        lambda r: [i.name for i in r.requirements] == ["a", "b"],
    ),
    ({"r.txt": "\n\n   \n# only comments\n  # indented comment\n"}, ["-r", "r.txt"], lambda r: r.requirements == ()),
    (
        {"r.txt": "a  # comment\nb\t# tab comment\n"},
        ["-r", "r.txt"],
        lambda r: [i.text for i in r.requirements] == ["a", "b"],
    ),
    ({"r.txt": "https://f.example/t-1.0.tar.gz#egg=t\n"}, ["-r", "r.txt"], lambda r: r.requirements[0].name == "t"),
    (
        {"r.txt": "${PKG}==1\nhttps://f.example/${lower}/t-1.0-py3-none-any.whl\n"},
        ["-r", "r.txt"],
        lambda r: (
            [i.text for i in r.requirements]
            == [  # only ${UPPER_CASE} names are expanded
                "expanded==1",
                "https://f.example/${lower}/t-1.0-py3-none-any.whl",
            ]
        ),
    ),
    (
        {"r.txt": "-r sub/b.txt\n", "sub/b.txt": "-r c.txt\n", "sub/c.txt": "deep\n"},
        ["-r", "r.txt"],
        lambda r: [(i.name, i.origin) for i in r.requirements] == [("deep", "sub/c.txt:1")],
    ),
    (
        {"r.txt": "-r a.txt\n-r b.txt\n", "a.txt": "-r leaf.txt\n", "b.txt": "-r leaf.txt\n", "leaf.txt": "x\n"},
        ["-r", "r.txt"],
        lambda r: [i.name for i in r.requirements] == ["x", "x"],
    ),  # a diamond is not a loop
    (
        {"r.txt": "-c c.txt\nx\n", "c.txt": "x<2\n"},
        ["-r", "r.txt"],
        lambda r: [str(c.requirement) for c in r.constraints] == ["x<2"],
    ),
    (
        {"c.txt": "-r r.txt\n", "r.txt": "y\n"},
        ["-c", "c.txt", "x"],  # a -r inside a constraints file adds requirements
        lambda r: [(i.name, i.user_supplied) for i in r.requirements] == [("y", False), ("x", True)],
    ),
    (
        {"r.txt": "--pre\n--prefer-binary\n--no-binary :all:\n--only-binary torch\n"},
        ["-r", "r.txt", "x"],
        lambda r: r.pre and r.prefer_binary and r.no_binary == {":all:"} and r.only_binary == {"torch"},
    ),
    ({"r.txt": "--require-hashes\n"}, ["-r", "r.txt", "x"], lambda r: r.require_hashes),
    ({"r.txt": "x --hash=sha256:ab\n"}, ["--no-require-hashes", "-r", "r.txt"], lambda r: not r.require_hashes),
    (
        {"r.txt": "x --hash sha384:ab --hash=sha512:cd\n"},
        ["-r", "r.txt"],
        lambda r: r.requirements[0].hashes == ("sha384:ab", "sha512:cd"),
    ),
    (
        {"r.txt": "--hash=sha256:ab\nx\n"},
        ["-r", "r.txt"],
        lambda r: not r.require_hashes,
    ),  # ignored, with a warning in pip
    (
        {"r.txt": "--trusted-host h\n--use-feature fast-deps\n"},
        ["-r", "r.txt", "x"],
        lambda r: r.trusted_hosts == ("h",) and "option --use-feature=fast-deps" in r.unmodeled,
    ),
    (
        {"r.txt": "x -C k=v\n"},
        ["-r", "r.txt"],
        lambda r: r.unmodeled == ("per-requirement --config-settings at r.txt:1",),
    ),
    # a -i line replaces the whole index list, extra indexes given before it included
    (
        {"r.txt": "-i https://only/simple\n"},
        ["--extra-index-url", "https://cli", "-r", "r.txt", "x"],
        lambda r: r.index_urls == ("https://only/simple",),
    ),
    (
        {"r.txt": "-i https://i/simple\n--extra-index-url https://e\n"},
        ["-r", "r.txt", "x"],
        lambda r: r.index_urls == ("https://i/simple", "https://e"),
    ),
    (
        {"r.txt": "--no-index\n-i https://ignored/simple\n--extra-index-url https://ignored\n"},
        ["-r", "r.txt", "x"],
        lambda r: r.no_index and r.index_urls == (),
    ),
    ({"r.txt": "x --pre\n"}, ["-r", "r.txt"], lambda r: not r.pre),  # options on a requirement line only scope to it
    ({"r.txt": "-r other.txt --pre\n", "other.txt": "y\n"}, ["-r", "r.txt"], lambda r: not r.pre),
    ({"r.txt": "\ufeffbom-pkg\n"}, ["-r", "r.txt"], lambda r: r.requirements[0].name == "bom-pkg"),
    ({"pylock.toml": "garbage"}, ["-r", "pylock.toml"], lambda r: r.requirements == ()),
    ({"r.txt": "x\n"}, ["-r", "file://{tmp}/r.txt"], lambda r: r.requirements[0].name == "x"),
]


@pytest.mark.parametrize("files, argv, check", REQ_FILES, ids=[f"{a} {list(f.values())[0]!r}" for f, a, _ in REQ_FILES])
def test_requirement_files(tmp_path, files, argv, check):
    write(tmp_path, files)
    argv = [a.format(tmp=tmp_path) for a in argv]
    request = install(*argv, cwd=str(tmp_path), environ={"PKG": "expanded", "lower": "nope"})
    assert check(request), request


def test_environ_defaults_to_the_process_environment(tmp_path, monkeypatch):
    write(tmp_path, {"r.txt": "${GUARD_TEST_PKG}\n"})
    monkeypatch.setenv("GUARD_TEST_PKG", "from-env")
    request = parse_pip_argv(["install", "-r", "r.txt"], cwd=str(tmp_path))
    assert request.requirements[0].name == "from-env"


# ------------------------------------------------------------------------------------------------
# Errors: the right class, one line, pip's words

ERRORS = [
    # argv, files, exception, message
    (["install", "--foo", "x"], {}, UsageError, "no such option: --foo"),
    (["install", "-i"], {}, UsageError, "-i option requires 1 argument"),
    (["install", "--index-url"], {}, UsageError, "--index-url option requires 1 argument"),
    (
        ["install", "--upgrade-strategy", "bad", "x"],
        {},
        UsageError,
        "option --upgrade-strategy: invalid choice: 'bad' (choose from 'only-if-needed', 'eager')",
    ),
    (["install", "--upgr", "x"], {}, UsageError, "ambiguous option: --upgr (--upgrade, --upgrade-strategy?)"),
    (["install", "--upgrade=yes", "x"], {}, UsageError, "--upgrade option does not take a value"),
    (["install", "--retries", "x", "y"], {}, UsageError, "option --retries: invalid integer value: 'x'"),
    (
        ["install", "--only-binary", "-U", "x"],
        {},
        UsageError,
        "--no-binary / --only-binary option requires 1 argument.",
    ),
    (["install", "--use-feature", "nope", "x"], {}, UsageError, None),
    (
        ["install", "--config-settings", "novalue", "x"],
        {},
        UsageError,
        "Arguments to --config-settings must be of the form KEY=VAL",
    ),
    (
        ["install", "--python-version", "3.x", "x"],
        {},
        UsageError,
        "--python-version error: invalid --python-version value: '3.x': each version part must be an integer",
    ),
    (["install", "--hash=sha256:ab", "x"], {}, UsageError, "no such option: --hash"),  # only in files
    (["install", "-V", "x"], {}, UsageError, "no such option: -V"),  # --version is a pip option, not install's
    (["--upgrade", "install", "x"], {}, UsageError, "no such option: --upgrade"),  # install options after the command
    (["install"], {}, UsageError, 'You must give at least one requirement to install (see "pip help install")'),
    (
        ["install", "-f", "wheels"],
        {},
        UsageError,
        'You must give at least one requirement to install (maybe you meant "pip install wheels"?)',
    ),
    (
        ["install", "torch=2.0"],
        {},
        UsageError,
        "invalid requirement: 'torch=2.0' (Expected semicolon (after name with no version specifier) or end; "
        "hint: = is not a valid operator. Did you mean == ?)",
    ),
    (
        ["install", "./notproj"],
        {"notproj/": ""},
        UsageError,
        "Directory './notproj' is not installable. Neither 'setup.py' nor 'pyproject.toml' found.",
    ),
    (["install", "-e", "notadir"], {}, UsageError, None),
    (
        ["install", "-e", "git+https://g.example/r.git"],
        {},
        UsageError,
        "Could not detect requirement name for 'git+https://g.example/r.git', please specify one with your_package_name @ URL",
    ),
    (["install", "https://f.example/bad.whl"], {}, UsageError, None),
    (
        ["install", "--pre", "--all-releases", "a", "x"],
        {},
        UsageError,
        "--pre cannot be used with --all-releases or --only-final.",
    ),
    (["install", "--user", "--target", "t", "x"], {}, UsageError, "Can not combine '--user' and '--target'"),
    (
        ["install", "--user", "--prefix", "p", "x"],
        {},
        UsageError,
        "Can not combine '--user' and '--prefix' as they imply different installation locations",
    ),
    (
        ["install", "--require-hashes", "--no-require-hashes", "x"],
        {},
        UsageError,
        "--require-hashes and --no-require-hashes are mutually exclusive",
    ),
    (
        ["install", "--only-deps", "--no-deps", "-r", "r.txt"],
        {"r.txt": "x\n"},
        UsageError,
        "Cannot use '--only-dependencies' in combination with '--no-deps', or '--requirement'.",
    ),
    (["install", "--python-version", "3.10", "x"], {}, UsageError, None),
    (
        ["install", "--platform", "any", "--no-deps", "x"],
        {},
        UsageError,
        "Can not use any platform or abi specific options unless installing via '--target' or using '--dry-run'",
    ),
    (
        ["install", "--build-constraint", "b.txt", "--no-build-isolation", "x"],
        {"b.txt": ""},
        UsageError,
        "--build-constraint cannot be used with --no-build-isolation.",
    ),
    # requirement and constraint files
    (
        ["install", "-r", "missing.txt"],
        {},
        RequirementsFileError,
        "Could not open requirements file: [Errno 2] No such file or directory: 'missing.txt'",
    ),
    (
        ["install", "-c", "missing.txt", "x"],
        {},
        RequirementsFileError,
        "Could not open constraint file: [Errno 2] No such file or directory: 'missing.txt'",
    ),
    (
        ["install", "--build-constraint", "missing.txt", "x"],
        {},
        RequirementsFileError,
        "Could not open requirements file: [Errno 2] No such file or directory: 'missing.txt'",
    ),
    (
        ["install", "-r", "req.txt"],
        {"req.txt": "ok\n# c\ntorch=2.0\n"},
        RequirementsFileError,
        "req.txt:3: invalid requirement: 'torch=2.0' (Expected semicolon (after name with no version specifier) or end; "
        "hint: = is not a valid operator. Did you mean == ?)",
    ),
    (
        ["install", "-r", "req.txt"],
        {"req.txt": "${UNSET}x\n"},
        RequirementsFileError,  # unset: left as written
        "req.txt:1: invalid requirement: '${UNSET}x' (Expected package name at the start of dependency specifier)",
    ),
    (
        ["install", "-r", "req.txt"],
        {"req.txt": "foo --bar\n"},
        RequirementsFileError,
        "req.txt:1: invalid requirement: 'foo --bar' (no such option: --bar)",
    ),
    (
        ["install", "-r", "req.txt"],
        {"req.txt": "x --global-option=--foo\n"},
        RequirementsFileError,
        "req.txt:1: invalid requirement: 'x --global-option=--foo' (no such option: --global-option)",
    ),  # gone in pip 25.3
    (
        ["install", "-r", "req.txt"],
        {"req.txt": "x --hash=md5:ab\n"},
        RequirementsFileError,
        "req.txt:1: invalid requirement: 'x --hash=md5:ab' (Allowed hash algorithms for --hash are sha256, sha384, sha512.)",
    ),
    (["install", "-r", "req.txt"], {"req.txt": "x --hash=sha256\n"}, RequirementsFileError, None),
    (["install", "-r", "req.txt"], {"req.txt": "x --hash 'unclosed\n"}, RequirementsFileError, None),
    (
        ["install", "-r", "req.txt"],
        {"req.txt": "-r missing.txt\n"},
        RequirementsFileError,
        "Could not open requirements file: [Errno 2] No such file or directory: '{tmp}/missing.txt'",
    ),
    (
        ["install", "-r", "a.txt"],
        {"a.txt": "-r a.txt\n"},
        RequirementsFileError,
        "{tmp}/a.txt recursively references itself in a.txt",
    ),
    (
        ["install", "-r", "a.txt"],
        {"a.txt": "-r sub/b.txt\n", "sub/b.txt": "-r ../a.txt\n"},
        RequirementsFileError,
        "{tmp}/a.txt recursively references itself in {tmp}/sub/b.txt",
    ),
    (
        ["install", "-r", "a.txt"],
        {"a.txt": "-r b.txt\n", "b.txt": "-r c.txt\n", "c.txt": "-r b.txt\n"},
        RequirementsFileError,
        "{tmp}/b.txt recursively references itself in {tmp}/c.txt and again in a.txt",
    ),
    (
        ["install", "-c", "c.txt", "x"],
        {"c.txt": "-e .\n"},
        RequirementsFileError,
        "c.txt:1: Editable requirements are not allowed as constraints",
    ),
    (
        ["install", "-c", "c.txt", "x"],
        {"c.txt": "x[extra]<2\n"},
        RequirementsFileError,
        "c.txt:1: Constraints cannot have extras: 'x[extra]<2'",
    ),
    (
        ["install", "-c", "c.txt", "x"],
        {"c.txt": "https://f.example/t.tar.gz\n"},
        RequirementsFileError,
        "c.txt:1: Unnamed requirements are not allowed as constraints: 'https://f.example/t.tar.gz'",
    ),
    # uninstall
    (["uninstall"], {}, UsageError, 'You must give at least one requirement to uninstall (see "pip help uninstall")'),
    (["uninstall", "-U", "x"], {}, UsageError, "no such option: -U"),
    (
        ["uninstall", "-r", "missing.txt"],
        {},
        RequirementsFileError,
        "Could not open requirements file: [Errno 2] No such file or directory: 'missing.txt'",
    ),
]


@pytest.mark.parametrize("argv, files, exc_type, message", ERRORS, ids=[" ".join(a) for a, *_ in ERRORS])
def test_errors(tmp_path, argv, files, exc_type, message):
    write(tmp_path, files)
    with pytest.raises(GuardError) as exc:
        parse_pip_argv(argv, config={}, environ={}, cwd=str(tmp_path))
    assert type(exc.value) is exc_type
    assert exc.value.exit_code == 2
    text = str(exc.value)
    assert "\n" not in text and text
    if message is not None:
        assert text == message.replace("{tmp}", str(tmp_path))


# ------------------------------------------------------------------------------------------------
# Other commands and uninstall

OTHER = [
    ([], None),
    (["--version"], None),
    (["-V"], None),
    (["-h"], None),
    (["--help", "install"], None),
    (["help"], "help"),
    (["help", "install"], "help"),
    (["list"], "list"),
    (["show", "torch"], "show"),
    (["freeze"], "freeze"),
    (["download", "torch", "--no-deps"], "download"),
    (["-q", "wheel", "."], "wheel"),
    (["install", "-h", "--foo"], "install"),  # help wins before the unknown option is met
    (["install", "--help"], "install"),
    (["uninstall", "--help"], "uninstall"),
    (["instal", "x"], "instal"),  # pip reports unknown commands itself
]


@pytest.mark.parametrize("argv, command", OTHER, ids=[" ".join(a) or "<empty>" for a, _ in OTHER])
def test_other_commands_pass_through(argv, command):
    assert parse_pip_argv(argv) == OtherCommand(tuple(argv), command)


GENERAL_BEFORE_COMMAND = [
    (["-q", "--isolated", "install", "x"], {"isolated": True}),
    (["--proxy", "http://p", "install", "x"], {"proxy": "http://p"}),
    (["--timeout=9", "install", "x"], {"timeout": 9.0}),
    (["--", "install", "x"], {}),
    # pip removes the FIRST "install" from argv: here it is --proxy's value, so the command parser
    # then reads "--proxy -v" and installs "install" and "x"
    (["--proxy", "install", "-v", "install", "x"], {"proxy": "-v", "names": ["install", "x"]}),
]


@pytest.mark.parametrize("argv, fields", GENERAL_BEFORE_COMMAND, ids=[" ".join(a) for a, _ in GENERAL_BEFORE_COMMAND])
def test_general_options_before_the_command(argv, fields):
    request = parse_pip_argv(argv, cwd="/")
    assert isinstance(request, InstallRequest)
    names = fields.pop("names", ["x"])
    assert [i.name for i in request.requirements] == names
    for name, value in fields.items():
        assert getattr(request, name) == value


def test_uninstall(tmp_path):
    write(
        tmp_path,
        {
            "r.txt": "Six==1.16\n-r more.txt\nhttps://f.example/t.tar.gz\n",
            "more.txt": "idna\n-c c.txt\n",
            "c.txt": "urllib3<2\n",
            "proj/pyproject.toml": "",
        },
    )
    request = parse_pip_argv(
        [
            "uninstall",
            "-y",
            "six",
            "./proj",
            "Torch",
            "-r",
            "r.txt",
            "--root-user-action=ignore",
            "--break-system-packages",
        ],
        cwd=str(tmp_path),
    )
    assert isinstance(request, UninstallRequest) and request.yes
    # one item per project, the last mention wins; unnamed ones are dropped; a nested -c counts (pip does that too)
    assert [(i.name, i.origin) for i in request.requirements] == [
        ("six", "r.txt:1"),
        ("torch", "command line"),
        ("idna", "more.txt:1"),
        ("urllib3", "c.txt:1"),
    ]


def test_uninstall_reads_yes_from_configuration():
    request = parse_pip_argv(["uninstall", "x"], config={"yes": "true", "upgrade": "1"})
    assert isinstance(request, UninstallRequest) and request.yes


# ------------------------------------------------------------------------------------------------
# The real pip on this machine as an oracle (messages that are the same in every pip since 20.x)


def _pip_available() -> bool:
    try:
        import pip  # noqa: F401
    except ImportError:
        return False
    return True


ORACLE = [
    (["--foo", "x"], {}),
    (["-i"], {}),
    (["--upgrade-strategy", "bad", "x"], {}),
    (["-r", "missing.txt"], {}),
]


@pytest.mark.skipif(not _pip_available(), reason="pip is not installed for this interpreter")
@pytest.mark.parametrize("argv, files", ORACLE, ids=[" ".join(a) for a, _ in ORACLE])
def test_same_error_as_real_pip(tmp_path, argv, files):
    write(tmp_path, files)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    pip_last_line = proc.stderr.strip().splitlines()[-1].removeprefix("ERROR: ")
    with pytest.raises(GuardError) as exc:
        parse_pip_argv(["install", "--dry-run", "--no-index", *argv], config={}, environ={}, cwd=str(tmp_path))
    assert str(exc.value) == pip_last_line


def test_no_network_and_no_writes(tmp_path, monkeypatch):
    """Reading a request never opens a socket, and never writes a file."""
    import socket

    def no_socket(*args, **kwargs):
        raise AssertionError("network access")

    monkeypatch.setattr(socket, "socket", no_socket)
    write(tmp_path, {"r.txt": "-r https://example.com/more.txt\nhttps://f.example/x-1.0-py3-none-any.whl\n"})
    before = sorted(p.name for p in tmp_path.rglob("*"))
    request = install("-r", "r.txt", cwd=str(tmp_path))
    assert request.unmodeled == ("remote requirements file https://example.com/more.txt",)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
