#!/usr/bin/env bash
# ansible-test bootstraps pip in its virtual environments with a get-pip script
# downloaded from a host this machine cannot reach.  It first looks in its
# cache, so put a stand-in there for every pip version the installed
# ansible-test releases ask for (those installed for the interpreters given as
# arguments, by default python3): it installs pip with the interpreter's own
# ensurepip, then the requested versions from the package index.
set -euo pipefail

CACHE_DIR="$HOME/.ansible/test/cache"
mkdir -p "$CACHE_DIR"

versions() {
    local python source
    for python in "$@"; do
        command -v "$python" >/dev/null || continue
        source="$("$python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))' 2>/dev/null)" || continue
        sed -n "s/^ *pip='\([0-9.]*\)',\$/\1/p" "$source/_internal/python_requirements.py"
    done | sort -u
}

[ $# -gt 0 ] || set -- "${PYTHON:-python3}"
for version in $(versions "$@"); do
    target="$CACHE_DIR/get_pip_${version//./_}.py"
    cat > "$target.tmp" <<'EOF'
"""Offline stand-in for get-pip.py, written by virtrigaud.core's test harness."""
import subprocess
import sys

# In a child process: ensurepip turns off pip's configuration (and with it the
# machine's CA bundle setting) in the environment of whatever runs after it.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
# get-pip.py takes pip-install arguments; these two are its own.
arguments = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "-q"] + arguments))
EOF
    mv "$target.tmp" "$target"
    echo "ansible-test pip $version bootstrap: $target"
done
