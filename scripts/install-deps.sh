#!/bin/sh
# Debian packages clickpy needs, installed once by `make` (idempotent, quiet).
#   build:    gcc and the Python headers for the Cython extensions, python3-venv
#   runtime:  iproute2 (namespaces and veth for tests and demos), ethtool
#   tests:    tcpdump and tshark read our pcap output, graphviz renders `clickpy viz`
set -eu

CORE_PACKAGES="build-essential python3-dev python3-venv iproute2 ethtool tcpdump graphviz"

missing=""
for p in $CORE_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: need root to install:$missing" >&2; exit 1
    fi
else
    SUDO=""
fi
echo "install-deps: installing$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
