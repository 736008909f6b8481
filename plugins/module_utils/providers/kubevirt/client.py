# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection to a KubeVirt cluster: the collection's one Kubernetes client, KubeVirt's REST paths, and the
power requests of ``subresources.kubevirt.io`` with their fallback."""

from __future__ import annotations

from typing import Any, Callable, Optional

from ... import errors
from ...kube.client import Kube, KubeConfig, dropped_fields
from ...kube.resources import Kind
from ..base import ProviderConfig
from .translate import translate_error

VM = Kind("kubevirt.io/v1", "VirtualMachine", "virtualmachines")
VMI = Kind("kubevirt.io/v1", "VirtualMachineInstance", "virtualmachineinstances")
KUBEVIRT = Kind("kubevirt.io/v1", "KubeVirt", "kubevirts")
SNAPSHOT = Kind("snapshot.kubevirt.io/v1beta1", "VirtualMachineSnapshot", "virtualmachinesnapshots")
SNAPSHOT_CONTENT = Kind("snapshot.kubevirt.io/v1beta1", "VirtualMachineSnapshotContent",
                        "virtualmachinesnapshotcontents")
RESTORE = Kind("snapshot.kubevirt.io/v1beta1", "VirtualMachineRestore", "virtualmachinerestores")
CLONE = Kind("clone.kubevirt.io/v1beta1", "VirtualMachineClone", "virtualmachineclones")
POWER = Kind("subresources.kubevirt.io/v1", "VirtualMachine", "virtualmachines")
DV = Kind("cdi.kubevirt.io/v1beta1", "DataVolume", "datavolumes")
PVC = Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims")
SECRET = Kind("v1", "Secret", "secrets")
STORAGE_CLASS = Kind("storage.k8s.io/v1", "StorageClass", "storageclasses", namespaced=False)
NETWORK = Kind("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", "network-attachment-definitions")
CLASSES = {
    "VirtualMachineInstancetype": Kind("instancetype.kubevirt.io/v1beta1", "VirtualMachineInstancetype",
                                       "virtualmachineinstancetypes"),
    "VirtualMachineClusterInstancetype": Kind("instancetype.kubevirt.io/v1beta1", "VirtualMachineClusterInstancetype",
                                              "virtualmachineclusterinstancetypes", namespaced=False),
    "VirtualMachinePreference": Kind("instancetype.kubevirt.io/v1beta1", "VirtualMachinePreference",
                                     "virtualmachinepreferences"),
    "VirtualMachineClusterPreference": Kind("instancetype.kubevirt.io/v1beta1", "VirtualMachineClusterPreference",
                                            "virtualmachineclusterpreferences", namespaced=False),
}
MERGE_PATCH = "application/merge-patch+json"


def _label(kind: Kind, name: Optional[str], namespace: Optional[str]) -> str:
    where = "%s/%s" % (namespace, name) if namespace and kind.namespaced and name else (name or "")
    return ("%s %s" % (kind.kind, where)).strip()


class Cluster:
    """Calls on one cluster; every failure is a :class:`errors.VirtrigaudError` from :func:`translate_error`."""

    def __init__(self, config: ProviderConfig) -> None:
        self.kube = Kube(KubeConfig.from_provider(config), error_map=translate_error)
        self.namespace: str = config.options.get("namespace") or self.kube.default_namespace
        # None until a power request tells whether the cluster serves subresources.kubevirt.io.
        self.subresources: Optional[bool] = None

    def get(self, kind: Kind, name: str, namespace: Optional[str] = None) -> Optional[dict[str, Any]]:
        try:
            return self.kube.request("GET", kind.path(namespace, name), what="get " + _label(kind, name, namespace))
        except errors.NotFoundError:
            return None

    def list(self, kind: Kind, namespace: Optional[str] = None, selector: Optional[str] = None,
             kept: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None) -> list[dict[str, Any]]:
        return self.kube.list_items(kind.path(namespace), selector,
                                    what="list %s in %s" % (kind.plural, namespace or "every namespace"), kept=kept)

    def create(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        metadata = obj["metadata"]
        return self.kube.request("POST", kind.path(metadata.get("namespace")), body=obj,
                                 what="create " + _label(kind, metadata["name"], metadata.get("namespace")))

    def replace(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT with the object's resourceVersion: a ConflictError when someone else changed it meanwhile."""
        metadata = obj["metadata"]
        return self.kube.request("PUT", kind.path(metadata.get("namespace"), metadata["name"]), body=obj,
                                 what="update " + _label(kind, metadata["name"], metadata.get("namespace")))

    def patch(self, kind: Kind, name: str, namespace: Optional[str], patch: dict[str, Any]) -> dict[str, Any]:
        return self.kube.request("PATCH", kind.path(namespace, name), body=patch, content_type=MERGE_PATCH,
                                 what="patch " + _label(kind, name, namespace))

    def delete(self, kind: Kind, name: str, namespace: Optional[str], propagation: str = "Background",
               grace: Optional[int] = None) -> bool:
        """False when it was already gone."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if grace is not None:
            body["gracePeriodSeconds"] = grace
        try:
            self.kube.request("DELETE", kind.path(namespace, name), body=body,
                              what="delete " + _label(kind, name, namespace))
        except errors.NotFoundError:
            return False
        return True

    def power(self, action: str, name: str, namespace: str, body: dict[str, Any],
              fallback: Callable[[], object]) -> None:
        """Ask virt-api to start, stop or restart the VM; a 409 means it is so already.  Where the cluster has no
        ``subresources.kubevirt.io`` (404 for a VM that exists), ``fallback`` does it through the VM's spec."""
        if self.subresources is not False:
            try:
                self.kube.request("PUT", POWER.path(namespace, name, action), body=body,
                                  what="%s VirtualMachine %s/%s" % (action, namespace, name))
                self.subresources = True
                return
            except errors.ConflictError:
                return
            except errors.NotFoundError:
                if self.subresources or self.get(VM, name, namespace) is None:
                    raise
                self.subresources = False
        fallback()

    def close(self) -> None:
        self.kube.close()


