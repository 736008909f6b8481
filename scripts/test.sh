#!/usr/bin/env bash
# Run every test, one stage after another; `test.sh unit sanity` runs some.  Each stage is one function
# below, in the order it runs, and docs/testing.md says what each checks:
#   setup unit sanity lint docs awx package runtime ovim
#   integration (mock libvirt vsphere proxmox remote kubernetes kubevirt, each also a stage: integration_mock ...)
#   isolation runner faults load container newest
# The test bed's servers are scripts/testbed/<server>.sh on scripts/testbed/lib.sh; a run stops every server it
# started when it ends, passed or failed, and prints the time each stage took.
set -euo pipefail
# shellcheck disable=SC1091  # lib.sh sits beside this script: the tree, integration_leg and scripts/testbed/lib.sh
source "$(dirname "$0")/lib.sh"

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(setup unit sanity lint docs awx package runtime ovim integration isolation runner faults load container
                                  newest)
NEWEST_CORE="ansible-core>=2.21,<2.22"
SKIPPED=()

stage_setup() { "$REPO/scripts/setup.sh"; }

stage_unit() {
    build_tree
    (cd "$COLLECTION" && PYTHONPATH="$TREE" "$PYTHON" -m pytest -q -p no:cacheprovider tests/unit)
}

stage_sanity() {
    build_tree
    "$TESTBED/ansible-test-offline.sh" "$PYTHON"
    (cd "$COLLECTION" && ansible-test sanity --python "$(python_version "$PYTHON")" --local --color no --requirements)
    if [ -n "$(find "$COLLECTION/tests/sanity" -name 'ignore-*.txt' 2>/dev/null)" ]; then
        echo "sanity ignore files are not allowed" >&2
        return 1
    fi
}

