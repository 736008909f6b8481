#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_spoke_info
short_description: Read the state of an OVIM spoke agent
version_added: 0.3.0
description:
  - Reads the local API of the collection's OVIM spoke agent (C(/health/status), C(/health/ready) and
    C(/metrics)) and returns its state, its last contact with the hub, its queue and its operations by type and
    outcome.
  - Give the agent's O(url), or the O(namespace) the C(virtrigaud.core.ovim_spoke) role deployed it in; then the
    module finds the agent's Service there and reads the agent through the Kubernetes API server's proxy, with
    the Kubernetes connection options (the kubeconfig's context of each cluster, say), so the agent's port need
    not be reachable from the controller.
  - Loop over the spokes of a fleet to check them all in one run.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.connection.unused
  - virtrigaud.core.kubernetes
  - virtrigaud.core.attributes
  - virtrigaud.core.attributes.info_module
options:
  url:
    description:
      - The agent's local API, such as C(http://ovim-spoke-agent.ovim-system.svc:8080) (the reports'
        C(callback_url)).
      - Exactly one of O(url) and O(namespace) is required.
    type: str
  namespace:
    description:
      - The namespace of the agent's Deployment, such as C(ovim-system); the agent is read through the API
        server's proxy to its Service C(ovim-spoke-agent), on the cluster that the Kubernetes connection options
        name.
      - The user needs C(get) on C(services/proxy) in that namespace.
    type: str
  timeout:
    description: Seconds to wait for each answer.
    type: int
    default: 10
seealso:
  - module: virtrigaud.core.virtrigaud_ovim_spoke
"""

EXAMPLES = r"""
- name: Read every spoke of the fleet
  virtrigaud.core.virtrigaud_spoke_info:
    url: "http://{{ item }}:8080"
  loop: "{{ groups['ovim_spokes'] }}"
  register: spokes

- name: Or by the Deployment's namespace, one kubeconfig context per cluster, through each API server
  virtrigaud.core.virtrigaud_spoke_info:
    namespace: ovim-system
    context: "{{ item }}"
  loop: [east-1, west-1, edge-7]
  register: spokes

- name: Fail on a spoke that has lost its hub or has results waiting
  ansible.builtin.assert:
    that:
      - item.spoke.state == 'Healthy'
      - item.spoke.results_pending == 0
    fail_msg: "{{ item.spoke.agent_id }}: {{ item.spoke.state }}, {{ item.spoke.hub_error }}"
  loop: "{{ spokes.results }}"
  loop_control: {label: "{{ item.spoke.agent_id }}"}
"""

RETURN = r"""
spoke:
  description: The agent as its local API describes it.
  returned: always
  type: dict
  contains:
    agent_id: {description: The id the hub knows it by., type: str, returned: always}
    cluster_id: {description: Its cluster's id., type: str, returned: always}
    zone_id: {description: Its zone's id., type: str, returned: always}
    version: {description: The agent's version., type: str, returned: always}
    state:
      description: C(Connecting), C(Healthy), C(Degraded), C(Unhealthy) or C(Disconnected).
      type: str
      returned: always
    status: {description: "The state as the hub sees it: healthy, degraded or unavailable.", type: str,
             returned: always}
    ready: {description: Whether C(/health/ready) answers 200 (the hub and the backend answer)., type: bool,
            returned: always}
    last_hub_contact: {description: When the hub last answered (RFC 3339); null before it ever did., type: str,
                       returned: always}
    hub_error: {description: Why the hub does not answer; null when it does., type: str, returned: always}
    backend_type: {description: The backend the agent runs VMs on., type: str, returned: always}
    backend_ok: {description: Whether the backend answered its last check., type: bool, returned: always}
    queue_depth: {description: Operations waiting or running., type: int, returned: always}
    results_pending: {description: Results not yet accepted by the hub., type: int, returned: always}
    vm_count: {description: VMs at the last report., type: int, returned: always}
    operations:
      description: Operations run since the agent started, by type, then by outcome (C(completed), C(failed)).
      type: dict
      returned: always
      sample: {create_vm: {completed: 3, failed: 0}, get_health: {completed: 12, failed: 0}}
    operations_total: {description: The operations by outcome over all types., type: dict, returned: always}
    metrics_enabled: {description: Whether C(/metrics) answered (else the counts come from the status)., type: bool,
                      returned: always}
    callback_url: {description: The address the agent gives the hub for pushes., type: str, returned: always}
    hub_endpoint: {description: The hub it reports to., type: str, returned: always}
    report_interval_seconds: {description: Seconds between reports., type: float, returned: always}
    log_level: {description: The agent's log level., type: str, returned: always}
    uptime_seconds: {description: Seconds since the agent started., type: int, returned: always}
    backend_message: {description: The backend's last check., type: str, returned: always}
"""

from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.provider import check_name
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.spoke_info import read_spoke, read_spoke_in


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = m.params
    if p["timeout"] < 1:
        raise SpecError("expected at least 1 second", option="timeout")
    if p["url"] is not None:
        return {"changed": False, "spoke": read_spoke(p["url"], float(p["timeout"]))}
    check_name(p["namespace"], "namespace")
    return {"changed": False, "spoke": read_spoke_in(m.kube, p["namespace"], float(p["timeout"]))}


OPTION_RULES: dict[str, Any] = {
    "mutually_exclusive": [("url", "namespace")],
    "required_one_of": [("url", "namespace")],
}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        "url": {"type": "str"},
        "namespace": {"type": "str"},
        "timeout": {"type": "int", "default": 10},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
