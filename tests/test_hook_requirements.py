"""The pre-commit hook ``guard-requirements`` (``guard.hooks.requirements.main``), as scenarios: a
repository with environment.yml and requirements files, the hook's arguments -> the exit code and
every output line. Resolution checks run against the local index (real captured PyPI metadata),
with pip's configuration isolated; the end-to-end test runs real pre-commit on this checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from guard.hooks.requirements import main
from guard.hooks.resolution import interpreter_for
from guard.policy.conda import conda_forge_name as conda_forge_name_for_pypi
from guard.policy.conda import conda_version_to_specifier, is_conda_cuda_runtime, parse_conda_spec, pypi_name_for_conda
from tests.support.index_server import LocalIndex

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "hook"

ENVIRONMENT_YML = """\
name: demo
channels:
  - pytorch
  - nvidia
  - conda-forge
dependencies:
  - pytorch=2.1
  - python=3.11
  - numpy=1.26
  - pytorch-cuda=12.1
  - pip
  - pip:
    - einops
    - tokenizers
    - numpy<2
"""

REQUIREMENTS = """\
# pip extras for the conda env
einops
torch==2.6.0
peft
transformers[torch]==5.23.0
sentence-transformers==6.2.0
"""


@pytest.fixture(scope="module")
def local_index():
    with LocalIndex() as index:
        yield index


def isolated_environ(tmp_path: Path, index_url: str, **extra: str) -> dict[str, str]:
    """pip configuration isolated (this machine's adds a torch cap, find-links and extra
    indexes), caches in tmp_path."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": index_url,
        **extra,
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def run(capsys, argv, root: Path, environ) -> tuple[int, list[str]]:
    code = main(argv, environ=environ, cwd=str(root))
    out = capsys.readouterr()
    assert out.err == ""
    return code, out.out.splitlines()


# ---- conda specs and names (pure) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "version, expected",
    [
        ("2.1", "==2.1.*"),
        ("2.1.*", "==2.1.*"),
        ("2.1*", "==2.1.*"),
        ("==2.1", "==2.1"),
        (">=2.1,<2.3", "<2.3,>=2.1"),
        ("!=1.5.*", "!=1.5.*"),
        ("2.1.0+cu118", "==2.1.0+cu118"),
        ("2.1|2.2", ""),  # no PEP 440 equivalent: not held
    ],
)
def test_conda_version_to_specifier(version, expected):
    assert conda_version_to_specifier(version) == SpecifierSet(expected)


@pytest.mark.parametrize(
    "text, name, version, build, spec, pypi, cuda_build",
    [
        ("pytorch=2.1", "pytorch", "2.1", None, "==2.1.*", "torch", False),
        ("pytorch=2.1=cuda*", "pytorch", "2.1", "cuda*", "==2.1.*", "torch", True),
        ("pytorch::pytorch=2.1", "pytorch", "2.1", None, "==2.1.*", "torch", False),
        ("numpy 1.26.*", "numpy", "1.26.*", None, "==1.26.*", "numpy", False),
        ("numpy >=1.26,<2", "numpy", ">=1.26,<2", None, "<2,>=1.26", "numpy", False),
        ("python=3.11", "python", "3.11", None, "==3.11.*", None, False),
        ("conda-forge::pytorch-gpu", "pytorch-gpu", None, None, "", "torch", True),
        ("pytorch[version='>=2.1', build=cuda*]", "pytorch", ">=2.1", "cuda*", ">=2.1", "torch", True),
        ("torchtriton 2.1.0 py311", "torchtriton", "2.1.0", "py311", "==2.1.0.*", "triton", False),
    ],
)
def test_parse_conda_spec(text, name, version, build, spec, pypi, cuda_build):
    dep = parse_conda_spec(text, 7)
    assert (dep.name, dep.version, dep.build, dep.specifier, dep.pypi_name, dep.cuda_build, dep.line) == (
        name,
        version,
        build,
        SpecifierSet(spec),
        pypi,
        cuda_build,
        7,
    )


