"""Resolver scenarios as data (resolvelib's own test style): a frozen index, an installed set,
a pip command -> the expected changes. They pin down pip's semantics that the differential
tests against real pip exercise only indirectly: prefer-installed, upgrade strategies, extras,
markers, yanked files, pre-releases, Requires-Python, constraints, --force-reinstall, -I,
--no-deps.
"""

from __future__ import annotations

import pytest
from packaging.version import Version

from guard.environment.conda_meta import CondaRecord
from guard.environment.interpreter import Interpreter
from guard.environment.site_packages import InstalledDist
from guard.environment.snapshot import EnvironmentSnapshot
from guard.errors import ResolutionImpossible
from guard.models import CoreMetadata, DistFile
from guard.request.parse import parse_pip_argv
from guard.resolve.simulate import simulate_install

TAGS = (
    "cp311-cp311-manylinux_2_17_x86_64",
    "cp311-abi3-manylinux_2_17_x86_64",
    "py3-none-manylinux2014_x86_64",
    "py3-none-any",
)
MARKERS = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.7",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_release": "6.1",
    "platform_system": "Linux",
    "platform_version": "#1",
    "python_full_version": "3.11.7",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "sys_platform": "linux",
}


class MemorySource:
    """A frozen index: {project: {version: dict(requires=[...], requires_python=..., yanked=...,
    tag=..., extras=[...])}}."""

    def __init__(self, projects: dict):
        self.projects = projects
        self.metadata_reads: list[str] = []

    def project_files(self, name):
        out = []
        for version, spec in self.projects.get(name, {}).items():
            tag = spec.get("tag", "py3-none-any")
            fn = f"{name.replace('-', '_')}-{version}-{tag}.whl"
            out.append(
                DistFile(
                    project=name,
                    filename=fn,
                    url=f"http://127.0.0.1/files/{fn}",
                    version=Version(version),
                    is_wheel=True,
                    wheel_tags=frozenset([tag]),
                    requires_python=spec.get("requires_python"),
                    yanked=spec.get("yanked"),
                    hashes={"sha256": f"{name}{version}"},
                    metadata_hashes=None,
                    source="memory",
                )
            )
        return out

    def metadata(self, f):
        self.metadata_reads.append(f"{f.project}=={f.version}")
        spec = self.projects[f.project][str(f.version)]
        return CoreMetadata(
            name=f.project,
            version=str(f.version),
            requires_dist=tuple(spec.get("requires", ())),
            requires_python=spec.get("requires_python"),
            provides_extra=tuple(spec.get("extras", ())),
        )


def snapshot_with(installed: dict, conda: tuple = ()) -> EnvironmentSnapshot:
    interp = Interpreter(
        executable="/env/bin/python",
        version="3.11.7",
        implementation="cpython",
        markers=MARKERS,
        tags=TAGS,
        prefix="/env",
        base_prefix="/env",
        purelib="/env/lib/python3.11/site-packages",
        platlib="/env/lib/python3.11/site-packages",
        user_site=None,
        pip_version=None,
        pip_default_index=None,
        site_dirs=("/env/lib/python3.11/site-packages",),
    )
    dists, records = {}, {}
    for name, (version, requires) in installed.items():
        rec = None
        if name in conda:
            rec = CondaRecord(
                name=name,
                version=version,
                build="py311_0",
                build_number=0,
                channel="conda-forge",
                channel_url="",
                subdir="linux-64",
                depends=(),
                constrains=(),
                meta_file="",
                dist_dirs=(),
                requested_spec=None,
            )
            records[name] = rec
        dists[name] = InstalledDist(
            name=name,
            display_name=name,
            version=version,
            metadata_path="",
            kind="dist-info",
            installer="conda" if rec else "pip",
            requires_dist=tuple(requires),
            requires_python=None,
            owner="conda" if rec else "pip",
            conda_record=rec,
            site_dir="",
            direct_url=None,
        )
    return EnvironmentSnapshot(
        prefix="/env", interpreter=interp, dists=dists, duplicates={}, conda_records=records, is_conda=True, warnings=()
    )


