#!/usr/bin/env bash
# The vSphere test bed: build the govmomi simulator launcher in vcsim/ from the
# Go module proxy (cached by the hash of its sources), then start it on
# loopback over TLS with a self-signed certificate, and stop it by pid.
#   vcsim.sh build | start [VMS_PER_HOST] | stop | status | env
# `env` prints VMWARE_* settings (and VCSIM_CA, the certificate) for a shell.
set -euo pipefail

# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"
CACHE="$VIRTRIGAUD_CACHE/vcsim"
PORT="${VCSIM_PORT:-18989}"
USERNAME="${VCSIM_USERNAME:-vr-admin}"
PASSWORD="${VCSIM_PASSWORD:-vr-vcsim-secret}"
GO_NEEDED=1.23

binary() { echo "$CACHE/vcsim-$(cat "$TESTBED/vcsim/go.mod" "$TESTBED/vcsim/go.sum" "$TESTBED/vcsim/main.go" | sha256sum | cut -c1-12)"; }

build() {
    local target
    target="$(binary)"
    [ -x "$target" ] && return 0
    if ! command -v go >/dev/null; then
        log "vcsim needs Go $GO_NEEDED or newer on the PATH to build the govmomi simulator"
        return 1
    fi
    mkdir -p "$CACHE"
    log "building the vCenter simulator (govmomi $(sed -n 's/^require github.com\/vmware\/govmomi //p' "$TESTBED/vcsim/go.mod"))"
    (cd "$TESTBED/vcsim" && GOFLAGS=-mod=readonly go build -trimpath -o "$target.tmp" .)
    mv "$target.tmp" "$target"
    find "$CACHE" -name 'vcsim-*' ! -path "$target" -delete
}

STATE="$RUN_DIR/vcsim-$PORT"

running() { daemon_running "$STATE"; }

start() {
    local vms="${1:-2}"
    running && { status; return 0; }
    build
    self_signed_certificate "$CACHE"
    mkdir -p "$RUN_DIR"
    rm -f "$STATE.url"
    "$(binary)" -listen "127.0.0.1:$PORT" -username "$USERNAME" -password "$PASSWORD" -vms "$vms" \
        -cert "$CACHE/tls.crt" -key "$CACHE/tls.key" -url-file "$STATE.url" > "$STATE.log" 2>&1 &
    echo $! > "$STATE.pid"
    daemon_started "VCSIM_PORT=$PORT"
    # A large inventory takes a while to build: about 40 s for 2,000 VMs (VCSIM_START_TICKS tenths of a second at most).
    for _ in $(seq "${VCSIM_START_TICKS:-3000}"); do
        [ -s "$STATE.url" ] && break
        running || { cat "$STATE.log" >&2; return 1; }
        sleep 0.1
    done
    [ -s "$STATE.url" ] || { log "vcsim did not start"; return 1; }
    cat "$STATE.log"
}

stop() {
    daemon_stop "$STATE" vcsim
    rm -rf "$STATE.url" "$STATE.LocalDS_1"
}

status() {
    if running; then echo "vcsim: running ($(cat "$STATE.pid")) at $(cat "$STATE.url")"; else echo "vcsim: stopped"; fi
}

print_env() {
    cat <<EOF
export VMWARE_HOST=127.0.0.1 VMWARE_PORT=$PORT VMWARE_USER=$USERNAME VMWARE_PASSWORD=$PASSWORD
export VCSIM_CA=$CACHE/tls.crt VCSIM_SECOND_DATASTORE_DIR=$STATE.LocalDS_1
EOF
}

case "${1:-}" in
    build | start | stop | restart | status) "$@" ;;
    env) print_env ;;
    *) echo "usage: $0 build|start [VMS_PER_HOST]|stop|restart [VMS_PER_HOST]|status|env" >&2; exit 2 ;;
esac
