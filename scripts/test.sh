#!/usr/bin/env bash
# The test command (README, .ci/run): a fresh virtualenv in .venv, the project and its test extras
# installed into it, the quality gates (layers, lint, format, types), then pytest. Extra arguments
# go to pytest (and skip the gates: `bash scripts/test.sh -k why` is a quick local run).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
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
