#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_vm
short_description: Create, update, power and remove a virtual machine on any VirtRigaud provider
version_added: 0.1.0
description:
  - Applies one declarative VM spec to a hypervisor, idempotently.
  - Decides what to change without touching anything (so check mode predicts exactly what a real run does),
    then carries the changes out in order.
  - Changes that need the VM stopped are refused while it runs, unless O(allow_power_cycling=true).
  - With O(provider_ref), the module manages a VirtRigaud C(VirtualMachine) resource in Kubernetes instead of
    calling a hypervisor, with the same spec vocabulary; VirtRigaud's manager then does the hypervisor work.
    Inline values become a C(VMClass), a C(VMImage), one C(VMNetworkAttachment) per network given by name or
    bridge, and a Secret for the cloud-init user data, all named after the VM and removed with it.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.kubernetes
  - virtrigaud.core.wait
  - virtrigaud.core.placement_policy
  - virtrigaud.core.attributes
attributes:
  check_mode:
    support: full
    details: With O(provider_ref), the API server computes each write as a dry run.
  diff_mode:
    support: full
    details: The diff shows the normalised spec (or the VirtualMachine resource) before and after; cloud-init data
      appears only as a digest (or a Secret reference).
  idempotent:
    support: partial
    details: O(state=restarted) always restarts a running VM.
    description: When run twice with the same options, the second run reports no change.
