"""The conda plugin's contract, without conda: the plugin module is loaded through its entry point
(group ``conda``), with a stand-in for conda 25.11.1's plugin types and context
(``tests/support/conda_stub.py``, only when the real conda is not importable), registered with a
pluggy plugin manager of project ``conda`` as conda registers it; each hook's objects are checked
(names, ``run_for``, settings) and each action is called with the arguments conda passes, against
real conda prefixes (py-rattler) and the local index. The real conda CLI: tests/test_realconda*.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support import conda_stub
from tests.support.conda_prefix import NUMPY, SITE_PACKAGES, Dist, write_pip_installed_dist
from tests.support.guard_env import guard_environ
from tests.support.index_server import LocalIndex

STUB = conda_stub.install()
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def plugin():
    (entry,) = [e for e in entry_points(group="conda") if e.name == "conda-pip-guard"]
    assert entry.value == "guard.conda_plugin.plugin"
    return entry.load()


@pytest.fixture
def conda_ctx(plugin):
    """conda's context with the plugin's settings registered (conda's ``load_settings``)."""
    if not STUB:
        pytest.skip("the real conda is importable here: tests/test_realconda*.py run it")
    conda_stub.context.reset()
    conda_stub.load_settings(conda_stub.plugin_manager(plugin))
    yield conda_stub.context
    conda_stub.context.reset()


def hook(plugin, name: str):
    """The one object the plugin returns for ``name`` (conda's ``get_hook_results``)."""
    (result,) = conda_stub.get_hook_results(conda_stub.plugin_manager(plugin), name)
    return result


@pytest.fixture(scope="module")
def index():
    with LocalIndex() as idx:
        yield idx


@pytest.fixture
def environ(monkeypatch, tmp_path, index) -> dict[str, str]:
    """This process's environment as a guard in conda's process sees it: config-isolated, the
    local index, caches and HOME in tmp_path, no active environment."""
    env = guard_environ(tmp_path, index.url, PIP_RETRIES="0")
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


@pytest.fixture
def plain(conda_env) -> Path:
    """A real conda prefix: python and conda-forge's numpy 1.26.4."""
    return conda_env("plain")


def pip_replaced_numpy(prefix: Path) -> None:
    """What ``pip install numpy==2.0.0`` leaves over conda's numpy 1.26.4: conda's metadata
    directory gone, pip's (INSTALLER pip, no conda record lists it) in its place."""
    assert NUMPY.dist is not None
    shutil.rmtree(prefix / SITE_PACKAGES / NUMPY.dist.metadata_dir)
    write_pip_installed_dist(prefix, Dist("numpy", "2.0.0", installer="pip"))


# ---- the objects each hook returns ----------------------------------------------------------------


def test_every_hook_returns_condas_types_with_the_contract_names(plugin, conda_ctx) -> None:
    for name in conda_stub.HOOK_NAMES:
        assert hasattr(getattr(plugin, name), "conda_impl"), name  # pluggy's HookimplMarker("conda")
    sub = hook(plugin, "subcommands")
    assert isinstance(sub, sys.modules["conda.plugins.types"].CondaSubcommand)
    assert (sub.name, sub.summary, sub.configure_parser) == (
        "guard",
        "conda-pip-guard: check what pip would change before it does",
        None,  # no parser of its own: conda hands the words after `guard` as they are
    )
    assert hook(plugin, "health_checks").name == "conda-pip-guard: pip drift"
    assert hook(plugin, "pre_commands").run_for == {"env_create", "env_update"}
    assert hook(plugin, "post_commands").run_for == {"create", "install", "update", "env_create", "env_update"}
    assert callable(hook(plugin, "post_solves").action)
    settings = {s.name: s for s in conda_stub.get_hook_results(conda_stub.plugin_manager(plugin), "settings")}
    assert sorted(settings) == ["pip_guard", "pip_guard_overwrites"]
    for name, default, good, bad in (
        ("pip_guard", "off", "auto", "on"),
        ("pip_guard_overwrites", "warn", "refuse", "off"),
    ):
        param = settings[name].parameter
        assert (param.default, param._type, settings[name].aliases) == (default, str, ())
        assert param._validation(default) is True and param._validation(good) is True
        assert isinstance(param._validation(bad), str) and name in param._validation(bad)
    assert (conda_ctx.plugins.pip_guard, conda_ctx.plugins.pip_guard_overwrites) == ("off", "warn")


def test_importing_the_plugin_imports_nothing_of_the_guard_cli() -> None:
    code = (
        "import sys; from tests.support import conda_stub; conda_stub.install(); "
        "before = set(sys.modules); import guard.conda_plugin.plugin; "
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
        "('click', 'packaging', 'requests', 'yaml', 'rattler') or m.startswith(('guard.cli', 'guard.environment', "
        "'guard.pipeline', 'guard.act', 'guard.integrate', 'guard.doctor'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout.strip(), out.stderr) == (0, "[]", "")


# ---- conda guard ----------------------------------------------------------------------------------


def test_conda_guard_runs_the_guard_on_condas_environment(plugin, conda_ctx, environ, plain, capsys) -> None:
    action = hook(plugin, "subcommands").action
    assert action(("-p", str(plain), "status")) == 0
    assert f"environment  {plain} (conda, Python" in capsys.readouterr().out
    assert action(("-p", str(plain), "check", "--", "numpy==2.0.0")) == 1
    out = capsys.readouterr().out
    assert out.startswith("BLOCK  pip would upgrade numpy 1.26.4 -> 2.0.0 (conda: numpy 1.26.4"), out
    # -n NAME as conda resolves it, and conda's default: the active environment
    conda_ctx.envs_dirs = (str(plain.parent),)
    assert action(("-n", plain.name, "check", "--", "numpy==1.26.4")) == 0
    assert capsys.readouterr().out.startswith("ALLOW")
    os.environ["CONDA_PREFIX"] = str(plain)
    assert action(("check", "--json", "--", "numpy==2.0.0")) == 1
    assert json.loads(capsys.readouterr().out)["prefix"] == str(plain.resolve())


def test_conda_guard_doctor_why_and_shims(plugin, conda_ctx, environ, plain, capsys) -> None:
    action = hook(plugin, "subcommands").action
    assert action(("--prefix", str(plain), "doctor")) == 0
    assert capsys.readouterr().out.startswith("OK       1 protected package intact (numpy 1.26.4)")
    assert action(("-p", str(plain), "why", "numpy")) == 0
    assert "numpy" in capsys.readouterr().out
    assert action(("-p", str(plain), "shims", "install")) == 0
    assert (plain / "etc" / "conda-pip-guard" / "shims" / "pip").is_file()
    capsys.readouterr()
    assert action(("-p", str(plain), "shims", "status")) == 0


def test_conda_guard_bad_input_is_one_line_and_exit_2(plugin, conda_ctx, environ, plain, tmp_path, capsys) -> None:
    action = hook(plugin, "subcommands").action
    assert action(("-p", str(plain), "status", "--prefix", str(plain))) == 2
    assert action(("-p",)) == 2
    assert action(("-p", str(tmp_path / "nowhere"), "status")) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "guard: error: give the environment once: -n/-p after `conda guard`, or --prefix after `status` (see conda guard --help)",
        "guard: error: option -p requires an argument (see conda guard --help)",
        f"guard: error: --prefix {tmp_path / 'nowhere'}: no such directory",
    ]


# ---- conda doctor -------------------------------------------------------------------------------


def test_health_check_one_ok_line_then_the_drift_pip_caused(plugin, conda_ctx, environ, plain, capsys) -> None:
    check = hook(plugin, "health_checks")
    check.action(str(plain), False)
    assert capsys.readouterr().out == "✅ conda-pip-guard: no pip drift (1 protected package intact: numpy 1.26.4).\n\n"
    pip_replaced_numpy(plain)
    check.action(str(plain), False)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "❌ conda-pip-guard: pip changed what conda installed (1 problem):"
    assert "  numpy: conda-meta records numpy 1.26.4 but site-packages holds numpy 2.0.0 installed by pip" in out
    fix = next(line for line in out if line.startswith("    fix: "))
    assert str(plain) in fix and "numpy" in fix  # not the active env: the fix names it
    assert out[-2:] == [f"  Details: conda guard -p {plain} doctor", ""]


# ---- pip_guard: auto ------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_post_command_installs_shims_when_auto_idempotently(plugin, conda_ctx, environ, plain, capsys) -> None:
    post = hook(plugin, "post_commands")
    conda_ctx._argparse_args = {"prefix": str(plain), "func": "conda.cli.main_install.execute"}
    post.action("install")  # default: off
    assert not (plain / "etc" / "conda-pip-guard").exists() and capsys.readouterr().err == ""
    conda_ctx.plugin_values["pip_guard"] = "auto"
    post.action("install")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"conda-pip-guard: pip install in {plain} is guarded now (shims installed;")
    shims = plain / "etc" / "conda-pip-guard"
    first = _tree(shims)
    assert "shims/pip" in first and "manifest.json" in first
    post.action("install")
    assert capsys.readouterr().err == "" and _tree(shims) == first
    remembered = list((Path(environ["HOME"]) / ".local").rglob("conda-records.json")) or list(
        Path(environ["GUARD_CACHE_DIR"]).rglob("conda-records.json")
    )
    assert remembered and "numpy" in json.loads(remembered[0].read_text())["records"]


