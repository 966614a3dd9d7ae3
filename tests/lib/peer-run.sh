# Shared parts of the suites that run examples-c/chat against another
# WebRTC implementation over loopback (tests/interop/run.sh,
# tests/ndc/run.sh). Sourced, not run. The sourcing script sets what
# tests/lib/package.sh needs (`root`, `build`, `prefix`, the array `cases`)
# and `out` (where chat is built and the logs go), and defines run_case NAME
# (0: passed); the functions below set `chat`, `chat_opts`, `theirs`, `big`,
# `tmp` and `pids`.

# shellcheck source=tests/lib/package.sh
. "$root/tests/lib/package.sh"

# build_chat: chat built against the installed package in $out/cmake
# (see build_example).
build_chat() {
  mkdir -p "$out"
  build_example chat "$out/cmake"
  chat=$out/cmake/chat
}

# largest_message NAME CMD...: `theirs`, the a=max-message-size the peer
# advertises (CMD prints it), and `big`, the largest message sent: that, at
# most what libxp2p advertises (`ours`).
ours=262144
largest_message() {
  local name=$1
  shift
  theirs=$(timeout 30 "$@") || theirs=
  if ! [[ "$theirs" =~ ^[0-9]+$ ]]; then
    give_up "could not read $name's max-message-size"
  fi
  big=$ours
  [ "$theirs" != 0 ] && [ "$theirs" -lt "$big" ] && big=$theirs
}

# scratch NAME: a temporary directory `tmp`, removed at exit with the
# background processes in `pids` stopped.
scratch() {
  tmp=$(mktemp -d "/tmp/xp2p-$1-XXXXXX")
  pids=()
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}

# start_stun PYTHON SECONDS: tests/interop/stun_nat.py, the STUN server that
# makes chat trickle (bounded by timeout SECONDS and its --lifetime), and
# `chat_opts` that point chat to it.
start_stun() {
  timeout "$2" "$1" "$root/tests/interop/stun_nat.py" --lifetime $(($2 - 10)) \
    >"$tmp/stun.out" 2>&1 &
  pids+=($!)
  stun_port=
  for _ in $(seq 50); do
    stun_port=$(awk '/^listening/ {print $2}' "$tmp/stun.out")
    [ -n "$stun_port" ] && break
    sleep 0.1
  done
  [ -n "$stun_port" ] || give_up "stun_nat.py did not start"
  chat_opts=(--stun "127.0.0.1:$stun_port")
}

# expect LOG LINE...: every line must be in LOG.
expect() { expect_with -F "missing in" "$@"; }

# expect_re LOG REGEX...: every extended regex must match a line of LOG.
expect_re() { expect_with -E "no match in" "$@"; }

# expect_with GREP_FLAG WHAT LOG PATTERN...: grep GREP_FLAG must find every
# PATTERN in LOG; says "WHAT <log>: PATTERN" for each it does not.
expect_with() {
  local flag=$1 what=$2 log=$3 pat ok=0
  shift 3
  for pat in "$@"; do
    if ! grep -q"${flag#-}" -- "$pat" "$log"; then
      echo "    $what $(basename "$log"): $pat"
      ok=1
    fi
  done
  return $ok
}

# expect_srflx_delivered CHATLOG PEERLOG REGEX: chat's server-reflexive
# candidate (from stun_nat.py) reached the other peer. Usually the STUN
# answer comes after chat's description, so chat trickles the candidate and
# PEERLOG must match REGEX (the peer applied it). chat as answerer gathers
# from the offer on, and on a busy machine the STUN answer can come before
# chat creates its answer: the candidate is then inside that answer (two
# candidates, host and server-reflexive) and the peer must have received an
# answer with at least two.
expect_srflx_delivered() {
  local chatlog=$1 peerlog=$2 re=$3 two='([2-9]|[1-9][0-9]+) candidates in it'
  if grep -qF "trickled a=candidate:" "$chatlog"; then
    expect_re "$peerlog" "$re"
  elif grep -qE "answer sent \([0-9]+ bytes, $two\)" "$chatlog"; then
    echo "    (chat's server-reflexive candidate went in its answer, not trickled)"
    expect_re "$peerlog" "answer received \([0-9]+ bytes, $two"
  else
    echo "    $(basename "$chatlog"): no candidate trickled, none beside the host one in an answer"
    return 1
  fi
}

# run_pair SECONDS OFFLOG ANSLOG ARG...: runs the answerer (the array `ans`)
# in the background and the offerer (`off`) in the foreground, each with
# ARG... added and bounded by timeout SECONDS; fails when either exits
# non-zero.
run_pair() {
  local t=$1 offlog=$2 anslog=$3 apid rc_off rc_ans fail=0
  shift 3
  timeout "$t" "${ans[@]}" "$@" >"$anslog" 2>&1 &
  apid=$!
  pids+=("$apid")
  timeout "$t" "${off[@]}" "$@" >"$offlog" 2>&1
  rc_off=$?
  wait "$apid"
  rc_ans=$?
  [ "$rc_off" = 0 ] || { echo "    offerer exited $rc_off"; fail=1; }
  [ "$rc_ans" = 0 ] || { echo "    answerer exited $rc_ans"; fail=1; }
  return $fail
}

# show_logs OFFLOG ANSLOG: the last lines of both, after a failed case.
show_logs() {
  echo "    --- offerer ($1), last lines:"
  tail -25 "$1" | sed 's/^/    /'
  echo "    --- answerer ($2), last lines:"
  tail -25 "$2" | sed 's/^/    /'
}

# run_cases [--timed]: run_case for each of `cases`, "ok" (with --timed
# also how long it took) or "FAILED" after each; the logs are removed when
# all passed (unless XP2P_KEEP_LOGS=1); ends with summary.
run_cases() {
  local c start ms passed=0 failed=0
  for c in "${cases[@]}"; do
    echo "== $c"
    start=$(date +%s%N)
    if run_case "$c"; then
      passed=$((passed + 1))
      if [ "${1:-}" = --timed ]; then
        ms=$((($(date +%s%N) - start) / 1000000))
        printf '   ok (%d.%d s)\n' $((ms / 1000)) $((ms % 1000 / 100))
      else
        echo "   ok"
      fi
    else
      failed=$((failed + 1))
      echo "   FAILED"
    fi
  done
  [ "${XP2P_KEEP_LOGS:-0}" = 1 ] || [ "$failed" != 0 ] || rm -f "$out"/*.log
  summary "$passed" "$failed"
}
