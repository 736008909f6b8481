# Shared by the test-bed scripts that run a server in the background: a
# self-signed loopback certificate, and start/stop bookkeeping by pid file.
# shellcheck shell=bash

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
