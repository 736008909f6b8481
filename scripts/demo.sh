#!/usr/bin/env bash
# Set everything up on this machine and run the demo playbook on the local libvirt.
set -euo pipefail
# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"
"$REPO/scripts/setup.sh"
say "Demo playbook"
cd "$REPO"
# An explicit localhost and interpreter: no warnings about an empty inventory or interpreter discovery.
ANSIBLE_COLLECTIONS_PATH="$TREE" ansible-playbook -i localhost, -e "ansible_python_interpreter=$(command -v "$PYTHON")" \
    playbooks/demo.yml "$@"
