# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider runtime's Kubernetes objects for a ``Provider`` resource (pure: no I/O).

Names, labels, ports, arguments, environment, mounts, security context and probes follow upstream's
Provider controller, so a Provider deployed here looks the same to VirtRigaud's manager.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import SpecError
from ..providers.kubevirt.client import ROLE_RULES as KUBEVIRT_RULES
from .provider import provider_type_of

GRPC_PORT_NAME = "grpc"
HTTP_PORT = 8080
CREDENTIALS_PATH = "/etc/virtrigaud/credentials"
TLS_PATH = "/etc/virtrigaud/tls"
UPSTREAM_IMAGES = ("ghcr.io/projectbeskar/virtrigaud/", "projectbeskar/virtrigaud")
DEFAULT_SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
# TLSConfigured reason when the TLS block is not usable.
TLS_GATE = {"missing": "TLSBlockMissing", "no_secret": "SecretRefMissing"}


@dataclass(frozen=True)
class RuntimeOptions:
    """What the provider_runtime role adds beyond upstream's controller."""

    flags: str = "auto"  # auto: upstream's flags for upstream images, else seed 001's
    service_account: bool = True
    network_policy: bool = False
    network_policy_namespaces: tuple[str, ...] = ()
    pod_disruption_budget: bool = False
    anti_affinity: bool = True
    extra_labels: dict[str, str] = field(default_factory=dict)


def object_name(provider: dict) -> str:
    metadata = provider["metadata"]
    name = "virtrigaud-provider-%s-%s" % (metadata["namespace"], metadata["name"])
    if len(name) > 63:
        raise SpecError("the runtime's name %s is longer than the 63 characters a Service name allows; use a "
                        "shorter Provider name or namespace" % name, option="name")
    return name


def labels(provider: dict) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "virtrigaud-provider",
        "app.kubernetes.io/instance": provider["metadata"]["name"],
        "app.kubernetes.io/component": "provider",
        "app.kubernetes.io/managed-by": "virtrigaud",
        "virtrigaud.io/provider-type": provider_type_of(provider),
    }


def selector(provider: dict) -> dict[str, str]:
    return {key: labels(provider)[key] for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}


def tls_gate(provider: dict) -> tuple[Optional[str], str]:
    """(the TLS Secret's name or None for plaintext, the TLSConfigured reason); raises when the gate is shut."""
    tls = ((provider["spec"].get("runtime") or {}).get("service") or {}).get("tls")
    if tls is None:
        raise SpecError("the Provider has no runtime.service.tls block; upstream refuses to deploy it (%s)"
                        % TLS_GATE["missing"], option="runtime.tls",
                        details={"reason": TLS_GATE["missing"]})
    if tls.get("enabled") is False:
        return None, "ExplicitlyDisabled"
    secret = (tls.get("secretRef") or {}).get("name")
    if not secret:
        raise SpecError("TLS is enabled but no secretRef names the TLS Secret (%s)" % TLS_GATE["no_secret"],
                        option="runtime.tls.secret_name", details={"reason": TLS_GATE["no_secret"]})
    return secret, "Enabled"


def uses_upstream_flags(image: str, flags: str) -> bool:
    if flags != "auto":
        return flags == "upstream"
    return any(marker in image for marker in UPSTREAM_IMAGES)


def container_args(provider: dict, port: int, upstream: bool, tls_enabled: bool) -> list[str]:
    if upstream:
        return ["--port=%d" % port, "--health-port=%d" % HTTP_PORT]
    spec = provider["spec"]
    return ["--grpc-addr=:%d" % port, "--metrics-addr=:%d" % HTTP_PORT, "--provider-type=%s" % provider_type_of(provider),
            "--provider-endpoint=%s" % spec["endpoint"], "--tls-enabled=%s" % str(tls_enabled).lower()]


