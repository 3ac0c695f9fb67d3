#!/usr/bin/env bash
# The README's first command: a virtualenv in .venv with the project and its test extras (py-rattler
# and conda-package-handling build the sample conda env), then the demo. Arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
exec .venv/bin/python scripts/demo.py "$@"