def check_stored(sent: dict[str, Any], stored: dict[str, Any], why: str) -> None:
    """Raise when the API server pruned fields of ``sent`` (CRDs drop what they do not know); ``why`` says whose."""
    dropped = dropped_fields(sent["spec"], stored.get("spec"), "spec")
    if dropped:
        raise errors.ProviderError("the API server dropped %s: %s" % (", ".join(dropped[:5]), why))


def _rule(group: str, resources: list[str], verbs: list[str]) -> dict[str, list[str]]:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs}


# What the calls above need, in the namespace of the VMs and cluster-wide: docs/guides/kubevirt-rbac.yml shows
# the same (a unit test keeps them equal), and the provider_runtime role grants the first to a runtime.
ROLE_RULES = [
    _rule("kubevirt.io", ["virtualmachines"], ["get", "list", "create", "update", "patch", "delete"]),
    _rule("kubevirt.io", ["virtualmachineinstances"], ["get", "list", "patch", "delete"]),
    _rule("subresources.kubevirt.io", ["virtualmachines/start", "virtualmachines/stop", "virtualmachines/restart"],
          ["update"]),
    _rule("snapshot.kubevirt.io", ["virtualmachinesnapshots", "virtualmachinerestores"],
          ["get", "list", "create", "delete"]),
    _rule("snapshot.kubevirt.io", ["virtualmachinesnapshotcontents"], ["delete"]),
    _rule("clone.kubevirt.io", ["virtualmachineclones"], ["get", "create", "delete"]),
    _rule("instancetype.kubevirt.io", ["virtualmachineinstancetypes", "virtualmachinepreferences"], ["get"]),
    _rule("k8s.cni.cncf.io", ["network-attachment-definitions"], ["get"]),
    _rule("cdi.kubevirt.io", ["datavolumes"], ["get", "create", "delete"]),
    _rule("", ["persistentvolumeclaims"], ["get", "patch", "delete"]),
    _rule("", ["secrets"], ["get", "create", "update", "delete"]),
]
CLUSTER_ROLE_RULES = [
    _rule("storage.k8s.io", ["storageclasses"], ["get"]),
    _rule("instancetype.kubevirt.io", ["virtualmachineclusterinstancetypes", "virtualmachineclusterpreferences"],
          ["get"]),
    _rule("kubevirt.io", ["kubevirts"], ["list"]),
]
