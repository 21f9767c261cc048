#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run them.
#   - a virtualenv in .venv with the package and its test extras
#   - the real helm and kubectl binaries (scripts/install-tools.sh, cached outside the repo)
# Extra arguments go to pytest (e.g. scripts/test.sh tests/golden -q).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
./scripts/install-tools.sh >/dev/null

.venv/bin/ruff check webhook tests
.venv/bin/mypy
exec .venv/bin/python -m pytest -m "not slow" "$@"
