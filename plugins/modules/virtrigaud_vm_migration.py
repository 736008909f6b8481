#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_vm_migration
short_description: Move a VM to another host or datastore of the same backend
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
  - Moving a VM to another backend (libvirt to Proxmox VE, say) is not done by this module; such a target is refused.
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
      - Where the VM goes. Set at least one of O(target.host) and O(target.datastore).
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
        type: str
      datastore:
        description:
          - The datastore (vSphere) or storage pool (libvirt) the VM's files and disks move to. Proxmox VE refuses
            it.
          - libvirt moves only a stopped VM without snapshots (a copy of its disks would lose them).
        type: str
      provider_type:
        description:
          - The target's backend type. Only the source's own O(provider_type) is accepted; another one (a move
            across backends) is refused by name.
        type: str
  online:
    description:
      - Move a running VM while it runs (vMotion, Proxmox VE's online migration, libvirt's live migration to
        another libvirtd).
      - With V(false), a running VM is refused (stop it first). A stopped VM moves stopped either way.
    type: bool
    default: true
notes:
  - With O(wait=false) the module returns once the backend has carried out the move, without checking that the VM
    arrived (the V(Validating-Target) phase).
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
  description: The VM after the move (before it, in check mode).
  returned: unless O(apply_to=kubernetes)
  type: dict
placement:
  description: Where the VM is after the run (where it would be, in check mode); only the keys the backend moves.
  returned: unless O(apply_to=kubernetes)
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
  description: The move made (predicted, in check mode), with the old and new placement; with
    O(apply_to=kubernetes), each document written.
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

from ansible_collections.virtrigaud.core.plugins.module_utils import migration
from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec, wait_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import NotFoundError, SpecError, UnsupportedError
from ansible_collections.virtrigaud.core.plugins.module_utils.executor import Executor
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import migration_document
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.applied import apply_documents
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import Plan, plan_migration
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import Placement


def target_of(params: dict[str, Any]) -> Placement:
    """The target as a placement; a move across backends or one with nowhere to go is refused by name."""
    target = params["target"]
    other = target.get("provider_type")
    if other and other != params["provider_type"]:
        raise UnsupportedError("moving a VM from the %s backend to %s (across backends) is not supported by this "
                               "module; leave target.provider_type out or give %s"
                               % (params["provider_type"], other, params["provider_type"]),
                               option="target.provider_type")
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
            "host": {"type": "str"}, "datastore": {"type": "str"}, "provider_type": {"type": "str"}}},
        "online": {"type": "bool", "default": True},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
