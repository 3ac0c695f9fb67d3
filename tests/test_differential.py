"""Differential tests: on the same real conda env and the same command, ``guard check`` must
predict exactly what real pip (26.3, config-isolated) reports with ``install --dry-run --report``.

The default run uses the local index (real PyPI metadata captured into tests/data/index) so it
is deterministic and offline. ``-m online`` repeats a light subset against the live index the
machine's pip would use; those tests skip with a reason when it is unreachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from guard.pipeline.check import Context, simulate
from tests.support.conda_prefix import ML_CUDA_ENV, PYTORCH_CHANNEL_ENV
from tests.support.index_server import LocalIndex

# What ML users type. Each entry: (id, pip install arguments). FILE:<name> is replaced by a file
# written from FILES below; DIR:<name> by a local project directory from PROJECTS.
COMMANDS = [
    ("transformers", ["transformers"]),
    ("transformers-torch-extra", ["transformers[torch]"]),
    ("transformers-datasets", ["transformers", "datasets"]),
    ("diffusers", ["diffusers"]),
    ("accelerate", ["accelerate"]),
    ("gradio-pin", ["gradio==4.44.1"]),
    ("diffusers-gradio-pins", ["diffusers==0.30.0", "transformers==4.44.2", "gradio==4.44.1"]),
    ("opencv", ["opencv-python"]),
    ("opencv-headless", ["opencv-python-headless"]),
    ("xformers", ["xformers"]),
    ("torch", ["torch"]),
    ("torch-upgrade", ["-U", "torch"]),
    ("torch-pin", ["torch==2.6.0"]),
    ("torchvision", ["torchvision"]),
    ("torchaudio", ["torchaudio"]),
    ("numpy-2-pin", ["numpy==2.0.0"]),
    ("numpy-lt-2", ["numpy<2"]),
    ("numpy-range", ["numpy>=1.26,<2"]),
    ("numpy-upgrade", ["-U", "numpy"]),
    ("scipy", ["scipy"]),
    ("pandas-sklearn", ["pandas", "scikit-learn"]),
    ("timm", ["timm"]),
    ("sentence-transformers", ["sentence-transformers"]),
    ("peft", ["peft"]),
    ("lightning", ["lightning"]),
    ("eager-transformers", ["-U", "--upgrade-strategy", "eager", "transformers"]),
    ("force-reinstall-numpy", ["--force-reinstall", "--no-deps", "numpy==1.26.4"]),
    ("no-deps", ["--no-deps", "transformers"]),
    ("ignore-installed", ["-I", "filelock"]),
    ("requirements-file", ["-r", "FILE:requirements.txt"]),
    ("constraints-file", ["transformers[torch]", "-c", "FILE:constraints.txt"]),
    ("markers", ["einops; python_version >= '3.8'", "pywin32; sys_platform == 'win32'"]),
    ("extras-and-pins", ["accelerate[testing]==1.0.1"]),
    ("local-project", ["DIR:myproj"]),
    ("nvidia-ml-py", ["nvidia-ml-py", "bitsandbytes"]),
]

FILES = {
    "requirements.txt": textwrap.dedent(
        """\
        # a typical ML requirements file
        transformers>=4.40  # the model library
        accelerate \\
            >=0.30
        -r extra-requirements.txt
        safetensors
        """
    ),
    "extra-requirements.txt": "tqdm\neinops\n",
    "constraints.txt": "torch==2.5.1\n",
}

# An in-tree PEP 517 backend keeps the local-project case offline: pip needs no build requirement
# from the index to prepare the project's metadata.
IN_TREE_BACKEND = textwrap.dedent(
    """\
    import os, zipfile

    META = ("Metadata-Version: 2.1\\nName: myproj\\nVersion: 0.1.0\\nRequires-Python: >=3.9\\n"
            "Requires-Dist: numpy>=2\\nRequires-Dist: rich\\n")

    def get_requires_for_build_wheel(config_settings=None):
        return []

    def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
        d = os.path.join(metadata_directory, "myproj-0.1.0.dist-info")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "METADATA"), "w") as fh:
            fh.write(META)
        return "myproj-0.1.0.dist-info"

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        name = "myproj-0.1.0-py3-none-any.whl"
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
            zf.writestr("myproj/__init__.py", "")
            zf.writestr("myproj-0.1.0.dist-info/METADATA", META)
            zf.writestr("myproj-0.1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
            zf.writestr("myproj-0.1.0.dist-info/RECORD", "")
        return name
    """
)

PROJECTS = {
    "myproj": textwrap.dedent(
        """\
        [build-system]
        requires = []
        build-backend = "in_tree_backend"
        backend-path = ["."]

        [project]
        name = "myproj"
        version = "0.1.0"
        requires-python = ">=3.9"
        dependencies = ["numpy>=2", "rich"]
        """
    ),
}


@pytest.fixture(scope="module")
def local_index():
    with LocalIndex() as index:
        yield index


@pytest.fixture(scope="module")
def env_prefix(tmp_path_factory, conda_channel_root):
    return ML_CUDA_ENV.build(tmp_path_factory.mktemp("ml") / "env", channel_root=conda_channel_root)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    for name, text in FILES.items():
        (work / name).write_text(text)
    for name, pyproject in PROJECTS.items():
        (work / name).mkdir()
        (work / name / "pyproject.toml").write_text(pyproject)
        (work / name / name).mkdir()
        (work / name / name / "__init__.py").write_text("")
        (work / name / "in_tree_backend.py").write_text(IN_TREE_BACKEND)
    return work


@pytest.fixture(scope="module")
def isolated_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }


def expand(args, work: Path) -> list[str]:
    out = []
    for a in args:
        if a.startswith("FILE:"):
            out.append(str(work / a[5:]))
        elif a.startswith("DIR:"):
            out.append(str(work / a[4:]))
        else:
            out.append(a)
    return out


def pip_oracle(oracle_pip: Path, prefix: Path, args, env, cwd) -> set:
    """What real pip would install: (name, version) from its --dry-run report."""
    cmd = [
        str(oracle_pip),
        "-m",
        "pip",
        "--python",
        str(prefix / "bin" / "python"),
        "install",
        "--dry-run",
        "--report",
        "-",
        "-q",
        *args,
    ]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return {("<pip failed>", proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "")}
    report = json.loads(proc.stdout)
    from packaging.utils import canonicalize_name

    return {(canonicalize_name(i["metadata"]["name"]), i["metadata"]["version"]) for i in report["install"]}


def guard_prediction(prefix: Path, args, env, cwd, cache_dir) -> tuple[set, str]:
    from guard.errors import ResolutionImpossible

    ctx = Context(prefix=prefix, environ=env, cwd=str(cwd), cache_dir=cache_dir)
    try:
        result = simulate(["install", *args], ctx)
    except ResolutionImpossible:
        return {("<pip failed>", "")}, "resolver"
    changes = {(c.name, c.proposed) for c in result.plan.changes if c.action != "remove"}
    return changes, result.plan.path


def _compare(oracle, guard):
    if any(n == "<pip failed>" for n, _ in oracle):
        assert any(n == "<pip failed>" for n, _ in guard), f"pip failed ({oracle}) but guard predicted {guard}"
        return
    assert guard == oracle, f"only pip: {sorted(oracle - guard)}; only guard: {sorted(guard - oracle)}"


@pytest.mark.parametrize("case, args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_guard_agrees_with_pip(
    case, args, oracle_pip, env_prefix, local_index, workdir, isolated_env, tmp_path_factory
):
    env = {**isolated_env, "PIP_INDEX_URL": local_index.url}
    argv = expand(args, workdir)
    oracle = pip_oracle(oracle_pip, env_prefix, argv, env, workdir)
    guard, path = guard_prediction(env_prefix, argv, env, workdir, tmp_path_factory.getbasetemp() / "guard-cache")
    _compare(oracle, guard)
    if case != "local-project":
        assert path == "resolver", "the fast path should handle this command exactly"


@pytest.mark.parametrize(
    "args",
    [["torch==2.6.0"], ["transformers[torch]"], ["-U", "numpy"]],
    ids=["torch-pin", "transformers-torch", "numpy-upgrade"],
)
def test_pytorch_channel_env_agrees(args, oracle_pip, local_index, isolated_env, tmp_path, conda_channel_root):
    """The same on a pytorch-channel env, where torch is an egg-info owned by conda."""
    prefix = PYTORCH_CHANNEL_ENV.build(tmp_path / "env", channel_root=conda_channel_root)
    env = {**isolated_env, "PIP_INDEX_URL": local_index.url}
    oracle = pip_oracle(oracle_pip, prefix, args, env, tmp_path)
    guard, _ = guard_prediction(prefix, args, env, tmp_path, tmp_path / "cache")
    _compare(oracle, guard)


# ---- live index (opt-in: -m online) -----------------------------------------------------------

LIVE_COMMANDS = [["rich"], ["requests==2.31.0"], ["numpy==2.0.0"], ["-U", "filelock"], ["tqdm", "einops"]]


def _live_index_url(env) -> str | None:
    """The index the machine's pip would use by default (never named in code): pip's own."""
    try:
        from pip._internal.models.index import PyPI
    except Exception:  # noqa: BLE001
        return None
    import requests

    try:
        requests.get(PyPI.simple_url.rstrip("/") + "/pip/", timeout=10).raise_for_status()
    except Exception:  # noqa: BLE001
        return None
    return PyPI.simple_url


@pytest.mark.online
@pytest.mark.parametrize("args", LIVE_COMMANDS, ids=[" ".join(a) for a in LIVE_COMMANDS])
def test_live_index_agrees(args, oracle_pip, env_prefix, isolated_env, tmp_path):
    url = _live_index_url(isolated_env)
    if url is None:
        pytest.skip("the live package index is unreachable from here")
    env = {**isolated_env, "PIP_INDEX_URL": url}
    oracle = pip_oracle(oracle_pip, env_prefix, args, env, tmp_path)
    guard, _ = guard_prediction(env_prefix, args, env, tmp_path, tmp_path / "cache")
    _compare(oracle, guard)


HEAVY_COMMANDS = [["transformers[torch]"], ["torch==2.6.0"], ["opencv-python"]]


@pytest.mark.heavy
@pytest.mark.online
@pytest.mark.parametrize("args", HEAVY_COMMANDS, ids=[" ".join(a) for a in HEAVY_COMMANDS])
def test_live_index_agrees_on_ml_stacks(args, oracle_pip, env_prefix, isolated_env, tmp_path):
    """Opt-in (-m heavy): real ML resolutions on the live index. pip downloads whole wheels where
    the index offers no metadata files (~800 MB for torch); the guard reads METADATA by range."""
    url = _live_index_url(isolated_env)
    if url is None:
        pytest.skip("the live package index is unreachable from here")
    env = {**isolated_env, "PIP_INDEX_URL": url}
    oracle = pip_oracle(oracle_pip, env_prefix, args, env, tmp_path)
    guard, _ = guard_prediction(env_prefix, args, env, tmp_path, tmp_path / "cache")
    _compare(oracle, guard)


# ---- the user's pip configuration is respected, as pip respects it ----------------------------

CONFIG_COMMANDS = [["transformers[torch]"], ["localonly"], ["-U", "numpy"], ["torch"]]


@pytest.mark.parametrize("args", CONFIG_COMMANDS, ids=[" ".join(a) for a in CONFIG_COMMANDS])
def test_user_pip_configuration_is_respected(args, oracle_pip, env_prefix, local_index, isolated_env, tmp_path):
    """A pip.conf (not PIP_* variables) that sets the index, a constraints file and a find-links
    directory: the guard must see the same world pip sees."""
    from tests.support.wheels import build_wheel

    wheels = tmp_path / "wheels"
    build_wheel(wheels, "localonly", "1.0", requires_dist=["numpy>=1.20"])
    (tmp_path / "constraints.txt").write_text("torch<2.6\nnumpy<2.1\n")
    conf = tmp_path / "pip.conf"
    conf.write_text(
        f"[global]\nindex-url = {local_index.url}\nfind-links = {wheels}\nconstraint = {tmp_path / 'constraints.txt'}\n"
    )
    env = {**isolated_env, "PIP_CONFIG_FILE": str(conf)}
    oracle = pip_oracle(oracle_pip, env_prefix, args, env, tmp_path)
    guard, path = guard_prediction(env_prefix, args, env, tmp_path, tmp_path / "cache")
    _compare(oracle, guard)
    assert path == "resolver"


def test_dynamic_project_falls_back_to_pips_own_report(oracle_pip, isolated_env, tmp_path, conda_channel_root):
    """Metadata only a build can produce: the guard asks the env's own pip (here the pip 23.2 that
    ships with Python, which downloads what it would install even in a dry run: the index gets a
    real, tiny numpy 9.0 wheel) and says so."""
    from tests.support.wheels import build_wheel

    prefix = ML_CUDA_ENV.build(tmp_path / "env", with_pip=True, channel_root=conda_channel_root)
    project = tmp_path / "dynproj"
    project.mkdir()
    backend = IN_TREE_BACKEND.replace("myproj", "dynproj").replace("Requires-Dist: numpy>=2", "Requires-Dist: numpy>=9")
    backend = backend.replace("Requires-Dist: rich", "Requires-Dist: six")
    (project / "in_tree_backend.py").write_text(backend)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "in_tree_backend"\nbackend-path = ["."]\n\n'
        '[project]\nname = "dynproj"\nversion = "0.1.0"\ndynamic = ["dependencies"]\n'
    )
    wheel = build_wheel(tmp_path / "wheels", "numpy", "9.0.0")
    with LocalIndex(extra_wheels=[wheel]) as index:
        env = {**isolated_env, "PIP_INDEX_URL": index.url}
        ctx = Context(
            prefix=prefix, environ=env, cwd=str(tmp_path), cache_dir=tmp_path / "cache", allow_build=True
        )  # pip's dry run builds dynproj: asked for (guard check --allow-build)
        result = simulate(["install", str(project)], ctx)
        oracle = pip_oracle(oracle_pip, prefix, [str(project)], env, tmp_path)
    assert result.plan.path == "pip-report"
    assert "dynamic" in result.plan.fallback_reason
    assert result.verdict.blocked and {r.name for r in result.verdict.reasons} == {"numpy"}
    _compare(oracle, {(c.name, c.proposed) for c in result.plan.changes})


# ---- real requirements files of ML projects ---------------------------------------------------

REAL_REQUIREMENTS = Path(__file__).parent / "data" / "real-requirements"
"""Requirements files written by public ML projects (SOURCES.md there says where from); the
captured index is closed over each (``scripts/capture_index.py --requirements FILE``)."""

# Every file as its README says to run it; two with -U as well, where the conda-installed torch
# and numpy stop counting as satisfied for the names the file lists.
REAL_COMMANDS = [(name, []) for name in sorted(p.name for p in REAL_REQUIREMENTS.glob("*.txt"))] + [
    ("whisper-requirements.txt", ["-U"]),
    ("yolov5-requirements.txt", ["-U"]),
]


@pytest.mark.parametrize(
    "name, extra", REAL_COMMANDS, ids=[n.removesuffix(".txt") + "".join(extra) for n, extra in REAL_COMMANDS]
)
def test_real_requirements_file_agrees(name, extra, oracle_pip, env_prefix, local_index, isolated_env, tmp_path):
    """Some of these files fail under pip here (an unsatisfiable pin, a conflict): the guard must
    fail too. Some reach sdists (basicsr, groundingdino-py, deepspeed, antlr4-python3-runtime):
    the local index serves their core metadata as PEP 658 files, which pip 26.3 uses for sdists
    too instead of building, so the fast path must do the same and needs no fallback."""
    env = {**isolated_env, "PIP_INDEX_URL": local_index.url}
    argv = [*extra, "-r", str(REAL_REQUIREMENTS / name)]
    oracle = pip_oracle(oracle_pip, env_prefix, argv, env, tmp_path)
    guard, path = guard_prediction(env_prefix, argv, env, tmp_path, tmp_path / "cache")
    _compare(oracle, guard)
    assert path == "resolver", "the fast path should handle this file exactly"
