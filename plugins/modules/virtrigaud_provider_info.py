#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_provider_info
short_description: Read VirtRigaud Provider resources, their status, and optionally probe them live
version_added: 0.1.0
description:
  - Lists C(Provider) resources of one namespace or of every namespace, or returns one by name.
  - With O(probe=true), connects to each Provider's hypervisor through the collection's provider layer, with the
    credentials in its Secret, and reports connectivity, authentication, capabilities, resource usage and a
    health score. Providers whose C(healthCheck.enabled) is V(false) are not probed.
  - Never changes anything.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.connection.unused
  - virtrigaud.core.kubernetes
  - virtrigaud.core.attributes
  - virtrigaud.core.attributes.info_module
options:
  name:
    description: Return only the Provider of this name (in O(namespace)).
    type: str
  namespace:
    description: Namespace to read; every namespace when unset (then O(name) needs it).
    type: str
  label_selector:
    description: Kubernetes label selector, such as V(env=prod).
    type: str
  probe:
    description: Connect to each Provider's hypervisor and report what was found in RV(providers[].probe).
    type: bool
    default: false
  probe_through:
    description:
      - V(direct) connects to each hypervisor through the collection's provider layer with the Provider's
        credentials; V(runtime) calls each Provider's runtime over gRPC at the endpoint its status reports (a
        cluster address, so from inside the cluster), with its TLS Secret, as VirtRigaud's manager does.
    type: str
    choices: [direct, runtime]
    default: direct
seealso:
  - module: virtrigaud.core.virtrigaud_provider
"""

EXAMPLES = r"""
- name: All Providers, probed live
  virtrigaud.core.virtrigaud_provider_info:
    probe: true
  register: providers

- name: Those that are not fully healthy
  ansible.builtin.debug:
    msg: "{{ providers.providers | rejectattr('probe.health_score', '==', 100) | map(attribute='name') }}"
"""

RETURN = r"""
providers:
  description: The Providers found, sorted by namespace and name.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Name., type: str, returned: always}
    namespace: {description: Namespace., type: str, returned: always}
    type: {description: "Hypervisor type; for a type carried past the CRD enum (kubevirt), its real type.", type: str,
           returned: always, sample: vsphere}
    endpoint: {description: Hypervisor endpoint., type: str, returned: always}
    spec: {description: The Provider's spec., type: dict, returned: always}
    status: {description: The Provider's status as its controller wrote it (empty when none did)., type: dict,
             returned: always}
    probe:
      description: The live check, with O(probe=true); null for a Provider whose health checks are disabled.
      type: dict
      returned: when O(probe=true)
      contains:
        connectivity: {description: "C(status) Connected or Disconnected, C(endpoint), C(latency_ms).", type: dict,
                       returned: always}
        authentication: {description: "C(status) Authenticated, Failed or Unknown.", type: dict, returned: always}
        capabilities: {description: "What the backend supports, with C(supported_operations).", type: dict,
                       returned: always}
        resource_usage: {description: "C(vms), total C(cpu) and C(memory_mib), from the provider's list call.",
                         type: dict, returned: always}
        health_score: {description: "0-100; 40 for connectivity, 30 for authentication, 30 for listing VMs.", type: int,
                       returned: always}
        message: {description: "Why the probe fell short, if it did.", type: str, returned: always}
"""

from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.probe import (
    probe,
    probe_runtime,
    runtime_endpoint,
    secret_values,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.provider import check_name
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.resources import provider_type_of
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun


def _probe(m, provider):
    spec = provider["spec"]
    if (spec.get("healthCheck") or {}).get("enabled") is False:
        return None
    namespace = provider["metadata"]["namespace"]
    if m.params["probe_through"] == "runtime":
        tls = spec["runtime"]["service"]["tls"]
        endpoint = runtime_endpoint(provider)
        if not tls.get("enabled", True):
            return probe_runtime(provider, endpoint, None)
        secret = tls["secretRef"]["name"]
        material = secret_values(m.kube, namespace, secret)
        return probe_runtime(provider, endpoint, material) if material else _unprobed(endpoint, secret)
    secret = spec["credentialSecretRef"]["name"]
    credentials = secret_values(m.kube, namespace, secret)
    return probe(provider, credentials) if credentials is not None else _unprobed(spec["endpoint"], secret)


def _unprobed(endpoint, secret):
    return {"connectivity": {"status": "Disconnected", "endpoint": endpoint, "latency_ms": None},
            "authentication": {"status": "Unknown"}, "capabilities": None, "resource_usage": None,
            "health_score": 0, "message": "the Secret '%s' does not exist" % secret}


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = m.params
    if p["namespace"]:
        check_name(p["namespace"], "namespace")
    if p["name"]:
        check_name(p["name"], "name", 253)
        if not p["namespace"]:
            raise SpecError("give the namespace of the Provider named '%s'" % p["name"], option="namespace")
        found = m.kube.get("Provider", p["name"], p["namespace"])
        providers = [found] if found else []
    else:
        try:
            providers = m.kube.list("Provider", p["namespace"], p["label_selector"])
        except SpecError as err:
            # The API server's 400 for a list is about the one thing the request chose: the selector.
            raise SpecError(err.msg, option="label_selector" if p["label_selector"] else None) from None
    providers.sort(key=lambda obj: (obj["metadata"]["namespace"], obj["metadata"]["name"]))
    result = []
    for provider in providers:
        entry = {"name": provider["metadata"]["name"], "namespace": provider["metadata"]["namespace"],
                 "type": provider_type_of(provider), "endpoint": provider["spec"]["endpoint"],
                 "spec": provider["spec"], "status": provider.get("status") or {}}
        if p["probe"]:
            entry["probe"] = _probe(m, provider)
        result.append(entry)
    return {"changed": False, "providers": result}


# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        "name": {"type": "str"},
        "namespace": {"type": "str"},
        "label_selector": {"type": "str"},
        "probe": {"type": "bool", "default": False},
        "probe_through": {"type": "str", "default": "direct", "choices": ["direct", "runtime"]},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
