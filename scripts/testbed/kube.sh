#!/usr/bin/env bash
# The Kubernetes test bed: a real kube-apiserver on a real etcd, both built
# from the Go module proxy (modules in kube/, binaries cached by the hash of
# their go.mod and go.sum), started on loopback with a fresh data directory,
# a generated CA, serving certificate, service-account key, static admin
# token and encryption of Secrets at rest, and stopped by pid. No scheduler, controller-manager or kubelet runs:
# objects are stored and validated, pods never start.
#   kube.sh build | start | stop | status | env
# `env` prints KUBECONFIG and K8S_AUTH_KUBECONFIG for a shell.
set -euo pipefail

# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"
CACHE="$VIRTRIGAUD_CACHE/kube"
PORT="${KUBE_APISERVER_PORT:-16443}"
ETCD_PORT="${KUBE_ETCD_PORT:-12379}"
GO_NEEDED=1.22

STATE="$RUN_DIR/kube-$PORT"
ETCD_STATE="$STATE-etcd"
KUBECONFIG_FILE="$STATE.kubeconfig"

# binary NAME: the cached path of kube/NAME's build, keyed by its module files.
binary() { echo "$CACHE/$1-$(cat "$TESTBED/kube/$1"/go.* "$TESTBED/kube/$1"/*.go | sha256sum | cut -c1-12)"; }

build_one() {
    local name="$1" package="$2" target
    target="$(binary "$name")"
    [ -x "$target" ] && return 0
    if ! command -v go >/dev/null; then
        log "the Kubernetes test bed needs Go $GO_NEEDED or newer on the PATH to build $name"
        return 1
    fi
    mkdir -p "$CACHE"
    log "building $name from the Go module proxy ($(sed -n 's/^require \([^ (]*\) \(v[^ ]*\)$/\1 \2/p' "$TESTBED/kube/$name/go.mod" | head -n 1))"
    (cd "$TESTBED/kube/$name" && GOFLAGS=-mod=readonly go build -trimpath -o "$target.tmp" "$package")
    mv "$target.tmp" "$target"
    find "$CACHE" -maxdepth 1 -name "$name-*" ! -path "$target" -delete
}

build() {
    build_one etcd .
    build_one apiserver k8s.io/kubernetes/cmd/kube-apiserver
}

