"""Help as a new user meets it: every command's --help shows examples and the overrides that
concern it, `guard pip --help` is the guard's own help (pip's stays one command further),
shell completion is documented and works, and check-requirements is a click command like the
others whose options the hook's main(argv) reads the same way."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest

from guard.cli.hooks import check_requirements
from guard.hooks import requirements as hook

COMMANDS = ("check", "pip", "why", "log", "doctor", "status", "shims", "check-requirements")
OVERRIDES = ("GUARD_DISABLE=1", "--guard-disable", "--guard-redirect", "--guard-yes", "GUARD_DEADLINE", "--allow-build")


def guard(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    """The console entry point as a user starts it (``python -m guard`` runs guard.entry.main)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-m", "guard", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def help_of(*command: str) -> str:
    proc = guard(*command, "--help")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout


def test_guard_help_names_every_override_and_completion():
    text = help_of()
    for override in OVERRIDES:
        assert override in text, override
    assert 'eval "$(_GUARD_COMPLETE=bash_source guard)"' in text
    assert 'eval "$(_GUARD_COMPLETE=zsh_source guard)"' in text
    assert "_GUARD_COMPLETE=fish_source guard | source" in text
    assert "guard/data/schemas/" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_shows_examples(command):
    text = help_of(command)
    assert f"Usage: guard {command} " in text
    examples = text.split("Examples:", 1)[1] if "Examples:" in text else ""
    assert sum(line.strip().startswith(f"guard {command}") for line in examples.splitlines()) >= 2, text


@pytest.mark.parametrize(
    "command, overrides",
    [
        ("check", ("--allow-build", "GUARD_DEADLINE", "GUARD_DISABLE=1", "--guard-disable", "--guard-redirect")),
        ("why", ("--allow-build", "GUARD_DEADLINE", "GUARD_DISABLE=1", "--redirect")),
        ("pip", ("--guard-disable", "--guard-redirect", "--guard-yes", "GUARD_DISABLE=1", "GUARD_DEADLINE")),
        ("shims", ("GUARD_DISABLE=1", "--guard-disable", "--guard-redirect", "--guard-yes")),
        ("status", ("GUARD_DISABLE=1", "--guard-disable")),
    ],
)
def test_commands_name_their_overrides(command, overrides):
    text = help_of(command)
    for override in overrides:
        assert override in text, (command, override)


@pytest.mark.parametrize("command", ("check", "why", "status", "doctor", "log", "check-requirements"))
def test_json_help_names_the_schema(command):
    assert f"guard/data/schemas/{command}.schema.json" in " ".join(help_of(command).split())


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_guard_pip_help_is_the_guards_own(flag):
    """Outside any conda environment too: help needs none."""
    proc = guard("pip", flag)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith("Usage: guard pip [OPTIONS] [PIP_ARGS]...")
    for word in ("--guard-disable", "--guard-redirect", "--guard-yes", "Exit status:", "127"):
        assert word in text, word
    last = " ".join(text.strip().split("\n\n")[-1].split())
    assert last.startswith("pip's own help: guard pip install --help"), last


def test_pip_install_help_is_still_pips(conda_env):
    """After a pip command, --help belongs to pip: the environment's own pip prints its help."""
    prefix = conda_env("plain", with_pip=True)
    proc = guard("pip", "install", "--help", env={"GUARD_PREFIX": str(prefix), "PIP_CONFIG_FILE": os.devnull})
    assert proc.returncode == 0, proc.stderr
    assert "pip install [options] <requirement specifier>" in proc.stdout
    assert "--guard-disable" not in proc.stdout


@pytest.mark.parametrize(
    "shell, marker",
    [("bash", "_guard_completion()"), ("zsh", "#compdef guard"), ("fish", "complete --no-files --command guard")],
)
def test_completion_scripts(shell, marker):
    proc = guard(env={"_GUARD_COMPLETE": f"{shell}_source"})
    assert proc.returncode == 0 and marker in proc.stdout, proc.stdout + proc.stderr


def test_completion_completes_commands():
    proc = guard(env={"_GUARD_COMPLETE": "bash_complete", "COMP_WORDS": "guard ch", "COMP_CWORD": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["plain,check", "plain,check-requirements"]


# ---- check-requirements: click, and main(argv) reading the same options ------------------------


def test_check_requirements_is_a_click_command_with_the_hooks_options():
    assert isinstance(check_requirements, click.Command)
    options = {o for p in check_requirements.params if isinstance(p, click.Option) for o in p.opts}
    flags = {o for p in check_requirements.params if isinstance(p, click.Option) and p.is_flag for o in p.opts}
    assert options - {"-h", "--help"} == set(hook.VALUE_OPTIONS) | set(hook.FLAG_OPTIONS)
    assert flags - {"-h", "--help"} == set(hook.FLAG_OPTIONS)
    assert "argparse" not in sys.modules or not hasattr(hook, "argparse")


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["a.txt", "--strict", "b.yml"], hook.HookArgs(("a.txt", "b.yml"), strict=True)),
        (["--environment", "env.yml", "r.txt"], hook.HookArgs(("r.txt",), environment="env.yml")),
        (["--prefix=/opt/env", "--json", "r.txt"], hook.HookArgs(("r.txt",), prefix="/opt/env", as_json=True)),
        (
            ["--index-url", "http://x/simple", "--suggest-conda"],
            hook.HookArgs(index_url="http://x/simple", suggest_conda=True),
        ),
        (["--", "--strict"], hook.HookArgs(("--strict",))),
    ],
)
def test_hook_main_reads_argv_as_the_click_command_does(argv, expected):
    assert hook.parse_args(argv) == expected
    ctx = check_requirements.make_context("check-requirements", list(argv))
    p = ctx.params
    via_click = hook.HookArgs(
        tuple(p["filenames"]),
        p["environment"],
        p["prefix"],
        p["index_url"],
        p["suggest_conda"],
        p["strict"],
        p["as_json"],
    )
    assert via_click == expected


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--bogus", "r.txt"], "guard: error: no such option: --bogus (see guard check-requirements --help)"),
        (
            ["--environment"],
            "guard: error: option --environment requires an argument (see guard check-requirements --help)",
        ),
        (
            ["--environment", "e.yml", "--prefix", "/x", "r.txt"],
            "guard: error: --environment and --prefix cannot be combined: the conda side is one or the other"
            " (see guard check-requirements --help)",
        ),
    ],
)
def test_hook_main_usage_errors_are_one_line(capsys, tmp_path, argv, message):
    assert hook.main(argv, environ={"HOME": str(tmp_path)}, cwd=str(tmp_path)) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.splitlines() == [message]


def test_check_requirements_usage_error_is_one_line(tmp_path):
    proc = guard("check-requirements", "--environment", "e.yml", "--prefix", "/x", "r.txt", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "guard: error: --environment and --prefix cannot be combined: the conda side is one or the other"
    ]


def test_check_requirements_json_without_findings(tmp_path):
    """No environment file and no requirements: an empty, valid answer (exit 0)."""
    proc = guard("check-requirements", "--json", cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{\n  "schema": 1,\n  "findings": []\n}\n'
