#!/usr/bin/env bash
# Regenerates include/ from the Rust sources with the pinned cbindgen.
#   scripts/gen-headers.sh           write include/
#   scripts/gen-headers.sh --check   fail if include/ differs from the sources
# Convention: cbindgen/xp2p/<h>.toml + src/ffi/<h>.rs -> include/xp2p/<h>.h
#             cbindgen/xbase/<h>.toml + crates/xbase/src/ffi/<h>.rs -> include/xbase/<h>.h
# Every header also gets a mirror under include/x/p2p or include/x/base.
set -euo pipefail
CBINDGEN_VERSION=0.29.4
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v cbindgen >/dev/null || [ "$(cbindgen --version)" != "cbindgen $CBINDGEN_VERSION" ]; then
  echo "installing cbindgen $CBINDGEN_VERSION" >&2
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet
fi

check=0
[ "${1:-}" = "--check" ] && check=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

gen() { # lib srcdir mirror
  local lib=$1 srcdir=$2 mirror=$3 toml name
  mkdir -p "$out/$lib" "$out/$mirror"
  for toml in cbindgen/"$lib"/*.toml; do
    name=$(basename "$toml" .toml)
    cat "$toml" cbindgen/common.toml > "$out/$name.cfg.toml"
    cbindgen --quiet --config "$out/$name.cfg.toml" --output "$out/$lib/$name.h" "$srcdir/$name.rs"
    printf '/* Mirror of <%s/%s.h> for the <%s/...> include spelling. */\n#include "../../%s/%s.h"\n' \
      "$lib" "$name" "$mirror" "$lib" "$name" > "$out/$mirror/$name.h"
  done
}
gen xbase crates/xbase/src/ffi x/base
gen xp2p src/ffi x/p2p

if [ $check = 1 ]; then
  if ! diff -ru include "$out" --exclude='*.cfg.toml' -x '*.cfg.toml'; then
    echo "include/ is stale: run scripts/gen-headers.sh and commit" >&2
    exit 1
  fi
  echo "headers up to date"
else
  rm -rf include && mkdir -p include
  cp -r "$out/xbase" "$out/xp2p" "$out/x" include/
  echo "headers written to include/"
fi