INDEX = {
    "numpy": {"1.26.4": {}, "2.0.0": {}, "2.1.0": {}, "2.2.0rc1": {}},
    "torch": {
        "2.5.1": {"requires": ["filelock", "numpy; extra == 'numpy'"], "extras": ["numpy"]},
        "2.6.0": {"requires": ["filelock", "sympy>=1.13", "nvidia-cublas-cu12==12.4.5.8; platform_system == 'Linux'"]},
    },
    "filelock": {"3.16.0": {}, "3.18.0": {}},
    "sympy": {"1.13.1": {"requires": ["mpmath<1.4"]}, "1.14.0": {"requires": ["mpmath<1.4"]}},
    "mpmath": {"1.3.0": {}},
    "nvidia-cublas-cu12": {"12.4.5.8": {"tag": "py3-none-manylinux2014_x86_64"}},
    "transformers": {
        "4.44.2": {"requires": ["numpy>=1.17", "tokenizers<0.20", "torch; extra == 'torch'"], "extras": ["torch"]},
        "4.57.0": {
            "requires": ["numpy>=1.17", "tokenizers>=0.22", "torch>=2.6; extra == 'torch'"],
            "extras": ["torch"],
        },
    },
    "tokenizers": {"0.19.1": {}, "0.22.1": {}},
    "winonly": {"1.0": {"requires": ["pywin32; sys_platform == 'win32'"]}},
    "newpy": {"1.0": {}, "2.0": {"requires_python": ">=3.12"}},
    "yanky": {"1.0": {}, "1.1": {"yanked": "broken"}},
    "allyanked": {"1.0": {"yanked": ""}},
    "prerel": {"1.0b1": {}},
    "cpwheel": {"1.0": {"tag": "cp312-cp312-manylinux_2_17_x86_64"}, "0.9": {}},
    # every version of "conflicted" needs what the pin forbids; pinning the pin pins Requires-Python
    "pypinned": {"1.0": {"requires_python": ">=3.8"}, "2.0": {"requires_python": ">=3.8"}},
    "conflicted": {"1.0": {"requires": ["pypinned>=2"]}, "2.0": {"requires": ["pypinned>=2"]}},
    # torchsde 0.2.5's real metadata: ">=" with a wildcard does not parse (pip: MetadataInvalid)
    "badmeta": {"1.0": {}, "1.1": {"requires": ['numpy (>=1.19.*) ; python_version >= "3.7"']}},
}

BASE_ENV = {"numpy": ("1.26.4", []), "torch": ("2.5.1", ["filelock"]), "filelock": ("3.16.0", [])}


def run(argv, installed=BASE_ENV, conda=("numpy", "torch")):
    snap = snapshot_with(installed, conda)
    request = parse_pip_argv(["install", *argv], config={}, environ={}, cwd="/")
    plan, _ = simulate_install(request, snap, MemorySource(INDEX))
    return {c.name: (c.action, c.installed, c.proposed) for c in plan.changes}, plan


