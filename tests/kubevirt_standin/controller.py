# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controllers a KubeVirt cluster runs, played just enough for the collection's tests.

virt-controller (VM status, VMIs, snapshots, restores, clones), virt-handler (a guest that runs and shuts
down), CDI (DataVolumes), a CSI provisioner (PVCs bound and grown) and the garbage collector (objects whose
owner is gone).  Watches feed one queue of object keys; one worker reconciles each key from the object as it
is now, so the order of events never matters.  It logs object names and phases, never data.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from . import client as k
from .client import Api, ApiError
from .importer import Importer, import_source, scheduled

LOG = logging.getLogger("kubevirt-standin")
FINALIZER = "standin.virtrigaud.io/guest"
SHUTDOWN_SECONDS = 0.5
NODES = ("standin-node-1", "standin-node-2", "standin-node-3")
POD_RANGE = "10.244.%d.%d"
MULTUS_RANGE = "192.168.200.%d"
WATCHED = {"vm": k.VM, "vmi": k.VMI, "dv": k.DV, "pvc": k.PVC, "snapshot": k.SNAPSHOT, "restore": k.RESTORE,
           "clone": k.CLONE}
DEPENDENT_KINDS = (k.VMI, k.DV, k.PVC, k.SECRET, k.CONTENT)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()


def condition(kind: str, status: bool, reason: str = "", message: str = "") -> dict:
    return {"type": kind, "status": "True" if status else "False", "reason": reason, "message": message,
            "lastTransitionTime": now(), "lastProbeTime": None}


def owner(obj: dict, controller: bool = True) -> dict:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": True}


def gib_of(quantity: Any) -> float:
    text = str(quantity or "0")
    for suffix, factor in (("Ti", 1024.0), ("Gi", 1.0), ("Mi", 1 / 1024.0), ("Ki", 1 / 1024.0 ** 2)):
        if text.endswith(suffix):
            return float(text[:-2]) * factor
    return float(text) / 1024 ** 3


