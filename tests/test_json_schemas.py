"""Every ``--json`` output has a versioned JSON Schema shipped in the package
(``guard/data/schemas/<command>.schema.json``): the real commands, run as a user runs them (a
subprocess) on a real conda env against the local index, print what their schema allows, and the
schemas are strict enough to refuse a wrong key or a wrong type."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from tests.support.conda_prefix import ML_CUDA_ENV
from tests.support.index_server import LocalIndex

jsonschema = pytest.importorskip("jsonschema", reason="test extra: pip install -e '.[test]'")
referencing = pytest.importorskip("referencing")

COMMANDS = ("check", "why", "status", "doctor", "log", "check-requirements")

ENVIRONMENT_YML = """\
name: demo
channels: [conda-forge]
dependencies:
  - pytorch=2.1
  - python=3.11
  - numpy=1.26
  - pip:
    - numpy<2
"""


def schema_of(command: str) -> dict:
    """The schema as the installed package ships it (package data, not the checkout's path)."""
    text = resources.files("guard").joinpath("data", "schemas", f"{command}.schema.json").read_text("utf-8")
    return json.loads(text)


def validator(command: str):
    """A validator for ``command``'s schema; the other schemas are its registry (``why`` refers to
    ``check``'s definition of a change)."""
    from referencing.jsonschema import DRAFT202012

    schemas = [schema_of(c) for c in COMMANDS]
    registry = referencing.Registry().with_resources(
        (s["$id"], referencing.Resource.from_contents(s, default_specification=DRAFT202012)) for s in schemas
    )
    schema = schema_of(command)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def assert_valid(command: str, data) -> None:
    errors = sorted(validator(command).iter_errors(data), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.fixture(scope="module")
def index():
    with LocalIndex() as idx:
        yield idx


@pytest.fixture(scope="module")
def prefix(tmp_path_factory, conda_channel_root):
    return ML_CUDA_ENV.build(tmp_path_factory.mktemp("schemas") / "env", with_pip=True, channel_root=conda_channel_root)


@pytest.fixture(scope="module")
def env(tmp_path_factory, index):
    home = tmp_path_factory.mktemp("home")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": index.url,
        "GUARD_CACHE_DIR": str(home / "cache"),
        "XDG_STATE_HOME": str(home / "state"),
    }


def guard(*args, env, cwd=None, code=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "guard", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    if code is not None:
        assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def json_of(*args, env, cwd=None, code=None):
    return json.loads(guard(*args, env=env, cwd=cwd, code=code).stdout)


@pytest.fixture(scope="module")
def outputs(prefix, env, tmp_path_factory) -> dict[str, list]:
    """Real outputs of every command, in an order that gives each of them something to say:
    nothing blocked yet (why answers with package null), then a blocked guarded install (journaled),
    then why/log about it."""
    p = str(prefix)
    out: dict[str, list] = {c: [] for c in COMMANDS}
    out["why"].append(json_of("why", "--json", "--prefix", p, env=env, code=0))
    out["log"].append(json_of("log", "--json", "--prefix", p, env=env, code=0))
    out["check"].append(json_of("check", "--json", "--prefix", p, "--", "numpy==2.0.0", env=env, code=1))
    out["check"].append(json_of("check", "--json", "--prefix", p, "--", "transformers[torch]", env=env, code=1))
    out["check"].append(json_of("check", "--json", "--prefix", p, "--", "rich", env=env, code=0))
    out["check"].append(json_of("check", "--json", "--prefix", p, "--", "uninstall", "-y", "numpy", env=env, code=1))
    out["why"].append(json_of("why", "--json", "--prefix", p, "torch", "--", "transformers[torch]", env=env, code=0))
    out["why"].append(json_of("why", "--json", "--prefix", p, "rich", "--", "rich", env=env, code=0))
    # a real guarded install that is blocked: the journal's entry
    blocked = guard("pip", "install", "numpy==2.0.0", env={**env, "GUARD_PREFIX": p}, code=1)
    assert "blocked" in blocked.stderr
    out["why"].append(json_of("why", "--json", "--prefix", p, env=env, code=0))
    out["log"].append(json_of("log", "--json", "--prefix", p, env=env, code=0))
    out["status"].append(json_of("status", "--json", "--prefix", p, env=env, code=0))
    out["doctor"].append(json_of("doctor", "--json", "--prefix", p, env=env))
    repo = tmp_path_factory.mktemp("repo")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "environment.yml").write_text(ENVIRONMENT_YML, encoding="utf-8")
    (repo / "requirements.txt").write_text("torch==2.6.0\nnvidia-cublas-cu12\nrich\n", encoding="utf-8")
    hook = ("check-requirements", "--json", "--suggest-conda", "requirements.txt", "environment.yml")
    out["check-requirements"].append(json_of(*hook, env=env, cwd=repo, code=1))
    (repo / "requirements.txt").write_text("rich\n", encoding="utf-8")
    out["check-requirements"].append(json_of("check-requirements", "--json", "requirements.txt", env=env, cwd=repo))
    return out


@pytest.mark.parametrize("command", COMMANDS)
def test_real_output_matches_its_schema(outputs, command):
    assert outputs[command]
    for data in outputs[command]:
        assert_valid(command, data)


def test_outputs_say_what_they_are(outputs):
    """The outputs hold what the scenario did (so that the schemas were tried on full outputs)."""
    assert [c["verdict"] for c in outputs["check"]] == ["block", "block", "allow", "block"]
    nothing, torch, rich, last = outputs["why"]
    assert nothing["package"] is None and torch["blocked"] and torch["cuda_wheels"] and torch["redirect"]
    assert rich["package"] == "rich" and last["package"] == "numpy" and last["time"]
    before, after = outputs["log"]
    assert before == [] and [(e["schema"], e["verdict"], e["argv"][-1]) for e in after] == [
        (1, "block", "numpy==2.0.0")
    ]
    assert outputs["status"][0]["protected"] and outputs["doctor"][0]["ok"]
    findings = outputs["check-requirements"][0]["findings"]
    assert {f["severity"] for f in findings} >= {"error", "note"}
    assert findings[0] == {
        "path": "requirements.txt",
        "line": 1,
        "severity": "error",
        "message": "torch==2.6.0: torch is provided by conda (environment.yml:4 pytorch=2.1)"
        " - remove it here or change environment.yml",
    }
    assert outputs["check-requirements"][1] == {"schema": 1, "findings": []}


# what a reader may rely on being there, per command (for log: per entry)
REQUIRED = {
    "check": ("schema", "verdict", "prefix", "command", "changes", "reasons", "warnings"),
    "why": ("schema", "package", "command", "verdict"),
    "status": ("schema", "prefix", "protected", "shims"),
    "doctor": ("schema", "prefix", "findings", "ok"),
    "log": ("schema", "time", "argv", "verdict"),
    "check-requirements": ("schema", "findings"),
}


def _mutations(command: str, data: dict):
    """Wrong keys and wrong types at the top, required keys taken away."""
    yield "an unknown key", {**data, "unexpected": 1}
    for key, value in data.items():
        yield f"a wrong type for {key!r}", {**data, key: {"not": "this"} if not isinstance(value, dict) else "not this"}
    for key in REQUIRED[command]:
        yield f"no {key!r}", {k: v for k, v in data.items() if k != key}


@pytest.mark.parametrize("command", COMMANDS)
def test_schema_refuses_a_wrong_key_or_type(outputs, command):
    check = validator(command)
    data = outputs[command][-1]
    one = data[-1] if command == "log" else data  # log: an array of entries

    def valid(item) -> bool:
        return check.is_valid([item] if command == "log" else item)

    assert valid(one)
    for what, wrong in _mutations(command, one):
        assert not valid(wrong), f"{command}: the schema allows {what}"
    assert not valid({**one, "schema": 2}), "another schema version must not pass"


def test_schemas_are_package_data():
    """pyproject ships them (setuptools' ``data/*`` does not reach into data/schemas/), and each
    names its command and version in its title."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text("utf-8"))
    assert "data/schemas/*.json" in pyproject["tool"]["setuptools"]["package-data"]["guard"]
    for command in COMMANDS:
        assert schema_of(command)["title"] == f"guard {command} --json (schema 1)"


@pytest.mark.parametrize(
    "command, key",
    [
        ("check", "changes"),
        ("check", "reasons"),
        ("why", "blocked"),
        ("why", "cuda_wheels"),
        ("status", "protected"),
        ("doctor", "ok"),
        ("check-requirements", "findings"),
    ],
)
def test_schema_refuses_a_wrong_key_in_an_item(outputs, command, key):
    """The items of the arrays are held as strictly as the object around them."""
    check = validator(command)
    data = next(d for d in outputs[command] if isinstance(d, dict) and d.get(key))
    first = data[key][0]
    assert not check.is_valid({**data, key: [{**first, "unexpected": 1}]})
    name = next(iter(first))
    assert not check.is_valid({**data, key: [{**first, name: 3.5}]}), f"{command}.{key}[].{name} took a float"
