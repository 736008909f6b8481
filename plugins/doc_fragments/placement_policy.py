# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Paired with argspec.placement_policy_spec().
    DOCUMENTATION = r"""
options:
  placement_policy:
    description:
      - Where new VMs go, as upstream's C(VMPlacementPolicy) describes it. A host is chosen for each VM the task
        creates, among the backend's hosts (vSphere), online nodes (Proxmox VE) or its one connection (libvirt,
        where a policy can only confirm or refuse it), counting the VMs already on each.
      - Hard rules (the host and cluster lists, the per-host and per-cluster limits, required (anti-)affinity
        terms, spreads) rule hosts out; among the rest, soft terms weigh first, then the preferred lists, then
        the fewest VMs of the group (the set's members, or for M(virtrigaud.core.virtrigaud_vm) the VMs carrying
        all of its tags), then the host name.
      - When no host is left for a VM, the task fails before anything is made, naming the rule that ruled each
        host out.
      - Existing VMs are not moved. Those standing where the policy would not put them now are listed in
        RV(placement.unmoved).
      - A VM's labels are its tags C(<key>.<value>), as M(virtrigaud.core.virtrigaud_vmset) writes them.
      - Mutually exclusive with O(placement_policy_ref), and with a fixed host (C(placement.host)) for the VM.
    type: dict
    suboptions:
      hosts:
        description: The only hosts (Proxmox VE nodes, libvirt URIs) VMs may go to. Each must exist.
        type: list
        elements: str
      excluded_hosts:
        description: Hosts VMs must not go to.
        type: list
        elements: str
      clusters:
        description: The only vSphere clusters VMs may go to. Each must exist.
        type: list
        elements: str
      excluded_clusters:
        description: vSphere clusters VMs must not go to.
        type: list
        elements: str
      preferred_hosts:
        description: Hosts to choose when the rules leave a choice.
        type: list
        elements: str
      preferred_clusters:
        description: vSphere clusters to choose when the rules leave a choice.
        type: list
        elements: str
      max_vms_per_host:
        description: At most this many VMs of the group on one host (upstream's strict host anti-affinity).
        type: int
      max_vms_per_cluster:
        description: At most this many VMs of the group in one vSphere cluster.
        type: int
      affinity:
        description: Terms that draw a VM towards VMs with the given labels.
        type: list
        elements: dict
        suboptions:
          labels:
            description: The labels the other VMs carry, each a tag C(<key>.<value>).
            type: dict
            required: true
          topology_key:
            description:
              - What "together" means, V(host) (also V(node) or V(kubernetes.io/hostname)) or V(cluster).
            type: str
            default: host
          required:
            description:
              - Whether the term is a hard rule. A required affinity term lets the first VM of its labels go
                anywhere.
            type: bool
            default: false
          weight:
            description: How much a soft term weighs against the other soft terms.
            type: int
            default: 1
      anti_affinity:
        description: Terms that push a VM away from VMs with the given labels.
        type: list
        elements: dict
        suboptions:
          labels:
            description: The labels the other VMs carry, each a tag C(<key>.<value>).
            type: dict
            required: true
          topology_key:
            description:
              - What "together" means, V(host) (also V(node) or V(kubernetes.io/hostname)) or V(cluster).
            type: str
            default: host
          required:
            description:
              - Whether the term is a hard rule. A required affinity term lets the first VM of its labels go
                anywhere.
            type: bool
            default: false
          weight:
            description: How much a soft term weighs against the other soft terms.
            type: int
            default: 1
      spread:
        description:
          - Spread constraints, as Kubernetes' topology spread constraints have them; not part of upstream's CRD.
          - A VM may go to a domain only if it then holds at most O(placement_policy.spread[].max_skew) more
            matching VMs than the emptiest domain the host and cluster lists allow.
        type: list
        elements: dict
        suboptions:
          max_skew:
            description: The largest difference allowed.
            type: int
            default: 1
          topology_key:
            description: V(host) (also V(node) or V(kubernetes.io/hostname)) or V(cluster).
            type: str
            default: host
          labels:
            description: The labels of the VMs counted; by default those of the group.
            type: dict
  placement_policy_ref:
    description:
      - A C(VMPlacementPolicy) resource to read instead of O(placement_policy), through the Kubernetes
        connection options.
      - Read are C(spec.hard) hosts, excludedHosts, clusters and excludedClusters, C(spec.soft) hosts and
        clusters, host and cluster C(affinity) and C(antiAffinity) (strict, with the per-host or per-cluster
        limit, or preferred), and C(vmAffinity)/C(vmAntiAffinity) terms with C(labelSelector.matchLabels).
        C(priority) and C(weight) rank policies against each other and change nothing for one policy.
      - Any other field it sets (datastores, zones, tolerations, resource and security constraints ...) is
        refused by name rather than ignored.
    type: dict
    suboptions:
      name:
        description: The policy's name.
        type: str
        required: true
      namespace:
        description: Its namespace; by default O(namespace) when the module has it, else V(default).
        type: str
"""