@pytest.mark.parametrize(
    "argv, expected",
    [
        # already satisfied: nothing to do
        (["numpy"], {}),
        (["torch"], {}),
        # a pin replaces the installed version
        (["numpy==2.0.0"], {"numpy": ("upgrade", "1.26.4", "2.0.0")}),
        (["numpy<1.26"], "impossible"),
        # --upgrade: the newest final release; dependencies stay (only-if-needed)
        (
            ["-U", "torch"],
            {
                "torch": ("upgrade", "2.5.1", "2.6.0"),
                "sympy": ("install", None, "1.14.0"),
                "mpmath": ("install", None, "1.3.0"),
                "nvidia-cublas-cu12": ("install", None, "12.4.5.8"),
            },
        ),
        # eager also upgrades what the requested package needs
        (
            ["-U", "--upgrade-strategy", "eager", "torch"],
            {
                "torch": ("upgrade", "2.5.1", "2.6.0"),
                "filelock": ("upgrade", "3.16.0", "3.18.0"),
                "sympy": ("install", None, "1.14.0"),
                "mpmath": ("install", None, "1.3.0"),
                "nvidia-cublas-cu12": ("install", None, "12.4.5.8"),
            },
        ),
        # extras pull the extra's requirements; installed numpy satisfies numpy>=1.17
        (
            ["transformers[torch]"],
            {
                "transformers": ("install", None, "4.57.0"),
                "tokenizers": ("install", None, "0.22.1"),
                "torch": ("upgrade", "2.5.1", "2.6.0"),
                "sympy": ("install", None, "1.14.0"),
                "mpmath": ("install", None, "1.3.0"),
                "nvidia-cublas-cu12": ("install", None, "12.4.5.8"),
            },
        ),
        # without the extra torch is not touched
        (["transformers"], {"transformers": ("install", None, "4.57.0"), "tokenizers": ("install", None, "0.22.1")}),
        # a constraint holds torch; the resolver backtracks to an older transformers
        (
            ["transformers[torch]", "-c", "CONSTRAINTS"],
            {"transformers": ("install", None, "4.44.2"), "tokenizers": ("install", None, "0.19.1")},
        ),
        # --force-reinstall: same version from the index replaces the installed one
        (["--force-reinstall", "--no-deps", "numpy==1.26.4"], {"numpy": ("reinstall", "1.26.4", "1.26.4")}),
        # -I: installed distributions are ignored; everything chosen is (re)installed
        (["-I", "filelock"], {"filelock": ("upgrade", "3.16.0", "3.18.0")}),
        # --no-deps: just the named project
        (["--no-deps", "torch==2.6.0"], {"torch": ("upgrade", "2.5.1", "2.6.0")}),
        # markers for another platform are skipped
        (["winonly"], {"winonly": ("install", None, "1.0")}),
        (["pywin32; sys_platform == 'win32'"], {}),
        # Requires-Python excludes 2.0 for a 3.11 interpreter
        (["newpy"], {"newpy": ("install", None, "1.0")}),
        # yanked files are skipped unless pinned and nothing else fits
        (["yanky"], {"yanky": ("install", None, "1.0")}),
        (["allyanked==1.0"], {"allyanked": ("install", None, "1.0")}),
        (["allyanked"], "impossible"),
        # pre-releases: only when asked for, or when nothing else exists
        (["numpy>=2.2.0rc1"], {"numpy": ("upgrade", "1.26.4", "2.2.0rc1")}),
        (["--pre", "-U", "numpy"], {"numpy": ("upgrade", "1.26.4", "2.2.0rc1")}),
        (["-U", "numpy"], {"numpy": ("upgrade", "1.26.4", "2.1.0")}),
        (["prerel"], {"prerel": ("install", None, "1.0b1")}),
        # a wheel for another interpreter is not a candidate
        (["cpwheel"], {"cpwheel": ("install", None, "0.9")}),
        # a version whose Requires-Dist does not parse is ignored as a whole, even behind a marker
        (["badmeta"], {"badmeta": ("install", None, "1.0")}),
        (["badmeta==1.1"], "impossible"),
    ],
)
def test_scenarios(argv, expected, tmp_path):
    argv = list(argv)
    if "CONSTRAINTS" in argv:
        c = tmp_path / "c.txt"
        c.write_text("torch==2.5.1\n")
        argv[argv.index("CONSTRAINTS")] = str(c)
    if expected == "impossible":
        with pytest.raises(ResolutionImpossible):
            run(argv)
        return
    changes, _ = run(argv)
    assert changes == expected


def test_installed_candidate_needs_no_metadata():
    """pip reads the index only when the installed distribution is not enough."""
    snap = snapshot_with(BASE_ENV, ("numpy", "torch"))
    source = MemorySource(INDEX)
    request = parse_pip_argv(["install", "torch", "numpy"], config={}, environ={}, cwd="/")
    plan, _ = simulate_install(request, snap, source)
    assert plan.changes == () and source.metadata_reads == []


def test_edges_carry_specifiers_for_chains():
    from guard.policy.chains import chains_to

    _, plan = run(["transformers[torch]"])
    chains = chains_to(plan.edges, "nvidia-cublas-cu12")
    assert chains[0] == (
        "transformers[torch]",
        "transformers[torch]==4.57.0 -> torch>=2.6",
        "torch==2.6.0 -> nvidia-cublas-cu12==12.4.5.8",
    )


