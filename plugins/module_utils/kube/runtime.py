# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider runtime's Kubernetes objects for a ``Provider`` resource (pure: no I/O).

Names, labels, ports, arguments, environment, mounts, security context and probes follow upstream's
Provider controller, so a Provider deployed here looks the same to VirtRigaud's manager.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import SpecError
from ..providers.connection import PROVIDER_DEFAULTS, default_variable, provider_defaults_read, snake_case
from ..providers.kubevirt.client import CLUSTER_ROLE_RULES as KUBEVIRT_CLUSTER_RULES
from ..providers.kubevirt.client import ROLE_RULES as KUBEVIRT_RULES
from .durations import seconds
from .resources import provider_type_of

GRPC_PORT_NAME = "grpc"
HTTP_PORT = 8080
CREDENTIALS_PATH = "/etc/virtrigaud/credentials"
TLS_PATH = "/etc/virtrigaud/tls"
UPSTREAM_IMAGES = ("ghcr.io/projectbeskar/virtrigaud/", "projectbeskar/virtrigaud")
# Upstream publishes one image per provider type; the default for a Provider that names none.
UPSTREAM_IMAGE = "ghcr.io/projectbeskar/virtrigaud/provider-%s:v0.3.11"
UPSTREAM_IMAGE_TYPES = ("vsphere", "libvirt", "proxmox")
# What upstream's images do with a Provider's spec.defaults: only the vSphere one places VMs by the first four;
# none enforces spec.rateLimit.
UPSTREAM_DEFAULTS_READ = {"vsphere": ("datastore", "storagePod", "cluster", "folder")}
CHECKSUM_ANNOTATION = "virtrigaud.core/credentials-checksum"
NAMESPACE_LABEL = "virtrigaud.io/provider-namespace"
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
    image_pull_secrets: tuple[str, ...] = ()


def object_name(provider: dict[str, Any]) -> str:
    metadata = provider["metadata"]
    name = "virtrigaud-provider-%s-%s" % (metadata["namespace"], metadata["name"])
    if len(name) > 63:
        raise SpecError("the runtime's name %s is longer than the 63 characters a Service name allows; use a "
                        "shorter Provider name or namespace" % name, option="name")
    return name


def labels(provider: dict[str, Any]) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "virtrigaud-provider",
        "app.kubernetes.io/instance": provider["metadata"]["name"],
        "app.kubernetes.io/component": "provider",
        "app.kubernetes.io/managed-by": "virtrigaud",
        "virtrigaud.io/provider-type": provider_type_of(provider),
    }


def selector(provider: dict[str, Any]) -> dict[str, str]:
    return {key: labels(provider)[key] for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}


def tls_gate(provider: dict[str, Any]) -> tuple[Optional[str], str]:
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


HEALTH_CHECK_TUNING = ("interval", "timeout", "failureThreshold", "successThreshold")


def is_upstream_image(image: str) -> bool:
    return any(marker in image for marker in UPSTREAM_IMAGES)


def uses_upstream_flags(image: str, flags: str) -> bool:
    if flags != "auto":
        return flags == "upstream"
    return is_upstream_image(image)


def default_image(provider_type: str) -> str:
    """Upstream's published image for the type; a type it publishes none for must name its image."""
    if provider_type not in UPSTREAM_IMAGE_TYPES:
        raise SpecError("no published image serves a %s Provider; name the runtime's image" % provider_type,
                        option="runtime.image")
    return UPSTREAM_IMAGE % provider_type


def check_served(spec: dict[str, Any]) -> None:
    """Each Provider default and the rate limit must reach a runtime that uses them; else refuse them by name."""
    image = (spec.get("runtime") or {}).get("image") or ""
    upstream = is_upstream_image(image)
    read = UPSTREAM_DEFAULTS_READ.get(spec["type"], ()) if upstream else provider_defaults_read(spec["type"])
    runtime_name = "upstream's image %s" % image if upstream else "the collection's %s runtime" % spec["type"]
    for key in PROVIDER_DEFAULTS:
        if (spec.get("defaults") or {}).get(key) and key not in read:
            uses = ", ".join("defaults.%s" % snake_case(used) for used in read) or "no defaults"
            raise SpecError("%s has no use for spec.defaults.%s (it uses %s); remove it%s" % (
                runtime_name, key, uses, ", or run the collection's runtime image" if upstream else ""),
                option="defaults.%s" % snake_case(key))
    if spec.get("rateLimit") and upstream:
        raise SpecError("%s does not enforce spec.rateLimit; remove it, or run the collection's runtime image"
                        % runtime_name, option="rate_limit")


