#!/usr/bin/env bash
# The Proxmox VE test bed: the project's fake PVE API (tests/pvefake) on
# loopback over TLS with a self-signed certificate, three nodes, a template
# `vr-template` (VMID 9000) on shared storage, two templates both named
# `vr-dup-template`, and a control port for fault injection.  Stopped by pid.
#   pvefake.sh start | stop | status | env
# PVEFAKE_PASSWORD is root@pam's password, PVEFAKE_TOKEN_SECRET the secret of
# the token root@pam!virtrigaud.
set -euo pipefail

# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"
CACHE="$VIRTRIGAUD_CACHE/pvefake"
PORT="${PVEFAKE_PORT:-18006}"
CONTROL_PORT="${PVEFAKE_CONTROL_PORT:-18007}"
PASSWORD="${PVEFAKE_PASSWORD:-vr-pve-secret}"
TOKEN_SECRET="${PVEFAKE_TOKEN_SECRET:-$(cat /proc/sys/kernel/random/uuid)}"
STATE="$RUN_DIR/pvefake-$PORT"

running() { daemon_running "$STATE"; }

start() {
    running && { status; return 0; }
    self_signed_certificate "$CACHE"
    mkdir -p "$RUN_DIR"
    rm -rf "$STATE.storage" "$STATE.requests"
    mkdir -p "$STATE.storage"
    (cd "$REPO/tests" && exec "$PYTHON" -m pvefake --port "$PORT" --control-port "$CONTROL_PORT" \
        --cert "$CACHE/tls.crt" --key "$CACHE/tls.key" --nodes pve1,pve2,pve3 \
        --user "root@pam=$PASSWORD" --token "root@pam!virtrigaud=$TOKEN_SECRET" \
        --template vr-template:9000:pve1 --template vr-dup-template:9001:pve2 --template vr-dup-template:9002:pve3 \
        --storage-dir "$STATE.storage" --stats-interval "${PVEFAKE_STATS_INTERVAL:-10}" \
        --seed-vms "${PVEFAKE_SEED_VMS:-0}" ${PVEFAKE_ANCHOR_ROUTES:+--anchor-routes} \
        --request-log "$STATE.requests" --pid-file "$STATE.pid") > "$STATE.log" 2>&1 &
    daemon_started "PVEFAKE_PORT=$PORT"
    echo "$TOKEN_SECRET" > "$STATE.token"
    chmod 600 "$STATE.token"
    # Seeding thousands of VMs (benchmarks) delays the first answer: PVEFAKE_START_TICKS tenths of a second.
    for _ in $(seq "${PVEFAKE_START_TICKS:-100}"); do
        curl -sk -o /dev/null "https://127.0.0.1:$PORT/api2/json/version" && break
        sleep 0.1
    done
    curl -sk -o /dev/null "https://127.0.0.1:$PORT/api2/json/version" || { cat "$STATE.log" >&2; return 1; }
    echo "fake PVE: listening on https://127.0.0.1:$PORT (control port $CONTROL_PORT)"
}

stop() {
    daemon_stop "$STATE" "the fake PVE"
    rm -f "$STATE.token"
}

status() {
    if running; then echo "fake PVE: running ($(cat "$STATE.pid")) on port $PORT"; else echo "fake PVE: stopped"; fi
}

print_env() {
    cat <<EOT
export PROXMOX_HOST=127.0.0.1 PROXMOX_PORT=$PORT PROXMOX_USER=root@pam PROXMOX_PASSWORD=$PASSWORD
export PROXMOX_TOKEN_ID=virtrigaud PROXMOX_TOKEN_SECRET=$(cat "$STATE.token" 2>/dev/null)
export PVEFAKE_CA=$CACHE/tls.crt PVEFAKE_CONTROL=http://127.0.0.1:$CONTROL_PORT
export PVEFAKE_STORAGE=$STATE.storage PVEFAKE_REQUESTS=$STATE.requests
EOT
}

case "${1:-}" in
    start | stop | restart | status) "$@" ;;
    env) print_env ;;
    *) echo "usage: $0 start|stop|restart|status|env" >&2; exit 2 ;;
esac
