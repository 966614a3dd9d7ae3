#!/usr/bin/env bash
# Installs aiortc (pinned) into a virtualenv at $XP2P_BUILD_DIR/venv-aiortc
# (default build/venv-aiortc) unless it is already there. Prints the venv's
# python on success. Needs python3 with the venv module and PyPI access (the
# wheels of aiortc's dependencies are binary, no compiler needed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${XP2P_BUILD_DIR:-$root/build}
venv=$build/venv-aiortc
AIORTC_VERSION=1.16.0
py=$venv/bin/python

if [ -x "$py" ] && "$py" -c "import aiortc, sys; sys.exit(aiortc.__version__ != '$AIORTC_VERSION')" 2>/dev/null; then
  echo "$py"
  exit 0
fi
echo "deps.sh: installing aiortc==$AIORTC_VERSION into $venv" >&2
rm -rf "$venv"
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "aiortc==$AIORTC_VERSION" >&2
"$py" -c "import aiortc; print('deps.sh: aiortc', aiortc.__version__)" >&2
echo "$py"
