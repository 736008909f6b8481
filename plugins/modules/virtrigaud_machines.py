#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_machines
short_description: Make vitistack Machines real VMs on one backend, and write their status
version_added: 0.2.0
description:
  - Lists the vitistack C(Machine)s (C(machines.vitistack.io/v1alpha1)) of one provider type, in O(machine_namespace)
    (or every namespace), matching O(label_selector), whose C(spec.provider) (or C(spec.providerConfig.name)) is
    the provider type; and converges each into a VM on that backend, in parallel, in one task.
  - "A Machine's VM: its name is the Machine's; its CPUs and memory come from C(spec.machineClass) (a
    C(MachineClass)), with C(spec.cpu) (cores x sockets x threadsPerCore) and C(spec.memory) (bytes, rounded up to
    MiB) winning where given; the boot disk (C(boot: true), else the first) is the root disk, made from
    C(spec.os.imageID) with C(sizeGB); the other disks are data disks; each C(spec.network.interfaces) entry is a NIC
    on its C(subnet), else the Machine's C(network.subnet) or C(network.vpc), else O(default_network); cloud-init
    user data comes from C(spec.cloudInit) (inline, base64, or a Secret or ConfigMap of the Machine's namespace) or
    C(spec.userData), with C(spec.sshKeys) added to its C(ssh_authorized_keys); each C(spec.tags) entry becomes
    the tag C(<key>.<value>)."
  - The VM also carries the tags C(vitistack.<namespace>) and C(machine-rev.<digest>), the digest of what the
    Machine asks. So one bulk listing of the backend tells which VMs are current, and a run with nothing to change
    makes no other backend call.
  - Each Machine's status subresource gets the phase (C(Running), C(Stopped), C(Pending), C(Failed)), the state,
    C(providerID) (C(<type>://<VM id>)), C(machineID), the IP addresses, CPUs, memory and disks in bytes, the
    network interfaces, the hostname, the failure reason and message, and a C(Ready) condition whose transition time
    is kept while it holds. Nothing is written when nothing changed.
  - "Deletion: the finalizer C(virtrigaud.core/machine-vm) goes on each Machine before its VM is made. When such a
    Machine is deleted, its VM is removed, then the finalizer. A Machine whose VM vanished is made again, or marked
    failed, per O(on_vm_vanished)."
  - What a Machine asks that cannot be made (an unknown image or MachineClass, a setting the backend refuses) is
    checked before anything is made for it, and fails that Machine alone, with the reason in its status. A VM whose
    creation failed half-way is removed. The other Machines go on; the task does not fail for them.
  - "Machines another controller owns are skipped: any finalizer but the API server's and this collection's (as
    vitistack's kubevirt-operator adds its own), or an owner reference with C(controller: true)."
  - The backend connection comes from the MachineProvider named by O(machine_provider) (its type, its endpoint and
    its credentials Secret, whose keys are this module's connection options of that backend), or from the
    connection options of O(provider_type). The Kubernetes options reach the Machines; with O(provider_type=kubevirt)
    and no O(machine_provider), the VMs live in that same cluster.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.kubernetes
  - virtrigaud.core.attributes
attributes:
  check_mode:
    support: full
    details: Returns the plan per Machine that a real run carries out, and changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    description: When run twice with the same Machines, the second run reports no change.
options:
  machine_provider:
    description:
      - Name of the MachineProvider whose type, endpoint and credentials Secret give the backend connection.
      - Then the MachineProvider's C(providerType) is the backend, whatever O(provider_type) says, and the task gives
        no connection option of that backend (the Kubernetes options excepted).
    type: str
  machine_namespace:
    description: Where the Machines are; every namespace when not given.
    type: str
  label_selector:
    description: Only the Machines with these labels, as C(kubectl -l) takes them.
    type: str
  default_network:
    description: The network of a NIC whose Machine names none (a libvirt network, a PVE bridge, a KubeVirt NAD).
    type: str
  power_state:
    description: V(running) starts every VM; V(stopped) makes them powered off (their phase is then C(Stopped)).
    type: str
    choices: [running, stopped]
    default: running
  wait_for_ip_address:
    description:
      - After making, updating or starting a running VM with NICs, wait until it reports an IP address, so that
        the Machine's status written next holds it (within O(wait_timeout)).
      - With V(false), the addresses reach the status on a later run.
    type: bool
    default: true
  on_vm_vanished:
    description: What happens to a Machine whose VM was removed behind its back.
    type: str
    choices: [recreate, fail]
    default: recreate
  parallelism:
    description: How many VMs are worked on at once.
    type: int
    default: 4
  rate_limit:
    description: How fast VM operations may start.
    type: dict
    default: {}
    suboptions:
      qps: {description: Operations started per second on average., type: float, default: 10}
      burst: {description: Operations that may start at once., type: int, default: 20}
  wait_timeout:
    description: How many seconds the whole task may take.
    type: int
    default: 1800
  shutdown_timeout:
    description: How long a guest gets to shut down before it is powered off, when a change needs that.
    type: int
    default: 120
seealso:
  - module: virtrigaud.core.virtrigaud_machineprovider
  - module: virtrigaud.core.virtrigaud_vmset
"""

EXAMPLES = r"""
- name: Every Machine for Proxmox VE, connected through the MachineProvider's Secret
  virtrigaud.core.virtrigaud_machines:
    machine_provider: pve-oslo
    default_network: vmbr0

- name: Machines of one namespace on libvirt, from the task's own connection
  virtrigaud.core.virtrigaud_machines:
    provider_type: libvirt
    uri: qemu:///system
    default_datastore: default
    machine_namespace: team-a
    label_selector: tier=web
    on_vm_vanished: fail

- name: What would a reconcile do?
  virtrigaud.core.virtrigaud_machines:
    machine_provider: pve-oslo
  check_mode: true
  register: plan
"""

RETURN = r"""
plan:
  description:
    - Each Machine with something to do, and what (what would be done, in check mode); the same in both modes.
    - C(action) is V(create), V(update), V(delete) or null; C(finalizer) V(add), V(remove) or null; C(status) whether
      its status is (to be) written; C(changes) the VM's own steps.
  returned: always
  type: list
  elements: dict
  sample: [{machine: default/web-1, action: create, reason: new Machine, finalizer: add, failure_reason: null,
            status: true, changes: [{action: create, target: web-1, old: null, new: present}]}]
machines:
  description: Every Machine served, with the outcome and the phase it holds after the run.
  returned: always
  type: list
  elements: dict
  sample: [{machine: default/web-1, action: create, outcome: done, phase: Running, machine_id: "42",
            failure_reason: null, skipped: null}]
"""

import tempfile
from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec, set_run_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.machine_connection import connection_from
from ansible_collections.virtrigaud.core.plugins.module_utils.machines import (
    RunOptions,
    Selection,
    apply_steps,
    load_machines,
    observe,
    plan_machines,
    predicted,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.vmset import check_run_options


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = m.params
    check_run_options(p)
    with tempfile.TemporaryDirectory(prefix="virtrigaud-machines-") as scratch:
        if p["machine_provider"]:
            m.use_connection(connection_from(m.kube, p["machine_provider"], p, scratch,
                                             {"wait_timeout": p["wait_timeout"]}))
        config = m.provider_config()
        selection = Selection(config.type, p["machine_namespace"], p["label_selector"], p["default_network"],
                              "On" if p["power_state"] == "running" else "Off", p["on_vm_vanished"],
                              p["wait_for_ip_address"])
        machines = load_machines(m.kube, selection)
        vms = observe(m.provider, machines, p["parallelism"], m.deadline())
        steps = plan_machines(m.kube, m.provider, machines, vms, selection)
        the_plan = predicted(steps, machines, selection)
        if m.check_mode:
            served = [dict(entry, outcome="planned") for entry in the_plan["machines"]]
            return {"changed": bool(the_plan["plan"]), "plan": the_plan["plan"], "machines": served}
        rate = p["rate_limit"]
        options = RunOptions(p["parallelism"], rate["qps"], rate["burst"], p["shutdown_timeout"])
        served = apply_steps(m.kube, m.provider, steps, machines, vms, selection, options, m.deadline())
    return {"changed": bool(the_plan["plan"]), "plan": the_plan["plan"], "machines": served}


# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        "machine_provider": {"type": "str"},
        "machine_namespace": {"type": "str"},
        "label_selector": {"type": "str"},
        "default_network": {"type": "str"},
        "power_state": {"type": "str", "default": "running", "choices": ["running", "stopped"]},
        "on_vm_vanished": {"type": "str", "default": "recreate", "choices": ["recreate", "fail"]},
        "wait_for_ip_address": {"type": "bool", "default": True},
        "parallelism": {"type": "int", "default": 4},
        **set_run_spec(),
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