def test_conda_to_pypi_names():
    assert [
        pypi_name_for_conda(n)
        for n in (
            "pytorch",
            "pytorch-gpu",
            "pytorch-cpu",
            "torchtriton",
            "numpy",
            "matplotlib-base",
            "typing_extensions",
            "python",
            "pip",
        )
    ] == ["torch", "torch", "torch", "triton", "numpy", "matplotlib", "typing-extensions", None, None]
    for cuda in (
        "cudatoolkit",
        "pytorch-cuda",
        "cuda-cudart",
        "cuda-cudart-dev",
        "libcublas",
        "cudnn",
        "nccl",
        "cuda-version",
    ):
        assert pypi_name_for_conda(cuda) is None and is_conda_cuda_runtime(cuda), cuda
    assert not is_conda_cuda_runtime("pytorch") and not is_conda_cuda_runtime("numpy")
    assert conda_forge_name_for_pypi("torch") == "pytorch"
    assert conda_forge_name_for_pypi("opencv-python") == "opencv"
    assert conda_forge_name_for_pypi("einops") == "einops"
    assert conda_forge_name_for_pypi("not-a-real-project-xyz") is None
    data = json.loads((REPO_ROOT / "guard" / "data" / "conda_to_pypi.json").read_text(encoding="utf-8"))
    assert "parselmouth" in data["source"] and data["derivation"]


def test_interpreter_for_another_python():
    interp = interpreter_for("3.8.5", "environment.yml")
    assert interp.version == "3.8.5"
    assert interp.markers["python_version"] == "3.8" and interp.markers["python_full_version"] == "3.8.5"
    assert interp.tags[0].startswith("cp38-cp38-")
    assert "py3-none-any" in interp.tags and not any(t.startswith("cp311") for t in interp.tags)


# ---- the hook on files --------------------------------------------------------------------------


def test_conflicts_with_the_environment_file(capsys, repo, tmp_path, local_index):
    """The issue's example, against real captured metadata: a direct requirement on conda's torch,
    transformers[torch] and sentence-transformers needing a torch the environment does not allow,
    numpy in the pip: section. peft (torch>=1.13) and einops fit and are not reported."""
    write(repo, {"environment.yml": ENVIRONMENT_YML, "requirements.txt": REQUIREMENTS})
    code, lines = run(
        capsys, ["requirements.txt", "environment.yml"], repo, isolated_environ(tmp_path, local_index.url)
    )
    assert lines == [
        "requirements.txt:3: torch==2.6.0: torch is provided by conda (environment.yml:7 pytorch=2.1)"
        " - remove it here or change environment.yml",
        "requirements.txt:5: transformers==5.23.0 needs torch>=2.6 (via transformers[torch]);"
        " environment.yml:7 pins pytorch=2.1",
        "requirements.txt:6: sentence-transformers==6.2.0 needs torch>=2.2; environment.yml:7 pins pytorch=2.1",
        "environment.yml:15: pip: numpy<2 - numpy is a conda package in this environment (environment.yml:9 numpy=1.26)",
    ]
    assert code == 1


def test_fixed_files_pass(capsys, repo, tmp_path, local_index):
    env = ENVIRONMENT_YML.replace("pytorch=2.1", "pytorch=2.6").replace("    - numpy<2\n", "")
    reqs = "einops\npeft\ntransformers[torch]==5.23.0\nsentence-transformers==6.2.0\n"
    write(repo, {"environment.yml": env, "requirements.txt": reqs})
    code, lines = run(
        capsys, ["requirements.txt", "environment.yml"], repo, isolated_environ(tmp_path, local_index.url)
    )
    assert (code, lines) == (0, [])


def test_pip_section_resolution(capsys, repo, tmp_path, local_index):
    """(c): the pip: section is resolved against the file's own conda packages."""
    env = ENVIRONMENT_YML.replace("    - numpy<2\n", "    - transformers[torch]==5.23.0\n")
    write(repo, {"environment.yml": env})
    code, lines = run(capsys, ["environment.yml"], repo, isolated_environ(tmp_path, local_index.url))
    assert lines == [
        "environment.yml:15: pip: transformers==5.23.0 needs torch>=2.6 (via transformers[torch]);"
        " environment.yml:7 pins pytorch=2.1"
    ]
    assert code == 1