# The cluster's PKI, made once: a CA, a serving certificate for 127.0.0.1,
# the service-account signing key, and a static admin token.
pki() {
    local dir="$CACHE/pki"
    [ -f "$dir/token.csv" ] && return 0
    mkdir -p "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=virtrigaud-testbed-ca" \
        -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$dir/apiserver.key" \
        -out "$dir/apiserver.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' > "$dir/san.ext"
    openssl x509 -req -in "$dir/apiserver.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
        -days 3650 -extfile "$dir/san.ext" -out "$dir/apiserver.crt" 2>/dev/null
    openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
    openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
    printf '%s,virtrigaud-admin,virtrigaud-admin,system:masters\n' "$(openssl rand -hex 24)" > "$dir/token.csv"
    chmod 600 "$dir"/*.key "$dir/token.csv"
}

# The aggregation layer's front proxy: its own CA, and the client certificate the kube-apiserver presents
# to aggregated API servers (the KubeVirt leg's virt-api stand-in), made once.
front_proxy_pki() {
    local dir="$CACHE/pki"
    [ -f "$dir/front-proxy-client.crt" ] && return 0
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=virtrigaud-front-proxy-ca" \
        -keyout "$dir/front-proxy-ca.key" -out "$dir/front-proxy-ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=front-proxy-client" -keyout "$dir/front-proxy-client.key" \
        -out "$dir/front-proxy-client.csr" 2>/dev/null
    openssl x509 -req -in "$dir/front-proxy-client.csr" -CA "$dir/front-proxy-ca.crt" \
        -CAkey "$dir/front-proxy-ca.key" -CAcreateserial -days 3650 -out "$dir/front-proxy-client.crt" 2>/dev/null
    chmod 600 "$dir"/front-proxy-*.key
}

# Secrets are encrypted at rest (AES-CBC), as a production cluster should have them:
# no credential the tests write can be read back from etcd's files.
encryption_config() {
    local file="$CACHE/pki/encryption.yaml"
    [ -f "$file" ] && return 0
    umask 077
    cat > "$file" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: testbed
              secret: $(head -c 32 /dev/urandom | base64)
      - identity: {}
EOF
}

running() { daemon_running "$STATE" && daemon_running "$ETCD_STATE"; }

wait_for() {
    local what="$1" url="$2" state="$3" i
    for i in $(seq 600); do
        if curl -fsk --max-time 2 "$url" >/dev/null 2>&1; then
            log "$what ready after $((i / 10)).$((i % 10)) s"
            return 0
        fi
        daemon_running "$state" || { tail -n 30 "$state.log" >&2; log "$what exited"; return 1; }
        sleep 0.1
    done
    tail -n 30 "$state.log" >&2
    log "$what did not become ready"
    return 1
}

write_kubeconfig() {
    local token
    token="$(cut -d, -f1 "$CACHE/pki/token.csv")"
    umask 077
    cat > "$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: virtrigaud-testbed
  cluster:
    server: https://127.0.0.1:$PORT
    certificate-authority: $CACHE/pki/ca.crt
users:
- name: virtrigaud-admin
  user:
    token: $token
contexts:
- name: virtrigaud-testbed
  context:
    cluster: virtrigaud-testbed
    user: virtrigaud-admin
    namespace: default
current-context: virtrigaud-testbed
EOF
}

start() {
    running && { status; return 0; }
    stop >/dev/null
    build
    pki
    front_proxy_pki
    encryption_config
    mkdir -p "$RUN_DIR"
    rm -rf "$ETCD_STATE.data"
    "$(binary etcd)" --data-dir "$ETCD_STATE.data" --name testbed \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
        --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
        --initial-cluster "testbed=http://127.0.0.1:$((ETCD_PORT + 1))" \
        --unsafe-no-fsync > "$ETCD_STATE.log" 2>&1 &
    echo $! > "$ETCD_STATE.pid"
    daemon_started "KUBE_APISERVER_PORT=$PORT"
    wait_for etcd "http://127.0.0.1:$ETCD_PORT/health" "$ETCD_STATE"
    local dir="$CACHE/pki"
    # KUBE_EXTRA_TOKENS: a file of more lines for the static token file (token,user,uid[,"group,..."]), for
    # this run only.  The combined file is kept with the PKI, not in the run folder whose files the legs
    # search for their secret canaries: a token is the server's to know.
    umask 077
    cat "$dir/token.csv" ${KUBE_EXTRA_TOKENS:+"$KUBE_EXTRA_TOKENS"} > "$dir/tokens-$PORT.csv"
    "$(binary apiserver)" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$PORT" \
        --tls-cert-file "$dir/apiserver.crt" --tls-private-key-file "$dir/apiserver.key" \
        --client-ca-file "$dir/ca.crt" --token-auth-file "$dir/tokens-$PORT.csv" --authorization-mode RBAC \
        --requestheader-client-ca-file "$dir/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
        --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
        --requestheader-extra-headers-prefix X-Remote-Extra- \
        --proxy-client-cert-file "$dir/front-proxy-client.crt" --proxy-client-key-file "$dir/front-proxy-client.key" \
        --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$dir/sa.pub" \
        --service-account-signing-key-file "$dir/sa.key" --service-cluster-ip-range 10.96.0.0/16 \
        --encryption-provider-config "$dir/encryption.yaml" --cert-dir "$STATE.certs" > "$STATE.log" 2>&1 &
    echo $! > "$STATE.pid"
    wait_for kube-apiserver "https://127.0.0.1:$PORT/readyz" "$STATE"
    write_kubeconfig
    status
}

stop() {
    daemon_stop "$STATE" kube-apiserver
    daemon_stop "$ETCD_STATE" etcd
    rm -rf "$ETCD_STATE.data" "$KUBECONFIG_FILE" "$CACHE/pki/tokens-$PORT.csv"
}

status() {
    if running; then
        echo "kube-apiserver: running ($(cat "$STATE.pid")) at https://127.0.0.1:$PORT, etcd ($(cat "$ETCD_STATE.pid")); KUBECONFIG=$KUBECONFIG_FILE"
    else
        echo "kube-apiserver: stopped"
    fi
}

print_env() { echo "export KUBECONFIG=$KUBECONFIG_FILE K8S_AUTH_KUBECONFIG=$KUBECONFIG_FILE"; }

case "${1:-}" in
    build | start | stop | restart | status) "$@" ;;
    env) print_env ;;
    *) echo "usage: $0 build|start|stop|restart|status|env" >&2; exit 2 ;;
esac
