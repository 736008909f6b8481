# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KubeVirt's snapshot, restore and clone objects, and how they report failure.  No I/O."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Mapping, Optional, Sequence

from ..base import Snapshot
from .translate import MANAGED_BY, VM_LABEL

SNAPSHOT_ANNOTATION = "virtrigaud.io/snapshot-name"
DESCRIPTION_ANNOTATION = "virtrigaud.io/description"


def snapshot_object_name(vm: str, snapshot: str) -> str:
    """A Kubernetes name for a snapshot name, which may hold capitals and '_': a digest keeps such names apart."""
    slug = re.sub(r"[^a-z0-9-]", "-", snapshot.lower())
    if slug == snapshot:
        return "%s-%s" % (vm, slug)
    return "%s-%s-%s" % (vm, slug, hashlib.sha256(snapshot.encode("utf-8")).hexdigest()[:6])


def snapshot_object(vm: str, namespace: str, name: str, description: str) -> dict[str, Any]:
    return {"apiVersion": "snapshot.kubevirt.io/v1beta1", "kind": "VirtualMachineSnapshot",
            "metadata": {"name": snapshot_object_name(vm, name), "namespace": namespace,
                         "labels": {MANAGED_BY[0]: MANAGED_BY[1], VM_LABEL: vm},
                         "annotations": {SNAPSHOT_ANNOTATION: name, DESCRIPTION_ANNOTATION: description}},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": vm},
                     "deletionPolicy": "Delete"}}


def snapshot_of(obj: Mapping[str, Any]) -> Snapshot:
    metadata, status = obj["metadata"], obj.get("status") or {}
    notes = metadata.get("annotations") or {}
    return Snapshot(id=metadata["name"], name=notes.get(SNAPSHOT_ANNOTATION) or metadata["name"],
                    description=notes.get(DESCRIPTION_ANNOTATION) or "",
                    created=status.get("creationTime") or metadata.get("creationTimestamp"), has_memory=False)


def snapshots_of(items: Sequence[Mapping[str, Any]], vm: str) -> list[Snapshot]:
    """The VM's snapshots, oldest first."""
    mine = [item for item in items if ((item.get("spec") or {}).get("source") or {}).get("name") == vm]
    mine.sort(key=lambda item: (item["metadata"].get("creationTimestamp") or "", item["metadata"]["name"]))
    return [snapshot_of(item) for item in mine]


def restore_object(vm: str, namespace: str, snapshot: str) -> dict[str, Any]:
    return {"apiVersion": "snapshot.kubevirt.io/v1beta1", "kind": "VirtualMachineRestore",
            "metadata": {"name": "%s-restore-%s" % (vm, hashlib.sha256(snapshot.encode()).hexdigest()[:8]),
                         "namespace": namespace, "labels": {MANAGED_BY[0]: MANAGED_BY[1], VM_LABEL: vm}},
            "spec": {"target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": vm},
                     "virtualMachineSnapshotName": snapshot}}


def clone_object(source: Mapping[str, str], target: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "clone.kubevirt.io/v1beta1", "kind": "VirtualMachineClone",
            "metadata": {"name": "%s-clone" % target, "namespace": namespace,
                         "labels": {MANAGED_BY[0]: MANAGED_BY[1], VM_LABEL: target}},
            "spec": {"source": dict(source), "target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine",
                                                        "name": target}}}


def failure(obj: Optional[Mapping[str, Any]]) -> Optional[str]:
    """Why a snapshot, restore or clone failed, from its status; None while it has not."""
    status = (obj or {}).get("status") or {}
    if status.get("phase") == "Failed" or (status.get("error") or {}).get("message"):
        return (status.get("error") or {}).get("message") or next(
            (c["message"] for c in status.get("conditions") or [] if c.get("message")), "failed")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Failure" and condition.get("status") == "True":
            return condition.get("message") or condition.get("reason") or "failed"
    return None
