# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The KubeVirt backend: VirtualMachines in one namespace of a Kubernetes cluster.

A VM's id is ``namespace/name``.  Power goes through ``subresources.kubevirt.io``, or through ``runStrategy``
where the cluster does not serve it; every write is checked first against the rules KubeVirt's webhooks
enforce, as a cluster without them accepts anything its CRD schemas allow.  Calls that start work in the
cluster return a task that polls the objects' status.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any, Mapping, Optional, cast

from ... import errors
from ...images import FAILED, READY, ImageSpec, PreparedImage, failed_import
from ...resilience import Deadline, poll
from ...spec import VMSpec
from ..base import (
    Capabilities,
    ConsoleAccess,
    ObservedVM,
    PowerOp,
    Provider,
    ProviderConfig,
    Reconfiguration,
    Snapshot,
    TaskRef,
    TaskStatus,
)
from ..discovery import Discovery
from . import checks, reconfiguration, snapshots
from . import client as api
from . import images as kvi
from . import translate as kv
from .discovery import discover as discover_cluster

_DONE = TaskRef()
LINKED_CLONE_SNAPSHOT = "virtrigaud-linked-base"
UPDATE_ATTEMPTS = 3
SETTLE_SECONDS = 3.0
LIST_CALLS_AT_ONCE = 8


