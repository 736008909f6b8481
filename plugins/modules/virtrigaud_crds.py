#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_crds
short_description: Install, upgrade or remove CustomResourceDefinitions and wait until they are established
version_added: 0.1.0
description:
  - Applies each definition with server-side apply (field manager C(virtrigaud.core)), so installing the same
    definitions again changes nothing and a newer version upgrades them in place.
  - Waits until every definition reports C(Established) and C(NamesAccepted).
  - The role C(virtrigaud.core.crds) calls this module with the VirtRigaud CRDs it ships.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.connection.unused
  - virtrigaud.core.kubernetes
  - virtrigaud.core.attributes
attributes:
  check_mode:
    support: full
    details: The API server computes each write as a dry run.
  diff_mode:
    support: partial
    details: Reports the names and versions of the definitions that would change, not their schemas.
  idempotent:
    support: full
    description: When run twice with the same options, the second run reports no change.
options:
  definitions:
    description:
      - The CustomResourceDefinition objects, as parsed YAML.
    type: list
    elements: dict
    required: true
  state:
    description:
      - V(present) installs or upgrades them; V(absent) deletes them, which deletes every resource of those kinds.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Wait until the definitions are established (or gone, with O(state=absent)).
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait.
    type: int
    default: 60
seealso:
  - module: virtrigaud.core.virtrigaud_provider
"""

EXAMPLES = r"""
- name: Install the CRDs kept beside the playbook
  virtrigaud.core.virtrigaud_crds:
    definitions:
      - "{{ lookup('ansible.builtin.file', 'crds/providers.yaml') | ansible.builtin.from_yaml }}"
      - "{{ lookup('ansible.builtin.file', 'crds/virtualmachines.yaml') | ansible.builtin.from_yaml }}"
"""

RETURN = r"""
crds:
  description: Each definition by name, with its served versions, whether it changed, and whether it is established.
  returned: always
  type: list
  elements: dict
  sample: [{name: providers.infra.virtrigaud.io, versions: [v1beta1], changed: false, established: true}]
"""

from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import condition
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import Deadline

KIND = "CustomResourceDefinition"


def established(obj):
    return all((condition(obj, kind) or {}).get("status") == "True" for kind in ("Established", "NamesAccepted"))


def _checked(definitions):
    for index, definition in enumerate(definitions):
        if definition.get("kind") != KIND or not (definition.get("metadata") or {}).get("name"):
            raise SpecError("item %d is not a named %s" % (index, KIND), option="definitions")
    return definitions


def _entry(name, change, obj):
    versions = [version["name"] for version in ((obj or {}).get("spec") or {}).get("versions") or []]
    return {"name": name, "versions": versions, "changed": change.changed, "established": established(obj)}


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = m.params
    definitions = _checked(p["definitions"])
    deadline = Deadline(p["wait_timeout"])
    if p["state"] == "present":
        changes = m.kube.converge(definitions, dry_run=m.check_mode)
        settled = [change.after for change in changes]
        if p["wait"] and not m.check_mode:
            settled = [m.kube.wait_for(KIND, change.name, None, established, deadline,
                                       "%s %s to be established" % (KIND, change.name)) for change in changes]
    else:
        changes = m.kube.remove([(KIND, definition["metadata"]["name"], None) for definition in definitions],
                                dry_run=m.check_mode)
        settled = [None] * len(changes)
        if p["wait"] and not m.check_mode:
            for change in changes:
                m.kube.wait_for(KIND, change.name, None, lambda obj: obj is None, deadline,
                                "%s %s to be deleted" % (KIND, change.name))
    result: dict[str, Any] = {"changed": any(change.changed for change in changes),
                              "crds": [_entry(change.name, change, obj) for change, obj in zip(changes, settled)]}
    if m.diff_mode:
        result["diff"] = {
            "before": {change.name: _entry(change.name, change, change.before)["versions"] if change.before else None
                       for change in changes if change.changed},
            "after": {entry["name"]: entry["versions"] if p["state"] == "present" else None
                      for entry in result["crds"] if entry["changed"]},
        }
    return result


# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        "definitions": {"type": "list", "elements": "dict", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 60},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
