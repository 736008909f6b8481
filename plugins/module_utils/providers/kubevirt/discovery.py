# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a KubeVirt cluster offers: the pod network and the namespace's multus NetworkAttachmentDefinitions,
StorageClasses, nodes, instancetypes (cluster-wide and the namespace's) and the namespace's image PVCs (those no
VM owns).  One list call per kind."""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from ... import errors
from ...kube.resources import Kind
from ..base import Capabilities
from ..discovery import (
    DiscoveredHost,
    DiscoveredImage,
    DiscoveredNetwork,
    DiscoveredStorage,
    Discovery,
    InstanceType,
    architecture_of,
)
from . import client as api
from .translate import mib

NODE = Kind("v1", "Node", "nodes", namespaced=False)
POD_NETWORK = "pod"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


def discover(cluster: api.Cluster, namespace: str, options: dict[str, Any], capabilities: Capabilities,
             warn: Callable[[str], None]) -> Discovery:
    nodes = _optional(lambda: cluster.list(NODE), "nodes", warn)
    return Discovery(
        networks=(DiscoveredNetwork(POD_NETWORK, "pod"),) + tuple(
            DiscoveredNetwork(item["metadata"]["name"], "multus", _nad_cidr(item))
            for item in cluster.list(api.NETWORK, namespace)),
        default_network=POD_NETWORK,
        storages=tuple(_storage_class(item, options.get("storage_pool")) for item in cluster.list(api.STORAGE_CLASS)),
        hosts=tuple(_node(item) for item in nodes),
        instance_types=_instance_types(cluster, namespace),
        images=tuple(sorted((DiscoveredImage("%s/%s" % (namespace, item["metadata"]["name"]), item["metadata"]["name"])
                             for item in cluster.list(api.PVC, namespace)
                             if not item["metadata"].get("ownerReferences")), key=lambda image: image.id)),
        architecture=architecture_of(next((((item.get("status") or {}).get("nodeInfo") or {}).get("architecture")
                                           for item in nodes), None)),
        capabilities=capabilities,
        hotplug_disks=False,
    )


def _optional(call: Callable[[], list[dict[str, Any]]], what: str, warn: Callable[[str], None]
              ) -> list[dict[str, Any]]:
    """A listing the connection's RBAC may not allow (the guide's Role reads no nodes)."""
    try:
        return call()
    except errors.PermissionDeniedError:
        warn("the connection may not list %s; discovery leaves out what they tell" % what)
        return []


def _nad_cidr(item: dict[str, Any]) -> str:
    try:
        config = json.loads((item.get("spec") or {}).get("config") or "{}")
    except ValueError:
        return ""
    ipam = config.get("ipam") or {} if isinstance(config, dict) else {}
    ranges = [entry for group in ipam.get("ranges") or [] for entry in group if isinstance(entry, dict)]
    return str(ipam.get("subnet") or next((entry.get("subnet") for entry in ranges if entry.get("subnet")), ""))


def _storage_class(item: dict[str, Any], default: Optional[str]) -> DiscoveredStorage:
    name = item["metadata"]["name"]
    annotations = item["metadata"].get("annotations") or {}
    marked = annotations.get(DEFAULT_CLASS) == "true"
    return DiscoveredStorage(name, str(item.get("provisioner") or ""),
                             default=name == default if default else marked)


def _node(item: dict[str, Any]) -> DiscoveredHost:
    capacity = (item.get("status") or {}).get("capacity") or {}
    cpu = str(capacity.get("cpu") or "0")
    return DiscoveredHost(item["metadata"]["name"], int(cpu[:-1]) // 1000 if cpu.endswith("m") else int(cpu),
                          mib(capacity.get("memory")) or 0)


def _instance_types(cluster: api.Cluster, namespace: str) -> tuple[InstanceType, ...]:
    found = cluster.list(api.CLASSES["VirtualMachineClusterInstancetype"]) + cluster.list(
        api.CLASSES["VirtualMachineInstancetype"], namespace)
    types = []
    for item in found:
        spec = item.get("spec") or {}
        cpus = int(((spec.get("cpu") or {}).get("guest")) or 0)
        memory = mib((spec.get("memory") or {}).get("guest"))
        if cpus and memory:
            types.append(InstanceType(item["metadata"]["name"], cpus, memory))
    return tuple(sorted(set(types), key=lambda kind: kind.name))
