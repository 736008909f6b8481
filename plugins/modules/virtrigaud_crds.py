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
objects:
  description:
    - Each definition, with whether it changed, its served versions, and whether it is established.
    - Every Kubernetes module of the collection returns its objects in this shape.
  returned: always
  type: list
  elements: dict
  contains:
    kind: {description: "The object's kind, C(CustomResourceDefinition).", type: str, returned: always}
    name: {description: Its name., type: str, returned: always}
    namespace: {description: Always null (definitions belong to no namespace)., type: str, returned: always}
    changed: {description: "Whether the run changed it (would change it, in check mode).", type: bool, returned: always}
    versions: {description: Its served versions., type: list, elements: str, returned: always}
    established: {description: Whether it reports C(Established) and C(NamesAccepted)., type: bool, returned: always}
  sample: [{kind: CustomResourceDefinition, name: providers.infra.virtrigaud.io, namespace: null, changed: false,
            versions: [v1beta1], established: true}]
crds:
  description:
    - Each definition by name, with its served versions, whether it changed, and whether it is established.
    - Deprecated, and removed in release 0.3.0; use RV(objects).
  returned: always
  type: list
  elements: dict
  sample: [{name: providers.infra.virtrigaud.io, versions: [v1beta1], changed: false, established: true}]
"""

from typing import Any, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Change, condition
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.converge import (
    Request,
    Wait,
    converge,
    gone,
    merged_diff,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun

KIND = "CustomResourceDefinition"


def established(obj: Optional[dict[str, Any]]) -> bool:
    return all((condition(obj, kind) or {}).get("status") == "True" for kind in ("Established", "NamesAccepted"))


def _checked(definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for index, definition in enumerate(definitions):
        if definition.get("kind") != KIND or not (definition.get("metadata") or {}).get("name"):
            raise SpecError("item %d is not a named %s" % (index, KIND), option="definitions")
    return definitions


def _versions(obj: Optional[dict[str, Any]]) -> Optional[list[str]]:
    """The served versions; None for a definition that is absent."""
    if obj is None:
        return None
    return [version["name"] for version in (obj.get("spec") or {}).get("versions") or []]


def _detail(change: Change, obj: Optional[dict[str, Any]]) -> dict[str, Any]:
    return {"versions": _versions(obj) or [], "established": established(obj)}


def _view(change: Change) -> tuple[Optional[list[str]], Optional[list[str]]]:
    return _versions(change.before), _versions(change.after)


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = m.params
    definitions = _checked(p["definitions"])
    present = p["state"] == "present"
    names = [definition["metadata"]["name"] for definition in definitions]
    waits = [Wait(KIND, name, None, established if present else gone,
                  "%s %s to be %s" % (KIND, name, "established" if present else "deleted")) for name in names]
    outcome = converge(m.kube, Request(apply=definitions if present else (),
                                       delete=() if present else [(KIND, name, None) for name in names],
                                       waits=waits if p["wait"] else (), wait_timeout=p["wait_timeout"]),
                       m.check_mode)
    objects = outcome.objects(_detail)
    result = {"changed": outcome.changed, "objects": objects,
              "crds": [{key: entry[key] for key in ("name", "versions", "changed", "established")}
                       for entry in objects]}
    if m.diff_mode:
        # The former keys, the definitions' bare names, stay beside the Kind/name ones for a release.
        named = {side: {key.split("/", 1)[1]: value for key, value in entries.items()}
                 for side, entries in outcome.diff(_view).items()}
        result["diff"] = merged_diff(named, outcome.diff(_view))
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