def test_torchvision_needs_another_torch(capsys, repo, tmp_path, local_index):
    """torchvision is not in the environment, but every torchvision on the index pins a torch
    that conda's pytorch=2.1 is not: the newest one is named with the pin it carries."""
    write(repo, {"environment.yml": ENVIRONMENT_YML, "requirements.txt": "torchvision\n"})
    code, lines = run(capsys, ["requirements.txt"], repo, isolated_environ(tmp_path, local_index.url))
    assert lines == ["requirements.txt:1: torchvision==0.29.2 needs torch>=2.14.0; environment.yml:7 pins pytorch=2.1"]
    assert code == 1


def test_cuda_wheel_beside_conda_cuda(capsys, repo, tmp_path, local_index):
    write(repo, {"environment.yml": ENVIRONMENT_YML, "requirements.txt": "einops\nnvidia-cublas-cu12\n"})
    code, lines = run(capsys, ["requirements.txt"], repo, isolated_environ(tmp_path, local_index.url))
    assert lines == [
        "requirements.txt:2: nvidia-cublas-cu12 is a CUDA runtime wheel and conda provides CUDA here"
        " (environment.yml:10 pytorch-cuda=12.1) - remove it here"
    ]
    assert code == 1


def test_index_unreachable_skips_resolution_checks(capsys, repo, tmp_path):
    """Direct checks still run; the resolution checks say so on one line and do not fail the
    hook unless --strict."""
    write(repo, {"environment.yml": ENVIRONMENT_YML, "requirements.txt": REQUIREMENTS})
    environ = isolated_environ(tmp_path, "http://127.0.0.1:1/simple/", PIP_RETRIES="0", PIP_TIMEOUT="2")
    code, lines = run(capsys, ["requirements.txt"], repo, environ)
    assert lines == [
        "requirements.txt:3: torch==2.6.0: torch is provided by conda (environment.yml:7 pytorch=2.1)"
        " - remove it here or change environment.yml",
        "skipped: index unreachable (http://127.0.0.1:1/simple/einops/: connection refused); resolution checks not run",
    ]
    assert code == 1
    write(repo, {"requirements.txt": "einops\n"})
    code, lines = run(capsys, ["requirements.txt"], repo, environ)
    assert (code, len(lines), lines[0].startswith("skipped: index unreachable")) == (0, 1, True)
    code, lines = run(capsys, ["--strict", "requirements.txt"], repo, environ)
    assert (code, len(lines)) == (1, 1)


def test_index_url_flag(capsys, repo, tmp_path, local_index):
    write(repo, {"environment.yml": ENVIRONMENT_YML, "requirements.txt": "sentence-transformers==6.2.0\n"})
    environ = isolated_environ(tmp_path, "http://127.0.0.1:1/simple/", PIP_RETRIES="0")
    code, lines = run(capsys, ["--index-url", local_index.url, "requirements.txt"], repo, environ)
    assert lines == [
        "requirements.txt:1: sentence-transformers==6.2.0 needs torch>=2.2; environment.yml:7 pins pytorch=2.1"
    ]
    assert code == 1


def test_invalid_yaml_is_one_line(capsys, repo, tmp_path):
    write(repo, {"environment.yml": "name: x\ndependencies:\n  - numpy\n  - [pip\n", "requirements.txt": "einops\n"})
    environ = isolated_environ(tmp_path, "http://127.0.0.1:1/simple/", PIP_RETRIES="0")
    code, lines = run(capsys, ["requirements.txt", "environment.yml"], repo, environ)
    assert len(lines) == 1 and lines[0].startswith("environment.yml:5: invalid YAML (")
    assert code == 1


