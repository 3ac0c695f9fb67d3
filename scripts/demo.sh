#!/usr/bin/env bash
# The README's first command: a virtualenv in .venv with the project and its test extras (py-rattler
# and conda-package-handling build the sample conda env), then the demo. Arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Installed once: .venv/.installed holds the sha256 of the pyproject.toml it was installed from, so
# later runs skip pip (and the network: the build backend is fetched for every install) until
# pyproject.toml changes or .venv is removed; the project itself is installed editable.
stamp="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat .venv/.installed 2>/dev/null)" != "$stamp" ] || [ ! -x .venv/bin/guard ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  echo "$stamp" >.venv/.installed
fi
exec .venv/bin/python scripts/demo.py "$@"
