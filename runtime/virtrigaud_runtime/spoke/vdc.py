# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VDCs as the hub's VDC handlers send them: a namespace with a ResourceQuota, a LimitRange and a default-deny
NetworkPolicy, labelled as OVIM's.  The objects are made here (pure); ``VdcManager`` applies them."""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Kube, KubeConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_quantity

MANAGED_BY = {"app.kubernetes.io/managed-by": "ovim"}
VDC_LABEL = "ovim.io/vdc"
QUOTA, LIMITS, POLICY = "ovim-vdc-quota", "ovim-vdc-limits", "ovim-vdc-default-deny"
# network_policy values: which mean the default-deny policy, and which mean none.
DENY = ("", "default", "isolated", "deny", "default-deny")
OPEN = ("allow-all", "open", "none")
FIELD_MANAGER = "virtrigaud.ovim-spoke"
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
PATHS = {"Namespace": "/api/v1/namespaces/{name}",
         "ResourceQuota": "/api/v1/namespaces/{namespace}/resourcequotas/{name}",
         "LimitRange": "/api/v1/namespaces/{namespace}/limitranges/{name}",
         "NetworkPolicy": "/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{name}"}


def _field(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise errors.SpecError("expected a string, got %s" % type(value).__name__, option=key)
    return value


def target_namespace(payload: Mapping[str, Any]) -> str:
    name = _field(payload, "target_namespace")
    if not _LABEL.match(name):
        raise errors.SpecError("%r is not a namespace name (a DNS label)" % name, option="target_namespace")
    return name


def _amount(quota: Mapping[str, Any], key: str) -> Optional[int]:
    value = quota.get(key)
    if value in (None, 0):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.SpecError("expected a whole number above 0, got %r" % (value,), option="quota." + key)
    return value


def _labels(payload: Mapping[str, Any]) -> dict[str, str]:
    labels = dict(MANAGED_BY)
    for label, key in ((VDC_LABEL, "vdc_name"), ("ovim.io/organization", "organization"), ("ovim.io/zone", "zone_id")):
        value = _field(payload, key)
        if not _LABEL_VALUE.match(value) or len(value) > 63:
            raise errors.SpecError("%r cannot be a label value" % value, option=key)
        if value:
            labels[label] = value
    return labels


def vdc_objects(payload: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The objects of a VDC, and whether it has the default-deny policy.

    Raises:
        SpecError: naming the payload's field.
    """
    namespace = target_namespace(payload)
    if not _field(payload, "vdc_name"):
        raise errors.SpecError("is required", option="vdc_name")
    policy = _field(payload, "network_policy").lower()
    if policy not in DENY + OPEN:
        raise errors.SpecError("%r is none of: %s" % (policy, ", ".join(v for v in DENY + OPEN if v)),
                               option="network_policy")
    quota = payload.get("quota") or {}
    if not isinstance(quota, Mapping):
        raise errors.SpecError("expected an object of cpu, memory and storage", option="quota")
    labels = _labels(payload)
    hard = {key: text for key, text in (
        ("requests.cpu", _amount(quota, "cpu")), ("limits.cpu", _amount(quota, "cpu")),
        ("requests.memory", "%dGi" % quota["memory"] if _amount(quota, "memory") else None),
        ("limits.memory", "%dGi" % quota["memory"] if _amount(quota, "memory") else None),
        ("requests.storage", "%dGi" % quota["storage"] if _amount(quota, "storage") else None)) if text}
    annotations = {"ovim.io/display-name": _field(payload, "display_name"),
                   "ovim.io/description": _field(payload, "description")}
    meta = {"namespace": namespace, "labels": labels}
    objects = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": namespace, "labels": labels, "annotations": annotations}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": dict(meta, name=QUOTA),
         "spec": {"hard": {key: str(value) for key, value in hard.items()}}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": dict(meta, name=LIMITS),
         "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                              "default": {"cpu": "1", "memory": "1Gi"}}]}},
    ]
    deny = policy in DENY
    if deny:
        objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                        "metadata": dict(meta, name=POLICY),
                        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    return objects, deny


def path_of(obj: Mapping[str, Any]) -> str:
    metadata = obj["metadata"]
    return PATHS[obj["kind"]].format(name=metadata["name"], namespace=metadata.get("namespace"))


def millicores(quantity: Any) -> int:
    """A CPU quantity (``4``, ``500m``, ``1.5``) in millicores; 0 for none or one that is not a quantity."""
    text = str(quantity or "0").strip()
    try:
        return int(text[:-1]) if text.endswith("m") else int(round(float(text) * 1000))
    except ValueError:
        return 0


def size_bytes(quantity: Any) -> int:
    try:
        return parse_quantity(str(quantity or "0"), "quantity")
    except errors.SpecError:
        return 0


def _percent(used: int, capacity: int) -> float:
    return round(100.0 * used / capacity, 2) if capacity else 0.0


def usage(quota: Optional[Mapping[str, Any]], vm_count: int) -> dict[str, Any]:
    """A ResourceQuota's hard and used amounts as the hub's ResourceMetrics (millicores, bytes)."""
    status = (quota or {}).get("status") or {}
    # The quota controller writes status.hard; before it has (or without one), the spec's hard is the capacity.
    hard = status.get("hard") or ((quota or {}).get("spec") or {}).get("hard") or {}
    used = status.get("used") or {}
    metrics: dict[str, Any] = {}
    for name, key, measure in (("cpu", "requests.cpu", millicores), ("memory", "requests.memory", size_bytes),
                               ("storage", "requests.storage", size_bytes)):
        metrics[name + "_used"], metrics[name + "_capacity"] = measure(used.get(key)), measure(hard.get(key))
        metrics[name + "_percent"] = _percent(metrics[name + "_used"], metrics[name + "_capacity"])
    return dict(metrics, node_count=0, pod_count=int(millicores(used.get("pods")) // 1000), vm_count=vm_count)


def vdc_status(namespace: Mapping[str, Any], quota: Optional[Mapping[str, Any]], vm_count: int,
               when: str) -> dict[str, Any]:
    """A VDC as the hub's status report carries it."""
    metadata = namespace["metadata"]
    return {"name": (metadata.get("labels") or {}).get(VDC_LABEL, metadata["name"]), "namespace": metadata["name"],
            "status": "terminating" if metadata.get("deletionTimestamp") else "active",
            "resource_usage": usage(quota, vm_count), "labels": dict(metadata.get("labels") or {}),
            "created_at": metadata.get("creationTimestamp"), "updated_at": when}


class VdcManager:
    """VDCs on the cluster of the kubevirt backend's connection."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._kube: Optional[Kube] = None

    @property
    def kube(self) -> Kube:
        if self.config.type != "kubevirt":
            raise errors.UnsupportedError("VDCs are namespaces of a Kubernetes cluster: they need the kubevirt "
                                          "backend (OVIM_PROVIDER_TYPE=kubevirt), not %s" % self.config.type)
        if self._kube is None:
            self._kube = Kube(KubeConfig.from_provider(self.config))
        return self._kube

    def _namespace(self, name: str) -> Optional[dict[str, Any]]:
        try:
            return self.kube.request("GET", PATHS["Namespace"].format(name=name), what="get namespace " + name)
        except errors.NotFoundError:
            return None

    def create(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        objects, deny = vdc_objects(payload)
        namespace = objects[0]["metadata"]["name"]
        existing = self._namespace(namespace)
        if existing is not None and not _ours(existing):
            raise errors.ConflictError("namespace %s exists and is not OVIM's (no label %s=ovim)"
                                       % (namespace, next(iter(MANAGED_BY))), option="target_namespace")
        for obj in objects:
            self.kube.request("PATCH", path_of(obj), body=obj, query={"fieldManager": FIELD_MANAGER, "force": "true"},
                              content_type="application/apply-patch+yaml",
                              what="apply %s %s" % (obj["kind"], obj["metadata"]["name"]))
        if not deny:
            self._delete(PATHS["NetworkPolicy"].format(namespace=namespace, name=POLICY))
        return {"status": "legacy_created", "namespace": namespace, "vdc_name": payload.get("vdc_name"),
                "created": existing is None, "default_deny": deny}

    def _delete(self, path: str) -> bool:
        try:
            self.kube.request("DELETE", path, query={"propagationPolicy": "Background"}, what="delete " + path)
        except errors.NotFoundError:
            return False
        return True

    def delete(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        namespace = target_namespace(payload)
        existing = self._namespace(namespace)
        if existing is None or existing["metadata"].get("deletionTimestamp"):
            state = "already absent" if existing is None else "already being deleted"
            return {"status": "deleted_with_warnings", "namespace": namespace,
                    "warnings": ["namespace %s was %s" % (namespace, state)]}
        if not _ours(existing):
            raise errors.PreconditionError("namespace %s is not OVIM's (no label %s=ovim); it is left alone"
                                           % (namespace, next(iter(MANAGED_BY))), option="target_namespace")
        self._delete(PATHS["Namespace"].format(name=namespace))
        return {"status": "legacy_deleted", "namespace": namespace}

    def report(self, when: str, vms_by_namespace: Mapping[str, int]) -> list[dict[str, Any]]:
        selector = "%s=%s" % next(iter(MANAGED_BY.items()))
        namespaces = self.kube.request("GET", "/api/v1/namespaces", query={"labelSelector": selector},
                                       what="list OVIM's namespaces").get("items", [])
        quotas = {quota["metadata"]["namespace"]: quota for quota in self.kube.request(
            "GET", "/api/v1/resourcequotas", query={"labelSelector": selector},
            what="list OVIM's resource quotas").get("items", [])}
        names = [ns["metadata"]["name"] for ns in namespaces]
        return [vdc_status(ns, quotas.get(name), vms_by_namespace.get(name, 0), when)
                for ns, name in zip(namespaces, names)]


def _ours(namespace: Mapping[str, Any]) -> bool:
    labels = namespace["metadata"].get("labels") or {}
    return all(labels.get(key) == value for key, value in MANAGED_BY.items())
