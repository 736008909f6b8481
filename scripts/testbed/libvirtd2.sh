#!/usr/bin/env bash
# A second libvirtd on the same machine, the target of moves from one libvirtd to another.  It runs in a mount
# namespace of its own, where its state folders (/etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt,
# /var/log/libvirt) are fresh folders under its run folder, so it shares no domain, pool, network or lock with the
# first libvirtd (libvirtd.sh).  It answers on its own socket, has its own pool and its own NAT network named
# 'default' (another bridge and subnet), and `stop` destroys what it runs and removes all of it: nothing carries
# over to the next session.
set -euo pipefail

# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"
STATE="$RUN_DIR/libvirtd2"
SOCKET="$STATE/libvirt-sock"
URI2="qemu+unix:///system?socket=$SOCKET"
POOL2=virtrigaud2
POOL2_DIR=/var/lib/virtrigaud/pool2
BRIDGE2=vrbr2
SUBNET2=192.168.124

virsh2() { virsh -q -c "$URI2" "$@"; }

write_config() {
    mkdir -p "$STATE"/{etc,run,lib,cache,log}
    printf '%s\n' "unix_sock_dir = \"$STATE\"" 'unix_sock_rw_perms = "0700"' 'unix_sock_ro_perms = "0700"' \
        'auth_unix_rw = "none"' 'auth_unix_ro = "none"' 'listen_tls = 0' 'listen_tcp = 0' > "$STATE/etc/libvirtd.conf"
    # As for the first daemon: QEMU as root, no private /dev per QEMU.  No cgroups, whose folders are named after
    # the domain and would clash with the first daemon's during a live move; QEMU's output to files, since the
    # first daemon's virtlogd socket is not in this namespace.
    printf '%s\n' 'user = "root"' 'group = "root"' 'namespaces = []' 'cgroup_controllers = []' \
        'stdio_handler = "file"' > "$STATE/etc/qemu.conf"
}

start() {
    if daemon_running "$STATE/libvirtd"; then
        report
        return 0
    fi
    rm -rf "$STATE" "$POOL2_DIR"
    write_config
    # The first daemon's QEMU capabilities, when it has probed them: the same binaries, so they hold here too, and
    # the second daemon answers in about a second instead of probing again.
    [ -d /var/cache/libvirt/qemu ] && cp -a /var/cache/libvirt/qemu "$STATE/cache/"
    # Under a name of its own, so that nothing looking for the first daemon by name (pgrep -x libvirtd) finds it.
    ln -s "$(command -v libvirtd)" "$STATE/libvirtd2"
    # shellcheck disable=SC2016  # expanded by the inner shell, from its arguments
    unshare --mount --propagation private sh -c '
        state="$1"
        for dir in /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
            own="${dir%/libvirt}"
            mkdir -p "$dir"
            mount --bind "$state/${own##*/}" "$dir"
        done
        exec "$state/libvirtd2" -d -f "$state/etc/libvirtd.conf" -p "$state/libvirtd.pid"' sh "$STATE"
    for _ in $(seq 300); do
        virsh2 version >/dev/null 2>&1 && break
        sleep 0.1
    done
    virsh2 version >/dev/null
    daemon_started LIBVIRTD2=1
    mkdir -p "$POOL2_DIR"
    virsh2 pool-define-as "$POOL2" dir --target "$POOL2_DIR" >/dev/null
    virsh2 pool-start "$POOL2" >/dev/null
    local xml="$STATE/default-network.xml"
    printf '%s\n' "<network><name>default</name><forward mode='nat'/><bridge name='$BRIDGE2' stp='on' delay='0'/>" \
        "<ip address='$SUBNET2.1' netmask='255.255.255.0'><dhcp><range start='$SUBNET2.2' end='$SUBNET2.254'/>" \
        "</dhcp></ip></network>" > "$xml"
    virsh2 net-define "$xml" >/dev/null
    virsh2 net-start default >/dev/null
    report
}

report() { echo "second libvirtd ready at $URI2: pool '$POOL2' in $POOL2_DIR, network 'default' on $BRIDGE2"; }

stop() {
    daemon_running "$STATE/libvirtd" || { rm -rf "$STATE" "$POOL2_DIR"; return 0; }
    local domain
    for domain in $(virsh2 list --name 2>/dev/null); do
        virsh2 destroy "$domain" >/dev/null 2>&1 || true
    done
    virsh2 net-destroy default >/dev/null 2>&1 || true
    daemon_stop "$STATE/libvirtd" libvirtd2
    rm -rf "$STATE" "$POOL2_DIR"
}

status() {
    if daemon_running "$STATE/libvirtd"; then echo "libvirtd2: running ($(cat "$STATE/libvirtd.pid"))"
    else echo "libvirtd2: stopped"; fi
}

case "${1:-}" in
    start | stop | restart | status) "$1" ;;
    env) echo "LIBVIRT2_URI='$URI2' LIBVIRT2_POOL=$POOL2" ;;
    *) echo "usage: $0 start|stop|restart|status|env" >&2; exit 2 ;;
esac
