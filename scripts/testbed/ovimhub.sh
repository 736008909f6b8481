#!/usr/bin/env bash
# The OVIM hub test bed: the project's fake hub (tests/ovim_hub) on loopback over TLS with a self-signed
# certificate, and its plain-HTTP control port (push, queue, modes down/error/slow).  Stopped by pid.
#   ovimhub.sh start | stop | restart | status | env
# OVIM_FAKE_HUB_TOKEN is the bearer token it accepts (default upstream's fixed spoke-agent-token).
set -euo pipefail

# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"
CACHE="$VIRTRIGAUD_CACHE/ovimhub"
PORT="${OVIM_HUB_PORT:-18480}"
CONTROL_PORT="${OVIM_HUB_CONTROL_PORT:-18481}"
STATE="$RUN_DIR/ovimhub-$PORT"

running() { daemon_running "$STATE"; }

start() {
    running && { status; return 0; }
    self_signed_certificate "$CACHE"
    mkdir -p "$RUN_DIR"
    (cd "$REPO/tests" && exec "$PYTHON" -m ovim_hub --port "$PORT" --control-port "$CONTROL_PORT" \
        --cert "$CACHE/tls.crt" --key "$CACHE/tls.key" --pid-file "$STATE.pid") > "$STATE.log" 2>&1 &
    daemon_started "OVIM_HUB_PORT=$PORT"
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$CONTROL_PORT/state" && break
        sleep 0.1
    done
    curl -s -o /dev/null "http://127.0.0.1:$CONTROL_PORT/state" || { cat "$STATE.log" >&2; return 1; }
    echo "fake OVIM hub: listening on https://127.0.0.1:$PORT (control port $CONTROL_PORT)"
}

stop() { daemon_stop "$STATE" "the fake OVIM hub"; }

status() {
    if running; then echo "fake OVIM hub: running ($(cat "$STATE.pid")) on port $PORT"; else echo "fake OVIM hub: stopped"; fi
}

print_env() {
    echo "export OVIM_FAKE_HUB=https://127.0.0.1:$PORT OVIM_FAKE_HUB_CA=$CACHE/tls.crt OVIM_FAKE_HUB_CONTROL=http://127.0.0.1:$CONTROL_PORT"
}

case "${1:-}" in
    start | stop | restart | status) "$1" ;;
    env) print_env ;;
    *) echo "usage: $0 start|stop|restart|status|env" >&2; exit 2 ;;
esac
