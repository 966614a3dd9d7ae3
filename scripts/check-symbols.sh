#!/usr/bin/env bash
# Checks the dynamic symbol table of an installed libxp2p.so:
#  - every function listed in c-tests/symbols/*.txt is defined and exported;
#  - no xbase symbol (xEvent*, xSocket*, xMonoMs, xWallMs, xstrerror, xTask*) is defined;
#  - every defined x* function is one the lists name (nothing exported by accident).
# usage: scripts/check-symbols.sh path/to/libxp2p.so
set -euo pipefail
lib=$1
root=$(cd "$(dirname "$0")/.." && pwd)
defined=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TtWw]$/ {print $3}' | sort -u)
expected=$(cat "$root"/c-tests/symbols/*.txt | grep -v '^#' | grep -v '^$' | sort -u)
fail=0
missing=$(comm -23 <(echo "$expected") <(echo "$defined"))
if [ -n "$missing" ]; then echo "missing exports:"; echo "$missing"; fail=1; fi
xbase=$(echo "$defined" | grep -E '^(xEvent|xSocket|xTask|xMonoMs$|xWallMs$|xstrerror$)' || true)
if [ -n "$xbase" ]; then echo "libxp2p.so defines xbase symbols:"; echo "$xbase"; fail=1; fi
extra=$(comm -13 <(echo "$expected") <(echo "$defined" | grep -E '^x[A-Z]') || true)
if [ -n "$extra" ]; then echo "exported but not in c-tests/symbols/*.txt:"; echo "$extra"; fail=1; fi
if [ $fail = 0 ]; then
  echo "symbols ok: $(echo "$expected" | wc -l) functions exported, no xbase symbol defined"
fi
exit $fail