def test_invalid_requirement_is_one_line(capsys, repo, tmp_path):
    write(repo, {"environment.yml": ENVIRONMENT_YML, "requirements.txt": "einops\nnumpy>=>2\n"})
    environ = isolated_environ(tmp_path, "http://127.0.0.1:1/simple/", PIP_RETRIES="0")
    code, lines = run(capsys, ["requirements.txt"], repo, environ)
    assert len(lines) == 1 and lines[0].startswith("requirements.txt:2: invalid requirement: 'numpy>=>2'")
    assert code == 1


def test_bad_pip_entry_in_environment_file(capsys, repo, tmp_path):
    env = ENVIRONMENT_YML.replace("    - numpy<2\n", "    - numpy<<2\n")
    write(repo, {"environment.yml": env})
    environ = isolated_environ(tmp_path, "http://127.0.0.1:1/simple/", PIP_RETRIES="0")
    code, lines = run(capsys, ["environment.yml"], repo, environ)
    assert len(lines) == 1 and lines[0].startswith("environment.yml:15: invalid requirement: 'numpy<<2'")
    assert code == 1


def test_no_environment_file(capsys, repo, tmp_path):
    write(repo, {"requirements.txt": "torch\n"})
    environ = isolated_environ(tmp_path, "http://127.0.0.1:1/simple/", PIP_RETRIES="0")
    code, lines = run(capsys, ["requirements.txt"], repo, environ)
    assert lines == [
        "requirements.txt: note: no environment.yml at . to check against (give --environment FILE or --prefix)"
    ]
    assert code == 0


def test_environment_option_and_constraints_file(capsys, repo, tmp_path):
    """--environment names the file; a constraints file is checked directly (a constraint on a
    package conda provides), never resolved."""
    write(repo, {"envs/gpu.yaml": ENVIRONMENT_YML, "constraints.txt": "numpy<2\neinops==0.8.1\n"})
    environ = isolated_environ(tmp_path, "http://127.0.0.1:1/simple/", PIP_RETRIES="0")
    code, lines = run(capsys, ["--environment", "envs/gpu.yaml", "constraints.txt"], repo, environ)
    assert lines == [
        "constraints.txt:1: numpy<2: numpy is provided by conda (envs/gpu.yaml:9 numpy=1.26)"
        " - remove it here or change envs/gpu.yaml"
    ]
    assert code == 1


def test_suggest_conda(capsys, repo, tmp_path, local_index):
    write(repo, {"environment.yml": ENVIRONMENT_YML, "requirements.txt": "einops\npeft\n"})
    code, lines = run(
        capsys, ["--suggest-conda", "requirements.txt"], repo, isolated_environ(tmp_path, local_index.url)
    )
    assert lines == [
        "requirements.txt:1: note: einops: conda-forge ships einops as einops; it could move into environment.yml",
        "requirements.txt:2: note: peft: conda-forge ships peft as peft; it could move into environment.yml",
    ]
    assert code == 0