def test_post_command_bad_setting_is_one_warning_and_never_fails(plugin, conda_ctx, environ, plain, capsys) -> None:
    post = hook(plugin, "post_commands")
    conda_ctx._argparse_args = {"prefix": str(plain)}
    conda_ctx.plugin_values["pip_guard"] = "yes"
    post.action("create")
    assert capsys.readouterr().err.splitlines() == [
        "conda-pip-guard: warning: plugins.pip_guard must be one of off, auto (conda-pip-guard), not 'yes'"
    ]
    assert not (plain / "etc" / "conda-pip-guard").exists()


def test_post_command_env_create_targets_the_files_name(
    plugin, conda_ctx, environ, plain, monkeypatch, tmp_path
) -> None:
    """``conda env create -f env.yml`` without -n/-p: the env is the file's ``name:``, which
    conda's context never sees."""
    (tmp_path / "env.yml").write_text(f"name: {plain.name}\ndependencies:\n  - python\n")
    monkeypatch.chdir(tmp_path)
    conda_ctx.envs_dirs = (str(plain.parent),)
    conda_ctx.plugin_values["pip_guard"] = "auto"
    conda_ctx._argparse_args = {"file": "env.yml", "func": "conda.cli.main_env_create.execute"}
    hook(plugin, "post_commands").action("env_create")
    assert (plain / "etc" / "conda-pip-guard" / "shims" / "pip").is_file()


