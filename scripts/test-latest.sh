#!/usr/bin/env bash
# The whole suite against the NEWEST versions pyproject.toml's ranges allow, not the lock:
# finds the next breaking release of a dependency (msgspec 0.23 changed an error type) before
# a user does. Not part of .ci/run (its result changes with the index); run it by hand before
# a release and after `scripts/lock.sh --upgrade`.
#   scripts/test-latest.sh [pytest args]
# Uses its own virtualenv, .venv-latest, so the locked .venv stays as it is. Prints the
# versions it got (pip freeze) before the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv-latest
.venv-latest/bin/python -m pip install --quiet --upgrade pip
# Build isolation on purpose: the newest setuptools the build-system range allows, too.
rm -rf build  # setuptools' build/lib keeps modules deleted since; they would be installed
.venv-latest/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager '.[test]'
echo "== newest versions the ranges allow (pip freeze)"
.venv-latest/bin/python -m pip freeze --exclude downward-webhook
./scripts/install-tools.sh >/dev/null

.venv-latest/bin/ruff check webhook tests
.venv-latest/bin/mypy
.venv-latest/bin/lint-imports --no-logo
exec .venv-latest/bin/python -m pytest -m "not slow" "$@"
