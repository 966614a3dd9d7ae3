#!/usr/bin/env bash
# Installs what the Chromium interop tests need, from Debian packages:
# chromium, python3 (the harness uses its standard library only), ip
# (iproute2), timeout (coreutils), turnserver (coturn, the relay cases). Does nothing when everything is there.
# Prints the path of the chromium binary on success. Needs root to install.
set -euo pipefail

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v python3 >/dev/null || need+=(python3)
command -v ip >/dev/null || need+=(iproute2)
command -v timeout >/dev/null || need+=(coreutils)
command -v turnserver >/dev/null || need+=(coturn)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing ${need[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "deps.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v chromium
