#!/usr/bin/env bash
# The whole test suite (what CI runs): formatting, lints, header freshness,
# Rust tests, then the installed package and the C suite under ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/deps.sh

step() { printf '\n==> [%4d s] %s\n' "$SECONDS" "$*"; }
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "generated headers are current"
scripts/gen-headers.sh --check
step "cargo test"
cargo test --workspace --quiet
# The fuzz targets build and run beside the steps below (most of which wait
# on timers and peers more than they compute); their outcome is checked at
# the end.
fuzz_secs=${XP2P_FUZZ_SECONDS:-10}
fuzz_log=$root/build/fuzz-step.log
fuzz_pid=
if [ "$fuzz_secs" != 0 ]; then
  step "fuzz targets, $fuzz_secs s each, in the background (scripts/fuzz.sh; XP2P_FUZZ_SECONDS=0 skips)"
  mkdir -p "$root/build"
  setsid scripts/fuzz.sh "$fuzz_secs" >"$fuzz_log" 2>&1 &
  fuzz_pid=$!
  # A step that fails ends the suite: stop the fuzzers with it.
  trap '[ -z "$fuzz_pid" ] || kill -- -"$fuzz_pid" 2>/dev/null || true' EXIT
fi
step "C suite (installed package, ctest)"
scripts/c-tests.sh
step "network namespaces: ICE across a link, through NATs, consent loss"
if [ "$(id -u)" = 0 ]; then
  tests/netns/run.sh
else
  echo "skipped: needs root to create network namespaces (run tests/netns/run.sh as root)"
fi
step "two processes: 100 MB over one reliable channel, SHA-256 checked"
tests/transfer/run.sh
step "two processes: a slow receiver (64 MiB, 2 ms per message, 3 s stall): bounded memory, every byte, back-pressure"
tests/transfer/slow_receiver.sh --bytes 67108864 --stall-ms 3000
step "interoperability: aiortc as the other peer (both roles)"
tests/interop/run.sh
step "interoperability: headless Chromium as the other peer (mDNS names on and off, 50 MB each way)"
if [ "$(id -u)" = 0 ]; then
  tests/chromium/deps.sh >/dev/null # may install Debian's chromium
  timeout 900 tests/chromium/run.sh
else
  echo "skipped: needs root to create the network namespace (run tests/chromium/run.sh as root)"
fi
step "interoperability: libdatachannel (node-datachannel) as the other peer (both roles, 50 MB each way)"
tests/ndc/deps.sh >/dev/null # npm install node-datachannel into build/ndc-interop
timeout 600 tests/ndc/run.sh
# Last, so the steps above reuse the default build of target/release.
step "mbedTLS build: clippy, Rust DTLS and PeerConnection tests"
cargo clippy -p xp2p --no-default-features --features dtls-mbedtls,turn-tcp,mdns,pmtu \
  --all-targets --quiet -- -D warnings
cargo test -p xp2p --no-default-features --features dtls-mbedtls,turn-tcp,mdns,pmtu --quiet \
  --lib --test dtls_handshake --test dtls_malformed --test dtls_realtime --test peer_connection
step "mbedTLS build without ring (the minimal device variant): clippy, Rust DTLS and PeerConnection tests"
cargo clippy -p xp2p --no-default-features --features dtls-mbedtls-base,pmtu \
  --all-targets --quiet -- -D warnings
cargo test -p xp2p --no-default-features --features dtls-mbedtls-base,pmtu --quiet \
  --lib --test dtls_handshake --test dtls_malformed --test dtls_realtime --test peer_connection
# The device build (README, "The device build") sets --cfg xp2p_device, which
# turns on optimize(size) for the cold functions (tests/size_attrs.rs). A full
# device build rebuilds std; checking the crate with the cfg set is enough to
# catch an attribute rustc refuses. RUSTC_BOOTSTRAP names our crate only.
step "device build's size attributes compile (cargo check --cfg xp2p_device, OpenSSL and mbedTLS without ring)"
for features in "" "--no-default-features --features dtls-mbedtls-base,pmtu"; do
  # shellcheck disable=SC2086 # $features is two words or none
  RUSTC_BOOTSTRAP=xp2p RUSTFLAGS="--cfg xp2p_device -D warnings" CARGO_TARGET_DIR="$root/target/device-cfg" \
    cargo check -p xp2p --quiet $features
done
step "mbedTLS build: installed package, DTLS/SCTP/DataChannel/PeerConnection C tests (ASan+UBSan)"
XP2P_DTLS=mbedtls XP2P_BUILD_DIR="$root/build/mbedtls" XP2P_VALGRIND=0 \
  XP2P_CTESTS=mbedtls-set \
  scripts/c-tests.sh
step "OpenSSL build <-> mbedTLS build: two processes, a message each way, 20 MiB with SHA-256"
tests/crossbackend/run.sh "$root/build/prefix" "$root/build/mbedtls/prefix"
step "mbedTLS build <-> aiortc (both roles)"
ln -sfn "$root/build/venv-aiortc" "$root/build/mbedtls/venv-aiortc" # the venv installed above
XP2P_BUILD_DIR="$root/build/mbedtls" tests/interop/run.sh chat-offers aiortc-offers
# Chromium: both roles and 50 MB each way; the other cases (mDNS off, the
# 100 MB stall, TURN relay, media sections) exercise ICE, SCTP and SDP, which
# do not depend on the DTLS backend, and run against the default build above.
step "mbedTLS build <-> headless Chromium (both roles, 50 MB each way)"
if [ "$(id -u)" = 0 ]; then
  XP2P_BUILD_DIR="$root/build/mbedtls" timeout 600 tests/chromium/run.sh browser-offers xp2p-offers bulk
else
  echo "skipped: needs root to create the network namespace"
fi
step "mbedTLS build <-> libdatachannel (all five cases: both roles, 50 MB each way)"
if [ -d "$root/build/ndc-interop/node_modules" ]; then # node-datachannel as installed above
  mkdir -p "$root/build/mbedtls/ndc-interop"
  ln -sfn "$root/build/ndc-interop/node_modules" "$root/build/mbedtls/ndc-interop/node_modules"
fi
XP2P_BUILD_DIR="$root/build/mbedtls" timeout 600 tests/ndc/run.sh
if [ -n "$fuzz_pid" ]; then
  step "fuzz targets (started after cargo test)"
  fuzz_rc=0
  wait "$fuzz_pid" || fuzz_rc=$?
  fuzz_pid=
  grep -E '^fuzz:' "$fuzz_log" || tail -30 "$fuzz_log"
  [ "$fuzz_rc" = 0 ] || { echo "fuzzing failed (exit $fuzz_rc), see $fuzz_log"; exit 1; }
fi
