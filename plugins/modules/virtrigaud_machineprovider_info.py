#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_machineprovider_info
short_description: Read vitistack MachineProviders and their status, and optionally probe one live
version_added: 0.2.0
description:
  - Lists the cluster's vitistack C(MachineProvider) resources (C(machineproviders.vitistack.io/v1alpha1)), or
    returns one by name, with the status written to them.
  - With O(probe=true), reaches the backend of the MachineProvider named by O(name) through the collection's
    provider layer, with the task's connection options for its C(spec.providerType) (V(libvirt), V(vsphere),
    V(proxmox) or V(kubevirt)), and returns the status that C(virtrigaud.core.virtrigaud_machineprovider) with
    C(update_status=true) would write, and what it discovered. Nothing is written.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection.beside_selector
  - virtrigaud.core.kubernetes
  - virtrigaud.core.attributes
  - virtrigaud.core.attributes.info_module
options:
  name:
    description: Return only the MachineProvider of this name.
    type: str
  label_selector:
    description: Kubernetes label selector, such as V(env=prod).
    type: str
  probe:
    description: Probe the backend of the MachineProvider O(name) live, and return RV(probe). Needs O(name).
    type: bool
    default: false
  provider_type:
    description: Accepted for C(module_defaults) of the group, and not used; the type is the MachineProvider's.
    type: str
  uri:
    description:
      - The backend's address for O(probe=true), read with the other connection options of the MachineProvider's
        type; unused otherwise.
    type: str
    aliases: [endpoint]
notes:
  - The hypervisor connection options are read only with O(probe=true), and only those of the MachineProvider's
    type.
seealso:
  - module: virtrigaud.core.virtrigaud_machineprovider
"""

EXAMPLES = r"""
- name: Every MachineProvider with its phase
  virtrigaud.core.virtrigaud_machineprovider_info:
  register: mps

- name: Those that are not Ready
  ansible.builtin.debug:
    msg: "{{ mps.machine_providers | rejectattr('phase', '==', 'Ready') | map(attribute='name') }}"

- name: Probe one live, without writing its status
  virtrigaud.core.virtrigaud_machineprovider_info:
    name: libvirt-oslo
    probe: true
    uri: qemu:///system
  register: libvirt_oslo
"""

RETURN = r"""
machine_providers:
  description: The MachineProviders found, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Name., type: str, returned: always}
    provider_type: {description: C(spec.providerType)., type: str, returned: always, sample: libvirt}
    display_name: {description: C(spec.displayName)., type: str, returned: always}
    region: {description: C(spec.region)., type: str, returned: always}
    phase: {description: "C(status.phase); null when nothing wrote a status.", type: str, returned: always}
    spec: {description: The spec., type: dict, returned: always}
    status: {description: "The status as written (empty when none was).", type: dict, returned: always}
probe:
  description: The live probe of O(name)'s backend, with O(probe=true).
  returned: when O(probe=true)
  type: dict
  contains:
    status: {description: The status the probe tells (as it would be written)., type: dict, returned: always}
    status_would_change:
      description: Whether C(virtrigaud_machineprovider) with C(update_status=true) would rewrite the stored status.
      type: bool
      returned: always
    discovery:
      description: What the backend reported, as C(discovery) of virtrigaud_machineprovider; null when it failed.
      type: dict
      returned: always
"""

import datetime
import os
from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import NotFoundError, SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import machineprovider_discovery as found
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import machineprovider_status as live
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.machineprovider import KIND
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider


def summary(item: dict[str, Any]) -> dict[str, Any]:
    spec = item.get("spec") or {}
    status = item.get("status") or {}
    return {"name": item["metadata"]["name"], "provider_type": spec.get("providerType"),
            "display_name": spec.get("displayName"), "region": spec.get("region"), "phase": status.get("phase"),
            "spec": spec, "status": status}


def probe(m: VirtrigaudRun, item: dict[str, Any]) -> dict[str, Any]:
    spec = item.get("spec") or {}
    provider_type = found.check_discoverable(spec.get("providerType"), "probe")
    connection = live.connection_for(provider_type, m.params, os.environ)
    m.secret_values.update(connection.secrets)
    for warning in connection.foreign_warnings():
        m.warn(warning)
    with open_provider(connection.config) as provider:
        probed = live.probe(provider)
    now = datetime.datetime.now(datetime.timezone.utc)
    previous = item.get("status")
    status = live.status_of(probed, spec, previous, now)
    return {"status": status, "status_would_change": live.needs_write(previous, status, now, live.DEFAULT_MAX_AGE),
            "discovery": probed.discovery.to_dict() if probed.discovery is not None else None}


def run(m: VirtrigaudRun) -> dict[str, Any]:
    name = m.params.get("name")
    if m.params["probe"] and not name:
        raise SpecError("probes one MachineProvider; give its name", option="probe")
    if name:
        one = m.kube.get(KIND, name)
        items = [one] if one is not None else []
    else:
        items = m.kube.list(KIND, None, m.params.get("label_selector"))
    result: dict[str, Any] = {"changed": False, "machine_providers": sorted(
        (summary(item) for item in items), key=lambda entry: entry["name"])}
    if m.params["probe"]:
        if not items:
            raise NotFoundError("no MachineProvider '%s'" % name, option="name")
        result["probe"] = probe(m, items[0])
    return result


# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {}


def argument_spec() -> dict[str, Any]:
    spec = group_spec()
    spec["provider_type"] = {"type": "str"}
    return {**spec, "name": {"type": "str"}, "label_selector": {"type": "str"},
            "probe": {"type": "bool", "default": False}}


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
