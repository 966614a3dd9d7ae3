#!/usr/bin/env bash
# The device packages built, installed and tested as a device maker would
# (README, "Checking the device builds"). For each build below:
# scripts/c-tests.sh with its CMake options (install, exported symbols,
# pkg-config consumer, the C tests under ASan and UBSan), then the stripped
# size of the installed libxp2p against its goal.
#   scripts/device-check.sh [NAME]...   (default: every build)
# Builds (NAME: CMake options; C tests; size goal):
#   device          -DXP2P_DEVICE=ON; every C test; 900 KiB
#   device-minimal  -DXP2P_DEVICE=ON, mbedTLS without ring, no TURN over
#                   TCP/TLS, no mDNS; the mbedTLS build's C tests; none
#   abort           -DXP2P_DEVICE_ABORT=ON; every C test; 900 KiB
#   abort-minimal   -DXP2P_DEVICE_ABORT=ON, minimal as above; the mbedTLS
#                   build's C tests; 600 KiB
# Not part of the test command: each build rebuilds the Rust standard
# library (the rust-src component, which this installs with rustup when it
# is missing) and takes minutes. Packages go to build/device/<NAME>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

minimal="-DXP2P_DTLS=mbedtls -DXP2P_MDNS=OFF -DXP2P_TURN_TCP=OFF -DXP2P_MBEDTLS_RING=OFF"
declare -A opts=(
  [device]="-DXP2P_DEVICE=ON"
  [device-minimal]="-DXP2P_DEVICE=ON $minimal"
  [abort]="-DXP2P_DEVICE_ABORT=ON"
  [abort-minimal]="-DXP2P_DEVICE_ABORT=ON $minimal"
)
# The C tests the test command runs for the mbedTLS build (scripts/c-tests.sh).
declare -A tests=([device-minimal]=mbedtls-set [abort-minimal]=mbedtls-set)
declare -A goal=([device]=900 [abort]=900 [abort-minimal]=600)
all=(device device-minimal abort abort-minimal)

names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")
for n in "${names[@]}"; do
  [ -n "${opts[$n]:-}" ] || { echo "unknown build '$n' (known: ${all[*]})" >&2; exit 2; }
done

if [ ! -f "$(rustc --print sysroot)/lib/rustlib/src/rust/library/std/Cargo.toml" ]; then
  echo "installing the rust-src component (the device build rebuilds std)" >&2
  rustup component add rust-src
fi

results=()
failed=0
for n in "${names[@]}"; do
  echo "==> $n: ${opts[$n]}"
  dtls=openssl
  [[ ${opts[$n]} == *XP2P_DTLS=mbedtls* ]] && dtls=mbedtls
  dir=$root/build/device/$n
  status=passed
  XP2P_BUILD_DIR=$dir XP2P_DTLS=$dtls XP2P_VALGRIND=0 XP2P_CMAKE_ARGS="${opts[$n]}" \
    XP2P_CTESTS="${tests[$n]:-}" scripts/c-tests.sh || status=FAILED
  lib=$(find "$dir/prefix" -name 'libxp2p.so.*.*.*' 2>/dev/null | head -1)
  bytes=0
  if [ -n "$lib" ]; then
    strip --strip-all -o "$dir/libxp2p.stripped.so" "$lib"
    bytes=$(stat -c %s "$dir/libxp2p.stripped.so")
  else
    status=FAILED
  fi
  g=${goal[$n]:-}
  verdict=""
  if [ -n "$g" ]; then
    if [ "$bytes" -le $((g * 1024)) ]; then verdict="<= $g KiB"; else verdict="OVER $g KiB"; status=FAILED; fi
  fi
  [ "$status" = passed ] || failed=1
  results+=("$(printf '%-16s %-7s %10d B %8.1f KiB  %s' "$n" "$status" "$bytes" \
    "$(awk -v b="$bytes" 'BEGIN { print b / 1024 }')" "$verdict")")
done

echo
printf '%s\n' "${results[@]}"
exit $failed
