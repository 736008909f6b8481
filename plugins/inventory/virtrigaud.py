# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: virtrigaud
short_description: Every VM of libvirt, vSphere, Proxmox VE, KubeVirt, VirtRigaud provider runtimes and Kubernetes
version_added: 0.1.0
description:
  - Lists the VMs of one or more sources as inventory hosts, with what it takes to reach and group them (name,
    id, power state, addresses, provider and tags) as host variables under the C(virtrigaud_) prefix, and their
    hardware too with O(host_variables=full).
  - Each source is read with one bulk query through the collection's provider layer, the same code the modules
    use; all sources are read at once.
  - A source that cannot be reached gives a warning naming it while the other sources are still listed, unless
    O(strict=true). A source whose settings are wrong (an unknown key, a missing credential) always fails.
  - Inventory files must end in C(virtrigaud.yml) or C(virtrigaud.yaml).
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
requirements:
  - libvirt-python (for C(libvirt) sources)
  - pyvmomi (for C(vsphere) sources)
  - proxmoxer and requests (for C(proxmox) sources)
  - grpcio and protobuf (for C(remote) sources)
  - kubernetes (for C(kubernetes) and C(kubevirt) sources)
  - jmespath (for JMESPath O(filters))
options:
  plugin:
    description: The name of this plugin.
    required: true
    type: str
    choices: [virtrigaud.core.virtrigaud]
  sources:
    description:
      - Where the VMs are. Sources of different types can be mixed.
      - Besides O(sources[].name) and O(sources[].type), a source takes the connection options of the
        collection's modules (see M(virtrigaud.core.virtrigaud_vm)), with the same environment fallbacks, for
        example C(uri), C(hostname), C(username), C(password), C(api_host), C(api_token_id),
        C(api_token_secret), C(validate_certs), C(ca_path), C(client_cert) and C(client_key).
      - A C(kubernetes) source lists VirtRigaud C(VirtualMachine) resources instead of asking a hypervisor; it
        takes the Kubernetes connection options of M(virtrigaud.core.virtrigaud_provider) (C(kubeconfig),
        C(context), C(host), C(api_key), C(ca_cert), C(kube_validate_certs), with the C(K8S_AUTH_*) fallbacks).
        Power state, addresses and hardware come from the status VirtRigaud's manager writes; the namespace,
        Provider, phase and labels are in the host variable C(virtrigaud_kubernetes).
      - A C(kubevirt) source lists KubeVirt VMs with one list call for the VMs and one for their VMIs per
        namespace, with the same Kubernetes connection options; namespace, node, printable status and guest
        agent are in the host variable C(virtrigaud_details).
      - An unknown key fails the inventory, naming the key.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - How hosts and groups name this source (C(virtrigaud_provider), group C(virtrigaud_provider_<name>)).
          - Defaults to C(<type>-<position>).
        type: str
      type:
        description: The kind of source.
        type: str
        required: true
        choices: [kubevirt, libvirt, mock, proxmox, remote, vsphere, kubernetes]
      details:
        description:
          - Read every VM in full, as M(virtrigaud.core.virtrigaud_vm_info) does, instead of the source's one
            bulk query.
          - Only a few backends need it. For C(proxmox) the bulk query (C(cluster/resources)) has no NICs, so
            hosts get no C(ansible_host) without it; with it, each VM costs a few API calls (its config, status
            and guest-agent addresses). For C(vsphere) it adds disks and NIC devices of stopped VMs.
        type: bool
        default: false
      namespaces:
        description:
          - For a C(kubernetes) or C(kubevirt) source, the namespaces to list; every namespace when empty (for
            C(kubevirt), its C(namespace) when that is given instead).
        type: list
        elements: str
        default: []
      label_selector:
        description: For a C(kubernetes) or C(kubevirt) source, a label selector such as V(env=prod).
        type: str
  hostnames:
    description:
      - How to name hosts, tried in order; the first that gives a non-empty value wins.
      - Each entry is a host variable (with or without the C(virtrigaud_) prefix, such as V(name), V(id) or
        V(ansible_host)) or a Jinja2 template such as V({{ virtrigaud_name }}.{{ virtrigaud_provider }}).
      - Two VMs with the same host name give a warning and only the first is listed; with O(strict=true) they
        fail the inventory.
    type: list
    elements: str
    default: [name]
  filters:
    description:
      - Conditions a VM must all meet to be listed.
      - A string is a Jinja2 conditional over the host variables, such as V(virtrigaud_power_state == "On").
      - A dictionary whose only key is C(jmespath) holds a JMESPath expression over the host variables, for AWX
        users who would rather not write Jinja2; see the examples.
    type: list
    elements: raw
    default: []
  ip_preference:
    description:
      - Which address becomes C(ansible_host). Loopback and link-local addresses are never chosen.
    type: dict
    default: {}
    suboptions:
      networks:
        description: NIC networks (or bridges) to take the address from, in order of preference.
        type: list
        elements: str
      cidrs:
        description: Address blocks to take the address from, in order of preference; after O(ip_preference.networks).
        type: list
        elements: str
  host_variables:
    description:
      - Which host variables each VM gets, besides C(ansible_host).
      - V(basic) gives C(virtrigaud_provider), C(virtrigaud_provider_type), C(virtrigaud_id), C(virtrigaud_name),
        C(virtrigaud_power_state), C(virtrigaud_ip_addresses) and C(virtrigaud_tags), and the source's own
        C(virtrigaud_kubernetes) or C(virtrigaud_details) where it has them.
      - V(full) adds C(virtrigaud_cpu), C(virtrigaud_memory_mib), C(virtrigaud_firmware), C(virtrigaud_disks),
        C(virtrigaud_nics) and C(virtrigaud_console_url). At thousands of hosts these make
        C(ansible-inventory) several times slower, as every variable of every host is copied and serialised.
      - The cache holds every field whatever this says, so changing it needs no new query.
    type: str
    choices: [basic, full]
    default: basic
  raw_data:
    description: Add each VM's provider-specific data as C(virtrigaud_raw).
    type: bool
    default: false
  default_groups:
    description:
      - Put every VM in C(virtrigaud), C(virtrigaud_provider_<source>), C(virtrigaud_power_on) or
        C(virtrigaud_power_off), and C(virtrigaud_tag_<tag>) for each of its tags.
    type: bool
    default: true
