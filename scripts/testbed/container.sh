#!/usr/bin/env bash
# The container test bed: Debian's podman with the two settings this host
# needs, a base image made from Debian's packages (debootstrap, then podman
# import; the root filesystem is cached), and the runtime image built from
# runtime/Containerfile on it.  No registry is used.
#   container.sh install | check | base | build | image
# `check` exits 0 when podman can run a container here, else prints why in one
# line and exits 1.  `image` prints the runtime image's name.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${VIRTRIGAUD_CACHE:-$HOME/.cache/virtrigaud}/container"
BASE_IMAGE=localhost/virtrigaud/debian:bookworm
VERSION="$(sed -n 's/^version: //p' "$REPO/galaxy.yml")"
RUNTIME_IMAGE="localhost/virtrigaud/provider-runtime:$VERSION"
CONF=/etc/containers/containers.conf
MARK="# virtrigaud.core test bed"

log() { printf '%s\n' "$*" >&2; }

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

case "${1:-}" in
    install | check | base | build) "$@" ;;
    image) echo "$RUNTIME_IMAGE" ;;
    *) echo "usage: $0 install|check|base|build|image" >&2; exit 2 ;;
esac
