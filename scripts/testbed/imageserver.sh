#!/usr/bin/env bash
# The image server of the test bed (tests/imageserver) on 127.0.0.1: the tiny guest image
# (guest-image.sh builds it) as tiny.qcow2, the same as raw (tiny.raw), and a corrupted copy
# (tiny-corrupt.qcow2, one byte changed), an OVA of it (tiny.ova, for vSphere), with byte ranges, a slow path /slow/ and a cut one /cut/.
#   imageserver.sh start | stop | restart | status | env
set -euo pipefail

# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"
PORT="${IMAGESERVER_PORT:-18080}"
STATE="$RUN_DIR/imageserver-$PORT"

running() { daemon_running "$STATE"; }

serve_folder() {
    local image="$1" root="$STATE.files"
    mkdir -p "$root"
    if ! cmp -s "$image" "$root/tiny.qcow2"; then
        cp "$image" "$root/tiny.qcow2"
        qemu-img convert -O raw "$image" "$root/tiny.raw"
        cp "$image" "$root/tiny-corrupt.qcow2"
        # One byte near the end differs, so only the checksum can tell.
        printf 'X' | dd of="$root/tiny-corrupt.qcow2" bs=1 seek=$(($(stat -c %s "$image") - 100)) conv=notrunc status=none
        rm -f "$root/tiny.ova"
    fi
    [ -f "$root/tiny.ova" ] || build_ova "$root"
}

# tiny.ova: the OVF descriptor of scripts/testbed/ova first, then the guest's disk as a stream-optimized vmdk.
build_ova() {
    local root="$1" work
    work="$(mktemp -d)"
    qemu-img convert -O vmdk -o subformat=streamOptimized "$root/tiny.qcow2" "$work/tiny-disk1.vmdk"
    sed -e "s/@DISK_BYTES@/$(stat -c %s "$work/tiny-disk1.vmdk")/" \
        -e "s/@CAPACITY@/$(qemu-img info --output=json "$root/tiny.qcow2" | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["virtual-size"])')/" \
        "$TESTBED/ova/tiny.ovf.in" > "$work/tiny.ovf"
    tar -C "$work" -cf "$root/tiny.ova.part" tiny.ovf tiny-disk1.vmdk
    mv "$root/tiny.ova.part" "$root/tiny.ova"
    rm -rf "$work"
}

start() {
    mkdir -p "$RUN_DIR"
    # The folder first: a server already up serves whatever it holds, the OVA included.
    serve_folder "$("$TESTBED/guest-image.sh" | tail -n 1)"
    running && { status; return 0; }
    (cd "$REPO/tests" && exec "$PYTHON" -m imageserver --root "$STATE.files" --port "$PORT" \
        --slow-rate "${IMAGESERVER_SLOW_RATE:-1300000}" --digest-dir "$STATE.digests" --pid-file "$STATE.pid") > "$STATE.log" 2>&1 &
    daemon_started "IMAGESERVER_PORT=$PORT"
    for _ in $(seq 50); do
        curl -sf -o /dev/null "http://127.0.0.1:$PORT/SUMS" && break
        sleep 0.1
    done
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/SUMS" || { cat "$STATE.log" >&2; return 1; }
    echo "image server: listening on http://127.0.0.1:$PORT"
}

stop() { daemon_stop "$STATE" "the image server"; }

status() {
    if running; then echo "image server: running ($(cat "$STATE.pid")) on port $PORT"; else echo "image server: stopped"; fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    status) status ;;
    env) echo "export IMAGESERVER_URL=http://127.0.0.1:$PORT IMAGESERVER_FILES=$STATE.files" ;;
    *) echo "usage: $0 start|stop|restart|status|env" >&2; exit 2 ;;
esac