def test_policy_blocks_protected_and_cuda_wheels():
    from guard.policy.rules import evaluate

    installed = dict(BASE_ENV)
    snap = snapshot_with(installed, ("numpy", "torch"))
    conda_cudart = CondaRecord(
        name="cuda-cudart",
        version="12.6.77",
        build="0",
        build_number=0,
        channel="conda-forge",
        channel_url="",
        subdir="linux-64",
        depends=(),
        constrains=(),
        meta_file="",
        dist_dirs=(),
        requested_spec=None,
    )
    snap = EnvironmentSnapshot(
        prefix=snap.prefix,
        interpreter=snap.interpreter,
        dists=snap.dists,
        duplicates={},
        conda_records={**snap.conda_records, "cuda-cudart": conda_cudart},
        is_conda=True,
        warnings=(),
    )
    request = parse_pip_argv(["install", "transformers[torch]"], config={}, environ={}, cwd="/")
    plan, _ = simulate_install(request, snap, MemorySource(INDEX))
    verdict = evaluate(plan, snap)
    rules = {(r.name, r.rule) for r in verdict.reasons}
    assert rules == {("torch", "protected-conda-package"), ("nvidia-cublas-cu12", "cuda-wheel-beside-conda-cuda")}
    assert verdict.blocked and verdict.protected == {"torch"}
    torch_reason = next(r for r in verdict.reasons if r.name == "torch")
    assert "2.5.1 -> 2.6.0" in torch_reason.message and torch_reason.chain[0] == "transformers[torch]"

    # the same plan in an env where pip owns torch and no conda CUDA runtime exists is allowed
    snap2 = snapshot_with(installed, conda=())
    plan2, _ = simulate_install(request, snap2, MemorySource(INDEX))
    assert not evaluate(plan2, snap2).blocked


def test_backjumping_past_requires_python_ends_in_a_conflict():
    """chatglm3's requirements (transformers==4.40.0 and vllm, whose every version needs a newer
    transformers): backjumping marks the interpreter candidate incompatible, and pip then offers no
    Requires-Python candidate, so the conflict is reported at once. Re-offering the interpreter
    re-pinned it until the round limit (minutes, and "too deep" instead of the conflict)."""
    with pytest.raises(ResolutionImpossible, match="conflicting requirements") as excinfo:
        run(["pypinned==1.0", "conflicted"])
    assert "too deep" not in str(excinfo.value)


def test_invalid_metadata_beside_an_installed_version_fails_as_pip_does():
    """With the installed version in the running (here: -U), pip makes the newer candidate outside
    the loop that ignores invalid metadata, and its MetadataInvalid ends the run."""
    installed = {**BASE_ENV, "badmeta": ("1.0", [])}
    with pytest.raises(ResolutionImpossible, match="invalid metadata"):
        run(["-U", "badmeta"], installed=installed)


def test_index_metadata_file_of_an_sdist_is_used_as_pip_uses_it(tmp_path):
    """antlr4-python3-runtime 4.9.3 (omegaconf's dependency) is an sdist with a Metadata-Version
    1.0 PKG-INFO: pip builds it, unless the index serves its core metadata as a PEP 658 file, which
    pip 26.3 takes for any distribution (the local index advertises one for every file). Only with
    hashes required does pip fetch the sdist itself."""
    from guard.errors import NeedsPipFallback
    from guard.index.client import IndexClient
    from guard.index.settings import IndexSettings
    from tests.support.index_server import LocalIndex

    sha = "f224469b4168294902bb1efa80a8bf7855f24c99aef99cbefc1bcd3cce77881b"
    (tmp_path / "hashed.txt").write_text(f"antlr4-python3-runtime==4.9.3 --hash=sha256:{sha}\n")
    snap = snapshot_with(BASE_ENV, ("numpy", "torch"))
    with LocalIndex() as index:

        def simulate(argv):
            request = parse_pip_argv(["install", *argv], config={}, environ={}, cwd=str(tmp_path))
            client = IndexClient(IndexSettings(index_url=index.url), cache_dir=None)
            return simulate_install(request, snap, client)[0]

        plan = simulate(["antlr4-python3-runtime==4.9.3"])
        assert [(c.name, c.proposed) for c in plan.changes] == [("antlr4-python3-runtime", "4.9.3")]
        with pytest.raises(NeedsPipFallback, match="sdist whose dependencies need a build"):
            simulate(["-r", str(tmp_path / "hashed.txt")])
