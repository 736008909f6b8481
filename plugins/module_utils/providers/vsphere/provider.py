# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vSphere backend, through pyVmomi.

A VM's id is its MoRef id (``vm-42``), as upstream VirtRigaud uses; ``describe``
also accepts its instance UUID.  VMs are found with PropertyCollector queries
over a ContainerView, never by walking folders.  Every call waits for its
vSphere task, so returned tasks are always done.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple, Optional, cast

from ...disks import STAGING_BACKENDS, TRANSFER_MODES, DiskDetails, ExportedDisk, ExportSpec, ImportedDisk, ImportSpec
from ...errors import (
    ConflictError,
    DeadlineExceededError,
    NotFoundError,
    PreconditionError,
    ProviderError,
    SpecError,
    VirtrigaudError,
)
from ...image_transfer import Transfer
from ...images import IMAGE_FORMATS, ImageSpec, PreparedImage
from ...placement import Host
from ...resilience import Deadline
from ...spec import DiskSpec, NetworkSpec, Placement, VMSpec
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
    backend_call,
)
from ..discovery import Discovery
from . import client, lookups, ovf, placement, snapshots
from . import devices as hw
from . import disks as vdisks
from . import migration as moves
from . import translate as vs
from .discovery import discover as discover_vcenter
from .translate import EXTRA_PREFIX, VM_PROPERTIES

try:
    from pyVmomi import vim, vmodl
except ImportError:  # pragma: no cover - client.connect reports it
    vim = vmodl = None  # type: ignore[assignment]  # unused without pyVmomi

_DONE = TaskRef()


class _Placed(NamedTuple):
    """Where an imported template goes: only the datastore can be named (``storage``); the rest is the default."""

    placement: Placement


TASK_SECONDS = 3600.0
HOTPLUG_FACTOR = 4
MAX_CPU = 128
LINKED_CLONE_SNAPSHOT = "virtrigaud-linked-clone-base"
DEFAULT_ROOT_GIB = 10
# The disk formats, raw first: a disk is held raw (a flat vmdk), so raw is what a disk moves in and out as.
RAW_FIRST = ("raw",) + tuple(f for f in IMAGE_FORMATS if f != "raw")


