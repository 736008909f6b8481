#!/usr/bin/env bash
# The container test bed: Debian's podman with the two settings this host
# needs, a base image made from Debian's packages (debootstrap, then podman
# import; the root filesystem is cached), and the runtime image built from
# runtime/Containerfile on it.  No registry is used.  `test` is the test command's
# container stage, run with the collection's tree (scripts/lib.sh).
#   container.sh install | check | base | build | image | test
# `check` exits 0 when podman can run a container here, else prints why in one
# line and exits 1.  `image` prints the runtime image's name.
set -euo pipefail
# shellcheck disable=SC1091  # scripts/lib.sh, one folder up
source "$(dirname "$0")/../lib.sh"

CACHE="$VIRTRIGAUD_CACHE/container"
BASE_IMAGE=localhost/virtrigaud/debian:bookworm
VERSION="$(sed -n 's/^version: //p' "$REPO/galaxy.yml")"
RUNTIME_IMAGE="localhost/virtrigaud/provider-runtime:$VERSION"
CONF=/etc/containers/containers.conf
MARK="# virtrigaud.core test bed"

install() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]} from Debian"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    # crun fails on setrlimit and refuses this host's cgroup v1 layout; runc with no
    # default ulimits works (../shared/TESTBED.md, Containers).
    if ! grep -qF "$MARK" "$CONF" 2>/dev/null; then
        mkdir -p "$(dirname "$CONF")"
        [ -f "$CONF" ] && grep -qE '^\[(containers|engine)\]' "$CONF" && { log "$CONF has its own settings; not touching it"; return 0; }
        cat >> "$CONF" <<EOF
$MARK
[containers]
default_ulimits = []

[engine]
runtime = "runc"
EOF
    fi
}

check() {
    command -v podman >/dev/null || { echo "podman is not installed"; return 1; }
    local out
    if ! out="$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>&1)"; then
        echo "podman cannot start here: $(printf '%s' "$out" | tail -n 1)"
        return 1
    fi
}

base() {
    podman image exists "$BASE_IMAGE" && return 0
    local tarball="$CACHE/bookworm-minbase.tar"
    if [ ! -s "$tarball" ]; then
        local root="$CACHE/rootfs"
        rm -rf "$root"
        mkdir -p "$CACHE"
        log "making a Debian 12 base image with debootstrap (about 20 s)"
        debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
        tar -C "$root" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$root"
    fi
    podman import --quiet "$tarball" "$BASE_IMAGE" >/dev/null
}

build() {
    base
    log "building $RUNTIME_IMAGE"
    local trust=()
    # pip inside the build trusts what the host trusts (this network's TLS goes through a proxy CA).
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        trust=(--volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg PIP_CERT=/run/host-ca.crt)
    fi
    podman build --quiet --network host --build-arg "BASE=$BASE_IMAGE" "${trust[@]}" \
        --label "org.opencontainers.image.version=$VERSION" \
        --label "org.opencontainers.image.revision=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        -f "$REPO/runtime/Containerfile" -t "$RUNTIME_IMAGE" "$REPO" >/dev/null
}

# The stage itself (scripts/test.sh container): the Deployments the role writes, run and judged, then the
# scenario suite through the runtime's container.
run_stage() {
    trap 'container_harness stop' EXIT
    build
    build_tree
    "$TESTBED/libvirtd.sh" start
    "$TESTBED/libvirtd.sh" listen-tcp
    "$TESTBED/seed-image.sh" "$("$TESTBED/guest-image.sh" | tail -n 1)" >/dev/null
    "$TESTBED/runtime.sh" certs
    "$TESTBED/kube.sh" restart >/dev/null
    eval "$("$TESTBED/kube.sh" env)"
    container_deploy lab-libvirt libvirt qemu+tcp://127.0.0.1/system '{}' seed '{"datastore": "virtrigaud"}'
    container_expect ok lab-libvirt
    container_expect failure lab-libvirt --mutate tls-mount-path
    container_expect failure lab-libvirt --mutate probe-port
    container_deploy lab-upstream libvirt qemu+tcp://127.0.0.1/system '{}' upstream '{}'
    container_expect ok lab-upstream
    container_expect failure lab-upstream --mutate missing-provider-type
    container_vsphere
    "$TESTBED/pvefake.sh" restart >/dev/null
    container_deploy lab-proxmox proxmox https://127.0.0.1:18006 \
        '{"username": "root@pam", "password": "vr-pve-secret"}' seed '{}'
    container_expect ok lab-proxmox
    # The scenario suite through the container, which stays up for it.
    container_expect ok lab-libvirt --keep
    VIRTRIGAUD_TARGETS="${VIRTRIGAUD_TARGETS:-vm_scenarios}" integration_leg container || {
        podman logs --tail 30 virtrigaud-runtime-under-test >&2; container_harness stop; return 1; }
    # The conformance suite through the same container.
    conformance_run container 9443 -e image=vr-tiny.qcow2 -e graceful_timeout=60 || {
        podman logs --tail 30 virtrigaud-runtime-under-test >&2; container_harness stop; return 1; }
    container_harness stop
    "$TESTBED/kube.sh" stop >/dev/null
}

