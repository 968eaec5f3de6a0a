#!/usr/bin/env bash
# Install the system packages clickpy needs (Debian 12 bookworm).
# Idempotent and quiet: packages already installed are skipped; apt-get
# update runs only when something is missing.
#
# Sections are separate functions so the runtime's list and the appliance's
# list can be merged without tangling: call `install_deps_all`, or one of
# `install_deps_appliance` etc. by name: `scripts/install-deps.sh appliance`.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# --- the embedded VM appliance (clickpy/appliance) --------------------------
# qemu-system-x86: boots the appliance (microvm machine, virtio-mmio, TCG/KVM).
# linux-source + kernel build deps: the small appliance kernel is built from
#   Debian's own kernel source with clickpy/appliance/kernel.config.
# cpio is not needed (the initramfs is written in pure Python) but kept for
#   inspecting images; xz-utils unpacks the .tar.xz source.
# iproute2, iputils-ping: the appliance tests (namespaces, TAPs, ping A->B).
APPLIANCE_PACKAGES=(
    qemu-system-x86
    linux-source
    bc bison flex libelf-dev libssl-dev make gcc binutils
    cpio xz-utils
    iproute2 iputils-ping
)

_missing_packages() {
    local p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            echo "$p"
        fi
    done
}

_apt_install() {
    local missing
    missing=$(_missing_packages "$@")
    [ -z "$missing" ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "install-deps: installing:" $missing >&2
    $sudo apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 \
        || $sudo apt-get install -y -q --no-install-recommends $missing
}

install_deps_appliance() {
    _apt_install "${APPLIANCE_PACKAGES[@]}"
}

install_deps_all() {
    install_deps_appliance
}

main() {
    if [ $# -eq 0 ]; then
        install_deps_all
        return
    fi
    local section
    for section in "$@"; do
        "install_deps_${section}"
    done
}

main "$@"
