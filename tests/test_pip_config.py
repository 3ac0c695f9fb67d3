"""pip's configuration as pip reads it: checked against pip itself (the interpreter's own pip,
asked for the option values it would run ``pip install`` with), plus the details pip's
output cannot show (sources, the target environment's site file, malformed files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import guard.request.pip_config
from guard.errors import UsageError
from guard.pipeline.check import own_pip_default_index
from guard.request.pip_config import PipConfig, load_pip_config

# Prints the option values pip's own parser gives `pip install` with this environment.
PIP_ORACLE = """
import json, sys
from pip._internal.commands import create_command
args = sys.argv[1:]
cmd = create_command("install", isolated="--isolated" in args)
options, _ = cmd.parse_args(args)
keys = ["index_url", "extra_index_urls", "find_links", "timeout", "retries", "trusted_hosts",
        "pre", "proxy", "cert", "constraints", "no_index"]
values = {k: getattr(options, k) for k in keys}
values["proxy"] = values["proxy"] or None  # pip 23 says "", pip 26 None: both mean no proxy
values["pre"] = bool(values["pre"])  # pip 26 keeps --pre as 1 from its release-control callback
print(json.dumps(values))
"""


def pip_oracle(environ: dict[str, str], *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PIP_ORACLE, *args], env=environ, capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        pytest.skip(f"the interpreter's pip cannot be asked: {out.stderr.strip()[-200:]}")
    return json.loads(out.stdout)


def as_pip_options(config: PipConfig) -> dict:
    """Our raw strings, converted the way pip's option types convert them."""
    return {
        "index_url": config.get("index-url") or own_pip_default_index(),  # pip's own default
        "extra_index_urls": config.get_list("extra-index-url"),
        "find_links": config.get_list("find-links"),
        "timeout": float(config.get("timeout") or 15),
        "retries": int(config.get("retries") or 5),
        "trusted_hosts": config.get_list("trusted-host"),
        "pre": config.get_bool("pre"),
        "proxy": config.get("proxy") or None,
        "cert": config.get("cert"),
        "constraints": config.get_list("constraint"),
        "no_index": config.get_bool("no-index"),
    }


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def layout(tmp_path: Path) -> dict:
    """Config files at every level pip reads, with conflicting values, and the environment
    that points pip there (``/etc/pip.conf`` is whatever the machine has, for both sides)."""
    home = tmp_path / "home"
    xdg1, xdg2, xdg_home = tmp_path / "xdg1", tmp_path / "xdg2", tmp_path / "xdg-home"
    write(xdg1 / "pip" / "pip.conf",
          "[global]\nindex-url = https://g1.example/simple\ntimeout = 4\nretries = 7\n"
          "[install]\nproxy = http://global-install.example:3128\n")  # fmt: skip
    write(xdg2 / "pip" / "pip.conf",
          "[global]\nindex-url = https://g2.example/simple\n[install]\ntrusted-host = a.example b.example\n")  # fmt: skip
    write(home / ".pip" / "pip.conf", "[global]\nextra_index_url = https://legacy.example/simple\n")
    write(xdg_home / "pip" / "pip.conf",
          "[global]\nextra-index-url =\n    https://u1.example/simple\n    https://u2.example/simple\n"
          "default_timeout = 3\nretries =\nproxy = http://user-global.example:3128\n"
          "[freeze]\npre = yes\n")  # fmt: skip
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_DIRS": f"{xdg1}{os.pathsep}{xdg2}",
        "XDG_CONFIG_HOME": str(xdg_home),
        "PIP_FIND_LINKS": "/x/wheels /y/wheels",
        "PIP_PRE": "yes",
        "PIP_VERSION": "ignored",
    }
    return {"tmp": tmp_path, "environ": environ, "home": home}


def test_precedence_matches_pip(layout):
    environ = layout["environ"]
    config = load_pip_config(site_prefix=str(layout["tmp"] / "env"), environ=environ)
    expected = pip_oracle(environ)
    assert as_pip_options(config) == expected
    # the interesting parts, spelled out
    assert expected["index_url"] == "https://g2.example/simple"  # later XDG dir wins
    assert expected["extra_index_urls"] == ["https://u1.example/simple", "https://u2.example/simple"]
    assert expected["timeout"] == 3.0  # default-timeout (user) applied after timeout (global)
    assert expected["retries"] == 5  # an empty value in a later file hides the earlier one
    assert expected["proxy"] == "http://global-install.example:3128"  # [install] beats any [global]
    assert config.sources["find-links"] == "PIP_FIND_LINKS"
    assert config.sources["index-url"] == str(layout["tmp"] / "xdg2" / "pip" / "pip.conf")
    assert "version" not in config.values