options:
  name:
    description:
      - The VM name. Required to create or clone a VM.
      - 1-80 letters, digits, V(.), V(_) or V(-), starting and ending with a letter or digit.
    type: str
  id:
    description:
      - The provider's id of an existing VM (a domain UUID for libvirt). Takes precedence over O(name) for lookups.
    type: str
    aliases: [vm_id]
  state:
    description:
      - V(present) makes sure the VM exists with this spec; a new VM is powered on, an existing one keeps its power
        state.
      - V(started) and V(stopped) also set the power state; V(restarted) reboots a running VM or starts a stopped one.
      - V(absent) removes the VM, stopping it hard first if it runs.
    type: str
    choices: [present, absent, started, stopped, restarted]
    default: present
  cpu:
    description: Number of virtual CPUs, 1-128.
    type: int
  memory:
    description:
      - Memory as a quantity such as V(512Mi) or V(4Gi), or an integer number of MiB.
      - Decimal units (V(4G)) are accepted only when they make a whole number of MiB; V(4GB) is not a quantity.
    type: raw
  firmware:
    description: Boot firmware; only used when the VM is created.
    type: str
    choices: [bios, uefi]
  secure_boot:
    description:
      - Boot with UEFI secure boot (keys enrolled). Only with O(firmware=uefi); set when the VM is created.
      - A backend that cannot do it refuses the option before anything changes; an existing VM whose secure boot
        differs is refused, not changed. Left out, the backend's default is kept and never compared.
      - KubeVirt turns on the SMM feature with it; libvirt picks an OVMF secure-boot build on a q35 machine and
        refuses it where the host has none; Proxmox VE adds an EFI vars disk with pre-enrolled keys (a VM made
        from a template must keep its template's setting); vSphere sets C(efiSecureBootEnabled).
      - A remote runtime carries it in the class's C(SecurityProfile); only this collection's runtime says it
        supports it, so an upstream runtime refuses it.
    type: bool
  disk_defaults:
    description: The root disk.
    type: dict
    suboptions:
      size:
        description:
          - Root disk size as a quantity such as V(20Gi), or an integer number of GiB. Disks grow, never shrink.
          - When not set, a new VM's root disk is the size of its O(image), or 10 GiB without one.
        type: raw
      type:
        description: Provisioning type of new disks.
        type: str
        choices: [thin, thick, eagerzeroedthick, ssd, hdd, nvme]
  image:
    description:
      - What the root disk starts from; only used when the VM is created.
      - For libvirt, a volume name in the storage pool or the absolute path of a volume. The root disk is a
        thin qcow2 overlay on it.
      - For KubeVirt, a containerDisk image (V(registry/name:tag) or V(docker://...)), or a PVC to clone
        (V(NAME) or V(NAMESPACE/NAME)).
    type: str
  disks:
    description: Additional data disks. Disks missing on the VM are added; existing ones grow to the given size.
    type: list
    elements: dict
    suboptions:
      name:
        description: A DNS label that names the disk, unique within the VM. V(root) is reserved.
        type: str
        required: true
      size:
        description: Size as a quantity such as V(10Gi), or an integer number of GiB.
        type: raw
        required: true
      type:
        description: Provisioning type.
        type: str
        choices: [thin, thick, eagerzeroedthick, ssd, hdd, nvme]
  networks:
    description:
      - NICs in order. On an existing VM they are matched to its NICs by O(networks[].name), which every provider
        keeps. A NIC the VM lacks is added, one whose network or bridge, MAC address or static address differs
        is changed in place, and a NIC the VM has that the list leaves out is removed. Left out, the VM's NICs are
        left alone; an empty list removes them all.
      - A value left out of an entry is left as it is. Changes happen on a running VM where the provider can make
        them live (libvirt, Proxmox VE, vSphere except MAC addresses), otherwise under O(allow_power_cycling).
      - Through a provider runtime, NICs change in place only when the runtime says its backend can (the
        collection's runtime does; upstream's runtimes are refused).
    type: list
    elements: dict
    suboptions:
      name:
        description: A DNS label that names the attachment, unique within the VM.
        type: str
        required: true
      network:
        description:
          - The network to attach to (a libvirt network name).
          - For KubeVirt, V(pod) for the pod network (masquerade), else a Multus NetworkAttachmentDefinition
            (bridge binding).
        type: str
      bridge:
        description: A host bridge to attach to, instead of O(networks[].network).
        type: str
      model:
        description: NIC model; the provider's default (virtio for libvirt) when not set.
        type: str
        choices: [virtio, e1000, e1000e, rtl8139, vmxnet3]
      mac_address:
        description: A fixed MAC address such as V(52:54:00:12:34:56).
        type: str
      ip_address:
        description:
          - A static IPv4 address handed to cloud-init.
          - On an existing VM, a change is made where the provider keeps the address (Proxmox VE's C(ipconfigN),
            at the next boot, so under O(allow_power_cycling) on a running VM) and refused where the provider
            records it but cannot change it (libvirt, whose cloud-init seed is written once); where the provider
            keeps no record (vSphere, upstream runtimes) it cannot be compared and is left alone.
        type: str
      prefix:
        description: Prefix length of O(networks[].ip_address), 1-32.
        type: int
      gateway:
        description: IPv4 gateway handed to cloud-init.
        type: str
      dns:
        description: DNS servers handed to cloud-init. Compared on an existing VM only when given.
        type: list
        elements: str
  placement:
    description:
      - Where the VM goes. For libvirt only O(placement.datastore) (a storage pool) is used.
      - Where the provider reports where an existing VM is (the storage pool of the root disk for libvirt, the host
        and datastore for vSphere, the node and the root disk's storage for Proxmox VE), a different value moves
        the VM there with O(allow_migration=true), where the backend can (vSphere O(placement.host) and
        O(placement.datastore), Proxmox VE O(placement.host), libvirt O(placement.datastore) of a stopped VM and
        O(placement.host), another libvirtd's URI), running VMs live, as
        M(virtrigaud.core.virtrigaud_vm_migration) does. Otherwise it is refused, naming the option.
    type: dict
    suboptions:
      datastore:
        description: Datastore or storage pool for the VM's disks.
        type: str
      cluster:
        description: Cluster.
        type: str
      host:
        description:
          - Host (vSphere), node (Proxmox VE), or libvirtd URI (libvirt).
          - libvirt - a VM that the task's connection does not have is looked for at this URI too, where an earlier
            move took it, and the run then serves it from there.
        type: str
      folder:
        description: Folder.
        type: str
      resource_pool:
        description: Resource pool.
        type: str
  cloud_init:
    description: NoCloud data for the guest, used when the VM is created.
    type: dict
    suboptions:
      user_data:
        description: User data (cloud-config or a script). Treated as a secret.
        type: str
      meta_data:
        description: Meta data; V(instance-id) and V(local-hostname) are filled in when missing.
        type: str
      network_config:
        description: Network configuration (version 1 or 2).
        type: str
  tags:
    description: Tags to set on the VM, replacing the existing ones. Left alone when not set.
    type: list
    elements: str
  console:
    description:
      - The VM's remote console, and a request to return how to open it now (RV(console)).
      - Left out, the VM's console is left as it is and RV(console) is not returned.
      - On libvirt the module manages a graphics device; the other backends have their console built in, and
        O(console.type) must name it.
    type: dict
    suboptions:
      type:
        description:
          - V(vnc) or V(spice) (libvirt) adds that display, on a port libvirt picks, behind a password the module
            generates; V(none) removes it. Adding, changing or removing a display needs the VM stopped, so a
            running VM is refused unless O(allow_power_cycling=true). A new VM gets it at once.
          - V(vnc) on Proxmox VE (a C(vncproxy) ticket) and KubeVirt (the C(vnc) subresource); V(webmks) on
            vSphere (a WebMKS ticket).
          - Any other type is refused by name before anything changes, as is a console on a remote runtime or
            with O(provider_ref).
        type: str
        choices: [vnc, spice, webmks, none]
        required: true
      listen:
        description:
          - The IP address a libvirt display listens on, V(127.0.0.1) when left out (reachable from the libvirt
            host only, for example through an SSH tunnel). V(0.0.0.0) listens on every address.
          - Refused on the other backends, where the backend decides.
        type: str
      rotate_password:
        description:
          - Give the libvirt display a new password. The password is generated once and kept otherwise, so a
            repeated run changes nothing; with V(true) every run changes it (live, on a running VM).
        type: bool
        default: false
  clone_from:
    description: Create the VM as a clone of this VM (by name) instead of from scratch. The source must be stopped for
      libvirt.
    type: str
  linked_clone:
    description:
      - With O(clone_from), make a linked clone (a thin overlay on the source's disks) instead of a full copy.
      - Refused without O(clone_from).
    type: bool
    default: false
  allow_power_cycling:
    description:
      - Allow stopping and starting a running VM when a change cannot be made while it runs.
      - The result's RV(power_cycled_for_update) tells when that happened.
    type: bool
    default: false
  allow_migration:
    description:
      - Allow moving an existing VM to the host or datastore O(placement) names (see there), first, before any
        other change. The move is the action C(migrate); the result's RV(migration) shows its phases.
      - Without it such a placement change is refused, naming the option.
      - Refused with O(provider_ref) (moving a VM is a VMMigration resource there).
    type: bool
    default: false
  shutdown_mode:
    description:
      - How to stop a running VM. V(graceful) asks the guest and fails after O(shutdown_timeout) seconds;
        V(graceful_then_hard) then powers it off; V(hard) powers it off at once.
    type: str
    choices: [graceful, hard, graceful_then_hard]
    default: graceful
  shutdown_timeout:
    description: Seconds to wait for a graceful shutdown.
    type: int
    default: 120
  delete_disks:
    description: With O(state=absent), also delete the VM's disks.
    type: bool
    default: true
  wait_for_ip_address:
    description: When the VM ends up running, wait until it reports an IP address (within O(wait_timeout)).
    type: bool
    default: false
  definition:
    description:
      - The VM as upstream VirtRigaud manifests give it, the documents C(kubectl apply) would take, instead of
        the spec options - a C(VirtualMachine) (C(infra.virtrigaud.io/v1beta1)) with the C(VMClass), C(VMImage),
        C(VMNetworkAttachment) and C(VMPlacementPolicy) documents it refers to, as a list of documents or as YAML
        text of one or more documents. A document it does not refer to is refused.
      - Or a C(VMClone) alone. On a backend it clones C(spec.source.vmRef) to C(spec.target.name) as
        O(clone_from) does (O(linked_clone) for C(spec.options.type=LinkedClone)), started when
        C(spec.options.powerOn); the clone's other sources, C(target) class, networks and disks, and
        C(customization) are refused by their paths. As resources only O(state=present) is accepted.
      - Every document is checked against its CRD's schema before anything is done, so that what the API
        server would refuse is refused here, naming the document and the field. An unquoted V(On) or V(Off)
        (which YAML 1.1 reads as a boolean) is refused with the quoting that keeps it a string.
      - Refused together with any of O(name), O(id), O(cpu), O(memory), O(firmware), O(secure_boot),
        O(disk_defaults), O(image), O(disks), O(networks), O(placement), O(cloud_init), O(tags),
        O(provider_ref), O(namespace), O(class_ref), O(image_ref) and O(clone_from), which it replaces.
      - O(state) is then V(present) or V(absent); C(spec.powerState) says whether the VM runs (V(On) as
        O(state=started), V(Off) as O(state=stopped) with O(shutdown_mode=hard), V(OffGraceful) with
        O(shutdown_mode=graceful)); a VM without one is created running and keeps its power state.
      - On a backend, a field the module does not carry out is refused by name unless it holds its schema
        default - for instance C(lifecycle), C(snapshot), C(importedDisk), a C(secretRef) for
        cloud-init, a C(VMClass)'s C(performanceProfile), or a C(VMImage) other than a libvirt C(path) or a
        vSphere or Proxmox VE template. C(providerRef) names the Provider for Kubernetes; on a backend, the
        connection options say which backend it is, unless the definition holds that C(Provider) too.
      - A C(Provider) among the documents (on a backend only) names the backend instead - its C(type),
        C(endpoint), C(insecureSkipVerify) and C(defaults), with the credentials from the Secret that
        C(credentialSecretRef) names, read with the Kubernetes connection options as O(provider_ref) reads
        resources. The task's connection options of that backend are then refused by name, and nothing is read
        from the environment.
      - On a backend, the C(VMPlacementPolicy) that C(spec.placementRef) names chooses the host as
        O(placement_policy_ref) does; a field placement here does not honour (C(spec.hard.datastores),
        C(resourceConstraints) ...) is refused by name. C(priority) and C(weight) rank policies against each
        other and change nothing for the one policy a VM names.
      - See the guide C(docs/guides/manifests.md).
    type: raw
    version_added: 0.2.0
  apply_to:
    description:
      - Where O(definition) goes. Only with O(definition).
      - V(backend) (the default) converges the VM directly on the backend the connection options name, as the
        spec options do, with no VirtRigaud operator anywhere.
      - V(kubernetes) applies the documents as written (server-side apply, field manager C(virtrigaud.core)) in
        C(metadata.namespace) or V(default), the referred-to documents first; O(state=absent) deletes them all,
        the VirtualMachine first. The Kubernetes connection options are used; the C(Provider) that
        C(providerRef) names must exist. O(wait) waits for the C(Ready) condition.
    type: str
    choices: [backend, kubernetes]
    version_added: 0.2.0
  provider_ref:
    description:
      - Manage a VirtRigaud C(VirtualMachine) resource for this Provider resource instead of a VM on a hypervisor.
      - The hypervisor connection options are then not used; the Kubernetes ones are.
      - O(wait) waits for the resource's C(Ready) condition, which VirtRigaud's manager sets, and with
        O(wait_for_ip_address) also for an address in its status.
      - O(state=stopped) writes C(powerState=OffGraceful) when O(shutdown_mode=graceful), C(Off) when V(hard).
      - What the manager cannot carry out is refused, naming the option, before anything is written;
        that is O(state=restarted), O(id), O(clone_from), O(linked_clone), O(allow_power_cycling=true),
        O(delete_disks=false), O(shutdown_mode=graceful_then_hard), a O(shutdown_timeout) other than 120
        (the manager always allows 60 seconds), O(placement.host) and O(placement.resource_pool) (the manager
        drops them), O(networks[].mac_address) (not passed on) and O(cloud_init.network_config).
    type: dict
    suboptions:
      name:
        description: Name of the Provider.
        type: str
        required: true
      namespace:
        description: Namespace of the Provider; O(namespace) by default.
        type: str
  namespace:
    description:
      - With O(provider_ref), the namespace of the VirtualMachine resource and its inline objects; V(default)
        when not set.
      - With O(provider_type=kubevirt), the namespace of the KubeVirt VM (see the connection options).
    type: str
  class_ref:
    description: With O(provider_ref), an existing C(VMClass) to use instead of an inline one from O(cpu) and O(memory).
    type: str
  image_ref:
    description: With O(provider_ref), an existing C(VMImage) to use instead of an inline one from O(image).
    type: str
  image_on_missing:
    description:
      - What to do when the VM is created and the backend has no image named O(image).
      - V(fail) refuses, naming O(image).
      - V(prepare) prepares it first from O(image_source), as M(virtrigaud.core.virtrigaud_image) does (check mode
        reports an C(image_prepare) change). An import found still running (KubeVirt) is waited for first, as no
        change of this task (check mode warns that the image is not usable yet); one found failed fails the task,
        naming O(image). Refused with O(provider_ref) (there, a C(VMImage)'s
        C(prepare.onMissing) decides).
    type: str
    choices: [fail, prepare]
    default: fail
  image_source:
    description: Where O(image_on_missing=prepare) takes the image from; see M(virtrigaud.core.virtrigaud_image).
    type: dict
    suboptions:
      url: {description: An C(http://) or C(https://) URL; with KubeVirt also a registry image as C(docker://...).,
            type: str}
      path: {description: A file on the machine the module runs on., type: path}
      checksum: {description: V(ALGORITHM:HEX)., type: str}
      format: {description: The format to store it in., type: str, choices: [qcow2, raw, vmdk]}
      storage:
        description: The storage pool to put it in; with KubeVirt, the StorageClass of its PVC.
        type: str
      size:
        description: With KubeVirt, the size of the PVC CDI imports the image into (required there); refused elsewhere.
        type: str
        version_added: 0.2.0
seealso:
  - module: virtrigaud.core.virtrigaud_vm_info
  - module: virtrigaud.core.virtrigaud_vm_snapshot
  - module: virtrigaud.core.virtrigaud_provider
"""

EXAMPLES = r"""
- name: A small VM on the local libvirt, from a base image, with cloud-init
  virtrigaud.core.virtrigaud_vm:
    name: web-1
    cpu: 2
    memory: 2Gi
    image: debian-12-base.qcow2
    disk_defaults:
      size: 20Gi
    disks:
      - name: data
        size: 50Gi
    networks:
      - name: lan
        network: default
    cloud_init:
      user_data: |
        #cloud-config
        packages: [nginx]
    tags: [web, prod]
    wait_for_ip_address: true

- name: The same VM on vCenter, from a template, with credentials from VMWARE_* variables
  virtrigaud.core.virtrigaud_vm:
    provider_type: vsphere
    name: web-1
    cpu: 2
    memory: 2Gi
    image: debian-12-template
    placement:
      cluster: prod-cluster
      datastore: ssd-01
      folder: web
    networks:
      - name: lan
        network: VM Network
    state: started

- name: Grow memory, stopping and starting the VM if it must
  virtrigaud.core.virtrigaud_vm:
    name: web-1
    memory: 4Gi
    allow_power_cycling: true

- name: A linked clone of a stopped VM
  virtrigaud.core.virtrigaud_vm:
    name: web-2
    clone_from: web-1
    linked_clone: true
    state: started

- name: Stop gracefully, powering off if the guest does not answer within a minute
  virtrigaud.core.virtrigaud_vm:
    name: web-2
    state: stopped
    shutdown_mode: graceful_then_hard
    shutdown_timeout: 60

- name: The same spec as a VirtualMachine resource, for VirtRigaud's manager to converge
  virtrigaud.core.virtrigaud_vm:
    provider_ref:
      name: libvirt-local
      namespace: virtrigaud
    namespace: apps
    name: web-3
    cpu: 2
    memory: 2Gi
    image: /var/lib/libvirt/images/debian-12.qcow2
    networks:
      - name: lan
        network: default
    state: started
    wait_timeout: 600

- name: A database VM on a vSphere host of cluster prod that runs no other database, preferably esx3
  virtrigaud.core.virtrigaud_vm:
    name: db-4
    cpu: 4
    memory: 8Gi
    image: debian-12-template
    tags: [app.db]
    placement_policy:
      clusters: [prod]
      preferred_hosts: [esx3.example.com]
      anti_affinity:
        - {labels: {app: db}, topology_key: host, required: true}

- name: A VM from the manifests you would give kubectl, converged directly on the local libvirt
  virtrigaud.core.virtrigaud_vm:
    definition: "{{ lookup('ansible.builtin.file', 'web-4.yaml') }}"

- name: The same documents, inline, as resources for VirtRigaud's manager
  virtrigaud.core.virtrigaud_vm:
    apply_to: kubernetes
    definition:
      - apiVersion: infra.virtrigaud.io/v1beta1
        kind: VirtualMachine
        metadata: {name: web-4, namespace: apps}
        spec:
          providerRef: {name: libvirt-local, namespace: virtrigaud}
          classRef: {name: small}
          imageRef: {name: debian-12}
          networks: [{name: lan, networkRef: {name: lan}}]
          powerState: "On"  # quoted: YAML 1.1 reads a bare On as true
      - apiVersion: infra.virtrigaud.io/v1beta1
        kind: VMClass
        metadata: {name: small, namespace: apps}
        spec: {cpu: 2, memory: 2Gi}
      - apiVersion: infra.virtrigaud.io/v1beta1
        kind: VMImage
        metadata: {name: debian-12, namespace: apps}
        spec: {source: {libvirt: {path: /var/lib/libvirt/images/debian-12.qcow2}}}
      - apiVersion: infra.virtrigaud.io/v1beta1
        kind: VMNetworkAttachment
        metadata: {name: lan, namespace: apps}
        spec: {network: {libvirt: {networkName: default}}}

- name: Remove a VM and its disks on a remote libvirt host
  virtrigaud.core.virtrigaud_vm:
    uri: qemu+ssh://root@kvm1.example.com/system
    name: web-2
    state: absent
"""

RETURN = r"""
placement:
  description:
    - With a placement policy, the host chosen for a VM this run makes (predicted, in check mode), or, for an
      existing VM, whether it stands where the policy would not put it now (it is not moved; a warning says so).
  returned: when O(placement_policy) or O(placement_policy_ref) is set and O(state) is not V(absent)
  type: dict
  contains:
    policy:
      description: The policy, V(placement_policy) or C(VMPlacementPolicy '<name>').
      type: str
      returned: always
    hosts:
      description: The host chosen for the VM made, by name; empty for an existing VM.
      type: dict
      returned: always
    unmoved:
      description: The VM, with its C(host) and the C(rule) it breaks, when it stands where the policy would not put it.
      type: list
      elements: dict
      returned: always
  sample: {policy: placement_policy, hosts: {db-4: esx3.example.com}, unmoved: []}
image_progress:
  description: Progress lines of a long download made for O(image_on_missing=prepare), at most one each 10 seconds,
    or of an import found in flight that the run waited for.
  returned: when an image was prepared or waited for, and its transfer took long
  type: list
  elements: str
vm:
  description: The VM as observed after the run (before it, in check mode); null when absent.
  returned: always
  type: dict
  sample:
    id: 5f0c0b1e-3c52-4c0e-9d1c-0f7f6f2a9a11
    name: web-1
    power_state: "On"
    cpu: 2
    memory_mib: 2048
    firmware: bios
    disks: [{name: root, size_gib: 20, format: qcow2, path: /var/lib/libvirt/images/web-1-root.qcow2, device: vda}]
    nics: [{name: lan, mac_address: "52:54:00:6b:3c:58", network: default, bridge: null, model: virtio,
            ip_addresses: [192.168.122.14], static_ip: "", gateway: null, dns: []}]
    ip_addresses: [192.168.122.14]
    tags: [prod, web]
    console_url: vnc://127.0.0.1:5900
    placement: {datastore: default}
changes:
  description: The actions taken (predicted, in check mode), in order. The same shape in check mode and real runs.
  returned: always
  type: list
  elements: dict
  sample: [{action: set_memory, target: web-1, old: 2048, new: 4096},
           {action: set_network, target: lan, old: default, new: backend}]
console:
  description:
    - How to open the VM's console now, when O(console) is set and the VM exists and runs (on libvirt; a stopped
      libvirt VM has no display port yet). Not returned in check mode.
    - "B(Holds a secret) (the display's password, or a one-time ticket and a URL that embeds it): run the task with
      C(no_log: true), or never print the registered result. The module writes it nowhere else."
  returned: when O(console) is set, the VM exists and its console can be reached
  type: dict
  contains:
    type: {description: "V(vnc), V(spice) or V(webmks).", type: str, returned: always}
    url: {description: "Where a client connects, without the secret.", type: str, returned: always}
    host: {description: The host a client connects to., type: str, returned: always}
    port: {description: The port a client connects to., type: int, returned: always}
    password: {description: "Secret: the display's password (libvirt) or the one-time ticket (vSphere, Proxmox VE).",
               type: str, returned: when the backend has one}
    websocket_url: {description: "Secret: a WebSocket URL with the ticket in it (vSphere, Proxmox VE).", type: str,
                    returned: when the backend has one}
    expires_in: {description: "Seconds the ticket stays valid, as far as the backend says.", type: int,
                 returned: when the backend says}
  sample: {type: vnc, url: "vnc://127.0.0.1:5900", host: 127.0.0.1, port: 5900, password: "********",
           websocket_url: null, expires_in: null}
power_cycled_for_update:
  description: Whether the VM was stopped and started to apply a change.
  returned: always
  type: bool
  sample: false
migration:
  description:
    - When the plan moves the VM (O(allow_migration)), the phases of the move as
      M(virtrigaud.core.virtrigaud_vm_migration) returns them (V(Validating) only, in check mode).
  returned: when the VM is moved
  type: dict
  sample: {phase: Ready, progress: {currentPhase: Ready, percentage: 100}, phases: []}
objects:
  description:
    - With O(provider_ref), each object written or removed, in order, with whether it changed.
    - Every Kubernetes module of the collection returns its objects in this shape.
  returned: when O(provider_ref) is set
  type: list
  elements: dict
  contains:
    kind: {description: The object's kind., type: str, returned: always}
    name: {description: Its name., type: str, returned: always}
    namespace: {description: Its namespace., type: str, returned: always}
    changed: {description: "Whether the run changed it (would change it, in check mode).", type: bool, returned: always}
  sample: [{kind: VMClass, name: web-3, namespace: apps, changed: false},
           {kind: VirtualMachine, name: web-3, namespace: apps, changed: true}]
resources:
  description:
    - With O(provider_ref), each object written or removed, with whether it changed.
    - Deprecated, and removed in release 0.3.0; use RV(objects).
  returned: when O(provider_ref) is set
  type: list
  elements: dict
  sample: [{kind: VMClass, name: web-3, changed: false}, {kind: VirtualMachine, name: web-3, changed: true}]
resource:
  description: With O(provider_ref), the VirtualMachine resource as stored (as it would be, in check mode).
  returned: when O(provider_ref) is set
  type: dict
"""

from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import (
    group_spec,
    lifecycle_spec,
    placement_policy_spec,
    vm_ref_spec,
    vm_spec,
    wait_spec,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.images import IMAGE_FORMATS
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import clone_document, provider_connection
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.applied import apply_documents
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.vm_document import direct_params, read_vm
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.vm_resource import run_documents, run_resource
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import CONSOLE_TYPES
from ansible_collections.virtrigaud.core.plugins.module_utils.vm_converge import (
    POWER_BY_STATE,
    converge,
    refuse_backend_only,
)

# The options a definition replaces: given beside one, they are refused by name.
REPLACED = ("name", "id", "cpu", "memory", "firmware", "secure_boot", "disk_defaults", "image", "disks", "networks",
            "placement", "cloud_init", "tags", "provider_ref", "namespace", "class_ref", "image_ref", "clone_from")
# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {"required_one_of": [["name", "id", "definition"]],
                                "mutually_exclusive": [["definition", option] for option in REPLACED]
                                + [["placement_policy", "placement_policy_ref"]],
                                "required_by": {"apply_to": "definition"}}


def argument_spec() -> dict[str, Any]:
    return {**group_spec(), **wait_spec(), **vm_ref_spec(), **vm_spec(), **lifecycle_spec(),
            **resource_spec(), **placement_policy_spec()}


def resource_spec():
    return {
        "definition": {"type": "raw"},
        "apply_to": {"type": "str", "choices": ["backend", "kubernetes"]},
        "provider_ref": {"type": "dict", "options": {"name": {"type": "str", "required": True},
                                                     "namespace": {"type": "str"}}},
        "namespace": {"type": "str"},
        "class_ref": {"type": "str"},
        "image_ref": {"type": "str"},
        "image_on_missing": {"type": "str", "default": "fail", "choices": ["fail", "prepare"]},
        "console": {"type": "dict", "options": {
            "type": {"type": "str", "required": True, "choices": list(CONSOLE_TYPES)}, "listen": {"type": "str"},
            "rotate_password": {"type": "bool", "default": False}}},
        "image_source": {"type": "dict", "options": {
            "url": {"type": "str"}, "path": {"type": "path"}, "checksum": {"type": "str"},
            "format": {"type": "str", "choices": list(IMAGE_FORMATS)}, "storage": {"type": "str"},
            "size": {"type": "str"}}},
    }


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = m.params
    if p["definition"] is not None and clone_document.holds_clone(p["definition"]):
        return run_clone(m, clone_document.read(p["definition"]))
    if p["definition"] is not None:
        manifest = read_vm(p["definition"], p["state"], on_backend=p["apply_to"] != "kubernetes")
        if p["apply_to"] == "kubernetes":
            refuse_backend_only(p, "apply_to: kubernetes")
            return run_documents(m, manifest)
        if manifest.provider is not None:
            extra = {"wait_timeout": p["wait_timeout"]} if p.get("wait_timeout") else {}
            m.use_connection(provider_connection.connection(m.kube, manifest.provider, p, extra))
        p = direct_params(p, manifest)
    if p["provider_ref"]:
        refuse_backend_only(p, "provider_ref")
        return run_resource(m, POWER_BY_STATE.get(p["state"]))
    return converge(m, p)


def run_clone(m: VirtrigaudRun, clone: clone_document.CloneManifest) -> dict[str, Any]:
    """A VMClone manifest: written for VirtRigaud's manager, or carried out here as a clone_from."""
    p = m.params
    if p["apply_to"] == "kubernetes":
        refuse_backend_only(p, "apply_to: kubernetes")
        if p["state"] != "present":
            raise SpecError("a VMClone resource is only applied (deleting it keeps the clone); remove the clone's "
                            "VirtualMachine instead", option="state")
        return apply_documents(m, clone_document.as_resources(clone))
    return converge(m, dict(p, **clone_document.options(clone, p)))


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
