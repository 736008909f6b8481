# The test bed's one shell library, sourced by every script in this folder and by scripts/lib.sh: logging,
# the cache and run folders, a loopback certificate, and the bookkeeping of servers run in the background
# (start, stop, restart by pid file, and the list of servers a test run started, for it to stop at its end).
# shellcheck shell=bash

TESTBED="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034  # REPO and RUN_DIR are for the scripts that source this file
REPO="$(cd "$TESTBED/../.." && pwd)"
# What the test bed builds or fetches once (binaries, images, certificates), kept between runs.
export VIRTRIGAUD_CACHE="${VIRTRIGAUD_CACHE:-$HOME/.cache/virtrigaud}"
# Pid files and logs of the running servers; the suites search it for leaked secrets.
# shellcheck disable=SC2034
RUN_DIR=/run/virtrigaud-testbed
export PYTHON="${PYTHON:-python3}"

log() { printf '%s\n' "$*" >&2; }

# self_signed_certificate DIR: DIR/tls.crt and DIR/tls.key for 127.0.0.1, made once.
self_signed_certificate() {
    [ -f "$1/tls.crt" ] && return 0
    mkdir -p "$1"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$1/tls.key" -out "$1/tls.crt" 2>/dev/null
}

# daemon_running STATE: the process in STATE.pid is alive.
daemon_running() { [ -f "$1.pid" ] && kill -0 "$(cat "$1.pid")" 2>/dev/null; }

# daemon_stop STATE NAME: stop the process in STATE.pid and wait up to 10 s for it.
daemon_stop() {
    daemon_running "$1" || { rm -f "$1.pid"; return 0; }
    local pid
    pid="$(cat "$1.pid")"
    kill "$pid"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$1.pid"
    echo "stopped $2 ($pid)"
}

# daemon_started PORT_SETTING: a server script's `start` started its server (PORT_SETTING, such as
# VCSIM_PORT=18989, finds it again).  Inside a test run (VIRTRIGAUD_STARTED names its list), the run
# stops it at its end with stop_started_servers.
daemon_started() {
    [ -z "${VIRTRIGAUD_STARTED:-}" ] || printf '%s %s\n' "$1" "$0" >> "$VIRTRIGAUD_STARTED"
}

# stop_started_servers: stop, newest first, every server the run's list names, then empty the list.
stop_started_servers() {
    [ -s "${VIRTRIGAUD_STARTED:-}" ] || return 0
    local setting script
    tac "$VIRTRIGAUD_STARTED" | awk '!seen[$0]++' | while read -r setting script; do
        env "$setting" "$script" stop >&2 || true
    done
    : > "$VIRTRIGAUD_STARTED"
}

# The `restart` verb of every server script, on its own `stop` and `start`.
restart() {
    stop >/dev/null
    start "$@"
}
