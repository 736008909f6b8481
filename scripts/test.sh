#!/usr/bin/env bash
# Run every test: unit, sanity, lint, docs, the provider runtime's tests, the
# integration scenario suite on the mock provider, a real libvirtd, vcsim, the
# fake PVE, the runtime and a real kube-apiserver, every backend's credentials
# at once, jobs as AWX runs them (ansible-runner transmit | worker | process),
# the runtime's container, then unit, sanity, docs and the mock suite again on
# the newest ansible-core.  `test.sh unit sanity` runs a subset.
set -euo pipefail
# shellcheck disable=SC1091  # lib.sh sits beside this script
source "$(dirname "$0")/lib.sh"

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(setup unit sanity lint docs awx package runtime ovim integration isolation runner faults load container
                                  newest)
LOGS="$VIRTRIGAUD_CACHE/logs"
NEWEST_CORE="ansible-core>=2.21,<2.22"
SKIPPED=()
mkdir -p "$LOGS"

stage_setup() { "$REPO/scripts/setup.sh"; }

stage_unit() {
    build_tree
    (cd "$COLLECTION" && PYTHONPATH="$TREE" "$PYTHON" -m pytest -q -p no:cacheprovider tests/unit)
}

stage_sanity() {
    build_tree
    "$REPO/scripts/testbed/ansible-test-offline.sh" "$PYTHON"
    (cd "$COLLECTION" && ansible-test sanity --python "$(python_version "$PYTHON")" --local --color no --requirements)
    if [ -n "$(find "$COLLECTION/tests/sanity" -name 'ignore-*.txt' 2>/dev/null)" ]; then
        echo "sanity ignore files are not allowed" >&2
        return 1
    fi
}

stage_lint() {
    build_tree
    (cd "$COLLECTION" && ansible-lint --offline playbooks/ roles/)
    (cd "$COLLECTION" && antsibull-changelog lint)
    (cd "$COLLECTION" && antsibull-docs lint-collection-docs --plugin-docs .)
    "$PYTHON" "$REPO/scripts/check_action_group.py" "$REPO"
    PYTHONPATH="$TREE" "$PYTHON" "$REPO/scripts/check_option_coverage.py" "$REPO"
    "$PYTHON" "$REPO/scripts/gen_vitistack_schema.py" --check
    local reference="${VIRTRIGAUD_UPSTREAM_PROTO:-$REPO/../shared/reference/virtrigaud/provider.proto}"
    if [ -f "$reference" ]; then
        "$PYTHON" "$REPO/scripts/gen_proto.py" --check --reference "$reference"
    else
        "$PYTHON" "$REPO/scripts/gen_proto.py" --check
        echo "wire check against upstream's provider.proto skipped: none at $reference (set VIRTRIGAUD_UPSTREAM_PROTO)"
    fi
}

# The provider runtime as real processes over real gRPC and mTLS (mock backend).
stage_runtime() {
    build_tree
    "$REPO/scripts/testbed/runtime.sh" certs
    (cd "$COLLECTION" && RUNTIME_PKI="$VIRTRIGAUD_CACHE/runtime-pki" PYTHONPATH="$TREE:$COLLECTION/runtime" \
        "$PYTHON" -m pytest -q -p no:cacheprovider tests/runtime)
}