def test_existing_pip_config_file_replaces_user_files(layout):
    env_file = write(layout["tmp"] / "env.conf", "[install]\nindex-url = https://envfile.example/simple\n")
    environ = {**layout["environ"], "PIP_CONFIG_FILE": str(env_file)}
    config = load_pip_config(site_prefix=str(layout["tmp"] / "env"), environ=environ)
    assert as_pip_options(config) == pip_oracle(environ)
    assert config.get("index-url") == "https://envfile.example/simple"
    assert config.get_list("extra-index-url") == []  # user files were not read
    assert ("env", str(env_file), True) in config.files


def test_pip_config_file_devnull_loads_no_file(layout):
    environ = {**layout["environ"], "PIP_CONFIG_FILE": os.devnull}
    config = load_pip_config(site_prefix=str(layout["tmp"] / "env"), environ=environ)
    assert as_pip_options(config) == pip_oracle(environ)
    assert config.files == () and set(config.values) == {"find-links", "pre", "config-file"}


def test_isolated_ignores_environment_and_user_files(layout):
    environ = layout["environ"]
    config = load_pip_config(site_prefix=str(layout["tmp"] / "env"), environ=environ, isolated=True)
    assert as_pip_options(config) == pip_oracle(environ, "--isolated")
    assert "find-links" not in config.values and "extra-index-url" not in config.values


def test_pip_isolated_variable_does_not_isolate_the_configuration(layout):
    environ = {**layout["environ"], "PIP_ISOLATED": "1"}
    config = load_pip_config(site_prefix=str(layout["tmp"] / "env"), environ=environ)
    assert as_pip_options(config) == pip_oracle(environ)
    assert config.get_list("find-links") == ["/x/wheels", "/y/wheels"]


def test_this_machines_configuration_matches_pip():
    environ = dict(os.environ)
    config = load_pip_config(site_prefix=sys.prefix, environ=environ)
    assert as_pip_options(config) == pip_oracle(environ)


# --------------------------------------------------------------------------- beyond pip's output


@pytest.fixture
def hermetic(tmp_path, monkeypatch) -> dict[str, str]:
    """No machine file at all: /etc is a temporary directory."""
    monkeypatch.setattr(guard.request.pip_config, "SYSTEM_CONFIG_DIR", str(tmp_path / "etc"))
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_DIRS": str(tmp_path / "xdg")}


def test_the_target_environments_site_file_overrides_user_and_global(tmp_path, hermetic):
    write(tmp_path / "etc" / "pip.conf", "[global]\nno-index = false\nconstraint = /etc/c.txt\n")
    write(tmp_path / "home" / ".config" / "pip" / "pip.conf", "[global]\nno-index = true\n")
    prefix = tmp_path / "envs" / "ml"
    site = write(prefix / "pip.conf", "[global]\nno_index = off\n[install]\nonly-binary = :all:\n")
    config = load_pip_config(site_prefix=str(prefix), environ=hermetic)
    assert config.values == {"no-index": "off", "constraint": "/etc/c.txt", "only-binary": ":all:"}
    assert config.sources["no-index"] == str(site)
    assert [(item.key, item.section) for item in config.items] == [
        ("no-index", "global"),
        ("constraint", "global"),
        ("only-binary", "install"),
    ]
    assert config.get_bool("no-index") is False
    assert [variant for variant, _, _ in config.files] == ["global", "global", "user", "user", "site"]


def test_other_commands_sections_do_not_apply(tmp_path, hermetic):
    write(tmp_path / "xdg" / "pip" / "pip.conf", "[download]\nindex-url = https://dl/simple\n[install]\npre = 1\n")
    config = load_pip_config(site_prefix=str(tmp_path), environ=hermetic)
    assert config.values == {"pre": "1"}
    assert load_pip_config(site_prefix=str(tmp_path), environ=hermetic, command="download").values == {
        "index-url": "https://dl/simple"
    }


def test_base_prefix_file_sits_between_user_and_site(tmp_path, hermetic):
    write(tmp_path / "home" / ".config" / "pip" / "pip.conf", "[global]\nindex-url = https://user/simple\n")
    write(tmp_path / "base" / "pip.conf", "[global]\nindex-url = https://base/simple\ntimeout = 9\n")
    write(tmp_path / "venv" / "pip.conf", "[global]\ntimeout = 10\n")
    config = load_pip_config(site_prefix=str(tmp_path / "venv"), environ=hermetic, base_prefix=str(tmp_path / "base"))
    assert config.values == {"index-url": "https://base/simple", "timeout": "10"}


def test_malformed_file_is_a_one_line_usage_error(tmp_path, hermetic):
    bad = write(tmp_path / "xdg" / "pip" / "pip.conf", "index-url = no section header\n")
    with pytest.raises(UsageError) as err:
        load_pip_config(site_prefix=str(tmp_path), environ=hermetic)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(UsageError, match="not a valid value for pre"):
        PipConfig(values={"pre": "maybe"}, sources={}).get_bool("pre")
