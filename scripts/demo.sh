#!/usr/bin/env bash
# Builds and installs the package into build/prefix, builds the C examples
# against the installed tree and runs the demo: codec_demo, ice_echo between
# two processes, then chat (a data channel between two PeerConnections) with
# the transcripts of both sides, then the Quick Start example. Exits non-zero
# when a step failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/deps.sh
build=${XP2P_BUILD_DIR:-$root/build}
cmake -S . -B "$build/pkg" -DCMAKE_INSTALL_PREFIX="$build/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build/pkg"
cmake --install "$build/pkg" >/dev/null
cmake -S examples-c -B "$build/examples" -DCMAKE_PREFIX_PATH="$build/prefix" >/dev/null
cmake --build "$build/examples" >/dev/null
"$build/examples/codec_demo"
echo
echo "ice_echo between two processes on this machine (loopback):"
sock=$(mktemp -u /tmp/xp2p-demo-XXXXXX.sock)
XP2P_INTERFACES=lo "$build/examples/ice_echo" answer --signal "$sock" >"$build/ice_echo_answer.log" 2>&1 &
answer=$!
XP2P_INTERFACES=lo "$build/examples/ice_echo" offer --signal "$sock" --count 200
wait "$answer"
rm -f "$sock"

echo
echo "chat: two PeerConnections talk over a data channel (offerer's side):"
sock=$(mktemp -u /tmp/xp2p-chat-XXXXXX.sock)
XP2P_INTERFACES=lo "$build/examples/chat" answer --signal "$sock" >"$build/chat_answer.log" 2>&1 &
answer=$!
status=0
XP2P_INTERFACES=lo "$build/examples/chat" offer --signal "$sock" --size 65536 || status=$?
wait "$answer" || status=$?
echo
echo "chat: the answerer's side:"
cat "$build/chat_answer.log"
rm -f "$sock"

echo
echo "quickstart (examples-c/quickstart.c), offerer and answerer:"
sock=$(mktemp -u /tmp/xp2p-quickstart-XXXXXX.sock)
# The STUN address is on loopback (nothing answers there): the demo stays
# on this machine.
XP2P_INTERFACES=lo "$build/examples/quickstart" answer --signal "$sock" --stun 127.0.0.1:9 \
  >"$build/quickstart_answer.log" 2>&1 &
answer=$!
XP2P_INTERFACES=lo "$build/examples/quickstart" offer --signal "$sock" --stun 127.0.0.1:9 || status=$?
wait "$answer" || status=$?
cat "$build/quickstart_answer.log"
rm -f "$sock"
exit "$status"
