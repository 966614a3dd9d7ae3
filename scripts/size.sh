#!/usr/bin/env bash
# Stripped sizes of every library variant, per cargo profile, and what each
# links dynamically (README, "Building for a device").
#   scripts/size.sh [--profile NAME]...   (default: release, device, device-abort)
# Variants (cargo features):
#   xp2p-default          OpenSSL DTLS, TURN over TCP and TLS, mDNS, PMTU
#                         discovery (the default features)
#   xp2p-mbedtls          mbedTLS DTLS, TURN over TCP (no TLS), mDNS, PMTU
#   xp2p-minimal-mbedtls  mbedTLS DTLS and PMTU discovery only: no TURN over
#                         TCP or TLS, no mDNS
#   xp2p-minimal-mbedtls-noring
#                         as xp2p-minimal-mbedtls without `ring`: mbedTLS
#                         protects every record itself (cargo feature
#                         dtls-mbedtls-base, CMake -DXP2P_MBEDTLS_RING=OFF)
#   xbase                 libxbase.so
# Profiles: `release` (what the tests and a default CMake build use),
# `small` (release with fat LTO, one codegen unit), `device-abort` (`device`
# in which a panic aborts the process: .cargo/device-abort.toml, CMake
# -DXP2P_DEVICE_ABORT=ON), `device-tiny` (`device`
# with our own code at opt-level "z": CMake -DXP2P_DEVICE_TINY=ON) and `device` (the device
# build, CMake -DXP2P_DEVICE=ON: the standard library rebuilt for size with
# .cargo/device.toml). Each build goes into target/ (target/<triple>/device
# for the device build; cargo only redoes what changed) and is copied and
# stripped (strip --strip-all) into build/size/<profile>/.
# On a fresh Debian machine with rustup it installs what it lacks: the build's
# Debian packages and, for `device`, the rust-src component.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profiles=()
while [ $# -gt 0 ]; do
  case $1 in
    --profile) profiles+=("$2"); shift 2 ;;
    *) echo "usage: $0 [--profile NAME]..." >&2; exit 2 ;;
  esac
done
[ ${#profiles[@]} -gt 0 ] || profiles=(release device device-abort)
cd "$root"

pkgs=(pkg-config gcc binutils libssl-dev libmbedtls-dev libusrsctp-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

host=$(rustc -vV | sed -n 's/^host: //p')
std_src=$(rustc --print sysroot)/lib/rustlib/src/rust/library/std/Cargo.toml
for profile in "${profiles[@]}"; do
  if [[ $profile == device* ]] && [ ! -f "$std_src" ]; then
    echo "installing the rust-src component (the device build rebuilds std)" >&2
    rustup component add rust-src
  fi
done

# PROFILE NAME PACKAGE CARGO-ARGS...: builds, copies, strips.
variant() {
  local profile=$1 name=$2 pkg=$3 lib=lib$3.so dir config extra=() envs=(); shift 3
  case $profile in
    dev) dir=target/debug ;;
    device|device-tiny|device-abort)
      dir=target/$host/$profile
      config=device.toml
      [ "$profile" = device-abort ] && config=device-abort.toml
      extra=(--target "$host" --config "$root/.cargo/$config")
      envs=(RUSTC_BOOTSTRAP=1) ;;
    *) dir=target/$profile ;;
  esac
  env "${envs[@]}" cargo build -q --profile "$profile" -p "$pkg" "${extra[@]}" "$@" >&2
  mkdir -p "build/size/$profile"
  cp "$dir/$lib" "build/size/$profile/$name.so"
  strip --strip-all "build/size/$profile/$name.so"
}

names=(xp2p-default xp2p-mbedtls xp2p-minimal-mbedtls xp2p-minimal-mbedtls-noring xbase)
declare -A goal=([xp2p-default]=900 [xp2p-minimal-mbedtls]=600 [xp2p-minimal-mbedtls-noring]=600 [xbase]=150)
for profile in "${profiles[@]}"; do
  # Separate invocations: built together, cargo would unify xbase's features.
  variant "$profile" xp2p-default xp2p
  variant "$profile" xp2p-mbedtls xp2p --no-default-features --features dtls-mbedtls,turn-tcp,mdns,pmtu
  variant "$profile" xp2p-minimal-mbedtls xp2p --no-default-features --features dtls-mbedtls,pmtu
  variant "$profile" xp2p-minimal-mbedtls-noring xp2p --no-default-features --features dtls-mbedtls-base,pmtu
  variant "$profile" xbase xbase
done

printf '%-28s %-12s %10s %8s %-11s  %s\n' variant profile bytes KiB "goal (KiB)" "dynamic dependencies (NEEDED)"
for name in "${names[@]}"; do
  for profile in "${profiles[@]}"; do
    f=build/size/$profile/$name.so
    bytes=$(stat -c %s "$f")
    needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    g=${goal[$name]:-} verdict=""
    if [ -n "$g" ]; then
      verdict="<=$g over"
      [ "$bytes" -gt $((g * 1024)) ] || verdict="<=$g met"
    fi
    printf '%-28s %-12s %10d %8.1f %-11s  %s\n' "$name" "$profile" "$bytes" \
      "$(awk -v b="$bytes" 'BEGIN { print b / 1024 }')" "$verdict" "$needed"
  done
done
