#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run them.
#   - a virtualenv in .venv with the exact versions of requirements/test.lock (hashes checked),
#     then the package itself, built from this checkout without dependencies and without
#     build isolation (setuptools comes from the lock too)
#   - the real helm and kubectl binaries (scripts/install-tools.sh, cached outside the repo)
# Then ruff, mypy (strict), lint-imports (the layering contracts in pyproject.toml) and pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/golden -q).
# The same suite against the newest versions pyproject.toml allows: scripts/test-latest.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --require-hashes -r requirements/build.lock  # pip first
.venv/bin/python -m pip install --quiet --require-hashes -r requirements/test.lock
# Not editable: an editable install of this flat layout makes setuptools warn, and CI should
# test what a user installs. The tests import the checkout (pytest runs from here), and this
# script reinstalls on every run, so the installed copy never lags behind.
rm -rf build  # setuptools' build/lib keeps modules deleted since; they would be installed
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation .
./scripts/install-tools.sh >/dev/null

.venv/bin/ruff check webhook tests
.venv/bin/mypy
.venv/bin/lint-imports --no-logo
exec .venv/bin/python -m pytest -m "not slow" "$@"
