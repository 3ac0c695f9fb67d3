"""``PipCommand``: pip's command line read once, and the ``python -m pip`` hook's own scan.

The hook (``guard/integrate/pip_hook.py``) runs in the environment's Python without the guard, so
it keeps its own minimal scan of pip's general options. These tests prove that it finds the same
subcommand word at the same position as ``PipCommand`` (and the same general-option values) on
every argv the test suite uses, and on generated command lines built from pip's general options.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guard.integrate import pip_hook
from guard.request import command as command_mod
from guard.request.command import PipCommand
from guard.request.options import _OPTIONS as OPTION_TABLE
from guard.request.options import MAIN_OPTIONS, PIP_COMMANDS

TESTS = Path(__file__).parent


def _corpus() -> list[tuple[str, ...]]:
    """Every literal list or tuple of strings in the test suite (each one read as pip's arguments,
    whatever it was written for: both readers must agree on any word list), and every shell
    command line that runs pip (``pip install ...``, ``python -m pip ...``), split as a shell
    would."""
    found: set[tuple[str, ...]] = set()
    for path in sorted(TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
                words = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                if len(words) == len(node.elts):
                    found.add(tuple(words))
                    if words[0] in ("pip", "-m") and len(words) > 1:
                        found.add(tuple(words[1:]))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.strip()
                for lead in ("pip ", "pip3 ", "python -m pip ", "guard pip "):
                    if text.startswith(lead):
                        try:
                            found.add(tuple(shlex.split(text[len(lead) :])))
                        except ValueError:
                            pass
    return sorted(found)


CORPUS = _corpus()


def _hook_reading(argv) -> tuple[str | None, int | None, bool, dict]:
    word, values = pip_hook.pip_subcommand(list(argv))
    rejected = word == pip_hook.UNSURE
    return (None if rejected else word), pip_hook.subcommand_index(list(argv)), rejected, values


def _guard_reading(argv) -> tuple[str | None, int | None, bool, dict]:
    cmd = PipCommand.parse(argv)
    return cmd.subcommand, cmd.subcommand_index, cmd.general_rejected, dict(cmd.general_values)


def test_the_corpus_is_the_suites_argvs():
    assert len(CORPUS) > 300
    for argv in (("install", "x"), ("-v", "-q", "install"), ("--pyth", "/p", "install"), ("--", "install")):
        assert argv in CORPUS


@pytest.mark.parametrize("argv", CORPUS, ids=lambda a: " ".join(a)[:60] or "<empty>")
def test_hook_and_pip_command_agree_on_every_argv_in_the_tests(argv):
    assert _hook_reading(argv) == _guard_reading(argv)


def test_hook_tables_are_pips_general_options():
    """The hook, ``PipCommand`` and the request stage's optparse table name the same general
    options: the long ones that take a value, the long flags, the short flags."""
    value, flag, short = set(), set(), set()
    for key in MAIN_OPTIONS:
        option = OPTION_TABLE[key].make()
        takes_value = option.takes_value()
        for s in option._long_opts:
            (value if takes_value else flag).add(s)
        for s in option._short_opts:
            assert not takes_value
            short.add(s[1])
    assert set(pip_hook.VALUE_OPTIONS) == set(command_mod.GENERAL_VALUE_OPTIONS) == value
    assert set(pip_hook.FLAG_OPTIONS) == set(command_mod.GENERAL_FLAG_OPTIONS) == flag
    assert set(pip_hook.SHORT_FLAGS) == set(command_mod.GENERAL_SHORT_FLAGS) == short


_LONG = sorted(command_mod.GENERAL_VALUE_OPTIONS + command_mod.GENERAL_FLAG_OPTIONS)


@st.composite
def _long_option(draw) -> list[str]:
    """A general long option as a user may type it: full, abbreviated (possibly ambiguous or
    too short), with ``=value`` or a separate value, or misspelled."""
    name = draw(st.sampled_from(_LONG))
    cut = draw(st.integers(min_value=3, max_value=len(name)))
    word = name[:cut] if draw(st.booleans()) else name
    if draw(st.integers(0, 9)) == 0:
        word += draw(st.sampled_from(["x", "-", "s"]))
    value = draw(st.sampled_from(["/p/bin/python", "install", "uninstall", "x", "", "-v", "--", "list"]))
    form = draw(st.integers(0, 2))
    if form == 0:
        return [word]
    if form == 1:
        return [f"{word}={value}"]
    return [word, value]


_WORD = st.sampled_from([*sorted(PIP_COMMANDS), "numpy", "numpy==2.0", "-", "--", "./pkg", "x"])
_SHORT = st.text(alphabet="hvVqxIUr", min_size=1, max_size=3).map(lambda s: "-" + s)
_TOKEN = st.one_of(_long_option(), _SHORT.map(lambda s: [s]), _WORD.map(lambda s: [s]))


@settings(max_examples=400, deadline=None)
@given(st.lists(_TOKEN, max_size=6))
def test_hook_and_pip_command_agree_on_general_options(tokens):
    argv = [word for token in tokens for word in token]
    assert _hook_reading(argv) == _guard_reading(argv)


# ---- what every consumer reads ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, command, index",
    [
        (["install", "x"], "install", 0),
        (["--cache-dir", "install", "install", "x"], "install", 2),
        (["--python", "/e/bin/python", "uninstall", "x"], "uninstall", 2),
        (["--no-such", "list", "install", "x"], "install", None),  # pip rejects it: install still counts
        (["--no-such", "list"], None, None),
        (["-v"], None, None),
    ],
)
def test_the_command_the_guard_acts_on(argv, command, index):
    cmd = PipCommand.parse(argv)
    assert (cmd.command, cmd.subcommand_index) == (command, index)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["install", "x"], ["install", "-c", "S", "x"]),
        (["--cache-dir", "install", "install", "x"], ["--cache-dir", "install", "install", "-c", "S", "x"]),
        (["--no-such", "install", "x"], ["--no-such", "install", "-c", "S", "x"]),
        (["-v"], ["-v", "-c", "S"]),
    ],
)
def test_options_go_right_after_the_subcommand(argv, expected):
    assert PipCommand.parse(argv).with_options_after_subcommand(["-c", "S"]) == expected


@pytest.mark.parametrize(
    "argv, constraint, location",
    [
        (["install", "-c", "c.txt", "x"], True, False),
        (["install", "--constraint=c.txt", "x"], True, False),
        (["install", "-cc.txt", "x"], True, False),
        (["install", "--prefix", "/o", "x"], False, True),
        (["install", "--ta=/o", "x"], False, True),
        (["install", "-t", "/o", "x"], False, True),
        (["install", "--root", "/", "x"], False, True),
        (["install", "x"], False, False),
    ],
)
def test_constraints_and_locations_on_the_command_line(argv, constraint, location):
    cmd = PipCommand.parse(argv)
    assert (cmd.cli_constraint, cmd.names_location) == (constraint, location)


def test_isolated_dry_run_and_yes():
    assert PipCommand.parse(["--isolated", "install", "x"]).isolated
    assert not PipCommand.parse(["--isol", "install", "x"]).isolated  # pip's config check is exact
    assert PipCommand.parse(["install", "--dry", "x"]).dry_run
    assert not PipCommand.parse(["download", "--dest", "d", "x"]).dry_run
    assert PipCommand.parse(["uninstall", "-y", "x"]).yes


def test_pythons_option_is_read_and_removed(tmp_path):
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    cmd = PipCommand.parse(["--pyth", str(env / "bin" / "python"), "install", "--python-version", "3.11", "x"])
    assert cmd.python == str(env / "bin" / "python")
    assert cmd.python_prefix() == env
    assert cmd.without_python_option() == ["install", "--python-version", "3.11", "x"]
    assert PipCommand.parse([f"--python={env}", "install", "x"]).python_prefix() == env
    assert PipCommand.parse(["install", "x"]).python_prefix() is None


def test_named_projects_read_each_word_as_pip_reads_a_requirement(tmp_path):
    words = [
        "NumPy>=1",
        "scipy[all]",
        "./pkg",
        "pandas==2.0",
        "numpy",
        "./dl/Torch-2.3.0-cp311-cp311-linux_x86_64.whl",
        "numpy=1",
        "https://x.org/a.tar.gz#egg=six",
    ]
    cmd = PipCommand.parse(["uninstall", "-y", *words])
    assert cmd.named_projects(str(tmp_path)) == ("numpy", "scipy", "pandas", "torch", "six")


def test_an_unsimulated_uninstall_finds_a_protected_name_written_as_a_requirement(tmp_path):
    """The uninstall fallback (no simulation) reads the words as pip does: ``Torch>=2`` and a
    wheel file both name torch, which conda's (unreadable) pytorch record pins."""
    from types import SimpleNamespace

    from guard.act.guarded_pip import _protected_named
    from guard.policy.rules import Policy

    (tmp_path / "conda-meta").mkdir()
    (tmp_path / "conda-meta" / "pytorch-2.5.1-cuda126_mkl_py311_0.json").write_bytes(b'{"name": "pytorch", ')
    ctx = SimpleNamespace(prefix=tmp_path, cwd=str(tmp_path))
    for words in (["Torch>=2"], ["./torch-2.5.1-cp311-cp311-linux_x86_64.whl"], ["six", "torch[cuda]"]):
        assert _protected_named(ctx, PipCommand.parse(["uninstall", "-y", *words]), Policy()) == "torch"
    assert _protected_named(ctx, PipCommand.parse(["uninstall", "-y", "torchvision"]), Policy()) is None
