#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_vmset_info
short_description: Read a VM set's members and its status
version_added: 0.1.0
description:
  - Returns the members of a set made by M(virtrigaud.core.virtrigaud_vmset), from one bulk listing, and the
    set's status as upstream's VMSet reports it (replicas, ready, current, updated and revisions).
  - Give the set's O(template) and O(labels) to learn which revision is the update revision and how many members
    carry it; without them, the revision most members carry counts as both.
  - Never changes anything.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.kubernetes
  - virtrigaud.core.kubernetes.unused
  - virtrigaud.core.vm_template
  - virtrigaud.core.attributes
  - virtrigaud.core.attributes.info_module
options:
  name:
    description: The set's name.
    type: str
    required: true
  labels:
    description: The set's labels, as given to M(virtrigaud.core.virtrigaud_vmset).
    type: dict
    default: {}
  ready_requires_ip:
    description: A member counts as ready only once it reports an IP address.
    type: bool
    default: false
seealso:
  - module: virtrigaud.core.virtrigaud_vmset
"""

EXAMPLES = r"""
- name: Where the web set stands
  virtrigaud.core.virtrigaud_vmset_info:
    name: web
  register: web

- name: Addresses of its ready members
  ansible.builtin.debug:
    msg: "{{ web.members | selectattr('ready') | map(attribute='ip_addresses') | flatten }}"
"""

RETURN = r"""
members:
  description: The members, by ordinal.
  returned: always
  type: list
  elements: dict
  sample: [{name: web-0, ordinal: 0, id: 9b2e, revision: 3f9a1c2b7d, power_state: "On", ready: true,
            ip_addresses: [192.168.122.31]}]
status:
  description: The set's status as upstream's VMSet reports it.
  returned: always
  type: dict
  sample: {replicas: 3, ready_replicas: 3, current_replicas: 3, updated_replicas: 3,
           current_revision: 3f9a1c2b7d, update_revision: 3f9a1c2b7d, revisions: [3f9a1c2b7d]}
"""

from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec, vm_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.vmset import members_of, parse_set, set_status


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = m.params
    probe = parse_set({"name": p["name"], "replicas": 0, "template": p["template"] or {}, "labels": p["labels"],
                       "ready_requires_ip": p["ready_requires_ip"]})
    members = members_of(probe, m.provider.list_states())
    ordinals = [member.ordinal for member in members]
    spec = parse_set({"name": p["name"], "replicas": max(ordinals) - min(ordinals) + 1 if ordinals else 0,
                      "ordinals": {"start": min(ordinals) if ordinals else 0}, "template": p["template"] or {},
                      "labels": p["labels"], "ready_requires_ip": p["ready_requires_ip"]})
    status = set_status(spec, members)
    status.pop("desired_replicas")
    if p["template"] is None:
        status.update(update_revision=status["current_revision"], updated_replicas=status["current_replicas"])
    return {"changed": False, "members": [member.to_dict(spec.require_ip) for member in members], "status": status}


# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        "name": {"type": "str", "required": True},
        "template": {"type": "dict", "options": vm_spec()},
        "labels": {"type": "dict", "default": {}},
        "ready_requires_ip": {"type": "bool", "default": False},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
