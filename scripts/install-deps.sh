#!/bin/sh
# Debian packages clickpy needs, installed once by `make` (idempotent, quiet).
#   build:    gcc and the Python headers for the Cython extensions, python3-venv
#   runtime:  iproute2 (namespaces and veth for tests and demos), ethtool
#   tests:    tcpdump and tshark read our pcap output, graphviz renders `clickpy viz`
#   appliance (clickpy/appliance, `clickpy appliance build/run`): QEMU boots
#             the VM; linux-source and the kernel build tools make its small
#             kernel (bc bison flex libelf-dev libssl-dev, xz-utils unpacks
#             the source); cpio to inspect images; iputils-ping for its tests
#
# Usage: scripts/install-deps.sh [core|appliance|all]   (default: all)
set -eu

CORE_PACKAGES="build-essential python3-dev python3-venv iproute2 ethtool tcpdump graphviz"
APPLIANCE_PACKAGES="qemu-system-x86 linux-source bc bison flex libelf-dev libssl-dev make gcc binutils cpio xz-utils zstd iproute2 iputils-ping"

case "${1:-all}" in
    core) PACKAGES="$CORE_PACKAGES" ;;
    appliance) PACKAGES="$APPLIANCE_PACKAGES" ;;
    all) PACKAGES="$CORE_PACKAGES $APPLIANCE_PACKAGES" ;;
    *) echo "usage: $0 [core|appliance|all]" >&2; exit 2 ;;
esac

missing=""
for p in $PACKAGES; do
    case " $missing " in *" $p "*) continue ;; esac
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