# The OVIM spoke agent (runtime/virtrigaud_runtime/spoke) as real processes against the fake hub
# (scripts/testbed/ovimhub.sh), whose token is a secret canary, on the KubeVirt test bed and on libvirtd.
stage_ovim() {
    local canary="vr-ovim-$RANDOM$RANDOM" started=$SECONDS log="$LOGS/ovim.log" logs
    logs="$(mktemp -d)"
    build_tree
    "$REPO/scripts/testbed/libvirtd.sh" start >/dev/null
    "$REPO/scripts/testbed/seed-image.sh" "$("$REPO/scripts/testbed/guest-image.sh" | tail -n 1)" >/dev/null
    start_kubevirt "vr-kubevirt-$RANDOM$RANDOM" >/dev/null
    "$REPO/scripts/testbed/ovimhub.sh" stop >/dev/null
    OVIM_FAKE_HUB_TOKEN="$canary" PYTHON="$PYTHON" "$REPO/scripts/testbed/ovimhub.sh" start >/dev/null
    echo "  test beds (libvirtd, kube-apiserver with the KubeVirt stand-in, fake hub) up after $((SECONDS - started)) s"
    if ! (eval "$("$REPO/scripts/testbed/ovimhub.sh" env)" && cd "$COLLECTION" &&
        OVIM_FAKE_HUB_TOKEN="$canary" OVIM_TEST_LOGS="$logs" OVIM_TEST_BACKENDS="kubevirt libvirt" \
            PYTHONPATH="$TREE:$COLLECTION/runtime" "$PYTHON" -m pytest -q -p no:cacheprovider --durations=5 tests/ovim
    ) > "$log" 2>&1; then
        tail -n 60 "$log"
        "$REPO/scripts/testbed/ovimhub.sh" stop >/dev/null
        return 1
    fi
    grep -E 'passed|slowest|^[0-9.]+s ' "$log" | sed 's/^/  /'
    "$REPO/scripts/testbed/ovimhub.sh" stop >/dev/null
    "$REPO/scripts/testbed/kubevirt.sh" stop >/dev/null
    "$REPO/scripts/testbed/kube.sh" stop >/dev/null
    if grep -rl --fixed-strings "$canary" "$log" "$logs" /run/virtrigaud-testbed /var/log/libvirt 2>/dev/null; then
        echo "the hub's token (a secret canary) leaked into the files above" >&2
        return 1
    fi
    rm -rf "$logs"
    echo "ovim: passed in $((SECONDS - started)) s; the hub's token appears in no log"
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
    for file in "$REPO"/plugins/inventory/*.py; do
        module="$(basename "$file" .py)"
        ANSIBLE_NOCOLOR=1 ansible-doc -t inventory "virtrigaud.core.$module" > "$LOGS/doc-inventory-$module.txt"
        grep -q '^EXAMPLES' "$LOGS/doc-inventory-$module.txt" ||
            { echo "ansible-doc of inventory $module lacks examples" >&2; return 1; }
    done
    echo "ansible-doc $(ansible --version | sed -n '1s/.*\[core \(.*\)\]/\1/p') renders every module with examples and return values, and every inventory plugin with examples"
}

# The AWX path: credential types inject only documented variables, and
# ansible-builder makes a build context from the example EE and finds the
# collection's own Python and system requirements.  No image is built here.
stage_awx() {
    build_tree
    PYTHONPATH="$TREE" "$PYTHON" "$REPO/scripts/check_credential_types.py" "$REPO"
    local context dep
    context="$(mktemp -d)"
    ansible-builder create -f "$REPO/docs/execution-environment.yml" -c "$context" > /dev/null
    grep -q "name: virtrigaud.core" "$context/_build/requirements.yml"
    rm -rf "$context"
    ansible-builder introspect --sanitize "$TREE" > "$LOGS/ee-introspect.txt"
    for dep in libvirt-python pycdlib pyvmomi proxmoxer kubernetes libvirt-devel libvirt-dev; do
        grep -q "'${dep}[ >\[]" "$LOGS/ee-introspect.txt" || { echo "ansible-builder does not see $dep" >&2; return 1; }
    done
    echo "execution environment: build context made; ansible-builder sees the collection's requirements"
}

# The release path: a changelog can be generated from the fragments, the built
# tarball leaves out tests, benchmarks, CI and editor files, and it installs
# offline and works.  Both run on a scratch copy of the tree.
stage_package() {
    build_tree
    local scratch unwanted
    scratch="$(mktemp -d)"
    cp -a "$COLLECTION" "$scratch/tree"
    (cd "$scratch/tree" && antsibull-changelog release --version "$(sed -n 's/^version: //p' galaxy.yml)" \
        --date 2026-01-01 >/dev/null)
    grep -q "virtrigaud_provider - new module" "$scratch/tree/CHANGELOG.rst"
    (cd "$COLLECTION" && ansible-galaxy collection build --force --output-path "$scratch" >/dev/null)
    tar -tzf "$scratch"/virtrigaud-core-*.tar.gz > "$scratch/contents"
    unwanted="$(grep -E '^(tests|bench|scripts|\.ci|\.git|\.vscode|\.idea)(/|$)|\.swp$|~$' "$scratch/contents" || true)"
    [ -z "$unwanted" ] || { echo "the tarball carries files it should not: $unwanted" >&2; return 1; }
    grep -q '^roles/crds/files/infra.virtrigaud.io_providers.yaml$' "$scratch/contents"
    # With only the scratch folder as the collections path, so the tree's copy cannot stand in for it.
    export ANSIBLE_COLLECTIONS_PATH="$scratch/installed"
    ansible-galaxy collection install --offline -p "$scratch/installed" "$scratch"/virtrigaud-core-*.tar.gz >/dev/null
    ansible-doc -t module virtrigaud.core.virtrigaud_provider > "$scratch/doc" 2>&1
    ansible-doc -t role virtrigaud.core.provider_runtime >> "$scratch/doc" 2>&1
    grep -q "$scratch/installed/ansible_collections/virtrigaud/core/plugins/modules/virtrigaud_provider.py" "$scratch/doc"
    grep -q "ENTRY POINT: .*main" "$scratch/doc"
    export ANSIBLE_COLLECTIONS_PATH="$TREE"
    echo "package: changelog generated; $(wc -l < "$scratch/contents") files in the tarball, none of tests, bench, scripts, CI or editors; installed offline"
    rm -rf "$scratch"
}

# One leg of the suite: every target on one backend, with a fresh secret canary
# as its password, which must then appear in none of the leg's output.  The
# optional command prepares the backend and gets the canary as its argument.
integration_leg() {
    local backend="$1" canary="vr-canary-$RANDOM$RANDOM" started=$SECONDS log
    shift
    log="$LOGS/integration-$backend-$(python_version "$PYTHON").log"
    [ $# -eq 0 ] || "$@" "$canary"
    build_tree
    sed "s/@CANARY@/$canary/; s:@STATE@:$VIRTRIGAUD_CACHE/mock-state.json:; s:@CACHE@:$VIRTRIGAUD_CACHE:g; s:@REPO@:$REPO:g" \
        "$REPO/tests/integration/config/$backend.yml" > "$COLLECTION/tests/integration/integration_config.yml"
    # shellcheck disable=SC2086  # VIRTRIGAUD_TARGETS is a list of target names, to run fewer while developing
    (cd "$COLLECTION" && ansible-test integration --local --python "$(python_version "$PYTHON")" --color no \
        --allow-destructive ${VIRTRIGAUD_TARGETS:-}) > "$log" 2>&1 || { tail -n 60 "$log"; return 1; }
    grep -E '^(PLAY RECAP|testhost|.*bad-input cases)' "$log" | sed 's/^/  /'
    if grep -rl "$canary" "$log" /var/log/libvirt /run/virtrigaud-testbed 2>/dev/null; then
        echo "the secret canary leaked into the files above" >&2
        return 1
    fi
    echo "integration on $backend: passed in $((SECONDS - started)) s; the secret canary appears in no log"
}

# A fresh state file: VMs an earlier run left there must not show up in this one.
stage_integration_mock() { rm -f "$VIRTRIGAUD_CACHE/mock-state.json"; integration_leg mock; }

stage_integration_libvirt() {
    "$REPO/scripts/testbed/libvirtd.sh" start
    "$REPO/scripts/testbed/seed-image.sh" "$("$REPO/scripts/testbed/guest-image.sh" | tail -n 1)" >/dev/null
    integration_leg libvirt
}

# vcsim takes the canary as its password; a template like the libvirt image is made in it.
start_vcsim() {
    "$REPO/scripts/testbed/vcsim.sh" stop >/dev/null
    VCSIM_PASSWORD="$1" "$REPO/scripts/testbed/vcsim.sh" start
    (eval "$(VCSIM_PASSWORD="$1" "$REPO/scripts/testbed/vcsim.sh" env)" &&
        "$PYTHON" "$REPO/scripts/testbed/seed-template.py" vr-template >/dev/null)
}

stage_integration_vsphere() { integration_leg vsphere start_vcsim; }

# The fake PVE takes the canary as root@pam's password.  Afterwards, the fake's
# routes and every request the suite sent must match the official API schema.
start_pvefake() {
    "$REPO/scripts/testbed/pvefake.sh" stop >/dev/null
    PVEFAKE_PASSWORD="$1" PVEFAKE_STATS_INTERVAL=2 PYTHON="$PYTHON" "$REPO/scripts/testbed/pvefake.sh" start
}

stage_integration_proxmox() {
    integration_leg proxmox start_pvefake
    pve_conformance "$(. <("$REPO/scripts/testbed/pvefake.sh" env) && echo "$PVEFAKE_REQUESTS")"
}

pve_conformance() {
    local schema="${VIRTRIGAUD_PVE_SCHEMA:-$REPO/../shared/reference/proxmox/pve-api-subset.json}"
    if [ ! -f "$schema" ]; then
        echo "schema conformance skipped: no PVE API schema at $schema (set VIRTRIGAUD_PVE_SCHEMA)"
        return 0
    fi
    (cd "$REPO/tests" && "$PYTHON" -m pvefake.conformance "$schema" "$@")
}

# The collection's provider runtime over mTLS, with the real libvirtd behind
# it; the canary is its credential file `password`.
start_runtime() {
    build_tree
    "$REPO/scripts/testbed/runtime.sh" stop >/dev/null
    RUNTIME_PASSWORD="$1" LIBVIRT_DOMAIN_TYPE=qemu PROVIDER_DEFAULT_DATASTORE=virtrigaud PYTHON="$PYTHON" \
        "$REPO/scripts/testbed/runtime.sh" start libvirt qemu:///system
}

stage_integration_remote() {
    "$REPO/scripts/testbed/libvirtd.sh" start
    "$REPO/scripts/testbed/seed-image.sh" "$("$REPO/scripts/testbed/guest-image.sh" | tail -n 1)" >/dev/null
    integration_leg remote start_runtime
    "$REPO/scripts/testbed/runtime.sh" stop
}

# A real kube-apiserver on etcd, fresh for each run; Providers of type libvirt
# are probed against the real libvirtd, directly and through the runtime.
start_kube() {
    "$REPO/scripts/testbed/kube.sh" stop >/dev/null
    "$REPO/scripts/testbed/kube.sh" start
    start_runtime "$1"
}

stage_integration_kubernetes() {
    "$REPO/scripts/testbed/libvirtd.sh" start
    VIRTRIGAUD_TARGETS="${VIRTRIGAUD_TARGETS:-kubernetes}" integration_leg kubernetes start_kube
    "$REPO/scripts/testbed/kube.sh" stop
    "$REPO/scripts/testbed/runtime.sh" stop
}

# KubeVirt: the kube-apiserver with KubeVirt's CRDs and admission rules, and the stand-in for its controllers
# and virt-api (scripts/testbed/kubevirt.sh).  The canary is the leg's bearer token, a static token of a user
# bound to exactly the guide's RBAC, and the `kubevirt` target puts it in cloud-init user data too.
start_kubevirt() {
    local tokens
    "$REPO/scripts/testbed/kubevirt.sh" stop >/dev/null
    "$REPO/scripts/testbed/kube.sh" stop >/dev/null
    tokens="$(mktemp)"
    "$REPO/scripts/testbed/kubevirt.sh" tokens "$1" > "$tokens"
    KUBE_EXTRA_TOKENS="$tokens" "$REPO/scripts/testbed/kube.sh" start
    rm -f "$tokens"
    PYTHON="$PYTHON" "$REPO/scripts/testbed/kubevirt.sh" start
}

stage_integration_kubevirt() {
    VIRTRIGAUD_TARGETS="${VIRTRIGAUD_TARGETS:-bad_input inventory_virtrigaud kubevirt vm_scenarios vmset_scenarios}" \
        integration_leg kubevirt start_kubevirt
    "$REPO/scripts/testbed/kubevirt.sh" stop
    "$REPO/scripts/testbed/kube.sh" stop
}

stage_integration() {
    stage_integration_mock
    stage_integration_libvirt
    stage_integration_vsphere
    stage_integration_proxmox
    stage_integration_remote
    stage_integration_kubernetes
    stage_integration_kubevirt
}

# Faults: libvirtd and the runtime killed, and the fake PVE's API gone, in the middle of a create, a clone,
# a reconfigure and a VM set's roll; each re-run must converge with one VM per name and no orphan volume
# (tests/faults/run.py, which says what it does to each backend).
stage_faults() {
    local password="vr-faults-$RANDOM$RANDOM" started=$SECONDS log="$LOGS/faults.log"
    "$REPO/scripts/testbed/libvirtd.sh" start >/dev/null
    "$REPO/scripts/testbed/seed-image.sh" "$("$REPO/scripts/testbed/guest-image.sh" | tail -n 1)" >/dev/null
    start_pvefake "$password" >/dev/null
    "$REPO/scripts/testbed/runtime.sh" certs
    build_tree
    if ! (cd "$REPO/tests" && PVEFAKE_PASSWORD="$password" PYTHONPATH="$TREE" "$PYTHON" -m faults.run) > "$log" 2>&1; then
        tail -n 40 "$log"
        return 1
    fi
    sed 's/^/  /' "$log"
    echo "faults: passed in $((SECONDS - started)) s"
}

# Load: 16 playbooks at once on their own names and 8 on one name, through the runtime (mock backend) over
# mTLS: one VM per name, no error but a clear conflict, the runtime's memory bounded (tests/load/run.py).
# bench/runtime_load.py prints the times.
stage_load() {
    local log="$LOGS/load.log"
    "$REPO/scripts/testbed/runtime.sh" certs
    build_tree
    if ! (cd "$REPO/tests" && PYTHONPATH="$TREE" "$PYTHON" -m load.run) > "$log" 2>&1; then
        tail -n 40 "$log"
        return 1
    fi
    sed 's/^/  /' "$log"
}

# Every backend's variables set at once, each with its own secret canary, as an
# AWX job with several credentials has them: each task and inventory source must
# reach its own backend, and no canary may show up anywhere but in the files of
# the backend it belongs to.
stage_isolation() {
    local started=$SECONDS scratch log="$LOGS/isolation.log" token
    local libvirt="vr-libvirt-$RANDOM$RANDOM" vsphere="vr-vsphere-$RANDOM$RANDOM"
    local proxmox="vr-proxmox-$RANDOM$RANDOM" runtime="vr-runtime-$RANDOM$RANDOM"
    "$REPO/scripts/testbed/libvirtd.sh" start >/dev/null
    start_vcsim "$vsphere" >/dev/null
    start_pvefake "$proxmox" >/dev/null
    start_runtime "$runtime" >/dev/null
    token="$(. <("$REPO/scripts/testbed/pvefake.sh" env) && echo "$PROXMOX_TOKEN_SECRET")"
    scratch="$(mktemp -d)"
    if ! (
        eval "$(VCSIM_PASSWORD="$vsphere" "$REPO/scripts/testbed/vcsim.sh" env)"
        eval "$(PVEFAKE_PASSWORD="$proxmox" "$REPO/scripts/testbed/pvefake.sh" env)"
        eval "$("$REPO/scripts/testbed/runtime.sh" env)"
        unset VIRTRIGAUD_PROVIDER_TYPE
        export VMWARE_VALIDATE_CERTS=false PROXMOX_VALIDATE_CERTS=false
        export LIBVIRT_DEFAULT_URI=qemu:///system LIBVIRT_USERNAME=vr-tester LIBVIRT_PASSWORD="$libvirt"
        export LIBVIRT_STORAGE_POOL=virtrigaud VIRTRIGAUD_MOCK_URI="mock://$scratch/mock.json"
        # set -e does not reach inside a subshell that is an if's condition: each step exits on failure itself.
        ansible-playbook -v "$REPO/tests/isolation/play.yml" -e "ansible_python_interpreter=$(command -v "$PYTHON")" ||
            exit 1
        ANSIBLE_INVENTORY_ENABLED=virtrigaud.core.virtrigaud ANSIBLE_INVENTORY_UNPARSED_FAILED=true \
            ansible-inventory -i "$REPO/tests/isolation/all.virtrigaud.yml" --list > "$scratch/inventory.json" || exit 1
        "$PYTHON" -c 'import json, sys; hosts = json.load(open(sys.argv[1]))["_meta"]["hostvars"]
sources = {v["virtrigaud_provider"] for v in hosts.values()}
assert {"kvm", "vcenter", "runtime"} <= sources, sources  # pve and memory hold no VMs; strict=true read them
print("inventory: %d hosts from %s" % (len(hosts), ", ".join(sorted(sources))))' "$scratch/inventory.json"
    ) > "$log" 2>&1; then
        tail -n 40 "$log"
        return 1
    fi
    grep -E '^(PLAY RECAP|localhost|inventory:)' "$log" | sed 's/^/  /'
    no_canary_outside "$vsphere" vcsim- "$log" "$scratch"
    no_canary_outside "$proxmox" pvefake- "$log" "$scratch"
    no_canary_outside "$token" pvefake- "$log" "$scratch"
    no_canary_outside "$libvirt" '' "$log" "$scratch"
    no_canary_outside "$runtime" '' "$log" "$scratch"
    rm -rf "$scratch"
    "$REPO/scripts/testbed/runtime.sh" stop >/dev/null
    echo "isolation: every task and source reached its own backend; no canary left its backend ($((SECONDS - started)) s)"
}

# no_canary_outside CANARY OWN_FILES PLACES...: CANARY is in no file of PLACES, the
# test bed's run folder or libvirt's logs, except the run folder's OWN_FILES.
no_canary_outside() {
    local canary="$1" own="$2" found
    shift 2
    found="$(grep -rl --fixed-strings "$canary" "$@" /run/virtrigaud-testbed /var/log/libvirt 2>/dev/null |
        grep -v "^/run/virtrigaud-testbed/${own:-^}" || true)"
    [ -z "$found" ] || { echo "a secret canary left its backend, into: $found" >&2; return 1; }
}

# AWX's execution path: every job is transmitted, run by `ansible-runner worker`
# in a private data dir of its own and processed back, as AWX has an execution
# node do it; the collection travels in the job's requirements_collections and
# the credentials are rendered from docs/awx/credential_types as AWX renders
# them (tests/awx).  Jobs converge and remove a VM on the mock provider and on
# the real libvirtd, an inventory update lists both, and one job carries a
# libvirt and a vSphere credential at once; no secret canary may leave its backend.
stage_runner() {
    local started=$SECONDS prefix="vrawx-$RANDOM$RANDOM" vsphere="vr-vsphere-$RANDOM$RANDOM" places
    RUNNER_LIBVIRT_CANARY="vr-libvirt-$RANDOM$RANDOM"
    RUNNER_SCRATCH="$(mktemp -d)"
    RUNNER_PREFIX="$prefix"
    RUNNER_JOBS=0
    build_tree
    (cd "$REPO/tests" && "$PYTHON" -m pytest -q -p no:cacheprovider awx) > "$LOGS/runner-render.log" ||
        { cat "$LOGS/runner-render.log"; return 1; }
    echo "  credential types rendered as AWX does: $(tail -n 1 "$LOGS/runner-render.log")"
    "$REPO/scripts/testbed/libvirtd.sh" start >/dev/null
    "$REPO/scripts/testbed/seed-image.sh" "$("$REPO/scripts/testbed/guest-image.sh" | tail -n 1)" >/dev/null
    start_vcsim "$vsphere" >/dev/null
    RUNNER_VSPHERE_CREDENTIAL="$(eval "$(VCSIM_PASSWORD="$vsphere" "$REPO/scripts/testbed/vcsim.sh" env)" &&
        printf '{"type": "%s", "inputs": {"hostname": "%s", "port": "%s", "username": "%s", "password": "%s", "skip_tls_verify": true}}' \
            "$REPO/docs/awx/credential_types/vsphere.yml" "$VMWARE_HOST" "$VMWARE_PORT" "$VMWARE_USER" "$VMWARE_PASSWORD")"
    runner_template
    trap runner_cleanup EXIT
    echo "  jobs: transmit | ansible-runner worker | ansible-runner process"
    runner_job converge-mock-1 converge.yml "$(runner_request mock)" --changed 2
    runner_job converge-mock-2 converge.yml "$(runner_request mock)" --changed 0
    runner_job converge-libvirt-1 converge.yml "$(runner_request libvirt)" --changed 2
    runner_job converge-libvirt-2 converge.yml "$(runner_request libvirt)" --changed 0
    runner_job inventory-update inventory:inventories/lab.virtrigaud.yml "$(runner_request inventory)" \
        --hosts "$prefix-m,$prefix-l" --group "virtrigaud_provider_memory=$prefix-m" \
        --group "virtrigaud_provider_kvm=$prefix-l" --group "virtrigaud_power_on=$prefix-m,$prefix-l" \
        --group "tag_awx=$prefix-m,$prefix-l"
    runner_job two-credentials two_credentials.yml "$(runner_request two)" --changed 0
    runner_job remove-mock-1 remove.yml "$(runner_request mock)" --changed 2
    runner_job remove-mock-2 remove.yml "$(runner_request mock)" --changed 0
    runner_job remove-libvirt-1 remove.yml "$(runner_request libvirt)" --changed 2
    runner_job remove-libvirt-2 remove.yml "$(runner_request libvirt)" --changed 0
    trap - EXIT
    grep -q "$RUNNER_LIBVIRT_CANARY" "$RUNNER_SCRATCH/two-credentials/work/env/envvars" ||
        { echo "the libvirt canary never reached the job" >&2; return 1; }
    mapfile -t places < <(find "$RUNNER_SCRATCH" -type f ! -path '*/env/*' ! -path '*/artifacts/*/command' \
        ! -path '*/requirements_collections/*')
    no_canary_outside "$RUNNER_LIBVIRT_CANARY" '' "${places[@]}"
    no_canary_outside "$vsphere" vcsim- "${places[@]}"
    rm -rf "$RUNNER_SCRATCH"
    echo "runner: $RUNNER_JOBS jobs (one an inventory update) ran as AWX runs them; no canary in their events, stdout, artifacts or the test bed's logs ($((SECONDS - started)) s)"
}

# The private data dir every job starts from: the project, an inventory, and the
# collection, installed from its built tarball as a project's requirements are.
runner_template() {
    local template="$RUNNER_SCRATCH/template"
    mkdir -p "$template/inventory"
    cp -r "$REPO/tests/awx/project" "$template/project"
    printf 'localhost ansible_connection=local ansible_python_interpreter="{{ ansible_playbook_python }}"\n' \
        > "$template/inventory/hosts"
    (cd "$COLLECTION" && ansible-galaxy collection build --force --output-path "$RUNNER_SCRATCH" >/dev/null)
    # With the tree on the collections path, ansible-galaxy would find the collection installed and skip it.
    ANSIBLE_COLLECTIONS_PATH="$template/requirements_collections" ansible-galaxy collection install --offline \
        -p "$template/requirements_collections" "$RUNNER_SCRATCH"/virtrigaud-core-*.tar.gz >/dev/null
    [ -f "$template/requirements_collections/ansible_collections/virtrigaud/core/MANIFEST.json" ]
}

# runner_request mock|libvirt|inventory|two: what AWX would take from its database for a job.
runner_request() {
    local libvirt vars
    libvirt="$(printf '{"type": "%s", "inputs": {"uri": "qemu:///system", "username": "vr-tester", "password": "%s", "storage_pool": "virtrigaud"}}' \
        "$REPO/docs/awx/credential_types/libvirt.yml" "$RUNNER_LIBVIRT_CANARY")"
    case "$1" in
        mock) vars='{"vr_backend": "mock", "vr_name": "'"$RUNNER_PREFIX"'-m", "vr_image": "base-image"}'; libvirt='' ;;
        libvirt) vars='{"vr_backend": "libvirt", "vr_name": "'"$RUNNER_PREFIX"'-l", "vr_image": "vr-tiny.qcow2"}' ;;
        inventory) vars='{}' ;;
        two) vars='{"vr_libvirt_vm": "'"$RUNNER_PREFIX"'-l"}'; libvirt="$libvirt, $RUNNER_VSPHERE_CREDENTIAL" ;;
    esac
    printf '{"task_env": {"VIRTRIGAUD_MOCK_URI": "mock://%s/mock.json", "VIRTRIGAUD_LIBVIRT_DOMAIN_TYPE": "qemu"}, "credentials": [%s], "extra_vars": %s}' \
        "$RUNNER_SCRATCH" "$libvirt" "$vars"
}

# runner_job NAME PLAYBOOK|inventory:SOURCE REQUEST [report options]: one job, as
# an execution node runs it, with the worker's own environment holding no
# collections path; then its artifacts are checked and summed up in one line.
runner_job() {
    local name="$1" what="$2" request="$3" job="$RUNNER_SCRATCH/$1" started=$SECONDS summary
    local prepare=(--template "$RUNNER_SCRATCH/template") transmit
    shift 3
    if [ "${what#inventory:}" != "$what" ]; then
        prepare+=(--inventory-source "${what#inventory:}")
        transmit=(awx_job transmit "$job" --ident "$name")
    else
        transmit=("$PYTHON" -m ansible_runner transmit "$job/pdd" -p "$what" --ident "$name")
    fi
    printf '%s' "$request" | awx_job prepare "$job" --ident "$name" "${prepare[@]}"
    "${transmit[@]}" | env -u ANSIBLE_COLLECTIONS_PATH "$PYTHON" -m ansible_runner worker \
        --private-data-dir "$job/work" 2> "$job/worker.log" |
        "$PYTHON" -m ansible_runner process "$job/pdd" --ident "$name" > "$job/process.log" 2>&1 ||
        { tail -n 40 "$job/process.log" "$job/worker.log" >&2; return 1; }
    summary="$(awx_job report "$job" --ident "$name" "$@")" ||
        { tail -n 40 "$job/pdd/artifacts/$name/stdout" >&2; return 1; }
    RUNNER_JOBS=$((RUNNER_JOBS + 1))
    echo "  $name: $summary ($((SECONDS - started)) s)"
}

awx_job() { (cd "$REPO/tests" && "$PYTHON" -m awx.job "$@"); }

# After a failure: remove the libvirt VM through the same path; the jobs stay for a look.
runner_cleanup() {
    runner_job cleanup-libvirt remove.yml "$(runner_request libvirt)" >/dev/null 2>&1 || true
    echo "runner: the jobs' private data dirs are kept in $RUNNER_SCRATCH" >&2
}

# The provider runtime in its container, as the provider_runtime role deploys
# it: the image is built with podman from Debian's packages, the role's
# Deployment (read back from the kube-apiserver) is run as written with the
# security context as flags, its probes must answer, and the scenario suite
# runs through it over mTLS; changes to the role that would break a real pod
# must fail; vSphere (vcsim) and Proxmox VE (the fake) answer from inside too.
stage_container() {
    local reason
    "$REPO/scripts/testbed/container.sh" install
    if ! reason="$("$REPO/scripts/testbed/container.sh" check)"; then
        echo "container: skipped, $reason"
        SKIPPED+=("container ($reason)")
        return 0
    fi
    "$REPO/scripts/testbed/container.sh" build
    build_tree
    "$REPO/scripts/testbed/libvirtd.sh" start
    "$REPO/scripts/testbed/libvirtd.sh" listen-tcp
    "$REPO/scripts/testbed/seed-image.sh" "$("$REPO/scripts/testbed/guest-image.sh" | tail -n 1)" >/dev/null
    "$REPO/scripts/testbed/runtime.sh" certs
    "$REPO/scripts/testbed/kube.sh" stop >/dev/null
    "$REPO/scripts/testbed/kube.sh" start >/dev/null
    eval "$("$REPO/scripts/testbed/kube.sh" env)"
    container_deploy lab-libvirt libvirt qemu+tcp://127.0.0.1/system '{}' seed '{"datastore": "virtrigaud"}'
    container_expect ok lab-libvirt
    container_expect failure lab-libvirt --mutate tls-mount-path
    container_expect failure lab-libvirt --mutate probe-port
    container_deploy lab-upstream libvirt qemu+tcp://127.0.0.1/system '{}' upstream '{}'
    container_expect ok lab-upstream
    container_expect failure lab-upstream --mutate missing-provider-type
    container_vsphere
    "$REPO/scripts/testbed/pvefake.sh" stop >/dev/null
    PYTHON="$PYTHON" "$REPO/scripts/testbed/pvefake.sh" start >/dev/null
    container_deploy lab-proxmox proxmox https://127.0.0.1:18006 \
        '{"username": "root@pam", "password": "vr-pve-secret"}' seed '{}'
    container_expect ok lab-proxmox
    # The scenario suite through the container, which stays up for it.
    container_expect ok lab-libvirt --keep
    VIRTRIGAUD_TARGETS="${VIRTRIGAUD_TARGETS:-vm_scenarios}" integration_leg container || {
        podman logs --tail 30 virtrigaud-runtime-under-test >&2; container_harness stop; return 1; }
    container_harness stop
    "$REPO/scripts/testbed/kube.sh" stop >/dev/null
}

container_harness() { (cd "$REPO/tests" && PYTHONPATH="$TREE" "$PYTHON" -m container.harness "$@"); }

# vSphere from inside the container, on vcsim.  The Provider's defaults place a VM
# that names no placement (the roomiest member of a storage pod, a resource pool,
# a folder, a port group).  Then the password is rotated: vcsim restarts with a
# new one, a pod made from the old Secret is refused, the role rolls the pod
# template, and the pod the Deployment now describes logs in.
container_vsphere() {
    local vcenter=https://127.0.0.1:18989/sdk defaults before after refused
    "$REPO/scripts/testbed/vcsim.sh" stop >/dev/null
    "$REPO/scripts/testbed/vcsim.sh" start >/dev/null
    vsphere_defaults vr-vcsim-secret setup >/dev/null
    defaults="$(vsphere_defaults vr-vcsim-secret defaults)"
    container_deploy lab-vsphere vsphere "$vcenter" '{"username": "vr-admin", "password": "vr-vcsim-secret"}' seed "$defaults"
    before="$(container_expect ok lab-vsphere --keep)" || return 1
    echo "$before"
    vsphere_defaults vr-vcsim-secret check --tls "$VIRTRIGAUD_CACHE/runtime-pki/server-tls" ||
        { container_harness stop; echo "container: the Provider's vSphere defaults were not used" >&2; return 1; }
    container_harness stop
    "$REPO/scripts/testbed/vcsim.sh" stop >/dev/null
    VCSIM_PASSWORD=vr-vcsim-rotated "$REPO/scripts/testbed/vcsim.sh" start >/dev/null
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
    "$REPO/scripts/testbed/vcsim.sh" stop >/dev/null
    "$REPO/scripts/testbed/vcsim.sh" start >/dev/null
}

# vsphere_defaults PASSWORD ARGS...: tests/container/vsphere_defaults.py against vcsim.
vsphere_defaults() {
    local password="$1"
    shift
    (eval "$(VCSIM_PASSWORD="$password" "$REPO/scripts/testbed/vcsim.sh" env)" && cd "$REPO/tests" &&
        PYTHONPATH="$TREE" "$PYTHON" -m container.vsphere_defaults "$@")
}

checksum_of() { printf '%s' "$1" | sed -n 's/.*"credentials_checksum": "\([^"]*\)".*/\1/p'; }

# container_deploy NAME TYPE ENDPOINT CREDENTIALS FLAGS DEFAULTS: a Provider and the role's runtime for it.
container_deploy() {
    ansible-playbook -i localhost, "$REPO/tests/container/deploy.yml" \
        -e "ansible_python_interpreter=$(command -v "$PYTHON")" -e "provider_name=$1" -e "provider_type=$2" \
        -e "provider_endpoint=$3" -e "{\"provider_credentials\": $4, \"provider_defaults\": $6}" \
        -e "runtime_flags=$5" -e "provider_insecure=$([ "$2" = libvirt ] && echo false || echo true)" \
        -e "runtime_image=$("$REPO/scripts/testbed/container.sh" image)" \
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

# The newest ansible-core needs Python 3.12, which Debian 12 lacks: use one when
# the machine has it (pyenv's, say), in a cached virtual environment.
stage_newest() {
    local interpreter venv="$VIRTRIGAUD_CACHE/venv-newest"
    if ! interpreter="$(newest_python)"; then
        echo "skipped: no Python 3.12 here (set PYTHON_NEWEST); $NEWEST_CORE needs it"
        return 0
    fi
    [ -x "$venv/bin/python" ] || "$interpreter" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$NEWEST_CORE" pytest \
        -r "$REPO/requirements.txt"
    PATH="$venv/bin:$PATH" PYTHON="$venv/bin/python" "$0" unit sanity docs integration_mock
}

TIMES=()
time_table() {
    local row
    [ ${#TIMES[@]} -gt 0 ] || return 0
    printf '\nstage times (%s):\n' "$(python_version "$PYTHON")"
    for row in "${TIMES[@]}"; do printf '  %-24s %6s s\n' "${row% *}" "${row##* }"; done
    printf '  %-24s %6s s\n' total "$SECONDS"
}
trap time_table EXIT
for stage in "${stages[@]}"; do
    say "stage: $stage ($(python_version "$PYTHON"))"
    started=$SECONDS
    "stage_$stage"
    TIMES+=("$stage $((SECONDS - started))")
done
say "all stages passed: ${stages[*]}"
if [ ${#SKIPPED[@]} -gt 0 ]; then
    echo "skipped: ${#SKIPPED[@]} (${SKIPPED[*]})"
fi
