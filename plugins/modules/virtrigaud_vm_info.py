#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_vm_info
short_description: Read virtual machines from any VirtRigaud provider
version_added: 0.1.0
description:
  - Returns one VM by name or id, or every VM of the provider (fetched in one bulk query).
  - Never changes anything.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.kubernetes
  - virtrigaud.core.kubernetes.unused
  - virtrigaud.core.attributes
  - virtrigaud.core.attributes.info_module
options:
  name:
    description: Return only the VM with this name.
    type: str
  id:
    description: Return only the VM with this provider id.
    type: str
    aliases: [vm_id]
  snapshots:
    description: Also return each VM's snapshots (one extra query per VM).
    type: bool
    default: false
seealso:
  - module: virtrigaud.core.virtrigaud_vm
"""

EXAMPLES = r"""
- name: All VMs of the local libvirt
  virtrigaud.core.virtrigaud_vm_info:
  register: all_vms

- name: One VM with its snapshots
  virtrigaud.core.virtrigaud_vm_info:
    name: web-1
    snapshots: true
  register: web1

- name: Show its addresses
  ansible.builtin.debug:
    msg: "{{ web1.vms[0].ip_addresses }}"
"""

RETURN = r"""
vms:
  description: The VMs found; an empty list when the named VM does not exist.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Provider id (a domain UUID for libvirt).
      type: str
    name:
      description: VM name.
      type: str
    power_state:
      description: V(On) or V(Off).
      type: str
    cpu:
      description: Virtual CPUs.
      type: int
    memory_mib:
      description: Memory in MiB.
      type: int
    firmware:
      description: V(bios) or V(uefi).
      type: str
    secure_boot:
      description: Whether the VM boots with UEFI secure boot; null where the backend does not report it.
      type: bool
    disks:
      description: Disks, the root disk named V(root).
      type: list
      elements: dict
    nics:
      description:
        - NICs with their name, MAC, network or bridge, model and IP addresses.
        - C(static_ip) is the static address the provider keeps for the guest (V(192.0.2.10/24)), V("") when it
          keeps none, null when the provider does not record it; C(gateway) and C(dns) go with it.
      type: list
      elements: dict
    ip_addresses:
      description: Every IP address of every NIC (none when stopped).
      type: list
      elements: str
    tags:
      description: Tags.
      type: list
      elements: str
    console_url:
      description:
        - Where the VM's console opens, with no secret in it; null when there is none to reach now.
        - libvirt, V(vnc://HOST:PORT) or V(spice://HOST:PORT) of a running VM's display; vSphere, the VM's page
          in the vSphere Client; Proxmox VE, the web UI's noVNC page; KubeVirt, the C(vnc) subresource of a running
          VM's instance.
        - The password or ticket a client needs comes only from M(virtrigaud.core.virtrigaud_vm), with its
          O(virtrigaud.core.virtrigaud_vm#module:console) option.
      type: str
    placement:
      description: Where the VM is, as far as the provider reports it (C(datastore), C(host), ...).
      type: dict
    snapshots:
      description: Snapshots, oldest first, when O(snapshots=true).
      type: list
      elements: dict
  sample:
    - id: 5f0c0b1e-3c52-4c0e-9d1c-0f7f6f2a9a11
      name: web-1
      power_state: "On"
      cpu: 2
      memory_mib: 2048
      ip_addresses: [192.168.122.14]
"""

from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec, vm_ref_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = m.params
    if p["name"] or p["id"]:
        found = m.locate(p["name"], p["id"])
        vms = [found] if found else []
    else:
        vms = m.provider.list_vms()
    results = []
    for vm in sorted(vms, key=lambda v: v.name):
        data = vm.to_dict()
        if p["snapshots"]:
            data["snapshots"] = [s.to_dict() for s in m.provider.snapshot_list(vm.id)]
        results.append(data)
    return {"changed": False, "vms": results}


# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {"mutually_exclusive": [["name", "id"]]}


def argument_spec() -> dict[str, Any]:
    return {**group_spec(), **vm_ref_spec(), "snapshots": {"type": "bool", "default": False}}


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
