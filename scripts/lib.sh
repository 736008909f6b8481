# Shared by the scripts in this folder and by the stages in scripts/testbed/ (container.sh, runner.sh): the
# test bed's library (paths, logging, servers), the collection tree ansible-test needs, one integration leg,
# and the canary checks.
# shellcheck shell=bash

# shellcheck disable=SC1091  # the test bed's library, in testbed/ beside this file
source "$(dirname "${BASH_SOURCE[0]}")/testbed/lib.sh"
# VIRTRIGAUD_TREE gives a checkout a tree of its own, so that runs from two checkouts cannot mix their files.
TREE="${VIRTRIGAUD_TREE:-$VIRTRIGAUD_CACHE/collections}"
export VIRTRIGAUD_COLLECTIONS="$TREE"
COLLECTION="$TREE/ansible_collections/virtrigaud/core"
# What each stage leaves to read: integration logs, rendered docs, deploy logs.
LOGS="$VIRTRIGAUD_CACHE/logs"
mkdir -p "$LOGS"

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

# As root by design (README), so pip's warning about root would be noise in the demo's output.
install_python_requirements() {
    "$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$REPO/requirements.txt" -r "$REPO/tests/requirements.txt"
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

# other_legs_targets BACKEND: `--exclude TARGET` for each target that belongs to other legs only (an alias
# `leg/NAME` names each leg it belongs to); it would skip itself there, after ansible-test spent 2 s on it.
other_legs_targets() {
    local aliases
    for aliases in "$REPO"/tests/integration/targets/*/aliases; do
        grep -q '^leg/' "$aliases" && ! grep -qx "leg/$1" "$aliases" &&
            printf -- '--exclude %s ' "$(basename "$(dirname "$aliases")")"
    done
    return 0
}

# target_times SINCE: where a leg's time went, from the JUnit files ansible-test wrote after the file SINCE: each
# target's time, and the slowest tasks.
target_times() {
    find "$COLLECTION/tests/output/junit" -name '*.xml' -newer "$1" -printf '%T@ %p\n' 2>/dev/null | sort -n |
        cut -d' ' -f2- | xargs -r -d '\n' "$PYTHON" -c '
import re, sys, xml.etree.ElementTree as ET
targets, tasks = [], []
for path in sys.argv[1:]:
    suite = ET.parse(path).getroot()
    name = re.sub(r"-[^-]*-[0-9.]*\.xml$", "", path.rsplit("/", 1)[1])
    targets.append("%s %.0f s" % (name, float(suite.get("time") or 0)))
    tasks += [(float(case.get("time") or 0), name, re.sub(r" [a-z_]+=.*", "", case.get("name", "").split(": ", 1)[-1]))
              for case in suite.iter("testcase")]
print("  targets: " + ", ".join(targets))
print("  slowest tasks: " + "; ".join("%s %.1f s (%s)" % (task[:60], took, target)
                                      for took, target, task in sorted(tasks, reverse=True)[:5]))'
}

# One leg of the suite: every target on one backend, with a fresh secret canary
# as its password, which must then appear in none of the leg's output.  The
# optional command prepares the backend and gets the canary as its argument.
integration_leg() {
    local backend="$1" canary="vr-canary-$RANDOM$RANDOM" started=$SECONDS log skip since
    shift
    since="$(mktemp)"
    log="$LOGS/integration-$backend-$(python_version "$PYTHON").log"
    [ $# -eq 0 ] || "$@" "$canary"
    build_tree
    sed "s/@CANARY@/$canary/; s:@STATE@:$VIRTRIGAUD_CACHE/mock-state.json:; s:@CACHE@:$VIRTRIGAUD_CACHE:g; s:@REPO@:$REPO:g" \
        "$REPO/tests/integration/config/$backend.yml" > "$COLLECTION/tests/integration/integration_config.yml"
    read -ra skip <<< "$(other_legs_targets "$backend")"
    # shellcheck disable=SC2086  # VIRTRIGAUD_TARGETS is a list of target names, to run fewer while developing
    (cd "$COLLECTION" && ansible-test integration --local --python "$(python_version "$PYTHON")" --color no \
        --allow-destructive "${skip[@]}" ${VIRTRIGAUD_TARGETS:-}) > "$log" 2>&1 ||
        { tail -n 60 "$log"; return 1; }
    grep -E '^(PLAY RECAP|testhost|.*bad-input cases)' "$log" | sed 's/^/  /'
    target_times "$since"
    rm -f "$since"
    if grep -rl "$canary" "$log" /var/log/libvirt "$RUN_DIR" 2>/dev/null; then
        echo "the secret canary leaked into the files above" >&2
        return 1
    fi
    echo "integration on $backend: passed in $((SECONDS - started)) s; the secret canary appears in no log"
}

# vcsim takes the canary as its password; a template like the libvirt image is made in it.
start_vcsim() {
    VCSIM_PASSWORD="$1" "$TESTBED/vcsim.sh" restart
    (eval "$(VCSIM_PASSWORD="$1" "$TESTBED/vcsim.sh" env)" &&
        "$PYTHON" "$TESTBED/seed-template.py" vr-template >/dev/null)
}

# no_canary_outside CANARY OWN_FILES PLACES...: CANARY is in no file of PLACES, the
# test bed's run folder or libvirt's logs, except the run folder's OWN_FILES.
no_canary_outside() {
    local canary="$1" own="$2" found
    shift 2
    found="$(grep -rl --fixed-strings "$canary" "$@" "$RUN_DIR" /var/log/libvirt 2>/dev/null |
        grep -v "^$RUN_DIR/${own:-^}" || true)"
    [ -z "$found" ] || { echo "a secret canary left its backend, into: $found" >&2; return 1; }
}

# conformance_run NAME PORT ARGS...: the conformance playbook, as users run it, against a runtime of ours on
# 127.0.0.1:PORT over mTLS; the report (JUnit, JSON, Markdown) goes to $LOGS/conformance-NAME.  A failed step fails.
conformance_run() {
    local name="$1" port="$2" pki="$VIRTRIGAUD_CACHE/runtime-pki" started=$SECONDS report="$LOGS/conformance-$1"
    shift 2
    build_tree
    rm -rf "$report"
    if ! ansible-playbook virtrigaud.core.conformance -e "ansible_python_interpreter=$(command -v "$PYTHON")" \
        -e "endpoint=127.0.0.1:$port" -e "ca_path=$pki/ca/ca.crt" -e "client_cert=$pki/client.crt" \
        -e "client_key=$pki/client.key" -e tls_server_name=localhost -e "report_dir=$report" "$@" \
        > "$report.log" 2>&1; then
        cat "$report/conformance.md" 2>/dev/null || tail -n 40 "$report.log"
        return 1
    fi
    grep -E '^[0-9]+ steps|^Load' "$report/conformance.md" | sed "s/^/  conformance on $name: /"
    echo "  conformance on $name: passed in $((SECONDS - started)) s; report in $report"
}

# conformance_backend NAME TYPE ENDPOINT ARGS...: a second runtime of ours, on the test bed the leg left up
# (the backend's settings come from the caller's environment), and the suite against it.
CONFORMANCE_PORT=19461
conformance_backend() {
    local name="$1" type="$2" endpoint="$3"
    shift 3
    RUNTIME_PORT=$CONFORMANCE_PORT RUNTIME_HTTP_PORT=18461 "$TESTBED/runtime.sh" restart "$type" "$endpoint" >/dev/null
    conformance_run "$name" "$CONFORMANCE_PORT" "$@"
    RUNTIME_PORT=$CONFORMANCE_PORT "$TESTBED/runtime.sh" stop >/dev/null
}
