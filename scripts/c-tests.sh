#!/usr/bin/env bash
# Builds and installs the package into a scratch prefix, checks the exported
# symbols and the pkg-config file, then builds the C test suite against the
# installed tree and runs it with ctest.
# Environment: XP2P_BUILD_DIR (default build/), XP2P_DTLS=openssl|mbedtls
# (the DTLS backend, default openssl), XP2P_CTESTS (a ctest -R regex: run
# only the matching tests, also under valgrind), XP2P_VALGRIND=0 (skip the
# valgrind pass).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${XP2P_BUILD_DIR:-$root/build}")
prefix=$build/prefix
dtls=${XP2P_DTLS:-openssl}
only=${XP2P_CTESTS:-}
cd "$root"

cmake -S . -B "$build/pkg" -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DXP2P_DTLS="$dtls" >/dev/null
cmake --build "$build/pkg"
rm -rf "$prefix"
cmake --install "$build/pkg" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libxp2p.so' | head -1)")

scripts/check-symbols.sh "$libdir/libxp2p.so"

# A consumer that only knows pkg-config.
export PKG_CONFIG_PATH=$libdir/pkgconfig
gcc -std=c99 -Wall -Wextra -Werror examples-c/codec_demo.c $(pkg-config --cflags --libs xp2p) \
  -Wl,-rpath,"$libdir" -o "$build/codec_demo_pkgconfig"
"$build/codec_demo_pkgconfig" >/dev/null
echo "pkg-config consumer ok"

cmake -S c-tests -B "$build/ctests" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build/ctests" -j"$(nproc)"
cd "$build/ctests"
ctest --output-on-failure -j"$(nproc)" ${only:+-R "$only"}

# The same suite without sanitizers under valgrind (memory errors and
# definite leaks fail the run).
if command -v valgrind >/dev/null && [ "${XP2P_VALGRIND:-1}" != 0 ]; then
  cd "$root"
  cmake -S c-tests -B "$build/ctests-vg" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug \
    -DXP2P_SANITIZE=OFF >/dev/null
  cmake --build "$build/ctests-vg" -j"$(nproc)" >/dev/null
  vg_pass=0; vg_fail=0
  for t in "$build"/ctests-vg/test_*; do
    [ -x "$t" ] || continue
    [ -z "$only" ] || [[ $(basename "$t") =~ $only ]] || continue
    if XP2P_INTERFACES=lo valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite "$t" >"$t.vg.log" 2>&1; then
      vg_pass=$((vg_pass + 1))
    else
      vg_fail=$((vg_fail + 1)); echo "valgrind: $(basename "$t") failed:"; tail -40 "$t.vg.log"
    fi
  done
  echo "valgrind: $vg_pass passed, $vg_fail failed"
  [ "$vg_fail" = 0 ]
fi
