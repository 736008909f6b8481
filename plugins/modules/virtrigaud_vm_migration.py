#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_vm_migration
short_description: Move a VM to another host or datastore, or to another backend
version_added: 0.2.0
description:
  - Moves a VM within one backend, as VirtRigaud's VMMigration does within one provider, and reports the phases it
    went through (V(Validating), V(Transferring), V(Validating-Target), V(Ready), or V(Failed)).
  - vSphere moves a VM to another host (vMotion) or datastore (Storage vMotion) with one relocation.
    Proxmox VE moves it to another node (its C(migrate) call, live with C(online) when the VM runs).
    libvirt moves a stopped VM's disks to another storage pool of the same libvirtd (full copies, then the domain is
    switched to them and the old volumes removed), and a VM to another libvirtd (O(target.host)).
    Other backends refuse the move, naming the option.
  - libvirt, to another libvirtd - a stopped VM's volumes are streamed through libvirt (download from the source,
    upload to a new volume in the target's pool), flattened when they are overlays of an image, and each copy is
    read back and must match the SHA-256 of what was sent; the domain is then defined on the target with the new
    paths, undefined on the source, and the source's volumes removed. A running VM moves live with QEMU's migration
    and a copy of its disks (C(VIR_MIGRATE_LIVE), C(PERSIST_DEST), C(UNDEFINE_SOURCE), C(NON_SHARED_DISK));
    QEMU's block mirror copies them, so they are not hashed. A VM with snapshots is refused (a copy would lose
    them).
  - libvirt - after a move to another libvirtd the VM is no longer on the task's connection; a run with the same
    O(target) finds it at O(target.host) and reports no change.
  - A VM already where O(target) says is left alone. When a move fails, the VM stays where it was, running as before,
    and nothing is left on the target side.
  - With O(target.provider_type) naming another backend, the VM moves across backends (tested from libvirt to
    Proxmox VE, libvirt to vSphere, vSphere to libvirt). The source VM is stopped, its root disk exported to
    O(staging.dir), converted with C(qemu-img) to the first format the target takes (raw for vSphere, else
    qcow2), fetched by the target from a short-lived HTTP server on O(staging.serve_address) and checked there
    against its SHA-256, and a VM of the same CPU, memory, firmware and NICs (MACs kept, networks
    mapped by O(network_map)) is created from it and started, with the cloud-init of O(cloud_init). Phases
    V(Validating), V(Snapshotting) (which stops the source here), V(Exporting), V(Converting), V(Transferring),
    V(Importing), V(Creating), V(Validating-Target), V(Ready).
  - vSphere keeps the disk a move to it imports as a template, V(<target.name>-migrated.raw), which the new VM is
    cloned from; it may be removed once the VM runs.
  - The source backend must export disks, the target must import a disk or fetch an image from a URL; the
    module names the one that cannot. The source is kept, stopped, until O(delete_source=true).
  - When a move across backends fails, the target VM and the transferred disk are removed and the source is
    started again if the module stopped it. A second run finds the target VM running and changes nothing.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.kubernetes
  - virtrigaud.core.kubernetes.unused
  - virtrigaud.core.wait
  - virtrigaud.core.attributes
attributes:
  check_mode:
    support: full
    details: The target is checked (it exists, the VM may go there) in check mode too.
  diff_mode:
    support: full
  idempotent:
    support: full
    description: When run twice with the same options, the second run reports no change.