class Controller:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.queue: set[tuple[str, str, str]] = set()
        self.timers: list[tuple[float, tuple[str, str, str]]] = []
        self.cond = threading.Condition()
        self.stopped = threading.Event()
        self.importer = Importer(api, self.enqueue)

    # plumbing

    def enqueue(self, key: tuple[str, str, str], delay: float = 0.0) -> None:
        with self.cond:
            if delay:
                heapq.heappush(self.timers, (time.monotonic() + delay, key))
            else:
                self.queue.add(key)
            self.cond.notify()

    def run(self) -> None:
        for name, kind in WATCHED.items():
            threading.Thread(target=self._watch, args=(name, kind), daemon=True).start()
        threading.Thread(target=self._work, daemon=True).start()

    def _watch(self, name: str, kind: k.Kind) -> None:
        while not self.stopped.is_set():
            try:
                listing = self.api.list(kind)
                for item in listing.get("items") or []:
                    self.enqueue((name, item["metadata"]["namespace"], item["metadata"]["name"]))
                version = listing["metadata"]["resourceVersion"]
                for event in self.api.watch(kind, version):
                    obj = event.get("object") or {}
                    metadata = obj.get("metadata") or {}
                    if event.get("type") == "BOOKMARK" or "name" not in metadata:
                        continue
                    if event["type"] == "DELETED":
                        self.enqueue(("gone", metadata["namespace"], metadata["uid"]))
                    self.enqueue((name, metadata["namespace"], metadata["name"]))
            except Exception as err:  # keep watching whatever happens: the test bed must not die quietly
                LOG.warning("watch of %s: %s", kind.plural, err)
                time.sleep(0.5)

    def _work(self) -> None:
        handlers: dict[str, Callable[[str, str], None]] = {
            "vm": self.vm, "vmi": self.vmi, "dv": self.data_volume, "pvc": self.claim, "snapshot": self.snapshot,
            "restore": self.restore, "clone": self.clone, "gone": self.collect}
        while not self.stopped.is_set():
            with self.cond:
                while not self.queue:
                    due = self.timers[0][0] - time.monotonic() if self.timers else 1.0
                    if self.timers and due <= 0:
                        self.queue.add(heapq.heappop(self.timers)[1])
                        continue
                    self.cond.wait(min(max(due, 0.01), 1.0))
                key = self.queue.pop()
            try:
                handlers[key[0]](key[1], key[2])
            except ApiError as err:
                if err.status != 409:
                    LOG.warning("%s %s/%s: %s", key[0], key[1], key[2], err)
                self.enqueue(key, 0.2)
            except Exception:  # pragma: no cover - logged for whoever debugs the test bed
                LOG.exception("%s %s/%s", *key)
                self.enqueue(key, 1.0)

    # virt-controller: VMs

    @staticmethod
    def wants_instance(vm: dict, current: bool) -> bool:
        spec = vm["spec"]
        strategy = spec.get("runStrategy") or ("Always" if spec.get("running") else "Halted")
        if strategy in ("Always", "RerunOnFailure"):
            return True
        if strategy in ("Manual", "Once"):
            return current
        return False

    def vm(self, namespace: str, name: str) -> None:
        vm = self.api.get(k.VM, name, namespace)
        if vm is None:
            return
        if vm["metadata"].get("deletionTimestamp"):
            self.finalize_owner(k.VM, vm)
            return
        self.ensure_data_volumes(vm)
        vmi = self.api.get(k.VMI, name, namespace)
        running = vmi is not None and not vmi["metadata"].get("deletionTimestamp")
        wanted = self.wants_instance(vm, running)
        problem = self.volume_problem(vm)
        if wanted and vmi is None and problem is None:
            vmi = self.start_instance(vm)
            running = True
        elif not wanted and running:
            self.api.delete(k.VMI, name, namespace)
            running = False
        restart_required = running and self.sync_instance(vm, vmi)
        self.write_status(vm, vmi, running, wanted, problem, restart_required)
        if wanted and problem:
            self.enqueue(("vm", namespace, name), 0.3)  # volumes are not watched from here: look again soon

    def ensure_data_volumes(self, vm: dict) -> None:
        for template in vm["spec"].get("dataVolumeTemplates") or []:
            name = template["metadata"]["name"]
            if self.api.get(k.DV, name, vm["metadata"]["namespace"]) is None:
                metadata = copy.deepcopy(template.get("metadata") or {})
                metadata.update(namespace=vm["metadata"]["namespace"], ownerReferences=[owner(vm)])
                self.api.create(k.DV, {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
                                       "metadata": metadata, "spec": copy.deepcopy(template["spec"])})

    def volume_problem(self, vm: dict) -> Optional[str]:
        """The printableStatus a VM waits in for its volumes, or None when all are ready."""
        namespace = vm["metadata"]["namespace"]
        for volume in vm["spec"]["template"]["spec"].get("volumes") or []:
            if "dataVolume" in volume:
                dv = self.api.get(k.DV, volume["dataVolume"]["name"], namespace)
                phase = ((dv or {}).get("status") or {}).get("phase")
                if phase == "Failed":
                    return "DataVolumeError"
                if phase != "Succeeded":
                    return "Provisioning"
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                pvc = self.api.get(k.PVC, claim, namespace)
                if pvc is None:
                    return "ErrorPvcNotFound"
                if (pvc.get("status") or {}).get("phase") != "Bound":
                    return "WaitingForVolumeBinding"
            for key in ("secretRef", "networkDataSecretRef"):
                secret = ((volume.get("cloudInitNoCloud") or {}).get(key) or {}).get("name")
                if secret and self.api.get(k.SECRET, secret, namespace) is None:
                    return "Provisioning"
        return None

    def start_instance(self, vm: dict) -> dict:
        """The VMI, created running (virt-handler's work done at once) with addresses from the test ranges."""
        namespace, name = vm["metadata"]["namespace"], vm["metadata"]["name"]
        spec = copy.deepcopy(vm["spec"]["template"]["spec"])
        spec.setdefault("terminationGracePeriodSeconds", 180)
        node = NODES[_digest(namespace, name)[0] % len(NODES)]
        labels = dict((vm["spec"]["template"].get("metadata") or {}).get("labels") or {},
                      **{"kubevirt.io/nodeName": node})
        body = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                "metadata": {"name": name, "namespace": namespace, "labels": labels, "finalizers": [FINALIZER],
                             "ownerReferences": [owner(vm)]},
                "spec": spec, "status": self.instance_status(vm, spec, node)}
        LOG.info("VMI %s/%s starts on %s", namespace, name, node)
        return self.api.create(k.VMI, body) or body

    @staticmethod
    def instance_status(vm: dict, spec: dict, node: str) -> dict:
        namespace, name = vm["metadata"]["namespace"], vm["metadata"]["name"]
        networks = {n["name"]: n for n in spec.get("networks") or []}
        interfaces = []
        for index, interface in enumerate(spec["domain"]["devices"].get("interfaces") or []):
            seed = _digest(namespace, name, interface["name"])
            mac = interface.get("macAddress") or "02:%02x:%02x:%02x:%02x:%02x" % tuple(seed[:5])
            pod = "pod" in networks.get(interface["name"], {})
            address = POD_RANGE % (seed[5], max(seed[6], 2)) if pod else MULTUS_RANGE % max(seed[7] % 250, 2)
            interfaces.append({"name": interface["name"], "mac": mac, "interfaceName": "eth%d" % index,
                               "ipAddress": address, "ipAddresses": [address], "infoSource": "domain, guest-agent"})
        cpu = spec["domain"].get("cpu") or {}
        return {"phase": "Running", "nodeName": node, "interfaces": interfaces, "guestOSInfo": {"id": "standin"},
                "currentCPUTopology": {k2: cpu.get(k2, 1) for k2 in ("sockets", "cores", "threads")},
                "memory": {"guestCurrent": (spec["domain"].get("memory") or {}).get("guest")},
                "conditions": [condition("Ready", True), condition("AgentConnected", True)],
                "phaseTransitionTimestamps": [{"phase": "Running", "phaseTransitionTimestamp": now()}]}

    def live_update(self) -> bool:
        items = self.api.list(k.KUBEVIRT).get("items") or []
        return any(((i.get("spec") or {}).get("configuration") or {}).get("vmRolloutStrategy") == "LiveUpdate"
                   for i in items)

    def sync_instance(self, vm: dict, vmi: dict) -> bool:
        """Carry CPU sockets and memory to the running guest as LiveUpdate does; True when a restart is needed."""
        want, have = vm["spec"]["template"]["spec"], vmi["spec"]
        want_cpu, have_cpu = want["domain"].get("cpu") or {}, have["domain"].get("cpu") or {}
        want_memory, have_memory = want["domain"].get("memory") or {}, have["domain"].get("memory") or {}
        volumes = [v["name"] for v in want.get("volumes") or []] != [v["name"] for v in have.get("volumes") or []]
        interfaces = want["domain"]["devices"].get("interfaces") or []
        cpu_changed = want_cpu.get("sockets") != have_cpu.get("sockets")
        memory_changed = want_memory.get("guest") != have_memory.get("guest")
        nics_changed = [i["name"] for i in interfaces] != [i["name"] for i in have["domain"]["devices"].get(
            "interfaces") or []]
        if not (cpu_changed or memory_changed or nics_changed or volumes):
            return bool(vm["metadata"].get("annotations", {}).get("standin.virtrigaud.io/restart-required"))
        live = self.live_update() and not volumes
        live = live and int(want_cpu.get("sockets") or 1) <= int(have_cpu.get("maxSockets") or 0) if cpu_changed \
            else live
        live = live and gib_of(want_memory.get("guest")) <= gib_of(have_memory.get("maxGuest")) if memory_changed \
            else live
        live = live and all("bridge" in i for i in interfaces[len(have["domain"]["devices"].get("interfaces") or []):])
        if not live:
            return True
        have["domain"]["cpu"] = dict(have_cpu, sockets=want_cpu.get("sockets"))
        have["domain"]["memory"] = dict(have_memory, guest=want_memory.get("guest"))
        have["domain"]["devices"]["interfaces"] = interfaces
        have["networks"] = want.get("networks") or []
        vmi["status"] = self.instance_status(vm, have, vmi["status"].get("nodeName") or NODES[0])
        self.api.replace(k.VMI, vmi)
        LOG.info("VMI %s/%s updated live", vm["metadata"]["namespace"], vm["metadata"]["name"])
        return False

    def write_status(self, vm: dict, vmi: Optional[dict], running: bool, wanted: bool, problem: Optional[str],
                     restart_required: bool) -> None:
        if running:
            printable = "Running"
        elif vmi is not None:
            printable = "Stopping"
        elif wanted:
            printable = problem or "Starting"
        else:
            printable = "Stopped"
        conditions = [condition("Ready", running, "" if running else "VMINotExists")]
        if restart_required:
            conditions.append(condition("RestartRequired", True, "", "a non-live-updatable field was changed"))
        status = {"printableStatus": printable, "ready": running, "created": vmi is not None,
                  "runStrategy": vm["spec"].get("runStrategy") or ("Always" if vm["spec"].get("running") else "Halted"),
                  "observedGeneration": vm["metadata"].get("generation"),
                  "desiredGeneration": vm["metadata"].get("generation"), "conditions": conditions}
        old = vm.get("status") or {}
        if all(old.get(key) == value for key, value in status.items() if key != "conditions") and \
                [(c.get("type"), c.get("status")) for c in old.get("conditions") or []] == \
                [(c["type"], c["status"]) for c in conditions]:
            return
        vm["status"] = status
        self.api.replace(k.VM, vm, "status")
        LOG.info("VM %s/%s is %s", vm["metadata"]["namespace"], vm["metadata"]["name"], printable)

    # virt-handler: a guest shutting down

    def vmi(self, namespace: str, name: str) -> None:
        vmi = self.api.get(k.VMI, name, namespace)
        if vmi is None:
            self.enqueue(("vm", namespace, name))
            return
        deleted = vmi["metadata"].get("deletionTimestamp")
        if not deleted or FINALIZER not in (vmi["metadata"].get("finalizers") or []):
            return
        # Custom resources have no graceful deletion: as virt-handler does, the VMI's own grace period counts.
        # The guest takes SHUTDOWN_SECONDS to power off, or is killed at once with a grace period of 0.
        grace = int(vmi["spec"].get("terminationGracePeriodSeconds", 180))
        stamp = datetime.strptime(deleted, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        elapsed = (datetime.now(timezone.utc) - stamp).total_seconds()
        delay = min(SHUTDOWN_SECONDS, grace)
        if elapsed < delay:
            self.enqueue(("vmi", namespace, name), delay - elapsed)
            return
        finalizers = [f for f in vmi["metadata"]["finalizers"] if f != FINALIZER]
        self.api.patch(k.VMI, name, namespace, {"metadata": {"finalizers": finalizers,
                                                             "resourceVersion": vmi["metadata"]["resourceVersion"]}})
        LOG.info("VMI %s/%s shut down", namespace, name)
        self.enqueue(("vm", namespace, name), 0.05)

    # CDI and the CSI provisioner: DataVolumes and PVCs

    def storage_class(self, name: Optional[str]) -> Optional[dict]:
        if name:
            return self.api.get(k.STORAGE_CLASS, name)
        default = "storageclass.kubernetes.io/is-default-class"
        return next((sc for sc in self.api.list(k.STORAGE_CLASS).get("items") or []
                     if (sc["metadata"].get("annotations") or {}).get(default) == "true"), None)

    def data_volume(self, namespace: str, name: str) -> None:
        dv = self.api.get(k.DV, name, namespace)
        if dv is None or dv["metadata"].get("deletionTimestamp"):
            return
        phase = (dv.get("status") or {}).get("phase")
        if import_source(dv) and phase not in ("Succeeded", "Failed"):
            self.import_volume(dv)
            return
        if phase:
            return
        spec = dv["spec"]
        storage = spec.get("storage") or spec.get("pvc") or {}
        size = gib_of(storage["resources"]["requests"]["storage"])
        source = (spec.get("source") or {}).get("pvc")
        reason = ""
        if source:
            original = self.api.get(k.PVC, source["name"], source.get("namespace") or namespace)
            if original is None:
                reason = "source PVC %s/%s not found" % (source.get("namespace") or namespace, source["name"])
            else:
                size = max(size, gib_of((original.get("status") or {}).get("capacity", {}).get("storage")))
        if not reason:
            self.make_claim(dv, "%dGi" % round(size))
        dv["status"] = {"phase": "Failed" if reason else "Succeeded", "progress": "N/A" if reason else "100.0%",
                        "claimName": name, "conditions": [condition("Ready", not reason, "Failed" if reason else "",
                                                                    reason)]}
        self.api.replace(k.DV, dv, "status")
        LOG.info("DataVolume %s/%s %s", namespace, name, "failed: " + reason if reason else "succeeded")
        for ref in dv["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "VirtualMachine":
                self.enqueue(("vm", namespace, ref["name"]))

    def make_claim(self, dv: dict, request: str) -> None:
        """The DataVolume's PVC, of its name, owned by it."""
        storage = dv["spec"].get("storage") or dv["spec"].get("pvc") or {}
        metadata = dv["metadata"]
        self.api.create(k.PVC, {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {
            "name": metadata["name"], "namespace": metadata["namespace"], "labels": dict(metadata.get("labels") or {}),
            "ownerReferences": [owner(dv)]},
            "spec": {"accessModes": storage.get("accessModes") or ["ReadWriteOnce"],
                     "storageClassName": storage.get("storageClassName") or (self.storage_class(None) or {}).get(
                         "metadata", {}).get("name"),
                     "resources": {"requests": {"storage": request}}}})

    def import_volume(self, dv: dict) -> None:
        """An http or registry import (importer.py): the PVC as large as asked, bound, then the importer."""
        metadata = dv["metadata"]
        namespace, name = metadata["namespace"], metadata["name"]
        request = (dv["spec"].get("storage") or dv["spec"].get("pvc") or {})["resources"]["requests"]["storage"]
        pvc = self.api.get(k.PVC, name, namespace)
        if pvc is None:
            self.make_claim(dv, request)
            pvc = self.api.get(k.PVC, name, namespace) or {}
        phase = (dv.get("status") or {}).get("phase")
        if (pvc.get("status") or {}).get("phase") != "Bound":
            if phase != "Pending":
                self.api.patch(k.DV, name, namespace, {"status": {
                    "phase": "Pending", "progress": "N/A", "claimName": name, "restartCount": 0,
                    "conditions": [condition("Bound", False, "Pending", "PVC %s Pending" % name),
                                   condition("Ready", False), condition("Running", False)]}}, "status")
            self.enqueue(("dv", namespace, name), 1.0)
            return
        if not scheduled(phase):
            status = {"phase": "ImportScheduled", "claimName": name, "progress": "N/A"}
            dv = self.api.patch(k.DV, name, namespace, {"status": status}, "status") or dv
        self.importer.start(dv, int(gib_of(pvc["status"]["capacity"]["storage"]) * 1024 ** 3))

    def claim(self, namespace: str, name: str) -> None:
        pvc = self.api.get(k.PVC, name, namespace)
        if pvc is None:
            return
        metadata = pvc["metadata"]
        if metadata.get("deletionTimestamp"):
            # The pvc-protection controller: no pod ever uses a claim here.
            finalizers = [f for f in metadata.get("finalizers") or [] if f != "kubernetes.io/pvc-protection"]
            if finalizers != metadata.get("finalizers"):
                self.api.patch(k.PVC, name, namespace, {"metadata": {"finalizers": finalizers or None}})
            return
        wanted = pvc["spec"]["resources"]["requests"]["storage"]
        status = pvc.get("status") or {}
        if status.get("phase") == "Bound" and status.get("capacity", {}).get("storage") == wanted:
            return
        if self.storage_class(pvc["spec"].get("storageClassName")) is None:
            return  # no provisioner for it: the claim stays Pending, as on a real cluster
        pvc["status"] = {"phase": "Bound", "accessModes": pvc["spec"].get("accessModes"),
                         "capacity": {"storage": wanted}}
        self.api.replace(k.PVC, pvc, "status")
        LOG.info("PVC %s/%s bound at %s", namespace, name, wanted)

    # virt-controller: snapshots, restores, clones

    def _volume_claims(self, vm_spec: dict, namespace: str) -> list[tuple[str, dict]]:
        found = []
        for volume in vm_spec["template"]["spec"].get("volumes") or []:
            claim = (volume.get("dataVolume") or {}).get("name") or (volume.get("persistentVolumeClaim") or {}).get(
                "claimName")
            pvc = self.api.get(k.PVC, claim, namespace) if claim else None
            if pvc is not None:
                found.append((volume["name"], pvc))
        return found

    def snapshot(self, namespace: str, name: str) -> None:
        snapshot = self.api.get(k.SNAPSHOT, name, namespace)
        if snapshot is None or snapshot["metadata"].get("deletionTimestamp") or \
                (snapshot.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        source = snapshot["spec"]["source"]
        vm = self.api.get(k.VM, source["name"], namespace) if source.get("kind") == "VirtualMachine" else None
        if vm is None:
            snapshot["status"] = {"phase": "Failed", "readyToUse": False,
                                  "error": {"message": "source %s %s not found" % (source.get("kind"), source["name"]),
                                            "time": now()}}
            self.api.replace(k.SNAPSHOT, snapshot, "status")
            return
        uid = snapshot["metadata"]["uid"]
        backups = [{"volumeName": volume, "volumeSnapshotName": "vmsnapshot-%s-volume-%s" % (uid, volume),
                    "persistentVolumeClaim": {"metadata": {"name": pvc["metadata"]["name"],
                                                           "labels": pvc["metadata"].get("labels") or {}},
                                              "spec": dict(pvc["spec"], resources={"requests": {
                                                  "storage": pvc.get("status", {}).get("capacity", {}).get(
                                                      "storage") or pvc["spec"]["resources"]["requests"]["storage"]}})}}
                   for volume, pvc in self._volume_claims(vm["spec"], namespace)]
        content_name = "vmsnapshot-content-%s" % uid
        content = {"apiVersion": "snapshot.kubevirt.io/v1beta1", "kind": "VirtualMachineSnapshotContent",
                   "metadata": {"name": content_name, "namespace": namespace,
                                "ownerReferences": [owner(snapshot)] if snapshot["spec"].get(
                                    "deletionPolicy", "Delete") == "Delete" else []},
                   "spec": {"virtualMachineSnapshotName": name, "volumeBackups": backups,
                            "source": {"virtualMachine": {"metadata": {
                                "name": vm["metadata"]["name"], "namespace": namespace,
                                "labels": vm["metadata"].get("labels") or {},
                                "annotations": vm["metadata"].get("annotations") or {}},
                                "spec": copy.deepcopy(vm["spec"])}}}}
        stored = self.api.create(k.CONTENT, content) or self.api.get(k.CONTENT, content_name, namespace)
        stored["status"] = {"readyToUse": True, "creationTime": now()}
        self.api.replace(k.CONTENT, stored, "status")
        online = self.api.get(k.VMI, vm["metadata"]["name"], namespace) is not None
        snapshot["status"] = {
            "phase": "Succeeded", "readyToUse": True, "creationTime": now(), "sourceUID": vm["metadata"]["uid"],
            "virtualMachineSnapshotContentName": content_name,
            "indications": ["Online", "GuestAgent"] if online else [],
            "snapshotVolumes": {"includedVolumes": [b["volumeName"] for b in backups]},
            "conditions": [condition("Ready", True, "Operation complete"), condition("Progressing", False)]}
        self.api.replace(k.SNAPSHOT, snapshot, "status")
        LOG.info("snapshot %s/%s of %s taken", namespace, name, vm["metadata"]["name"])

    def restored_spec(self, vm_spec: dict, backups: list[dict], namespace: str, prefix: str, owner_vm: dict) -> dict:
        """The VM spec with each backed-up volume on a new claim restored from its backup (new names, as KubeVirt
        gives them), and the DataVolume templates renamed to match."""
        spec = copy.deepcopy(vm_spec)
        names = {}
        for backup in backups:
            new = "%s-%s" % (prefix, backup["volumeName"])
            names[backup["persistentVolumeClaim"]["metadata"]["name"]] = new
            dv = {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
                  "metadata": {"name": new, "namespace": namespace,
                               "labels": backup["persistentVolumeClaim"]["metadata"].get("labels") or {},
                               "annotations": {"cdi.kubevirt.io/storage.prePopulated": new},
                               "ownerReferences": [owner(owner_vm)]},
                  "spec": {"source": {"blank": {}},
                           "storage": {"resources": backup["persistentVolumeClaim"]["spec"]["resources"],
                                       "storageClassName": backup["persistentVolumeClaim"]["spec"].get(
                                           "storageClassName")}}}
            self.api.create(k.DV, dv)
        for template in spec.get("dataVolumeTemplates") or []:
            old = template["metadata"]["name"]
            if old in names:
                template["metadata"]["name"] = names[old]
                size = next(b["persistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"] for b in backups
                            if b["persistentVolumeClaim"]["metadata"]["name"] == old)
                template["spec"].setdefault("storage", {}).setdefault("resources", {})["requests"] = {"storage": size}
        for volume in spec["template"]["spec"].get("volumes") or []:
            if (volume.get("dataVolume") or {}).get("name") in names:
                volume["dataVolume"]["name"] = names[volume["dataVolume"]["name"]]
            claim = volume.get("persistentVolumeClaim") or {}
            if claim.get("claimName") in names:
                claim["claimName"] = names[claim["claimName"]]
        return spec

    def restore(self, namespace: str, name: str) -> None:
        restore = self.api.get(k.RESTORE, name, namespace)
        if restore is None or (restore.get("status") or {}).get("complete") or restore["metadata"].get(
                "deletionTimestamp"):
            return
        target = restore["spec"]["target"]["name"]
        snapshot = self.api.get(k.SNAPSHOT, restore["spec"]["virtualMachineSnapshotName"], namespace)
        vm = self.api.get(k.VM, target, namespace)
        content_name = ((snapshot or {}).get("status") or {}).get("virtualMachineSnapshotContentName")
        content = self.api.get(k.CONTENT, content_name, namespace) if content_name else None
        if vm is None or content is None:
            self._fail(k.RESTORE, restore, "target VM or snapshot content not found")
            return
        if self.api.get(k.VMI, target, namespace) is not None:
            restore["status"] = {"complete": False, "conditions": [
                condition("Ready", False, "VMRunning", "waiting for target to be ready"),
                condition("Progressing", True, "VMRunning", "the target VirtualMachine is running")]}
            self.api.replace(k.RESTORE, restore, "status")
            self.enqueue(("restore", namespace, name), 1.0)
            return
        prefix = "restore-%s" % restore["metadata"]["uid"][:8]
        backups = content["spec"].get("volumeBackups") or []
        old = {t["metadata"]["name"] for t in vm["spec"].get("dataVolumeTemplates") or []}
        spec = self.restored_spec(content["spec"]["source"]["virtualMachine"]["spec"], backups, namespace, prefix, vm)
        spec["runStrategy"] = vm["spec"].get("runStrategy")
        vm["spec"] = spec
        self.api.replace(k.VM, vm)
        kept = {t["metadata"]["name"] for t in spec.get("dataVolumeTemplates") or []}
        for dv in sorted(old - kept):
            self.api.delete(k.DV, dv, namespace)
        restore["status"] = {"complete": True, "restoreTime": now(), "deletedDataVolumes": sorted(old - kept),
                             "restores": [{"volumeName": b["volumeName"], "persistentVolumeClaim": "%s-%s" % (
                                 prefix, b["volumeName"]), "volumeSnapshotName": b["volumeSnapshotName"]}
                                 for b in backups],
                             "conditions": [condition("Ready", True, "Operation complete"),
                                            condition("Progressing", False)]}
        self.api.replace(k.RESTORE, restore, "status")
        LOG.info("restore %s/%s of %s complete", namespace, name, target)

    def _fail(self, kind: k.Kind, obj: dict, reason: str) -> None:
        obj["status"] = dict(obj.get("status") or {}, phase="Failed", conditions=[
            condition("Ready", False, "Failed", reason), condition("Failure", True, "Failed", reason)])
        self.api.replace(kind, obj, "status")
        LOG.info("%s %s/%s failed: %s", kind.plural, obj["metadata"]["namespace"], obj["metadata"]["name"], reason)

    def clone(self, namespace: str, name: str) -> None:
        request = self.api.get(k.CLONE, name, namespace)
        if request is None or (request.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        source, target = request["spec"]["source"], request["spec"]["target"]["name"]
        if source.get("kind") == "VirtualMachineSnapshot":
            snapshot = self.api.get(k.SNAPSHOT, source["name"], namespace)
            content_name = ((snapshot or {}).get("status") or {}).get("virtualMachineSnapshotContentName")
            content = self.api.get(k.CONTENT, content_name, namespace) if content_name else None
            origin = content["spec"]["source"]["virtualMachine"] if content else None
            backups = content["spec"].get("volumeBackups") or [] if content else []
        else:
            origin = self.api.get(k.VM, source["name"], namespace)
            backups = [{"volumeName": volume, "persistentVolumeClaim": {
                "metadata": {"name": pvc["metadata"]["name"], "labels": pvc["metadata"].get("labels") or {}},
                "spec": dict(pvc["spec"], resources={"requests": {"storage": (pvc.get("status") or {}).get(
                    "capacity", {}).get("storage") or pvc["spec"]["resources"]["requests"]["storage"]}})}}
                for volume, pvc in self._volume_claims(origin["spec"], namespace)] if origin else []
        if origin is None:
            self._fail(k.CLONE, request, "source %s %s not found" % (source.get("kind"), source["name"]))
            return
        if self.api.get(k.VM, target, namespace) is not None:
            self._fail(k.CLONE, request, "target VirtualMachine %s exists already" % target)
            return
        vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
              "metadata": {"name": target, "namespace": namespace,
                           "labels": dict(origin["metadata"].get("labels") or {}),
                           "annotations": dict(origin["metadata"].get("annotations") or {})},
              "spec": copy.deepcopy(origin["spec"])}
        for interface in vm["spec"]["template"]["spec"]["domain"]["devices"].get("interfaces") or []:
            new_mac = (request["spec"].get("newMacAddresses") or {}).get(interface["name"])
            interface.pop("macAddress", None)
            if new_mac:
                interface["macAddress"] = new_mac
        stored = self.api.create(k.VM, vm)
        if stored is None:
            self._fail(k.CLONE, request, "target VirtualMachine %s exists already" % target)
            return
        stored["spec"] = self.restored_spec(stored["spec"], backups, namespace,
                                            "restore-%s" % request["metadata"]["uid"][:8], stored)
        self.api.replace(k.VM, stored)
        request["status"] = {"phase": "Succeeded", "targetName": target, "creationTime": now(),
                             "conditions": [condition("Ready", True, "Succeeded"), condition("Progressing", False)]}
        self.api.replace(k.CLONE, request, "status")
        LOG.info("clone %s/%s of %s made %s", namespace, name, source["name"], target)

    # the garbage collector

    def collect(self, namespace: str, uid: str) -> None:
        """Delete what the object ``uid`` (gone now) owned, as the garbage collector does."""
        for kind in DEPENDENT_KINDS:
            for item in self.api.list(kind, namespace).get("items") or []:
                if any(ref.get("uid") == uid for ref in item["metadata"].get("ownerReferences") or []):
                    self.api.delete(kind, item["metadata"]["name"], namespace)

    def finalize_owner(self, kind: k.Kind, obj: dict) -> None:
        """The orphan and foregroundDeletion finalizers, which the garbage collector handles."""
        metadata = obj["metadata"]
        finalizers = metadata.get("finalizers") or []
        namespace, uid = metadata["namespace"], metadata["uid"]
        if "orphan" in finalizers:
            for dependent in DEPENDENT_KINDS:
                for item in self.api.list(dependent, namespace).get("items") or []:
                    refs = item["metadata"].get("ownerReferences") or []
                    if any(ref.get("uid") == uid for ref in refs):
                        kept = [ref for ref in refs if ref.get("uid") != uid]
                        self.api.patch(dependent, item["metadata"]["name"], namespace,
                                       {"metadata": {"ownerReferences": kept or None}})
        elif "foregroundDeletion" in finalizers:
            self.collect(namespace, uid)
        else:
            return
        left = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
        self.api.patch(kind, metadata["name"], namespace, {"metadata": {"finalizers": left or None}})
