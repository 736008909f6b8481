# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster metrics for the status report, from nodes and pods; use from ``metrics.k8s.io`` where it is served,
else the pods' requests (and the report says so).  The mapping is pure; ``collect`` reads the cluster."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Kube

from .vdc import millicores, size_bytes

NO_METRICS_API = "metrics.k8s.io is not served: CPU and memory use are the running pods' requests"
DONE_PHASES = ("Succeeded", "Failed")


def _resources(cpu: tuple[int, int], memory: tuple[int, int], storage: tuple[int, int], nodes: int, pods: int,
               vms: int) -> dict[str, Any]:
    """The hub's ResourceMetrics from (used, capacity) pairs: millicores and bytes."""
    found: dict[str, Any] = {}
    for name, (used, capacity) in (("cpu", cpu), ("memory", memory), ("storage", storage)):
        found.update({name + "_used": used, name + "_capacity": capacity,
                      name + "_percent": round(100.0 * used / capacity, 2) if capacity else 0.0})
    return dict(found, node_count=nodes, pod_count=pods, vm_count=vms)


def _requests(pods: list[Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
    """(millicores, bytes) requested by the running pods, by node."""
    by_node: dict[str, tuple[int, int]] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or (pod.get("status") or {}).get("phase") in DONE_PHASES:
            continue
        cpu, memory = by_node.get(node, (0, 0))
        for container in (pod.get("spec") or {}).get("containers") or []:
            requests = (container.get("resources") or {}).get("requests") or {}
            cpu, memory = cpu + millicores(requests.get("cpu")), memory + size_bytes(requests.get("memory"))
        by_node[node] = (cpu, memory)
    return by_node


def _ready(node: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def _node_status(node: Mapping[str, Any], use: tuple[int, int]) -> dict[str, Any]:
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or status.get("capacity") or {}
    cpu = (use[0], millicores(allocatable.get("cpu")))
    memory = (use[1], size_bytes(allocatable.get("memory")))
    storage = (0, size_bytes(allocatable.get("ephemeral-storage")))
    return {"name": node["metadata"]["name"], "status": "Ready" if _ready(node) else "NotReady",
            "cpu": _resources(cpu, (0, 0), (0, 0), 1, 0, 0), "memory": _resources((0, 0), memory, (0, 0), 1, 0, 0),
            "storage": _resources((0, 0), (0, 0), storage, 1, 0, 0),
            "labels": dict(node["metadata"].get("labels") or {}),
            "conditions": [{"type": c.get("type", ""), "status": c.get("status", ""),
                            "last_transition_time": c.get("lastTransitionTime"), "reason": c.get("reason", ""),
                            "message": c.get("message", "")} for c in status.get("conditions") or []]}


def cluster_metrics(nodes: list[Mapping[str, Any]], pods: list[Mapping[str, Any]],
                    measured: Optional[Mapping[str, tuple[int, int]]], vm_count: int, ids: tuple[str, str],
                    when: str) -> dict[str, Any]:
    """The hub's ClusterMetrics; ``measured`` is (millicores, bytes) in use by node, None without the metrics API."""
    use = measured if measured is not None else _requests(pods)
    statuses = [_node_status(node, use.get(node["metadata"]["name"], (0, 0))) for node in nodes]
    total = {key: sum(s[part][key] for s in statuses) for part, key in (
        ("cpu", "cpu_used"), ("cpu", "cpu_capacity"), ("memory", "memory_used"), ("memory", "memory_capacity"),
        ("storage", "storage_capacity"))}
    running = sum(1 for pod in pods if (pod.get("status") or {}).get("phase") not in DONE_PHASES)
    return {"cluster_id": ids[0], "zone_id": ids[1], "last_collected": when, "node_status": statuses,
            "resources": _resources((total["cpu_used"], total["cpu_capacity"]),
                                    (total["memory_used"], total["memory_capacity"]),
                                    (0, total["storage_capacity"]), len(nodes), running, vm_count)}


def _measured(kube: Kube) -> Optional[dict[str, tuple[int, int]]]:
    try:
        found = kube.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes", what="list node metrics")
    except errors.NotFoundError:
        return None
    return {item["metadata"]["name"]: (millicores((item.get("usage") or {}).get("cpu")),
                                       size_bytes((item.get("usage") or {}).get("memory")))
            for item in found.get("items") or []}


def collect(kube: Callable[[], Kube], vm_count: int, ids: tuple[str, str],
            when: str) -> tuple[dict[str, Any], list[str]]:
    """The cluster's metrics, and what the report's ``errors`` should say about them.

    Raises:
        VirtrigaudError: the cluster cannot be read.
    """
    client = kube()
    nodes = client.request("GET", "/api/v1/nodes", what="list nodes").get("items") or []
    pods = client.request("GET", "/api/v1/pods", query={"fieldSelector": "status.phase=Running"},
                          what="list running pods").get("items") or []
    measured = _measured(client)
    return cluster_metrics(nodes, pods, measured, vm_count, ids, when), [] if measured is not None else [
        NO_METRICS_API]
