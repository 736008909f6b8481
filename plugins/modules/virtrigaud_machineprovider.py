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
  - virtrigaud.core.connection.unused
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
    description: Accepted for C(module_defaults) of the group, and not used.
    type: str
seealso:
  - module: virtrigaud.core.virtrigaud_crds
  - module: virtrigaud.core.virtrigaud_provider
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
machine_provider:
  description: The MachineProvider as stored (as the server would store it, in check mode), without server fields.
  returned: success
  type: dict
  sample: {apiVersion: vitistack.io/v1alpha1, kind: MachineProvider, metadata: {name: kubevirt-provider},
           spec: {providerType: kubevirt, displayName: KubeVirt, region: oslo, authentication: {type: credentials}}}
"""

from typing import Any, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import machineprovider as objects
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import comparable
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.converge import Outcome, Request, converge
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.provider import check_name
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun


def present(m: VirtrigaudRun) -> Outcome:
    wanted = objects.wanted(m.params)
    for warning in wanted.warnings:
        m.warn(warning)
    if wanted.secret is not None and not m.check_mode:
        # The API server checks the MachineProvider before its Secret is written, so a refusal leaves nothing.
        m.kube.apply(wanted.machine_provider, dry_run=True)
    secrets = [wanted.secret] if wanted.secret is not None else []
    return converge(m.kube, Request(apply=secrets + [wanted.machine_provider]), m.check_mode)


def absent(m: VirtrigaudRun) -> Outcome:
    name = check_name(m.params["name"], "name", 253)
    owned = sorted(("Secret", secret["metadata"]["name"], secret["metadata"]["namespace"])
                   for secret in m.kube.list("Secret", None, "%s=%s" % (objects.OWNER_LABEL, name)))
    return converge(m.kube, Request(delete=[(objects.KIND, name, None)] + owned), m.check_mode)


def run(m: VirtrigaudRun) -> dict[str, Any]:
    outcome = (present if m.params["state"] == "present" else absent)(m)
    stored: Optional[dict[str, Any]] = outcome.current(objects.KIND, m.params["name"])
    result: dict[str, Any] = {"changed": outcome.changed, "objects": outcome.objects(),
                              "machine_provider": comparable(stored)}
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
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
