#!/usr/bin/env bash
# Run every test: unit, sanity, lint, docs, then the integration scenario suite
# on the mock provider and on a real libvirtd.  `test.sh unit sanity` runs a subset.
set -euo pipefail
# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(setup unit sanity lint docs integration)
LOGS="$VIRTRIGAUD_CACHE/logs"
mkdir -p "$LOGS"

stage_setup() { "$REPO/scripts/setup.sh"; }

stage_unit() {
    build_tree
    (cd "$COLLECTION" && PYTHONPATH="$TREE" "$PYTHON" -m pytest -q -p no:cacheprovider tests/unit)
}

stage_sanity() {
    build_tree
    "$REPO/scripts/testbed/ansible-test-offline.sh"
    (cd "$COLLECTION" && ansible-test sanity --python "$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
        --local --color no --requirements)
    if [ -n "$(find "$COLLECTION/tests/sanity" -name 'ignore-*.txt' 2>/dev/null)" ]; then
        echo "sanity ignore files are not allowed" >&2
        return 1
    fi
}

stage_lint() {
    build_tree
    (cd "$COLLECTION" && ansible-lint --offline playbooks/ roles/)
    (cd "$COLLECTION" && antsibull-changelog lint)
    "$PYTHON" "$REPO/scripts/check_action_group.py" "$REPO"
}

stage_docs() {
    build_tree
    local file module
    for file in "$REPO"/plugins/modules/*.py; do
        module="$(basename "$file" .py)"
        ANSIBLE_NOCOLOR=1 ansible-doc -t module "virtrigaud.core.$module" > "$LOGS/doc-$module.txt"
        if ! grep -q '^EXAMPLES' "$LOGS/doc-$module.txt" || ! grep -q '^RETURN VALUES' "$LOGS/doc-$module.txt"; then
            echo "ansible-doc of $module lacks examples or return values" >&2
            return 1
        fi
    done
    echo "ansible-doc renders every module with examples and return values"
}

# One leg of the scenario suite: write the backend's settings, run ansible-test integration.
integration_leg() {
    local leg="$1" config="$2"
    build_tree
    cp "$config" "$COLLECTION/tests/integration/integration_config.yml"
    (cd "$COLLECTION" && ansible-test integration --local --python "$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
        --color no --allow-destructive) 2>&1 | tee "$LOGS/integration-$leg.log"
}

stage_integration() {
    local canary="vr-canary-$RANDOM$RANDOM"
    local started=$SECONDS
    "$REPO/scripts/testbed/libvirtd.sh" start
    "$REPO/scripts/testbed/seed-image.sh" "$("$REPO/scripts/testbed/guest-image.sh" | tail -n 1)" >/dev/null
    sed "s/@CANARY@/$canary/; s:@STATE@:$VIRTRIGAUD_CACHE/mock-state.json:" \
        "$REPO/tests/integration/config/mock.yml" > "$LOGS/mock.yml"
    sed "s/@CANARY@/$canary/" "$REPO/tests/integration/config/libvirt.yml" > "$LOGS/libvirt.yml"
    integration_leg mock "$LOGS/mock.yml"
    integration_leg libvirt "$LOGS/libvirt.yml"
    if grep -rl "$canary" "$LOGS"/integration-*.log /var/log/libvirt 2>/dev/null; then
        echo "the secret canary leaked into the logs above" >&2
        return 1
    fi
    echo "integration: both legs passed in $((SECONDS - started)) s; the secret canary appears in no log"
}

for stage in "${stages[@]}"; do
    say "stage: $stage"
    "stage_$stage"
done
say "all stages passed: ${stages[*]}"
