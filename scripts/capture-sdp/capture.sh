#!/usr/bin/env bash
# Re-capture the SDP fixtures in tests/fixtures/sdp/ from real WebRTC peers:
# Chromium, Firefox ESR, aiortc and libdatachannel (node-datachannel).
# Developer tool, not run by the test suite. Needs root and Debian 12.
#
#   scripts/capture-sdp/capture.sh            install what is missing, capture all
#   OUT=/tmp/sdp scripts/capture-sdp/capture.sh   write somewhere else
#
# Every peer runs inside a fresh network namespace (unshare -n) holding only
# the loopback interface, so no WebRTC or browser traffic can leave this
# machine. In it: 127.0.0.1 plus a second loopback address 127.0.0.2, and a
# default route through lo with source 127.0.0.2 (without a default route
# Firefox does not gather; without the source it offers only 0.0.0.0).
# No STUN/TURN server is ever configured.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(realpath -m "${OUT:-$HERE/../../tests/fixtures/sdp}")
VENV=${VENV:-/tmp/aiortc-venv}
export NDC_DIR=${NDC_DIR:-/tmp/ndc}
PORT=8765
BASE_URL="http://127.0.0.1:$PORT/page.html"
CHROMIUM_FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync)
NO_MDNS=--disable-features=WebRtcHideLocalIpsWithMdns

# --- outside the namespace: install the peers, then re-enter isolated -------
if [ -z "${CAPTURE_NETNS:-}" ]; then
  command -v chromium >/dev/null && command -v firefox-esr >/dev/null ||
    { apt-get update && apt-get install -y chromium firefox-esr; }
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -c 'import aiortc' 2>/dev/null || "$VENV/bin/pip" install aiortc
  [ -d "$NDC_DIR/node_modules/node-datachannel" ] ||
    { mkdir -p "$NDC_DIR" && (cd "$NDC_DIR" && npm install node-datachannel); }
  mkdir -p "$OUT"
  exec env CAPTURE_NETNS=1 OUT="$OUT" unshare -n "$0" "$@"
fi

ip link set lo up
ip addr add 127.0.0.2/8 dev lo
ip route add default dev lo src 127.0.0.2

LOG=$(mktemp)
python3 "$HERE/serve.py" "$PORT" "$OUT" 2>"$LOG" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 1

# wait_for FILE...: wait (at most 90 s) until every FILE exists in $OUT.
wait_for() {
  for _ in $(seq 90); do
    local missing=0
    for f in "$@"; do [ -f "$OUT/$f" ] || missing=1; done
    [ $missing = 0 ] && return 0
    sleep 1
  done
  echo "timed out waiting for $*" >&2
  return 1
}

# browser QUERY FILES -- COMMAND...: run a headless browser on the page in
# its own process group, wait for FILES, then end that group.
browser() {
  local query=$1 files=$2
  shift 3
  for f in $files; do rm -f "$OUT/$f"; done
  setsid "$@" "$BASE_URL?$query" >>"$LOG.browser" 2>&1 &
  local pid=$!
  # shellcheck disable=SC2086
  wait_for $files || true
  kill -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

chromium_run() { # QUERY FILES EXTRA_FLAGS...
  local query=$1 files=$2 dir
  shift 2
  dir=$(mktemp -d)
  browser "$query" "$files" -- chromium "${CHROMIUM_FLAGS[@]}" --user-data-dir="$dir" "$@"
  rm -rf "$dir"
}

firefox_run() { # QUERY FILES USER_JS
  local query=$1 files=$2 prof
  prof=$(mktemp -d)
  printf '%s\n' "$3" >"$prof/user.js"
  HOME=$prof browser "$query" "$files" -- firefox-esr --headless -profile "$prof" -no-remote
  rm -rf "$prof"
}

# --- Chromium ----------------------------------------------------------------
# Default behaviour (host addresses hidden behind mDNS names), then with mDNS
# hiding disabled. Chromium gathers nothing on a loopback-only machine and
# never reaches "complete": the page takes the description after `wait` s.
chromium_run "offer=chromium-offer-mdns.sdp&answer=chromium-answer-mdns.sdp&wait=15" \
  "chromium-offer-mdns.sdp chromium-answer-mdns.sdp"
chromium_run "offer=chromium-offer-raw.sdp&answer=chromium-answer-raw.sdp&wait=15" \
  "chromium-offer-raw.sdp chromium-answer-raw.sdp" "$NO_MDNS"
# Loopback candidates: let Chromium list the loopback adapter, and grant a
# fake microphone so it enumerates adapters at all (a page with microphone
# access also gets its addresses unhidden, whatever the mDNS setting).
LOOPBACK=("$NO_MDNS" --allow-loopback-in-peer-connection
  --use-fake-ui-for-media-stream --use-fake-device-for-media-stream)
chromium_run "offer=chromium-offer-loopback.sdp&answer=chromium-answer-loopback.sdp&gum=1" \
  "chromium-offer-loopback.sdp chromium-answer-loopback.sdp" "${LOOPBACK[@]}"

# --- aiortc and libdatachannel -----------------------------------------------
"$VENV/bin/python" "$HERE/aiortc_capture.py" "$OUT"
node "$HERE/ndc_capture.mjs" "$OUT"

# --- Firefox -------------------------------------------------------------------
# Firefox leaves loopback out unless told; with it, host candidates are hidden
# behind mDNS names by default; the second run turns that hiding off.
FF_LOOPBACK='user_pref("media.peerconnection.ice.loopback", true);'
firefox_run "offer=firefox-offer.sdp&answer=firefox-answer.sdp" \
  "firefox-offer.sdp firefox-answer.sdp" "$FF_LOOPBACK"
firefox_run "offer=firefox-offer-raw.sdp&answer=firefox-answer-raw.sdp" \
  "firefox-offer-raw.sdp firefox-answer-raw.sdp" \
  "$FF_LOOPBACK user_pref(\"media.peerconnection.ice.obfuscate_host_addresses\", false);"

# --- Cross answers: each peer answering another's offer --------------------------
"$VENV/bin/python" "$HERE/aiortc_capture.py" "$OUT" \
  --answer-to "$OUT/chromium-offer-loopback.sdp" aiortc-answer-to-chromium.sdp
node "$HERE/ndc_capture.mjs" "$OUT" \
  --answer-to "$OUT/chromium-offer-loopback.sdp" libdatachannel-answer-to-chromium.sdp
chromium_run "remote=aiortc-offer.sdp&answer=chromium-answer-to-aiortc.sdp&gum=1" \
  chromium-answer-to-aiortc.sdp "${LOOPBACK[@]}"
chromium_run "remote=libdatachannel-offer.sdp&answer=chromium-answer-to-libdatachannel.sdp&gum=1" \
  chromium-answer-to-libdatachannel.sdp "${LOOPBACK[@]}"
firefox_run "remote=chromium-offer-loopback.sdp&answer=firefox-answer-to-chromium.sdp" \
  firefox-answer-to-chromium.sdp "$FF_LOOPBACK"

# --- Derived: LF-only copy of one fixture, for the line-ending tolerance test ---
sed 's/\r$//' "$OUT/chromium-offer-mdns.sdp" >"$OUT/chromium-offer-mdns-lf.sdp"

echo "--- page and server log ---"
cat "$LOG"
echo "--- versions ---"
chromium --version 2>/dev/null
firefox-esr --version
echo "aiortc $("$VENV/bin/python" -c 'import aiortc; print(aiortc.__version__)')"
echo "node-datachannel $(node -p "require('$NDC_DIR/node_modules/node-datachannel/package.json').version")"
