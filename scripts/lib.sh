# Shared by the scripts in this folder: paths and the collection tree ansible-test needs.
# shellcheck shell=bash

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VIRTRIGAUD_CACHE="${VIRTRIGAUD_CACHE:-$HOME/.cache/virtrigaud}"
PYTHON="${PYTHON:-python3}"
# VIRTRIGAUD_TREE gives a checkout a tree of its own, so that runs from two checkouts cannot mix their files.
TREE="${VIRTRIGAUD_TREE:-$VIRTRIGAUD_CACHE/collections}"
export VIRTRIGAUD_COLLECTIONS="$TREE"
COLLECTION="$TREE/ansible_collections/virtrigaud/core"

say() { printf '\n==> %s\n' "$*"; }

# ansible-test must run from .../ansible_collections/virtrigaud/core; copy the
# checkout's files there (tracked and new, not ignored) so tests see exactly them.
build_tree() {
    mkdir -p "$COLLECTION"
    (cd "$REPO" && git ls-files -co --exclude-standard -z) |
        rsync -a --from0 --files-from=- "$REPO/" "$COLLECTION/"
    (cd "$REPO" && git ls-files -co --exclude-standard | sort) > "$VIRTRIGAUD_CACHE/tree.list"
    # rsync --files-from deletes nothing: remove what the checkout no longer has (an earlier run's, another
    # checkout's), but not git's files, ansible-test's output or caches.
    (cd "$COLLECTION" && find . -type f -not -path './.git/*' -not -path './tests/output/*' \
        -not -path '*/__pycache__/*' -not -path './tests/integration/integration_config.yml' | sed 's|^\./||' | sort |
        comm -23 - "$VIRTRIGAUD_CACHE/tree.list" | xargs -r -d '\n' rm -f --)
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

# A Python 3.12 for the newest ansible-core: PYTHON_NEWEST, the system's, or pyenv's.
newest_python() {
    local candidate
    for candidate in "${PYTHON_NEWEST:-}" /usr/local/bin/python3.12 /usr/bin/python3.12 \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
