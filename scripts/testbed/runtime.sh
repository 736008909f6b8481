#!/usr/bin/env bash
# The provider runtime test bed: a CA, a server certificate (serverAuth and
# clientAuth, for 127.0.0.1 and localhost) and a client certificate, all made
# once; then the collection's runtime on loopback over mTLS with a backend
# behind it, stopped by pid.
#   runtime.sh certs | start TYPE ENDPOINT | stop | status | env
# RUNTIME_PASSWORD becomes the runtime's credential file `password`.
set -euo pipefail

# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"
CACHE="$VIRTRIGAUD_CACHE"
PKI="$CACHE/runtime-pki"
PORT="${RUNTIME_PORT:-19443}"
HTTP_PORT="${RUNTIME_HTTP_PORT:-18443}"
STATE="$RUN_DIR/runtime-$PORT"
# Outside $RUN_DIR, whose files the suite searches for leaked secrets.
CREDENTIALS="$CACHE/runtime-credentials-$PORT"

# issue NAME CA_DIR: a key and a certificate signed by the CA in CA_DIR, good for both ends of mTLS.
issue() {
    local name="$1" ca="$2"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$name" \
        > "$PKI/$name.ext"
    openssl x509 -req -in "$PKI/$name.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial -days 3650 \
        -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
    rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

authority() {
    mkdir -p "$1"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$(basename "$1")" \
        -keyout "$1/ca.key" -out "$1/ca.crt" 2>/dev/null
}

certs() {
    [ -f "$PKI/client.crt" ] && return 0
    mkdir -p "$PKI"
    authority "$PKI/ca"
    authority "$PKI/other-ca"
    issue server "$PKI/ca"
    issue client "$PKI/ca"
    issue stranger "$PKI/other-ca"
    mkdir -p "$PKI/server-tls"
    cp "$PKI/server.crt" "$PKI/server-tls/tls.crt"
    cp "$PKI/server.key" "$PKI/server-tls/tls.key"
    cp "$PKI/ca/ca.crt" "$PKI/server-tls/ca.crt"
}

running() { daemon_running "$STATE"; }

start() {
    local type="$1" endpoint="$2"
    running && { status; return 0; }
    certs
    mkdir -p "$RUN_DIR" "$CREDENTIALS"
    chmod 700 "$CREDENTIALS"
    printf '%s' "${RUNTIME_USERNAME:-vr-tester}" > "$CREDENTIALS/username"
    printf '%s' "${RUNTIME_PASSWORD:-vr-runtime-secret}" > "$CREDENTIALS/password"
    PYTHONPATH="${VIRTRIGAUD_COLLECTIONS:-$CACHE/collections}:$REPO/runtime" PROVIDER_TYPE="$type" \
        PROVIDER_ENDPOINT="$endpoint" PROVIDER_NAMESPACE=testbed PROVIDER_NAME="$type" \
        "$PYTHON" -m virtrigaud_runtime --grpc-addr="127.0.0.1:$PORT" --metrics-addr="127.0.0.1:$HTTP_PORT" \
        --tls-dir "$PKI/server-tls" --credentials-dir "$CREDENTIALS" > "$STATE.log" 2>&1 &
    echo $! > "$STATE.pid"
    daemon_started "RUNTIME_PORT=$PORT"
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/readyz" && break
        running || { cat "$STATE.log" >&2; return 1; }
        sleep 0.1
    done
    curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/readyz" || { cat "$STATE.log" >&2; return 1; }
    echo "provider runtime ($type): mTLS on 127.0.0.1:$PORT, probes and metrics on 127.0.0.1:$HTTP_PORT"
}

stop() {
    daemon_stop "$STATE" "the provider runtime"
    rm -rf "$CREDENTIALS"
}

status() {
    if running; then echo "provider runtime: running ($(cat "$STATE.pid")) on port $PORT"; else
        echo "provider runtime: stopped"; fi
}

print_env() {
    cat <<EOT
export VIRTRIGAUD_PROVIDER_TYPE=remote VIRTRIGAUD_URI=127.0.0.1:$PORT VIRTRIGAUD_CA_PATH=$PKI/ca/ca.crt
export VIRTRIGAUD_CLIENT_CERT=$PKI/client.crt VIRTRIGAUD_CLIENT_KEY=$PKI/client.key
export RUNTIME_PKI=$PKI RUNTIME_LOG=$STATE.log RUNTIME_HTTP=http://127.0.0.1:$HTTP_PORT
EOT
}

case "${1:-}" in
    certs | stop | status) "$1" ;;
    start | restart) "$@" ;;
    env) print_env ;;
    *) echo "usage: $0 certs|start TYPE ENDPOINT|stop|restart TYPE ENDPOINT|status|env" >&2; exit 2 ;;
esac
