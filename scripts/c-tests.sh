#!/usr/bin/env bash
# Builds and installs the package into a scratch prefix, checks the exported
# symbols and the pkg-config file, then builds the C test suite against the
# installed tree and runs it with ctest.
# Environment: XP2P_BUILD_DIR (default build/), XP2P_DTLS=openssl|mbedtls
# (the DTLS backend, default openssl), XP2P_CTESTS (a ctest -R regex: run
# only the matching tests, also under valgrind; `mbedtls-set` names the
# DTLS, SCTP, data channel and PeerConnection tests the test command runs
# for the mbedTLS build), XP2P_VALGRIND=0 (skip the
# valgrind pass), XP2P_CMAKE_ARGS (more options for the package's CMake
# configure step, space-separated, e.g. "-DXP2P_DEVICE=ON -DXP2P_MDNS=OFF").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${XP2P_BUILD_DIR:-$root/build}")
prefix=$build/prefix
dtls=${XP2P_DTLS:-openssl}
only=${XP2P_CTESTS:-}
if [ "$only" = mbedtls-set ]; then
  only='^(test_abi_layout|test_dtls_backend|test_dtls_transport|test_sctp_transport|test_datachannel_mgr|test_peer_connection|quickstart_pair)$'
fi
cd "$root"

read -r -a extra <<<"${XP2P_CMAKE_ARGS:-}"
cmake -S . -B "$build/pkg" -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DXP2P_DTLS="$dtls" "${extra[@]}" >/dev/null
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
# Waits for expected events are stretched (c-tests/check.h check_wait_ms):
# sanitizers and a busy machine slow everything down.
XP2P_TEST_WAIT_SCALE=${XP2P_TEST_WAIT_SCALE:-4} ctest --output-on-failure -j"$(nproc)" \
  ${only:+-R "$only"}

# The same suite without sanitizers under valgrind (memory errors and
# definite leaks fail the run).
if command -v valgrind >/dev/null && [ "${XP2P_VALGRIND:-1}" != 0 ]; then
  cd "$root"
  cmake -S c-tests -B "$build/ctests-vg" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug \
    -DXP2P_SANITIZE=OFF >/dev/null
  cmake --build "$build/ctests-vg" -j"$(nproc)" >/dev/null
  # Two at a time (as ctest above); each writes its own log and status.
  vg_run() {
    local t=$1
    XP2P_INTERFACES=lo XP2P_TEST_WAIT_SCALE=${XP2P_TEST_WAIT_SCALE_VALGRIND:-15} valgrind -q \
      --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$t" >"$t.vg.log" 2>&1
    echo $? >"$t.vg.rc"
  }
  export -f vg_run
  rm -f "$build"/ctests-vg/*.vg.rc
  for t in "$build"/ctests-vg/test_*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    [ -z "$only" ] || [[ $(basename "$t") =~ $only ]] || continue
    printf '%s\0' "$t"
  done | xargs -0 -n1 -P"$(nproc)" bash -c 'vg_run "$1"' vg_run
  vg_pass=0; vg_fail=0
  for t in "$build"/ctests-vg/test_*; do
    [ -x "$t" ] && [ -f "$t.vg.rc" ] || continue
    if [ "$(cat "$t.vg.rc")" = 0 ]; then
      vg_pass=$((vg_pass + 1))
    else
      vg_fail=$((vg_fail + 1)); echo "valgrind: $(basename "$t") failed:"; tail -40 "$t.vg.log"
    fi
  done
  echo "valgrind: $vg_pass passed, $vg_fail failed"
  [ "$vg_fail" = 0 ]
fi
