# Shared start of the suites that build an example against the installed
# package (tests/interop/run.sh, tests/ndc/run.sh, tests/netns/run.sh,
# tests/chromium/run.sh).
# Sourced, not run. The sourcing script sets `root` (the repository),
# `build` (its build directory), `prefix` (the installed package) and the
# array `cases` (what it runs; every one counts as failed when the set-up
# fails).

# summary PASSED FAILED: the last line; exits non-zero when a case failed.
summary() {
  echo "$1 passed, $2 failed"
  [ "$2" = 0 ]
  exit
}

# give_up MESSAGE: a set-up step failed; every case counts as failed.
give_up() {
  echo "run.sh: $1" >&2
  summary 0 ${#cases[@]}
}

# build_example TARGET DIR: installs the package into $prefix unless it is
# there (or XP2P_REBUILD=1), then builds the example TARGET of examples-c
# against it in DIR. Run from $root.
build_example() {
  local installed
  installed=$(find "$prefix" -name xp2pConfig.cmake 2>/dev/null)
  if [ "${XP2P_REBUILD:-0}" = 1 ] || [ -z "$installed" ]; then
    echo "run.sh: building and installing the package into $prefix"
    if ! { cmake -S . -B "$build/pkg" -DCMAKE_INSTALL_PREFIX="$prefix" \
      -DCMAKE_BUILD_TYPE=Release >/dev/null &&
      timeout 1200 cmake --build "$build/pkg" && cmake --install "$build/pkg" >/dev/null; }; then
      give_up "the package did not build"
    fi
  fi
  if ! { cmake -S examples-c -B "$2" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null &&
    timeout 300 cmake --build "$2" --target "$1" >/dev/null; }; then
    give_up "$1 did not build"
  fi
}
