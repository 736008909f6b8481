# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The template of a VM set; paired with argspec.vm_spec().
    DOCUMENTATION = r"""
options:
  template:
    description:
      - The members' VM spec, in the same shape M(virtrigaud.core.virtrigaud_vm) takes (O(template.cpu),
        O(template.memory), O(template.image), O(template.disks), O(template.networks), O(template.cloud_init),
        O(template.tags), and so on), without a name.
    type: dict
    suboptions:
      cpu: {description: Virtual CPUs., type: int}
      memory: {description: "Memory, a quantity such as V(512Mi) or a number of MiB.", type: raw}
      firmware: {description: Boot firmware., type: str, choices: [bios, uefi]}
      secure_boot:
        description: UEFI secure boot, only with O(template.firmware=uefi); see M(virtrigaud.core.virtrigaud_vm).
        type: bool
      disk_defaults:
        description: The root disk.
        type: dict
        suboptions:
          size: {description: Root disk size., type: raw}
          type: {description: Disk type., type: str, choices: [thin, thick, eagerzeroedthick, ssd, hdd, nvme]}
      image: {description: The image or template members are made from., type: str}
      disks:
        description: Data disks.
        type: list
        elements: dict
        suboptions:
          name: {description: Disk name., type: str, required: true}
          size: {description: Size., type: raw, required: true}
          type: {description: Disk type., type: str, choices: [thin, thick, eagerzeroedthick, ssd, hdd, nvme]}
      networks:
        description: NICs.
        type: list
        elements: dict
        suboptions:
          name: {description: NIC name., type: str, required: true}
          network: {description: Network to attach to., type: str}
          bridge: {description: Bridge to attach to., type: str}
          model: {description: NIC model., type: str, choices: [virtio, e1000, e1000e, rtl8139, vmxnet3]}
          mac_address: {description: A fixed MAC (only sensible with one replica)., type: str}
          ip_address: {description: A static address (only sensible with one replica)., type: str}
          prefix: {description: Prefix length., type: int}
          gateway: {description: Gateway., type: str}
          dns: {description: DNS servers., type: list, elements: str}
      placement:
        description: Placement.
        type: dict
        suboptions:
          datastore: {description: Datastore or storage pool., type: str}
          cluster: {description: Cluster., type: str}
          host: {description: Host or node., type: str}
          folder: {description: Folder., type: str}
          resource_pool: {description: Resource pool., type: str}
      cloud_init:
        description: Cloud-init data, the same for every member.
        type: dict
        suboptions:
          user_data: {description: User data., type: str}
          meta_data: {description: Meta data., type: str}
          network_config: {description: Network config., type: str}
      tags: {description: "Tags of every member, besides the set's own.", type: list, elements: str}
"""