def container_env(provider: dict, tls_enabled: bool) -> list[dict]:
    spec = provider["spec"]
    runtime = spec.get("runtime") or {}
    env: list[dict[str, Any]] = [
        {"name": "PROVIDER_TYPE", "value": provider_type_of(provider)},
        {"name": "PROVIDER_ENDPOINT", "value": spec["endpoint"]},
        {"name": "PROVIDER_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "PROVIDER_NAME",
         "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app.kubernetes.io/instance']"}}},
        {"name": "TLS_ENABLED", "value": str(tls_enabled).lower()},
    ]
    if not tls_enabled:
        env.append({"name": "VIRTRIGAUD_PROVIDER_INSECURE", "value": "true"})
    env += [
        {"name": "TLS_INSECURE_SKIP_VERIFY", "value": str(bool(spec.get("insecureSkipVerify"))).lower()},
        {"name": "LOG_LEVEL", "value": runtime.get("logLevel") or "info"},
        {"name": "LOG_FORMAT", "value": runtime.get("logFormat") or "text"},
    ]
    defaults = spec.get("defaults") or {}
    for key, variable in (("datastore", "DATASTORE"), ("storagePod", "STORAGE_POD"), ("cluster", "CLUSTER"),
                          ("folder", "FOLDER")):
        if defaults.get(key):
            env.append({"name": "PROVIDER_DEFAULT_" + variable, "value": defaults[key]})
    return env + list(runtime.get("env") or [])


def _probe(path: str, delay: int, period: int) -> dict:
    return {"httpGet": {"path": path, "port": HTTP_PORT}, "initialDelaySeconds": delay, "periodSeconds": period}


def deployment(provider: dict, options: RuntimeOptions) -> dict:
    spec = provider["spec"]
    runtime = spec["runtime"]
    port = (runtime.get("service") or {}).get("port") or 9443
    tls_secret = tls_gate(provider)[0]
    name = object_name(provider)
    volumes: list[dict[str, Any]] = [
        {"name": "provider-credentials", "secret": {"secretName": spec["credentialSecretRef"]["name"]}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "provider-credentials", "mountPath": CREDENTIALS_PATH, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if tls_secret:
        volumes.append({"name": "provider-tls", "secret": {"secretName": tls_secret}})
        mounts.append({"name": "provider-tls", "mountPath": TLS_PATH, "readOnly": True})
    if provider_type_of(provider) == "libvirt":
        volumes.append({"name": "libvirt-ssh-key", "emptyDir": {"medium": "Memory", "sizeLimit": "4Mi"}})
        mounts.append({"name": "libvirt-ssh-key", "mountPath": "/tmp/virtrigaud-libvirt"})
    container = {
        "name": "provider",
        "image": runtime["image"],
        "imagePullPolicy": runtime.get("imagePullPolicy") or "IfNotPresent",
        "args": container_args(provider, port, uses_upstream_flags(runtime["image"], options.flags), bool(tls_secret)),
        "env": container_env(provider, bool(tls_secret)),
        "ports": [{"name": GRPC_PORT_NAME, "containerPort": port, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "volumeMounts": mounts,
        "securityContext": copy.deepcopy(runtime.get("securityContext") or DEFAULT_SECURITY_CONTEXT),
        "resources": copy.deepcopy(runtime.get("resources") or DEFAULT_RESOURCES),
        "livenessProbe": _probe("/healthz", 15, 20),
        "readinessProbe": _probe("/readyz", 5, 10),
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 15"]}}},
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
        "volumes": volumes,
    }
    if options.service_account:
        pod["serviceAccountName"] = name
        # A KubeVirt runtime talks to its own cluster as its service account; no other type needs the token.
        pod["automountServiceAccountToken"] = provider_type_of(provider) == "kubevirt"
    for key in ("nodeSelector", "tolerations"):
        if runtime.get(key):
            pod[key] = copy.deepcopy(runtime[key])
    affinity = copy.deepcopy(runtime.get("affinity") or {})
    replicas = runtime.get("replicas") or 1
    if options.anti_affinity and replicas > 1 and "podAntiAffinity" not in affinity:
        affinity["podAntiAffinity"] = {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100,
            "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {"matchLabels": selector(provider)}},
        }]}
    if affinity:
        pod["affinity"] = affinity
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(provider, options),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector(provider)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": dict(labels(provider), **options.extra_labels)}, "spec": pod},
        },
    }


def _metadata(provider: dict, options: RuntimeOptions) -> dict:
    meta = provider["metadata"]
    owner = {"apiVersion": provider["apiVersion"], "kind": "Provider", "name": meta["name"], "uid": meta.get("uid", ""),
             "controller": True, "blockOwnerDeletion": True}
    metadata = {"name": object_name(provider), "namespace": meta["namespace"],
                "labels": dict(labels(provider), **options.extra_labels)}
    if meta.get("uid"):
        metadata["ownerReferences"] = [owner]
    return metadata


def service(provider: dict, options: RuntimeOptions) -> dict:
    port = (provider["spec"]["runtime"].get("service") or {}).get("port") or 9443
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(provider, options),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(provider),
            "ports": [{"name": GRPC_PORT_NAME, "port": port, "targetPort": port, "protocol": "TCP"},
                      {"name": "metrics", "port": HTTP_PORT, "targetPort": HTTP_PORT, "protocol": "TCP"}],
        },
    }


