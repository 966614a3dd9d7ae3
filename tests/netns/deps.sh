#!/usr/bin/env bash
# Installs what the network-namespace tests need, from Debian packages:
# ip (iproute2), nft (nftables), turnserver (coturn), timeout (coreutils).
# Does nothing when everything is there. Needs root.
set -euo pipefail

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
command -v turnserver >/dev/null || need+=(coturn)
command -v timeout >/dev/null || need+=(coreutils)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: missing ${need[*]}; run as root to install them" >&2
  exit 1
fi
echo "deps.sh: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

# The tests start their own STUN server inside a namespace; the package's
# system service must not listen on the host.
if printf '%s\n' "${need[@]}" | grep -qx coturn && [ -d /run/systemd/system ]; then
  systemctl disable --now coturn >/dev/null 2>&1 || true
fi
