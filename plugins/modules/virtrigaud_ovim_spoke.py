#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_ovim_spoke
short_description: Deploy the OVIM spoke agent on a Kubernetes cluster
version_added: 0.3.0
description:
  - Deploys the collection's OVIM spoke agent (the runtime image's C(spoke) command) so that an OVIM hub manages
    the cluster's KubeVirt VMs and VDCs through it.
  - Writes the namespace, a ServiceAccount, a ClusterRole with exactly what the agent calls and its binding, a
    Secret with the hub's token and CA, a Deployment of one replica (non-root, read-only root filesystem, all
    capabilities dropped, probes on C(/health/live) and C(/health/ready)), a Service for the hub's pushes and
    a NetworkPolicy, all named C(ovim-spoke-agent) (the cluster-scoped ones C(ovim-spoke-agent-<namespace>)).
  - The reports' C(callback_url) is the Service's address.
  - The pod template carries the annotation C(virtrigaud.core/credentials-checksum), a digest of the Secret as
    stored keyed with its uid, so that a new token or CA rolls the agent's pod.
  - The role C(virtrigaud.core.ovim_spoke) wraps this module.
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
    details:
      - The API server computes each write as a dry run.
      - While the namespace does not exist, the objects in it are predicted as created, as sent.
  diff_mode:
    support: full
    details: The Secret shows its keys only, never their values.
  idempotent:
    support: full
    description: When run twice with the same options, the second run reports no change.
