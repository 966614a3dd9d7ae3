#!/usr/bin/env bash
# Builds and installs the package into build/prefix, builds the C examples
# against the installed tree and runs the demo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/deps.sh
build=${XP2P_BUILD_DIR:-$root/build}
cmake -S . -B "$build/pkg" -DCMAKE_INSTALL_PREFIX="$build/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build/pkg"
cmake --install "$build/pkg" >/dev/null
cmake -S examples-c -B "$build/examples" -DCMAKE_PREFIX_PATH="$build/prefix" >/dev/null
cmake --build "$build/examples" >/dev/null
"$build/examples/codec_demo"
