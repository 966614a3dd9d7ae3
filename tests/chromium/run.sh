#!/usr/bin/env bash
# Data channel interoperability between headless Chromium and
# examples-c/chat (libxp2p), driven by tests/chromium/harness.py (Python
# standard library: it serves tests/chromium/page.html and its signaling on
# 127.0.0.1 and bridges it to chat's Unix-socket signaling).
#
# Cases (harness.py runs one per call):
#   browser-offers        the page offers and opens "chat"; chat answers and
#                         opens "chat-back" (--open-channel)
#   xp2p-offers           chat offers and opens "chat"; the page answers and
#                         opens "chat-back"
#   browser-offers-plain  as browser-offers, mDNS obfuscation off
#   xp2p-offers-plain     as xp2p-offers, mDNS obfuscation off
#   bulk                  as xp2p-offers, and each side also streams 50 MB on
#                         a "bulk" channel; the receiver checks the FNV-1a
#   bulk-stall            as bulk with 100 MB, chat stalling its loop 12 s a
#                         quarter into the page's stream: the page's buffered
#                         amount must stay up for at least half the stall
#                         (receive flow control, README, "Receive flow control") and
#                         chat's peak memory stay under 64 MB
#   relay-browser-offers  as browser-offers, through coturn with relayed
#                         candidates only (below)
#   relay-xp2p-offers     as xp2p-offers, the same way
#   browser-offers-media  as browser-offers-plain, and the page also offers
#                         audio and video (sections before the data channel's):
#                         chat's answer must reject them (port 0, same mids,
#                         out of BUNDLE) and Chromium accept it
# On every channel the opener sends 3 text lines, an empty text, an empty
# binary message and binary messages of 1, 1200, 65536 and 262144 bytes (the
# a=max-message-size both advertise), checks each echo, then closes the
# channel; the other side must see the close.
#
# mDNS: by default Chromium hides its host addresses behind `<uuid>.local`
# names and answers mDNS queries for them. In the mDNS cases the harness
# withholds chat's candidates from the browser, so the only way to connect
# is chat resolving Chromium's name (libxp2p's resolver) and checking first;
# the page's candidates must be .local names. The plain cases run Chromium
# with --disable-features=WebRtcHideLocalIpsWithMdns and pass every
# candidate; the page's candidates must be IP addresses.
#
# Why a network namespace: Chromium gathers no loopback candidates and its
# mDNS responder only works on multicast-capable interfaces, which lo is
# not, so loopback alone cannot produce a connection with mDNS names. The
# test therefore creates a namespace with lo and a veth pair whose two ends
# are both inside it (web0: 10.77.0.1/24, multicast on, the default route;
# web1 up without address; IPv6 off) and runs the harness, Chromium and chat
# inside it: whatever goes out of web0 arrives at web1 and ends there, so
# nothing leaves the namespace. The page and signaling stay on 127.0.0.1.
# Chromium runs with exactly --headless --no-sandbox --disable-gpu
# --disable-quic --no-first-run --disable-background-networking
# --disable-component-update --disable-sync, a fresh --user-data-dir per
# case, plus the mDNS flag above in the plain cases. Needs root (namespaces).
#
# Relay cases: the harness starts coturn (UDP, long-term credentials,
# --no-tls --no-dtls --no-cli) listening on 10.77.0.1:3478 and relaying from
# 10.77.0.2, an address on the namespace's lo that neither peer gathers (chat
# gathers on web0 only, Chromium skips loopback interfaces). coturn forwards
# to an allocation only what comes from an address its client created a
# permission for, here only the other side's relayed address, so a host
# socket (10.77.0.1) cannot reach a relayed address: only relay-to-relay can
# connect. The page uses iceServers [turn:10.77.0.1:3478] with
# iceTransportPolicy 'relay'; chat gets --turn 10.77.0.1:3478 --turn-user
# --turn-pass --relay-only. The harness checks that every candidate either
# side signalled is relay and that the browser's selected pair (getStats) is
# its relayed candidate to chat's.
#
# Usage: tests/chromium/run.sh [CASE...]   (default: all eight)
# Ends with "N passed, M failed"; exit status non-zero when a case failed.
#
# Uses the installed package in build/prefix when there is one, otherwise
# builds and installs it (the cmake steps of scripts/c-tests.sh); builds chat
# against it in build/chromium; installs chromium with tests/chromium/deps.sh.
# Environment: XP2P_BUILD_DIR (default build), XP2P_PREFIX (default
# $XP2P_BUILD_DIR/prefix), XP2P_REBUILD=1 to rebuild and reinstall the
# package first, XP2P_KEEP_LOGS=1 to keep the logs (build/chromium/run).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${XP2P_BUILD_DIR:-$root/build}
prefix=${XP2P_PREFIX:-$build/prefix}
out=$build/chromium
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(browser-offers xp2p-offers browser-offers-plain xp2p-offers-plain bulk
  bulk-stall relay-browser-offers relay-xp2p-offers browser-offers-media)
case_timeout=90

# summary, give_up, build_example
. "$root/tests/lib/package.sh"

[ "$(id -u)" = 0 ] || give_up "the Chromium tests need root (network namespace)"
chromium=$(timeout 900 "$here/deps.sh") ||
  give_up "chromium could not be installed (tests/chromium/deps.sh)"
cd "$root"
mkdir -p "$out"
build_example chat "$out/cmake"
chat=$out/cmake/chat
echo "$("$chromium" --version 2>/dev/null | tail -1)"

ns=xp2p-chromium-$$
work=$out/run
rm -rf "$work"
mkdir -p "$work"
cleanup() {
  ip netns del "$ns" 2>/dev/null
  [ "${XP2P_KEEP_LOGS:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! { ip netns add "$ns" &&
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 &&
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 &&
  ip -n "$ns" link set lo up &&
  ip -n "$ns" addr add 10.77.0.2/32 dev lo &&
  ip -n "$ns" link add web0 type veth peer name web1 &&
  ip -n "$ns" link set web0 multicast on &&
  ip -n "$ns" addr add 10.77.0.1/24 dev web0 &&
  ip -n "$ns" link set web1 up &&
  ip -n "$ns" link set web0 up &&
  ip -n "$ns" route add default dev web0; }; then
  echo "run.sh: could not create the network namespace" >&2
  summary 0 ${#cases[@]}
fi

passed=0
failed=0
for c in "${cases[@]}"; do
  printf '\n--- %s\n' "$c"
  if timeout $((case_timeout + 15)) ip netns exec "$ns" python3 "$here/harness.py" "$c" \
    --chat "$chat" --chromium "$chromium" --interface web0 \
    --timeout "$case_timeout" --workdir "$work" --turn-ip 10.77.0.1 --relay-ip 10.77.0.2; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo
summary $passed $failed