class KubevirtProvider(Provider):
    type_name = "kubevirt"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.cluster = api.Cluster(config)
        self.namespace = self.cluster.namespace
        self._live_update: Optional[bool] = None
        self._classes: dict[tuple[str, str], Optional[dict[str, Any]]] = {}

    def close(self) -> None:
        self.cluster.close()

    def _deadline(self) -> Deadline:
        return Deadline(float(self.config.options.get("wait_timeout") or 600))

    def _ref(self, vm_id: str) -> tuple[str, str]:
        namespace, dummy, name = vm_id.rpartition("/")
        return namespace or self.namespace, name

    def _get_vm(self, vm_id: str) -> Optional[dict[str, Any]]:
        """The VM of an id, or None; an id that cannot name a VM (a path trick) names none."""
        if not checks.object_ref(vm_id):
            return None
        namespace, name = self._ref(vm_id)
        return self.cluster.get(api.VM, name, namespace)

    def _vm(self, vm_id: str) -> dict[str, Any]:
        namespace, name = self._ref(vm_id)
        vm = self._get_vm(vm_id)
        if vm is None:
            raise errors.NotFoundError("VirtualMachine %s/%s not found" % (namespace, name))
        return vm

    def _placement(self) -> checks.Placement:
        options = self.config.options
        return checks.Placement(namespace=self.namespace, storage_class=options.get("storage_pool"),
                                instancetype=checks.class_ref(options.get("instancetype"), "instancetype"),
                                preference=checks.class_ref(options.get("preference"), "preference"))

    def _class(self, ref: Optional[Mapping[str, Any]], namespace: str) -> Optional[dict[str, Any]]:
        """An instancetype or preference by reference, read once per provider."""
        if not ref:
            return None
        key = (ref["kind"], "%s/%s" % (namespace, ref["name"]))
        if key not in self._classes:
            self._classes[key] = self.cluster.get(api.CLASSES[ref["kind"]], ref["name"], namespace)
        return self._classes[key]

    # the contract

    def validate(self) -> None:
        self.cluster.list(api.VM, self.namespace)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            supports_reconfigure_online=self.live_update(),
            supports_disk_expansion_online=True,
            supports_snapshots=True,
            supports_linked_clones=True,
            supported_disk_types=("thin", "thick"),
            supported_network_types=("pod", "multus"),
            # KubeVirt hot-plugs new bridge NICs only; a NIC removed or re-attached takes effect at a restart.
            nic_changes={"remove_network": "offline", "set_network": "offline", "set_mac_address": "offline"},
            supports_secure_boot=True,
            console_types=("vnc",),
            supports_image_import=True,
            image_import_options=kvi.ACCEPTED_OPTIONS,
        )

    def discover(self) -> Discovery:
        return discover_cluster(self.cluster, self.namespace, dict(self.config.options), self.capabilities(),
                                self.warnings.append)

    def live_update(self) -> bool:
        """Whether the cluster applies CPU, memory and NIC changes to running VMs (``vmRolloutStrategy``)."""
        if self._live_update is None:
            try:
                found = self.cluster.list(api.KUBEVIRT)
            except (errors.NotFoundError, errors.PermissionDeniedError):
                found = []
            strategy = next((((item.get("spec") or {}).get("configuration") or {}).get("vmRolloutStrategy")
                             for item in found), None)
            self._live_update = strategy == "LiveUpdate"
        return self._live_update

    def check_spec(self, spec: VMSpec) -> None:
        placement = self._placement()
        image = checks.parse_image(spec.image, self.namespace) if spec.image else None
        checks.check_spec(spec, placement, image)
        if image and image.pvc:
            source = self.cluster.get(api.PVC, image.pvc, image.namespace)
            if source is None:
                raise errors.SpecError("no PersistentVolumeClaim %s/%s to clone the root disk from"
                                       % (image.namespace, image.pvc), option="image")
            size = kv.gib(((source.get("status") or {}).get("capacity") or {}).get("storage")
                          or source["spec"]["resources"]["requests"]["storage"])
            if spec.root_disk_gib and spec.root_disk_gib < size:
                raise errors.SpecError("the image %s/%s is %d GiB; the root disk cannot be smaller"
                                       % (image.namespace, image.pvc, size), option="disk_defaults.size")
        storage_class = spec.placement.datastore or placement.storage_class
        self._require_storage_class(storage_class,
                                    "placement.datastore" if spec.placement.datastore else "default_datastore")
        self.check_networks(spec)
        for what, ref in (("instancetype", placement.instancetype), ("preference", placement.preference)):
            if ref and self._class(ref, self.namespace) is None:
                raise errors.SpecError("no %s '%s'" % (ref["kind"], ref["name"]), option=what)

    def check_networks(self, spec: VMSpec) -> None:
        checks.check_nics(spec.networks)
        for index, network in enumerate(spec.networks):
            nad = network.network or kv.POD_NETWORK
            if nad != kv.POD_NETWORK:
                namespace, dummy, name = nad.rpartition("/")
                if self.cluster.get(api.NETWORK, name, namespace or self.namespace) is None:
                    raise errors.SpecError("no NetworkAttachmentDefinition '%s' (use 'pod' for the pod network)"
                                           % nad, option="networks[%d].network" % index)

    def _observe(self, vm: dict[str, Any], vmi: Optional[dict[str, Any]]) -> ObservedVM:
        namespace = vm["metadata"]["namespace"]
        classes = {"instancetype": self._class(vm["spec"].get("instancetype"), namespace) or {}}
        return kv.observed(vm, vmi, {key: value.get("spec") or {} for key, value in classes.items()},
                           api_base=self.cluster.kube.base)

    def _instance(self, vm: dict[str, Any]) -> Optional[dict[str, Any]]:
        """The VMI, read only when the VM's status says it may exist."""
        status = vm.get("status") or {}
        if not status.get("created") and status.get("printableStatus", "Stopped") == "Stopped":
            return None
        return self.cluster.get(api.VMI, vm["metadata"]["name"], vm["metadata"]["namespace"])

    def describe(self, vm_id: str) -> Optional[ObservedVM]:
        vm = self._get_vm(vm_id)
        return self._observe(vm, self._instance(vm)) if vm else None

    def open_console(self, vm_id: str) -> Optional[ConsoleAccess]:
        vm = self._get_vm(vm_id)
        if vm is None:
            raise errors.NotFoundError("VM '%s' not found" % vm_id)
        if self._instance(vm) is None:
            return None
        return kv.vnc_access(self.cluster.kube.base, vm["metadata"]["namespace"], vm["metadata"]["name"])

    def find(self, name: str) -> Optional[ObservedVM]:
        return self.describe("%s/%s" % (self.namespace, name))

    def _scope(self) -> list[Optional[str]]:
        """The namespaces to list: an inventory source's, or the connection's."""
        namespaces = self.config.options.get("namespaces")
        if namespaces is None:
            return [self.namespace]
        return list(namespaces) or [None]

    def _listing(self) -> list[ObservedVM]:
        """Every list call at once: the API server takes longer to build a list of thousands than we take to read
        it, and it builds each on its own."""
        selector = self.config.options.get("label_selector")
        calls = [(kind, namespace, selector if kind is api.VM else None, _vmi_as_read if kind is api.VMI else None)
                 for namespace in self._scope() for kind in (api.VM, api.VMI)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(LIST_CALLS_AT_ONCE, len(calls))) as pool:
            lists = list(pool.map(lambda call: self.cluster.list(*call), calls))
        vms: list[dict[str, Any]] = []
        instances: dict[tuple[str, str], dict[str, Any]] = {}
        for call, items in zip(calls, lists):
            if call[0] is api.VM:
                vms += items
            else:
                instances.update(((i["metadata"]["namespace"], i["metadata"]["name"]), i) for i in items)
        found = [self._observe(vm, instances.get((vm["metadata"]["namespace"], vm["metadata"]["name"])))
                 for vm in vms]
        return sorted(found, key=lambda vm: vm.id)

    def list_vms(self) -> list[ObservedVM]:
        """One list call for the VMs and one for their VMIs per namespace."""
        return self._listing()

    # create, clone, delete

    def create(self, spec: VMSpec) -> tuple[str, TaskRef]:
        existing = self.find(spec.name)
        if existing is not None:
            return existing.id, _DONE
        placement = self._placement()
        placement = checks.Placement(placement.namespace, spec.placement.datastore or placement.storage_class,
                                     placement.instancetype, placement.preference)
        image = checks.parse_image(spec.image, self.namespace) if spec.image else None
        root = spec.root_disk_gib
        if image and image.pvc and not root:
            source = self.cluster.get(api.PVC, image.pvc, image.namespace) or {}
            root = kv.gib(((source.get("status") or {}).get("capacity") or {}).get("storage")) or None
        manifest = kv.vm_manifest(spec, placement, image, root)
        kv.check_admission(manifest)
        stored = self.cluster.create(api.VM, manifest)
        try:
            api.check_stored(manifest, stored, "its KubeVirt CRDs do not know these fields")
            self._write_secret(kv.cloud_init_secret(spec, self.namespace, stored))
        except errors.VirtrigaudError:
            self.cluster.delete(api.VM, spec.name, self.namespace)
            raise
        return "%s/%s" % (self.namespace, spec.name), _DONE

    def _require_storage_class(self, name: Optional[str], option: str) -> None:
        """A StorageClass that is named must be well formed and exist; None asks for the cluster's default."""
        if not name:
            return
        checks.check_storage_class(name, option)
        if self.cluster.get(api.STORAGE_CLASS, name) is None:
            raise errors.SpecError("no StorageClass '%s' in the cluster" % name, option=option)

    def _write_secret(self, secret: Optional[dict[str, Any]]) -> None:
        """Create the cloud-init Secret; one left by an earlier VM of the name is taken over."""
        if secret is None:
            return
        try:
            self.cluster.create(api.SECRET, secret)
        except errors.AlreadyExistsError:
            self.cluster.replace(api.SECRET, secret)

    def clone(self, source_id: str, target_name: str, linked: bool = False) -> tuple[str, TaskRef]:
        namespace, name = self._ref(source_id)
        checks.check_name(target_name)
        if self.cluster.get(api.VM, target_name, namespace) is not None:
            raise errors.ConflictError("a VM named '%s' exists already in namespace %s" % (target_name, namespace))
        source_vm = self._vm(source_id)
        source = {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": name}
        if linked:
            base = self._linked_base(namespace, name)
            source = {"apiGroup": "snapshot.kubevirt.io", "kind": "VirtualMachineSnapshot", "name": base}
        request = snapshots.clone_object(source, target_name, namespace)
        self.cluster.delete(api.CLONE, request["metadata"]["name"], namespace)
        self.cluster.create(api.CLONE, request)
        done = self._wait_for(api.CLONE, request["metadata"]["name"], namespace,
                              lambda obj: (obj.get("status") or {}).get("phase") == "Succeeded", "clone")
        self.cluster.delete(api.CLONE, done["metadata"]["name"], namespace)
        self._adopt_clone(source_vm, self._vm("%s/%s" % (namespace, target_name)))
        return "%s/%s" % (namespace, target_name), _DONE

    def _linked_base(self, namespace: str, vm: str) -> str:
        """The snapshot linked clones share, taken once: their disks are restored from it, as copy-on-write
        children where the storage can do so."""
        name = snapshots.snapshot_object_name(vm, LINKED_CLONE_SNAPSHOT)
        if self.cluster.get(api.SNAPSHOT, name, namespace) is None:
            self.cluster.create(api.SNAPSHOT, snapshots.snapshot_object(vm, namespace, LINKED_CLONE_SNAPSHOT,
                                                                        "base of linked clones"))
        self._wait_for(api.SNAPSHOT, name, namespace, lambda obj: bool((obj.get("status") or {}).get("readyToUse")),
                       "snapshot")
        return name

    def _adopt_clone(self, source: dict[str, Any], target: dict[str, Any]) -> None:
        """A clone is stopped, named as itself, and has its own cloud-init Secret: the source's goes with it."""
        name, namespace = target["metadata"]["name"], target["metadata"]["namespace"]
        template = target["spec"]["template"]
        template.setdefault("metadata", {}).setdefault("labels", {}).update({kv.VM_LABEL: name,
                                                                            "kubevirt.io/domain": name})
        target["metadata"].setdefault("labels", {})[kv.VM_LABEL] = name
        target["spec"]["runStrategy"] = kv.HALTED
        target["spec"].pop("running", None)
        for volume in template["spec"].get("volumes") or []:
            for key in ("secretRef", "networkDataSecretRef"):
                ref = (volume.get("cloudInitNoCloud") or {}).get(key)
                if ref and ref.get("name") == kv.secret_name(source["metadata"]["name"]):
                    ref["name"] = kv.secret_name(name)
        kv.check_admission(target)
        stored = self.cluster.replace(api.VM, target)
        secret = self.cluster.get(api.SECRET, kv.secret_name(source["metadata"]["name"]), namespace)
        if secret is not None:
            owner = stored["metadata"]
            copy = {"apiVersion": "v1", "kind": "Secret", "type": secret.get("type", "Opaque"),
                    "data": secret.get("data") or {},
                    "metadata": {"name": kv.secret_name(name), "namespace": namespace,
                                 "labels": dict(secret["metadata"].get("labels") or {}, **{kv.VM_LABEL: name}),
                                 "ownerReferences": [{"apiVersion": kv.API, "kind": "VirtualMachine",
                                                      "name": name, "uid": owner["uid"],
                                                      "blockOwnerDeletion": False}]}}
            self._write_secret(copy)

    def delete(self, vm_id: str, delete_disks: bool = True) -> TaskRef:
        namespace, name = self._ref(vm_id)
        vm = self._get_vm(vm_id)
        if vm is None:
            return _DONE
        if self._instance(vm) is not None:
            raise errors.PreconditionError("VM %s/%s is running; stop it before deleting it" % (namespace, name))
        if delete_disks:
            for snapshot in self.snapshot_list(vm_id):
                self.snapshot_delete(vm_id, snapshot.id)
            self.cluster.delete(api.VM, name, namespace)
        else:
            self.cluster.delete(api.SECRET, kv.secret_name(name), namespace)
            self.cluster.delete(api.VM, name, namespace, propagation="Orphan")
        return self._task("delete/%s/%s/%s" % (namespace, name, vm["metadata"].get("uid")))

    # images: CDI DataVolumes

    def _live(self, kind: Any, name: str) -> Optional[dict[str, Any]]:
        """The object, unless it is gone or going."""
        found = self.cluster.get(kind, name, self.namespace)
        return None if found is None or found["metadata"].get("deletionTimestamp") else found

    def find_image(self, spec: ImageSpec) -> Optional[PreparedImage]:
        kvi.check_importable(spec)
        dv = self._live(api.DV, spec.name)
        if dv is not None:
            kvi.check_same_source(spec, dv)
        pvc = self._live(api.PVC, spec.name)
        if dv is None and pvc is None:
            return None
        return kvi.prepared(spec.name, self.namespace, pvc, dv, spec.retries)

    def prepare_image(self, spec: ImageSpec, transfer: Any) -> PreparedImage:
        """Create the DataVolume and wait until CDI filled its PVC; a failed import is removed, with CDI's
        message in the error.  A DataVolume found still importing is waited for, and one found failed reported;
        neither is removed, as this task did not start them (:func:`images.failed_import`)."""
        existing = self.find_image(spec)
        if existing is not None:
            if existing.phase == FAILED:
                raise failed_import(existing.message)
            if existing.ready:
                return existing
            transfer.say("%s; waiting for the import another task started" % existing.message)
            dv = self._imported(spec, transfer.say, transfer.interval, started=False)
            return kvi.prepared(spec.name, self.namespace, self._live(api.PVC, spec.name), dv, spec.retries)
        storage_class = spec.storage or self.config.options.get("storage_pool")
        self._require_storage_class(storage_class, "storage" if spec.storage else "default_datastore")
        manifest = kvi.data_volume(spec, self.namespace, storage_class)
        stored = self.cluster.create(api.DV, manifest)
        try:
            api.check_stored(manifest, stored, "its CDI CRD does not know these fields")
            dv = self._imported(spec, transfer.say, transfer.interval)
        except BaseException:
            self._remove_image(spec.name)
            raise
        return kvi.prepared(spec.name, self.namespace, self.cluster.get(api.PVC, spec.name, self.namespace), dv)

    def _imported(self, spec: ImageSpec, say: Any, interval: float, started: bool = True) -> dict[str, Any]:
        """The DataVolume once it succeeded; a progress line at most every ``interval`` seconds.  A failure
        names ``url`` when this task ``started`` the import, else the image left as it is."""
        what = "DataVolume %s/%s" % (self.namespace, spec.name)
        last_said, last_progress = time.monotonic(), ""

        def probe() -> Optional[dict[str, Any]]:
            nonlocal last_said, last_progress
            dv = self.cluster.get(api.DV, spec.name, self.namespace)
            if dv is None:
                raise errors.NotFoundError("%s disappeared during the import" % what)
            phase, message = kvi.import_state(dv, spec.retries)
            if phase == FAILED:
                raise errors.ProviderError(message, option="url") if started else failed_import(message)
            progress = kvi.progress_of(dv)
            if progress and progress != last_progress and time.monotonic() - last_said >= interval:
                last_said, last_progress = time.monotonic(), progress
                say("%s: %s imported" % (what, progress))
            return dv if phase == READY else None

        return poll(probe, self._deadline(), what + " to import", interval=0.2, max_interval=2.0)

    def _remove_image(self, name: str) -> None:
        """The DataVolume and its PVC (owned by it, removed here too so nothing waits for a garbage collector)."""
        self.cluster.delete(api.DV, name, self.namespace)
        self.cluster.delete(api.PVC, name, self.namespace)

    def delete_image(self, image: PreparedImage) -> None:
        self._remove_image(image.name)

    # power

    def power(self, vm_id: str, op: PowerOp, graceful_timeout: int = 60) -> TaskRef:
        vm = self._vm(vm_id)
        kv.check_admission(vm)
        namespace, name = vm["metadata"]["namespace"], vm["metadata"]["name"]
        vmi = self._instance(vm)
        running = vmi is not None and not vmi["metadata"].get("deletionTimestamp")
        if op == PowerOp.ON or (op == PowerOp.REBOOT and not running):
            if not running:
                self._run_strategy("start", vm, kv.RUNNING)
            return self._task("start/%s/%s" % (namespace, name))
        if op == PowerOp.REBOOT:
            self.cluster.power("restart", name, namespace, {},
                               lambda: self.cluster.delete(api.VMI, name, namespace))
            uid = cast("dict[str, Any]", vmi)["metadata"].get("uid")  # running: there is a VMI
            return self._task("restart/%s/%s/%s" % (namespace, name, uid))
        if vmi is None and (vm["spec"].get("runStrategy") == kv.HALTED or vm["spec"].get("running") is False):
            return _DONE
        if op == PowerOp.OFF:
            self._run_strategy("stop", vm, kv.HALTED, grace=0)
            return self._task("stop/%s/%s" % (namespace, name))
        self._run_strategy("stop", vm, kv.HALTED)
        try:
            poll(lambda: True if self.cluster.get(api.VMI, name, namespace) is None else None,
                 Deadline(graceful_timeout), "the guest of %s/%s to shut down" % (namespace, name), interval=0.2,
                 max_interval=2.0)
        except errors.DeadlineExceededError:
            raise errors.DeadlineExceededError("the guest did not shut down within %d s" % graceful_timeout) from None
        return _DONE

    def _run_strategy(self, action: str, vm: dict[str, Any], strategy: str, grace: Optional[int] = None) -> None:
        namespace, name = vm["metadata"]["namespace"], vm["metadata"]["name"]

        def patch() -> None:
            if grace is not None:
                # As virt-api's stop does: the VMI's own grace period is what virt-handler honours.
                try:
                    self.cluster.patch(api.VMI, name, namespace, {"spec": {"terminationGracePeriodSeconds": grace}})
                except errors.NotFoundError:
                    pass
            # A merge patch's null removes ``running``, which KubeVirt refuses beside runStrategy.
            self.cluster.patch(api.VM, name, namespace, {"spec": {"runStrategy": strategy, "running": None}})

        self.cluster.power(action, name, namespace, {} if grace is None else {"gracePeriod": grace}, patch)

    # reconfigure

    def reconfigure(self, vm_id: str, change: Reconfiguration) -> TaskRef:
        for attempt in range(UPDATE_ATTEMPTS):
            vm = self._vm(vm_id)
            kv.check_admission(vm)
            if change.live:
                refusal = reconfiguration.live_refusal(change)
                if refusal:
                    raise errors.PreconditionError("KubeVirt cannot add %s to the running VM; set "
                                                   "allow_power_cycling=true or stop the VM" % refusal,
                                                   option="allow_power_cycling")
            updated, grow = reconfiguration.reconfigured(vm, change, self.config.options.get("storage_pool"))
            kv.check_admission(updated)
            namespace = vm["metadata"]["namespace"]
            for claim, size in sorted(grow.items()):
                self.cluster.patch(api.PVC, claim, namespace,
                                   {"spec": {"resources": {"requests": {"storage": kv.quantity_gib(size)}}}})
            try:
                self.cluster.replace(api.VM, updated)
                return _DONE
            except errors.ConflictError:
                if attempt == UPDATE_ATTEMPTS - 1:
                    raise
        return _DONE

    # tasks

    def _task(self, task_id: str, settle: float = SETTLE_SECONDS) -> TaskRef:
        """The task, or no task when it finishes within ``settle`` seconds: most do here, and a caller polling a
        task waits a second or more between looks."""
        task = TaskRef(task_id)
        deadline = Deadline(settle)
        while True:
            status = self.task_status(task)
            if status.done:
                if status.error:
                    raise errors.ProviderError("%s failed: %s" % (task_id.split("/", 1)[0], status.error))
                return _DONE
            if deadline.expired:
                return task
            time.sleep(deadline.cap(0.1))

    def _wait_for(self, kind: Any, name: str, namespace: str, done: Any, what: str) -> dict[str, Any]:
        def probe() -> Optional[dict[str, Any]]:
            obj = self.cluster.get(kind, name, namespace)
            if obj is None:
                raise errors.NotFoundError("%s %s/%s disappeared" % (kind.kind, namespace, name))
            reason = snapshots.failure(obj)
            if reason:
                raise errors.ProviderError("%s of %s/%s failed: %s" % (what, namespace, name, reason))
            return obj if done(obj) else None

        return poll(probe, self._deadline(), "%s %s/%s" % (kind.kind, namespace, name), interval=0.2, max_interval=2.0)

    def task_status(self, task: TaskRef) -> TaskStatus:
        if not task.id:
            return TaskStatus(done=True)
        op, dummy, rest = task.id.partition("/")
        namespace, dummy, rest = rest.partition("/")
        name, dummy, uid = rest.partition("/")
        check = {"start": self._started, "restart": self._started, "stop": self._stopped, "delete": self._deleted,
                 "snapshot": self._snapshotted}.get(op)
        if check is None or not name:
            return TaskStatus(done=True, error="no such task: %s" % task.id)
        return check(namespace, name, uid)

    def _started(self, namespace: str, name: str, old_uid: str) -> TaskStatus:
        vm = self.cluster.get(api.VM, name, namespace)
        if vm is None:
            return TaskStatus(done=True, error="VirtualMachine %s/%s is gone" % (namespace, name))
        if vm["spec"].get("runStrategy") == kv.HALTED or vm["spec"].get("running") is False:
            return TaskStatus(done=True)  # stopped again meanwhile, by someone else: the start is over
        printable = (vm.get("status") or {}).get("printableStatus")
        if printable in kv.FAILED_STATES:
            return TaskStatus(done=True, error="VirtualMachine %s/%s is %s" % (namespace, name, printable))
        vmi = self.cluster.get(api.VMI, name, namespace) if printable in kv.ON_STATES else None
        fresh = vmi is not None and vmi["metadata"].get("uid") != old_uid
        return TaskStatus(done=fresh and ((vmi or {}).get("status") or {}).get("phase") == "Running")

    def _stopped(self, namespace: str, name: str, dummy: str) -> TaskStatus:
        return TaskStatus(done=self.cluster.get(api.VMI, name, namespace) is None)

    def _deleted(self, namespace: str, name: str, dummy: str) -> TaskStatus:
        return TaskStatus(done=self.cluster.get(api.VM, name, namespace) is None)

    def _snapshotted(self, namespace: str, name: str, dummy: str) -> TaskStatus:
        obj = self.cluster.get(api.SNAPSHOT, name, namespace)
        if obj is None:
            return TaskStatus(done=True, error="VirtualMachineSnapshot %s/%s is gone" % (namespace, name))
        reason = snapshots.failure(obj)
        return TaskStatus(done=bool(reason) or bool((obj.get("status") or {}).get("readyToUse")), error=reason or "")

    # snapshots

    def snapshot_list(self, vm_id: str) -> list[Snapshot]:
        namespace, name = self._ref(vm_id)
        self._vm(vm_id)
        return snapshots.snapshots_of(self.cluster.list(api.SNAPSHOT, namespace), name)

    def snapshot_create(self, vm_id: str, name: str, description: str = "",
                        include_memory: bool = False) -> tuple[str, TaskRef]:
        if include_memory:
            raise errors.UnsupportedError("KubeVirt snapshots hold disks only", option="include_memory")
        vm = self._vm(vm_id)
        namespace = vm["metadata"]["namespace"]
        obj = snapshots.snapshot_object(vm["metadata"]["name"], namespace, name, description)
        self.cluster.create(api.SNAPSHOT, obj)
        return obj["metadata"]["name"], self._task("snapshot/%s/%s" % (namespace, obj["metadata"]["name"]))

    def snapshot_delete(self, vm_id: str, snapshot_id: str) -> TaskRef:
        namespace, dummy = self._ref(vm_id)
        snapshot = self.cluster.get(api.SNAPSHOT, snapshot_id, namespace)
        if snapshot is None:
            return _DONE
        self.cluster.delete(api.SNAPSHOT, snapshot_id, namespace)
        content = (snapshot.get("status") or {}).get("virtualMachineSnapshotContentName")
        if content:
            self.cluster.delete(api.SNAPSHOT_CONTENT, content, namespace)
        return _DONE

    def snapshot_revert(self, vm_id: str, snapshot_id: str) -> TaskRef:
        """Stop the VM, restore its disks and spec from the snapshot, and start it again if it ran."""
        vm = self._vm(vm_id)
        namespace, name = vm["metadata"]["namespace"], vm["metadata"]["name"]
        was_running = self._instance(vm) is not None
        if was_running:
            self.power(vm_id, PowerOp.OFF)
            self._wait_for(api.VM, name, namespace,
                           lambda obj: self.cluster.get(api.VMI, name, namespace) is None, "stop")
        request = snapshots.restore_object(name, namespace, snapshot_id)
        self.cluster.delete(api.RESTORE, request["metadata"]["name"], namespace)
        self.cluster.create(api.RESTORE, request)
        self._wait_for(api.RESTORE, request["metadata"]["name"], namespace,
                       lambda obj: bool((obj.get("status") or {}).get("complete")), "restore")
        self.cluster.delete(api.RESTORE, request["metadata"]["name"], namespace)
        if was_running:
            task = self.power(vm_id, PowerOp.ON)
            poll(lambda: True if self.task_status(task).done else None, self._deadline(),
                 "VM %s/%s to start" % (namespace, name), interval=0.2, max_interval=2.0)
        return _DONE


def _vmi_as_read(vmi: dict[str, Any]) -> dict[str, Any]:
    """What a listing keeps of a VMI: its name and the status that is read of it.  Its spec repeats its VM's
    template and would double the listing's memory."""
    return {"metadata": {key: vmi["metadata"][key] for key in ("name", "namespace")}, "status": vmi.get("status")}