"""

EXAMPLES = r"""
# lab.virtrigaud.yml: the local libvirt, a vCenter and a Proxmox VE cluster in one inventory
plugin: virtrigaud.core.virtrigaud
sources:
  - name: lab
    type: libvirt
    uri: qemu:///system
  - name: vcenter
    type: vsphere
    hostname: vcenter.example.com
    username: inventory@vsphere.local
    password: "{{ lookup('ansible.builtin.env', 'VMWARE_PASSWORD') }}"
  - name: pve
    type: proxmox
    api_host: pve1.example.com
    api_user: inventory@pve
    api_token_id: ansible
    # api_token_secret from PROXMOX_TOKEN_SECRET
hostnames:
  - "{{ virtrigaud_name }}.{{ virtrigaud_provider }}.example.com"
filters:
  - virtrigaud_power_state == "On"
  - jmespath: "!contains(virtrigaud_tags, 'no-ansible')"
ip_preference:
  cidrs: [10.20.0.0/16]
keyed_groups:
  - key: virtrigaud_tags
    prefix: tag
compose:
  ansible_user: "'debian' if 'debian' in virtrigaud_tags else 'ubuntu'"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /tmp/virtrigaud-inventory
cache_timeout: 300

# runtime.virtrigaud.yml: VMs behind a VirtRigaud provider runtime, over mTLS
plugin: virtrigaud.core.virtrigaud
sources:
  - type: remote
    uri: virtrigaud-provider-prod-vsphere.prod.svc:9443
    ca_path: /etc/virtrigaud/tls/ca.crt
    client_cert: /etc/virtrigaud/tls/tls.crt
    client_key: /etc/virtrigaud/tls/tls.key
strict: true

# cluster.virtrigaud.yml: VirtualMachine resources of two namespaces, named <vm>.<namespace>
plugin: virtrigaud.core.virtrigaud
sources:
  - type: kubernetes
    namespaces: [apps, db]
    label_selector: env=prod
hostnames:
  - "{{ virtrigaud_name }}.{{ virtrigaud_kubernetes.namespace }}"
keyed_groups:
  - key: virtrigaud_kubernetes.namespace
    prefix: namespace
