# Shared by the scripts in this folder: paths and the collection tree ansible-test needs.
# shellcheck shell=bash

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VIRTRIGAUD_CACHE="${VIRTRIGAUD_CACHE:-$HOME/.cache/virtrigaud}"
PYTHON="${PYTHON:-python3}"
TREE="$VIRTRIGAUD_CACHE/collections"
COLLECTION="$TREE/ansible_collections/virtrigaud/core"

say() { printf '\n==> %s\n' "$*"; }

# ansible-test must run from .../ansible_collections/virtrigaud/core; copy the
# checkout's files there (tracked and new, not ignored) so tests see exactly them.
build_tree() {
    mkdir -p "$COLLECTION"
    (cd "$REPO" && git ls-files -co --exclude-standard -z) |
        rsync -a --delete --from0 --files-from=- "$REPO/" "$COLLECTION/"
    (cd "$REPO" && git ls-files -co --exclude-standard) > "$VIRTRIGAUD_CACHE/tree.list"
    # ansible-test lists files through git when it finds a repository.
    if [ ! -d "$COLLECTION/.git" ]; then
        git -C "$COLLECTION" init -q
    fi
    git -C "$COLLECTION" add -A
    export ANSIBLE_COLLECTIONS_PATH="$TREE"
}

install_python_requirements() {
    "$PYTHON" -m pip install -q --disable-pip-version-check -r "$REPO/requirements.txt" -r "$REPO/tests/requirements.txt"
}