def test_real_requirements_files(capsys, repo, tmp_path):
    """Real files (tests/data/hook/SOURCES.md), checked offline against a real-world conda
    environment: ComfyUI's requirements.txt, stable-diffusion-webui's (CRLF line endings), and
    the pip: sections of CompVis stable-diffusion's and MiniGPT-4's environment files."""
    for name in (
        "comfyui-requirements.txt",
        "sd-webui-requirements_versions.txt",
        "compvis-sd-environment.yaml",
        "minigpt4-environment.yml",
    ):
        shutil.copy(DATA / name, repo / name)
    write(
        repo,
        {
            "environment.yml": "name: webui\ndependencies:\n  - python=3.10\n  - pytorch=2.0.1\n"
            "  - torchvision\n  - torchaudio\n  - numpy=1.23.5\n"
        },
    )
    environ = isolated_environ(tmp_path, "http://127.0.0.1:1/simple/", PIP_RETRIES="0")
    code, lines = run(
        capsys,
        [
            "sd-webui-requirements_versions.txt",
            "comfyui-requirements.txt",
            "compvis-sd-environment.yaml",
            "minigpt4-environment.yml",
        ],
        repo,
        environ,
    )
    hint = "remove it here or change environment.yml"
    assert lines[:-1] == [
        f"sd-webui-requirements_versions.txt:7: numpy==1.23.5: numpy is provided by conda"
        f" (environment.yml:7 numpy=1.23.5) - {hint}",
        f"sd-webui-requirements_versions.txt:10: torch is provided by conda (environment.yml:4 pytorch=2.0.1) - {hint}",
        f"comfyui-requirements.txt:4: torch is provided by conda (environment.yml:4 pytorch=2.0.1) - {hint}",
        f"comfyui-requirements.txt:6: torchvision is provided by conda (environment.yml:5 torchvision) - {hint}",
        f"comfyui-requirements.txt:7: torchaudio is provided by conda (environment.yml:6 torchaudio) - {hint}",
        f"comfyui-requirements.txt:8: numpy>=1.25.0: numpy is provided by conda (environment.yml:7 numpy=1.23.5)"
        f" - {hint}",
    ]
    assert lines[-1].startswith("skipped: index unreachable (")
    assert code == 1


def test_cli_command(tmp_path, repo):
    write(repo, {"environment.yml": ENVIRONMENT_YML, "requirements.txt": "torch\n"})
    environ = isolated_environ(tmp_path, "http://127.0.0.1:1/simple/", PIP_RETRIES="0")
    out = subprocess.run(
        [sys.executable, "-m", "guard", "check-requirements", "requirements.txt"],
        cwd=repo,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert out.stdout.splitlines()[0] == (
        "requirements.txt:1: torch is provided by conda"
        " (environment.yml:7 pytorch=2.1) - remove it here or change environment.yml"
    )


# ---- the hook definition ------------------------------------------------------------------------


def hook_ids() -> list[str]:
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    return [h["id"] for h in hooks]


def test_hook_definition_matches_the_right_files():
    import re

    (hook,) = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "guard-requirements" and hook["language"] == "python" and hook["pass_filenames"] is True
    assert hook["entry"] == "guard check-requirements"
    files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])

    def matched(path):
        return bool(files.search(path)) and not exclude.search(path)

    for path in (
        "requirements.txt",
        "requirements-dev.txt",
        "requirements/base.in",
        "sub/requirements_gpu.txt",
        "constraints.txt",
        "ci/pip-constraints.txt",
        "environment.yml",
        "envs/environment.yaml",
    ):
        assert matched(path), path
    for path in (
        "README.md",
        "setup.cfg",
        "MANIFEST.in",
        ".pre-commit-config.yaml",
        "docs/requirements.md",
        "mkdocs.yml",
    ):
        assert not matched(path), path


@pytest.mark.parametrize("hook_id", hook_ids())
def test_every_hook_id_is_documented(hook_id):
    readme = REPO_ROOT / "README.md"
    assert readme.is_file(), "README.md is missing"
    assert f"id: {hook_id}" in readme.read_text(encoding="utf-8"), f"hook {hook_id} is not documented in README.md"


# ---- end to end: real pre-commit on this checkout ---------------------------------------------


# the machine's trust store (not pip configuration): a TLS-intercepting proxy needs its CA
_TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _clean_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    trust = {k: os.environ[k] for k in _TRUST_VARIABLES if k in os.environ}
    return {
        **trust,
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PIP_CONFIG_FILE": os.devnull,
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }


@pytest.fixture(scope="session")
def pre_commit(tmp_path_factory) -> Path:
    """``pre-commit`` from PyPI in ``<repo>/.cache/pre-commit-venv`` (made once, reused)."""
    import fcntl

    venv_dir = REPO_ROOT / ".cache" / "pre-commit-venv"
    exe = venv_dir / "bin" / "pre-commit"
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(venv_dir.parent / "pre-commit-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if exe.is_file():
            return exe
        shutil.rmtree(venv_dir, ignore_errors=True)
        venv.create(venv_dir, with_pip=False)
        home = tmp_path_factory.mktemp("pre-commit-install-home")
        out = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(venv_dir / "bin" / "python"), "install", "pre-commit"],
            capture_output=True,
            text=True,
            timeout=300,
            env=_clean_env(home),
        )
        if out.returncode != 0 or not exe.is_file():
            shutil.rmtree(venv_dir, ignore_errors=True)
            last = (out.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"pre-commit could not be installed from PyPI (unreachable?): {last}")
    return exe


