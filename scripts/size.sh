#!/usr/bin/env bash
# Stripped sizes of every library variant and what each links dynamically.
#   scripts/size.sh [--profile NAME]     (default: small, fat LTO)
# Variants (cargo features):
#   xp2p-default          OpenSSL DTLS, TURN over TCP and TLS, mDNS, PMTU
#                         discovery (the default features)
#   xp2p-mbedtls          mbedTLS DTLS, TURN over TCP (no TLS), mDNS, PMTU
#   xp2p-minimal-mbedtls  mbedTLS DTLS and PMTU discovery only: no TURN over
#                         TCP or TLS, no mDNS
#   xbase                 libxbase.so
# Each is built with cargo into target/ (cargo only redoes what changed),
# copied and stripped (strip --strip-all) into build/size/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=small
while [ $# -gt 0 ]; do
  case $1 in
    --profile) profile=$2; shift 2 ;;
    *) echo "usage: $0 [--profile NAME]" >&2; exit 2 ;;
  esac
done
cd "$root"
out=$root/build/size
mkdir -p "$out"
dir=target/$profile
[ "$profile" = dev ] && dir=target/debug

# NAME PACKAGE CARGO-ARGS...: builds, copies, strips.
variant() {
  local name=$1 pkg=$2 lib=lib$2.so; shift 2
  cargo build -q --profile "$profile" -p "$pkg" "$@" >&2
  cp "$dir/$lib" "$out/$name.so"
  strip --strip-all "$out/$name.so"
}

# Two invocations: built together, cargo would unify xbase's features.
variant xp2p-default xp2p
variant xp2p-mbedtls xp2p --no-default-features --features dtls-mbedtls,turn-tcp,mdns,pmtu
variant xp2p-minimal-mbedtls xp2p --no-default-features --features dtls-mbedtls,pmtu
variant xbase xbase

printf '%-24s %10s %9s  %s\n' variant bytes KiB "dynamic dependencies (NEEDED)"
for name in xp2p-default xp2p-mbedtls xp2p-minimal-mbedtls xbase; do
  f=$out/$name.so
  bytes=$(stat -c %s "$f")
  needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  printf '%-24s %10d %9.1f  %s\n' "$name" "$bytes" "$(awk -v b="$bytes" 'BEGIN { print b / 1024 }')" "$needed"
done