options:
  vm_name:
    description: Name of the VM. One of O(vm_name), O(vm_id) or O(definition) is required.
    type: str
  vm_id:
    description: Provider id of the VM; takes precedence over O(vm_name).
    type: str
  definition:
    description:
      - An upstream C(VMMigration) manifest, with the C(VMPlacementPolicy) that its C(spec.target.placementRef) names,
        as one document, a list of them, or YAML text with several. It replaces O(vm_name), O(vm_id) and O(target).
      - Each document is checked against its CRD's schema first, so what the API server would refuse is refused
        here, naming the document and the field.
      - On a backend, C(spec.source.vmRef.name) is the VM, and the policy's C(spec.hard.hosts) and
        C(spec.hard.datastores) (one entry each at most) are O(target.host) and O(target.datastore). The VM keeps
        its name and its Provider. A field asking for more (another Provider, staging C(storage), a new class,
        C(source.powerOffBeforeMigration), ...) is refused by its path unless it holds its schema default.
      - See the guide C(docs/guides/manifests.md).
    type: raw
  apply_to:
    description:
      - Where O(definition) goes. Only with O(definition).
      - V(backend) (the default) moves the VM on the backend of the connection options.
      - V(kubernetes) writes the documents as given (server-side apply, field manager C(virtrigaud.core)) in the
        VMMigration's C(metadata.namespace), or C(default); VirtRigaud's manager then carries the migration out.
    type: str
    choices: [backend, kubernetes]
  target:
    description:
      - Where the VM goes. Within one backend, set at least one of O(target.host) and O(target.datastore).
      - Required unless O(definition) gives it.
    type: dict
    suboptions:
      host:
        description:
          - The host (vSphere) or node (Proxmox VE) the VM moves to; for libvirt, the URI of the libvirtd it moves
            to (C(qemu+ssh://host2/system), C(qemu+unix:///system?socket=/path)).
          - libvirt - the target is reached with the URI alone, read from this option only. The task's O(username) and
            O(password) are not sent there; libvirt's own client settings answer for it (SSH keys, C(auth.conf)).
          - libvirt - the disks go to the pool O(target.datastore) of the target, else to its pool named as the
            VM's pool is here.
          - Across backends, where the target VM is created.
        type: str
      datastore:
        description:
          - The datastore (vSphere) or storage pool (libvirt) the VM's files and disks move to. Proxmox VE refuses
            it within one backend.
          - libvirt moves only a stopped VM without snapshots (a copy of its disks would lose them).
          - Across backends, the target's storage for the new VM's disk (else its
            O(target.connection.default_datastore)).
        type: str
      provider_type:
        description:
          - The target's backend type. Left out, or the source's own O(provider_type), the VM moves within its
            backend; another one moves it across backends.
        type: str
        choices: [kubevirt, libvirt, mock, proxmox, remote, vsphere]
      name:
        description: Across backends, the target VM's name; the source's name when not set.
        type: str
      image_storage:
        description:
          - Across backends, the target's storage that receives the transferred disk file before the VM is made
            from it (on Proxmox VE, a storage with C(import) content; V(local) when not set).
          - A target that copies the file into the new VM's disk (Proxmox VE) has it removed once the VM runs.
        type: str
      connection:
        description:
          - Across backends, the target's connection settings, with the same names as the module's own; only
            those of O(target.provider_type) are read, and then that backend's environment variables
            (E(PROXMOX_HOST) and the like). The module's own connection options are the source's alone.
          - Secrets here are kept out of every output like the module's own.
        type: dict
        suboptions:
          api_host:
            description: As the module's O(api_host), for the target (proxmox only).
            type: str
          api_key:
            description: As the module's O(api_key), for the target (kubevirt only).
            type: str
          api_password:
            description: As the module's O(api_password), for the target (proxmox only).
            type: str
          api_port:
            description: As the module's O(api_port), for the target (proxmox only).
            type: int
          api_token_id:
            description: As the module's O(api_token_id), for the target (proxmox only).
            type: str
          api_token_secret:
            description: As the module's O(api_token_secret), for the target (proxmox only).
            type: str
          api_user:
            description: As the module's O(api_user), for the target (proxmox only).
            type: str
          ca_cert:
            description: As the module's O(ca_cert), for the target (kubevirt only).
            type: path
            aliases: [ssl_ca_cert]
          ca_path:
            description: As the module's O(ca_path), for the target (remote only).
            type: path
          client_cert:
            description: As the module's O(client_cert), for the target (remote only).
            type: path
          client_key:
            description: As the module's O(client_key), for the target (remote only).
            type: path
          context:
            description: As the module's O(context), for the target (kubevirt only).
            type: str
          datacenter:
            description: As the module's O(datacenter), for the target (vsphere only).
            type: str
          default_bridge:
            description: As the module's O(default_bridge), for the target (proxmox only).
            type: str
          default_cluster:
            description: As the module's O(default_cluster), for the target (vsphere only).
            type: str
          default_datastore:
            description: As the module's O(default_datastore), for the target.
            type: str
          default_folder:
            description: As the module's O(default_folder), for the target (vsphere only).
            type: str
          default_node:
            description: As the module's O(default_node), for the target (proxmox only).
            type: str
          host:
            description: As the module's O(host), for the target (kubevirt only).
            type: str
          hostname:
            description: As the module's O(hostname), for the target (vsphere only).
            type: str
          insecure:
            description: As the module's O(insecure), for the target (remote only).
            type: bool
          instancetype:
            description: As the module's O(instancetype), for the target (kubevirt only).
            type: str
          kube_validate_certs:
            description: As the module's O(kube_validate_certs), for the target (kubevirt only).
            type: bool
          kubeconfig:
            description: As the module's O(kubeconfig), for the target (kubevirt only).
            type: path
          libvirt_domain_type:
            description: As the module's O(libvirt_domain_type), for the target (libvirt only).
            type: str
            choices: [auto, kvm, qemu]
          namespace:
            description: As the module's O(namespace), for the target (kubevirt only).
            type: str
          password:
            description: As the module's O(password), for the target (libvirt, vsphere only).
            type: str
          port:
            description: As the module's O(port), for the target (vsphere only).
            type: int
          preference:
            description: As the module's O(preference), for the target (kubevirt only).
            type: str
          rpc_timeouts:
            description: As the module's O(rpc_timeouts), for the target (remote only).
            type: dict
          snippets_dir:
            description: As the module's O(snippets_dir), for the target (proxmox only).
            type: path
          snippets_storage:
            description: As the module's O(snippets_storage), for the target (proxmox only).
            type: str
          tls_server_name:
            description: As the module's O(tls_server_name), for the target (remote only).
            type: str
          uri:
            description: As the module's O(uri), for the target.
            type: str
            aliases: [endpoint]
          username:
            description: As the module's O(username), for the target (libvirt, vsphere only).
            type: str
          validate_certs:
            description: As the module's O(validate_certs), for the target (proxmox, vsphere only).
            type: bool
  network_map:
    description:
      - Across backends, the target network for each network of the source's NICs, each key a source network
        and its value a target network.
      - A NIC whose network is missing here, or a target network the target lacks, is refused before anything is
        touched.
    type: dict
  cloud_init:
    description: Across backends, the cloud-init the target VM boots with (a source backend does not report its own).
    type: dict
    suboptions:
      user_data:
        description: The user-data document.
        type: str
      meta_data:
        description: The meta-data document.
        type: str
      network_config:
        description: The network-config document.
        type: str
  source_power:
    description:
      - Across backends, how the source is brought to rest before its disk is exported (no snapshot is taken).
      - V(shutdown) presses the ACPI power button and waits O(shutdown_timeout) seconds; V(poweroff) cuts the
        power; V(require_off) refuses a running source.
      - V(shutdown) when not set.
    type: str
    choices: [shutdown, poweroff, require_off]
  shutdown_timeout:
    description:
      - Across backends, seconds to wait for the source's guest to shut down with O(source_power=shutdown); 120
        when not set.
    type: int
  delete_source:
    description:
      - Across backends, remove the source VM and its disks once the target VM runs; also on a later run that finds
        the target running. Not set or V(false), the source is kept, stopped.
    type: bool
  staging:
    description: Across backends, where the disk waits and how the target fetches it.
    type: dict
    suboptions:
      dir:
        description:
          - The folder, where the module runs, that holds the exported and converted disk during the move; they
            are removed afterwards. It needs room for the disk twice.
          - A folder of the system's temporary one when not set.
        type: path
      serve_address:
        description:
          - The address of the machine the module runs on that the target's hosts reach (a Proxmox VE node runs
            C(download-url) against it). The disk is served there over plain HTTP under a random path while the
            target fetches it, and the server stops right after.
          - Required across backends. The bytes travel unencrypted (their SHA-256 is checked at the target), so
            use a management network.
        type: str
      serve_port:
        description: The TCP port to serve on; V(0) takes any free one.
        type: int
        default: 0
  online:
    description:
      - Move a running VM while it runs (vMotion, Proxmox VE's online migration, libvirt's live migration to
        another libvirtd).
      - With V(false), a running VM is refused (stop it first). A stopped VM moves stopped either way.
      - A move across backends never runs live, and refuses V(false); its O(source_power=require_off) refuses a
        running VM.
    type: bool
    default: true
notes:
  - With O(wait=false) the module returns once the backend has carried out the move, without checking that the VM
    arrived (the V(Validating-Target) phase). A move across backends always waits, and refuses O(wait=false).
seealso:
  - module: virtrigaud.core.virtrigaud_vm
    description: Moves a VM too when its O(virtrigaud.core.virtrigaud_vm#module:placement) changes and
      O(virtrigaud.core.virtrigaud_vm#module:allow_migration=true).
"""

EXAMPLES = r"""
- name: vMotion web-1 to another host of its cluster
  virtrigaud.core.virtrigaud_vm_migration:
    provider_type: vsphere
    vm_name: web-1
    target:
      host: esx-02.example.com

- name: Storage vMotion to a faster datastore, at most ten minutes
  virtrigaud.core.virtrigaud_vm_migration:
    provider_type: vsphere
    vm_name: web-1
    target:
      datastore: ssd-01
    wait_timeout: 600

- name: Move a stopped libvirt VM's disks to the pool fast-ssd
  virtrigaud.core.virtrigaud_vm_migration:
    provider_type: libvirt
    vm_name: db-1
    target:
      datastore: fast-ssd

- name: Move a libvirt VM to the libvirtd of host kvm-02, into its pool vms, live if it runs
  virtrigaud.core.virtrigaud_vm_migration:
    provider_type: libvirt
    uri: qemu:///system
    vm_name: db-1
    target:
      host: qemu+ssh://kvm-02.example.com/system
      datastore: vms

- name: Move a Proxmox VE VM to node pve2 while it runs
  virtrigaud.core.virtrigaud_vm_migration:
    provider_type: proxmox
    vm_id: "104"
    target:
      host: pve2
  register: moved

- name: Move a libvirt VM to Proxmox VE; the PVE node fetches the disk from 10.0.0.5
  virtrigaud.core.virtrigaud_vm_migration:
    provider_type: libvirt
    uri: qemu:///system
    vm_name: db-1
    target:
      provider_type: proxmox
      datastore: local-lvm
      connection:
        api_host: pve1.example.com
        api_user: root@pam
        api_password: "{{ pve_password }}"
        default_bridge: vmbr0
    network_map:
      default: vmbr0
    staging:
      serve_address: 10.0.0.5
      dir: /var/tmp/migration
    delete_source: true
    wait_timeout: 1800

- name: Show how long each phase took
  ansible.builtin.debug:
    msg: "{{ moved.migration.phases }}"

- name: The move a VMMigration manifest describes, carried out with no operator
  virtrigaud.core.virtrigaud_vm_migration:
    provider_type: vsphere
    definition: "{{ lookup('ansible.builtin.file', 'migrations/web-1.yaml') }}"

- name: The same manifest as resources, for VirtRigaud's manager
  virtrigaud.core.virtrigaud_vm_migration:
    apply_to: kubernetes
    definition: "{{ lookup('ansible.builtin.file', 'migrations/web-1.yaml') }}"
"""

RETURN = r"""
vm:
  description:
    - The VM after the move (before it, in check mode).
    - Across backends, the target VM (null in check mode before it exists).
  returned: unless O(apply_to=kubernetes)
  type: dict
placement:
  description: Where the VM is after the run (where it would be, in check mode); only the keys the backend moves.
  returned: within one backend, unless O(apply_to=kubernetes)
  type: dict
  sample: {host: DC0_C0_H1, datastore: LocalDS_0}
migration:
  description: How far the move got, in the terms of VMMigration's status.
  returned: unless O(apply_to=kubernetes)
  type: dict
  contains:
    phase:
      description:
        - V(Ready) when the VM is where asked (also when it was there already), V(Validating) in check mode,
          V(Transferring) after a move with O(wait=false). A failure carries V(Failed) in the error's details.
      type: str
      sample: Ready
    progress:
      description: VMMigration's status.progress fields C(currentPhase) and C(percentage) (0-100).
      type: dict
      sample: {currentPhase: Ready, percentage: 100}
    phases:
      description: Each phase passed, with when it began (UTC) and how many seconds it took.
      type: list
      elements: dict
      sample: [{phase: Validating, started: "2026-11-30T09:00:00Z", seconds: 0.05},
               {phase: Transferring, started: "2026-11-30T09:00:00Z", seconds: 1.2},
               {phase: Validating-Target, started: "2026-11-30T09:00:01Z", seconds: 0.04},
               {phase: Ready, started: "2026-11-30T09:00:01Z", seconds: 0.0}]
changes:
  description:
    - The move made (predicted, in check mode), with the old and new placement.
    - Across backends, V(migrate_across) (old the source's backend, id and power state; new the target's backend
      and name) and V(delete_source).
    - With O(apply_to=kubernetes), each document written.
  returned: always
  type: list
  elements: dict
  sample: [{action: migrate, target: web-1, old: {host: esx-01}, new: {host: esx-02}}]
objects:
  description: With O(apply_to=kubernetes), each document written, with whether it changed.
  returned: when O(apply_to=kubernetes)
  type: list
  elements: dict
resource:
  description: With O(apply_to=kubernetes), the VMMigration as stored (as it would be, in check mode).
  returned: when O(apply_to=kubernetes)
  type: dict
"""

from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils import migration, migration_across
from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import (
    group_spec,
    target_connection_spec,
    wait_spec,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import NotFoundError, SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.executor import Executor
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import migration_document
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.applied import apply_documents
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import Plan, plan_migration
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import PROVIDER_TYPES
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import Placement

# Options that only a move across backends reads; within one backend they are refused by name.
ACROSS_ONLY = ("network_map", "cloud_init", "source_power", "shutdown_timeout", "delete_source", "staging")
TARGET_ACROSS_ONLY = ("name", "image_storage", "connection")


def across(params: dict[str, Any]) -> bool:
    """Whether the target is on another backend; options of the other kind of move are refused by name."""
    target = params["target"]
    other = bool(target.get("provider_type")) and target["provider_type"] != params["provider_type"]
    if other and params.get("online") is False:
        raise SpecError("a move across backends never runs live: the source is stopped first as source_power "
                        "says; to refuse a running VM, set source_power: require_off", option="online")
    if not other:
        given = [o for o in ACROSS_ONLY if params.get(o) is not None]
        given += ["target.%s" % o for o in TARGET_ACROSS_ONLY if target.get(o) is not None]
        if given:
            raise SpecError("is read only when the VM moves to another backend (target.provider_type)",
                            option=given[0])
    return other


def target_of(params: dict[str, Any]) -> Placement:
    """The target as a placement; one with nowhere to go is refused by name."""
    target = params["target"]
    if not (target.get("host") or target.get("datastore")):
        raise SpecError("say where the VM goes: set target.host, target.datastore or both", option="target")
    return Placement(host=target.get("host"), datastore=target.get("datastore"))


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = m.params
    if p["definition"] is not None:
        manifest = migration_document.read(p["definition"])
        if p["apply_to"] == "kubernetes":
            if not p["online"]:
                raise SpecError("VirtRigaud's manager decides how the VM moves; leave online out with apply_to: "
                                "kubernetes", option="online")
            return apply_documents(m, migration_document.as_resources(manifest))
        p = dict(p, **migration_document.options(manifest))
    if across(p):
        return migration_across.converge(m)
    wanted = target_of(p)
    vm = m.locate(p["vm_name"], p["vm_id"], "vm_id", moved_to=wanted, host_option="target.host")
    if vm is None:
        raise NotFoundError("no VM is named '%s'" % p["vm_name"], option="vm_name")
    provider = m.provider
    where = provider.where(vm)
    action = plan_migration(vm, where, wanted, provider.migration_keys, p["online"], "target.", provider.type_name)
    log = migration.PhaseLog()
    before = {key: getattr(where, key) for key in provider.migration_keys}
    after = dict(before, **(action.new if action else {}))
    done = []
    if action is not None:
        migration.check(provider, vm, action, "target.", log)
        if m.check_mode:
            done = [action]
        else:
            executor = Executor(provider, m.deadline(), vm.id, wait=p["wait"], phases=log)
            done = executor.apply(Plan((action,), before, after))
            vm = provider.describe(vm.id) or m.follow(wanted, None, vm.id, "target.host") or vm
    else:
        log.enter("Ready")
    result = {"changed": bool(done), "changes": [a.to_dict() for a in done], "vm": vm.to_dict(),
              "placement": after, "migration": log.to_dict()}
    if m.diff_mode:
        result["diff"] = {"before": before, "after": after}
    return result


# The options a definition replaces: given beside one, they are refused by name.
REPLACED = ("vm_name", "vm_id", "target")
OPTION_RULES: dict[str, Any] = {"required_one_of": [["vm_name", "vm_id", "definition"], ["target", "definition"]],
                                "mutually_exclusive": [["definition", option] for option in REPLACED],
                                "required_by": {"apply_to": "definition"}}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        **wait_spec(),
        "vm_name": {"type": "str"},
        "vm_id": {"type": "str"},
        "definition": {"type": "raw"},
        "apply_to": {"type": "str", "choices": ["backend", "kubernetes"]},
        "target": {"type": "dict", "options": {
            "host": {"type": "str"}, "datastore": {"type": "str"},
            "provider_type": {"type": "str", "choices": list(PROVIDER_TYPES)},
            "name": {"type": "str"}, "image_storage": {"type": "str"},
            "connection": {"type": "dict", "options": target_connection_spec()}}},
        "online": {"type": "bool", "default": True},
        "network_map": {"type": "dict"},
        "cloud_init": {"type": "dict", "options": {
            "user_data": {"type": "str"}, "meta_data": {"type": "str"}, "network_config": {"type": "str"}}},
        "source_power": {"type": "str", "choices": list(migration_across.SOURCE_POWER)},
        "shutdown_timeout": {"type": "int"},
        "delete_source": {"type": "bool"},
        "staging": {"type": "dict", "options": {
            "dir": {"type": "path"}, "serve_address": {"type": "str"}, "serve_port": {"type": "int", "default": 0}}},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
