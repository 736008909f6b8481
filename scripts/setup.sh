#!/usr/bin/env bash
# Install everything the collection and its tests need on Debian 12 (as root),
# then start the libvirt test bed.  Safe to run again: each step checks first.
set -euo pipefail
# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"

say "Debian packages"
"$TESTBED/libvirtd.sh" install
# ansible-test sanity runs ShellCheck on the scripts when it is installed.
command -v shellcheck >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null

say "Python packages"
install_python_requirements

say "ansible-test offline"
"$TESTBED/ansible-test-offline.sh"

say "libvirtd"
"$TESTBED/libvirtd.sh" start

say "Guest image"
image="$("$TESTBED/guest-image.sh" | tail -n 1)"
"$TESTBED/seed-image.sh" "$image"

say "Collection tree"
build_tree
echo "$COLLECTION"
