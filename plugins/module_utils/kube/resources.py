# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes kinds the collection reads and writes, with their REST paths (no discovery round trips)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, cast
from urllib.parse import quote

VIRTRIGAUD_API = "infra.virtrigaud.io/v1beta1"
VITISTACK_API = "vitistack.io/v1alpha1"


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: Optional[str] = None, name: Optional[str] = None, subresource: str = "") -> str:
        base = "/api/v1" if self.api_version == "v1" else "/apis/" + self.api_version
        if self.namespaced and namespace:
            base += "/namespaces/" + quote(namespace, safe="")
        path = "%s/%s" % (base, self.plural)
        if name:
            path += "/" + quote(name, safe="")
        return path + ("/" + subresource if subresource else "")


_KINDS = [
    Kind("v1", "Namespace", "namespaces", namespaced=False),
    Kind("v1", "Secret", "secrets"),
    Kind("v1", "ConfigMap", "configmaps"),
    Kind("v1", "Service", "services"),
    Kind("v1", "ServiceAccount", "serviceaccounts"),
    Kind("apps/v1", "Deployment", "deployments"),
    Kind("rbac.authorization.k8s.io/v1", "Role", "roles"),
    Kind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    Kind("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
    Kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
    Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    Kind("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False),
    Kind(VIRTRIGAUD_API, "Provider", "providers"),
    Kind(VIRTRIGAUD_API, "VirtualMachine", "virtualmachines"),
    Kind(VIRTRIGAUD_API, "VMClass", "vmclasses"),
    Kind(VIRTRIGAUD_API, "VMClone", "vmclones"),
    Kind(VIRTRIGAUD_API, "VMImage", "vmimages"),
    Kind(VIRTRIGAUD_API, "VMMigration", "vmmigrations"),
    Kind(VIRTRIGAUD_API, "VMNetworkAttachment", "vmnetworkattachments"),
    Kind(VIRTRIGAUD_API, "VMPlacementPolicy", "vmplacementpolicies"),
    Kind(VIRTRIGAUD_API, "VMSet", "vmsets"),
    Kind(VIRTRIGAUD_API, "VMSnapshot", "vmsnapshots"),
    Kind(VITISTACK_API, "MachineProvider", "machineproviders", namespaced=False),
    Kind(VITISTACK_API, "Machine", "machines"),
    Kind(VITISTACK_API, "MachineClass", "machineclasses", namespaced=False),
]
KINDS = {kind.kind: kind for kind in _KINDS}


def kind_of(obj: dict[str, Any]) -> Kind:
    try:
        return KINDS[obj["kind"]]
    except KeyError:
        raise ValueError("the collection does not manage objects of kind '%s'" % obj.get("kind")) from None


# A Provider of a type upstream's CRD lacks carries its real type here (see provider.CARRIED_TYPES).
TYPE_ANNOTATION = "virtrigaud.io/provider-type"


def provider_type_of(provider: dict[str, Any]) -> str:
    """The type the Provider's runtime serves: its annotation for a carried type, else spec.type."""
    carried: Optional[str] = ((provider.get("metadata") or {}).get("annotations") or {}).get(TYPE_ANNOTATION)
    return carried or cast(str, provider["spec"]["type"])
