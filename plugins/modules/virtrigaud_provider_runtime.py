#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_provider_runtime
short_description: Deploy the provider runtime that serves a VirtRigaud Provider
version_added: 0.1.0
description:
  - Reads a C(Provider) resource and writes what upstream's Provider controller would, so a cluster without
    VirtRigaud's manager (or an Ansible-driven one) gets the same runtime.
  - A Deployment and a Service named C(virtrigaud-provider-<namespace>-<name>) with upstream's labels, selector,
    ports C(grpc) and C(metrics), arguments, environment, credentials at C(/etc/virtrigaud/credentials) and TLS at
    C(/etc/virtrigaud/tls); non-root, read-only root filesystem, all capabilities dropped; HTTP probes, a
    preStop hook and rolling updates.
  - The pod template carries the annotation C(virtrigaud.core/credentials-checksum), a keyed digest of the
    credentials Secret's data (never the data), so that a change of credentials rolls the pods.
  - Optionally a dedicated ServiceAccount that may only read the Provider's Secrets, a NetworkPolicy and a
    PodDisruptionBudget; replicas above one spread across nodes.
  - The Provider's status is then written as upstream reports it (runtime phase and endpoint, C(TLSConfigured),
    C(ProviderRuntimeReady), C(ProviderAvailable)).
  - The role C(virtrigaud.core.provider_runtime) wraps this module.
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
    support: full
  idempotent:
    support: full
    description: When run twice with the same options, the second run reports no change.
options:
  name:
    description: Name of the Provider.
    type: str
    required: true
  namespace:
    description: Namespace of the Provider; the runtime goes there too.
    type: str
    default: default
  state:
    description: V(present) deploys or updates the runtime; V(absent) removes every object this module writes.
    type: str
    choices: [present, absent]
    default: present
  flags:
    description:
      - Which command line the container gets.
      - V(seed) gives C(--grpc-addr), C(--metrics-addr), C(--provider-type), C(--provider-endpoint) and
        C(--tls-enabled); V(upstream) gives upstream's C(--port) and C(--health-port).
      - V(auto) picks V(upstream) for upstream's images (C(ghcr.io/projectbeskar/virtrigaud/...)), else V(seed).
    type: str
    choices: [auto, seed, upstream]
    default: auto
  image_pull_secrets:
    description:
      - Names of Secrets in the Provider's namespace that hold the credentials to pull the runtime's image, as the
        pod's C(imagePullSecrets).
      - They come after those of the Provider's C(spec.runtime.imagePullSecrets).
    type: list
    elements: str
    default: []
  service_account:
    description: Run the pods as a dedicated ServiceAccount allowed only to read the Provider's Secrets.
    type: bool
    default: true
  network_policy:
    description: Admit traffic to the runtime's ports only from O(network_policy_namespaces).
    type: bool
    default: false
  network_policy_namespaces:
    description: Namespaces allowed by the NetworkPolicy; the Provider's own namespace when empty.
    type: list
    elements: str
    default: []
  pod_disruption_budget:
    description: Keep all but one replica up during voluntary disruptions (only with more than one replica).
    type: bool
    default: false
  anti_affinity:
    description: Prefer spreading replicas over nodes when there is more than one.
    type: bool
    default: true
  update_status:
    description: Write the Provider's status as upstream's controller does.
    type: bool
    default: true
  wait:
    description:
      - Wait until the rollout is complete (every replica updated and available).
      - Needs a cluster that runs pods; set V(false) where none does.
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait for the rollout.
    type: int
    default: 300
seealso:
  - module: virtrigaud.core.virtrigaud_provider
"""

EXAMPLES = r"""
- name: Deploy the runtime of the Provider vsphere-prod, with a NetworkPolicy
  virtrigaud.core.virtrigaud_provider_runtime:
    name: vsphere-prod
    namespace: virtrigaud
    network_policy: true
    network_policy_namespaces: [virtrigaud-system]

- name: Deploy it from a private registry
  virtrigaud.core.virtrigaud_provider_runtime:
    name: vsphere-prod
    namespace: virtrigaud
    image_pull_secrets: [registry-credentials]

- name: Remove it
  virtrigaud.core.virtrigaud_provider_runtime:
    name: vsphere-prod
    namespace: virtrigaud
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
    namespace: {description: Its namespace., type: str, returned: always}
    changed: {description: "Whether the run changed it (would change it, in check mode).", type: bool, returned: always}
  sample: [{kind: Deployment, name: virtrigaud-provider-virtrigaud-vsphere-prod, namespace: virtrigaud, changed: true}]
deployment:
  description: The Deployment as stored (as it would be, in check mode); null when absent.
  returned: always
  type: dict
status:
  description: The Provider's status after the run.
  returned: when O(state=present)
  type: dict
  sample:
    healthy: false
    runtime:
      phase: Pending
      endpoint: "virtrigaud-provider-virtrigaud-vsphere-prod.virtrigaud.svc.cluster.local:9443"