def service_account_objects(provider: dict, options: RuntimeOptions) -> list[dict]:
    """A ServiceAccount that may read only the Provider's own Secrets (and, for KubeVirt, manage its VMs)."""
    spec = provider["spec"]
    name = object_name(provider)
    secrets = [spec["credentialSecretRef"]["name"]]
    tls_secret = tls_gate(provider)[0]
    if tls_secret:
        secrets.append(tls_secret)
    metadata = _metadata(provider, options)
    rules = [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": secrets, "verbs": ["get"]}]
    kubevirt = provider_type_of(provider) == "kubevirt"
    if kubevirt:
        rules += copy.deepcopy(KUBEVIRT_RULES)
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata, "automountServiceAccountToken": kubevirt},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": metadata,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": provider["metadata"]["namespace"]}]},
    ]


def network_policy(provider: dict, options: RuntimeOptions) -> dict:
    """Ingress only to the gRPC and HTTP ports, from the listed namespaces (or the Provider's own)."""
    port = (provider["spec"]["runtime"].get("service") or {}).get("port") or 9443
    namespaces = options.network_policy_namespaces or (provider["metadata"]["namespace"],)
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
             for namespace in namespaces]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(provider, options),
        "spec": {
            "podSelector": {"matchLabels": selector(provider)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": port},
                                                  {"protocol": "TCP", "port": HTTP_PORT}]}],
        },
    }


def pod_disruption_budget(provider: dict, options: RuntimeOptions) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(provider, options),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(provider)}},
    }


def runtime_objects(provider: dict, options: RuntimeOptions) -> list[dict]:
    """Every object the runtime needs, in the order to apply them."""
    objects = service_account_objects(provider, options) if options.service_account else []
    objects += [service(provider, options), deployment(provider, options)]
    if options.network_policy:
        objects.append(network_policy(provider, options))
    if options.pod_disruption_budget and (provider["spec"]["runtime"].get("replicas") or 1) > 1:
        objects.append(pod_disruption_budget(provider, options))
    return objects


OPTIONAL_KINDS = ("ServiceAccount", "Role", "RoleBinding", "NetworkPolicy", "PodDisruptionBudget")


def runtime_status(provider: dict, deployment_status: Optional[dict], tls_reason: str, now: str) -> dict:
    """Provider.status as upstream's controller reports it for this Deployment's state."""
    name = object_name(provider)
    namespace = provider["metadata"]["namespace"]
    port = (provider["spec"]["runtime"].get("service") or {}).get("port") or 9443
    ready = int((deployment_status or {}).get("readyReplicas") or 0)
    available = int((deployment_status or {}).get("availableReplicas") or 0)
    generation = provider["metadata"].get("generation")
    previous = {entry["type"]: entry for entry in (provider.get("status") or {}).get("conditions") or []}

    def cond(kind: str, status: bool, reason: str, message: str) -> dict:
        value = "True" if status else "False"
        old = previous.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == value else now
        entry = {"type": kind, "status": value, "reason": reason, "message": message,
                 "lastTransitionTime": since or now}
        if generation:
            entry["observedGeneration"] = generation
        return entry

    conditions = [
        cond("TLSConfigured", tls_reason == "Enabled", tls_reason,
             "mTLS from the runtime's TLS Secret" if tls_reason == "Enabled" else "TLS explicitly disabled"),
        cond("ProviderRuntimeReady", ready > 0, "DeploymentReady" if ready else "DeploymentNotReady",
             "Remote provider runtime is ready" if ready else "waiting for a ready runtime replica"),
        cond("ProviderAvailable", ready > 0, "RemoteAvailable" if ready else "RemoteUnavailable",
             "%d of %d replicas ready" % (ready, provider["spec"]["runtime"].get("replicas") or 1)),
    ]
    status = {
        "healthy": ready > 0,
        "lastHealthCheck": now,
        "runtime": {"mode": "Remote", "endpoint": "%s.%s.svc.cluster.local:%d" % (name, namespace, port),
                    "serviceRef": {"name": name}, "phase": "Running" if ready else "Pending",
                    "message": "Remote provider runtime is ready" if ready else "waiting for the runtime's pods",
                    "readyReplicas": ready, "availableReplicas": available},
        "conditions": conditions,
    }
    if generation:
        status["observedGeneration"] = generation
    return status