class VsphereProvider(Provider):
    type_name = "vsphere"
    # A VM made from a template is a full clone: the template (an imported disk's) may go afterwards.
    imports_copy_image = True

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        client.endpoint(config)
        self.backend_errors = (vmodl.MethodFault,)
        self._service: Any = None
        self._content: Any = None
        self._portgroups: Optional[dict[str, str]] = None
        self._hosts: Optional[dict[str, str]] = None
        self._clusters: Optional[dict[str, str]] = None

    def translate(self, err: BaseException, operation: Optional[str] = None) -> VirtrigaudError:
        return vs.translate(err, operation)

    @property
    def service(self) -> Any:
        if self._service is None:
            self._service = client.connect(self.config)
            self._content = self._service.RetrieveContent()
        return self._service

    @property
    def content(self) -> Any:
        """The session's ServiceContent, fetched once: every fetch is a round trip."""
        return self.service and self._content

    def close(self) -> None:
        if self._service is not None:
            client.disconnect(self._service)
            self._service = self._content = None

    def _wait(self, task: Any, operation: str) -> Any:
        return client.wait_for(task, Deadline(TASK_SECONDS), operation)

    # lookups

    def _vm(self, vm_id: str) -> Any:
        found = lookups.find_by_id(self.content, vm_id)
        if found is None:
            raise NotFoundError("VM '%s' not found" % vm_id)
        return found[0]

    def _named(self, kind: Any, name: str, option: str, templates: Optional[bool] = None, root: Any = None) -> Any:
        return lookups.named(self.content, kind, name, option, templates, root)

    def _required(self, kind: Any, name: str, option: str, what: str, root: Any = None) -> Any:
        return lookups.required(self.content, kind, name, option, what, root)

    # the contract

    @backend_call("find image")
    def find_image(self, spec: ImageSpec) -> Optional[PreparedImage]:
        """A template by name: the one ``template`` names, or the one an OVA import made under ``name``."""
        if spec.imports:
            ovf.check_importable(spec)
        name = spec.template or spec.name
        if self._named(vim.VirtualMachine, name, "template" if spec.template else "name", templates=True) is None:
            return None
        return PreparedImage(spec.name, name, format="template")

    @backend_call("prepare image")
    def prepare_image(self, spec: ImageSpec, transfer: Transfer) -> PreparedImage:
        if not spec.imports:
            return super().prepare_image(spec, transfer)
        ovf.check_importable(spec)
        existing = self.find_image(spec)
        if existing is not None:
            return existing
        if self._named(vim.VirtualMachine, spec.name, "name", templates=False) is not None:
            raise ConflictError("a VM that is no template is named '%s' (an import cut short?)" % spec.name,
                                option="name")
        where = self._locate(cast(VMSpec, _Placed(Placement(datastore=spec.storage))))
        local = transfer.fetch(spec)
        try:
            ovf.OvaImport(self.content, self.service._stub.cookie, client.endpoint(self.config)[0],  # pylint: disable=protected-access
                          self.config.validate_certs).deploy(spec, local, where)
        finally:
            transfer.discard(local)
        return PreparedImage(spec.name, spec.name, format="template")

    @backend_call("delete image")
    def delete_image(self, image: PreparedImage) -> None:
        template = self._named(vim.VirtualMachine, image.id, "name", templates=True)
        if template is not None:
            self._wait(template.Destroy_Task(), "delete template %s" % image.id)

    @backend_call("validate")
    def validate(self) -> None:
        self.service.CurrentTime()

    @backend_call("check_spec")
    def check_spec(self, spec: VMSpec) -> None:
        self._placement(spec)
        if spec.image and self._named(vim.VirtualMachine, spec.image, "image", templates=True) is None:
            raise SpecError("template '%s' does not exist" % spec.image, option="image")
        self.check_networks(spec)

    @backend_call("check_spec")
    def check_networks(self, spec: VMSpec) -> None:
        for index, network in enumerate(spec.networks):
            if network.network:
                self._required(vim.Network, network.network, "networks[%d].network" % index, "network")
        if self.config.options.get("network") and any(not network.network for network in spec.networks):
            self._required(vim.Network, self.config.options["network"], "defaults.network", "network")

    def capabilities(self) -> Capabilities:
        return Capabilities(
            supports_reconfigure_online=True,
            supports_disk_expansion_online=True,
            supports_snapshots=True,
            supports_memory_snapshots=True,
            supports_linked_clones=True,
            supported_disk_types=("thin", "thick", "eagerzeroedthick"),
            supported_network_types=("portgroup", "distributed"),
            # vSphere takes a new MAC address only on a stopped VM; static addresses are the guest's business.
            nic_changes={"set_network": "live", "set_mac_address": "offline", "remove_network": "live"},
            supports_secure_boot=True,
            console_types=("webmks",),
            # An OVA deployed to a template through ImportVApp (ovf.py).
            supports_image_import=True,
            # Flat disks through the datastore file API; an import is held raw, in a flat vmdk (disks.py).
            supports_disk_export=True,
            supports_disk_import=True,
            supports_export_compression=True,
            supported_export_formats=RAW_FIRST,
            # raw first: what an import holds, so a migration sends it and compares checksums of the same bytes.
            supported_import_formats=RAW_FIRST,
            supported_export_backends=STAGING_BACKENDS,
            supported_import_backends=STAGING_BACKENDS,
            supported_transfer_modes=TRANSFER_MODES,
        )

    @backend_call("discover")
    def discover(self) -> Discovery:
        return discover_vcenter(self.content, dict(self.config.options), self.capabilities())

    def _observed(self, obj: Any, props: dict[str, Any]) -> ObservedVM:
        """The VM with its distributed port groups named: their names take one query, made when a NIC needs it."""
        devices = props.get("config.hardware.device") or ()
        cards = [d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)]
        if self._portgroups is None and any(vs.portgroup_key(card) for card in cards):
            groups = client.collect(self.content, vim.dvs.DistributedVirtualPortgroup, ("key", "name"))
            self._portgroups = {group.get("key", ""): group.get("name", "") for dummy, group in groups}
        return vs.observed(obj, props, self._portgroups, vs.web_address(*client.endpoint(self.config)),
                           self._host_names())

    def _host_names(self) -> dict[str, str]:
        """Host names by id: one query, made once per provider, when a VM is first observed."""
        if self._hosts is None:
            self._hosts = vs.host_names(client.collect(self.content, vim.HostSystem, ("name",)))
        return self._hosts

    @backend_call("placement hosts")
    def placement_hosts(self) -> tuple[Host, ...]:
        """The hosts with their clusters: the clusters take a query of their own, made once, which only placement
        needs."""
        names = self._host_names()
        if self._clusters is None:
            self._clusters = vs.clusters_of(names, client.collect(self.content, vim.ClusterComputeResource,
                                                                  ("name", "host")))
        cluster_of = self._clusters
        default = self.config.options.get("cluster")
        return tuple(sorted((Host(name, cluster_of.get(name)) for name in names.values()
                             if not default or cluster_of.get(name) == default), key=lambda host: host.name))

    @backend_call("describe")
    def describe(self, vm_id: str) -> Optional[ObservedVM]:
        found = lookups.find_by_id(self.content, vm_id)
        return self._observed(*found) if found else None

    @backend_call("open console")
    def open_console(self, vm_id: str) -> Optional[ConsoleAccess]:
        found = lookups.find_by_id(self.content, vm_id)
        if found is None:
            raise NotFoundError("VM '%s' not found" % vm_id)
        obj, props = found
        if props.get("runtime.powerState") != "poweredOn":
            return None
        host, port = client.endpoint(self.config)
        vm_ref = obj._moId  # pylint: disable=protected-access  # the MoRef id is the VM id
        return vs.webmks_access(obj.AcquireTicket("webmks"), vs.web_address(host, port), vm_ref,
                                props.get("config.instanceUuid"), host)

    @backend_call("find")
    def find(self, name: str) -> Optional[ObservedVM]:
        obj = self._named(vim.VirtualMachine, name, "name", templates=False)
        return self._observed(obj, lookups.properties(self.content, obj)) if obj is not None else None

    @backend_call("list")
    def list_vms(self) -> list[ObservedVM]:
        return [self._observed(obj, props)
                for obj, props in client.collect(self.content, vim.VirtualMachine, VM_PROPERTIES)
                if not props.get("config.template")]

    @backend_call("list")
    def list_states(self) -> list[ObservedVM]:
        return [vs.observed_state(obj, props, self._host_names())
                for obj, props in client.collect(self.content, vim.VirtualMachine, vs.STATE_PROPERTIES)
                if not props.get("config.template")]

    @backend_call("inventory")
    def inventory(self) -> list[ObservedVM]:
        return [vs.observed_summary(obj, props)
                for obj, props in client.collect(self.content, vim.VirtualMachine, vs.SUMMARY_PROPERTIES)
                if not props.get("config.template")]

    # moves within vCenter

    migration_keys = ("host", "datastore")

    @backend_call("locate")
    def where(self, vm: ObservedVM) -> Placement:
        return moves.where(self._vm(vm.id))

    def _targets(self, vm: Any, target: Placement, prefix: str) -> tuple[Optional[Any], Optional[Any]]:
        host = self._required(vim.HostSystem, target.host, prefix + "host", "host") if target.host else None
        datastore = (self._required(vim.Datastore, target.datastore, prefix + "datastore", "datastore")
                     if target.datastore else None)
        if host is not None:
            moves.check_host(host, prefix + "host")
        if datastore is not None:
            moves.check_datastore(datastore, host or vm.runtime.host, prefix + "datastore")
        elif host is not None:
            for current in vm.datastore or ():
                moves.check_datastore(current, host, prefix + "host")
        return host, datastore

    @backend_call("check migration")
    def check_migration(self, vm_id: str, target: Placement, live: bool, prefix: str = "placement.") -> None:
        self._targets(self._vm(vm_id), target, prefix)

    @backend_call("migrate")
    def migrate(self, vm_id: str, target: Placement, live: bool) -> TaskRef:
        vm = self._vm(vm_id)
        host, datastore = self._targets(vm, target, "placement.")
        seconds = self.config.options.get("wait_timeout") or TASK_SECONDS
        client.wait_for(vm.RelocateVM_Task(moves.relocate_spec(vm, host, datastore)), Deadline(float(seconds)),
                        "migrate")
        return _DONE

    # create

    def _placement(self, spec: VMSpec) -> dict[str, Any]:
        return placement.resolve(self.config.options, spec, self._required)

    def _locate(self, spec: VMSpec) -> tuple[Any, Any, Optional[Any], Optional[Any]]:
        """(folder, resource pool, host, datastore) for a new VM."""
        return placement.locate(self.content, self._placement(spec))

    @backend_call("create")
    def create(self, spec: VMSpec) -> tuple[str, TaskRef]:
        existing = self.find(spec.name)
        if existing is not None:
            return existing.id, _DONE
        folder, pool, host, datastore = self._locate(spec)
        config = self._config_spec(spec)
        if spec.image:
            template = self._named(vim.VirtualMachine, spec.image, "image", templates=True)
            if template is None:
                raise SpecError("template '%s' does not exist" % spec.image, option="image")
            relocate = vim.vm.RelocateSpec(pool=pool, host=host, datastore=datastore)
            clone = vim.vm.CloneSpec(location=relocate, powerOn=False, template=False)
            vm = self._wait(template.CloneVM_Task(folder=folder, name=spec.name, spec=clone), "create")
        else:
            config.name = spec.name
            config.guestId = "otherLinux64Guest"
            config.files = vim.vm.FileInfo(vmPathName="[%s]" % datastore.name if datastore else "")
            config.firmware = "efi" if spec.firmware == "uefi" else "bios"
            config.deviceChange = [hw.scsi_controller()]
            vm = self._wait(folder.CreateVM_Task(config=config, pool=pool, host=host), "create")
        try:
            self._finish_create(vm, spec, config)
        except BaseException:
            self._destroy_quietly(vm)
            raise
        return vm._moId, _DONE  # pylint: disable=protected-access

    def _finish_create(self, vm: Any, spec: VMSpec, config: Any) -> None:
        """Hardware, root size, data disks and NICs, applied the same way to a clone and to a VM made from scratch."""
        devices = list(lookups.properties(self.content, vm).get("config.hardware.device") or ())
        disks = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]
        changes = []
        if disks and spec.root_disk_gib and spec.root_disk_gib * 1024 * 1024 > disks[0].capacityInKB:
            changes.append(hw.grow(disks[0], spec.root_disk_gib))
        wanted = [] if disks else [DiskSpec("root", spec.root_disk_gib or DEFAULT_ROOT_GIB, spec.disk_type)]
        for offset, disk in enumerate(wanted + list(spec.disks)):
            change = hw.new_disk(devices, disk, -201 - offset)
            changes.append(change)
            devices.append(change.device)
        changes += [vim.vm.device.VirtualDeviceSpec(operation="remove", device=card)
                    for card in devices if isinstance(card, vim.vm.device.VirtualEthernetCard)]
        changes += [self._new_nic(network, -301 - offset) for offset, network in enumerate(spec.networks)]
        config.deviceChange = changes
        self._wait(vm.ReconfigVM_Task(spec=config), "create")
        self._name_new_devices(vm, spec)

    def _name_new_devices(self, vm: Any, spec: VMSpec) -> None:
        """vSphere gives new devices their real keys; record those against the spec's names."""
        devices = list(lookups.properties(self.content, vm).get("config.hardware.device") or ())
        disks = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]
        nics = [d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)]
        names = ["root"] + [d.name for d in spec.disks]
        extra = [hw.option(EXTRA_PREFIX + "disk." + name, disk.key) for name, disk in zip(names, disks)]
        extra += [hw.option(EXTRA_PREFIX + "nic." + net.name, nic.key) for net, nic in zip(spec.networks, nics)]
        self._wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(extraConfig=extra)), "create")

    def _config_spec(self, spec: VMSpec) -> Any:
        cpu, memory = spec.cpu or 1, spec.memory_mib or 512
        extra = [
            hw.option(EXTRA_PREFIX + "maxCpu", max(cpu, min(HOTPLUG_FACTOR * cpu, MAX_CPU))),
            hw.option(EXTRA_PREFIX + "maxMemoryMiB", HOTPLUG_FACTOR * memory),
            hw.option(EXTRA_PREFIX + "tags", ",".join(spec.tags or ())),
        ]
        extra += hw.cloud_init(spec)
        config = vim.vm.ConfigSpec(numCPUs=cpu, memoryMB=memory, cpuHotAddEnabled=True, memoryHotAddEnabled=True,
                                   extraConfig=extra)
        if spec.secure_boot is not None:
            # A clone's firmware is its template's; secure boot needs EFI, so it comes with it.
            if spec.secure_boot:
                config.firmware = "efi"
            config.bootOptions = vim.vm.BootOptions(efiSecureBootEnabled=spec.secure_boot)
        return config

    def _new_nic(self, network: NetworkSpec, key: int) -> Any:
        return hw.new_nic(self.content, network, self.config.options.get("network"), key)

    def _destroy_quietly(self, vm: Any) -> None:
        try:
            self._wait(vm.Destroy_Task(), "create cleanup")
        except Exception:  # pylint: disable=broad-exception-caught  # the original failure is what matters
            pass

    # lifecycle

    @backend_call("delete")
    def delete(self, vm_id: str, delete_disks: bool = True) -> TaskRef:
        found = lookups.find_by_id(self.content, vm_id)
        if found is None:
            return _DONE
        vm, props = found
        if props.get("runtime.powerState") == "poweredOn":
            raise PreconditionError("VM '%s' is running; stop it before deleting it" % props.get("name"))
        if delete_disks:
            self._wait(vm.Destroy_Task(), "delete")
        else:
            vm.UnregisterVM()
        return _DONE

    @backend_call("power")
    def power(self, vm_id: str, op: PowerOp, graceful_timeout: int = 60) -> TaskRef:
        vm = self._vm(vm_id)
        running = vm.runtime.powerState == "poweredOn"
        if op is PowerOp.ON and not running:
            self._wait(vm.PowerOnVM_Task(), "power_on")
        elif op is PowerOp.OFF and running:
            self._wait(vm.PowerOffVM_Task(), "power_off")
        elif op is PowerOp.REBOOT:
            self._wait(vm.ResetVM_Task() if running else vm.PowerOnVM_Task(), "reboot")
        elif op is PowerOp.SHUTDOWN_GRACEFUL and running:
            vm.ShutdownGuest()
            deadline = Deadline(float(graceful_timeout))
            while vm.runtime.powerState == "poweredOn":
                if deadline.expired:
                    raise DeadlineExceededError("the guest did not shut down within %d s" % graceful_timeout)
                time.sleep(deadline.cap(0.5))
        return _DONE

    @backend_call("reconfigure")
    def reconfigure(self, vm_id: str, change: Reconfiguration) -> TaskRef:
        vm, props = lookups.find_by_id(self.content, vm_id) or (None, {})
        if vm is None:
            raise NotFoundError("VM '%s' not found" % vm_id)
        extra = vs.extra_config(props)
        devices = list(props.get("config.hardware.device") or ())
        config = vim.vm.ConfigSpec(deviceChange=[], extraConfig=[])
        if change.cpu:
            config.numCPUs = change.cpu
            if change.cpu > int(extra.get(EXTRA_PREFIX + "maxCpu", 0)):
                config.extraConfig.append(hw.option(EXTRA_PREFIX + "maxCpu", min(HOTPLUG_FACTOR * change.cpu, MAX_CPU)))
        if change.memory_mib:
            config.memoryMB = change.memory_mib
            if change.memory_mib > int(extra.get(EXTRA_PREFIX + "maxMemoryMiB", 0)):
                config.extraConfig.append(hw.option(EXTRA_PREFIX + "maxMemoryMiB", HOTPLUG_FACTOR * change.memory_mib))
        names = vs.disk_names(devices, extra)
        by_name = {name: key for key, name in names.items()}
        for name, size_gib in sorted(change.disk_sizes_gib.items()):
            disk = next(d for d in devices if d.key == by_name.get(name))
            config.deviceChange.append(hw.grow(disk, size_gib))
        for offset, disk in enumerate(change.add_disks):
            spec_change = hw.new_disk(devices, disk, -201 - offset)
            config.deviceChange.append(spec_change)
            devices.append(spec_change.device)
        hw.change_nics(self.content, devices, extra, change, config)
        for offset, network in enumerate(change.add_networks):
            config.deviceChange.append(self._new_nic(network, -301 - offset))
        if change.tags is not None:
            config.extraConfig.append(hw.option(EXTRA_PREFIX + "tags", ",".join(change.tags)))
        self._wait(vm.ReconfigVM_Task(spec=config), "reconfigure")
        if change.add_disks or change.add_networks:
            self._name_added(vm, names, change)
        return _DONE

    def _name_added(self, vm: Any, before: dict[int, str], change: Reconfiguration) -> None:
        props = lookups.properties(self.content, vm)
        devices = list(props.get("config.hardware.device") or ())
        extra = vs.extra_config(props)
        new_disks = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk) and d.key not in before]
        named_nics = {int(v) for k, v in extra.items() if k.startswith(EXTRA_PREFIX + "nic.") and v.isdigit()}
        new_nics = [d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard) and d.key not in named_nics]
        options = [hw.option(EXTRA_PREFIX + "disk." + d.name, dev.key) for d, dev in zip(change.add_disks, new_disks)]
        options += [hw.option(EXTRA_PREFIX + "nic." + n.name, dev.key)
                    for n, dev in zip(change.add_networks,
                                      new_nics[-len(change.add_networks):] if change.add_networks else [])]
        self._wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(extraConfig=options)), "reconfigure")

    def task_status(self, task: TaskRef) -> TaskStatus:
        return TaskStatus(done=True, error="no such task: vSphere calls finish before they return" if task.id else "")

    # snapshots

    @backend_call("snapshot_list")
    def snapshot_list(self, vm_id: str) -> list[Snapshot]:
        return snapshots.listing(self._vm(vm_id))

    @backend_call("snapshot_create")
    def snapshot_create(
        self, vm_id: str, name: str, description: str = "", include_memory: bool = False
    ) -> tuple[str, TaskRef]:
        vm = self._vm(vm_id)
        memory = include_memory and vm.runtime.powerState == "poweredOn"
        snapshot = self._wait(vm.CreateSnapshot_Task(name=name, description=description, memory=memory,
                                                     quiesce=False), "snapshot_create")
        return snapshot._moId, _DONE  # pylint: disable=protected-access

    @backend_call("snapshot_delete")
    def snapshot_delete(self, vm_id: str, snapshot_id: str) -> TaskRef:
        snapshot = snapshots.find(self._vm(vm_id), snapshot_id)
        if snapshot is not None:
            self._wait(snapshot.RemoveSnapshot_Task(removeChildren=False), "snapshot_delete")
        return _DONE

    @backend_call("snapshot_revert")
    def snapshot_revert(self, vm_id: str, snapshot_id: str) -> TaskRef:
        snapshot = snapshots.find(self._vm(vm_id), snapshot_id)
        if snapshot is None:
            raise NotFoundError("snapshot '%s' not found" % snapshot_id)
        self._wait(snapshot.RevertToSnapshot_Task(), "snapshot_revert")
        return _DONE

    # clones

    @backend_call("clone")
    def clone(self, source_id: str, target_name: str, linked: bool = False) -> tuple[str, TaskRef]:
        source = self._vm(source_id)
        if self._named(vim.VirtualMachine, target_name, "name") is not None:
            raise ConflictError("a VM named '%s' exists already" % target_name)
        relocate = vim.vm.RelocateSpec()
        clone = vim.vm.CloneSpec(location=relocate, powerOn=False, template=False)
        if linked:
            info = getattr(source, "snapshot", None)
            snapshot = info.currentSnapshot if info else None
            if snapshot is None:
                snapshot = self._wait(source.CreateSnapshot_Task(name=LINKED_CLONE_SNAPSHOT, description="",
                                                                 memory=False, quiesce=False), "clone")
            relocate.diskMoveType = "createNewChildDiskBacking"
            clone.snapshot = snapshot
        vm = self._wait(source.CloneVM_Task(folder=source.parent, name=target_name, spec=clone), "clone")
        # The collection's own records (disk and NIC names, tags, ceilings) travel with the copy.
        extra = vs.extra_config(lookups.properties(self.content, source))
        records = [hw.option(key, value) for key, value in extra.items() if key.startswith(EXTRA_PREFIX)]
        self._wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(extraConfig=records)), "clone")
        return vm._moId, _DONE  # pylint: disable=protected-access

    # disks as files, for migrations (disks.py)

    def _disk_files(self, entity: Any) -> vdisks.DatastoreFiles:
        host, port = client.endpoint(self.config)
        return vdisks.DatastoreFiles(host, port, vdisks.datacenter_of(entity).name,
                                     self.service._stub.cookie, self.config.validate_certs)  # pylint: disable=protected-access

    def _vm_disk(self, vm_id: str, disk: str, doing: str = "") -> tuple[Any, vdisks.VmDisk]:
        found = lookups.find_by_id(self.content, vm_id)
        if found is None:
            raise NotFoundError("VM '%s' not found" % vm_id)
        return found[0], vdisks.vm_disk(found[1].get("name") or vm_id, found[1], disk, doing)

    @backend_call("describe disk")
    def disk_info(self, vm_id: str, disk: str = "") -> DiskDetails:
        obj, found = self._vm_disk(vm_id, disk)
        names = tuple(s.name for s in snapshots.listing(obj))
        return vdisks.disk_info(self._disk_files(obj), found, obj.layoutEx, names)

    @backend_call("export disk")
    def export_disk(self, spec: ExportSpec, transfer: Transfer) -> ExportedDisk:
        obj, found = self._vm_disk(spec.vm_id, spec.disk, "exporting")
        return vdisks.export_disk(self._disk_files(obj), spec.vm_id, found, spec, transfer)

    @backend_call("import disk")
    def import_disk(self, spec: ImportSpec, transfer: Transfer) -> ImportedDisk:
        """A failure removes what the import made, and names what it could not remove."""
        placed = self._locate(cast(VMSpec, _Placed(Placement(datastore=spec.storage))))
        written = vdisks.Written(spec.name)
        try:
            return vdisks.import_disk(self._disk_files(placed[0]), placed,
                                      self._named(vim.VirtualMachine, spec.name, "target_name"), spec, transfer,
                                      written)
        except (VirtrigaudError, vmodl.MethodFault) as err:
            failure = err if isinstance(err, VirtrigaudError) else self.translate(err, "import disk")
            vdisks.undo_import(failure, self.content, vdisks.datacenter_of(placed[0]), written)
            raise failure from None

    @backend_call("remove disk")
    def delete_disk(self, disk: ImportedDisk) -> None:
        folder = vdisks.import_folder(vdisks.parse_datastore_path(disk.path))
        template = self._named(vim.VirtualMachine, disk.disk_id, "target_name", templates=True)
        datastore = self._required(vim.Datastore, folder.datastore, "path", "datastore")
        written = vdisks.Written(disk.disk_id, folder,
                                 template if template is not None and vdisks.holds_import(template, folder) else None)
        left = vdisks.remove_written(self.content, vdisks.datacenter_of(datastore), written)
        if left:
            raise ProviderError("could not remove %s" % "; ".join(left))