# ---- conda env create -f environment.yml ----------------------------------------------------------

FIGHTING = """\
name: demo
dependencies:
  - python=3.11
  - numpy=1.26.4
  - pip
  - pip:
    - numpy==2.0.0
"""
CLEAN = FIGHTING.replace("numpy==2.0.0", "six==1.16.0")


def test_pre_command_refuses_a_pip_section_that_replaces_condas(
    plugin, conda_ctx, environ, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "environment.yml").write_text(FIGHTING)
    conda_ctx._argparse_args = {"file": "environment.yml", "func": "conda.cli.main_env_create.execute"}
    monkeypatch.setattr(sys, "argv", ["/opt/conda/bin/conda", "env", "create", "-f", "environment.yml"])
    pre = hook(plugin, "pre_commands")
    with pytest.raises(conda_stub.CondaError) as refused:
        pre.action("env_create")
    assert type(refused.value).__name__ == "CondaPipGuardError" and refused.value.return_code == 1
    assert str(refused.value).splitlines() == [
        "conda-pip-guard: refused: the pip: section of environment.yml fights its conda dependencies:",
        "  environment.yml:7: pip: numpy==2.0.0 - numpy is a conda package in this environment (environment.yml:4 numpy=1.26.4)",
        "Nothing was created or changed. Drop these from pip: (conda installs them) or move them to the",
        "conda dependencies; details: guard check-requirements environment.yml",
        "Override (pip may replace conda's packages): GUARD_DISABLE=1 conda env create -f environment.yml",
    ]
    monkeypatch.setenv("GUARD_DISABLE", "1")
    pre.action("env_create")
    assert capsys.readouterr().err.splitlines() == [
        "conda-pip-guard: warning: GUARD_DISABLE is set: environment.yml's pip: section not checked"
    ]


