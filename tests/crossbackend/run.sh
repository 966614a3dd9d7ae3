#!/usr/bin/env bash
# Our OpenSSL build against our mbedTLS build, as two processes on loopback:
# the Quick Start example (a message each way) and xp2p_bench (20 MiB over a
# reliable channel, SHA-256 compared), each with either build as offerer, so
# each backend plays DTLS client and server.
#   tests/crossbackend/run.sh OPENSSL_PREFIX MBEDTLS_PREFIX
# The prefixes are installed packages (scripts/c-tests.sh installs both).
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# = 2 ] || { echo "usage: $0 OPENSSL_PREFIX MBEDTLS_PREFIX" >&2; exit 2; }
work=$(mktemp -d /tmp/xp2p-crossbackend.XXXXXX)
trap 'rm -rf "$work"' EXIT
export XP2P_INTERFACES=lo
pass=0 fail=0

build() { # NAME PREFIX
  local libdir
  libdir=$(dirname "$(find "$2" -name 'libxp2p.so' | head -1)")
  [ -d "$libdir" ] || { echo "crossbackend: no libxp2p.so under $2"; return 1; }
  local pc="$libdir/pkgconfig"
  local flags
  flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs xp2p) || return 1
  # shellcheck disable=SC2086
  gcc -std=c99 -O2 -D_GNU_SOURCE -I"$root/examples-c" "$root/examples-c/quickstart.c" $flags \
    -Wl,-rpath,"$libdir" -o "$work/quickstart-$1" &&
  gcc -std=c99 -O2 -D_GNU_SOURCE "$root/bench/xp2p_bench.c" $flags -lcrypto \
    -Wl,-rpath,"$libdir" -o "$work/bench-$1" &&
  echo "$1: $(PKG_CONFIG_PATH=$pc pkg-config --variable=dtls_backend xp2p)"
}
build openssl "$1" && build mbedtls "$2" || { echo "0 passed, 1 failed"; exit 1; }
# Each program loads its own library: only the mbedTLS one pulls in libmbedtls.
ldd "$work/quickstart-mbedtls" | grep -q 'libmbedtls\.so' &&
  ! ldd "$work/quickstart-openssl" | grep -q 'libmbedtls\.so' ||
  { echo "crossbackend: the programs do not load the libraries of their prefixes"; ldd "$work"/quickstart-*; echo "0 passed, 1 failed"; exit 1; }

result() { # NAME RC
  if [ "$2" = 0 ]; then pass=$((pass + 1)); echo "PASS $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi
}

quickstart() { # OFFERER ANSWERER
  sh "$root/c-tests/quickstart_pair.sh" "$work/quickstart-$1" "$work/quickstart-$2" \
    >"$work/qs-$1-$2.log" 2>&1
  local rc=$?
  [ $rc = 0 ] || tail -30 "$work/qs-$1-$2.log"
  result "quickstart $1 offer, $2 answer" $rc
}

transfer() { # SERVER CLIENT
  local bytes=20971520 sock=$work/bench-$1-$2.sock
  timeout 120 "$work/bench-$1" server --signal "$sock" >"$work/srv-$1-$2.log" 2>&1 &
  local spid=$!
  timeout 120 "$work/bench-$2" client --signal "$sock" --mode throughput --bytes $bytes \
    >"$work/cli-$1-$2.log" 2>&1
  local crc=$?
  wait $spid; local src=$?
  local s r
  s=$(sed -n 's/^sender sha256 \([0-9a-f]\{64\}\)$/\1/p' "$work/cli-$1-$2.log")
  r=$(sed -n 's/^receiver sha256 \([0-9a-f]\{64\}\)$/\1/p' "$work/srv-$1-$2.log")
  local ok=1
  [ $crc = 0 ] && [ $src = 0 ] && [ -n "$s" ] && [ "$s" = "$r" ] || ok=0
  if [ $ok = 1 ]; then
    echo "  $bytes bytes, sha256 $r on both ends; $(grep '^RESULT' "$work/cli-$1-$2.log" | tail -1)"
  else
    echo "  client exit $crc, server exit $src, sender ${s:-?}, receiver ${r:-?}"
    tail -10 "$work/cli-$1-$2.log" "$work/srv-$1-$2.log"
  fi
  result "transfer $2 client -> $1 server" $((1 - ok))
}

quickstart openssl mbedtls
quickstart mbedtls openssl
transfer openssl mbedtls
transfer mbedtls openssl
echo "$pass passed, $fail failed"
[ $fail = 0 ]