"""

import datetime
from typing import Any, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import NotFoundError, SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import provider as objects
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import runtime
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import comparable
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.converge import Outcome, Request, Wait, converge
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.provider import check_name
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.resources import provider_type_of
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun


def _options(p: dict[str, Any]) -> runtime.RuntimeOptions:
    pull = objects.pull_secrets(p["image_pull_secrets"], "image_pull_secrets")
    return runtime.RuntimeOptions(flags=p["flags"], service_account=p["service_account"],
                                  network_policy=p["network_policy"],
                                  network_policy_namespaces=tuple(p["network_policy_namespaces"]),
                                  pod_disruption_budget=p["pod_disruption_budget"], anti_affinity=p["anti_affinity"],
                                  image_pull_secrets=tuple(ref["name"] for ref in pull))


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _patch_status(m: VirtrigaudRun, provider: dict[str, Any], status: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    return m.kube.apply(runtime.status_patch(provider, status), dry_run=dry_run, subresource="status")


def _write_status(m: VirtrigaudRun, provider: dict[str, Any], deployment: Optional[dict[str, Any]],
                  tls_reason: str) -> tuple[Any, bool]:
    status = runtime.runtime_status(provider, (deployment or {}).get("status"), tls_reason, _now())
    if runtime.without_clock(status) == runtime.without_clock(provider.get("status") or {}):
        return provider.get("status"), False
    return _patch_status(m, provider, status, m.check_mode).get("status"), True


def _credentials_checksum(m: VirtrigaudRun, provider: dict[str, Any]) -> str:
    name = provider["spec"]["credentialSecretRef"]["name"]
    secret = m.kube.get("Secret", name, provider["metadata"]["namespace"])
    if secret is None:
        raise NotFoundError("the Secret '%s' named by the Provider's spec.credentialSecretRef does not exist in "
                            "namespace '%s'; the runtime's pods could not start without it"
                            % (name, provider["metadata"]["namespace"]))
    return runtime.credentials_checksum(secret)


def _tls_reason(m: VirtrigaudRun, provider: dict[str, Any]) -> str:
    """The TLS gate's reason; a refusal is recorded in the Provider's status, as upstream does, then raised."""
    try:
        return runtime.tls_gate(provider)[1]
    except SpecError as err:
        if m.params["update_status"] and not m.check_mode:
            _patch_status(m, provider, runtime.tls_refused_status(err.details["reason"], err.msg, _now()), False)
        raise


def present(m: VirtrigaudRun) -> tuple[Outcome, bool, dict[str, Any]]:
    p = m.params
    options = _options(p)
    provider = m.kube.get("Provider", p["name"], p["namespace"])
    if provider is None:
        if m.check_mode:
            m.warn("Provider %s/%s does not exist yet; a real run needs it" % (p["namespace"], p["name"]))
            return Outcome((), {}), True, {"deployment": None, "status": None}
        raise NotFoundError("no Provider '%s' in namespace '%s'; create it first with virtrigaud_provider"
                            % (p["name"], p["namespace"]), option="name")
    tls_reason = _tls_reason(m, provider)
    wanted = runtime.runtime_objects(provider, options, _credentials_checksum(m, provider))
    name = runtime.object_name(provider)
    kept = {obj["kind"] for obj in wanted}
    waits = [Wait("Deployment", name, p["namespace"], runtime.rolled_out,
                  "the rollout of Deployment %s/%s" % (p["namespace"], name))] if p["wait"] else []
    prune = [(kind, name, p["namespace"]) for kind in runtime.removable_kinds(provider_type_of(provider))
             if kind not in kept]
    outcome = converge(m.kube, Request(apply=wanted, prune=prune, waits=waits, wait_timeout=p["wait_timeout"]),
                       m.check_mode)
    deployment = outcome.current("Deployment", name)
    status, status_changed = (_write_status(m, provider, deployment, tls_reason) if p["update_status"]
                              else (provider.get("status"), False))
    return outcome, status_changed, {"deployment": comparable(deployment), "status": status}


def absent(m: VirtrigaudRun) -> tuple[Outcome, bool, dict[str, Any]]:
    p = m.params
    provider = m.kube.get("Provider", p["name"], p["namespace"])
    name = runtime.object_name({"metadata": {"name": p["name"], "namespace": p["namespace"]}})
    kinds = ("Deployment", "Service") + runtime.removable_kinds(provider_type_of(provider) if provider else None)
    outcome = converge(m.kube, Request(delete=[(kind, name, p["namespace"]) for kind in kinds]), m.check_mode)
    if provider is not None and p["update_status"] and provider.get("status") and outcome.changed:
        _patch_status(m, provider, runtime.REMOVED_STATUS, m.check_mode)
    return outcome, False, {"deployment": None}


def _check_names(p: dict[str, Any]) -> None:
    """Names that cannot be Kubernetes names are refused before the Provider is looked up."""
    check_name(p["name"], "name", 253)
    check_name(p["namespace"], "namespace")
    for index, namespace in enumerate(p["network_policy_namespaces"]):
        check_name(namespace, "network_policy_namespaces[%d]" % index)


def run(m: VirtrigaudRun) -> dict[str, Any]:
    _check_names(m.params)
    outcome, status_changed, result = (present if m.params["state"] == "present" else absent)(m)
    result.update(changed=status_changed or outcome.changed, objects=outcome.objects())
    if m.diff_mode:
        result["diff"] = outcome.diff()
    return result


# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        "name": {"type": "str", "required": True},
        "namespace": {"type": "str", "default": "default"},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "flags": {"type": "str", "default": "auto", "choices": ["auto", "seed", "upstream"]},
        "image_pull_secrets": {"type": "list", "elements": "str", "default": [], "no_log": False},
        "service_account": {"type": "bool", "default": True},
        "network_policy": {"type": "bool", "default": False},
        "network_policy_namespaces": {"type": "list", "elements": "str", "default": []},
        "pod_disruption_budget": {"type": "bool", "default": False},
        "anti_affinity": {"type": "bool", "default": True},
        "update_status": {"type": "bool", "default": True},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 300},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
