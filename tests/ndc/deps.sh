#!/usr/bin/env bash
# Installs node-datachannel (pinned; libdatachannel inside, as a prebuilt
# binary from the npm registry) into $XP2P_BUILD_DIR/ndc-interop (default
# build/ndc-interop) unless it is already there, or reuses the copy
# scripts/bench.sh installed in build/bench/ndc when it is the same version.
# Prints the path of the package's ESM entry file on success. Needs node and
# npm (installs Debian's nodejs and npm when missing, as root).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${XP2P_BUILD_DIR:-$root/build}
NDC_VERSION=0.33.4
entry=node_modules/node-datachannel/dist/esm/lib/index.mjs

need=()
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing ${need[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "deps.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# have DIR: DIR holds node-datachannel $NDC_VERSION.
have() {
  [ -f "$1/$entry" ] &&
    node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
      "$1/node_modules/node-datachannel/package.json" "$NDC_VERSION" 2>/dev/null
}
for dir in "$build/ndc-interop" "$build/bench/ndc"; do
  if have "$dir"; then
    echo "$dir/$entry"
    exit 0
  fi
done
dir=$build/ndc-interop
echo "deps.sh: installing node-datachannel@$NDC_VERSION into $dir" >&2
rm -rf "$dir"
mkdir -p "$dir"
echo '{"private":true}' >"$dir/package.json"
(cd "$dir" && npm install --no-audit --no-fund --no-save --registry=https://registry.npmjs.org/ \
  "node-datachannel@$NDC_VERSION") >&2
have "$dir" || { echo "deps.sh: node-datachannel $NDC_VERSION is not usable in $dir" >&2; exit 1; }
echo "$dir/$entry"
