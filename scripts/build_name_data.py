"""Regenerate ``guard/data/pypi_to_conda.json`` (PyPI name -> conda-forge package, for the
redirect) from the shared reference data.

Inputs (paths, defaults relative to the repository's parent directory):

* ``shared/data/pypi_conda_names.json``: PyPI names whose conda-forge package is named
  differently (``pypi_to_conda``), the curated ``same_name_overrides`` (``matplotlib`` ->
  ``matplotlib-base``) and the pytorch-channel names;
* ``shared/data/conda_forge_pypi_names.txt``: PyPI names shipped by a conda-forge package of
  exactly that name.

Usage: ``python scripts/build_name_data.py [SHARED_DATA_DIR]``. The output is compact (one line
per section) and records its sources inside.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "guard" / "data" / "pypi_to_conda.json"


def build(shared: Path) -> dict:
    names = json.loads((shared / "pypi_conda_names.json").read_text(encoding="utf-8"))
    same = sorted(
        {
            line.strip()
            for line in (shared / "conda_forge_pypi_names.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        }
    )
    renamed = dict(sorted(names["pypi_to_conda"].items()))
    # curated preferences (lean '-base'/'-core' splits) win over the same-named package
    overrides = {k: v["conda"] for k, v in sorted(names["same_name_overrides"].items())}
    src = names["source"]
    return {
        "schema_version": 1,
        "source": {
            "derived_from": [
                f"shared/data/pypi_conda_names.json (generated {names.get('generated')})",
                "shared/data/conda_forge_pypi_names.txt",
            ],
            "upstream": {
                k: (v if isinstance(v, (str, dict)) else [d.get("repo") + "/" + d.get("path") for d in v])
                for k, v in src.items()
            },
            "generator": "scripts/build_name_data.py",
        },
        "rules": "lookup order: overrides, renamed, same_name (a conda-forge package of that exact name ships the "
        "dist). Keys are PEP 503-normalized PyPI names; values are exact conda-forge names.",
        "overrides": overrides,
        "renamed": renamed,
        "same_name": " ".join(same),
    }


def main(argv: list[str]) -> int:
    shared = Path(argv[0]) if argv else ROOT.parent / "shared" / "data"
    data = build(shared)
    text = (
        "{\n" + ",\n".join(f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in data.items()) + "\n}\n"
    )
    OUT.write_text(text, encoding="utf-8")
    print(
        f"wrote {OUT} ({len(text)} bytes, {len(data['renamed'])} renamed, "
        f"{data['same_name'].count(' ') + 1} same-name, {len(data['overrides'])} overrides)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
