# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OVIM spoke agent's Kubernetes objects (pure: no I/O).

The agent is the runtime image's ``spoke`` command (runtime/virtrigaud_runtime/spoke); these objects run it in
a cluster with the settings it reads (spoke/settings.py), as the ``ovim_spoke`` role deploys it.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlsplit

from ..errors import SpecError
from ..providers.kubevirt.client import CLUSTER_ROLE_RULES, ROLE_RULES
from .provider import check_name
from .runtime import DEFAULT_RESOURCES, DEFAULT_SECURITY_CONTEXT

NAME = "ovim-spoke-agent"
API_PORT = 8080
TOKEN_KEY = "hub-token"
CA_KEY = "hub-ca.crt"
CA_DIR = "/etc/ovim/hub-ca"
JOURNAL_DIR = "/var/lib/ovim/journal"
# The agent's ids, as its settings check them at start.
AGENT_ID = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
# The spoke never snapshots or clones: those of the kubevirt backend's rules stay out of its role.
_UNUSED_GROUPS = ("snapshot.kubevirt.io", "clone.kubevirt.io")
# VDCs (a namespace, its ResourceQuota, LimitRange and NetworkPolicy, applied server-side: patch, and create
# for a new object) and the report's cluster metrics (nodes, running pods, metrics.k8s.io where served).
_SPOKE_RULES = [
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "create", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["list", "create", "patch"]},
    {"apiGroups": [""], "resources": ["limitranges"], "verbs": ["create", "patch"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["create", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["list"]},
    {"apiGroups": ["metrics.k8s.io"], "resources": ["nodes"], "verbs": ["list"]},
]
CLUSTER_KINDS = ("ClusterRole", "ClusterRoleBinding")
NAMESPACED_KINDS = ("ServiceAccount", "Secret", "Service", "Deployment", "NetworkPolicy")


@dataclass(frozen=True)
class SpokeOptions:
    """The role's variables, checked: what the agent is told and how it runs."""

    namespace: str
    image: str
    agent_id: str
    cluster_id: str
    hub_endpoint: str
    zone_id: Optional[str] = None
    hub_token: Optional[str] = field(default=None, repr=False)
    hub_tls_insecure: bool = False
    hub_ca: Optional[str] = None
    log_level: str = "info"
    report_interval: int = 30
    push_auth: str = "token"
    templates: dict[str, str] = field(default_factory=dict)
    image_pull_secrets: tuple[str, ...] = ()
    network_policy: bool = True
    network_policy_namespaces: tuple[str, ...] = ()


def check_id(value: Optional[str], option: str) -> None:
    if value is not None and not AGENT_ID.match(value):
        raise SpecError("%r is not an id the agent accepts: 1-63 letters, digits, '.', '_' or '-'" % value[:70],
                        option=option)


def check_options(options: SpokeOptions) -> None:
    """Refuse, by option name, what the agent would refuse at start, before anything is written.

    Raises:
        SpecError: naming the option.
    """
    check_name(options.namespace, "namespace")
    for value, option in ((options.agent_id, "agent_id"), (options.cluster_id, "cluster_id"),
                          (options.zone_id, "zone_id")):
        check_id(value, option)
    parts = urlsplit(options.hub_endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
        raise SpecError("the hub's endpoint must be an http(s) URL of a host, without user or query, such as "
                        "https://ovim-hub.example.com:8443", option="hub_endpoint")
    if options.hub_ca and "-----BEGIN CERTIFICATE-----" not in options.hub_ca:
        raise SpecError("expected the hub's CA certificate in PEM form", option="hub_ca")
    if not 1 <= options.report_interval <= 86400:
        raise SpecError("expected seconds from 1 to 86400", option="report_interval")
    for key, image in options.templates.items():
        if not isinstance(image, str) or not image:
            raise SpecError("template %r must map to an image name" % key, option="templates")
    for index, namespace in enumerate(options.network_policy_namespaces):
        check_name(namespace, "network_policy_namespaces[%d]" % index)
    for index, secret in enumerate(options.image_pull_secrets):
        check_name(secret, "image_pull_secrets[%d]" % index, 253)


def cluster_name(namespace: str) -> str:
    """Cluster-scoped names carry the namespace, so that two spokes of one cluster do not share a role."""
    return "%s-%s" % (NAME, namespace)


def labels(namespace: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": NAME, "app.kubernetes.io/instance": namespace,
            "app.kubernetes.io/component": "spoke-agent", "app.kubernetes.io/part-of": "ovim",
            "app.kubernetes.io/managed-by": "virtrigaud"}


def selector(namespace: str) -> dict[str, str]:
    return {key: labels(namespace)[key] for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}


def _metadata(name: str, namespace: str, namespaced: bool = True) -> dict[str, Any]:
    """Labelled with the agent's namespace, cluster-scoped objects too."""
    metadata: dict[str, Any] = {"name": name, "labels": labels(namespace)}
    if namespaced:
        metadata["namespace"] = namespace
    return metadata


def cluster_rules() -> list[dict[str, Any]]:
    """Exactly what the agent calls: the kubevirt backend's VM calls, VDCs and the report's cluster metrics."""
    used = [rule for rule in ROLE_RULES if not set(rule["apiGroups"]) & set(_UNUSED_GROUPS)]
    return copy.deepcopy(used + CLUSTER_ROLE_RULES + _SPOKE_RULES)


def namespace_object(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels(namespace)}}


def _rbac(options: SpokeOptions) -> list[dict[str, Any]]:
    namespace = options.namespace
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(NAME, namespace),
         "automountServiceAccountToken": True},
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": _metadata(cluster_name(namespace), namespace, False),
         "rules": cluster_rules()},
        {"apiVersion": rbac, "kind": "ClusterRoleBinding",
         "metadata": _metadata(cluster_name(namespace), namespace, False),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name(namespace)},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}]},
    ]