options:
  namespace:
    description: The namespace of the agent; created when missing, kept by O(state=absent).
    type: str
    default: ovim-system
  state:
    description: V(present) deploys or updates the agent; V(absent) removes every object but the namespace.
    type: str
    choices: [present, absent]
    default: present
  image:
    description:
      - The collection's runtime image (C(runtime/Containerfile)), the same one the provider runtime runs.
      - Required with O(state=present).
    type: str
  image_pull_secrets:
    description: Secrets in O(namespace) to pull O(image) with.
    type: list
    elements: str
    default: []
  agent_id:
    description: The id the hub knows this agent by (C(OVIM_AGENT_ID)). Required with O(state=present).
    type: str
  cluster_id:
    description: The cluster's id at the hub (C(OVIM_CLUSTER_ID)). Required with O(state=present).
    type: str
  zone_id:
    description: The zone's id (C(OVIM_ZONE_ID)); the cluster's id when not given.
    type: str
  hub_endpoint:
    description: The hub's URL, such as C(https://ovim-hub.example.com:8443). Required with O(state=present).
    type: str
  hub_token:
    description: The bearer token the agent sends to the hub and requires of pushes; kept in the Secret.
    type: str
  hub_tls_insecure:
    description: Do not check the hub's certificate. Prefer O(hub_ca).
    type: bool
    default: false
  hub_ca:
    description: The CA certificate (PEM) that signed the hub's certificate; kept in the Secret and mounted.
    type: str
  log_level:
    description: The agent's log level.
    type: str
    choices: [debug, info, warning, error]
    default: info
  report_interval:
    description: Seconds between status reports.
    type: int
    default: 30
  push_auth:
    description:
      - V(token) refuses pushed operations without the hub's token; V(none) accepts them, as the upstream hub
        sends them (then keep the NetworkPolicy).
    type: str
    choices: [token, none]
    default: token
  templates:
    description: The catalogue of OVIM template names to KubeVirt images (a PVC or a containerDisk).
    type: dict
    default: {}
  network_policy:
    description: Admit traffic only to the local API's port.
    type: bool
    default: true
  network_policy_namespaces:
    description: Namespaces the NetworkPolicy admits (the hub's, when it runs in the cluster); any when empty.
    type: list
    elements: str
    default: []
  wait:
    description:
      - Wait until the Deployment has rolled out.
      - Needs a cluster that runs pods; set V(false) where none does.
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait for the rollout.
    type: int
    default: 300
seealso:
  - module: virtrigaud.core.virtrigaud_spoke_info
"""

EXAMPLES = r"""
- name: Deploy the spoke agent of cluster east-1
  virtrigaud.core.virtrigaud_ovim_spoke:
    image: registry.example.com/virtrigaud/provider-runtime:0.3.0
    agent_id: spoke-east-1
    cluster_id: east-1
    hub_endpoint: https://ovim-hub.example.com:8443
    hub_token: "{{ ovim_hub_token }}"
    hub_ca: "{{ lookup('ansible.builtin.file', 'ovim-hub-ca.pem') }}"
    templates:
      fedora: quay.io/containerdisks/fedora:40

- name: Remove it
  virtrigaud.core.virtrigaud_ovim_spoke:
    state: absent
"""

RETURN = r"""
objects:
  description:
    - Each object written or removed, in order, with whether it changed.
    - Every Kubernetes module of the collection returns its objects in this shape.
  returned: always
  type: list
  elements: dict
  contains:
    kind: {description: The object's kind., type: str, returned: always}
    name: {description: Its name., type: str, returned: always}
    namespace: {description: Its namespace (null when cluster-scoped)., type: str, returned: always}
    changed: {description: "Whether the run changed it (would change it, in check mode).", type: bool, returned: always}
  sample: [{kind: Deployment, name: ovim-spoke-agent, namespace: ovim-system, changed: true}]
deployment:
  description: The Deployment as stored (as it would be, in check mode); null when absent.
  returned: always
  type: dict
cluster_role:
  description: The ClusterRole's rules as stored; null when absent.
  returned: always
  type: list
  elements: dict
"""

from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import spoke
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import comparable
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.converge import Request, Wait, converge
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.provider import check_name
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.runtime import rolled_out
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.spoke_client import (
    SecretChecksum,
    UnwrittenNamespace,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun


def _options(p: dict[str, Any]) -> spoke.SpokeOptions:
    options = spoke.SpokeOptions(
        namespace=p["namespace"], image=p["image"], agent_id=p["agent_id"], cluster_id=p["cluster_id"],
        zone_id=p["zone_id"], hub_endpoint=p["hub_endpoint"], hub_token=p["hub_token"],
        hub_tls_insecure=p["hub_tls_insecure"], hub_ca=p["hub_ca"], log_level=p["log_level"],
        report_interval=p["report_interval"], push_auth=p["push_auth"], templates=dict(p["templates"]),
        image_pull_secrets=tuple(p["image_pull_secrets"]), network_policy=p["network_policy"],
        network_policy_namespaces=tuple(p["network_policy_namespaces"]))
    spoke.check_options(options)
    return options


def _request(m: VirtrigaudRun) -> Request:
    p = m.params
    if p["state"] == "absent":
        return Request(delete=spoke.removed(p["namespace"]))
    options = _options(p)
    waits = [Wait("Deployment", spoke.NAME, p["namespace"], rolled_out,
                  "the rollout of Deployment %s/%s" % (p["namespace"], spoke.NAME))] if p["wait"] else []
    prune = [] if options.network_policy else [("NetworkPolicy", spoke.NAME, p["namespace"])]
    return Request(apply=spoke.spoke_objects(options), prune=prune, waits=waits, wait_timeout=p["wait_timeout"])


def run(m: VirtrigaudRun) -> dict[str, Any]:
    check_name(m.params["namespace"], "namespace")
    request = _request(m)
    outcome = converge(SecretChecksum(UnwrittenNamespace(m.kube, m.params["namespace"])), request, m.check_mode)
    role = outcome.current("ClusterRole", spoke.cluster_name(m.params["namespace"]))
    result: dict[str, Any] = {"changed": outcome.changed, "objects": outcome.objects(),
                              "deployment": comparable(outcome.current("Deployment", spoke.NAME)),
                              "cluster_role": (role or {}).get("rules")}
    if m.diff_mode:
        result["diff"] = outcome.diff()
    return result


OPTION_RULES: dict[str, Any] = {
    "required_if": [("state", "present", ("image", "agent_id", "cluster_id", "hub_endpoint"))],
}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        "namespace": {"type": "str", "default": "ovim-system"},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "image": {"type": "str"},
        "image_pull_secrets": {"type": "list", "elements": "str", "default": [], "no_log": False},
        "agent_id": {"type": "str"},
        "cluster_id": {"type": "str"},
        "zone_id": {"type": "str"},
        "hub_endpoint": {"type": "str"},
        "hub_token": {"type": "str", "no_log": True},
        "hub_tls_insecure": {"type": "bool", "default": False},
        "hub_ca": {"type": "str"},
        "log_level": {"type": "str", "default": "info", "choices": ["debug", "info", "warning", "error"]},
        "report_interval": {"type": "int", "default": 30},
        "push_auth": {"type": "str", "default": "token", "choices": ["token", "none"]},
        "templates": {"type": "dict", "default": {}},
        "network_policy": {"type": "bool", "default": True},
        "network_policy_namespaces": {"type": "list", "elements": "str", "default": []},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 300},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