def test_pre_command_passes_a_clean_file_and_leaves_a_missing_one_to_conda(
    plugin, conda_ctx, environ, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clean.yml").write_text(CLEAN)
    pre = hook(plugin, "pre_commands")
    conda_ctx._argparse_args = {"file": "clean.yml"}
    pre.action("env_update")
    conda_ctx._argparse_args = {"file": "missing.yml"}
    pre.action("env_create")
    (tmp_path / "broken.yml").write_text("dependencies: [\n")
    conda_ctx._argparse_args = {"file": "broken.yml"}
    pre.action("env_create")
    assert "refused" not in capsys.readouterr().err


# ---- conda's plan over what pip installed ---------------------------------------------------------


def prec(name: str, version: str, build: str = "0") -> SimpleNamespace:
    return SimpleNamespace(name=name, version=version, build=build)  # what the hook reads of a PackageRecord


def test_post_solve_warns_about_pip_dists_in_the_plan_and_refuses_by_setting(
    plugin, conda_ctx, environ, ml_env, capsys
) -> None:
    solve = hook(plugin, "post_solves")
    conda_ctx._argparse_args = {"prefix": str(ml_env)}
    # conda's own packages in the plan: nothing to say
    solve.action("repodata.json", (prec("numpy", "1.26.4"),), (prec("numpy", "2.0.0"),))
    assert capsys.readouterr().err == ""
    # six 1.16.0 was installed by pip in this env: conda linking its six writes over it
    solve.action("repodata.json", (), (prec("six", "1.17.0", "pyhd8ed1ab_0"),))
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"conda-pip-guard: warning: conda would change what pip installed in {ml_env}:"
    assert err[1].startswith(
        "  six 1.16.0 (installed by pip): conda would link six 1.17.0 over it without uninstalling it"
    )
    assert (
        err[2]
        == f"  fix: uninstall pip's copy first ({ml_env}/bin/python3 -m pip uninstall -y six), then run the conda command again"
    )
    conda_ctx.plugin_values["pip_guard_overwrites"] = "refuse"
    with pytest.raises(conda_stub.CondaError) as refused:
        solve.action("repodata.json", (), (prec("six", "1.17.0"),))
    assert str(refused.value).startswith(
        f"conda-pip-guard: refused: conda would change what pip installed in {ml_env}:"
    )
    assert "Nothing was changed." in str(refused.value)


def test_post_solve_names_a_removal_of_what_pip_replaced(plugin, conda_ctx, environ, plain, capsys) -> None:
    pip_replaced_numpy(plain)
    conda_ctx._argparse_args = {"prefix": str(plain)}
    hook(plugin, "post_solves").action("repodata.json", (prec("numpy", "1.26.4"),), ())
    err = capsys.readouterr().err.splitlines()
    assert err[1].startswith(
        "  numpy 2.0.0 (installed by pip): conda would unlink numpy 1.26.4, whose files pip has replaced"
    )
    # a new environment (conda create): nothing there yet, nothing to read
    conda_ctx._argparse_args = {"prefix": str(plain.parent / "new-env")}
    hook(plugin, "post_solves").action("repodata.json", (), (prec("numpy", "1.26.4"),))
    assert capsys.readouterr().err == ""


def test_post_solve_fails_closed_on_a_misspelt_setting(plugin, conda_ctx, environ, plain, capsys) -> None:
    """A value that is neither warn nor refuse refuses: it was set to ask for something, and the
    stricter reading never lets conda write over pip's files unasked."""
    pip_replaced_numpy(plain)
    conda_ctx._argparse_args = {"prefix": str(plain)}
    conda_ctx.plugin_values["pip_guard_overwrites"] = "refues"
    with pytest.raises(conda_stub.CondaError) as refused:
        hook(plugin, "post_solves").action("repodata.json", (prec("numpy", "1.26.4"),), ())
    assert str(refused.value).startswith(f"conda-pip-guard: refused: conda would change what pip installed in {plain}:")
    assert "treated as refuse" in capsys.readouterr().err
