#!/usr/bin/env bash
# The whole test suite (what CI runs): formatting, lints, header freshness,
# Rust tests, then the installed package and the C suite under ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/deps.sh

step() { printf '\n==> %s\n' "$*"; }
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "generated headers are current"
scripts/gen-headers.sh --check
step "cargo test"
cargo test --workspace --quiet
step "fuzz targets, ${XP2P_FUZZ_SECONDS:-10} s each (scripts/fuzz.sh; XP2P_FUZZ_SECONDS=0 skips)"
if [ "${XP2P_FUZZ_SECONDS:-10}" != 0 ]; then
  scripts/fuzz.sh "${XP2P_FUZZ_SECONDS:-10}"
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
