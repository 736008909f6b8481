#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_machineprovider
short_description: Manage vitistack MachineProvider resources and their credentials Secrets in Kubernetes
version_added: 0.2.0
description:
  - Creates, updates or removes a vitistack C(MachineProvider) (C(machineproviders.vitistack.io/v1alpha1), cluster
    scoped), and the Secret holding its credentials when the task gives them.
  - Objects are written with server-side apply under the field manager C(virtrigaud.core), so other managers'
    fields are left alone and a second run changes nothing.
  - The spec comes from the options O(provider_type) to O(config), or whole from O(definition). Either way, every
    rule of the CRD's schema (required fields, enums, ranges, lengths, quantity patterns, unknown fields) is checked
    before anything is written, and an error names the option, such as C(compute.max_cpus).
  - Options use the CRD's field names in snake_case, at every depth (C(maxCPUs) is C(max_cpus), C(availableVPCs)
    is C(available_vpcs)); keys of free-form maps (O(config), O(default_tags), C(parameters)) are kept as given.
  - A O(definition) written from the older vitistack documentation (C(type), C(availabilityZones),
    C(networkConfig), C(storageConfig), C(computeConfig)) is translated to the CRD's names, with one warning per
    renamed field; its missing C(displayName) becomes the resource's name. The older auth types C(apikey) and
    C(oauth2) have no counterpart and are refused.
  - The CRDs ship with the role C(virtrigaud.core.crds) (set C(crds_vitistack=true)).
  - O(provider_type) is the MachineProvider's, and O(endpoint) is its C(spec.endpoint). A group's
    C(module_defaults) for the hypervisor connection's O(provider_type), or for O(endpoint) (an alias of O(uri) in
    the other modules), set these too.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection.beside_selector
  - virtrigaud.core.kubernetes
  - virtrigaud.core.attributes
attributes:
  check_mode:
    support: full
    details: The API server computes the result of each write as a dry run.
  diff_mode:
    support: full
    details: The credentials Secret shows its keys, never their values.
  idempotent:
    support: full
    description: When run twice with the same options, the second run reports no change.