stage_lint() {
    build_tree
    # mypy from the root of the tree, so that the collection's imports resolve as they do under Ansible.
    (cd "$TREE" && "$PYTHON" -m mypy --config-file ansible_collections/virtrigaud/core/pyproject.toml)
    (cd "$COLLECTION" && "$PYTHON" -m ruff check --no-cache .)
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
    ANSIBLE_NOCOLOR=1 ansible-doc -t role virtrigaud.core.conformance > "$LOGS/doc-role-conformance.txt"
    grep -q 'conformance_endpoint' "$LOGS/doc-role-conformance.txt" ||
        { echo "ansible-doc does not render the conformance role's options" >&2; return 1; }
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

# The provider runtime as real processes over real gRPC and mTLS (mock backend); the conformance suite's
# verdicts on the minimal provider and its mutations (tests/conformance); then the suite with its load phase
# against the runtime on the mock backend.
stage_runtime() {
    local scratch
    build_tree
    "$TESTBED/runtime.sh" certs
    (cd "$COLLECTION" && RUNTIME_PKI="$VIRTRIGAUD_CACHE/runtime-pki" PYTHONPATH="$TREE:$COLLECTION/runtime" \
        "$PYTHON" -m pytest -q -p no:cacheprovider tests/runtime tests/conformance)
    scratch="$(mktemp -d)"
    # A local file for the ImagePrepare step: the runtime reads it where it runs, as upstream's libvirt path.
    truncate -s 1M "$scratch/conformance-image.raw"
    conformance_backend mock mock "mock://$scratch/state.json" -e image=base -e load_clients=8 -e load_seconds=3 \
        -e "{\"image_source\": {\"source\": {\"libvirt\": {\"path\": \"$scratch/conformance-image.raw\"}}}}"
    rm -rf "$scratch"
}

# The leg's secret, which its backend was started with, for the conformance runtime's credentials.
LEG_SECRET=

# The OVIM spoke agent (runtime/virtrigaud_runtime/spoke) as real processes against the fake hub
# (scripts/testbed/ovimhub.sh), whose token is a secret canary, on the KubeVirt test bed and on libvirtd.
stage_ovim() {
    local canary="vr-ovim-$RANDOM$RANDOM" started=$SECONDS log="$LOGS/ovim.log" agent_logs
    agent_logs="$(mktemp -d)"
    build_tree
    "$TESTBED/libvirtd.sh" start >/dev/null
    "$TESTBED/seed-image.sh" "$("$TESTBED/guest-image.sh" | tail -n 1)" >/dev/null
    start_kubevirt "vr-kubevirt-$RANDOM$RANDOM" >/dev/null
    OVIM_FAKE_HUB_TOKEN="$canary" "$TESTBED/ovimhub.sh" restart >/dev/null
    echo "  test beds (libvirtd, kube-apiserver with the KubeVirt stand-in, fake hub) up after $((SECONDS - started)) s"
    if ! (eval "$("$TESTBED/ovimhub.sh" env)" && cd "$COLLECTION" &&
        OVIM_FAKE_HUB_TOKEN="$canary" OVIM_TEST_LOGS="$agent_logs" OVIM_TEST_BACKENDS="kubevirt libvirt" \
            PYTHONPATH="$TREE:$COLLECTION/runtime" "$PYTHON" -m pytest -q -p no:cacheprovider --durations=5 tests/ovim
    ) > "$log" 2>&1; then
        tail -n 60 "$log"
        "$TESTBED/ovimhub.sh" stop >/dev/null
        return 1
    fi
    grep -E 'passed|slowest|^[0-9.]+s ' "$log" | sed 's/^/  /'
    "$TESTBED/ovimhub.sh" stop >/dev/null
    "$TESTBED/kubevirt.sh" stop >/dev/null
    "$TESTBED/kube.sh" stop >/dev/null
    if grep -rl --fixed-strings "$canary" "$log" "$agent_logs" "$RUN_DIR" /var/log/libvirt 2>/dev/null; then
        echo "the hub's token (a secret canary) leaked into the files above" >&2
        return 1
    fi
    rm -rf "$agent_logs"
    echo "ovim: passed in $((SECONDS - started)) s; the hub's token appears in no log"
}

# A fresh state file: VMs an earlier run left there must not show up in this one.
stage_integration_mock() { rm -f "$VIRTRIGAUD_CACHE/mock-state.json"; integration_leg mock; }

stage_integration_libvirt() {
    local started
    "$TESTBED/libvirtd.sh" start
    started=$SECONDS
    # The target of moves between libvirtds (vm_migration); stopped, and all it held removed, after the leg.
    "$TESTBED/libvirtd2.sh" start
    echo "  second libvirtd up in $((SECONDS - started)) s"
    "$TESTBED/seed-image.sh" "$("$TESTBED/guest-image.sh" | tail -n 1)" >/dev/null
    "$TESTBED/imageserver.sh" start >/dev/null
    integration_leg libvirt
    "$TESTBED/libvirtd2.sh" stop
}

stage_integration_vsphere() {
    "$TESTBED/imageserver.sh" start >/dev/null
    integration_leg vsphere start_vcsim_kept
    # The disk steps export into a folder of their own; the imports land in vcsim's datastore, which goes with it.
    local disks
    disks="$(mktemp -d)"
    TLS_INSECURE_SKIP_VERIFY=true RUNTIME_USERNAME=vr-admin RUNTIME_PASSWORD="$LEG_SECRET" \
        PROVIDER_DEFAULT_DATASTORE=LocalDS_0 conformance_backend vsphere vsphere https://127.0.0.1:18989/sdk \
        -e image=vr-template -e "disk_dir=$disks"
    rm -rf "$disks"
    vsphere_disk_round_trip
}

# The tiny guest image imported into vcsim as a disk and exported back: the same raw bytes (tests/vsphere_disks).
vsphere_disk_round_trip() {
    local started=$SECONDS log="$LOGS/vsphere-disks.log"
    if ! (eval "$(VCSIM_PASSWORD="$LEG_SECRET" "$TESTBED/vcsim.sh" env)" && eval "$("$TESTBED/imageserver.sh" env)" &&
        cd "$COLLECTION" && PYTHONPATH="$TREE" "$PYTHON" -m pytest -q -p no:cacheprovider tests/vsphere_disks
    ) > "$log" 2>&1; then
        tail -n 40 "$log"
        return 1
    fi
    echo "  disk round trip on vcsim (import, export, the same raw bytes): passed in $((SECONDS - started)) s"
}

start_vcsim_kept() { LEG_SECRET="$1"; start_vcsim "$1"; }

# The fake PVE takes the canary as root@pam's password.  Afterwards, the fake's
# routes and every request the suite sent must match the official API schema.
start_pvefake() {
    PVEFAKE_PASSWORD="$1" PVEFAKE_STATS_INTERVAL=2 "$TESTBED/pvefake.sh" restart
}

stage_integration_proxmox() {
    local started=$SECONDS
    "$TESTBED/imageserver.sh" start >/dev/null
    # libvirtd too, with the tiny guest image: the source of vm_migration's move across backends.
    "$TESTBED/libvirtd.sh" start >/dev/null
    "$TESTBED/seed-image.sh" "$("$TESTBED/guest-image.sh" | tail -n 1)" >/dev/null
    echo "  libvirtd with the tiny guest image up beside the fake PVE after $((SECONDS - started)) s"
    integration_leg proxmox start_pvefake_kept
    PVE_INSECURE_SKIP_VERIFY=true RUNTIME_USERNAME=root@pam RUNTIME_PASSWORD="$LEG_SECRET" \
        PROVIDER_DEFAULT_STORAGE=ceph-vm conformance_backend proxmox proxmox https://127.0.0.1:18006 \
        -e image=vr-template -e network=vmbr0
    pve_conformance "$(. <("$TESTBED/pvefake.sh" env) && echo "$PVEFAKE_REQUESTS")"
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
    RUNTIME_PASSWORD="$1" LIBVIRT_DOMAIN_TYPE=qemu PROVIDER_DEFAULT_DATASTORE=virtrigaud \
        "$TESTBED/runtime.sh" restart libvirt qemu:///system
}

start_pvefake_kept() { LEG_SECRET="$1"; start_pvefake "$1"; }

stage_integration_remote() {
    "$TESTBED/libvirtd.sh" start
    "$TESTBED/seed-image.sh" "$("$TESTBED/guest-image.sh" | tail -n 1)" >/dev/null
    integration_leg remote start_runtime
    # The leg's runtime, on libvirtd, is still up: the conformance suite against it, with a short load phase; its
    # disk steps export into a folder of their own and import into the pool, which nothing removes through gRPC.
    local disks prefix="vrc-$RANDOM$RANDOM"
    disks="$(mktemp -d)"
    conformance_run libvirt 19443 -e image=vr-tiny.qcow2 -e graceful_timeout=60 -e load_clients=4 -e load_seconds=3 \
        -e "disk_dir=$disks" -e "conformance_run_prefix=$prefix"
    virsh -q -c qemu:///system vol-delete --pool virtrigaud "$prefix-disk" >/dev/null
    rm -rf "$disks"
    "$TESTBED/runtime.sh" stop
}

# A real kube-apiserver on etcd, fresh for each run; Providers of type libvirt
# are probed against the real libvirtd, directly and through the runtime.  The
# fake PVE serves the `machines` target's Proxmox Machines beside the libvirt ones;
# vcsim and the fake PVE (with the routes beyond the schema subset, for its
# bridges) are there for MachineProvider discovery too, with the canary as password.
start_kube() {
    local started=$SECONDS
    "$TESTBED/kube.sh" restart
    start_runtime "$1"
    echo "  kube-apiserver and runtime up in $((SECONDS - started)) s"
    started=$SECONDS
    start_vcsim "$1"
    PVEFAKE_ANCHOR_ROUTES=1 start_pvefake "$1" >/dev/null
    echo "  vcsim and the fake PVE up in $((SECONDS - started)) s"
}

stage_integration_kubernetes() {
    "$TESTBED/libvirtd.sh" start
    "$TESTBED/seed-image.sh" "$("$TESTBED/guest-image.sh" | tail -n 1)" >/dev/null
    VIRTRIGAUD_TARGETS="${VIRTRIGAUD_TARGETS:-kubernetes machines}" integration_leg kubernetes start_kube || {
        "$TESTBED/vcsim.sh" stop; "$TESTBED/pvefake.sh" stop >/dev/null; return 1; }
    "$TESTBED/kube.sh" stop
    "$TESTBED/runtime.sh" stop
    "$TESTBED/vcsim.sh" stop
    "$TESTBED/pvefake.sh" stop >/dev/null
}

# KubeVirt: the kube-apiserver with KubeVirt's CRDs and admission rules, and the stand-in for its controllers
# and virt-api (scripts/testbed/kubevirt.sh).  The canary is the leg's bearer token, a static token of a user
# bound to exactly the guide's RBAC, and the `kubevirt` target puts it in cloud-init user data too.
start_kubevirt() {
    local tokens
    "$TESTBED/kubevirt.sh" stop >/dev/null
    "$TESTBED/kube.sh" stop >/dev/null
    tokens="$(mktemp)"
    "$TESTBED/kubevirt.sh" tokens "$1" > "$tokens"
    KUBE_EXTRA_TOKENS="$tokens" "$TESTBED/kube.sh" start
    rm -f "$tokens"
    "$TESTBED/kubevirt.sh" start
}

stage_integration_kubevirt() {
    "$TESTBED/imageserver.sh" start >/dev/null
    VIRTRIGAUD_TARGETS="${VIRTRIGAUD_TARGETS:-bad_input inventory_virtrigaud kubevirt vm_scenarios vmset_scenarios machines}" \
        integration_leg kubevirt start_kubevirt
    (eval "$("$TESTBED/kube.sh" env)" && KUBEVIRT_NAMESPACE=vr-kubevirt \
        conformance_backend kubevirt kubevirt "" -e image=vr-base)
    "$TESTBED/kubevirt.sh" stop
    "$TESTBED/kube.sh" stop
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

# Every backend's variables set at once, each with its own secret canary, as an
# AWX job with several credentials has them: each task and inventory source must
# reach its own backend, and no canary may show up anywhere but in the files of
# the backend it belongs to.
stage_isolation() {
    local started=$SECONDS scratch log="$LOGS/isolation.log" token
    local libvirt="vr-libvirt-$RANDOM$RANDOM" vsphere="vr-vsphere-$RANDOM$RANDOM"
    local proxmox="vr-proxmox-$RANDOM$RANDOM" runtime="vr-runtime-$RANDOM$RANDOM"
    "$TESTBED/libvirtd.sh" start >/dev/null
    start_vcsim "$vsphere" >/dev/null
    start_pvefake "$proxmox" >/dev/null
    start_runtime "$runtime" >/dev/null
    token="$(. <("$TESTBED/pvefake.sh" env) && echo "$PROXMOX_TOKEN_SECRET")"
    scratch="$(mktemp -d)"
    if ! (
        eval "$(VCSIM_PASSWORD="$vsphere" "$TESTBED/vcsim.sh" env)"
        eval "$(PVEFAKE_PASSWORD="$proxmox" "$TESTBED/pvefake.sh" env)"
        eval "$("$TESTBED/runtime.sh" env)"
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
    "$TESTBED/runtime.sh" stop >/dev/null
    echo "isolation: every task and source reached its own backend; no canary left its backend ($((SECONDS - started)) s)"
}

# AWX's execution path: every job is transmitted, run by `ansible-runner worker`
# in a private data dir of its own and processed back, as AWX has an execution
# node do it; the collection travels in the job's requirements_collections and
# the credentials are rendered from docs/awx/credential_types as AWX renders
# them (tests/awx).  Jobs converge and remove a VM on the mock provider and on
# the real libvirtd, an inventory update lists both, and one job carries a
# libvirt and a vSphere credential at once; no secret canary may leave its backend.
stage_runner() { "$TESTBED/runner.sh" test; }

# Faults: libvirtd and the runtime killed, and the fake PVE's API gone, in the middle of a create, a clone,
# a reconfigure and a VM set's roll; each re-run must converge with one VM per name and no orphan volume
# (tests/faults/run.py, which says what it does to each backend).
stage_faults() {
    local password="vr-faults-$RANDOM$RANDOM" started=$SECONDS log="$LOGS/faults.log"
    "$TESTBED/libvirtd.sh" start >/dev/null
    "$TESTBED/seed-image.sh" "$("$TESTBED/guest-image.sh" | tail -n 1)" >/dev/null
    start_pvefake "$password" >/dev/null
    "$TESTBED/runtime.sh" certs
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
    "$TESTBED/runtime.sh" certs
    build_tree
    if ! (cd "$REPO/tests" && PYTHONPATH="$TREE" "$PYTHON" -m load.run) > "$log" 2>&1; then
        tail -n 40 "$log"
        return 1
    fi
    sed 's/^/  /' "$log"
}

# The provider runtime in its container, as the provider_runtime role deploys
# it: the image is built with podman from Debian's packages, the role's
# Deployment (read back from the kube-apiserver) is run as written with the
# security context as flags, its probes must answer, and the scenario suite
# runs through it over mTLS; changes to the role that would break a real pod
# must fail; vSphere (vcsim) and Proxmox VE (the fake) answer from inside too.
stage_container() {
    local reason
    "$TESTBED/container.sh" install
    if ! reason="$("$TESTBED/container.sh" check)"; then
        echo "container: skipped, $reason"
        SKIPPED+=("container ($reason)")
        return 0
    fi
    "$TESTBED/container.sh" test
}

# The newest ansible-core needs Python 3.12, which Debian 12 lacks: use one when
# the machine has it (pyenv's, say), in a cached virtual environment.  Not `docs` again: sanity's ansible-doc test
# renders every plugin with this core already, and whether the files carry examples does not depend on the core.
stage_newest() {
    local interpreter venv="$VIRTRIGAUD_CACHE/venv-newest"
    if ! interpreter="$(newest_python)"; then
        echo "skipped: no Python 3.12 here (set PYTHON_NEWEST); $NEWEST_CORE needs it"
        return 0
    fi
    [ -x "$venv/bin/python" ] || "$interpreter" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$NEWEST_CORE" pytest \
        -r "$REPO/requirements.txt"
    PATH="$venv/bin:$PATH" PYTHON="$venv/bin/python" "$0" unit sanity integration_mock
}

TIMES=()
time_table() {
    local row
    [ ${#TIMES[@]} -gt 0 ] || return 0
    printf '\nstage times (%s):\n' "$(python_version "$PYTHON")"
    for row in "${TIMES[@]}"; do printf '  %-24s %6s s\n' "${row% *}" "${row##* }"; done
    printf '  %-24s %6s s\n' total "$SECONDS"
}

# At the end of a run, passed or failed: every server the run started (scripts/testbed/lib.sh keeps the
# list) is stopped, so only the libvirt test bed stays up; then the times, the failed stage's too.
RUNNING_STAGE=
VIRTRIGAUD_STARTED="$(mktemp)"
export VIRTRIGAUD_STARTED
finish() {
    [ -z "$RUNNING_STAGE" ] || TIMES+=("$RUNNING_STAGE (failed) $((SECONDS - started))")
    stop_started_servers
    rm -f "$VIRTRIGAUD_STARTED"
    time_table
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for stage in "${stages[@]}"; do
    say "stage: $stage ($(python_version "$PYTHON"))"
    started=$SECONDS
    RUNNING_STAGE="$stage"
    "stage_$stage"
    RUNNING_STAGE=
    TIMES+=("$stage $((SECONDS - started))")
done
say "all stages passed: ${stages[*]}"
if [ ${#SKIPPED[@]} -gt 0 ]; then
    echo "skipped: ${#SKIPPED[@]} (${SKIPPED[*]})"
fi