def _checkout_copy(dest: Path) -> Path:
    """This checkout's files (tracked and untracked, not ignored) committed in a fresh repository:
    ``try-repo`` on a dirty checkout would take only tracked changes."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        src = REPO_ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    if not (dest / "README.md").exists():  # pyproject names it; test_every_hook_id_is_documented reports it
        (dest / "README.md").write_text("conda-pip-guard\n", encoding="utf-8")
    env = _clean_env(dest.parent / "git-home")
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "checkout"], cwd=dest, check=True, env=env)
    return dest


@pytest.mark.online
def test_pre_commit_try_repo(pre_commit, tmp_path):
    """Real pre-commit installs this checkout as a hook repository and runs guard-requirements on
    a project with real versions from PyPI (pytorch=2.1 in conda; transformers 4.57.0 needs
    torch>=2.2 through its torch extra), then on the fixed files."""
    hook_repo = _checkout_copy(tmp_path / "hook-repo")
    project = tmp_path / "project"
    env = _clean_env(tmp_path / "home")
    env["PRE_COMMIT_HOME"] = str(REPO_ROOT / ".cache" / "pre-commit-home")
    project.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, env=env)
    write(
        project,
        {
            "environment.yml": "name: demo\nchannels:\n  - pytorch\n  - nvidia\ndependencies:\n  - python=3.11\n"
            "  - pytorch=2.1\n  - pytorch-cuda=12.1\n  - numpy=1.26\n  - pip\n  - pip:\n"
            "    - einops\n    - numpy<2\n",
            "requirements.txt": "einops\ntokenizers\ntorch==2.6.0\nsafetensors\ntransformers[torch]==4.57.0\n",
        },
    )
    subprocess.run(["git", "add", "-A"], cwd=project, check=True, env=env)

    def try_repo() -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(pre_commit), "try-repo", str(hook_repo), "guard-requirements", "--all-files"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    out = try_repo()
    if "Could not find a version" in out.stdout or "Failed to establish a new connection" in out.stdout:
        pytest.skip("PyPI unreachable from pre-commit's hook environment")
    lines = [line for line in out.stdout.splitlines() if line.startswith(("requirements.txt:", "environment.yml:"))]
    assert out.returncode == 1, out.stdout + out.stderr
    assert "guard requirements" in out.stdout and "Failed" in out.stdout
    assert lines == [  # (in the order pre-commit passes the files)
        "environment.yml:13: pip: numpy<2 - numpy is a conda package in this environment (environment.yml:9 numpy=1.26)",
        "requirements.txt:3: torch==2.6.0: torch is provided by conda (environment.yml:7 pytorch=2.1)"
        " - remove it here or change environment.yml",
        "requirements.txt:5: transformers==4.57.0 needs torch>=2.2 (via transformers[torch]);"
        " environment.yml:7 pins pytorch=2.1",
    ], out.stdout

    write(
        project,
        {
            "environment.yml": "name: demo\nchannels:\n  - pytorch\n  - nvidia\ndependencies:\n  - python=3.11\n"
            "  - pytorch=2.2\n  - pytorch-cuda=12.1\n  - numpy=1.26\n  - pip\n  - pip:\n"
            "    - einops\n",
            "requirements.txt": "einops\ntokenizers\nsafetensors\ntransformers[torch]==4.57.0\n",
        },
    )
    subprocess.run(["git", "add", "-A"], cwd=project, check=True, env=env)
    out = try_repo()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "guard requirements" in out.stdout and "Passed" in out.stdout