def _encoded(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def secret(options: SpokeOptions) -> dict[str, Any]:
    """The hub's token and CA; an empty Secret when neither is given, so that removing them empties it."""
    data = {}
    if options.hub_token:
        data[TOKEN_KEY] = _encoded(options.hub_token)
    if options.hub_ca:
        data[CA_KEY] = _encoded(options.hub_ca)
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": _metadata(NAME, options.namespace),
            "data": data}


def service(options: SpokeOptions) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(NAME, options.namespace),
            "spec": {"type": "ClusterIP", "selector": selector(options.namespace),
                     "ports": [{"name": "http", "port": API_PORT, "targetPort": API_PORT, "protocol": "TCP"}]}}


def callback_url(namespace: str) -> str:
    """The Service's address, which the reports carry so that the hub can push operations."""
    return "http://%s.%s.svc:%d" % (NAME, namespace, API_PORT)


def container_env(options: SpokeOptions) -> list[dict[str, Any]]:
    """The agent's settings (see the guide's table), the token from the Secret."""
    env: list[dict[str, Any]] = [
        {"name": "OVIM_AGENT_ID", "value": options.agent_id},
        {"name": "OVIM_CLUSTER_ID", "value": options.cluster_id},
        {"name": "OVIM_ZONE_ID", "value": options.zone_id or options.cluster_id},
        {"name": "OVIM_HUB_ENDPOINT", "value": options.hub_endpoint},
        {"name": "OVIM_HUB_TLS_INSECURE", "value": str(options.hub_tls_insecure).lower()},
        {"name": "OVIM_LOG_LEVEL", "value": options.log_level},
        {"name": "OVIM_REPORT_INTERVAL", "value": str(options.report_interval)},
        {"name": "OVIM_PUSH_AUTH", "value": options.push_auth},
        {"name": "OVIM_API_PORT", "value": str(API_PORT)},
        {"name": "OVIM_CALLBACK_URL", "value": callback_url(options.namespace)},
        {"name": "OVIM_PROVIDER_TYPE", "value": "kubevirt"},
        {"name": "OVIM_JOURNAL_DIR", "value": JOURNAL_DIR},
    ]
    if options.hub_token:
        env.append({"name": "OVIM_HUB_TOKEN", "valueFrom": {"secretKeyRef": {"name": NAME, "key": TOKEN_KEY}}})
    if options.hub_ca:
        env.append({"name": "OVIM_HUB_CA_PATH", "value": "%s/%s" % (CA_DIR, CA_KEY)})
    if options.templates:
        env.append({"name": "OVIM_TEMPLATE_CATALOGUE",
                    "value": json.dumps(options.templates, sort_keys=True, separators=(",", ":"))})
    return env


