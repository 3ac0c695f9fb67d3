"""``guard why``, the compatible alternative, the conda redirect and the journal, on real things:
conda prefixes built with py-rattler, the local index (real PyPI metadata), wheels built here and
installed by real pip, and a ``conda`` on PATH that really solves and installs with rattler.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from guard.act import journal
from guard.cli.main import cli
from guard.explain.why import paths_to, tree_lines
from guard.models import Edge
from guard.pipeline.check import Context, load_snapshot, simulate
from guard.policy.conda import conda_forge_name, conda_version_spec, match_spec, variant_of
from guard.policy.config import load_policy
from tests.support.conda_prefix import (
    ML_CUDA_ENV,
    NUMPY,
    PLAIN_ENV,
    PYTORCH_CHANNEL_ENV,
    SITE_PACKAGES,
    Channel,
    Dist,
    run_pip,
)
from tests.support.fake_conda import install_fake_conda
from tests.support.index_server import LocalIndex
from tests.support.wheels import build_wheel

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"


# ---- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> list[Path]:
    """Real wheels: mylib 2.0 needs numpy>=2 (blocked in a conda env with numpy 1.26.4), mylib
    1.0 is happy with numpy>=1.20; tinyextra is on no conda channel."""
    out = tmp_path_factory.mktemp("wheels")
    return [
        build_wheel(out, "mylib", "1.0", requires_dist=["numpy>=1.20"]),
        build_wheel(out, "mylib", "2.0", requires_dist=["numpy>=2"]),
        build_wheel(out, "tinyextra", "0.3"),
    ]


@pytest.fixture(scope="module")
def index(wheels):
    with LocalIndex(extra_wheels=wheels) as idx:
        yield idx


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


def environ_for(index, home: Path, path_prefix: str = "") -> dict:
    return {
        "PATH": path_prefix + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "GUARD_CACHE_DIR": str(home / "cache"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_INDEX_URL": index.url,
    }


@pytest.fixture(scope="module")
def ml_prefix(tmp_path_factory, conda_channel_root) -> Path:
    return ML_CUDA_ENV.build(tmp_path_factory.mktemp("ml") / "env", channel_root=conda_channel_root)


def ctx_for(prefix: Path, environ: dict) -> Context:
    return Context(prefix=prefix, environ=environ, cwd=str(prefix), cache_dir=Path(environ["GUARD_CACHE_DIR"]))


def run_cli(args, environ, monkeypatch):
    for k in [k for k in os.environ if k.startswith(("PIP_", "CONDA", "GUARD", "MAMBA", "XDG_"))]:
        monkeypatch.delenv(k, raising=False)
    for k, v in environ.items():
        monkeypatch.setenv(k, v)
    return CliRunner().invoke(cli, args, catch_exceptions=False)


# ---- names and specs -------------------------------------------------------------------------

POPULAR = {
    "torch": "pytorch",
    "opencv-python": "opencv",
    "opencv-python-headless": "opencv",
    "pillow": "pillow",
    "scikit-learn": "scikit-learn",
    "pyyaml": "pyyaml",
    "tensorflow": "tensorflow",
    "jax": "jax",
    "jaxlib": "jaxlib",
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "matplotlib": "matplotlib-base",
    "transformers": "transformers",
    "torchvision": "torchvision",
    "triton": "triton",
    "tables": "pytables",
    "typing-extensions": "typing_extensions",
    "huggingface-hub": "huggingface_hub",
    "dask": "dask-core",
    "msgpack": "msgpack-python",
    "ruamel.yaml": "ruamel.yaml",
    "onnxruntime": "onnxruntime",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
    "accelerate": "accelerate",
    "diffusers": "diffusers",
    "Pillow": "pillow",
    "PyYAML": "pyyaml",
    "psycopg2-binary": "psycopg2",
    "nvidia-cublas-cu12": None,
    "no-such-project-xyz": None,
}


@pytest.mark.parametrize("pypi, conda", sorted(POPULAR.items()))
def test_popular_names_map_to_conda_forge(pypi, conda):
    assert conda_forge_name(pypi) == conda


def test_shipped_name_data_matches_the_shared_data():
    """The table above agrees with the sources, and the shipped file is what the generator makes."""
    if not (SHARED / "pypi_conda_names.json").is_file():
        pytest.skip("shared/data is not next to this checkout")
    data = json.loads((SHARED / "pypi_conda_names.json").read_text())
    same = set((SHARED / "conda_forge_pypi_names.txt").read_text().split())
    for pypi, conda in POPULAR.items():
        from packaging.utils import canonicalize_name

        n = canonicalize_name(pypi)
        expected = (
            data["same_name_overrides"].get(n, {}).get("conda")
            or data["pypi_to_conda"].get(n)
            or (n if n in same else None)
        )
        assert expected == conda, pypi
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_name_data
    finally:
        sys.path.pop(0)
    shipped = json.loads((ROOT / "guard" / "data" / "pypi_to_conda.json").read_text())
    assert shipped == json.loads(json.dumps(build_name_data.build(SHARED)))


@pytest.mark.parametrize(
    "pep440, conda",
    [
        ("==2.0.0", "==2.0.0"),
        (">=1.2,<2", ">=1.2,<2"),
        ("~=1.4.2", ">=1.4.2,<1.5"),
        ("~=2.2", ">=2.2,<3"),
        ("==2.0.*", "2.0.*"),
        ("!=1.5,>=1", ">=1,!=1.5"),
        ("==2.5.1+cu124", "==2.5.1"),
        ("", ""),
    ],
)
def test_version_specs_in_conda_syntax(pep440, conda):
    import rattler

    assert conda_version_spec(pep440) == conda
    spec = match_spec("numpy", pep440)
    assert str(rattler.MatchSpec(spec)).replace(" ", "") == spec.replace(" ", "")  # conda's parser reads it


def test_cuda_variant_is_kept_in_the_spec():
    assert match_spec("pytorch", ">=2.6", "cuda*") == "pytorch >=2.6 cuda*"
    assert match_spec("pytorch", "", "cpu*") == "pytorch * cpu*"


@pytest.mark.parametrize(
    "build, variant",
    [
        ("cuda126_mkl_py311_h1e7bc52_303", "CUDA 12.6"),
        ("cuda129_mkl_py313_h7947483_302", "CUDA 12.9"),
        ("cuda118_py311h0047a46_300", "CUDA 11.8"),
        ("cuda126py311h8da5aae_1", "CUDA 12.6"),
        ("py3.11_cuda11.8_cudnn8.7.0_0", "CUDA 11.8"),
        ("py3.9_cuda11.3_cudnn8.2.0_0", "CUDA 11.3"),
        ("cpu_mkl_py311_h0a0a9a3_103", "CPU"),
        ("cpu_generic_py313_h1ee2325_2", "CPU"),
        ("py3.9_cpu_0", "CPU"),
        ("cpu_py310h32957a8_0", "CPU"),
        ("py311h64a7726_0", None),
    ],
)
def test_variant_of_build_strings(build, variant):
    assert variant_of({"name": "pytorch", "build": build}) == variant


def test_variant_of_real_records(ml_prefix, conda_env, tmp_path):
    plain = {"HOME": str(tmp_path), "GUARD_CACHE_DIR": str(tmp_path / "cache")}
    ml = load_snapshot(ctx_for(ml_prefix, plain)).conda_records
    assert variant_of(ml["pytorch"]) == "CUDA 12.6"
    assert variant_of(ml["triton"]) == "CUDA 12.6"
    assert variant_of(ml["numpy"]) is None
    pt = load_snapshot(ctx_for(conda_env(PYTORCH_CHANNEL_ENV), plain)).conda_records
    assert variant_of(pt["pytorch"]) == "CUDA 11.8"


# ---- chains ------------------------------------------------------------------------------------


def test_tree_merges_paths_with_the_specifier_on_every_edge():
    edges = [
        Edge(None, "transformers", "transformers[torch]"),
        Edge("transformers[torch]==5.23.0", "torch", "torch>=2.6"),
        Edge("transformers==5.23.0", "numpy", "numpy>=1.17"),
        Edge("transformers[torch]==5.23.0", "accelerate", "accelerate>=1.1.0"),
        Edge("accelerate==1.15.0", "torch", "torch>=2.0.0"),
        Edge("torch==2.15.0", "triton", "triton~=3.9.0"),
    ]
    assert [len(p) for p in paths_to(edges, "triton")] == [3, 4]
    assert tree_lines(paths_to(edges, "triton"), installed="3.1.0") == [
        "transformers[torch]==5.23.0",
        "├── torch>=2.6                     -> torch 2.15.0",
        "│   └── triton~=3.9.0              (installed 3.1.0 does not satisfy it)",
        "└── accelerate>=1.1.0              -> accelerate 1.15.0",
        "    └── torch>=2.0.0               -> torch 2.15.0 (see above)",
    ]


def test_why_transformers_torch_walks_extras_and_levels(ml_prefix, index, home, monkeypatch):
    env = environ_for(index, home)
    res = run_cli(
        ["why", "--prefix", str(ml_prefix), "--json", "triton", "--", "transformers[torch]"], env, monkeypatch
    )
    assert res.exit_code == 0, res.output
    expl = json.loads(res.output)
    assert expl["status"]["protected"] and expl["involved"]
    triton = next(b for b in expl["blocked"] if b["name"] == "triton")
    assert triton["variant"] == "CUDA 12.6" and triton["conda_record"]["build"].startswith("cuda126")
    shortest = [(e["parent"], e["requirement"]) for e in triton["paths"][0]]
    assert shortest[0] == (None, "transformers[torch]")
    assert shortest[1][0].startswith("transformers[torch]==") and shortest[1][1].startswith("torch>=")
    assert shortest[2][0].startswith("torch==") and shortest[2][1].startswith("triton")
    # the new CUDA wheels say which conda package they shadow
    cublas = next(c for c in expl["cuda_wheels"] if c["name"] == "nvidia-cublas")
    assert any(s.startswith("libcublas ") for s in cublas["shadows"])
    # the alternative is verified and the redirect keeps the CUDA build
    assert expl["alternative"]["status"] == "found"
    assert expl["redirect"]["conda_specs"][0] == "transformers"
    assert any(s.startswith("pytorch ") and s.endswith(" cuda126*") for s in expl["redirect"]["conda_specs"])


def test_why_text_for_the_issue_example(ml_prefix, index, home, monkeypatch):
    res = run_cli(
        ["why", "--prefix", str(ml_prefix), "torch", "--", "transformers[torch]"], environ_for(index, home), monkeypatch
    )
    assert res.exit_code == 0
    out = res.output
    assert out.startswith(
        "torch 2.5.1 is protected: conda installed it (pytorch 2.5.1, build "
        "cuda126_mkl_py311_h1e7bc52_303, channel conda-forge: a CUDA 12.6 build)."
    )
    assert "  ├── torch>=2.6                     (installed 2.5.1 does not satisfy it)" in out
    assert "1. keep conda's packages:  pip install \"transformers[torch]<" in out
    assert "2. move to conda:" in out and '"pytorch >=2.6 cuda126*" "torchvision * cuda126*"' in out
    assert "3. override:               GUARD_DISABLE=1 pip install" in out


def test_why_for_an_uninvolved_package_says_who_owns_it(ml_prefix, index, home, monkeypatch):
    env = environ_for(index, home)
    res = run_cli(["why", "--prefix", str(ml_prefix), "six", "--", "numpy==2.0.0"], env, monkeypatch)
    assert res.exit_code == 0
    assert res.output.splitlines()[:2] == [
        "six 1.16.0 is not protected: pip installed it (no conda record lists it).",
        "pip install numpy==2.0.0 does not change six.",
    ]
    res = run_cli(
        ["why", "--prefix", str(ml_prefix), "numpy"], {**env, "XDG_STATE_HOME": str(home / "empty")}, monkeypatch
    )
    assert res.exit_code == 0 and "is protected: conda installed it" in res.output
    assert "No blocked command" in res.output
    assert run_cli(["why", "--prefix", str(ml_prefix), "bad name!"], env, monkeypatch).exit_code == 2


def test_why_without_arguments_explains_the_last_blocked_command(ml_prefix, index, home, monkeypatch):
    env = {**environ_for(index, home), "XDG_STATE_HOME": str(home / "state-last")}
    ctx = ctx_for(ml_prefix, env)
    result = simulate(["install", "numpy==2.0.0"], ctx)
    journal.append(
        ml_prefix,
        env,
        {
            "argv": ["pip", "install", "numpy==2.0.0"],
            "verdict": "block",
            "changes": [c.to_json(True) for c in result.plan.changes],
            "reasons": [
                {"name": r.name, "rule": r.rule, "message": r.message, "chain": list(r.chain)}
                for r in result.verdict.reasons
            ],
        },
    )
    res = run_cli(["why", "--prefix", str(ml_prefix), "numpy"], env, monkeypatch)
    assert "pip install numpy==2.0.0 would replace it with numpy 2.0.0" in res.output
    assert "not possible: no resolution keeps conda's numpy 1.26.4" in res.output
    # the index is gone: the explanation comes from the journal entry alone
    res = run_cli(
        ["why", "--prefix", str(ml_prefix), "numpy"],
        {**env, "PIP_INDEX_URL": "http://127.0.0.1:9/simple/"},
        monkeypatch,
    )
    assert res.exit_code == 0
    assert "numpy==2.0.0                       (installed 1.26.4 does not satisfy it)" in res.output
    assert "rendered from the journal" in res.output


# ---- alternatives ------------------------------------------------------------------------------

ML_COMMANDS = [
    ["transformers[torch]"],
    ["diffusers", "transformers[torch]"],
    ["accelerate"],
    ["timm"],
    ["torch==2.6.0"],
    ["-U", "numpy"],
    ["numpy==2.0.0"],
    ["xformers"],
    ["torchaudio"],
]


def test_every_suggested_alternative_is_allowed(ml_prefix, index, home):
    from guard.explain.alternative import find_alternative

    env = environ_for(index, home)
    ctx = ctx_for(ml_prefix, env)
    snap = load_snapshot(ctx)
    policy, _ = load_policy(ml_prefix, env)
    found = 0
    for args in ML_COMMANDS:
        argv = ["install", *args]
        if not simulate(argv, ctx, snap=snap, policy=policy).verdict.blocked:
            continue
        alt = find_alternative(argv, ctx, snap, policy)
        assert alt.status in ("found", "impossible", "none"), (args, alt)
        if alt.status == "found":
            found += 1
            again = simulate(list(alt.argv), ctx, snap=snap, policy=policy)
            assert not again.verdict.blocked, (args, alt.argv, again.verdict.reasons)
            assert not any(c.owner == "conda" and c.name in alt.held for c in again.plan.changes)
        else:
            assert alt.reason
    assert found >= 3


def test_alternative_installed_by_real_pip_keeps_conda_numpy(conda_env, index, home, monkeypatch):
    """Block, suggest, verify, then really install the suggestion with real pip from wheels."""
    prefix = conda_env(PLAIN_ENV, with_pip=True)
    env = environ_for(index, home)
    res = run_cli(["why", "--prefix", str(prefix), "--json", "numpy", "--", "mylib"], env, monkeypatch)
    expl = json.loads(res.output)
    assert expl["verdict"] == "block" and expl["blocked"][0]["proposed"].startswith("2.")
    alt = expl["alternative"]
    assert alt["status"] == "found" and alt["argv"] == ["install", "mylib<2.0"], alt
    out = run_pip(prefix, *alt["argv"], env={**env, "HOME": str(home)})
    assert out.returncode == 0, out.stderr
    site = prefix / SITE_PACKAGES
    assert (site / "mylib-1.0.dist-info").is_dir() and (site / "numpy-1.26.4.dist-info").is_dir()
    assert list((prefix / "conda-meta").glob("numpy-1.26.4-*.json"))


# ---- the redirect --------------------------------------------------------------------------------

NUMPY_2 = dataclasses.replace(
    NUMPY,
    version="2.0.0",
    build=NUMPY.build.replace("h64a7726", "h8e4b2f3"),
    dist=Dist("numpy", "2.0.0", requires_python=">=3.9"),
)


def test_redirect_runs_conda_then_the_guarded_pip(conda_env, conda_channel_root, index, home, tmp_path, monkeypatch):
    prefix = conda_env(PLAIN_ENV, with_pip=True)
    channel = Channel(conda_channel_root, (*PLAIN_ENV.packages, NUMPY_2))
    install_fake_conda(tmp_path / "bin", channel.path, channel.package_cache)
    env = environ_for(index, home, path_prefix=f"{tmp_path / 'bin'}{os.pathsep}")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    res = run_cli(
        ["why", "--prefix", str(prefix), "--redirect", "--yes", "numpy", "--", "numpy==2.0.0", "tinyextra"],
        env,
        monkeypatch,
    )
    assert res.exit_code == 0, res.output
    calls = [json.loads(line) for line in (tmp_path / "bin" / "conda-calls.jsonl").read_text().splitlines()]
    assert calls == [["install", "--prefix", str(prefix), "-c", "conda-forge", "-y", "numpy ==2.0.0"]]
    site = prefix / SITE_PACKAGES
    assert list((prefix / "conda-meta").glob("numpy-2.0.0-*.json"))
    assert not list((prefix / "conda-meta").glob("numpy-1.26.4-*.json"))
    assert (site / "numpy-2.0.0.dist-info").is_dir() and not (site / "numpy-1.26.4.dist-info").exists()
    assert (site / "tinyextra-0.3.dist-info").is_dir()  # the pip remainder ran
    steps = [e for e in journal.read(prefix, env) if e.get("verdict") == "redirect"]
    assert [(s["step"], s["outcome"]) for s in steps] == [("conda", "ok"), ("pip", "ok")]
    res = run_cli(["log", "--prefix", str(prefix)], env, monkeypatch)
    assert "[conda: ok, exit 0]" in res.output and "[pip: ok, exit 0]" in res.output


def test_failed_conda_step_runs_no_pip(conda_env, conda_channel_root, index, home, tmp_path):
    from guard.act.redirect import run_redirect

    prefix = conda_env(PLAIN_ENV, with_pip=True)
    channel = Channel(conda_channel_root, PLAIN_ENV.packages)  # no numpy 2.0.0 there: conda fails
    install_fake_conda(tmp_path / "bin", channel.path, channel.package_cache)
    env = environ_for(index, home, path_prefix=f"{tmp_path / 'bin'}{os.pathsep}")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    ctx = ctx_for(prefix, env)
    argv = ["install", "numpy==2.0.0", "tinyextra"]
    snap = load_snapshot(ctx)
    result = simulate(argv, ctx, snap=snap)
    said = []
    rc = run_redirect(result, snap, ctx, yes=True, pip_argv=argv, echo=said.append)
    assert rc == 1
    assert any("step 1 failed" in s and "not run: pip install tinyextra" in s for s in said)
    assert not (prefix / SITE_PACKAGES / "tinyextra-0.3.dist-info").exists()
    assert list((prefix / "conda-meta").glob("numpy-1.26.4-*.json"))
    assert [(e["step"], e["outcome"]) for e in journal.read(prefix, env)] == [("conda", "failed")]
    # declining, or no terminal without --yes, does nothing
    assert run_redirect(result, snap, ctx, yes=False, pip_argv=argv, echo=said.append, interactive=False) == 1
    assert (
        run_redirect(
            result, snap, ctx, yes=False, pip_argv=argv, echo=said.append, interactive=True, ask=lambda _q: "n"
        )
        == 1
    )
    assert len(journal.read(prefix, env)) == 1


def test_redirect_plan_and_instead_line(ml_prefix, index, home):
    from guard.act.redirect import detect_frontend, instead_line
    from guard.explain.redirect import plan_redirect

    env = environ_for(index, home)
    ctx = ctx_for(ml_prefix, env)
    snap = load_snapshot(ctx)
    argv = ["install", "opencv-python>=4.8,<5", "torch~=2.6.0", "tinyextra"]
    result = simulate(argv, ctx, snap=snap)
    plan = plan_redirect(result, snap, argv)
    assert plan.conda_specs == ("opencv >=4.8,<5", "pytorch >=2.6.0,<2.7 cuda126*", "torchvision * cuda126*")
    assert plan.pip_argv == ("install", "tinyextra")
    line = instead_line(result, snap, environ={"PATH": ""})
    assert line == (
        f'instead: conda install --prefix {ml_prefix} -c conda-forge "opencv >=4.8,<5" '
        f'"pytorch >=2.6.0,<2.7 cuda126*" "torchvision * cuda126*" && pip install tinyextra'
    )
    assert detect_frontend({"PATH": ""}) is None


def test_frontend_detection_order(tmp_path):
    from guard.act.redirect import detect_frontend

    for name in ("conda", "mamba", "micromamba", "my-conda"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    path = {"PATH": str(tmp_path)}
    assert detect_frontend({**path, "CONDA_EXE": str(tmp_path / "my-conda")}).exe == str(tmp_path / "my-conda")
    assert detect_frontend({**path, "MAMBA_EXE": str(tmp_path / "micromamba")}).kind == "micromamba"
    assert detect_frontend(path).kind == "conda"
    (tmp_path / "conda").unlink()
    assert detect_frontend(path).kind == "mamba"


# ---- the journal ---------------------------------------------------------------------------------


def _writer(args):
    prefix, environ, worker = args
    for i in range(50):
        journal.append(
            Path(prefix),
            environ,
            {"argv": ["pip", "install", f"pkg{worker}-{i}" + "x" * 200], "verdict": "allow", "worker": worker, "i": i},
        )


def test_journal_survives_concurrent_writers(tmp_path):
    environ = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    prefix = tmp_path / "env"
    prefix.mkdir()
    with multiprocessing.get_context("fork").Pool(8) as pool:
        pool.map(_writer, [(str(prefix), environ, w) for w in range(8)])
    lines = journal.journal_path(prefix, environ).read_text().splitlines()
    assert len(lines) == 400
    entries = [json.loads(line) for line in lines]  # every line is valid JSON
    assert sorted((e["worker"], e["i"]) for e in entries) == [(w, i) for w in range(8) for i in range(50)]


def test_journal_holds_no_credentials(tmp_path, monkeypatch):
    environ = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    prefix = tmp_path / "env"
    prefix.mkdir()
    journal.append(
        prefix,
        environ,
        {"argv": ["pip", "install", "--index-url", "https://user:secret@host/simple", "torch"], "verdict": "block"},
    )
    text = journal.journal_path(prefix, environ).read_text()
    assert "secret" not in text and "https://****@host/simple" in text
    res = run_cli(["log", "--prefix", str(prefix), "--json", "-n", "1"], environ, monkeypatch)
    assert res.exit_code == 0 and "secret" not in res.output
    assert json.loads(res.output)[0]["verdict"] == "block"