def check_health_check_served(spec: dict[str, Any]) -> None:
    """Upstream's images check nothing behind /readyz, so tuning their health check would change nothing."""
    image = (spec.get("runtime") or {}).get("image") or ""
    health = spec.get("healthCheck") or {}
    if not is_upstream_image(image):
        return
    for key in HEALTH_CHECK_TUNING:
        if health.get(key) is not None:
            raise SpecError("upstream's image %s checks nothing behind its readiness probe, so spec.healthCheck.%s "
                            "would change nothing; remove it, or run the collection's runtime image" % (image, key),
                            option="health_check.%s" % snake_case(key))


def credentials_checksum(secret: dict[str, Any]) -> str:
    """A fingerprint of the credentials Secret's data for the pod template, so a new value rolls the pods.

    Keyed with the Secret's uid: a bare hash of a short password, in a Deployment that more people may read
    than the Secret, could be reversed by guessing, and only those who may read the Secret know its uid.
    """
    uid = str(secret["metadata"].get("uid") or "")
    body = json.dumps(secret.get("data") or {}, sort_keys=True, separators=(",", ":"))
    return "hmac-sha256:" + hmac.new(uid.encode("utf-8"), body.encode("utf-8"), hashlib.sha256).hexdigest()


def container_args(provider: dict[str, Any], port: int, upstream: bool, tls_enabled: bool) -> list[str]:
    spec = provider["spec"]
    checks = [] if is_upstream_image(spec["runtime"]["image"]) else _check_args(spec.get("healthCheck") or {})
    if upstream:
        return ["--port=%d" % port, "--health-port=%d" % HTTP_PORT] + checks
    return ["--grpc-addr=:%d" % port, "--metrics-addr=:%d" % HTTP_PORT,
            "--provider-type=%s" % provider_type_of(provider), "--provider-endpoint=%s" % spec["endpoint"],
            "--tls-enabled=%s" % str(tls_enabled).lower()] + checks


def _check_args(health: dict[str, Any]) -> list[str]:
    """The collection's runtime flags for the Provider's healthCheck (its hypervisor check behind /readyz)."""
    if health.get("enabled") is False:
        return ["--no-hypervisor-check"]
    return ["--check-%s=%g" % (key, seconds(health[key], "health_check.%s" % key))
            for key in ("interval", "timeout") if health.get(key)]


def _readiness_probe(spec: dict[str, Any]) -> dict[str, Any]:
    """/readyz, probed once per hypervisor check, with the healthCheck's thresholds where a check stands behind it."""
    probe = _probe("/readyz", 5, 10)
    health = spec.get("healthCheck") or {}
    if is_upstream_image(spec["runtime"]["image"]) or health.get("enabled") is False:
        return probe
    if health.get("interval"):
        probe["periodSeconds"] = max(1, math.ceil(seconds(health["interval"], "health_check.interval")))
    probe.update({key: health[key] for key in ("failureThreshold", "successThreshold") if health.get(key)})
    return probe


def container_env(provider: dict[str, Any], tls_enabled: bool) -> list[dict[str, Any]]:
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
    check_served(spec)
    defaults = spec.get("defaults") or {}
    env += [{"name": default_variable(key), "value": defaults[key]} for key in PROVIDER_DEFAULTS if defaults.get(key)]
    rate_limit = spec.get("rateLimit") or {}
    env += [{"name": "PROVIDER_RATE_LIMIT_" + key.upper(), "value": str(rate_limit[key])} for key in ("qps", "burst")
            if rate_limit.get(key)]
    # A Provider's own variables come last and win, as in a pod; server-side apply refuses a name given twice.
    given = list(runtime.get("env") or [])
    overridden = {item.get("name") for item in given}
    return [item for item in env if item["name"] not in overridden] + given


