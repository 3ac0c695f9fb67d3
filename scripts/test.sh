#!/usr/bin/env bash
# The test command (README, .ci/run): a virtualenv in .venv, the project and its test extras installed
# into it once (see below), the quality gates (layers, lint, format, types), then pytest. Extra arguments
# go to pytest (and skip the gates: `bash scripts/test.sh -k why` is a quick local run).
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
if [ "$#" -eq 0 ]; then
  echo "== import layers (import-linter)"
  .venv/bin/lint-imports --no-cache
  echo "== lint and format (ruff)"
  .venv/bin/ruff check guard tests benchmarks scripts
  .venv/bin/ruff format --check guard tests benchmarks scripts
  echo "== types (mypy)"
  .venv/bin/mypy
fi
exec .venv/bin/python -m pytest "$@"
