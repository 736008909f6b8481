#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_provider
short_description: Manage VirtRigaud Provider resources and their Secrets in Kubernetes
version_added: 0.1.0
description:
  - Creates, updates or removes a C(Provider) resource (C(infra.virtrigaud.io/v1beta1)), the Secret holding its
    hypervisor credentials, and the Secret holding its runtime's TLS material.
  - Objects are written with server-side apply under the field manager C(virtrigaud.core), so other managers'
    fields are left alone and a second run changes nothing.
  - Every option is checked against the upstream CRD's rules before anything is sent, so bad input fails with
    the option's name.
  - A change that is only in a Secret's content is reported as a change; the content itself is never returned.
  - The role C(virtrigaud.core.provider_runtime) deploys the runtime that serves the Provider.
  - The Provider's endpoint is O(uri) (alias O(endpoint)), the hypervisor's address as the upstream schema accepts
    it, such as V(https://vcenter.example.com/sdk), V(https://pve.example.com:8006), V(qemu:///system),
    V(qemu+ssh://root@kvm1/system) or V(grpc://host:port). It is required with O(state=present).
  - Of the other hypervisor connection options, only O(validate_certs) is used (as the Provider's
    C(insecureSkipVerify), inverted); the rest are accepted so that C(module_defaults) for the group can set them
    for a whole play.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.kubernetes
  - virtrigaud.core.attributes
attributes:
  check_mode:
    support: full
    details: The API server computes the result of each write as a dry run.
  diff_mode:
    support: full
    details: Secrets show their keys, never their values.
  idempotent:
    support: full
    description: When run twice with the same options, the second run reports no change.
options:
  name:
    description: Name of the Provider. Required unless O(definition) gives the Provider.
    type: str
  definition:
    description:
      - The Provider as an upstream VirtRigaud manifest (C(infra.virtrigaud.io/v1beta1)), the document C(kubectl
        apply) would take, instead of the options that build one - a mapping, a list holding one Provider, or
        YAML text.
      - It is checked against the CRD's schema before anything is written, so that what the API server would
        refuse is refused here, naming the field; an unquoted V(On)/V(Off)/V(yes)/V(no) where a string is wanted
        (which YAML 1.1 reads as a boolean) is refused with the quoting that keeps it a string. Then it is applied
        as written, in C(metadata.namespace) or V(default).
      - Refused together with any of O(name), O(namespace), O(type), O(uri), O(credentials_secret),
        O(insecure_skip_verify), O(defaults), O(rate_limit), O(health_check), O(runtime), O(labels) and
        O(annotations), which it replaces.
      - The Secret that C(spec.credentialSecretRef) names must exist, or O(credentials) writes it.
        O(state=absent) removes the Provider, and the Secrets this module created for it.
    type: raw
    version_added: 0.2.0
  namespace:
    description: Namespace of the Provider and its Secrets.
    type: str
    default: default
  state:
    description:
      - V(present) creates or updates the Provider and the Secrets the task gives.
      - V(absent) removes the Provider, and the Secrets this module created for it.
    type: str
    choices: [present, absent]
    default: present
  type:
    description:
      - The hypervisor type. Required with O(state=present).
      - V(kubevirt) is not in upstream's Provider CRD, whose API server refuses it. It is carried as
        C(spec.type=libvirt) with the annotation C(virtrigaud.io/provider-type=kubevirt) and C(PROVIDER_TYPE=kubevirt)
        last in C(spec.runtime.env), so that the runtime (this collection's) serves KubeVirt; O(uri) is then the
        in-cluster API server, such as V(https://kubernetes.default.svc). See the KubeVirt guide.
    type: str
    choices: [vsphere, libvirt, proxmox, firecracker, qemu, kubevirt]
  credentials:
    description:
      - The credential keys, written to the Secret C(<name>-credentials) (or O(credentials_secret)).
      - V(vsphere) needs C(username) and C(password).
      - V(proxmox) needs C(token_id) and C(token_secret), or C(username) and C(password); C(ssh_user),
        C(ssh_password) and C(ssh_privatekey) are optional.
      - V(libvirt) reads C(username), C(password), C(ssh-privatekey) and C(known_hosts), all optional.
      - V(kubevirt) reads none, since its runtime uses the pod's service account.
      - Mutually exclusive with an existing secret named by O(credentials_secret) alone.
    type: dict
  credentials_secret:
    description:
      - Name of the credentials Secret. Without O(credentials), it must exist already and hold the keys the
        provider type needs.
    type: str
  insecure_skip_verify:
    description:
      - The Provider's C(insecureSkipVerify), meaning the runtime does not verify the hypervisor's TLS certificate.
      - When unset, it is the opposite of O(validate_certs).
    type: bool
  defaults:
    description:
      - Default placement the runtime uses when a VM names none. Each key reaches the runtime as
        C(PROVIDER_DEFAULT_<KEY>), such as C(PROVIDER_DEFAULT_RESOURCE_POOL).
      - A key the Provider's runtime has no use for is refused by name. The collection's runtime uses all of them
        on V(vsphere), O(defaults.datastore) and O(defaults.network) on V(libvirt) and V(proxmox). Upstream's
        images use O(defaults.datastore), O(defaults.storage_pod), O(defaults.cluster) and O(defaults.folder) on
        V(vsphere) only.
    type: dict
    suboptions:
      datastore: {description: "vSphere datastore, libvirt storage pool or Proxmox VE storage.", type: str}
      storage_pod:
        description:
          - vSphere datastore cluster (Storage DRS). A new VM goes to its member datastore with the most free space.
          - Mutually exclusive with O(defaults.datastore).
        type: str
      cluster: {description: vSphere cluster., type: str}
      folder: {description: vSphere VM folder., type: str}
      resource_pool: {description: vSphere resource pool., type: str}
      network:
        description: Network of a NIC that names none (vSphere port group, libvirt network, Proxmox VE bridge).
        type: str
  rate_limit:
    description:
      - Request rate limit towards the hypervisor, enforced by the collection's runtime (from
        C(PROVIDER_RATE_LIMIT_QPS) and C(PROVIDER_RATE_LIMIT_BURST)). Refused with upstream's images, which ignore it.
    type: dict
    suboptions:
      qps: {description: "Requests per second, 1-1000.", type: int}
      burst: {description: "Burst size, 1-2000.", type: int}
  health_check:
    description:
      - The check of the hypervisor behind the runtime's readiness probe C(/readyz).
      - The collection's runtime image checks the hypervisor every O(health_check.interval), and the pod's
        readiness probe uses the thresholds. Upstream's images check nothing, so with them only
        O(health_check.enabled) is accepted and the other keys are refused.
      - With O(health_check.enabled=false), the runtime never contacts the hypervisor to answer C(/readyz), and
        M(virtrigaud.core.virtrigaud_provider_info) does not probe the Provider.
    type: dict
    suboptions:
      enabled: {description: Whether the Provider is health-checked., type: bool}
      interval: {description: "How often the hypervisor is checked, a Go duration such as V(30s).", type: str}
      timeout: {description: "How long one check may take before it counts as failed, a Go duration such as V(10s).",
                type: str}
      failure_threshold: {description: "Failed readiness probes in a row before the runtime counts as not ready, 1-10.",
                          type: int}
      success_threshold: {description: "Passed readiness probes in a row before it counts as ready again, 1-10.",
                          type: int}
  runtime:
    description: How the provider runtime runs.
    type: dict
    default: {}
    suboptions:
      image:
        description:
          - The runtime's container image.
          - By default upstream's published image for the type,
            C(ghcr.io/projectbeskar/virtrigaud/provider-<type>:v0.3.11)
            (V(vsphere), V(libvirt) and V(proxmox); other types must name one).
          - The collection's own runtime image, which also uses O(rate_limit), O(defaults.resource_pool) and
            O(defaults.network), is built from C(runtime/Containerfile) and pushed to a registry of your own; see the
            runtime guide.
        type: str
      image_pull_policy:
        description: When to pull the image.
        type: str
        choices: [Always, Never, IfNotPresent]
      image_pull_secrets:
        description: Names of Secrets in the Provider's namespace with the credentials to pull the image (at most 10).
        type: list
        elements: str
      replicas:
        description: Number of runtime replicas, 1-10.
        type: int
        default: 1
      service_port:
        description: The gRPC port, 1024-65535.
        type: int
        default: 9443
      resources:
        description: Container resources (requests and limits), as in a pod spec.
        type: dict
      node_selector:
        description: Node selector of the runtime's pods.
        type: dict
      tolerations:
        description: Tolerations of the runtime's pods.
        type: list
        elements: dict
      affinity:
        description: Affinity of the runtime's pods.
        type: dict
      security_context:
        description: Replaces the container's default security context (non-root, read-only root, no capabilities).
        type: dict
      env:
        description:
          - Extra environment variables. Values must be strings; quote V("On"), V("Off"), V("yes") and V("no"),
            which YAML 1.1 reads as booleans.
        type: list
        elements: dict
        suboptions:
          name: {description: Variable name., type: str, required: true}
          value: {description: Value (a string)., type: raw}
          value_from: {description: "A C(valueFrom) source instead of O(runtime.env[].value).", type: dict}
      log_level:
        description: Log level.
        type: str
        choices: [debug, info, warn, error]
      log_format:
        description: Log format.
        type: str
        choices: [text, json]
      tls:
        description:
          - The runtime's gRPC TLS. Upstream refuses a Provider without this block, so it is always written.
          - Give O(runtime.tls.certificate), O(runtime.tls.private_key) and O(runtime.tls.ca_certificate) to have
            the module write the TLS Secret; else the Secret O(runtime.tls.secret_name) must be provided otherwise.
        type: dict
        default: {}
        suboptions:
          enabled: {description: Serve mTLS; V(false) serves plaintext., type: bool, default: true}
          secret_name: {description: "Name of the TLS Secret; C(<name>-runtime-tls) by default.", type: str}
          certificate: {description: PEM certificate (serverAuth and clientAuth)., type: str}
          private_key: {description: PEM private key., type: str}
          ca_certificate: {description: PEM CA that signs clients and the server., type: str}
          insecure_skip_verify: {description: The manager does not verify the runtime's certificate., type: bool}
  labels:
    description: Labels of the Provider.
    type: dict
  annotations:
    description: Annotations of the Provider, such as C(virtrigaud.io/adopt-vms).
    type: dict
  wait:
    description:
      - With O(state=present), wait until the Provider reports C(ProviderAvailable); with O(state=absent), until
        it is gone.
    type: bool
    default: false
  wait_timeout:
    description: How many seconds to wait.
    type: int
    default: 120
  validate:
    description:
      - Check the Provider live and return the result in RV(validation). The task fails when the check does.
      - With O(validate_through=direct), connect to the hypervisor through the collection's provider layer with
        the Provider's endpoint and credentials, as its runtime would, before anything is written.
      - With O(validate_through=runtime), call the Provider's runtime over gRPC after the Provider is written,
        as VirtRigaud's manager does, with the runtime's TLS Secret as the client's certificate and roots.
    type: bool
    default: false
  validate_through:
    description: How O(validate) reaches the hypervisor.
    type: str
    choices: [direct, runtime]
    default: direct
  runtime_endpoint:
    description:
      - With O(validate_through=runtime), the runtime's address (C(host:port)) when the cluster address in the
        Provider's status cannot be reached from where the module runs (a port-forward, say).
    type: str
seealso:
  - module: virtrigaud.core.virtrigaud_provider_info
"""

EXAMPLES = r"""
- name: A Provider from the manifest you would give kubectl, with its credentials Secret written from the vault
  virtrigaud.core.virtrigaud_provider:
    definition: |
      apiVersion: infra.virtrigaud.io/v1beta1
      kind: Provider
      metadata: {name: libvirt-lab, namespace: virtrigaud}
      spec:
        type: libvirt
        endpoint: qemu+ssh://root@kvm1.example.com/system
        credentialSecretRef: {name: libvirt-lab-credentials}
        runtime:
          image: ghcr.io/projectbeskar/virtrigaud/provider-libvirt:v0.3.11
          service: {port: 9443}
    credentials:
      username: root
      ssh-privatekey: "{{ vault_kvm1_key }}"

- name: A vSphere Provider with its credentials and runtime TLS
  virtrigaud.core.virtrigaud_provider:
    name: vsphere-prod
    namespace: virtrigaud
    type: vsphere
    endpoint: https://vcenter.example.com/sdk
    credentials:
      username: svc-virtrigaud@vsphere.local
      password: "{{ vault_vsphere_password }}"
    defaults:
      datastore: datastore1
      cluster: prod
    runtime:
      replicas: 2
      tls:
        certificate: "{{ lookup('file', 'pki/runtime.crt') }}"
        private_key: "{{ lookup('file', 'pki/runtime.key') }}"
        ca_certificate: "{{ lookup('file', 'pki/ca.crt') }}"

- name: The same, served by the collection's runtime image from a private registry, with Storage DRS and a rate limit
  virtrigaud.core.virtrigaud_provider:
    name: vsphere-prod
    namespace: virtrigaud
    type: vsphere
    endpoint: https://vcenter.example.com/sdk
    credentials_secret: vsphere-prod-credentials
    defaults:
      storage_pod: gold-pod
      resource_pool: web
      network: prod-vlan-20
    rate_limit: {qps: 20, burst: 40}
    runtime:
      image: registry.example.com/virtrigaud/provider-runtime:0.1.0
      image_pull_secrets: [registry-credentials]
      tls:
        secret_name: vsphere-prod-runtime-tls

- name: A local libvirt Provider whose runtime serves plaintext, checked live
  virtrigaud.core.virtrigaud_provider:
    name: libvirt-local
    type: libvirt
    endpoint: qemu:///system
    credentials: {}
    runtime:
      tls:
        enabled: false
    validate: true
  register: libvirt_provider

- name: A Proxmox Provider using a Secret managed elsewhere
  virtrigaud.core.virtrigaud_provider:
    name: pve
    type: proxmox
    endpoint: https://pve.example.com:8006
    credentials_secret: pve-api-token
    runtime:
      tls:
        secret_name: pve-runtime-tls

- name: Remove a Provider
  virtrigaud.core.virtrigaud_provider:
    name: pve
    state: absent
    wait: true
"""

RETURN = r"""
provider:
  description: The Provider as the API server stores it (as it would, in check mode); null when absent.
  returned: always
  type: dict
  sample: {apiVersion: infra.virtrigaud.io/v1beta1, kind: Provider,
           metadata: {name: libvirt-local, namespace: default},
           spec: {type: libvirt, endpoint: "qemu:///system", credentialSecretRef: {name: libvirt-local-credentials},
                  runtime: {mode: Remote, image: "ghcr.io/projectbeskar/virtrigaud/provider-libvirt:v0.3.11",
                            replicas: 1,
                            service: {port: 9443, tls: {enabled: false}}}}}
objects:
  description:
    - Each object written or removed (the Secrets, then the Provider; the Provider first when removing), with
      whether it changed; never a Secret's content.
    - Every Kubernetes module of the collection returns its objects in this shape.
  returned: always
  type: list
  elements: dict
  contains:
    kind: {description: The object's kind., type: str, returned: always}
    name: {description: Its name., type: str, returned: always}
    namespace: {description: Its namespace., type: str, returned: always}
    changed: {description: "Whether the run changed it (would change it, in check mode).", type: bool, returned: always}
  sample: [{kind: Secret, name: libvirt-local-credentials, namespace: default, changed: false},
           {kind: Provider, name: libvirt-local, namespace: default, changed: true}]
secrets:
  description:
    - The Secrets the module wrote or removed, by name, with whether each changed; never their content.
    - Deprecated, and removed in release 0.3.0; use RV(objects).
  returned: always
  type: list
  elements: dict
  sample: [{name: libvirt-local-credentials, changed: false}]
validation:
  description: With O(validate=true), the live check of the hypervisor.
  returned: when O(validate=true) and O(state=present)
  type: dict
  contains:
    connectivity: {description: "C(status) Connected or Disconnected, C(endpoint), C(latency_ms).", type: dict,
                   returned: always}
    authentication: {description: "C(status) Authenticated, Failed or Unknown.", type: dict, returned: always}
    capabilities: {description: "What the backend supports, with C(supported_operations).", type: dict,
                   returned: always}
    resource_usage: {description: "C(vms), total C(cpu) and C(memory_mib) of its VMs.", type: dict, returned: always}
    health_score: {description: 0-100., type: int, returned: always}
"""

from typing import Any, Optional, Sequence

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import provider as objects
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Change, comparable, condition
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.converge import (
    Outcome,
    Request,
    Wait,
    converge,
    gone,
    merged_diff,
    secret_view,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.probe import (
    passed,
    probe,
    probe_runtime,
    runtime_endpoint,
    runtime_tls,
    stored_credentials,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun


def _provider_view(obj: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    view = comparable(obj)
    if view is not None and obj is not None and obj.get("status"):
        view["status"] = obj["status"]
    return view


def _available(obj: Optional[dict[str, Any]]) -> bool:
    return (condition(obj, "ProviderAvailable") or {}).get("status") == "True"


def present(m: VirtrigaudRun, p: dict[str, Any], document: Optional[dict[str, Any]]) -> tuple[Outcome, dict[str, Any]]:
    provider = document or objects.provider_resource(p)
    secrets = [obj for obj in (objects.credentials_secret(p), objects.tls_secret(p)) if obj]
    credentials = p["credentials"]
    if credentials is None:
        credentials = stored_credentials(m.kube, p["type"], p["namespace"], objects.credentials_secret_name(p))
    result: dict[str, Any] = {}
    if p["validate"] and p["validate_through"] == "direct":
        result["validation"] = passed(probe(provider, {k: str(v) for k, v in credentials.items() if v is not None}))
    if secrets and not m.check_mode:
        # The API server checks the Provider (schema, labels) before its Secrets are written, so a refusal
        # leaves nothing behind.
        m.kube.apply(provider, dry_run=True)

    def validate_runtime(changes: Sequence[Change]) -> None:
        stored = changes[-1].after or provider
        tls = runtime_tls(m.kube, stored, (p["runtime"] or {}).get("tls") or {})
        result["validation"] = passed(probe_runtime(stored, p["runtime_endpoint"] or runtime_endpoint(stored), tls))

    waits = [Wait("Provider", p["name"], p["namespace"], _available, "Provider %s/%s to report ProviderAvailable"
                  % (p["namespace"], p["name"]))] if p["wait"] else []
    outcome = converge(m.kube, Request(apply=secrets + [provider], waits=waits, wait_timeout=p["wait_timeout"]),
                       m.check_mode, validate_runtime if p["validate"] and p["validate_through"] == "runtime" else None)
    return outcome, dict(result, provider=_provider_view(outcome.current("Provider", p["name"])))


def absent(m: VirtrigaudRun, p: dict[str, Any]) -> tuple[Outcome, dict[str, Any]]:
    owned = sorted(("Secret", secret["metadata"]["name"], p["namespace"]) for secret in
                   m.kube.list("Secret", p["namespace"], "%s=%s" % (objects.OWNER_LABEL, p["name"])))
    waits = [Wait("Provider", p["name"], p["namespace"], gone, "Provider %s/%s to be deleted"
                  % (p["namespace"], p["name"]))] if p["wait"] else []
    outcome = converge(m.kube, Request(delete=[("Provider", p["name"], p["namespace"])] + owned, waits=waits,
                                       wait_timeout=p["wait_timeout"]), m.check_mode)
    return outcome, {"provider": None}


def _deprecated_diff(outcome: Outcome, provider: Change, stored: Optional[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The diff's former keys, ``provider`` and ``secrets`` (every Secret, changed or not)."""
    diff: dict[str, dict[str, Any]] = {"before": {"provider": comparable(provider.before)},
                                       "after": {"provider": comparable(stored)}}
    for change in outcome.changes:
        if change.kind == "Secret":
            before, after = secret_view(change)
            diff["before"].setdefault("secrets", {})[change.name] = before
            diff["after"].setdefault("secrets", {})[change.name] = after
    return diff


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p, document = objects.options_and_definition(m.params)
    outcome, result = present(m, p, document) if p["state"] == "present" else absent(m, p)
    result.update(changed=outcome.changed, objects=outcome.objects(),
                  secrets=[{"name": entry["name"], "changed": entry["changed"]}
                           for entry in outcome.objects() if entry["kind"] == "Secret"])
    if m.diff_mode:
        provider = outcome.change("Provider", p["name"])
        result["diff"] = merged_diff(_deprecated_diff(outcome, provider, outcome.current("Provider", provider.name)),
                                     outcome.diff())
    return result


# The options a definition replaces: given beside one, they are refused by name.
REPLACED = ("name", "namespace", "type", "uri", "credentials_secret", "insecure_skip_verify", "defaults", "rate_limit",
            "health_check", "runtime", "labels", "annotations")
# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {"required_one_of": [["name", "definition"]],
                                "mutually_exclusive": [["definition", option] for option in REPLACED]}


def argument_spec() -> dict[str, Any]:
    text = {"type": "str"}
    return {
        **group_spec(),
        "name": {"type": "str"},
        "definition": {"type": "raw"},
        "namespace": {"type": "str", "default": "default"},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "type": {"type": "str", "choices": list(objects.PROVIDER_TYPES)},
        "credentials": {"type": "dict", "no_log": True},
        "credentials_secret": {"type": "str", "no_log": False},
        "insecure_skip_verify": {"type": "bool"},
        "defaults": {"type": "dict", "options": {key: dict(text) for key in
                                                 ("datastore", "storage_pod", "cluster", "folder", "resource_pool",
                                                  "network")}},
        "rate_limit": {"type": "dict", "options": {"qps": {"type": "int"}, "burst": {"type": "int"}}},
        "health_check": {"type": "dict", "options": {
            "enabled": {"type": "bool"}, "interval": dict(text), "timeout": dict(text),
            "failure_threshold": {"type": "int"}, "success_threshold": {"type": "int"}}},
        "runtime": {"type": "dict", "default": {}, "options": {
            "image": dict(text),
            "image_pull_policy": {"type": "str", "choices": ["Always", "Never", "IfNotPresent"]},
            "image_pull_secrets": {"type": "list", "elements": "str", "no_log": False},
            "replicas": {"type": "int", "default": 1},
            "service_port": {"type": "int", "default": 9443},
            "resources": {"type": "dict"},
            "node_selector": {"type": "dict"},
            "tolerations": {"type": "list", "elements": "dict"},
            "affinity": {"type": "dict"},
            "security_context": {"type": "dict"},
            "env": {"type": "list", "elements": "dict", "options": {
                "name": {"type": "str", "required": True}, "value": {"type": "raw"}, "value_from": {"type": "dict"}}},
            "log_level": {"type": "str", "choices": ["debug", "info", "warn", "error"]},
            "log_format": {"type": "str", "choices": ["text", "json"]},
            "tls": {"type": "dict", "default": {}, "options": {
                "enabled": {"type": "bool", "default": True},
                "secret_name": dict(text),
                "certificate": dict(text),
                "private_key": {"type": "str", "no_log": True},
                "ca_certificate": dict(text),
                "insecure_skip_verify": {"type": "bool"}}},
        }},
        "labels": {"type": "dict"},
        "annotations": {"type": "dict"},
        "wait": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": 120},
        "validate": {"type": "bool", "default": False},
        "validate_through": {"type": "str", "default": "direct", "choices": ["direct", "runtime"]},
        "runtime_endpoint": {"type": "str"},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
