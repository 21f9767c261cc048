#!/usr/bin/env bash
# Run the webhook locally over TLS with self-signed certificates made on the spot.
#   scripts/dev-serve.sh [extra serve flags]
# Certificates go to .dev/certs (CA in .dev/certs/ca.crt); the server listens on
# https://127.0.0.1:8443. Try: curl --cacert .dev/certs/ca.crt https://127.0.0.1:8443/healthz
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
# Every time: a .venv from an older checkout may lack a dependency added since. The exact
# versions of requirements/runtime.lock (hashes checked; the same pins as the tests' lock),
# then this checkout without dependencies or build isolation (setuptools is in the lock).
.venv/bin/python -m pip install --quiet --require-hashes -r requirements/build.lock
.venv/bin/python -m pip install --quiet --require-hashes -r requirements/runtime.lock
rm -rf build  # setuptools' build/lib keeps modules deleted since; they would be installed
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation .
.venv/bin/downward-webhook certs generate --service downward-webhook --namespace downward \
  --out-dir .dev/certs
exec .venv/bin/downward-webhook serve --host 127.0.0.1 --port "${PORT:-8443}" \
  --tls-cert .dev/certs/tls.crt --tls-key .dev/certs/tls.key "$@"