def _probe(path: str, delay: int, period: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": HTTP_PORT}, "initialDelaySeconds": delay, "periodSeconds": period}


def _pull_secrets(runtime: dict[str, Any], options: RuntimeOptions) -> list[dict[str, Any]]:
    """The Provider's own imagePullSecrets, then the ones the task adds."""
    names = [ref.get("name") for ref in runtime.get("imagePullSecrets") or []] + list(options.image_pull_secrets)
    return [{"name": name} for index, name in enumerate(names) if name and name not in names[:index]]


def deployment(provider: dict[str, Any], options: RuntimeOptions, checksum: Optional[str] = None) -> dict[str, Any]:
    """The runtime's Deployment; ``checksum`` (of the credentials Secret) goes on the pod template."""
    spec = provider["spec"]
    runtime = spec["runtime"]
    port = (runtime.get("service") or {}).get("port") or 9443
    tls_secret = tls_gate(provider)[0]
    volumes, mounts = _volumes(provider, tls_secret)
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
        "readinessProbe": _readiness_probe(spec),
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 15"]}}},
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
        "volumes": volumes,
    }
    pod.update(_pod_extras(provider, options))
    replicas = runtime.get("replicas") or 1
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(provider, options),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector(provider)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": _template_metadata(provider, options, checksum), "spec": pod},
        },
    }


def _volumes(provider: dict[str, Any], tls_secret: Optional[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pod's volumes and the container's mounts: credentials, TLS, /tmp and libvirt's SSH key."""
    spec = provider["spec"]
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
    return volumes, mounts


def _pod_extras(provider: dict[str, Any], options: RuntimeOptions) -> dict[str, Any]:
    """Pull Secrets, the ServiceAccount, and where the pods may run."""
    runtime = provider["spec"]["runtime"]
    extras: dict[str, Any] = {}
    pull_secrets = _pull_secrets(runtime, options)
    if pull_secrets:
        extras["imagePullSecrets"] = pull_secrets
    if options.service_account:
        extras["serviceAccountName"] = object_name(provider)
        # A KubeVirt runtime talks to its own cluster as its service account; no other type needs the token.
        extras["automountServiceAccountToken"] = provider_type_of(provider) == "kubevirt"
    for key in ("nodeSelector", "tolerations"):
        if runtime.get(key):
            extras[key] = copy.deepcopy(runtime[key])
    affinity = copy.deepcopy(runtime.get("affinity") or {})
    if options.anti_affinity and (runtime.get("replicas") or 1) > 1 and "podAntiAffinity" not in affinity:
        affinity["podAntiAffinity"] = {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100,
            "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {"matchLabels": selector(provider)}},
        }]}
    if affinity:
        extras["affinity"] = affinity
    return extras


def _template_metadata(provider: dict[str, Any], options: RuntimeOptions, checksum: Optional[str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"labels": dict(labels(provider), **options.extra_labels)}
    if checksum:
        metadata["annotations"] = {CHECKSUM_ANNOTATION: checksum}
    return metadata


def _metadata(provider: dict[str, Any], options: RuntimeOptions) -> dict[str, Any]:
    meta = provider["metadata"]
    owner = {"apiVersion": provider["apiVersion"], "kind": "Provider", "name": meta["name"], "uid": meta.get("uid", ""),
             "controller": True, "blockOwnerDeletion": True}
    metadata = {"name": object_name(provider), "namespace": meta["namespace"],
                "labels": dict(labels(provider), **options.extra_labels)}
    if meta.get("uid"):
        metadata["ownerReferences"] = [owner]
    return metadata


def service(provider: dict[str, Any], options: RuntimeOptions) -> dict[str, Any]:
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


def service_account_objects(provider: dict[str, Any], options: RuntimeOptions) -> list[dict[str, Any]]:
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
    subjects = [{"kind": "ServiceAccount", "name": name, "namespace": provider["metadata"]["namespace"]}]
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata, "automountServiceAccountToken": kubevirt},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": metadata,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}, "subjects": subjects},
    ]
    if kubevirt:
        objects += _cluster_rbac(provider, options, subjects)
    return objects


