#!/usr/bin/env bash
# Regenerate the pinned, hashed locks in requirements/ from pyproject.toml's ranges.
#   scripts/lock.sh            # keep current pins where the ranges still allow them
#   scripts/lock.sh --upgrade  # move every pin to the newest version the ranges allow
#
# Three locks, resolved once for every platform and Python >= 3.11 (`--universal`), so one
# file serves a developer's x86-64 machine and the image's linux/amd64 and linux/arm64 builds:
#   requirements/test.lock     runtime + test extras + build tools (scripts/test.sh, CI)
#   requirements/runtime.lock  runtime only (the Dockerfile, scripts/dev-serve.sh)
#   requirements/build.lock    pip and setuptools (the build backend, installs without isolation)
#   requirements/bench.lock    runtime + bench/requirements.txt (bench/run.sh)
# runtime.lock, build.lock and bench.lock are constrained by test.lock, so the image runs exactly the
# versions the tests ran. The tool is uv's `pip compile`, pinned here; it is installed from
# PyPI into a cache folder outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

uv_version="0.13.9"
tools="${XDG_CACHE_HOME:-$HOME/.cache}/downward-webhook/uv-$uv_version"
if [ ! -x "$tools/bin/uv" ]; then
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install --quiet "uv==$uv_version"
fi
compile() {
  "$tools/bin/uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes \
    --custom-compile-command "scripts/lock.sh" "$@"
}
compile "$@" pyproject.toml --extra test requirements/build.in -o requirements/test.lock
compile "$@" pyproject.toml -c requirements/test.lock -o requirements/runtime.lock
compile "$@" requirements/build.in -c requirements/test.lock -o requirements/build.lock
compile "$@" pyproject.toml bench/requirements.txt -c requirements/test.lock \
  -o requirements/bench.lock
echo "lock: wrote requirements/{test,runtime,build,bench}.lock" >&2
