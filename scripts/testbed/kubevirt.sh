#!/usr/bin/env bash
# The KubeVirt test bed, on the kube-apiserver of kube.sh (started first): KubeVirt's CRDs (created: they
# are too large for client-side apply), KubeVirt's admission rules as ValidatingAdmissionPolicies, storage
# classes, the leg's namespaces, image PVC, network and instancetype, the RBAC of docs/guides/kubevirt-rbac.yml,
# and the stand-in for virt-controller, virt-handler, CDI and virt-api (tests/kubevirt_standin), with
# subresources.kubevirt.io registered as an aggregated API.  Stopped by pid.
#   kubevirt.sh start | stop | status | power-api on|off | env
# The leg's token (its secret canary) is user vr-kubevirt's, bound to the guide's RBAC; the token
# vr-kubevirt-no-vmi-token, no secret, is user vr-kubevirt-no-vmi's, bound to the same without reading
# VMIs.  kube.sh must have been started with both in KUBE_EXTRA_TOKENS (`kubevirt.sh tokens TOKEN`).
set -euo pipefail

# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"
CACHE="$VIRTRIGAUD_CACHE"
KUBE_PORT="${KUBE_APISERVER_PORT:-16443}"
VIRT_API_PORT="${KUBEVIRT_API_PORT:-18444}"
STATE="$RUN_DIR/kubevirt-standin-$KUBE_PORT"
PKI="$CACHE/kube/pki"
CRDS="$REPO/tests/kubevirt_standin/crds"

kubeconfig() { echo "$RUN_DIR/kube-$KUBE_PORT.kubeconfig"; }

standin() { (cd "$REPO/tests" && "$PYTHON" -m kubevirt_standin "$@" --kubeconfig "$(kubeconfig)"); }

# virt-api's serving certificate, signed by the test bed's CA for the name the aggregator dials.
certificate() {
    [ -f "$PKI/virt-api.crt" ] && return 0
    openssl req -newkey rsa:2048 -nodes -subj "/CN=virt-api.kubevirt.svc" -keyout "$PKI/virt-api.key" \
        -out "$PKI/virt-api.csr" 2>/dev/null
    printf 'subjectAltName=DNS:virt-api.kubevirt.svc,DNS:localhost,IP:127.0.0.1\n' > "$PKI/virt-api.ext"
    openssl x509 -req -in "$PKI/virt-api.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
        -days 3650 -extfile "$PKI/virt-api.ext" -out "$PKI/virt-api.crt" 2>/dev/null
    chmod 600 "$PKI/virt-api.key"
}

running() { daemon_running "$STATE"; }

# tokens TOKEN: the static token lines kube.sh needs for the leg's two users.
tokens() {
    printf '%s,vr-kubevirt,vr-kubevirt\nvr-kubevirt-no-vmi-token,vr-kubevirt-no-vmi,vr-kubevirt-no-vmi\n' "$1"
}

start() {
    running && { status; return 0; }
    [ -f "$(kubeconfig)" ] || { log "start the kube-apiserver first (kube.sh start)"; return 1; }
    certificate
    mkdir -p "$RUN_DIR"
    standin install --crds "$CRDS/crds-v1.6.0.yaml.gz" --crds "$CRDS/crds-extra-v1.6.0.yaml.gz" \
        --ca "$PKI/ca.crt" --rbac "$REPO/docs/guides/kubevirt-rbac.yml" --port "$VIRT_API_PORT" \
        --user vr-kubevirt=full --user vr-kubevirt-no-vmi=no-vmi
    (cd "$REPO/tests" && exec "$PYTHON" -m kubevirt_standin serve --kubeconfig "$(kubeconfig)" \
        --port "$VIRT_API_PORT" --cert "$PKI/virt-api.crt" --key "$PKI/virt-api.key" \
        --client-ca "$PKI/front-proxy-ca.crt" --pid-file "$STATE.pid") > "$STATE.log" 2>&1 &
    daemon_started "KUBE_APISERVER_PORT=$KUBE_PORT"
    local i
    for i in $(seq 300); do
        if api_available; then
            log "KubeVirt stand-in ready after $((i / 10)).$((i % 10)) s"
            status
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$STATE.log" >&2
    log "subresources.kubevirt.io did not become available"
    return 1
}

api_available() {
    local token
    token="$(sed -n 's/^ *token: //p' "$(kubeconfig)")"
    curl -fsk --max-time 2 -H "Authorization: Bearer $token" \
        "https://127.0.0.1:$KUBE_PORT/apis/subresources.kubevirt.io/v1" >/dev/null 2>&1
}

stop() { daemon_stop "$STATE" "the KubeVirt stand-in"; }

status() {
    if running; then
        echo "KubeVirt stand-in: running ($(cat "$STATE.pid")), virt-api on 127.0.0.1:$VIRT_API_PORT"
    else
        echo "KubeVirt stand-in: stopped"
    fi
}

# power_api on|off: register or remove the APIService, and wait until the aggregator routes (or stops).
power_api() {
    local i
    if [ "$1" = off ]; then
        standin power-api off
    else
        standin power-api on --ca "$PKI/ca.crt" --port "$VIRT_API_PORT"
    fi
    for i in $(seq 100); do
        if api_available; then [ "$1" = on ] && return 0; else [ "$1" = off ] && return 0; fi
        sleep 0.1
    done
    log "subresources.kubevirt.io did not turn $1"
    return 1
}

case "${1:-}" in
    start | stop | restart | status) "$1" ;;
    power-api) power_api "${2:?on or off}" ;;
    tokens) tokens "${2:?a token}" ;;
    env) echo "export KUBECONFIG=$(kubeconfig) KUBEVIRT_CA=$PKI/ca.crt KUBEVIRT_API=https://127.0.0.1:$KUBE_PORT" ;;
    *) echo "usage: $0 start|stop|restart|status|power-api on|off|tokens TOKEN|env" >&2; exit 2 ;;
esac
