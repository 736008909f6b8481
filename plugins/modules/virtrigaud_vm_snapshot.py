#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_vm_snapshot
short_description: Create, remove and revert VM snapshots on any VirtRigaud provider
version_added: 0.1.0
description:
  - Snapshots are identified by name within their VM.
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
  diff_mode:
    support: full
  idempotent:
    support: partial
    details: O(state=reverted) always reverts.
    description: When run twice with the same options, the second run reports no change.
options:
  vm_name:
    description: Name of the VM. One of O(vm_name), O(vm_id) or O(definition) is required.
    type: str
  definition:
    description:
      - The snapshot as an upstream VirtRigaud C(VMSnapshot) manifest (C(infra.virtrigaud.io/v1beta1)), the document
        C(kubectl apply) would take - a mapping, a list holding one VMSnapshot, or YAML text - carried out directly
        on the backend that the connection options name, with no VirtRigaud operator.
      - C(spec.vmRef.name) is the VM, C(spec.snapshotConfig.name) (else C(metadata.name)) the snapshot's name, and
        C(spec.snapshotConfig.includeMemory) O(include_memory).
      - It is checked against the CRD's schema first, naming the field the API server would refuse; an unquoted
        V(yes)/V(no)/V(On)/V(Off) where a string is wanted (YAML 1.1 reads it as a boolean) is refused with the
        quoting that keeps it a string. Any other field (a C(schedule), a C(retentionPolicy), C(encryption) ...)
        is refused by name unless it holds its schema default.
      - Refused together with O(name), O(vm_name), O(vm_id), O(description) or O(include_memory), which it replaces.
    type: raw
    version_added: 0.2.0
  vm_id:
    description: Provider id of the VM; takes precedence over O(vm_name).
    type: str
  name:
    description:
      - The snapshot name, 1-40 letters, digits, V(_) or V(-), starting with a letter.
      - Required unless O(definition) gives it.
    type: str
  state:
    description:
      - V(present) takes the snapshot unless one of that name exists.
      - V(absent) removes it; a missing snapshot or VM is not an error.
      - V(reverted) returns the VM to the snapshot, every time.
    type: str
    choices: [present, absent, reverted]
    default: present
  description:
    description: A description stored with a new snapshot.
    type: str
    default: ""
  include_memory:
    description:
      - Save the memory of a running VM too, so a revert resumes it running.
      - With libvirt, snapshots of a running VM always include its memory. A running VM whose vCPUs were
        hot-plugged, and whose disks an earlier release of this collection defined, is refused, because QEMU could
        not load that memory state again; the error says how to take a disk-only snapshot instead.
    type: bool
    default: false
seealso:
  - module: virtrigaud.core.virtrigaud_vm
"""

EXAMPLES = r"""
- name: A snapshot from the VMSnapshot manifest you would give kubectl
  virtrigaud.core.virtrigaud_vm_snapshot:
    definition:
      apiVersion: infra.virtrigaud.io/v1beta1
      kind: VMSnapshot
      metadata: {name: web-1-before-upgrade}
      spec:
        vmRef: {name: web-1}
        snapshotConfig: {name: before_upgrade, includeMemory: false}

- name: Snapshot before an upgrade
  virtrigaud.core.virtrigaud_vm_snapshot:
    vm_name: web-1
    name: before-upgrade
    description: taken by the upgrade playbook
    include_memory: true

- name: Go back
  virtrigaud.core.virtrigaud_vm_snapshot:
    vm_name: web-1
    name: before-upgrade
    state: reverted

- name: Drop it
  virtrigaud.core.virtrigaud_vm_snapshot:
    vm_name: web-1
    name: before-upgrade
    state: absent
"""

RETURN = r"""
snapshot:
  description: The snapshot after the run (before it, in check mode); null when absent.
  returned: always
  type: dict
  sample: {id: before-upgrade, name: before-upgrade, description: "", created: "2026-11-24T10:00:00Z",
           has_memory: true, parent: null, current: true}
snapshots:
  description: All snapshots of the VM after the run, oldest first.
  returned: always
  type: list
  elements: dict
changes:
  description: The actions taken (predicted, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{action: snapshot_create, target: before-upgrade, old: null, new: present}]
"""

from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec, wait_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.executor import Executor
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.kind_documents import snapshot_options
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import parse_snapshot_name, plan_snapshot


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = m.params
    if p["definition"] is not None:
        p = dict(p, **snapshot_options(p["definition"]))
    name = parse_snapshot_name(p["name"])
    if not (p["vm_name"] or p["vm_id"]):
        raise SpecError("set vm_name or vm_id to say which VM", option="vm_name")
    vm = m.locate(p["vm_name"], p["vm_id"], "vm_id")
    snapshots = m.provider.snapshot_list(vm.id) if vm else []
    the_plan = plan_snapshot(
        p["state"], name, vm, snapshots, p["description"], p["include_memory"], m.provider.capabilities()
    )
    if vm is not None and any(a.action == "snapshot_create" for a in the_plan.actions):
        m.provider.check_snapshot(vm.id, p["include_memory"])
    if m.check_mode or vm is None:
        done = list(the_plan.actions)
    else:
        done = Executor(m.provider, m.deadline(), vm.id, wait=p["wait"]).apply(the_plan)
        snapshots = m.provider.snapshot_list(vm.id)
    current = next((s.to_dict() for s in snapshots if s.name == name), None)
    result = {
        "changed": bool(done),
        "changes": [a.to_dict() for a in done],
        "snapshot": current,
        "snapshots": [s.to_dict() for s in snapshots],
    }
    if m.diff_mode:
        result["diff"] = the_plan.diff
    return result


# The options a definition replaces: given beside one, they are refused by name.
REPLACED = ("name", "vm_name", "vm_id", "description", "include_memory")
# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {"required_one_of": [["vm_name", "vm_id", "definition"], ["name", "definition"]],
                                "mutually_exclusive": [["definition", option] for option in REPLACED]}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        **wait_spec(),
        "vm_name": {"type": "str"},
        "vm_id": {"type": "str"},
        "name": {"type": "str"},
        "definition": {"type": "raw"},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent", "reverted"]},
        "description": {"type": "str", "default": ""},
        "include_memory": {"type": "bool", "default": False},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