options:
  name:
    description: Name of the MachineProvider (cluster-scoped).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the MachineProvider, and the credentials Secret when O(authentication.credentials)
        is given.
      - V(absent) removes the MachineProvider and the Secrets this module wrote for it.
    type: str
    choices: [present, absent]
    default: present
  provider_type:
    description:
      - C(spec.providerType), one of the CRD's enum (V(kubevirt), V(proxmox), V(vsphere), V(libvirt), V(aws),
        V(azure), V(gcp), V(openstack), V(cloudstack), V(nutanix), V(ovirt)). Required with O(state=present)
        unless O(definition) is given.
    type: str
  display_name: {description: "C(spec.displayName), at least one character.", type: str}
  region: {description: "C(spec.region), at least one character.", type: str}
  zones: {description: C(spec.zones)., type: list, elements: str}
  endpoint:
    description: C(spec.endpoint).
    type: dict
    suboptions:
      url: {description: The provider's API address., type: str}
      insecure_skip_verify: {description: Do not verify the API's TLS certificate., type: bool}
      ca_bundle: {description: CA certificates (PEM) for the API., type: str}
      timeout_seconds: {description: "Request timeout, 1-300.", type: int}
      retry_attempts: {description: "Retries, 0-10.", type: int}
  authentication:
    description: C(spec.authentication).
    type: dict
    suboptions:
      type:
        description: >-
          V(credentials), V(serviceAccount), V(instanceProfile), V(managedIdentity), V(certificate) or V(token).
        type: str
      credentials:
        description:
          - Keys and values written to the Secret named by O(authentication.credentials_ref) (default
            C(<name>-credentials) in namespace C(default)), labelled as written for this MachineProvider.
          - vitistack's kubevirt-operator reads the key C(kubeconfig).
        type: dict
      credentials_ref:
        description: C(credentialsRef), the Secret with the credentials.
        type: dict
        suboptions:
          secret_name: {description: Name of the Secret., type: str}
          namespace: {description: Its namespace., type: str}
      service_account:
        description: C(serviceAccount), with C(account_id) (required), C(key_ref) and C(scopes).
        type: dict
      parameters: {description: "C(parameters), a map of strings.", type: dict}
  capabilities:
    description:
      - C(spec.capabilities) in snake_case, such as C(max_machines), C(storage_types), C(operating_systems),
        C(machine_classes), C(network_features), C(auto_scaling).
      - The CRD has no C(instance_types); it is refused by name.
    type: dict
  network:
    description: C(spec.network) in snake_case, such as C(default_vpc), C(available_vpcs), C(ipv6_support).
    type: dict
  storage:
    description: C(spec.storage) in snake_case, such as C(default_type), C(storage_classes), C(max_storage_gb).
    type: dict
  compute:
    description: C(spec.compute) in snake_case, such as C(max_cpus), C(max_memory_gb), C(default_machine_class).
    type: dict
  default_tags: {description: "C(spec.defaultTags), a map of strings.", type: dict}
  config: {description: "C(spec.config), a map of strings.", type: dict}
  definition:
    description:
      - A whole MachineProvider (C(apiVersion), C(kind), C(metadata), C(spec)) in the CRD's camelCase, or in the older
        documented shape. Mutually exclusive with O(provider_type) to O(config).
    type: dict
  labels: {description: Labels of the MachineProvider., type: dict}
  annotations: {description: Annotations of the MachineProvider., type: dict}
  uri:
    description:
      - The backend's address for O(discover) and O(update_status) (C(qemu:///system), a vCenter or PVE host), read
        with the other connection options of O(provider_type)'s own table; unused otherwise.
      - A KubeVirt backend is reached with the Kubernetes options (O(kubeconfig), O(host), ...), the same cluster
        the MachineProvider is written to.
    type: str
  discover:
    description:
      - Fill the spec from the live backend, through the collection's provider layer, for the types V(libvirt),
        V(vsphere), V(proxmox) and V(kubevirt) (another type is refused).
      - Networks (libvirt networks and bridges, vSphere port groups, PVE bridges, the pod network and multus
        NetworkAttachmentDefinitions) become C(network.availableVPCs) and C(network.defaultVPC); storage (pools,
        datastores, PVE storages, StorageClasses) C(capabilities.storageTypes), C(storage.storageClasses),
        C(storage.defaultType) and C(storage.maxStorageGB); the largest host C(compute.maxCPUs) and
        C(compute.maxMemoryGB); KubeVirt instancetypes and O(presets) C(capabilities.machineClasses); templates and
        image volumes C(capabilities.operatingSystems) (family, distribution and version as the image's name tells
        them, else C(unknown)); the provider's capabilities C(config) keys C(features.snapshots),
        C(features.liveResize), C(features.hotplugDisks), C(features.hotplugNICs) and a few more.
      - A field the task sets (in the options or in O(definition)) wins over the discovered one;
        RV(discovered_fields) lists those that came from discovery.
    type: bool
    default: false
  presets:
    description:
      - Sizes to offer as C(capabilities.machineClasses) with O(discover=true), beside a KubeVirt cluster's
        instancetypes; the other backends have no sizes of their own.
      - Each has C(name), C(cpu) (1 or more) and C(memory) (a quantity such as V(4Gi), or MiB).
    type: list
    elements: dict
  update_status:
    description:
      - Write the status subresource from a live probe, with C(phase) (V(Ready), V(Failed) when the backend answers but
        refuses the credentials or a listing, V(Offline) when it cannot be reached), the conditions C(Reachable),
        C(Authenticated) and C(Ready) (each keeps its C(lastTransitionTime) while its status holds),
        C(health), C(availableResources), C(quota) from the backend's hosts and storage, C(activeMachines) (the VMs
        the provider layer lists there, templates excluded) and C(lastVerified).
      - The status is rewritten only when something besides C(lastVerified), C(health.lastCheck) and
        C(health.responseTimeMs) changed, or when the stored C(lastVerified) is O(status_max_age) seconds old; so a
        second run reports no change.
    type: bool
    default: false
  status_max_age:
    description:
      - With O(update_status=true), rewrite an unchanged status once its C(lastVerified) is this many seconds old
        (V(0) rewrites it every run). Default V(3600).
    type: int
notes:
  - The hypervisor connection options are read only with O(discover=true) or O(update_status=true), and then only
    those of O(provider_type)'s own backend (its environment variables too); without those two they are accepted so
    that C(module_defaults) for the C(virtrigaud.core.virtrigaud) group can set them, and not used.
seealso:
  - module: virtrigaud.core.virtrigaud_crds
  - module: virtrigaud.core.virtrigaud_provider
  - module: virtrigaud.core.virtrigaud_machineprovider_info
"""

EXAMPLES = r"""
- name: A KubeVirt MachineProvider with its kubeconfig Secret
  virtrigaud.core.virtrigaud_machineprovider:
    name: kubevirt-provider
    provider_type: kubevirt
    display_name: KubeVirt in Oslo
    region: oslo
    zones: [oslo-1]
    authentication:
      type: credentials
      credentials: {kubeconfig: "{{ lookup('ansible.builtin.file', 'kubevirt.kubeconfig') }}"}
    compute: {max_cpus: 64, max_memory_gb: 256}
    capabilities:
      max_machines: 100
      storage_types: [{name: ssd, class: fast}]

- name: A libvirt MachineProvider filled from the host, with its status kept up to date
  virtrigaud.core.virtrigaud_machineprovider:
    name: libvirt-oslo
    provider_type: libvirt
    display_name: KVM in Oslo
    region: oslo
    authentication: {type: token}
    uri: qemu:///system
    discover: true
    presets:
      - {name: small, cpu: 1, memory: 2Gi}
      - {name: large, cpu: 8, memory: 32Gi}
    update_status: true
  register: mp

- name: One written from the older vitistack documentation
  virtrigaud.core.virtrigaud_machineprovider:
    name: legacy
    definition: "{{ lookup('ansible.builtin.file', 'legacy-provider.yml') | ansible.builtin.from_yaml }}"
"""

RETURN = r"""
objects:
  description:
    - The credentials Secret (when written) and the MachineProvider, with whether each changed.
    - Every Kubernetes module of the collection returns its objects in this shape.
  returned: always
  type: list
  elements: dict
  contains:
    kind: {description: "C(Secret) or C(MachineProvider).", type: str, returned: always}
    name: {description: Its name., type: str, returned: always}
    namespace: {description: "The Secret's namespace; null for the MachineProvider.", type: str, returned: always}
    changed: {description: "Whether the run changed it (would change it, in check mode).", type: bool, returned: always}
  sample: [{kind: MachineProvider, name: kubevirt-provider, namespace: null, changed: true}]
discovered_fields:
  description: The spec's fields (dotted, camelCase) whose values came from discovery, with O(discover=true).
  returned: when O(discover=true)
  type: list
  elements: str
  sample: [capabilities.storageTypes, compute.maxCPUs, network.availableVPCs]
discovery:
  description:
    - What the backend reported, with O(discover=true) or O(update_status=true) when the probe got that far.
  returned: when the backend was probed and answered
  type: dict
  contains:
    networks: {description: "Networks, each with C(name), C(kind) and C(cidr).", type: list, elements: dict,
               returned: always}
    default_network: {description: The network a NIC joins by default., type: str, returned: always}
    storages: {description: "Storage, each with C(name), C(kind), C(capacity_gib), C(free_gib), C(default).",
               type: list, elements: dict, returned: always}
    hosts: {description: "Hosts, each with C(name), C(cpus), C(memory_mib), C(used_memory_mib).", type: list,
            elements: dict, returned: always}
    instance_types: {description: "KubeVirt instancetypes, each with C(name), C(cpus), C(memory_mib).", type: list,
                     elements: dict, returned: always}
    images: {description: "Templates and image volumes, each with C(id) and C(name).", type: list, elements: dict,
             returned: always}
    architecture: {description: The hosts' architecture as vitistack names it., type: str, returned: always}
    features: {description: Feature flags from the provider's capabilities., type: dict, returned: always}
status:
  description: The status written (or that would be, in check mode), or the stored one when it did not need a write.
  returned: when O(update_status=true)
  type: dict
  sample: {phase: Ready, activeMachines: 3, lastVerified: "2026-11-30T05:00:00Z",
           health: {status: Healthy, apiConnectivity: Connected, authentication: Authenticated, responseTimeMs: 4}}
status_changed:
  description: Whether the status was (would be) rewritten.
  returned: when O(update_status=true)
  type: bool
machine_provider:
  description: The MachineProvider as stored (as the server would store it, in check mode), without server fields.
  returned: success
  type: dict
  sample: {apiVersion: vitistack.io/v1alpha1, kind: MachineProvider, metadata: {name: kubevirt-provider},
           spec: {providerType: kubevirt, displayName: KubeVirt, region: oslo, authentication: {type: credentials}}}
"""

import datetime
import os
from typing import Any, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import machineprovider as objects
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import machineprovider_discovery as found
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import machineprovider_status as live
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import comparable
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.converge import Outcome, Request, converge
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.provider import check_name
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.schema_check import check, snake
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.vitistack_schema import API_VERSION, SPEC_SCHEMA
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider


def check_live_options(params: dict[str, Any]) -> None:
    """The options of the live probe, refused by name where they cannot do what they say."""
    asked = [option for option in ("discover", "update_status") if params.get(option)]
    if asked and params["state"] == "absent":
        raise errors.SpecError("only with state=present: a removed MachineProvider has nothing to fill",
                               option=asked[0])
    if params.get("presets") and not params.get("discover"):
        raise errors.SpecError("presets become the discovered machine classes; set discover=true", option="presets")
    max_age = params.get("status_max_age")
    if max_age is not None and not params.get("update_status"):
        raise errors.SpecError("says when to rewrite the status; set update_status=true", option="status_max_age")
    if max_age is not None and max_age < 0:
        raise errors.SpecError("%d is not a number of seconds of 0 or more" % max_age, option="status_max_age")


def probe_backend(m: VirtrigaudRun, provider_type: str) -> live.Probe:
    """Reach the backend with the task's connection options for its type."""
    connection = live.connection_for(provider_type, m.params, os.environ)
    m.secret_values.update(connection.secrets)
    for warning in connection.foreign_warnings():
        m.warn(warning)
    with open_provider(connection.config) as provider:
        probed = live.probe(provider)
        for warning in provider.warnings:
            m.warn(warning)
    return probed


def with_discovery(m: VirtrigaudRun, machine_provider: dict[str, Any], probed: live.Probe
                   ) -> tuple[dict[str, Any], tuple[str, ...]]:
    if probed.discovery is None:
        raise errors.UnavailableError("discovery on the %s backend failed: %s" % (
            machine_provider["spec"]["providerType"], probed.message), option="discover")
    name = machine_provider["metadata"]["name"]
    merged = found.merge(machine_provider["spec"], found.discovered_spec(
        probed.discovery, name, found.presets(m.params.get("presets"))))
    check(merged.spec, SPEC_SCHEMA, "", snake)
    return dict(machine_provider, spec=merged.spec), merged.discovered


def present(m: VirtrigaudRun, result: dict[str, Any]) -> Outcome:
    check_live_options(m.params)
    found.presets(m.params.get("presets"))
    wanted = objects.wanted(m.params)
    for warning in wanted.warnings:
        m.warn(warning)
    machine_provider = wanted.machine_provider
    probed = None
    if m.params["discover"] or m.params["update_status"]:
        option = "discover" if m.params["discover"] else "update_status"
        probed = probe_backend(m, found.check_discoverable(machine_provider["spec"]["providerType"], option))
        result["probe"] = probed
    if m.params["discover"] and probed is not None:
        machine_provider, result["discovered_fields"] = with_discovery(m, machine_provider, probed)
    if wanted.secret is not None and not m.check_mode:
        # The API server checks the MachineProvider before its Secret is written, so a refusal leaves nothing.
        m.kube.apply(machine_provider, dry_run=True)
    secrets = [wanted.secret] if wanted.secret is not None else []
    return converge(m.kube, Request(apply=secrets + [machine_provider]), m.check_mode)


def absent(m: VirtrigaudRun, result: dict[str, Any]) -> Outcome:
    check_live_options(m.params)
    name = check_name(m.params["name"], "name", 253)
    owned = sorted(("Secret", secret["metadata"]["name"], secret["metadata"]["namespace"])
                   for secret in m.kube.list("Secret", None, "%s=%s" % (objects.OWNER_LABEL, name)))
    return converge(m.kube, Request(delete=[(objects.KIND, name, None)] + owned), m.check_mode)


def write_status(m: VirtrigaudRun, outcome: Outcome, probed: live.Probe) -> tuple[bool, dict[str, Any]]:
    """The status from the probe, written when needs_write says so; whether it changed, and the status."""
    name = m.params["name"]
    stored = outcome.current(objects.KIND, name) or {}
    previous = stored.get("status")
    now = datetime.datetime.now(datetime.timezone.utc)
    status = live.status_of(probed, stored.get("spec") or {}, previous, now)
    max_age = m.params.get("status_max_age")
    if not live.needs_write(previous, status, now, live.DEFAULT_MAX_AGE if max_age is None else max_age):
        return False, dict(previous or {})
    existed = outcome.change(objects.KIND, name).before is not None
    if existed or not m.check_mode:
        m.kube.apply(live.status_patch(name, status, API_VERSION, objects.KIND), dry_run=m.check_mode,
                     subresource="status")
    return True, status


def run(m: VirtrigaudRun) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    outcome = (present if m.params["state"] == "present" else absent)(m, extra)
    stored: Optional[dict[str, Any]] = outcome.current(objects.KIND, m.params["name"])
    result: dict[str, Any] = {"changed": outcome.changed, "objects": outcome.objects(),
                              "machine_provider": comparable(stored)}
    if "discovered_fields" in extra:
        result["discovered_fields"] = list(extra["discovered_fields"])
    probed = extra.get("probe")
    if m.params["update_status"] and probed is not None:
        result["status_changed"], result["status"] = write_status(m, outcome, probed)
        result["changed"] = result["changed"] or result["status_changed"]
    if probed is not None and probed.discovery is not None:
        result["discovery"] = probed.discovery.to_dict()
    if m.diff_mode:
        result["diff"] = outcome.diff()
    return result


# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {}


def argument_spec() -> dict[str, Any]:
    text = {"type": "str"}
    spec = group_spec()
    # The group's provider_type, and uri's alias endpoint, are the MachineProvider's fields here.
    spec["uri"] = dict(text)
    return {
        **spec,
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "provider_type": dict(text),
        "display_name": dict(text),
        "region": dict(text),
        "zones": {"type": "list", "elements": "str"},
        "endpoint": {"type": "dict", "options": {
            "url": dict(text), "insecure_skip_verify": {"type": "bool"}, "ca_bundle": dict(text),
            "timeout_seconds": {"type": "int"}, "retry_attempts": {"type": "int"}}},
        "authentication": {"type": "dict", "options": {
            "type": dict(text),
            "credentials": {"type": "dict", "no_log": True},
            "credentials_ref": {"type": "dict", "options": {"secret_name": dict(text), "namespace": dict(text)}},
            "service_account": {"type": "dict"},
            "parameters": {"type": "dict"}}},
        "capabilities": {"type": "dict"},
        "network": {"type": "dict"},
        "storage": {"type": "dict"},
        "compute": {"type": "dict"},
        "default_tags": {"type": "dict"},
        "config": {"type": "dict"},
        "definition": {"type": "dict"},
        "labels": {"type": "dict"},
        "annotations": {"type": "dict"},
        "discover": {"type": "bool", "default": False},
        "presets": {"type": "list", "elements": "dict"},
        "update_status": {"type": "bool", "default": False},
        "status_max_age": {"type": "int"},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