def _probe(path: str, delay: int, period: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": API_PORT}, "initialDelaySeconds": delay, "periodSeconds": period}


def deployment(options: SpokeOptions) -> dict[str, Any]:
    """One replica: two agents with one id would both take the hub's operations and both report."""
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"},
                                    {"name": "journal", "mountPath": JOURNAL_DIR}]
    # The journal outlives a container restart (the agent re-runs what it had taken), not the pod.
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}, {"name": "journal", "emptyDir": {}}]
    if options.hub_ca:
        mounts.append({"name": "hub-ca", "mountPath": CA_DIR, "readOnly": True})
        volumes.append({"name": "hub-ca", "secret": {"secretName": NAME, "items": [{"key": CA_KEY, "path": CA_KEY}]}})
    container = {
        "name": "spoke",
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["spoke"],
        "env": container_env(options),
        "ports": [{"name": "http", "containerPort": API_PORT, "protocol": "TCP"}],
        "volumeMounts": mounts,
        "securityContext": copy.deepcopy(DEFAULT_SECURITY_CONTEXT),
        "resources": copy.deepcopy(DEFAULT_RESOURCES),
        "livenessProbe": _probe("/health/live", 10, 20),
        "readinessProbe": _probe("/health/ready", 5, 10),
    }
    pod: dict[str, Any] = {"serviceAccountName": NAME, "automountServiceAccountToken": True,
                           "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                               "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
                           "terminationGracePeriodSeconds": 45, "containers": [container], "volumes": volumes}
    if options.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in options.image_pull_secrets]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _metadata(NAME, options.namespace),
            "spec": {"replicas": 1, "selector": {"matchLabels": selector(options.namespace)},
                     # Recreate: during a rolling update the old and the new agent would run at once.
                     "strategy": {"type": "Recreate"},
                     "template": {"metadata": {"labels": labels(options.namespace)}, "spec": pod}}}


def network_policy(options: SpokeOptions) -> dict[str, Any]:
    """Ingress only to the local API's port: from the listed namespaces, or from anywhere (a hub outside)."""
    rule: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": API_PORT}]}
    if options.network_policy_namespaces:
        rule["from"] = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
                        for namespace in options.network_policy_namespaces]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _metadata(NAME, options.namespace),
            "spec": {"podSelector": {"matchLabels": selector(options.namespace)}, "policyTypes": ["Ingress"],
                     "ingress": [rule]}}


def spoke_objects(options: SpokeOptions) -> list[dict[str, Any]]:
    """Every object, in the order to apply them (the namespace first, the Deployment after what it uses)."""
    objects = [namespace_object(options.namespace)] + _rbac(options)
    objects += [secret(options), service(options), deployment(options)]
    if options.network_policy:
        objects.append(network_policy(options))
    return objects


def removed(namespace: str) -> list[tuple[str, str, Optional[str]]]:
    """What state=absent deletes: every object but the namespace, which may hold more than the agent."""
    return ([(kind, NAME, namespace) for kind in reversed(NAMESPACED_KINDS)]
            + [(kind, cluster_name(namespace), None) for kind in CLUSTER_KINDS])