"""

import re

from ansible import constants as C
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.plugin_utils import inventory as vrinv

try:
    import jmespath

    JMESPATH_ERROR = None
except ImportError as err:  # pragma: no cover - depends on the controller
    jmespath = None
    JMESPATH_ERROR = err


_UNSAFE_GROUP_CHARACTERS = re.compile(r"[^A-Za-z0-9_]")


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "virtrigaud.core.virtrigaud"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("virtrigaud.yml", "virtrigaud.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        try:
            self._check_config(config)
            sources = vrinv.check_sources(self.get_option("sources"))
            vrinv.check_choices(self.get_option("hostnames"), self.get_option("ip_preference") or {},
                                self.get_option("host_variables") == "full")
        except SpecError as err:
            raise AnsibleParserError("%s: %s" % (path, err.message)) from None
        filters = self._filters()
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        fetched = None
        if use_cache:
            try:
                fetched = self._cache[cache_key]
            except KeyError:
                fetched = None
        if fetched is None:
            fetched = vrinv.fetch(sources, self.get_option("raw_data"))
            if self.get_option("cache") and not any("error" in f for f in fetched):
                self._cache[cache_key] = fetched
        self._populate(fetched, filters)

    def _check_config(self, config):
        """Keys Ansible's configuration would ignore, and booleans it would read as false ("maybe")."""
        definitions = C.config.get_configuration_definitions("inventory", self._load_name)
        for key, value in (config or {}).items():
            if key not in definitions:
                raise SpecError("is not an option of this inventory plugin", option=key)
            if definitions[key].get("type") in ("bool", "boolean"):
                try:
                    boolean(value, strict=True)
                except TypeError:
                    raise SpecError("%r is not a boolean (true or false)" % (value,), option=key) from None

    def _filters(self):
        compiled = []
        for index, entry in enumerate(self.get_option("filters") or []):
            where = "filters[%d]" % index
            if isinstance(entry, dict):
                if set(entry) != {"jmespath"}:
                    raise AnsibleParserError("%s: a dictionary filter takes only the key 'jmespath'" % where)
                if jmespath is None:
                    raise AnsibleParserError("%s: JMESPath filters need the Python package jmespath" % where)
                try:
                    compiled.append(("jmespath", jmespath.compile(entry["jmespath"])))
                except jmespath.exceptions.JMESPathError as err:
                    raise AnsibleParserError("%s: bad JMESPath expression %r: %s"
                                             % (where, entry["jmespath"], err)) from None
            elif isinstance(entry, str):
                compiled.append(("jinja", entry))
            else:
                raise AnsibleParserError("%s: expected a Jinja2 conditional or {jmespath: ...}" % where)
        return compiled

    def _keep(self, filters, variables):
        for kind, condition in filters:
            if kind == "jmespath":
                value = condition.search(variables)
            else:
                value = self._compose(condition, variables)
            if not value:
                return False
        return True

    def _render(self, template, variables):
        """A host-name template such as '{{ virtrigaud_name }}.example.com' with the host's variables."""
        return self.templar.copy_with_new_env(available_variables=variables).template(template)

    def _populate(self, fetched, filters):
        strict = self.get_option("strict")
        preference = self.get_option("ip_preference") or {}
        choices = self.get_option("hostnames") or ["name"]
        full = self.get_option("host_variables") == "full"
        seen = {}
        groups_made = {}
        for source in fetched:
            for warning in source.get("warnings") or []:
                self.display.warning("virtrigaud source '%s': %s" % (source["source"], warning))
            if "error" in source:
                message = "virtrigaud source '%s' (%s): %s" % (source["source"], source["type"], source["error"])
                if strict or source.get("fatal"):
                    raise AnsibleError(message)
                self.display.warning(message + "; its VMs are left out")
        for source in fetched:
            for record in source["vms"]:
                variables = vrinv.host_vars(record, source["source"], source["type"], preference, full)
                if not self._keep(filters, variables):
                    continue
                name = vrinv.hostname(variables, choices, self._render)
                if name is None:
                    continue
                if name in seen:
                    message = "host name '%s' is used by VMs %s and %s; the second is left out" % (
                        name, seen[name], "%s/%s" % (source["source"], record["id"]))
                    if strict:
                        raise AnsibleError(message)
                    self.display.warning(message)
                    continue
                seen[name] = "%s/%s" % (source["source"], record["id"])
                self._add_host(name, variables, strict, groups_made)

    def _add_host(self, name, variables, strict, groups_made):
        self.inventory.add_host(name)
        for key, value in variables.items():
            self.inventory.set_variable(name, key, value)
        if self.get_option("default_groups"):
            for group in vrinv.default_groups(variables):
                safe = groups_made.get(group)
                if safe is None:
                    # Group names are made safe here, once, rather than by Ansible with a warning per host.
                    safe = groups_made[group] = _UNSAFE_GROUP_CHARACTERS.sub("_", group)
                    self.inventory.add_group(safe)
                self.inventory.add_child(safe, name)
        self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
