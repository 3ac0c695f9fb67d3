"""The conda plugin's decisions as plain functions, without conda or an environment: how ``conda
guard`` words become the guard's argv, which planned conda records meet pip's distributions, and
how the settings read their values."""

from __future__ import annotations

import pytest

from guard.conda_plugin.post_solve import (
    OVERWRITE,
    REMOVE,
    Collision,
    PipDist,
    Planned,
    pip_dists_in_plan,
    warning_text,
)
from guard.conda_plugin.settings import PIP_GUARD, PIP_GUARD_OVERWRITES, BadSetting
from guard.conda_plugin.subcommand import GuardCall, Invocation, guard_call, split_target
from guard.errors import UsageError

P = "/envs/dl"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["status"], Invocation(None, None, ("status",))),
        (["-n", "dl", "status"], Invocation("dl", None, ("status",))),
        (["--name=dl", "why", "torch"], Invocation("dl", None, ("why", "torch"))),
        (["-p", P, "check", "--", "-n", "x"], Invocation(None, P, ("check", "--", "-n", "x"))),
        (["--prefix", P, "doctor", "--json"], Invocation(None, P, ("doctor", "--json"))),
        # only before the command: after it, the words are the guard's (and pip's)
        (["check", "-p", P], Invocation(None, None, ("check", "-p", P))),
    ],
)
def test_split_target(words, expected) -> None:
    assert split_target(words) == expected


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["-n"], "option -n requires an argument"),
        (["--prefix="], "option --prefix requires an argument"),
        (["-n", "a", "-p", P, "status"], "give the environment once: -n NAME or -p PREFIX, not both"),
        (["-n", "a", "-n", "b"], "option -n given twice"),
    ],
)
def test_split_target_bad_input(words, message) -> None:
    with pytest.raises(UsageError, match="^" + message + "$"):
        split_target(words)


@pytest.mark.parametrize(
    ("words", "argv", "environ"),
    [
        (["status", "--json"], ["status", "--prefix", P, "--json"], {}),
        (["check", "--", "numpy==2.0.0"], ["check", "--prefix", P, "--", "numpy==2.0.0"], {}),
        (["why", "torch"], ["why", "--prefix", P, "torch"], {}),
        (["log", "-n", "3"], ["log", "--prefix", P, "-n", "3"], {}),
        (["shims", "install"], ["shims", "install", "--prefix", P], {}),
        (["shims", "--help"], ["shims", "--help"], {}),
        (["check-requirements", "r.txt"], ["check-requirements", "--prefix", P, "r.txt"], {}),
        (
            ["check-requirements", "--environment", "e.yml", "r.txt"],
            ["check-requirements", "--environment", "e.yml", "r.txt"],
            {},
        ),
        (["pip", "install", "rich"], ["pip", "install", "rich"], {"CONDA_PREFIX": P, "VIRTUAL_ENV": None}),
        (["uv", "pip", "install", "rich"], ["uv", "pip", "install", "rich"], {"CONDA_PREFIX": P, "VIRTUAL_ENV": None}),
        (["--version"], ["--version"], {}),
        # pip's own --prefix after `--` is pip's, not the guard's
        (["check", "--", "--prefix", "/x", "rich"], ["check", "--prefix", P, "--", "--prefix", "/x", "rich"], {}),
    ],
)
def test_guard_call_names_the_environment_the_way_each_command_takes_it(words, argv, environ) -> None:
    assert guard_call(Invocation(None, None, tuple(words)), P) == GuardCall(tuple(argv), environ)


def test_guard_call_keeps_the_users_prefix_unless_conda_named_one_too() -> None:
    words = ("status", "--prefix", "/other")
    assert guard_call(Invocation(None, None, words), P) == GuardCall(words)
    with pytest.raises(UsageError, match="give the environment once"):
        guard_call(Invocation("dl", None, words), P)


def test_settings_read_their_values() -> None:
    assert (PIP_GUARD.read("auto"), PIP_GUARD.read(" AUTO "), PIP_GUARD_OVERWRITES.read("refuse")) == (
        "auto",
        "auto",
        "refuse",
    )
    with pytest.raises(
        BadSetting, match=r"^plugins\.pip_guard must be one of off, auto \(conda-pip-guard\), not 'on'$"
    ):
        PIP_GUARD.read("on")
    assert PIP_GUARD.validate(1) == "pip_guard must be one of off, auto (conda-pip-guard), not 1"


def dist(name: str, version: str, installer: str | None = "pip") -> PipDist:
    meta = f"/env/lib/python3.11/site-packages/{name.replace('-', '_')}-{version}.dist-info"
    return PipDist(name, name, version, meta, installer)


def test_pip_dists_in_plan_overwrite_removal_and_renamed_packages() -> None:
    torch, six, rich = dist("torch", "2.6.0"), dist("six", "1.16.0"), dist("rich", "13.0.0", installer=None)
    found = pip_dists_in_plan(
        [torch, six, rich],
        unlink=[Planned("rich", "12.0.0")],
        link=[Planned("pytorch", "2.5.1", "cuda126"), Planned("numpy", "1.26.4")],
    )
    # pytorch ships torch (the name tables); rich's record is unlinked; six and numpy meet nothing
    assert found == [
        Collision(torch, OVERWRITE, Planned("pytorch", "2.5.1", "cuda126")),
        Collision(rich, REMOVE, Planned("rich", "12.0.0")),
    ]
    # an unlinked record's own metadata directories name what it shipped
    other = dist("opencv-python", "4.10.0")
    assert pip_dists_in_plan(
        [other],
        [Planned("opencv", "4.9.0")],
        [],
        {"opencv": ("lib/python3.11/site-packages/opencv_python-4.9.0.dist-info",)},
    ) == [Collision(other, REMOVE, Planned("opencv", "4.9.0"))]
    assert pip_dists_in_plan([six], [], [Planned("python", "3.11.7"), Planned("pip", "24.0")]) == []


def test_warning_text_names_each_dist_and_the_fix() -> None:
    text = warning_text(
        [Collision(dist("numpy", "2.0.0"), OVERWRITE, Planned("numpy", "2.1.0"))], P, f"{P}/bin/python3", refused=False
    )
    assert text.splitlines() == [
        f"conda-pip-guard: warning: conda would change what pip installed in {P}:",
        "  numpy 2.0.0 (installed by pip): conda would link numpy 2.1.0 over it without uninstalling it: pip's "
        "numpy-2.0.0.dist-info is left beside conda's record of the same files, and conda list and pip list disagree (drift)",
        f"  fix: uninstall pip's copy first ({P}/bin/python3 -m pip uninstall -y numpy), then run the conda command again",
        "  (refuse such plans: conda config --set plugins.pip_guard_overwrites refuse)",
    ]
