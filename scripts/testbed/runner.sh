#!/usr/bin/env bash
# The runner stage, AWX's execution path: every job is transmitted, run by `ansible-runner worker`
# in a private data dir of its own and processed back, as AWX has an execution
# node do it; the collection travels in the job's requirements_collections and
# the credentials are rendered from docs/awx/credential_types as AWX renders
# them (tests/awx).  Jobs converge and remove a VM on the mock provider and on
# the real libvirtd, an inventory update lists both, and one job carries a
# libvirt and a vSphere credential at once; no secret canary may leave its backend.
#   runner.sh test
set -euo pipefail
# shellcheck disable=SC1091  # scripts/lib.sh, one folder up
source "$(dirname "$0")/../lib.sh"

run_stage() {
    local started=$SECONDS prefix="vrawx-$RANDOM$RANDOM" vsphere="vr-vsphere-$RANDOM$RANDOM" places
    RUNNER_LIBVIRT_CANARY="vr-libvirt-$RANDOM$RANDOM"
    RUNNER_SCRATCH="$(mktemp -d)"
    RUNNER_PREFIX="$prefix"
    RUNNER_JOBS=0
    build_tree
    (cd "$REPO/tests" && "$PYTHON" -m pytest -q -p no:cacheprovider awx) > "$LOGS/runner-render.log" ||
        { cat "$LOGS/runner-render.log"; return 1; }
    echo "  credential types rendered as AWX does: $(tail -n 1 "$LOGS/runner-render.log")"
    "$TESTBED/libvirtd.sh" start >/dev/null
    "$TESTBED/seed-image.sh" "$("$TESTBED/guest-image.sh" | tail -n 1)" >/dev/null
    start_vcsim "$vsphere" >/dev/null
    RUNNER_VSPHERE_CREDENTIAL="$(eval "$(VCSIM_PASSWORD="$vsphere" "$TESTBED/vcsim.sh" env)" &&
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

case "${1:-}" in
    test) run_stage ;;
    *) echo "usage: $0 test" >&2; exit 2 ;;
esac