def _cluster_rbac(provider: dict[str, Any], options: RuntimeOptions,
                  subjects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cluster-wide reads of a kubevirt runtime (StorageClasses, cluster instancetypes and preferences, the
    KubeVirt CR).  Cluster-scoped, so the Provider cannot own them: its labels and name, which holds the Provider's
    namespace, are how ``state=absent`` finds them."""
    metadata = {key: value for key, value in _metadata(provider, options).items()
                if key not in ("namespace", "ownerReferences")}
    metadata["labels"] = dict(metadata["labels"], **{NAMESPACE_LABEL: provider["metadata"]["namespace"]})
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": metadata,
         "rules": copy.deepcopy(KUBEVIRT_CLUSTER_RULES)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": metadata,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": metadata["name"]},
         "subjects": subjects},
    ]


def network_policy(provider: dict[str, Any], options: RuntimeOptions) -> dict[str, Any]:
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


def pod_disruption_budget(provider: dict[str, Any], options: RuntimeOptions) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(provider, options),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(provider)}},
    }


def runtime_objects(provider: dict[str, Any], options: RuntimeOptions,
                    checksum: Optional[str] = None) -> list[dict[str, Any]]:
    """Every object the runtime needs, in the order to apply them."""
    objects = service_account_objects(provider, options) if options.service_account else []
    objects += [service(provider, options), deployment(provider, options, checksum)]
    if options.network_policy:
        objects.append(network_policy(provider, options))
    if options.pod_disruption_budget and (provider["spec"]["runtime"].get("replicas") or 1) > 1:
        objects.append(pod_disruption_budget(provider, options))
    return objects


OPTIONAL_KINDS = ("ServiceAccount", "Role", "RoleBinding", "NetworkPolicy", "PodDisruptionBudget")
# Written for kubevirt runtimes only; looked for only there (or when the Provider is gone), so that a deployer
# of other runtimes needs no rights on cluster-scoped RBAC.
CLUSTER_KINDS = ("ClusterRole", "ClusterRoleBinding")


def removable_kinds(provider_type: Optional[str]) -> tuple[str, ...]:
    """The optional kinds a runtime of this type (None: unknown) may have, to remove those no longer wanted."""
    return OPTIONAL_KINDS + (CLUSTER_KINDS if provider_type in ("kubevirt", None) else ())


def runtime_status(provider: dict[str, Any], deployment_status: Optional[dict[str, Any]], tls_reason: str,
                   now: str) -> dict[str, Any]:
    """Provider.status as upstream's controller reports it for this Deployment's state."""
    name = object_name(provider)
    namespace = provider["metadata"]["namespace"]
    port = (provider["spec"]["runtime"].get("service") or {}).get("port") or 9443
    ready = int((deployment_status or {}).get("readyReplicas") or 0)
    available = int((deployment_status or {}).get("availableReplicas") or 0)
    generation = provider["metadata"].get("generation")
    previous = {entry["type"]: entry for entry in (provider.get("status") or {}).get("conditions") or []}

    def cond(kind: str, status: bool, reason: str, message: str) -> dict[str, Any]:
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


# Status fields that record when, not what: a status differing only in them is not rewritten.
CLOCK_FIELDS = ("lastHealthCheck", "lastTransitionTime")
# The Provider's status once its runtime is removed.
REMOVED_STATUS = {"healthy": False, "runtime": {"mode": "Remote", "phase": "Stopping", "message": "runtime removed"}}


def status_patch(provider: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """The server-side apply body of the Provider's status subresource."""
    meta = provider["metadata"]
    return {"apiVersion": provider["apiVersion"], "kind": "Provider",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]}, "status": status}


def tls_refused_status(reason: str, message: str, now: str) -> dict[str, Any]:
    """The Provider's status when its TLS settings keep the runtime from being deployed, as upstream writes it."""
    condition = {"type": "TLSConfigured", "status": "False", "reason": reason, "message": message,
                 "lastTransitionTime": now}
    return {"runtime": {"mode": "Remote", "phase": "Failed",
                        "message": "TLS configuration required (see TLSConfigured Condition)"},
            "conditions": [condition, dict(condition, type="ProviderRuntimeReady", reason="TLSNotConfigured")]}


def without_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_clock(item) for key, item in value.items() if key not in CLOCK_FIELDS}
    if isinstance(value, list):
        return [without_clock(item) for item in value]
    return value


def rolled_out(deployment: Optional[dict[str, Any]]) -> bool:
    """Every replica of the Deployment's current generation updated and available."""
    if deployment is None:
        return False
    want = deployment["spec"].get("replicas", 1)
    status = deployment.get("status") or {}
    return bool(status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
                and status.get("updatedReplicas", 0) == want and status.get("availableReplicas", 0) == want)
