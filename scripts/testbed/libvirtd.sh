#!/usr/bin/env bash
# The libvirt test bed: install, start, stop and report a real libvirtd with
# QEMU on Debian 12 without systemd.  `start` records the pids of the daemons it
# started itself, and `stop` stops only those.
set -euo pipefail

# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"
POOL=virtrigaud
POOL_DIR=/var/lib/virtrigaud/pool
URI=qemu:///system
PACKAGES=(libvirt-daemon-system qemu-system-x86 qemu-utils libvirt-dev pkg-config gcc ovmf dnsmasq-base
          busybox-static cpio syslinux syslinux-common mtools dosfstools rsync)

install() {
    local missing=()
    for package in "${PACKAGES[@]}"; do
        [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" == *"ok installed"* ]] || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    "$PYTHON" -c 'import libvirt, pycdlib' 2>/dev/null ||
        "$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore libvirt-python pycdlib
    # Running QEMU as root skips the /dev/kvm permission probe that otherwise
    # makes every define wait about 40 s on this kind of machine.
    local conf=/etc/libvirt/qemu.conf
    grep -qx 'user = "root"' "$conf" || echo 'user = "root"' >> "$conf"
    grep -qx 'group = "root"' "$conf" || echo 'group = "root"' >> "$conf"
    # No private mount namespace per QEMU: after a libvirtd that was killed mid-start (the faults stage does
    # that), a new domain's /dev/null bind mount fails ("Unable to move ... mount to /dev/null").
    grep -qx 'namespaces = \[\]' "$conf" || echo 'namespaces = []' >> "$conf"
}

running() { pgrep -x "$1" >/dev/null; }

TCP_CONF=/etc/libvirt/libvirtd.conf

start_daemon() {
    local name="$1" extra=()
    running "$name" && return 0
    mkdir -p "$RUN_DIR"
    [ "$name" = libvirtd ] && grep -qx 'listen_tcp = 1' "$TCP_CONF" 2>/dev/null && extra=(--listen)
    "$name" -d "${extra[@]}"
    for _ in $(seq 50); do
        running "$name" && break
        sleep 0.1
    done
    pgrep -xo "$name" > "$RUN_DIR/$name.pid"
}

virsh_q() { virsh -q -c "$URI" "$@"; }

ensure_pool() {
    local name="$1" dir="$2"
    if ! virsh_q pool-info "$name" >/dev/null 2>&1; then
        mkdir -p "$dir"
        virsh_q pool-define-as "$name" dir --target "$dir" >/dev/null
        virsh_q pool-build "$name" >/dev/null
        virsh_q pool-autostart "$name" >/dev/null
    fi
    # Read the whole output first: grep -q would close the pipe early, and pipefail
    # would count virsh's broken pipe as a failure.
    [[ "$(virsh_q pool-info "$name")" =~ State:\ +running ]] || virsh_q pool-start "$name" >/dev/null
}

# A second network, for the suite's steps that move a NIC: isolated, no addresses, so no dnsmasq.
ALT_NETWORK=virtrigaud-alt

ensure_alt_network() {
    if ! virsh_q net-info "$ALT_NETWORK" >/dev/null 2>&1; then
        local xml
        xml="$(mktemp)"
        printf "<network><name>%s</name><bridge name='vrbr-alt' stp='on' delay='0'/></network>\n" "$ALT_NETWORK" > "$xml"
        virsh_q net-define "$xml" >/dev/null
        rm -f "$xml"
        virsh_q net-autostart "$ALT_NETWORK" >/dev/null
    fi
    [[ "$(virsh_q net-info "$ALT_NETWORK")" =~ Active:\ +yes ]] || virsh_q net-start "$ALT_NETWORK" >/dev/null
}

start() {
    start_daemon virtlogd
    start_daemon libvirtd
    for _ in $(seq 300); do
        virsh_q version >/dev/null 2>&1 && break
        sleep 0.1
    done
    virsh_q version >/dev/null
    ensure_pool default /var/lib/libvirt/images
    ensure_pool "$POOL" "$POOL_DIR"
    [[ "$(virsh_q net-info default)" =~ Active:\ +yes ]] || virsh_q net-start default >/dev/null
    virsh_q net-autostart default >/dev/null
    ensure_alt_network
    echo "libvirtd ready at $URI: pool '$POOL' in $POOL_DIR, networks 'default' and '$ALT_NETWORK' active"
}

# listen-tcp: libvirtd also answers on 127.0.0.1:16509 without authentication,
# for clients whose user the host does not know (a container's UID 65532: over
# the socket, libvirtd refuses a peer it cannot look up).  Loopback only.
listen_tcp() {
    if ! grep -qx 'listen_tcp = 1' "$TCP_CONF"; then
        printf '%s\n' 'listen_tls = 0' 'listen_tcp = 1' 'listen_addr = "127.0.0.1"' 'auth_tcp = "none"' >> "$TCP_CONF"
    fi
    local listening
    listening="$(ss -ltnH 'sport = :16509')"
    if [ -z "$listening" ]; then
        daemon_stop "$RUN_DIR/libvirtd" libvirtd
        start
    fi
    echo "libvirtd also listens on qemu+tcp://127.0.0.1/system"
}

stop() {
    daemon_stop "$RUN_DIR/libvirtd" libvirtd
    daemon_stop "$RUN_DIR/virtlogd" virtlogd
}

status() {
    for name in virtlogd libvirtd; do
        if running "$name"; then echo "$name: running ($(pgrep -xo "$name"))"; else echo "$name: stopped"; fi
    done
}

case "${1:-}" in
    install | start | stop | restart | status) "$1" ;;
    listen-tcp) listen_tcp ;;
    *) echo "usage: $0 install|start|stop|restart|status|listen-tcp" >&2; exit 2 ;;
esac
