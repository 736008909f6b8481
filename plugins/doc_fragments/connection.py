# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Paired with argspec.connection_spec().
    DOCUMENTATION = r"""
options:
  provider_type:
    description:
      - The kind of hypervisor or runtime to talk to.
      - V(mock) is an in-memory provider for demos and tests.
      - V(vsphere) talks to vCenter or ESXi through pyVmomi.
      - V(proxmox) talks to a Proxmox VE cluster through proxmoxer.
      - V(remote) talks to a VirtRigaud provider runtime (this collection's or upstream's) over gRPC, at O(uri).
      - V(kubevirt) manages KubeVirt C(VirtualMachine) resources in O(namespace) of a Kubernetes cluster, reached
        with the Kubernetes connection options (O(kubeconfig), O(context), O(host), O(api_key), O(ca_cert),
        O(kube_validate_certs)) and their E(K8S_AUTH_*) variables.
      - If not set, the value of the E(VIRTRIGAUD_PROVIDER_TYPE) environment variable is used.
    type: str
    choices: [kubevirt, libvirt, mock, proxmox, remote, vsphere]
    default: libvirt
  uri:
    description:
      - Where the provider is.
      - For V(libvirt), a libvirt connection URI such as V(qemu:///system) or V(qemu+ssh://root@host/system).
      - For V(mock), V(mock://) keeps VMs in memory, V(mock:///path/state.json) keeps them in that file.
      - For V(vsphere), a host name or a URL such as V(https://vcenter.example.com/sdk); O(hostname) is
        the usual way to give it.
      - For V(proxmox), a host name or a URL such as V(https://pve.example.com:8006); O(api_host) is the
        usual way to give it.
      - For V(remote), the runtime's V(host:port), such as V(virtrigaud-provider-ns-vsphere.ns.svc:9443).
      - For V(kubevirt), the Kubernetes API server's URL, the same as O(host).
      - If not set, only the provider type's own variable is used, E(LIBVIRT_DEFAULT_URI) for V(libvirt),
        E(VIRTRIGAUD_URI) for V(remote) and E(VIRTRIGAUD_MOCK_URI) for V(mock), then the provider's default
        (V(qemu:///system) for libvirt). A V(vsphere), V(proxmox) or V(kubevirt) task never reads these
        variables.
    type: str
    aliases: [endpoint]
  hostname:
    description:
      - The vCenter or ESXi host for O(provider_type=vsphere); used when O(uri) is not set. Only vSphere reads it.
      - If not set, the E(VMWARE_HOST) environment variable is used.
    type: str
  port:
    description:
      - The HTTPS port of O(hostname), for O(provider_type=vsphere).
      - If not set, the E(VMWARE_PORT) environment variable is used, else 443.
    type: int
  api_host:
    description:
      - The Proxmox VE host for O(provider_type=proxmox) (any node of the cluster); used when O(uri) is not set.
        Only Proxmox VE reads it.
      - If not set, the E(PROXMOX_HOST) environment variable is used.
    type: str
  api_port:
    description:
      - The HTTPS port of O(api_host).
      - If not set, the E(PROXMOX_PORT) environment variable is used, else 8006.
    type: int
  api_user:
    description:
      - The Proxmox VE user as V(user@realm), such as V(root@pam); the owner of the token with O(api_token_id).
      - If not set, the E(PROXMOX_USER) environment variable is used.
    type: str
  api_password:
    description:
      - The password of O(api_user). Never shown in results, diffs or errors.
      - If not set, the E(PROXMOX_PASSWORD) environment variable is used.
    type: str
  api_token_id:
    description:
      - The name of an API token of O(api_user), or the full V(user@realm!tokenid); used instead of O(api_password).
      - If not set, the E(PROXMOX_TOKEN_ID) environment variable is used.
    type: str
  api_token_secret:
    description:
      - The secret (a UUID) of O(api_token_id). Never shown in results, diffs or errors.
      - If not set, the E(PROXMOX_TOKEN_SECRET) environment variable is used.
    type: str
  username:
    description:
      - User name for providers that authenticate with a password (vSphere, libvirt SASL or TCP).
      - If not set, vSphere reads the E(VMWARE_USER) environment variable, libvirt E(LIBVIRT_USERNAME), then
        E(VIRTRIGAUD_USERNAME) (deprecated). Proxmox VE reads O(api_user) instead.
    type: str
  password:
    description:
      - Password for O(username). Never shown in results, diffs or errors.
      - If not set, vSphere reads the E(VMWARE_PASSWORD) environment variable, libvirt E(LIBVIRT_PASSWORD), then
        E(VIRTRIGAUD_PASSWORD) (deprecated). Proxmox VE reads O(api_password) instead.
    type: str
  validate_certs:
    description:
      - Whether to verify the provider's TLS certificate against the system's trusted CAs, for
        O(provider_type=vsphere) and O(provider_type=proxmox).
      - If not set, vSphere reads the E(VMWARE_VALIDATE_CERTS) environment variable and Proxmox VE
        E(PROXMOX_VALIDATE_CERTS); without either, V(true).
    type: bool
  default_datastore:
    description:
      - Where disks go when a VM's C(placement.datastore) is not set. For libvirt, a storage pool name;
        for vSphere, a datastore name; for Proxmox VE, a storage that holds disk images, such as V(local-lvm);
        for KubeVirt, the StorageClass of new disks (the cluster's default StorageClass when not set).
      - For libvirt the pool V(default) is used when neither is set.
      - If not set, libvirt reads the E(LIBVIRT_STORAGE_POOL) environment variable, then
        E(VIRTRIGAUD_DEFAULT_DATASTORE) (deprecated); vSphere reads E(VMWARE_DATASTORE) and Proxmox VE
        E(PROXMOX_STORAGE).
    type: str
  datacenter:
    description:
      - For vSphere, the datacenter that new VMs and their placement belong to; by default, the one holding
        the cluster or host chosen, else the first.
      - If not set, the E(VMWARE_DATACENTER) environment variable is used.
    type: str
  default_cluster:
    description:
      - For vSphere, the cluster new VMs go to when their C(placement.cluster) is not set.
      - If not set, the E(VIRTRIGAUD_DEFAULT_CLUSTER) environment variable is used.
    type: str
  default_folder:
    description:
      - For vSphere, the VM folder new VMs go to when their C(placement.folder) is not set.
      - If not set, the E(VIRTRIGAUD_DEFAULT_FOLDER) environment variable is used.
    type: str
  default_node:
    description:
      - For Proxmox VE, the node new VMs go to when their C(placement.host) is not set. By default a VM made
        from a template goes to the template's node, any other to the online node with the least memory in use.
      - If not set, the E(PROXMOX_NODE) environment variable is used, then E(VIRTRIGAUD_DEFAULT_NODE).
    type: str
  default_bridge:
    description:
      - For Proxmox VE, the bridge of NICs whose C(bridge) and C(network) are not set, such as V(vmbr0).
      - If not set, the E(VIRTRIGAUD_DEFAULT_BRIDGE) environment variable is used.
    type: str
  snippets_storage:
    description:
      - For Proxmox VE, a storage with the C(snippets) content type. With O(snippets_dir), the whole cloud-init
        user data, meta data and network config reach the guest as C(cicustom) snippets.
      - Without both, only what Proxmox VE's C(ciuser), C(cipassword), C(sshkeys) and C(ipconfig) keys can
        carry is passed, with a warning that names what was dropped.
      - If not set, the E(VIRTRIGAUD_SNIPPETS_STORAGE) environment variable is used.
    type: str
  snippets_dir:
    description:
      - Where O(snippets_storage)'s directory is mounted on the machine running the module (the folder that
        holds its C(snippets/) folder), such as V(/mnt/pve/cephfs).
      - If not set, the E(VIRTRIGAUD_SNIPPETS_DIR) environment variable is used.
    type: path
  ca_path:
    description:
      - For V(remote), the CA bundle that signed the runtime's certificate; by default the system's CAs.
      - If not set, the E(VIRTRIGAUD_CA_PATH) environment variable is used.
    type: path
  client_cert:
    description:
      - For V(remote), the client certificate presented to a runtime that requires mTLS, with O(client_key).
      - If not set, the E(VIRTRIGAUD_CLIENT_CERT) environment variable is used.
    type: path
  client_key:
    description:
      - For V(remote), the private key of O(client_cert).
      - If not set, the E(VIRTRIGAUD_CLIENT_KEY) environment variable is used.
    type: path
  tls_server_name:
    description:
      - For V(remote), the name to check the runtime's certificate against, when O(uri) uses another name or an
        address (a port-forward, say).
      - If not set, the E(VIRTRIGAUD_TLS_SERVER_NAME) environment variable is used.
    type: str
  insecure:
    description:
      - For V(remote), talk plaintext gRPC to a runtime started in insecure mode. Never use it over a network
        you do not control.
      - If not set, the E(VIRTRIGAUD_INSECURE) environment variable is used; without it, V(false).
    type: bool
  rpc_timeouts:
    description:
      - For V(remote), deadlines in seconds by RPC name, overriding the defaults of VirtRigaud's manager
        (V(Validate) and V(Describe) 30, V(Create) 300, V(Power) and V(Delete) 120, and so on).
      - For example, V(Create) set to V(600) gives creates ten minutes.
    type: dict
  namespace:
    description:
      - For V(kubevirt), the namespace of the VMs, their disks and cloud-init Secrets. VM ids are
        V(namespace/name); an id names its own namespace.
      - If not set, the kubeconfig context's namespace, inside a pod the pod's own, else V(default).
    type: str
  instancetype:
    description:
      - For V(kubevirt), the C(VirtualMachineClusterInstancetype) new VMs take their CPU and memory from, or
        V(virtualmachineinstancetype/NAME) for a C(VirtualMachineInstancetype) of O(namespace). A VM's C(cpu)
        and C(memory) must then not be set. Only used when a VM is created; describe reports it.
    type: str
  preference:
    description:
      - For V(kubevirt), the C(VirtualMachineClusterPreference) of new VMs, or V(virtualmachinepreference/NAME)
        for a C(VirtualMachinePreference) of O(namespace). Only used when a VM is created; describe reports it.
    type: str
  libvirt_domain_type:
    description:
      - The libvirt domain type for new VMs. V(auto) uses V(kvm) when the host offers it, else V(qemu)
        (software emulation).
      - If not set, the E(VIRTRIGAUD_LIBVIRT_DOMAIN_TYPE) environment variable is used; without it, V(auto).
    type: str
    choices: [auto, kvm, qemu]
notes:
  - Each provider type reads only its own connection options and environment variables, so the credentials
    of several backends can be set at once (several AWX credentials on one job template, say). An option of
    another provider type given to a task is not used, and a warning names it.
requirements:
  - libvirt-python (for O(provider_type=libvirt))
  - pyvmomi (for O(provider_type=vsphere))
  - proxmoxer and requests (for O(provider_type=proxmox))
  - grpcio and protobuf (for O(provider_type=remote))
  - kubernetes (for O(provider_type=kubevirt))
  - pycdlib (for cloud-init seeds with O(provider_type=libvirt))
"""

    BESIDE_SELECTOR: str  # set below, from DOCUMENTATION

    # For modules that accept these options only so module_defaults for the group can set them.
    UNUSED = r"""
options: {}
notes:
  - This module accepts the hypervisor connection options so that C(module_defaults) for the
    C(virtrigaud.core.virtrigaud) group can set them for a whole play, and does not use them.
"""


# The options after provider_type and uri, for a module whose own provider_type and endpoint mean something else
# (virtrigaud_machineprovider), and which accepts the rest only so module_defaults for the group can set them.
# A slice of DOCUMENTATION, which the sanity tests lint, so that the two never drift apart.
ModuleDocFragment.BESIDE_SELECTOR = "options:\n" + ModuleDocFragment.DOCUMENTATION[
    ModuleDocFragment.DOCUMENTATION.index("  hostname:\n"):ModuleDocFragment.DOCUMENTATION.index("notes:\n")]