container_harness() { (cd "$REPO/tests" && PYTHONPATH="$TREE" "$PYTHON" -m container.harness "$@"); }

# vSphere from inside the container, on vcsim.  The Provider's defaults place a VM
# that names no placement (the roomiest member of a storage pod, a resource pool,
# a folder, a port group).  Then the password is rotated: vcsim restarts with a
# new one, a pod made from the old Secret is refused, the role rolls the pod
# template, and the pod the Deployment now describes logs in.
container_vsphere() {
    local vcenter=https://127.0.0.1:18989/sdk defaults before after refused
    "$TESTBED/vcsim.sh" restart >/dev/null
    vsphere_defaults vr-vcsim-secret setup >/dev/null
    defaults="$(vsphere_defaults vr-vcsim-secret defaults)"
    container_deploy lab-vsphere vsphere "$vcenter" '{"username": "vr-admin", "password": "vr-vcsim-secret"}' seed "$defaults"
    before="$(container_expect ok lab-vsphere --keep)" || return 1
    echo "$before"
    vsphere_defaults vr-vcsim-secret check --tls "$VIRTRIGAUD_CACHE/runtime-pki/server-tls" ||
        { container_harness stop; echo "container: the Provider's vSphere defaults were not used" >&2; return 1; }
    container_harness stop
    VCSIM_PASSWORD=vr-vcsim-rotated "$TESTBED/vcsim.sh" restart >/dev/null
    refused="$(container_expect failure lab-vsphere --timeout 15)" || return 1
    echo "$refused"
    case "$refused" in
        *"user name or password"*) ;;
        *) echo "container: the old credentials failed for another reason than the login" >&2; return 1 ;;
    esac
    container_deploy lab-vsphere vsphere "$vcenter" '{"username": "vr-admin", "password": "vr-vcsim-rotated"}' seed "$defaults"
    after="$(container_expect ok lab-vsphere)" || return 1
    echo "$after"
    if [ "$(checksum_of "$before")" = "$(checksum_of "$after")" ] || [ -z "$(checksum_of "$after")" ]; then
        echo "container: the rotation left the pod template's credentials checksum as it was" >&2
        return 1
    fi
    "$TESTBED/vcsim.sh" restart >/dev/null
}

# vsphere_defaults PASSWORD ARGS...: tests/container/vsphere_defaults.py against vcsim.
vsphere_defaults() {
    local password="$1"
    shift
    (eval "$(VCSIM_PASSWORD="$password" "$TESTBED/vcsim.sh" env)" && cd "$REPO/tests" &&
        PYTHONPATH="$TREE" "$PYTHON" -m container.vsphere_defaults "$@")
}

checksum_of() { printf '%s' "$1" | sed -n 's/.*"credentials_checksum": "\([^"]*\)".*/\1/p'; }

# container_deploy NAME TYPE ENDPOINT CREDENTIALS FLAGS DEFAULTS: a Provider and the role's runtime for it.
container_deploy() {
    ansible-playbook -i localhost, "$REPO/tests/container/deploy.yml" \
        -e "ansible_python_interpreter=$(command -v "$PYTHON")" -e "provider_name=$1" -e "provider_type=$2" \
        -e "provider_endpoint=$3" -e "{\"provider_credentials\": $4, \"provider_defaults\": $6}" \
        -e "runtime_flags=$5" -e "provider_insecure=$([ "$2" = libvirt ] && echo false || echo true)" \
        -e "runtime_image=$RUNTIME_IMAGE" \
        -e "runtime_tls=$VIRTRIGAUD_CACHE/runtime-pki/server-tls" > "$LOGS/container-deploy-$1.log" 2>&1 ||
        { tail -n 30 "$LOGS/container-deploy-$1.log"; return 1; }
}

# container_expect ok|failure PROVIDER [harness options]: run the Deployment and judge the outcome.
container_expect() {
    local want="$1" verdict
    shift
    if verdict="$(container_harness run default "$@")"; then
        [ "$want" = ok ] || { echo "container: $* ran although it should have failed: $verdict" >&2; return 1; }
    else
        [ "$want" = failure ] || { echo "container: $* failed: $verdict" >&2; return 1; }
    fi
    echo "container: $* -> $verdict"
}

case "${1:-}" in
    install | check | base | build) "$@" ;;
    image) echo "$RUNTIME_IMAGE" ;;
    test) run_stage ;;
    *) echo "usage: $0 install|check|base|build|image|test" >&2; exit 2 ;;
esac
